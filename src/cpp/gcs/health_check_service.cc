#include "gcs/health_check_service.h"

#include <unistd.h>

#include <utility>

#include "gcs/grpc_auth.h"
#include "gcs/service_util.h"

// The build may define the project's version; this is the fallback.
#ifndef LUMOS_VERSION
#define LUMOS_VERSION "0.1.0-dev"
#endif

namespace lumos::gcs {

HealthCheckService::HealthCheckService(std::string session_dir)
    : session_dir_(std::move(session_dir)), pid_(static_cast<int>(getpid())) {}

grpc::Status HealthCheckService::CheckAlive(grpc::ServerContext* context, const rpc::CheckAliveRequest*,
                                            rpc::CheckAliveReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  reply->set_version(LUMOS_VERSION);
  reply->set_pid(pid_);
  reply->set_session_dir(session_dir_);
  FillGcsStatus(Status::OK(), reply->mutable_status());
  return grpc::Status::OK;
}

}  // namespace lumos::gcs
