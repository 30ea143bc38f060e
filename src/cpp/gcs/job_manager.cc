#include "gcs/job_manager.h"

#include <algorithm>
#include <string>
#include <utility>

namespace lumos::gcs {

JobID GcsJobManager::NextJobId() { return JobID::FromInt(next_job_id_++); }

Status GcsJobManager::AddJob(const rpc::JobInfo& job, int64_t now_ms) {
  if (job.job_id().size() != JobID::kSize) {
    return Status::InvalidArgument("job_id must be " + std::to_string(JobID::kSize) +
                                   " bytes, got " + std::to_string(job.job_id().size()));
  }
  JobID id = JobID::FromBinary(job.job_id());
  if (id.IsNil()) return Status::InvalidArgument("job_id must not be nil");
  if (jobs_.count(id)) return Status::AlreadyExists("job " + id.Hex() + " was already added");
  rpc::JobInfo entry = job;
  entry.set_is_dead(false);
  entry.set_end_time_ms(0);
  if (entry.start_time_ms() == 0) entry.set_start_time_ms(now_ms);
  jobs_.emplace(id, std::move(entry));
  if (id.ToInt() >= next_job_id_) next_job_id_ = id.ToInt() + 1;
  return Status::OK();
}

Status GcsJobManager::MarkJobFinished(const JobID& job_id, int64_t now_ms) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) {
    return Status::NotFound("job " + job_id.Hex() + " is not known to the GCS");
  }
  if (it->second.is_dead()) return Status::OK();
  it->second.set_is_dead(true);
  it->second.set_end_time_ms(now_ms);
  return Status::OK();
}

Result<rpc::JobInfo> GcsJobManager::GetJob(const JobID& job_id) const {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return Status::NotFound("job " + job_id.Hex() + " is not known to the GCS");
  return it->second;
}

void GcsJobManager::Restore(const std::vector<rpc::JobInfo>& jobs, uint32_t next_job_id) {
  next_job_id_ = std::max<uint32_t>(next_job_id_, next_job_id);
  for (const auto& job : jobs) {
    if (job.job_id().size() != JobID::kSize) continue;
    JobID id = JobID::FromBinary(job.job_id());
    jobs_[id] = job;
    if (id.ToInt() >= next_job_id_) next_job_id_ = id.ToInt() + 1;
  }
}

std::vector<rpc::JobInfo> GcsJobManager::GetAllJobs() const {
  std::vector<rpc::JobInfo> out;
  out.reserve(jobs_.size());
  for (const auto& [id, job] : jobs_) out.push_back(job);
  return out;
}

}  // namespace lumos::gcs
