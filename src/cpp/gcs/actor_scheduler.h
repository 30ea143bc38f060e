#pragma once
// GcsActorScheduler: the I/O shell around GcsActorManager. It creates actors
// on raylets over the fastpath, watches their workers and owners, and
// publishes every change of an actor to its subscribers.
//
// Creating an actor: pick an ALIVE node (from the node table) whose total
// resources fit the creation task's required ∪ placement resources (if none
// does, the actor stays pending with a warning in death_cause, retried when
// nodes register; or, with TaskSpec.fail_on_infeasible, dies at once naming
// the request and the largest node); connect to its raylet (one connection per raylet,
// registered once as a driver-like client) and REQUEST_WORKER_LEASE with
// is_actor=true; connect to the leased worker and PUSH_TASK the creation
// task. An application error means __init__ raised (the actor dies with the
// serialized error); otherwise the actor is ALIVE there and the connection to
// its worker stays open. When that connection closes the worker died: the
// raylet's ReportWorkerFailure (waited for up to actor_worker_failure_wait_ms)
// says how. A raylet connection that closes means its node's actors died.
// Killing an actor returns its lease with disconnect_worker=true (the raylet
// kills the worker).
//
// Subscribers and owners are reached through a pool of fastpath connections,
// one per endpoint: ACTOR_STATE_UPDATE one-way frames carry ActorTableData.
// An endpoint whose connection closes (or cannot be opened) loses its
// subscriptions, and the actors it owns die (owner death).
//
// Threading: the manager is guarded by mu_; the public methods may be called
// from any thread (gRPC handlers) and return at once; all I/O, connections
// and timers live on the scheduler's own EventLoop thread. Actions produced
// under mu_ are queued in order and carried out on the loop, so subscribers
// see versions in increasing order.
//
// Durability (actor_scheduler_restore.cc): with SetStorage, every actor row
// the manager changed is written to GcsStorage under mu_ before the call
// returns, so the rows on disk change in the order the table did. Restore()
// (before Start) loads rows back; ALIVE actors' workers are dialed again and
// watched as before (the raylet kept their leases while the GCS was away).
//
// Lifecycle: construct -> Start() -> Stop() (idempotent; also run by the
// destructor). Endpoints are rpc/endpoint.h strings (a failed dial is reported as
// unreachable).
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "gcs/actor_manager.h"
#include "gcs_service.pb.h"
#include "rpc/connection.h"
#include "rpc/event_loop.h"

namespace lumos::gcs {

class GcsStorage;

class GcsActorScheduler {
 public:
  /// Returns the node table (all nodes, alive and dead). Must not call back
  /// into the scheduler.
  using NodeLister = std::function<std::vector<rpc::NodeInfo>()>;

  explicit GcsActorScheduler(NodeLister list_nodes);
  ~GcsActorScheduler();
  GcsActorScheduler(const GcsActorScheduler&) = delete;
  GcsActorScheduler& operator=(const GcsActorScheduler&) = delete;

  /// \brief Writes every changed actor row to `storage` (may be null: in
  /// memory only). REQUIRES: before Start; `storage` outlives the scheduler.
  void SetStorage(GcsStorage* storage);
  /// \brief Rebuilds the actor table from stored rows (see
  /// GcsActorManager::Restore); the actions run once Start() is called.
  void Restore(const std::vector<rpc::StoredActor>& rows);

  /// \brief Starts the loop thread. REQUIRES: called once.
  void Start();
  /// \brief Closes every connection and joins the loop thread.
  void Stop();

  // The ActorInfoGcsService operations (see gcs_service.proto); thread safe.
  Status RegisterActor(const rpc::TaskSpec& creation_task, rpc::ActorTableData* existing);
  Result<rpc::ActorTableData> GetActor(const std::string& actor_id);
  Result<rpc::ActorTableData> GetNamedActor(const std::string& name, const std::string& ns);
  std::vector<rpc::ActorTableData> ListNamedActors(const std::string& ns, bool all_namespaces);
  /// \brief The state API's actor query (actor_state_query.h), run under the lock.
  Status QueryActors(const rpc::GetAllActorInfoRequest& req, rpc::GetAllActorInfoReply* reply);
  Status KillActor(const std::string& actor_id, bool no_restart, const std::string& reason);
  Status SubscribeActor(const std::string& actor_id, const rpc::Address& subscriber,
                        rpc::ActorTableData* current);
  void ReportWorkerFailure(const WorkerID& worker, const NodeID& node,
                           const std::string& description);

  /// \brief Placement group `pg_hex` was removed: its actors die (see
  /// GcsActorManager::PlacementGroupRemoved); thread safe, returns at once.
  void PlacementGroupRemoved(const std::string& pg_hex);

