#include "gcs/job_info_service.h"

#include <utility>
#include <vector>

#include "gcs/grpc_auth.h"
#include "common/logging.h"
#include "gcs/service_util.h"

namespace lumos::gcs {

grpc::Status JobInfoService::GetNextJobId(grpc::ServerContext* context, const rpc::GetNextJobIdRequest*,
                                          rpc::GetNextJobIdReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  JobID id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = manager_.NextJobId();
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
