#pragma once
// LeaseManager: the raylet's scheduling state machine for worker leases on one
// node. Pure logic, no I/O: the node manager feeds it events (requests,
// workers becoming idle or dying, blocked/unblocked workers) and carries out
// the Actions that Schedule() returns (grant a worker, start workers, warn
// about an infeasible request).
//
// Model: a lease binds one worker to one requester and holds the request's
// resources until it is returned. Requests are served in arrival order, but a
// request that does not fit does not block later ones that do. A worker whose
// task blocks in get() lends its CPUs back until it unblocks (the node may then
// be oversubscribed for a while, like Ray); it keeps its GPUs. A lease that
// holds GPUs gets GPU ids from the GpuAllocator along with the ResourceSet
// amount; both must fit to grant.
//
// Runtime environments: a worker is started for one environment (env_hash,
// 0 = the default) and is granted only to requests of that environment; when
// none is idle, kStartWorkers names the environment to start. With no
// non-default worker alive the default path is the old one (the warmest idle
// worker, no scan).
//
// Thread safety: none; the node manager calls it from its event loop only.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/id.h"
#include "common/resource_set.h"
#include "raylet/gpu_allocator.h"

namespace lumos::raylet {

struct LeaseRequest {
  uint64_t requester = 0;  // opaque id of the asking connection
  uint64_t reply_tag = 0;  // opaque id of the request on that connection
  ResourceSet resources;   // held by the lease
  ResourceSet placement;   // must be available to grant, not held (actors)
  uint64_t scheduling_class = 0;
  std::string task_name;
  bool is_actor = false;   // the worker hosts an actor and never returns to the pool
  bool fail_on_infeasible = false;  // reject instead of waiting when infeasible
  uint64_t env_hash = 0;    // runtime environment (0: default); hash of runtime_env
  std::string runtime_env;  // serialized environment, passed to workers started for it
  // Multi-node: the serialized rpc::SchedulingStrategy, and whether another
  // raylet sent the requester here (then it never moves again).
  std::string strategy;
  bool grant_or_reject = false;
};

struct LeaseAction {
  enum Kind { kGrant, kStartWorkers, kInfeasible };
  Kind kind;
  LeaseRequest request;      // kGrant, kInfeasible
  WorkerID worker;           // kGrant
  uint64_t lease_id = 0;     // kGrant
  int num_workers = 0;       // kStartWorkers (for request.env_hash / request.runtime_env)
  std::string message;       // kInfeasible
  bool reject = false;       // kInfeasible: the request was dropped; answer it with an error
  std::vector<int> gpu_ids;  // kGrant: the GPUs the lease holds (indices of the node's GPUs)
};

struct LeaseInfo {
  uint64_t lease_id;
  uint64_t requester;
  WorkerID worker;
  ResourceSet resources;
  bool blocked = false;
  bool is_actor = false;
  GpuAllocator::Assignment gpus;  // empty unless the lease holds GPUs
};

class LeaseManager {
 public:
  /// \param max_starting Workers that may be starting at once.
  LeaseManager(ResourceSet total, int max_starting);

