#pragma once
// NodeManager: the raylet's I/O shell. Serves NodeManagerService on the raylet
// fastpath socket, registers drivers and workers, turns lease requests into
// LeaseManager events and carries out its actions (grant replies, worker
// starts, infeasible warnings), reaps idle workers, and reports the node's
// resources to the GCS from a reporter thread.
//
// Thread safety: all state lives on the event loop thread, except the
// resource snapshot read by the reporter thread (guarded by snapshot_mu_).
#include <asio.hpp>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/id.h"
#include "common/resource_set.h"
#include "raylet/bundle_book.h"
#include "raylet/lease_manager.h"
#include "node_manager.pb.h"
#include "raylet/object_manager.h"
#include "scheduling/cluster_scheduler.h"
#include "raylet/worker_pool.h"
#include "rpc/connection.h"
#include "rpc/gcs_client.h"
#include "rpc/server.h"

namespace lumos::raylet {

struct NodeManagerOptions {
  NodeID node_id;
  std::string node_ip = "127.0.0.1";
  std::string socket_path;
  std::string store_endpoint;  // "unix:<path>"
  std::string store_socket;    // for the object manager's store client
  int port = 0;                // raylet TCP port (0: any free one)
  int object_manager_port = 0; // object transfer TCP port (0: any free one)
  std::map<std::string, std::string> labels;
  std::string session_dir;
  ResourceSet resources;
  int num_prestart_workers = 0;
  uint64_t object_store_memory = 0;
  bool is_head = false;
  WorkerPool::Options worker_pool;
  // A worker registration must come from the pid it claims (SO_PEERCRED).
  // Off only in tests whose own process plays a worker the raylet spawned.
  bool verify_worker_peer_pid = true;
  // Fills the store_* fields of GetNodeStatsReply (the store lives in this
  // process on its own thread; set by main.cc, unset in unit tests).
  std::function<void(rpc::GetNodeStatsReply*)> fill_store_stats;
};

class NodeManager {
 public:
  NodeManager(asio::io_context& io, NodeManagerOptions options, std::shared_ptr<rpc::GcsClient> gcs);
  ~NodeManager();

  /// \brief Listens, prestarts workers, registers with the GCS, starts reporting.
  Status Start();
  /// \brief Stops workers and reporting, unregisters from the GCS. Blocking; call
  /// from the loop thread or after the loop stopped.
  void Stop(const std::string& reason);

 private:
  struct Client {
    uint64_t id = 0;
    bool registered = false;
    bool is_driver = false;
    bool remote_owner = false;  // a core worker of another node, here for leases
    bool is_gcs = false;        // the GCS (its leases are actors' and survive it)
    WorkerID worker_id;
    pid_t pid = 0;
    std::string endpoint;
    rpc::ConnectionPtr conn;
  };

