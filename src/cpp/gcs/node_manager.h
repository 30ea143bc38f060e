#pragma once
// GcsNodeManager: the GCS's node table, as a plain state machine with no I/O.
//
// Thread safety: none. The owner (NodeInfoService) serializes every call with
// its own mutex. Time never comes from a clock here: callers pass `now_ms`
// (milliseconds since the epoch) so tests drive deadlines without sleeping.
//
// Lifecycle of a node: RegisterNode -> ALIVE; ReportResources refreshes
// `last_report_ms`; UnregisterNode or CheckDeadlines -> DEAD with a reason.
// DEAD nodes stay in the table (so `lumos status` can show why they died); a
// dead id may register again, which replaces the old entry.
//
// What may fail: RegisterNode (InvalidArgument for a malformed id,
// AlreadyExists for an alive id); UnregisterNode and ReportResources (NotFound
// for an id never registered).
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/id.h"
#include "common/status.h"
#include "gcs_service.pb.h"

namespace lumos::gcs {

class GcsNodeManager {
 public:
  GcsNodeManager() = default;
  GcsNodeManager(const GcsNodeManager&) = delete;
  GcsNodeManager& operator=(const GcsNodeManager&) = delete;

  /// \brief Adds `node` as ALIVE, reported at `now_ms`. Empty available
  /// resources default to the total. Re-registering an alive id fails with
  /// AlreadyExists; a dead id is replaced.
  Status RegisterNode(const rpc::NodeInfo& node, int64_t now_ms);

  /// \brief Marks the node DEAD with `reason`. Unregistering a node that is
  /// already dead is OK and keeps the first reason. NotFound if unknown.
  Status UnregisterNode(const NodeID& node_id, const std::string& reason);

  /// \brief Marks an alive node DRAINING (`lumos drain-node`): schedulers
  /// place nothing new there and its raylet is told (ReportResources) to
  /// finish, move its primary copies and exit. `deadline_ms` 0 = none.
  /// NotFound if unknown; InvalidArgument for a dead node or the head
  /// (draining the head would stop the GCS's own node). Draining a draining
  /// node again updates the reason and deadline.
  Status DrainNode(const NodeID& node_id, const std::string& reason, int64_t deadline_ms);

  /// \brief Every node ever registered (alive and dead), in registration order.
  std::vector<rpc::NodeInfo> GetAllNodes() const;

  /// \brief The node's current entry, or NotFound.
  Result<rpc::NodeInfo> GetNode(const NodeID& node_id) const;

  /// \brief Replaces the node's available resources and refreshes its
  /// heartbeat. A dead node is left unchanged and `*node_is_dead` is set true
  /// (the raylet should then exit). NotFound if unknown.
  /// `total`, when given and non-empty, replaces the node's totals.
  Status ReportResources(const NodeID& node_id, const std::map<std::string, double>& available,
                         int64_t now_ms, bool* node_is_dead,
                         const std::map<std::string, double>* total = nullptr,
                         const std::vector<std::string>* infeasible = nullptr,
                         bool* totals_changed = nullptr);

  /// \brief Marks DEAD every alive node whose last report is more than
  /// `timeout_ms` older than `now_ms`; the reason says how long it was silent.
  /// Returns the ids that died in this call. When no alive node reported in
  /// time (a stalled GCS, or a one-node cluster), none dies.
  std::vector<NodeID> CheckDeadlines(int64_t now_ms, int64_t timeout_ms);

  /// \brief Rebuilds the table from stored entries (REQUIRES: empty).
  /// ALIVE nodes count as reported at `now_ms`: a raylet that does not report
  /// again within the death timeout is then marked dead as usual.
  void Restore(const std::vector<rpc::NodeInfo>& nodes, int64_t now_ms);

  /// \brief Number of nodes currently ALIVE.
  size_t NumAlive() const;

 private:
  rpc::NodeInfo* Find(const NodeID& node_id);
  const rpc::NodeInfo* Find(const NodeID& node_id) const;

  // Registration order is kept so listings are stable; index_ maps id -> slot.
  std::vector<rpc::NodeInfo> nodes_;
  std::unordered_map<NodeID, size_t> index_;
};

}  // namespace lumos::gcs