  // Node table changes (from NodeInfoService); thread safe.
  void NodeAlive(const NodeID& node);
  void NodeDead(const NodeID& node, const std::string& reason);

 private:
  struct PendingCreation {
    std::string actor_id;
    uint64_t attempt = 0;
    rpc::TaskSpec task;
  };
  struct WorkerContext {
    std::string actor_id;
    uint64_t attempt = 0;
    WorkerID worker;
    std::string owner_endpoint;
  };

  // Runs `fn(manager, actions)` under mu_, queues the actions and gets them
  // carried out on the loop. Returns what fn returns.
  template <typename Fn>
  auto WithManager(Fn&& fn);
  void Kick();
  // Loop thread only from here on.
  void Drain();
  void Execute(ActorAction& action);
  void SchedulePending();
  void ArmRetryTimer(int64_t delay_ms);
  // The node to create `task` on, or nullptr with `*warning` set;
  // `*infeasible` says no alive node's totals can ever fit it.
  const rpc::NodeInfo* PickNode(const std::vector<rpc::NodeInfo>& nodes, const rpc::TaskSpec& task,
                                std::string* warning, bool* infeasible) const;
  mutable size_t spread_next_ = 0;  // SPREAD: round-robin position over the nodes
  rpc::ConnectionPtr Raylet(const rpc::NodeInfo& node);
  void RequestLease(const rpc::ConnectionPtr& raylet, const NodeID& node, PendingCreation p);
  void OnLeaseReply(const NodeID& node, PendingCreation p, const Status& status,
                    rpc::Frame&& frame);
  void PushCreationTask(PendingCreation p, const ActorLease& lease);
  void OnPushReply(const std::shared_ptr<WorkerContext>& ctx, const Status& status,
                   rpc::Frame&& frame);
  void OnWorkerFrame(const rpc::ConnectionPtr& conn, rpc::Frame&& frame);
  void OnWorkerClosed(const rpc::ConnectionPtr& conn);
  void ApplyWorkerDeath(const WorkerID& worker);
  void OnRayletFrame(const rpc::ConnectionPtr& conn, rpc::Frame&& frame);
  void OnRayletClosed(const rpc::ConnectionPtr& conn);
  void ReleaseLease(const ActorLease& lease);
  // The connection to the raylet of `node` (dialed when needed), or nullptr.
  rpc::ConnectionPtr RayletOf(const NodeID& node);
  // kAdoptWorker: watch the worker of a restored ALIVE actor.
  void AdoptWorker(const std::string& actor_id, const ActorLease& lease);
  // WithManager for callers outside actor_scheduler.cc (no result).
  void Apply(const std::function<void(GcsActorManager&, ActorActions*)>& fn);
  // Writes the manager's changed rows. REQUIRES: mu_ held.
  void PersistLocked();
  rpc::ConnectionPtr Endpoint(const std::string& endpoint);
  void OnEndpointClosed(const rpc::ConnectionPtr& conn);
  Result<rpc::ConnectionPtr> Dial(const std::string& endpoint);

  const NodeLister list_nodes_;
  GcsStorage* storage_ = nullptr;  // set before Start; null = in memory only
  // Declared first so that it is destroyed last: everything below may hold
  // objects bound to its io_context.
  rpc::EventLoop loop_;

  std::mutex mu_;
  GcsActorManager manager_;         // guarded by mu_
  std::deque<ActorAction> queue_;   // guarded by mu_
  bool started_ = false;            // guarded by mu_
  bool stopped_ = false;            // guarded by mu_

  // Loop thread only.
  bool stopping_ = false;
  bool draining_ = false;
  std::deque<PendingCreation> pending_;  // waiting for a node
  std::map<std::pair<std::string, uint64_t>, NodeID> inflight_;  // lease requests out
  std::unordered_map<NodeID, rpc::ConnectionPtr> raylets_;
  std::unordered_set<NodeID> unreachable_;  // raylet connection failed or closed
  std::unordered_map<WorkerID, rpc::ConnectionPtr> workers_;
  std::unordered_map<std::string, rpc::ConnectionPtr> endpoints_;  // subscribers and owners
  struct Failure {
    std::string description;
    int64_t at_ms;
  };
  std::unordered_map<WorkerID, Failure> failures_;  // recent ReportWorkerFailure
  std::unordered_map<WorkerID, std::shared_ptr<asio::steady_timer>> death_timers_;
  std::unique_ptr<asio::steady_timer> retry_timer_;
  bool retry_armed_ = false;
  int64_t retry_at_ms_ = 0;
  uint64_t retry_generation_ = 0;
};

}  // namespace lumos::gcs