  void AddRequest(LeaseRequest req);
  /// \brief GPUs (fixed-point units) a request needs ids for: plain "GPU"
  /// plus a placement group bundle's GPU, asked as GPU_group_<id> (with or
  /// without GPU_group_<i>_<id>, which names the same amount). The bundle
  /// reserved the node's plain GPU amount; its tasks take GPU ids from the
  /// same allocator as everything else.
  static int64_t GpuUnitsOf(const ResourceSet& resources);
  /// \brief A new worker registered, or a starting one failed.
  void WorkerStarted(const WorkerID& worker, uint64_t env_hash = 0);
  void WorkerStartFailed(uint64_t env_hash = 0);
  void NoteWorkersStarting(int n) { starting_ += n; }
  /// \brief Ends a lease; the worker becomes idle unless `worker_gone`.
  /// Returns the lease, or nullopt if the id is unknown (stale or bogus).
  std::optional<LeaseInfo> ReturnLease(uint64_t lease_id, bool worker_gone);
  /// \brief A worker process died: its lease (if any) ends, it leaves the idle set.
  std::optional<LeaseInfo> WorkerDied(const WorkerID& worker);
  /// \brief Removes an idle worker (reaping); false if it is not idle.
  bool TakeIdleWorker(const WorkerID& worker);
  void WorkerBlocked(const WorkerID& worker);
  void WorkerUnblocked(const WorkerID& worker);
  /// \brief Drops the requester's pending requests; returns the leases it holds.
  std::vector<LeaseInfo> RequesterGone(uint64_t requester);
  /// \brief Drops `from`'s queued requests and hands its leases to `to`
  /// (which keeps them: their workers go on running).
  void ReassignRequester(uint64_t from, uint64_t to);
  /// \brief A placement group was removed: drops and returns the pending
  /// requests that ask for (or must be placed on) a resource of group `pg`.
  std::vector<LeaseRequest> DropGroupRequests(const std::string& pg);
  /// \brief Removes and returns the pending requests `pred` selects (e.g.
  /// those another node should run).
  std::vector<LeaseRequest> TakeRequestsIf(const std::function<bool(const LeaseRequest&)>& pred);
  /// \brief The live leases that hold a resource of group `pg`.
  std::vector<LeaseInfo> GroupLeases(const std::string& pg) const;

  // Placement group bundles (see BundleBook): set resources aside, give them
  // back, and add/remove the resources committed bundles turn into.
  /// \brief Subtracts `rs` from what is available; false (nothing changes) if it does not fit.
  bool TryReserve(const ResourceSet& rs);
  void Unreserve(const ResourceSet& rs) { available_.Add(rs); }
  void AddResources(const ResourceSet& rs);
  /// \brief Removes from total and available (available may go negative while
  /// leases still hold them; they come back to zero as the leases return).
  void RemoveResources(const ResourceSet& rs);

  /// \brief Grants what can be granted now, in arrival order.
  std::vector<LeaseAction> Schedule();

  const ResourceSet& total() const { return total_; }
  /// \brief Draining node: only actor requests (placed here by the GCS) are
  /// granted; task requests wait to be moved to other nodes.
  void set_actors_only(bool on) { actors_only_ = on; }
  /// \brief Workers holding a lease for tasks (not an actor's).
  std::vector<WorkerID> TaskLeaseWorkers() const;
  const ResourceSet& available() const { return available_; }
  const GpuAllocator& gpus() const { return gpus_; }
  size_t num_pending() const { return pending_.size(); }
  size_t num_idle() const { return idle_.size(); }
  size_t num_leased() const { return leases_.size(); }
  int num_starting() const { return starting_; }
  const std::deque<WorkerID>& idle_workers() const { return idle_; }
  /// \brief One line per shape of the pending requests this node can never fit.
  std::vector<std::string> InfeasibleDemands() const;
  std::optional<uint64_t> LeaseOfWorker(const WorkerID& worker) const;
  /// \brief The runtime environment a live worker was started for (0: default).
  uint64_t EnvOfWorker(const WorkerID& worker) const;
  /// \brief The live lease with this id, or nullptr (valid until the next call).
  const LeaseInfo* GetLease(uint64_t lease_id) const;

 private:
  // One fewer worker (of environment `env_hash`) is starting.
  void DoneStarting(uint64_t env_hash);
  ResourceSet total_;
  ResourceSet available_;
  GpuAllocator gpus_;
  int max_starting_;
  int starting_ = 0;
  bool actors_only_ = false;
  uint64_t next_lease_id_ = 1;
  struct Pending {
    LeaseRequest req;
    bool warned = false;
    int64_t gpu_units = 0;  // GpuUnitsOf(req.resources) on a node with GPUs
  };
  std::deque<Pending> pending_;
  // The warmest idle worker of `env_hash`, removed from idle_; nullopt if none.
  std::optional<WorkerID> TakeIdleFor(uint64_t env_hash);

  std::deque<WorkerID> idle_;  // most recently used at the back
  std::unordered_map<WorkerID, uint64_t> env_of_worker_;  // non-default workers only
  std::unordered_map<uint64_t, int> starting_of_env_;     // non-default envs only; counted in starting_ too
  std::map<uint64_t, LeaseInfo> leases_;
  std::unordered_map<WorkerID, uint64_t> lease_of_worker_;
};

}  // namespace lumos::raylet