  void OnFrame(const rpc::ConnectionPtr& conn, rpc::Frame&& frame);
  void OnClose(const rpc::ConnectionPtr& conn, const Status& why);
  void HandleRegister(const std::shared_ptr<Client>& c, const rpc::Frame& frame);
  /// \brief `after_view`: the request was held for a fresher cluster view.
  void HandleRequestLease(const std::shared_ptr<Client>& c, const rpc::Frame& frame, bool after_view = false);
  void HandleReturnWorker(const std::shared_ptr<Client>& c, const rpc::Frame& frame);
  void HandleNodeStats(const std::shared_ptr<Client>& c, const rpc::Frame& frame);
  void HandleGetWorkerExit(const std::shared_ptr<Client>& c, const rpc::Frame& frame);
  // Multi-node (node_manager_cluster.cc).
  /// \brief Starts the object manager and the cluster view poller.
  Status StartCluster(int* object_manager_port);
  void StopCluster();
  /// \brief Loop thread: the GCS's node table, polled by ClusterViewLoop.
  void OnClusterView(std::vector<rpc::NodeInfo> nodes);
  void ClusterViewLoop();
  /// \brief For a lease request that may run elsewhere: the endpoint of a
  /// better node's raylet (spillback), or "" to queue it here.
  /// *feasible (optional): false when no known node's totals fit.
  /// `only_if_room`: answer only with a node that has room now (never one
  /// merely able to fit it once idle).
  std::string ChooseRemoteNode(const rpc::SchedulingStrategy& strategy, const ResourceSet& rs,
                               const ResourceSet& placement, NodeID* node, bool* feasible = nullptr,
                               bool only_if_room = false, const std::string& preferred_node = "");
  /// \brief Loop thread, after a new cluster view: queued requests that
  /// another node can run now (or that only another node can ever run) are
  /// answered with spillback.
  void SpillQueuedRequests();
  /// \brief In a cluster of several nodes, an infeasibility message names
  /// the cluster's largest node instead of this one.
  std::string ClusterWide(const LeaseRequest& req, const std::string& message);
  /// \brief Answers a lease request with "ask the raylet at `endpoint`".
  void ReplySpillback(uint64_t requester, uint64_t reply_tag, const std::string& endpoint, const NodeID& node);
  // Draining (node_manager_drain.cc).
  /// \brief Loop thread: the GCS says drain (a resource report's reply).
  void StartDrain(int64_t deadline_ms);
  /// \brief Loop thread, on every cluster view while draining: once no task
  /// lease is left (or the deadline passed) starts moving objects.
  void CheckDrainProgress();
  /// \brief Drain thread: hands each primary copy owned elsewhere to one of
  /// `targets` and tells its owner; then stops the raylet.
  void MovePrimaryCopies(const std::vector<NodeID>& targets, const std::unordered_set<std::string>& local_endpoints);
  void HandlePullObjects(const std::shared_ptr<Client>& c, const rpc::Frame& frame);
  void HandleFreeRemoteObjects(const rpc::Frame& frame);
  // Placement group bundles (node_manager_bundles.cc).
  void HandlePrepareBundles(const std::shared_ptr<Client>& c, const rpc::Frame& frame);
  void HandleCommitBundles(const std::shared_ptr<Client>& c, const rpc::Frame& frame);
  void HandleCancelBundles(const std::shared_ptr<Client>& c, const rpc::Frame& frame);
  /// \brief Group `pg` was removed for good: refuses its queued lease
  /// requests and kills the workers leased with its resources.
  void EvictRemovedGroup(const std::string& pg);
  /// \brief Refuses a lease request because it names removed group `pg`.
  void RejectForRemovedGroup(const LeaseRequest& req, const std::string& pg);
  void RecordExit(const WorkerID& worker, const std::string& how, bool placement_group_removed);
  void OnWorkerExit(pid_t pid, bool registered, const std::string& how);
  void ScheduleAndDispatch();
  void StartWorkers(int n, uint64_t env_hash = 0, const std::string& runtime_env = "");
  void KillWorker(const WorkerID& worker, const std::string& reason);
  void ArmMaintenanceTimer();
  void DoMaintenance();
  void UpdateSnapshot();
  /// \brief UpdateSnapshot() a moment later, once for a burst of changes:
  /// building the snapshot's maps (hundreds of names with placement groups)
  /// on every lease and bundle change cost more CPU than the reports, which
  /// go out at most every 20 ms anyway.
  void RequestSnapshot();
  // Whether Stop() has begun (the reporter's stop flag).
  bool Stopping();
  void ReporterLoop();
  /// \brief Tells the GCS (from the reporter thread) why a worker exited, so
  /// actors on it die with a precise cause.
  void QueueWorkerFailure(const WorkerID& worker, const std::string& description);

  asio::io_context& io_;
  NodeManagerOptions options_;
  std::shared_ptr<rpc::GcsClient> gcs_;
  std::unique_ptr<rpc::FastpathServer> server_;
  WorkerPool pool_;
  LeaseManager leases_;
  BundleBook bundles_;
  asio::steady_timer maintenance_timer_;
  asio::steady_timer snapshot_timer_;
  bool snapshot_timer_armed_ = false;

