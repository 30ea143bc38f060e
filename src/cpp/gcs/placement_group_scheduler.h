#pragma once
// GcsPlacementGroupScheduler: the I/O shell around GcsPlacementGroupManager.
// It carries the manager's actions to raylets over the fastpath
// (PREPARE_BUNDLES / COMMIT_BUNDLES / CANCEL_BUNDLES, one registered
// connection per raylet), feeds the replies back, refreshes the manager's
// node views from the node table, and wakes WaitUntilReady callers.
//
// A raylet that cannot be reached fails its prepare/commit (the group is
// rolled back and retried); pending groups are retried every
// kRetryPeriodMs and whenever a node registers.
//
// Threading: the manager is guarded by mu_; public methods may be called from
// any thread (gRPC handlers). Actions produced under mu_ are queued and
// carried out in order on the scheduler's own EventLoop thread, which owns
// every connection. Lifecycle: construct -> Start() -> Stop() (idempotent).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "gcs/placement_group_manager.h"
#include "gcs_service.pb.h"
#include "rpc/connection.h"
#include "rpc/event_loop.h"

namespace lumos::gcs {

class GcsStorage;

class GcsPlacementGroupScheduler {
 public:
  using NodeLister = std::function<std::vector<rpc::NodeInfo>()>;
  using RemovedListener = std::function<void(const std::string& pg_id)>;

  explicit GcsPlacementGroupScheduler(NodeLister list_nodes);
  ~GcsPlacementGroupScheduler();
  GcsPlacementGroupScheduler(const GcsPlacementGroupScheduler&) = delete;
  GcsPlacementGroupScheduler& operator=(const GcsPlacementGroupScheduler&) = delete;

  /// \brief `fn(pg_id)` runs once per removed group (hex id), before any
  /// raylet hears of the removal (so the GCS's actors in the group die of it
  /// before their workers are killed). It runs under the scheduler's lock:
  /// it must not call back into the scheduler. REQUIRES: before Start().
  void SetRemovedListener(RemovedListener fn) { on_removed_ = std::move(fn); }
  /// \brief Writes every changed group row to `storage` under the lock, in
  /// the order of the changes (null: in memory only). REQUIRES: before Start.
  void SetStorage(GcsStorage* storage);
  /// \brief Rebuilds the table from stored rows (REQUIRES: before Start).
  Status Restore(const std::vector<rpc::PlacementGroupTableData>& rows);
  void Start();
  void Stop();

  // PlacementGroupInfoGcsService operations; thread safe.
  Status Create(const rpc::PlacementGroupTableData& pg);
  /// \brief Registers every group of `pgs` (one lock, one storage commit);
  /// the first error, the others are still registered.
  Status Create(const std::vector<rpc::PlacementGroupTableData>& pgs);
  Status Remove(const std::string& pg_id);
  /// \brief Removes every group of `pg_ids` (one lock, one storage commit);
  /// the first error, the others are still removed.
  Status Remove(const std::vector<std::string>& pg_ids);
  Result<rpc::PlacementGroupTableData> Get(const std::string& pg_id);
  Result<rpc::PlacementGroupTableData> GetNamed(const std::string& name, const std::string& ns);
  std::vector<rpc::PlacementGroupTableData> GetAll();
  /// \brief Blocks up to timeout_ms: true when CREATED; NotFound/Invalid
  /// when the group is unknown or was removed.
  Result<bool> WaitUntilReady(const std::string& pg_id, int64_t timeout_ms);
  /// \brief Same, and (whatever the result) appends to `ready_ids` those of
  /// `also_report` that are CREATED when it returns (not waited for).
  Result<bool> WaitUntilReady(const std::string& pg_id, int64_t timeout_ms,
                              const std::vector<std::string>& also_report,
                              std::vector<std::string>* ready_ids);

  /// \brief Removes the job's non-detached groups (job id binary); thread safe.
  void JobFinished(const std::string& job_id);

  // Node table changes; thread safe.
  void NodeAlive(const NodeID& node);
  void NodeDead(const NodeID& node);

 private:
  template <typename Fn>
  auto WithManager(Fn&& fn);
  void Kick();
  void PostSchedule();
  // Loop thread only.
  void Drain();
  void Execute(const PgAction& a);
  void SendCancel(const rpc::ConnectionPtr& raylet, const PgAction& a, const NodeID& node);
  struct RayletReply {  // of a PREPARE_BUNDLES (prepare) or COMMIT_BUNDLES
    bool prepare = true;
    std::string pg_id;
    uint64_t attempt = 0;
    NodeID node;
    bool ok = false;
    std::string why;
  };
  void OnReply(RayletReply r);
  void ApplyReplies();
  // full: take every node's reported availability (else only new nodes').
  void RefreshNodesAndSchedule(bool full);
  void ArmRetryTimer();
  rpc::ConnectionPtr Raylet(const NodeID& node);
  void OnRayletClosed(const rpc::ConnectionPtr& conn);

  const NodeLister list_nodes_;
  RemovedListener on_removed_;
  GcsStorage* storage_ = nullptr;  // set before Start
  rpc::EventLoop loop_;  // destroyed last

  std::mutex mu_;
  std::condition_variable ready_cv_;  // notified on every kReady
  GcsPlacementGroupManager manager_;  // guarded by mu_
  std::deque<PgAction> queue_;        // guarded by mu_
  bool started_ = false;              // guarded by mu_
  bool stopped_ = false;              // guarded by mu_

  // Loop thread only.
  bool stopping_ = false;
  bool draining_ = false;
  bool retry_armed_ = false;
  bool knows_nodes_ = false;
  std::vector<RayletReply> replies_;  // raylet replies not yet given to the manager
  bool replies_posted_ = false;
  std::atomic<bool> schedule_posted_{false};
  std::unique_ptr<asio::steady_timer> retry_timer_;
  std::unordered_map<NodeID, rpc::ConnectionPtr> raylets_;
  std::unordered_map<NodeID, std::string> endpoints_;  // from the node table
};

}  // namespace lumos::gcs
