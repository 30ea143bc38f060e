#pragma once
// HealthCheckService: answers CheckAlive while the GCS runs, with the GCS's
// version, pid and session dir (used by drivers, raylets and `lumos status`).
//
// Thread safety: immutable after construction, so handlers need no lock.
#include <string>

#include "gcs_service.grpc.pb.h"

namespace lumos::gcs {

class HealthCheckService final : public rpc::HealthCheckGcsService::Service {
 public:
  explicit HealthCheckService(std::string session_dir);

  grpc::Status CheckAlive(grpc::ServerContext* ctx, const rpc::CheckAliveRequest* req,
                          rpc::CheckAliveReply* reply) override;

 private:
  const std::string session_dir_;
  const int pid_;
};

}  // namespace lumos::gcs
