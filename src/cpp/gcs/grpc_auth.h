#pragma once
// The GCS's gRPC side of cluster authentication: every handler starts with
// LUMOS_GCS_CHECK_AUTH(context), which refuses the call (UNAUTHENTICATED,
// with the fix in the message) unless its metadata carries
// "authorization: Bearer <cluster token>" and the lumos version matches.
// (grpc++ 1.51 offers no auth hook for insecure credentials, hence the
// per-handler check.) Header only, thread safe.
#include <grpcpp/server_context.h>

#include <string>

#include "rpc/cluster_identity.h"

namespace lumos::gcs {

/// \brief OK, or UNAUTHENTICATED / FAILED_PRECONDITION naming the fix.
inline grpc::Status CheckGrpcAuth(const grpc::ServerContext* context) {
  const auto& md = context->client_metadata();
  auto version = md.find("lumos-version");
  if (version != md.end() && std::string(version->second.data(), version->second.size()) != rpc::kLumosVersion) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "version mismatch: the GCS runs lumos " + std::string(rpc::kLumosVersion) +
                            " but the caller runs lumos " +
                            std::string(version->second.data(), version->second.size()) +
                            "; install the same lumos version on every node");
  }
  auto it = md.find("authorization");
  const std::string prefix = "Bearer ";
  if (it == md.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "no cluster token was sent; set LUMOS_AUTH_TOKEN (or --auth-token-file) to the "
                        "token `lumos start --head` wrote to <session_dir>/auth_token");
  }
  std::string value(it->second.data(), it->second.size());
  if (value.compare(0, prefix.size(), prefix) != 0 ||
      !rpc::TokensEqual(value.substr(prefix.size()), rpc::ClusterToken())) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "the cluster token sent is wrong; set LUMOS_AUTH_TOKEN (or --auth-token-file) to the "
                        "token in <session_dir>/auth_token on the head node");
  }
  return grpc::Status::OK;
}

}  // namespace lumos::gcs

#define LUMOS_GCS_CHECK_AUTH(context)                              \
  do {                                                             \
    grpc::Status _auth = ::lumos::gcs::CheckGrpcAuth(context);     \
    if (!_auth.ok()) return _auth;                                 \
  } while (0)
