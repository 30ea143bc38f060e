#pragma once
// RayletWatcher: the GCS's fast signal that a raylet died. It keeps one
// fastpath connection to every alive raylet; when one closes, it dials the
// raylet once more: a raylet that refuses (its process is gone, so its socket
// has no listener) is marked dead at once, instead of after the heartbeat
// timeout. A raylet that answers again keeps running (a dropped connection
// alone is not death). Hung or unreachable raylets are still found by the
// heartbeat deadline (GcsNodeManager::CheckDeadlines).
//
// Threads: its own event loop thread; dials happen there (Unix sockets and
// refused TCP connects return at once).
// Thread safety: NodeAlive/NodeDead/Stop may be called from any thread.
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/id.h"
#include "gcs_service.pb.h"
#include "rpc/connection.h"
#include "rpc/event_loop.h"

namespace lumos::gcs {

class RayletWatcher {
 public:
  using NodesFn = std::function<std::vector<rpc::NodeInfo>()>;
  using DeadFn = std::function<void(const NodeID&, const std::string& reason)>;

  RayletWatcher(NodesFn nodes, DeadFn on_dead);
  ~RayletWatcher();

  void Start();
  void Stop();
  /// \brief Starts watching `node` (dials its raylet).
  void NodeAlive(const NodeID& node);
  /// \brief Stops watching `node` (it was marked dead or unregistered).
  void NodeDead(const NodeID& node);

 private:
  void Watch(const NodeID& node);              // loop thread
  void OnClosed(const NodeID& node, const rpc::ConnectionPtr& conn);  // loop thread
  std::string EndpointOf(const NodeID& node);

  NodesFn nodes_;
  DeadFn on_dead_;
  rpc::EventLoop loop_;
  bool started_ = false;
  std::mutex mu_;
  bool stopping_ = false;                                           // GUARDED_BY(mu_)
  std::unordered_map<NodeID, rpc::ConnectionPtr> conns_;            // GUARDED_BY(mu_)
};

}  // namespace lumos::gcs
