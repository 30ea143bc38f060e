#include "gcs/raylet_watcher.h"

#include "common/logging.h"
#include "gcs/raylet_link.h"

namespace lumos::gcs {

RayletWatcher::RayletWatcher(NodesFn nodes, DeadFn on_dead) : nodes_(std::move(nodes)), on_dead_(std::move(on_dead)) {}

RayletWatcher::~RayletWatcher() { Stop(); }

void RayletWatcher::Start() {
  loop_.Start("raylet_watch");
  started_ = true;
}

void RayletWatcher::Stop() {
  std::unordered_map<NodeID, rpc::ConnectionPtr> conns;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    conns.swap(conns_);
  }
  for (auto& [id, c] : conns) c->Close(Status::OK());
  if (started_) {
    loop_.Stop();
    loop_.Join();
  }
}

void RayletWatcher::NodeAlive(const NodeID& node) {
  loop_.Post([this, node] { Watch(node); });
}

void RayletWatcher::NodeDead(const NodeID& node) {
  rpc::ConnectionPtr conn;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = conns_.find(node);
    if (it == conns_.end()) return;
    conn = it->second;
    conns_.erase(it);
  }
  conn->Close(Status::OK());
}

std::string RayletWatcher::EndpointOf(const NodeID& node) {
  for (const auto& n : nodes_()) {
    if (n.node_id() == node.Binary() && n.state() == rpc::NodeInfo::ALIVE) return n.raylet_endpoint();
  }
  return "";
}

void RayletWatcher::Watch(const NodeID& node) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    auto it = conns_.find(node);
    if (it != conns_.end() && !it->second->closed()) return;
  }
  std::string endpoint = EndpointOf(node);
  if (endpoint.empty()) return;
  auto conn = ConnectRaylet(
      loop_.io(), node, endpoint, [](const rpc::ConnectionPtr&, rpc::Frame&&) {},
      [this, node](const rpc::ConnectionPtr& c, const Status&) {
        loop_.Post([this, node, c] { OnClosed(node, c); });
      });
  if (!conn.ok()) {
    LUMOS_LOG(Debug) << "cannot watch the raylet of node " << node.Hex() << ": " << conn.status().ToString();
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) {
    conn.value()->Close(Status::OK());
    return;
  }
  conns_[node] = conn.value();
}

void RayletWatcher::OnClosed(const NodeID& node, const rpc::ConnectionPtr& conn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    auto it = conns_.find(node);
    if (it == conns_.end() || it->second != conn) return;  // stopped watching, or replaced
    conns_.erase(it);
  }
  std::string endpoint = EndpointOf(node);
  if (endpoint.empty()) return;  // already dead or unregistered
  // One more dial: a live raylet accepts it; a dead one's socket refuses.
  auto again = DialEndpoint(loop_.io(), endpoint);
  if (again.ok()) {
    again.value()->Close(Status::OK());
    Watch(node);
    return;
  }
  on_dead_(node, "its raylet closed its connection to the GCS and no longer accepts connections (" +
                     again.status().message() + "): the raylet process died");
}

}  // namespace lumos::gcs
