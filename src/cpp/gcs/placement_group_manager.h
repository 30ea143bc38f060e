#pragma once
// GcsPlacementGroupManager: the placement group table and its two-phase
// reservation protocol, as a pure state machine (no I/O). The I/O shell
// (GcsPlacementGroupScheduler) feeds it requests, node table changes and
// raylet replies, and carries out the actions it returns.
//
// Protocol for one scheduling attempt of a group (attempts are numbered;
// replies about an older attempt are stale):
//   PENDING --Schedule()--> bundles placed by the ClusterScheduler, one
//   kPrepare per node --all prepared--> PREPARED, one kCommit per node
//   --all committed--> CREATED (kReady wakes waiters).
//   When every bundle lands on one node, the prepare carries commit=true and
//   its success is the group's creation (one round trip instead of two).
//   Any prepare/commit failure: kCancel for every node that may hold bundles
//   of the attempt (cancel is idempotent on the raylet), back to PENDING
//   (retried at the next Schedule()). A late successful prepare of an
//   abandoned attempt is cancelled too.
//   Remove(): kCancel with removed=true for every node that may hold bundles
//   (the raylet also kills the work running on them), one kRemoved naming
//   the other known nodes (they learn of the removal so that they refuse
//   lease requests for the group), REMOVED (final). A late successful
//   prepare of a removed group is cancelled with removed=true.
//   A node that dies with bundles of a group: the rest are cancelled and the
//   group goes to RESCHEDULING, placed again like PENDING.
// REMOVED groups are kept (for placement_group_table() and so that a wait
// says "removed") up to max_removed_kept(); beyond it the longest-removed are
// forgotten, in memory and in the store, so that creating and removing
// groups for ever costs bounded memory and a bounded table.
// Infeasible groups (no node set can ever hold them) stay pending with
// `infeasible` and `pending_reason` set, for `lumos status`.
//
// Node availability comes from the node table (raylet reports, which include
// prepared bundles); between reports the manager subtracts what it placed.
//
// Durability: with TrackChanges(true) every group whose row changed
// (created, placed, removed, rescheduled) is remembered for TakeChanges();
// Restore() rebuilds the table from rows: CREATED groups stay CREATED on
// their bundles' nodes, REMOVED ones stay removed, the others are PENDING
// and placed again.
//
// Thread safety: none (the shell serialises calls).
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/id.h"
#include "common/status.h"
#include "gcs_service.pb.h"
#include "scheduling/cluster_scheduler.h"

namespace lumos::gcs {

struct PgAction {
  enum Kind { kPrepare, kCommit, kCancel, kReady, kRemoved };
  Kind kind = kPrepare;
  std::string pg_id;
  uint64_t attempt = 0;
  NodeID node;                        // kPrepare, kCommit, kCancel
  std::vector<rpc::Bundle> bundles;   // kPrepare: the bundles for `node`
  bool commit = false;                // kPrepare: one node holds the group; commit at once
  std::vector<int32_t> indices;       // kCommit, kCancel (kCancel: empty = all on the node)
  bool removed = false;               // kCancel: the group is removed for good (kill its work)
  std::vector<NodeID> nodes;          // kRemoved: known nodes without bundles of the group
};
using PgActions = std::vector<PgAction>;

class GcsPlacementGroupManager {
 public:
  GcsPlacementGroupManager() = default;

  /// \brief Validates and registers a group (state PENDING). InvalidArgument
  /// for an empty or bad bundle, AlreadyExists for a live group's name.
  /// Registering the same id again is OK (idempotent retry).
  Status Create(const rpc::PlacementGroupTableData& pg);
  /// \brief Removes the group (cancels its bundles). Unknown id: NotFound;
  /// removing twice is OK.
  Status Remove(const std::string& pg_id, PgActions* actions);
  Result<rpc::PlacementGroupTableData> Get(const std::string& pg_id) const;
  Result<rpc::PlacementGroupTableData> GetNamed(const std::string& name,
                                                const std::string& ns) const;
  std::vector<rpc::PlacementGroupTableData> GetAll() const;
  /// \brief True when the group exists and is CREATED (no copy of its row).
  bool IsCreated(const std::string& pg_id) const;
  /// \brief Removes the non-detached groups created by the job (it finished).
  void JobFinished(const std::string& job_id, PgActions* actions);

  // Node table.
  void NodeAlive(const NodeID& node, const ResourceSet& total, const ResourceSet& available);
  void NodeResources(const NodeID& node, const ResourceSet& available);
  void NodeDead(const NodeID& node, PgActions* actions);
  bool KnowsNode(const NodeID& node) const { return scheduler_.HasNode(node); }
  size_t num_nodes() const { return scheduler_.num_nodes(); }

  /// \brief Tries to place every pending group, in creation order.
  void Schedule(PgActions* actions);
  /// \brief Raylet replies.
  void PrepareDone(const std::string& pg_id, uint64_t attempt, const NodeID& node, bool ok,
                   const std::string& message, PgActions* actions);
  void CommitDone(const std::string& pg_id, uint64_t attempt, const NodeID& node, bool ok,
                  const std::string& message, PgActions* actions);

  size_t num_pending() const;

  /// \brief Remember the groups whose stored row changed (off by default).
  void TrackChanges(bool on) { track_changes_ = on; }
  /// \brief The rows changed since the last call, and forgets them.
  std::vector<rpc::PlacementGroupTableData> TakeChanges();
  /// \brief The ids of the REMOVED groups forgotten since the last call
  /// (their stored rows go too), and clears the list.
  std::vector<std::string> TakeForgotten();
  static constexpr size_t kDefaultMaxRemovedKept = 10000;
  void SetMaxRemovedKept(size_t n) { max_removed_kept_ = n; }
  size_t max_removed_kept() const { return max_removed_kept_; }
  /// \brief Rebuilds the table from stored rows. REQUIRES: an empty table.
  /// Rows that no longer validate are skipped and named in the result.
  Status Restore(const std::vector<rpc::PlacementGroupTableData>& rows);
  bool HasPending() const { return num_pending() > 0; }

 private:
  struct Entry {
    rpc::PlacementGroupTableData data;
    uint64_t attempt = 0;
    bool in_flight = false;                 // an attempt is preparing/committing
    std::map<NodeID, std::vector<int32_t>> placement;  // node -> bundle indices
    std::set<NodeID> prepared, committed;
    std::vector<scheduling::ResourceRequest> requests;  // per bundle
  };
  void Abort(Entry& e, const std::string& why, PgActions* actions);
  void CancelAll(Entry& e, bool removed, PgActions* actions);
  void ReleaseAllocations(Entry& e);
  void Touch(const std::string& id) {
    if (track_changes_) changed_.insert(id);
  }
  // Remembers a newly REMOVED group; forgets the longest-removed beyond the cap.
  void KeepRemoved(const std::string& id);

  bool track_changes_ = false;
  std::set<std::string> changed_;
  std::vector<std::string> forgotten_;      // since TakeForgotten (when tracking)
  std::deque<std::string> removed_order_;   // REMOVED groups kept, longest-removed first
  size_t max_removed_kept_ = kDefaultMaxRemovedKept;

  scheduling::ClusterScheduler scheduler_;
  std::set<NodeID> nodes_;  // alive nodes the manager was told about
  std::unordered_map<std::string, Entry> groups_;
  std::vector<std::string> order_;  // creation order, pending groups only
  std::map<std::pair<std::string, std::string>, std::string> named_;  // (ns, name) -> id
};

}  // namespace lumos::gcs
