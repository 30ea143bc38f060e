#pragma once
// JobInfoService: the gRPC shell of JobInfoGcsService over GcsJobManager.
//
// Thread safety: every handler takes mu_. Owns its GcsJobManager. Handlers
// always return grpc::Status::OK; failures travel in the reply's GcsStatus.
// With SetStorage, each added or finished job and the next-job-id counter
// are written to GcsStorage under mu_ before the reply.
#include <functional>
#include <mutex>

#include "gcs/gcs_storage.h"
#include "gcs/job_manager.h"
#include "gcs_service.grpc.pb.h"

namespace lumos::gcs {

class JobInfoService final : public rpc::JobInfoGcsService::Service {
 public:
  /// \brief Called (outside the lock) after a job is marked finished. Set before serving.
  void SetFinishedListener(std::function<void(const JobID&)> fn) { on_finished_ = std::move(fn); }
  JobInfoService() = default;
  /// \brief Persist to `storage` (null: memory only). REQUIRES: before serving.
  void SetStorage(GcsStorage* storage) { storage_ = storage; }
  /// \brief Loads the stored jobs and counter (`next_job_id` 0: none stored).
  Status Restore(const GcsStorage::Rows& rows, uint32_t next_job_id);
  static constexpr const char* kNextJobIdKey = "next_job_id";

  grpc::Status GetNextJobId(grpc::ServerContext* ctx, const rpc::GetNextJobIdRequest* req,
                            rpc::GetNextJobIdReply* reply) override;
  grpc::Status AddJob(grpc::ServerContext* ctx, const rpc::AddJobRequest* req,
                      rpc::AddJobReply* reply) override;
  grpc::Status MarkJobFinished(grpc::ServerContext* ctx, const rpc::MarkJobFinishedRequest* req,
                               rpc::MarkJobFinishedReply* reply) override;
  grpc::Status GetAllJobInfo(grpc::ServerContext* ctx, const rpc::GetAllJobInfoRequest* req,
                             rpc::GetAllJobInfoReply* reply) override;

 private:
  std::function<void(const JobID&)> on_finished_;
  std::mutex mu_;
  GcsJobManager manager_;  // guarded by mu_
  GcsStorage* storage_ = nullptr;
  // REQUIRES: mu_ held. Writes the job's row and the counter.
  void SaveLocked(const JobID& id);
};

}  // namespace lumos::gcs
