#pragma once
// GcsJobManager: the GCS's job table, as a plain state machine with no I/O.
//
// Thread safety: none. The owner (JobInfoService) serializes every call with
// its own mutex. Callers pass `now_ms` (milliseconds since the epoch) so tests
// need no clock.
//
// Job ids are allocated by NextJobId: JobID::FromInt(1), 2, 3, ... A job added
// with an id at or past the counter moves the counter beyond it, so ids handed
// out later never collide with it.
//
// What may fail: AddJob (InvalidArgument for a malformed or nil id,
// AlreadyExists for a known id); MarkJobFinished (NotFound for an unknown id).
#include <cstdint>
#include <map>
#include <vector>

#include "common/id.h"
#include "common/status.h"
#include "gcs_service.pb.h"

namespace lumos::gcs {

class GcsJobManager {
 public:
  GcsJobManager() = default;
  GcsJobManager(const GcsJobManager&) = delete;
  GcsJobManager& operator=(const GcsJobManager&) = delete;

  /// \brief Allocates the next job id (1, 2, ...). Never returns the same id twice.
  JobID NextJobId();

  /// \brief Records a running job. A zero start_time_ms is set to `now_ms`.
  Status AddJob(const rpc::JobInfo& job, int64_t now_ms);

  /// \brief Marks the job dead with end_time_ms = `now_ms`. Finishing a job
  /// twice is OK and keeps the first end time.
  Status MarkJobFinished(const JobID& job_id, int64_t now_ms);

  /// \brief The job's entry, or NotFound.
  Result<rpc::JobInfo> GetJob(const JobID& job_id) const;
  /// \brief The id NextJobId hands out next (as an integer).
  uint32_t next_job_id() const { return next_job_id_; }
  /// \brief Rebuilds the table from stored jobs and the stored counter
  /// (the counter ends past every job's id either way). REQUIRES: empty table.
  void Restore(const std::vector<rpc::JobInfo>& jobs, uint32_t next_job_id);

  /// \brief Every job ever added, ordered by job id.
  std::vector<rpc::JobInfo> GetAllJobs() const;

 private:
  uint32_t next_job_id_ = 1;
  std::map<JobID, rpc::JobInfo> jobs_;  // JobID bytes are big-endian, so order == numeric
};

}  // namespace lumos::gcs
