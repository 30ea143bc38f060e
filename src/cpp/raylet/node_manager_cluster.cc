// NodeManager, multi-node part: the object manager, the view of the other
// nodes (polled from the GCS), spillback of lease requests to better nodes,
// and the PULL_OBJECTS / FREE_REMOTE_OBJECTS requests of local core workers.
#include <chrono>

#include "common/config.h"
#include "common/logging.h"
#include "node_manager.pb.h"
#include "raylet/node_manager.h"
#include "rpc/endpoint.h"
#include "scheduling/strategy_proto.h"

namespace lumos::raylet {
namespace {

constexpr int64_t kClusterViewPeriodMs = 100;

}  // namespace

Status NodeManager::StartCluster(int* object_manager_port) {
  cluster_view_thread_ = std::thread([this] { ClusterViewLoop(); });
  if (options_.store_socket.empty()) return Status::OK();  // unit tests: no store, no transfers
  ObjectManager::Options om;
  om.node_id = options_.node_id;
  om.node_ip = options_.node_ip;
  om.port = options_.object_manager_port;
  om.store_socket = options_.store_socket;
  object_manager_ = std::make_unique<ObjectManager>(om);
  return object_manager_->Start(object_manager_port);
}

void NodeManager::StopCluster() {
  {
    std::lock_guard<std::mutex> lock(cluster_view_mu_);
    cluster_view_stop_ = true;
  }
  cluster_view_cv_.notify_all();
  if (cluster_view_thread_.joinable()) cluster_view_thread_.join();
  if (object_manager_) object_manager_->Stop();
}

void NodeManager::ClusterViewLoop() {
  std::unique_lock<std::mutex> lock(cluster_view_mu_);
  while (!cluster_view_stop_) {
    lock.unlock();
    std::vector<rpc::NodeInfo> nodes;
    Status s = gcs_->GetAllNodeInfo(&nodes);
    if (s.ok()) {
      asio::post(io_, [this, nodes = std::move(nodes)]() mutable { OnClusterView(std::move(nodes)); });
    }
    lock.lock();
    cluster_view_cv_.wait_for(lock, std::chrono::milliseconds(kClusterViewPeriodMs),
                              [this] { return cluster_view_stop_; });
  }
}

void NodeManager::OnClusterView(std::vector<rpc::NodeInfo> nodes) {
  if (stopping_) return;
  std::unordered_map<NodeID, std::string> alive;
  std::unordered_set<NodeID> draining;  // alive, but being drained
  for (const auto& n : nodes) {
    if (n.node_id().size() != NodeID::kSize || n.state() != rpc::NodeInfo::ALIVE) continue;
    NodeID id = NodeID::FromBinary(n.node_id());
    std::map<std::string, double> total(n.total_resources().begin(), n.total_resources().end());
    std::map<std::string, double> avail(n.available_resources().begin(), n.available_resources().end());
    std::map<std::string, std::string> labels = scheduling::NodeLabels(id, n.labels());
    if (id == options_.node_id) {
      local_labels_ = std::move(labels);
      if (drain_phase_ == DrainPhase::kNone) cluster_.UpsertNode(id, leases_.total(), leases_.available(), local_labels_);
      continue;
    }
    auto t = ResourceSet::FromMap(total);
    auto a = ResourceSet::FromMap(avail);
    if (!t.ok() || !a.ok()) continue;
    if (object_manager_ && n.object_manager_port() > 0) {
      auto store = rpc::ParseEndpoint(n.store_endpoint());
      object_manager_->SetNodeAddress(id, n.node_ip(), n.object_manager_port(),
                                      store.ok() ? store.value().unix_path : "");
    }
    if (n.draining()) {
      // Its objects can still be fetched, but no new work goes there.
      draining.insert(id);
      continue;
    }
    cluster_.UpsertNode(id, t.value(), a.value(), labels);
    alive[id] = n.raylet_endpoint();
  }
  for (const auto& [id, ep] : raylet_endpoints_) {
    if (!alive.count(id)) {
      cluster_.RemoveNode(id);
      if (object_manager_ && !draining.count(id)) object_manager_->RemoveNode(id);
    }
  }
  for (const auto& id : draining_nodes_) {
    if (!draining.count(id) && !alive.count(id) && object_manager_) object_manager_->RemoveNode(id);
  }
  draining_nodes_ = std::move(draining);
  raylet_endpoints_ = std::move(alive);
  if (!raylet_endpoints_.empty()) SpillQueuedRequests();
  CheckDrainProgress();
  auto held = std::move(held_for_view_);
  held_for_view_.clear();
  for (auto& [client, frame] : held) {
    auto it = clients_.find(client);
    if (it != clients_.end()) HandleRequestLease(it->second, frame, /*after_view=*/true);
  }
}

std::string NodeManager::ClusterWide(const LeaseRequest& req, const std::string& message) {
  const std::string mine = " but this node has only ";
  size_t at = message.find(mine);
  size_t end = message.find(" in total", at == std::string::npos ? 0 : at);
  if (raylet_endpoints_.empty() || at == std::string::npos || end == std::string::npos) return message;
  ResourceSet asked = req.resources;
  asked.RaiseTo(req.placement);
  std::string largest = cluster_.DescribeLargestNode(cluster_.MakeRequest(asked));
  return message.substr(0, at) + " but none of the cluster's " + std::to_string(raylet_endpoints_.size() + 1) +
         " nodes has that much; the largest has " + largest + message.substr(end);
}

void NodeManager::ReplySpillback(uint64_t requester, uint64_t reply_tag, const std::string& endpoint,
                                 const NodeID& node) {
  auto it = clients_.find(requester);
  if (it == clients_.end()) return;
  rpc::RequestWorkerLeaseReply reply;
  reply.set_retry_at_raylet(endpoint);
  reply.set_retry_at_node_id(node.Binary());
  it->second->conn->SendReply(reply_tag, rpc::REQUEST_WORKER_LEASE, reply);
}

void NodeManager::SpillQueuedRequests() {
  // Chosen while scanning (the choice counts against the view, so a queue
  // of requests spreads over the nodes with room instead of all going to one).
  std::vector<std::pair<std::string, NodeID>> targets;
  auto movable = leases_.TakeRequestsIf([&](const LeaseRequest& r) {
    if (r.is_actor) return false;  // placed by the GCS on purpose
    rpc::SchedulingStrategy strategy;
    strategy.ParseFromString(r.strategy);
    NodeID target;
    // A request another raylet sent here moves again only to a node with
    // room now (progress, not ping-pong): e.g. this node is busy for long
    // while another one fitting it just freed up.
    // (A draining node moves everything it can, wherever there is room.)
    std::string endpoint = ChooseRemoteNode(strategy, r.resources, r.placement, &target, nullptr,
                                            /*only_if_room=*/r.grant_or_reject && drain_phase_ == DrainPhase::kNone);
    if (endpoint.empty()) return false;
    targets.emplace_back(std::move(endpoint), target);
    return true;
  });
  for (size_t i = 0; i < movable.size(); i++) {
    ReplySpillback(movable[i].requester, movable[i].reply_tag, targets[i].first, targets[i].second);
  }
  if (!movable.empty()) ScheduleAndDispatch();
}

std::string NodeManager::ChooseRemoteNode(const rpc::SchedulingStrategy& wanted, const ResourceSet& rs,
                                          const ResourceSet& placement, NodeID* node, bool* feasible,
                                          bool only_if_room, const std::string& preferred_node) {
  ResourceSet demand = rs;
  demand.RaiseTo(placement);
  // This node's own entry is exact (bundles change its totals); the others'
  // are at most ~100 ms old.
  if (drain_phase_ == DrainPhase::kNone) {
    cluster_.UpsertNode(options_.node_id, leases_.total(), leases_.available(), local_labels_);
  }
  scheduling::ResourceRequest request = cluster_.MakeRequest(demand);
  scheduling::SchedulingStrategy strategy = scheduling::FromProto(wanted);
  scheduling::Decision d = cluster_.Schedule(request, strategy);
  if (feasible) *feasible = d.kind != scheduling::Decision::kInfeasible;
  if (strategy.kind == scheduling::SchedulingStrategy::kDefault && preferred_node.size() == NodeID::kSize) {
    // Locality: where the task's large arguments are, if that node has room now.
    NodeID there = NodeID::FromBinary(preferred_node);
    if (there != options_.node_id && cluster_.HasNode(there) &&
        cluster_.Available(there).Contains(demand)) {
      d.kind = scheduling::Decision::kNode;
      d.node = there;
    }
  }
  NodeID target;
  if (d.kind == scheduling::Decision::kNode) {
    target = d.node;
  } else if (d.kind == scheduling::Decision::kWait && !only_if_room) {
    // Nothing free now: wait here if this node can ever run it, else on one that can.
    std::vector<NodeID> feasible = cluster_.FeasibleNodes(request, strategy);
    if (!feasible.empty()) target = feasible.front();
  }
  if (target.IsNil() || target == options_.node_id) return "";
  auto it = raylet_endpoints_.find(target);
  if (it == raylet_endpoints_.end()) return "";
  // Count it against the view so a burst does not all go to one node.
  cluster_.Allocate(target, request);
  *node = target;
  return it->second;
}

void NodeManager::HandlePullObjects(const std::shared_ptr<Client>& c, const rpc::Frame& frame) {
  rpc::PullObjectsRequest req;
  if (!req.ParseFromString(frame.payload) || req.object_ids_size() != req.node_ids_size()) {
    c->conn->SendError(frame.header.request_id, frame.header.method, Status::InvalidArgument("bad PULL_OBJECTS"));
    return;
  }
  std::vector<ObjectID> ids;
  std::vector<NodeID> nodes;
  std::vector<uint64_t> sizes;
  for (int i = 0; i < req.object_ids_size(); i++) {
    if (req.object_ids(i).size() != ObjectID::kSize || req.node_ids(i).size() != NodeID::kSize) {
      c->conn->SendError(frame.header.request_id, frame.header.method, Status::InvalidArgument("bad id in PULL_OBJECTS"));
      return;
    }
    ids.push_back(ObjectID::FromBinary(req.object_ids(i)));
    nodes.push_back(NodeID::FromBinary(req.node_ids(i)));
    sizes.push_back(i < req.sizes_size() ? req.sizes(i) : 0);
  }
  auto conn = c->conn;
  uint64_t rid = frame.header.request_id;
  if (!object_manager_) {
    conn->SendError(rid, frame.header.method, Status::NotImplemented("this raylet runs without an object store"));
    return;
  }
  object_manager_->Pull(ids, nodes, sizes, req.priority(), [conn, rid](std::vector<std::string> errors) {
    rpc::PullObjectsReply reply;
    for (auto& e : errors) reply.add_errors(std::move(e));
    conn->SendReply(rid, rpc::PULL_OBJECTS, reply);
  });
}

void NodeManager::HandleFreeRemoteObjects(const rpc::Frame& frame) {
  rpc::FreeRemoteObjectsRequest req;
  if (!req.ParseFromString(frame.payload)) return;
  std::vector<ObjectID> ids;
  std::vector<NodeID> nodes;
  for (int i = 0; i < req.object_ids_size() && i < req.node_ids_size(); i++) {
    if (req.object_ids(i).size() != ObjectID::kSize || req.node_ids(i).size() != NodeID::kSize) continue;
    ids.push_back(ObjectID::FromBinary(req.object_ids(i)));
    nodes.push_back(NodeID::FromBinary(req.node_ids(i)));
  }
  if (object_manager_) object_manager_->FreeRemote(ids, nodes);
}

}  // namespace lumos::raylet
