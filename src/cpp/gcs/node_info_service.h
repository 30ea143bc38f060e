#pragma once
// NodeInfoService: the gRPC shell of NodeInfoGcsService over GcsNodeManager.
//
// Thread safety: every handler and CheckDeadlines take mu_, so gRPC's sync
// worker threads and GcsServer's deadline thread may call concurrently. The
// listeners run on the calling thread, after mu_ is released.
// With SetStorage, a node's entry is written to GcsStorage when it registers
// or dies (not on every resource report: those only refresh it).
// Owns its GcsNodeManager. Handlers always return grpc::Status::OK; failures
// travel in the reply's GcsStatus (see service_util.h).
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "gcs/gcs_storage.h"
#include "gcs/node_manager.h"
#include "gcs_service.grpc.pb.h"

namespace lumos::gcs {

class NodeInfoService final : public rpc::NodeInfoGcsService::Service {
 public:
  NodeInfoService() = default;
  /// \brief Persist to `storage` (null: memory only). REQUIRES: before serving.
  void SetStorage(GcsStorage* storage) { storage_ = storage; }
  /// \brief Loads stored nodes (ALIVE ones as just reported) and returns the
  /// ids of the ALIVE ones; the listeners are not called.
  Result<std::vector<NodeID>> Restore(const GcsStorage::Rows& rows, int64_t now_ms);

  grpc::Status RegisterNode(grpc::ServerContext* ctx, const rpc::RegisterNodeRequest* req,
                            rpc::RegisterNodeReply* reply) override;
  grpc::Status UnregisterNode(grpc::ServerContext* ctx, const rpc::UnregisterNodeRequest* req,
                              rpc::UnregisterNodeReply* reply) override;
  grpc::Status GetAllNodeInfo(grpc::ServerContext* ctx, const rpc::GetAllNodeInfoRequest* req,
                              rpc::GetAllNodeInfoReply* reply) override;
  grpc::Status ReportResources(grpc::ServerContext* ctx, const rpc::ReportResourcesRequest* req,
                               rpc::ReportResourcesReply* reply) override;
  /// The raylet learns it is draining from its next report's reply (≤ 250 ms).
  grpc::Status DrainNode(grpc::ServerContext* ctx, const rpc::DrainNodeRequest* req,
                         rpc::DrainNodeReply* reply) override;

  /// \brief Marks nodes silent for longer than `timeout_ms` DEAD (and logs
  /// them). Returns the ids that died in this call.
  std::vector<NodeID> CheckDeadlines(int64_t now_ms, int64_t timeout_ms);

  /// \brief Marks an alive node DEAD with `reason` and tells the listeners;
  /// false (nothing done) when it is unknown or already dead. Thread safe.
  bool MarkDead(const NodeID& node, const std::string& reason);

  /// \brief Every node ever registered (thread safe snapshot).
  std::vector<rpc::NodeInfo> GetAllNodes();

  /// \brief Called when a node registers (alive) and when it is marked dead
  /// (unregistered or silent), with the reason. Set before serving starts.
  void SetListeners(std::function<void(const NodeID&)> on_alive,
                    std::function<void(const NodeID&, const std::string&)> on_dead) {
    on_alive_ = std::move(on_alive);
    on_dead_ = std::move(on_dead);
  }

 private:
  std::function<void(const NodeID&)> on_alive_;
  std::function<void(const NodeID&, const std::string&)> on_dead_;
  std::mutex mu_;
  GcsNodeManager manager_;  // guarded by mu_
  GcsStorage* storage_ = nullptr;
  // REQUIRES: mu_ held. Writes the node's current entry.
  void SaveLocked(const NodeID& id);
};

}  // namespace lumos::gcs
