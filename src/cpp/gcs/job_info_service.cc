#include "gcs/job_info_service.h"

#include <utility>
#include <vector>

#include "gcs/grpc_auth.h"
#include "common/logging.h"
#include "gcs/service_util.h"

namespace lumos::gcs {

Status JobInfoService::Restore(const GcsStorage::Rows& rows, uint32_t next_job_id) {
  std::vector<rpc::JobInfo> jobs;
  for (const auto& [key, value] : rows) {
    rpc::JobInfo job;
    if (!job.ParseFromString(value)) return Status::Invalid("malformed job row in the GCS storage");
    jobs.push_back(std::move(job));
  }
  std::lock_guard<std::mutex> lock(mu_);
  manager_.Restore(jobs, next_job_id);
  return Status::OK();
}

void JobInfoService::SaveLocked(const JobID& id) {
  std::vector<GcsStorage::Op> ops;
  ops.push_back(GcsStorage::Op{GcsStorage::Table::kMeta, kNextJobIdKey, std::to_string(manager_.next_job_id())});
  if (!id.IsNil()) {
    auto job = manager_.GetJob(id);
    if (job.ok()) ops.push_back(GcsStorage::Op{GcsStorage::Table::kJobs, id.Binary(), job.value().SerializeAsString()});
  }
  Status s = storage_->Apply(ops);
  if (!s.ok()) LUMOS_LOG(Error) << "job table not saved: " << s.ToString();
}

grpc::Status JobInfoService::GetNextJobId(grpc::ServerContext* context, const rpc::GetNextJobIdRequest*,
                                          rpc::GetNextJobIdReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  JobID id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = manager_.NextJobId();
    if (storage_ != nullptr) SaveLocked(JobID::Nil());
  }
  reply->set_job_id(id.Binary());
  FillGcsStatus(Status::OK(), reply->mutable_status());
  return grpc::Status::OK;
}

grpc::Status JobInfoService::AddJob(grpc::ServerContext* context, const rpc::AddJobRequest* req,
                                    rpc::AddJobReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  Status s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = manager_.AddJob(req->job(), WallClockMs());
    if (s.ok() && storage_ != nullptr) SaveLocked(JobID::FromBinary(req->job().job_id()));
  }
  if (s.ok()) {
    LUMOS_LOG(Info) << "job " << JobID::FromBinary(req->job().job_id()).Hex()
                    << " started (driver pid " << req->job().driver_pid() << ")";
  }
  FillGcsStatus(s, reply->mutable_status());
  return grpc::Status::OK;
}

grpc::Status JobInfoService::MarkJobFinished(grpc::ServerContext* context,
                                             const rpc::MarkJobFinishedRequest* req,
                                             rpc::MarkJobFinishedReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  JobID id = JobID::FromBinary(req->job_id());
  Status s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = manager_.MarkJobFinished(id, WallClockMs());
    if (s.ok() && storage_ != nullptr) SaveLocked(id);
  }
  if (s.ok()) {
    LUMOS_LOG(Info) << "job " << id.Hex() << " finished";
    if (on_finished_) on_finished_(id);
  }
  FillGcsStatus(s, reply->mutable_status());
  return grpc::Status::OK;
}

grpc::Status JobInfoService::GetAllJobInfo(grpc::ServerContext* context, const rpc::GetAllJobInfoRequest*,
                                           rpc::GetAllJobInfoReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  std::vector<rpc::JobInfo> jobs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs = manager_.GetAllJobs();
  }
  for (auto& job : jobs) *reply->add_jobs() = std::move(job);
  FillGcsStatus(Status::OK(), reply->mutable_status());
  return grpc::Status::OK;
}

}  // namespace lumos::gcs
