#include "gcs/node_info_service.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "gcs/grpc_auth.h"
#include "common/logging.h"
#include "gcs/service_util.h"

namespace lumos::gcs {

Result<std::vector<NodeID>> NodeInfoService::Restore(const GcsStorage::Rows& rows, int64_t now_ms) {
  std::vector<rpc::NodeInfo> nodes;
  std::vector<NodeID> alive;
  for (const auto& [key, value] : rows) {
    rpc::NodeInfo node;
    if (!node.ParseFromString(value)) return Status::Invalid("malformed node row in the GCS storage");
    if (node.state() == rpc::NodeInfo::ALIVE && node.node_id().size() == NodeID::kSize) {
      alive.push_back(NodeID::FromBinary(node.node_id()));
    }
    nodes.push_back(std::move(node));
  }
  std::lock_guard<std::mutex> lock(mu_);
  manager_.Restore(nodes, now_ms);
  return alive;
}

void NodeInfoService::SaveLocked(const NodeID& id) {
  auto node = manager_.GetNode(id);
  if (!node.ok()) return;
  Status s = storage_->Put(GcsStorage::Table::kNodes, id.Binary(), node.value().SerializeAsString());
  if (!s.ok()) LUMOS_LOG(Error) << "node table not saved: " << s.ToString();
}

grpc::Status NodeInfoService::RegisterNode(grpc::ServerContext* context,
                                           const rpc::RegisterNodeRequest* req,
                                           rpc::RegisterNodeReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  Status s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = manager_.RegisterNode(req->node(), WallClockMs());
    if (s.ok() && storage_ != nullptr) SaveLocked(NodeID::FromBinary(req->node().node_id()));
  }
  NodeID id = NodeID::FromBinary(req->node().node_id());
  if (s.ok()) {
    LUMOS_LOG(Info) << "node " << id.Hex() << " registered (ip " << req->node().node_ip()
                    << ", raylet pid " << req->node().raylet_pid()
                    << (req->node().is_head() ? ", head" : "") << ")";
    if (on_alive_) on_alive_(id);
  } else {
    LUMOS_LOG(Warning) << "RegisterNode rejected: " << s.ToString();
  }
  FillGcsStatus(s, reply->mutable_status());
  return grpc::Status::OK;
}

grpc::Status NodeInfoService::UnregisterNode(grpc::ServerContext* context,
                                             const rpc::UnregisterNodeRequest* req,
                                             rpc::UnregisterNodeReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  NodeID id = NodeID::FromBinary(req->node_id());
  Status s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = manager_.UnregisterNode(id, req->reason());
    if (s.ok() && storage_ != nullptr) SaveLocked(id);
  }
  if (s.ok()) {
    LUMOS_LOG(Info) << "node " << id.Hex() << " unregistered: " << req->reason();
    if (on_dead_) on_dead_(id, req->reason().empty() ? "unregistered" : req->reason());
  }
  FillGcsStatus(s, reply->mutable_status());
  return grpc::Status::OK;
}

grpc::Status NodeInfoService::GetAllNodeInfo(grpc::ServerContext* context,
                                             const rpc::GetAllNodeInfoRequest*,
                                             rpc::GetAllNodeInfoReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  std::vector<rpc::NodeInfo> nodes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    nodes = manager_.GetAllNodes();
  }
  for (auto& node : nodes) *reply->add_nodes() = std::move(node);
  FillGcsStatus(Status::OK(), reply->mutable_status());
  return grpc::Status::OK;
}

