#include "gcs/node_manager.h"

#include <utility>

namespace lumos::gcs {

rpc::NodeInfo* GcsNodeManager::Find(const NodeID& node_id) {
  auto it = index_.find(node_id);
  return it == index_.end() ? nullptr : &nodes_[it->second];
}

const rpc::NodeInfo* GcsNodeManager::Find(const NodeID& node_id) const {
  auto it = index_.find(node_id);
  return it == index_.end() ? nullptr : &nodes_[it->second];
}

Status GcsNodeManager::RegisterNode(const rpc::NodeInfo& node, int64_t now_ms) {
  if (node.node_id().size() != NodeID::kSize) {
    return Status::InvalidArgument("node_id must be " + std::to_string(NodeID::kSize) +
                                   " bytes, got " + std::to_string(node.node_id().size()));
  }
  NodeID id = NodeID::FromBinary(node.node_id());
  if (id.IsNil()) return Status::InvalidArgument("node_id must not be nil");
  rpc::NodeInfo* existing = Find(id);
  if (existing != nullptr && existing->state() == rpc::NodeInfo::ALIVE) {
    return Status::AlreadyExists("node " + id.Hex() + " is already registered and alive");
  }
  rpc::NodeInfo entry = node;
  entry.set_state(rpc::NodeInfo::ALIVE);
  entry.set_last_report_ms(now_ms);
  entry.clear_death_reason();
  if (entry.available_resources().empty()) {
    *entry.mutable_available_resources() = entry.total_resources();
  }
  if (existing != nullptr) {
    *existing = std::move(entry);
  } else {
    index_.emplace(id, nodes_.size());
    nodes_.push_back(std::move(entry));
  }
  return Status::OK();
}

Status GcsNodeManager::UnregisterNode(const NodeID& node_id, const std::string& reason) {
  rpc::NodeInfo* node = Find(node_id);
  if (node == nullptr) return Status::NotFound("node " + node_id.Hex() + " is not registered");
  if (node->state() == rpc::NodeInfo::DEAD) return Status::OK();
  node->set_state(rpc::NodeInfo::DEAD);
  node->set_death_reason(reason.empty() ? "unregistered" : reason);
  if (node->draining()) node->set_death_reason(node->death_reason() + " (" + node->drain_reason() + ")");
  return Status::OK();
}

Status GcsNodeManager::DrainNode(const NodeID& node_id, const std::string& reason, int64_t deadline_ms) {
  rpc::NodeInfo* node = Find(node_id);
  if (node == nullptr) {
    return Status::NotFound("node " + node_id.Hex() + " is not registered; `lumos list nodes` shows the node ids");
  }
  if (node->state() == rpc::NodeInfo::DEAD) {
    return Status::InvalidArgument("node " + node_id.Hex() + " is already dead (" + node->death_reason() + ")");
  }
  if (node->is_head()) {
    return Status::InvalidArgument("node " + node_id.Hex() +
                                      " is the head node, which cannot be drained; stop the cluster with "
                                      "`lumos stop` instead");
  }
  node->set_draining(true);
  node->set_drain_reason(reason.empty() ? "drained" : reason);
  node->set_drain_deadline_ms(deadline_ms);
  return Status::OK();
}

std::vector<rpc::NodeInfo> GcsNodeManager::GetAllNodes() const { return nodes_; }

Result<rpc::NodeInfo> GcsNodeManager::GetNode(const NodeID& node_id) const {
  const rpc::NodeInfo* node = Find(node_id);
  if (node == nullptr) return Status::NotFound("node " + node_id.Hex() + " is not registered");
  return *node;
}

Status GcsNodeManager::ReportResources(const NodeID& node_id,
                                       const std::map<std::string, double>& available,
                                       int64_t now_ms, bool* node_is_dead,
                                       const std::map<std::string, double>* total,
                                       const std::vector<std::string>* infeasible,
                                       bool* totals_changed) {
  rpc::NodeInfo* node = Find(node_id);
  if (node == nullptr) {
    return Status::NotFound("node " + node_id.Hex() +
                            " is not registered with the GCS; register it before reporting");
  }
  *node_is_dead = node->state() == rpc::NodeInfo::DEAD;
  if (*node_is_dead) return Status::OK();
  auto* avail = node->mutable_available_resources();
  avail->clear();
  for (const auto& [name, value] : available) (*avail)[name] = value;
  if (infeasible != nullptr) {
    node->clear_infeasible_demands();
    for (const auto& d : *infeasible) node->add_infeasible_demands(d);
  }
  if (total != nullptr && !total->empty()) {
    auto* t = node->mutable_total_resources();
    if (totals_changed != nullptr) {
      *totals_changed = t->size() != total->size();
      for (const auto& [name, value] : *total) {
        auto it = t->find(name);
        if (it == t->end() || it->second != value) *totals_changed = true;
      }
    }
    t->clear();
    for (const auto& [name, value] : *total) (*t)[name] = value;
  }
  node->set_last_report_ms(now_ms);
  return Status::OK();
}

std::vector<NodeID> GcsNodeManager::CheckDeadlines(int64_t now_ms, int64_t timeout_ms) {
  std::vector<NodeID> died;
  // Silence is only believed when some other node was heard in time: when
  // none was, the GCS itself was stalled (its report handlers did not run),
  // or the cluster has one node, whose death would end the cluster for a
  // hiccup. A raylet that really died is seen at once anyway (RayletWatcher).
  size_t fresh = 0;
  for (const auto& node : nodes_) {
    fresh += node.state() == rpc::NodeInfo::ALIVE && now_ms - node.last_report_ms() <= timeout_ms;
  }
  if (fresh == 0) return died;
  for (auto& node : nodes_) {
    if (node.state() != rpc::NodeInfo::ALIVE) continue;
    int64_t silent_ms = now_ms - node.last_report_ms();
    if (silent_ms <= timeout_ms) continue;
    node.set_state(rpc::NodeInfo::DEAD);
    node.set_death_reason("no resource report from the raylet for " + std::to_string(silent_ms) +
                          " ms (node_death_timeout_ms=" + std::to_string(timeout_ms) +
                          "); the raylet is presumed dead or unreachable");
    died.push_back(NodeID::FromBinary(node.node_id()));
  }
  return died;
}

void GcsNodeManager::Restore(const std::vector<rpc::NodeInfo>& nodes, int64_t now_ms) {
  for (const auto& node : nodes) {
    if (node.node_id().size() != NodeID::kSize) continue;
    NodeID id = NodeID::FromBinary(node.node_id());
    if (index_.count(id)) continue;
    index_.emplace(id, nodes_.size());
    nodes_.push_back(node);
    if (node.state() == rpc::NodeInfo::ALIVE) nodes_.back().set_last_report_ms(now_ms);
  }
}

size_t GcsNodeManager::NumAlive() const {
  size_t n = 0;
  for (const auto& node : nodes_) n += node.state() == rpc::NodeInfo::ALIVE;
  return n;
}

}  // namespace lumos::gcs