  uint64_t next_client_id_ = 1;
  std::unordered_map<uint64_t, std::shared_ptr<Client>> clients_;
  std::unordered_map<WorkerID, std::shared_ptr<Client>> workers_;   // registered workers
  std::unordered_map<WorkerID, int64_t> idle_since_ms_;
  std::unordered_map<pid_t, WorkerID> worker_of_pid_;
  std::unordered_set<WorkerID> actor_workers_;  // leased for actors: not pooled, not reaped
  // Started for a runtime environment (not the default), until they exit.
  std::unordered_map<pid_t, uint64_t> env_of_pid_;
  // Recent worker exits, for task error messages; bounded.
  struct ExitRecord {
    std::string how;
    bool placement_group_removed = false;  // killed because its group was removed
  };
  std::map<WorkerID, ExitRecord> exit_reasons_;
  // Workers killed because their placement group was removed, not yet
  // reaped -> the group's hex id (their recorded exit says so).
  std::unordered_map<WorkerID, std::string> killed_for_removed_group_;
  std::deque<WorkerID> exit_order_;
  struct ExitQuery {
    rpc::ConnectionPtr conn;
    uint64_t request_id;
    int64_t deadline_ms;
  };
  std::multimap<WorkerID, ExitQuery> exit_queries_;  // waiting for a worker to be reaped
  bool stopping_ = false;

  std::mutex snapshot_mu_;
  std::condition_variable snapshot_cv_;
  std::map<std::string, double> available_snapshot_;  // GUARDED_BY(snapshot_mu_)
  std::map<std::string, double> total_snapshot_;      // GUARDED_BY(snapshot_mu_)
  std::vector<std::string> infeasible_snapshot_;      // GUARDED_BY(snapshot_mu_)
  bool snapshot_dirty_ = true;                        // GUARDED_BY(snapshot_mu_)
  bool reporter_stop_ = false;                        // GUARDED_BY(snapshot_mu_)
  rpc::NodeInfo registration_;       // what Start registered (set before the reporter starts)
  int64_t gcs_failing_since_ms_ = 0;  // reporter thread only: 0 = the GCS answers
  // The requester of leases held by a GCS that hung up (crashed or restarting):
  // they are its actors' and stay; any GCS connection may return them.
  static constexpr uint64_t kGcsLeases = ~uint64_t{0};
  std::vector<std::pair<WorkerID, std::string>> worker_failures_;  // GUARDED_BY(snapshot_mu_)
  std::thread reporter_;

  // Multi-node state (loop thread only, except the poller's stop flag).
  std::unique_ptr<ObjectManager> object_manager_;
  scheduling::ClusterScheduler cluster_;
  std::unordered_map<NodeID, std::string> raylet_endpoints_;  // alive remote nodes (not draining)
  std::unordered_set<NodeID> draining_nodes_;                 // alive remote nodes being drained
  std::map<std::string, std::string> local_labels_;           // this node's, from the view
  // Requests no known node can fit, held until the next view (a node that
  // just joined may fit them) instead of being reported infeasible at once.
  std::vector<std::pair<uint64_t, rpc::Frame>> held_for_view_;
  std::thread cluster_view_thread_;
  // Draining: tasks finish, then objects move, then the raylet exits.
  enum class DrainPhase { kNone, kTasks, kObjects, kDone };
  DrainPhase drain_phase_ = DrainPhase::kNone;  // loop thread
  int64_t drain_deadline_ms_ = 0;               // loop thread; 0 = none
  std::atomic<bool> drain_requested_{false};    // reporter thread posted StartDrain
  std::atomic<bool> drain_cancel_{false};       // Stop() during the object phase
  std::thread drain_thread_;
  std::mutex cluster_view_mu_;
  std::condition_variable cluster_view_cv_;
  bool cluster_view_stop_ = false;  // GUARDED_BY(cluster_view_mu_)
};

}  // namespace lumos::raylet