grpc::Status NodeInfoService::ReportResources(grpc::ServerContext* context,
                                              const rpc::ReportResourcesRequest* req,
                                              rpc::ReportResourcesReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  std::map<std::string, double> available(req->available_resources().begin(),
                                          req->available_resources().end());
  std::map<std::string, double> total(req->total_resources().begin(),
                                      req->total_resources().end());
  std::vector<std::string> infeasible(req->infeasible_demands().begin(),
                                      req->infeasible_demands().end());
  bool node_is_dead = false;
  bool totals_changed = false;
  Status s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = manager_.ReportResources(NodeID::FromBinary(req->node_id()), available, WallClockMs(),
                                 &node_is_dead, &total, &infeasible, &totals_changed);
    if (s.ok()) {
      auto node = manager_.GetNode(NodeID::FromBinary(req->node_id()));
      if (node.ok() && node.value().draining()) {
        reply->set_drain(true);
        reply->set_drain_deadline_ms(node.value().drain_deadline_ms());
      }
    }
  }
  // Totals change when placement group bundles are committed or returned:
  // actors waiting for bundle resources may fit now.
  if (s.ok() && totals_changed && on_alive_) on_alive_(NodeID::FromBinary(req->node_id()));
  reply->set_node_is_dead(node_is_dead);
  FillGcsStatus(s, reply->mutable_status());
  return grpc::Status::OK;
}

grpc::Status NodeInfoService::DrainNode(grpc::ServerContext* context, const rpc::DrainNodeRequest* req,
                                        rpc::DrainNodeReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  Status s;
  if (req->node_id().size() != NodeID::kSize) {
    s = Status::InvalidArgument("DrainNode: node_id must be " + std::to_string(NodeID::kSize) + " bytes");
  } else if (!(req->deadline_remaining_s() >= 0)) {
    s = Status::InvalidArgument("DrainNode: the deadline must be >= 0 seconds (0 = none)");
  } else {
    NodeID id = NodeID::FromBinary(req->node_id());
    // Capped at ~100 years before the conversion: a huge (or infinite) double
    // does not fit int64 (undefined; in practice a deadline in the past, which
    // would force the drain at once). Found by fuzz/gcs_requests_fuzzer.
    constexpr double kMaxDeadlineS = 100.0 * 365 * 24 * 3600;
    int64_t deadline =
        req->deadline_remaining_s() > 0
            ? WallClockMs() + static_cast<int64_t>(std::min(req->deadline_remaining_s(), kMaxDeadlineS) * 1000)
            : 0;
    std::lock_guard<std::mutex> lock(mu_);
    s = manager_.DrainNode(id, req->reason(), deadline);
    if (s.ok()) {
      if (storage_ != nullptr) SaveLocked(id);
      LUMOS_LOG(Info) << "node " << id.Hex() << " draining: " << req->reason();
    }
  }
  FillGcsStatus(s, reply->mutable_status());
  return grpc::Status::OK;
}

std::vector<NodeID> NodeInfoService::CheckDeadlines(int64_t now_ms, int64_t timeout_ms) {
  std::vector<NodeID> died;
  std::vector<std::string> reasons;
  {
    std::lock_guard<std::mutex> lock(mu_);
    died = manager_.CheckDeadlines(now_ms, timeout_ms);
    for (const auto& id : died) {
      reasons.push_back(manager_.GetNode(id).value().death_reason());
      if (storage_ != nullptr) SaveLocked(id);
    }
  }
  for (size_t i = 0; i < died.size(); i++) {
    LUMOS_LOG(Warning) << "node " << died[i].Hex() << " marked dead: " << reasons[i];
    if (on_dead_) on_dead_(died[i], reasons[i]);
  }
  return died;
}

bool NodeInfoService::MarkDead(const NodeID& node, const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto info = manager_.GetNode(node);
    if (!info.ok() || info.value().state() != rpc::NodeInfo::ALIVE) return false;
    if (!manager_.UnregisterNode(node, reason).ok()) return false;
    if (storage_ != nullptr) SaveLocked(node);
  }
  LUMOS_LOG(Warning) << "node " << node.Hex() << " marked dead: " << reason;
  if (on_dead_) on_dead_(node, reason);
  return true;
}

std::vector<rpc::NodeInfo> NodeInfoService::GetAllNodes() {
  std::lock_guard<std::mutex> lock(mu_);
  return manager_.GetAllNodes();
}

}  // namespace lumos::gcs
