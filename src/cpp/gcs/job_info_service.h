#pragma once
// JobInfoService: the gRPC shell of JobInfoGcsService over GcsJobManager.
//
// Thread safety: every handler takes mu_. Owns its GcsJobManager. Handlers
// always return grpc::Status::OK; failures travel in the reply's GcsStatus.
#include <mutex>

#include "gcs/job_manager.h"
#include "gcs_service.grpc.pb.h"

namespace lumos::gcs {

class JobInfoService final : public rpc::JobInfoGcsService::Service {
 public:
  JobInfoService() = default;

  grpc::Status GetNextJobId(grpc::ServerContext* ctx, const rpc::GetNextJobIdRequest* req,
                            rpc::GetNextJobIdReply* reply) override;
  grpc::Status AddJob(grpc::ServerContext* ctx, const rpc::AddJobRequest* req,
                      rpc::AddJobReply* reply) override;
  grpc::Status MarkJobFinished(grpc::ServerContext* ctx, const rpc::MarkJobFinishedRequest* req,
                               rpc::MarkJobFinishedReply* reply) override;
  grpc::Status GetAllJobInfo(grpc::ServerContext* ctx, const rpc::GetAllJobInfoRequest* req,
                             rpc::GetAllJobInfoReply* reply) override;

 private:
  std::mutex mu_;
  GcsJobManager manager_;  // guarded by mu_
};

}  // namespace lumos::gcs
