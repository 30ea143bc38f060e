#pragma once
// NodeInfoService: the gRPC shell of NodeInfoGcsService over GcsNodeManager.
//
// Thread safety: every handler and CheckDeadlines take mu_, so gRPC's sync
// worker threads and GcsServer's deadline thread may call concurrently.
// Owns its GcsNodeManager. Handlers always return grpc::Status::OK; failures
// travel in the reply's GcsStatus (see service_util.h).
#include <cstdint>
#include <mutex>
#include <vector>

#include "gcs/node_manager.h"
#include "gcs_service.grpc.pb.h"

namespace lumos::gcs {

class NodeInfoService final : public rpc::NodeInfoGcsService::Service {
 public:
  NodeInfoService() = default;

  grpc::Status RegisterNode(grpc::ServerContext* ctx, const rpc::RegisterNodeRequest* req,
                            rpc::RegisterNodeReply* reply) override;
  grpc::Status UnregisterNode(grpc::ServerContext* ctx, const rpc::UnregisterNodeRequest* req,
                              rpc::UnregisterNodeReply* reply) override;
  grpc::Status GetAllNodeInfo(grpc::ServerContext* ctx, const rpc::GetAllNodeInfoRequest* req,
                              rpc::GetAllNodeInfoReply* reply) override;
  grpc::Status ReportResources(grpc::ServerContext* ctx, const rpc::ReportResourcesRequest* req,
                               rpc::ReportResourcesReply* reply) override;

  /// \brief Marks nodes silent for longer than `timeout_ms` DEAD (and logs
  /// them). Returns the ids that died in this call.
  std::vector<NodeID> CheckDeadlines(int64_t now_ms, int64_t timeout_ms);

 private:
  std::mutex mu_;
  GcsNodeManager manager_;  // guarded by mu_
};

}  // namespace lumos::gcs
