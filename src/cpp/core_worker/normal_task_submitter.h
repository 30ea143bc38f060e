#pragma once
// NormalTaskSubmitter: sends ready tasks (arguments resolved) to leased workers.
//
// Tasks are grouped by scheduling class (resources + function + the
// _fail_on_infeasible option + runtime env + scheduling strategy). Per class
// it asks the local raylet for worker leases while tasks wait (a raylet may
// answer "ask that node's raylet instead": spillback, followed once), pushes tasks
// straight to leased workers, reuses a lease while the class has work and
// returns it once it has been idle for idle_lease_hold_us (a loop that
// submits the next task as soon as the last one's result arrives keeps its
// worker instead of asking the raylet again for every task).
//
// Pipelining: up to max_tasks_in_flight_per_worker tasks go to a worker at
// once, so it runs them back to back instead of idling for a round trip per
// task. The worker runs them in order, so the oldest unanswered one is the one
// running. Three rules keep pipelining invisible to the program:
//  - a worker returns the tasks queued behind one that runs longer than
//    queued_task_return_ms (reply `not_started`): they are pushed elsewhere
//    without counting an attempt, and their class is pushed one task at a time
//    for the next second (its tasks are not all short; a worker that was only
//    descheduled for a moment does not stop pipelining for good);
//  - a lost worker charges only its running task (WorkerCrashedError, or a
//    retry); the tasks queued behind it never started and are pushed again
//    without counting an attempt;
//  - a task without retries (max_retries=0) is never queued behind another,
//    nor another behind it: a worker batches replies, so after a crash the
//    oldest unanswered task may be one that had finished, and only a task
//    with retries can absorb that.
// A worker the raylet killed because the task's placement group was removed,
// or a lease refused for that reason, fails them with a
// TaskPlacementGroupRemoved error object.
//
// Thread safety: thread safe; completions run on the event loop thread.
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core_worker/connection_pool.h"
#include "core_worker/task_manager.h"
#include "rpc/connection.h"

namespace lumos::core {

class NormalTaskSubmitter {
 public:
  /// \brief The node (NodeID binary) holding most of a task's argument bytes, or "".
  using LocalityFn = std::function<std::string(const rpc::TaskSpec&)>;

  /// `io`: the loop that returns idle leases later; nullptr returns them at once.
  NormalTaskSubmitter(rpc::ConnectionPtr raylet, ConnectionPool* pool, TaskManager* tasks,
                      rpc::Address self = rpc::Address(), LocalityFn locality = nullptr,
                      asio::io_context* io = nullptr)
      : raylet_(std::move(raylet)), pool_(pool), tasks_(tasks), self_(std::move(self)),
        locality_(std::move(locality)), io_(io) {}

  void Submit(rpc::TaskSpec spec);
  /// \brief The same for a spec shared with the TaskManager (queued without a copy).
  void Submit(std::shared_ptr<const rpc::TaskSpec> spec);
  /// \brief Removes a task that has not been pushed yet; false if not queued.
  bool CancelQueued(const TaskID& task);
  /// \brief For a task pushed to a worker: asks that worker to cancel it, or
  /// (force) kills the worker through the raylet. False if not in flight.
  bool CancelRunning(const TaskID& task, bool force, bool recursive);
  /// \brief Returns every lease (shutdown).
  void ReturnAllLeases();

  static uint64_t SchedulingClassOf(const rpc::TaskSpec& spec);

 private:
  struct Pushed {
    TaskID task;
    std::shared_ptr<const rpc::TaskSpec> spec;  // to push again if it comes back unrun
  };
  struct Leased {
    uint64_t lease_id = 0;
    rpc::ConnectionPtr raylet;  // the raylet that granted the lease (maybe another node's)
    rpc::Address address;
    rpc::ConnectionPtr conn;
    int in_flight = 0;
    bool dead = false;
    std::deque<Pushed> order;        // tasks pushed, oldest (the one running) first
    TaskID lost_running;             // once the connection is lost: the task it was running
    int64_t idle_since_us = 0;       // steady clock; 0: busy (or returned)
    std::vector<int32_t> gpu_ids;  // the lease's GPUs, sent with every push
  };
  struct Class {
    std::deque<std::shared_ptr<const rpc::TaskSpec>> queue;
    int pending_lease_requests = 0;
    std::vector<std::shared_ptr<Leased>> workers;
    std::map<std::string, double> resources;
    bool fail_on_infeasible = false;  // the tasks' _fail_on_infeasible option
    std::string runtime_env;          // the tasks' TaskSpec.runtime_env (part of the class)
    bool in_group = false;            // asks for placement group resources
    rpc::SchedulingStrategy strategy; // the tasks' scheduling strategy
    int64_t unpipelined_until_us = 0; // steady clock: a worker returned tasks queued behind a slow one
  };

  // REQUIRES: mu_ held. Pushes what it can, requests leases for the rest.
  void DispatchLocked(uint64_t cls_id, Class& cls);
  // REQUIRES: mu_ held. Whether `w` may take `spec` now (the pipelining rules).
  static bool MayPushLocked(const Class& cls, const Leased& w, const rpc::TaskSpec& spec);
  void PushLocked(uint64_t cls_id, const std::shared_ptr<Leased>& w, std::shared_ptr<const rpc::TaskSpec> spec);
  // REQUIRES: mu_ held. Removes `task` from w's in-flight order; its spec.
  std::shared_ptr<const rpc::TaskSpec> TakePushedLocked(Leased& w, const TaskID& task);
  void OnLeaseReply(uint64_t cls_id, const rpc::ConnectionPtr& raylet, const Status& s, const rpc::Frame& frame);
  // REQUIRES: mu_ held. A lease request for the class, sent to `raylet`.
  void RequestLeaseLocked(uint64_t cls_id, const Class& cls, const rpc::ConnectionPtr& raylet,
                          bool grant_or_reject);
  void OnTaskReply(uint64_t cls_id, const std::shared_ptr<Leased>& w, const TaskID& task,
                   const std::string& name, const Status& s, const rpc::Frame& frame);
  void ReturnLeaseLocked(Class& cls, const std::shared_ptr<Leased>& w, bool disconnect);
  // REQUIRES: mu_ held. `w` has nothing to do: return it now, or after
  // idle_lease_hold_us unless a task comes first (ReapIdleLeases).
  void IdleLeaseLocked(Class& cls, const std::shared_ptr<Leased>& w);
  void ReapIdleLeases();
  void ArmReaperLocked(int64_t delay_us);  // REQUIRES: mu_ held, io_ set
  // The worker running `task` died. A task in a placement group first asks
  // the raylet whether it killed the worker because the group was removed
  // (then the task fails instead of being retried into the removed group).
  // Returns the spec to resubmit now, if any. REQUIRES: mu_ not held.
  bool OnWorkerLost(bool in_group, const TaskID& task, const std::string& name, const rpc::ConnectionPtr& raylet,
                    const rpc::Address& worker, const std::string& why, rpc::TaskSpec* retry);

  rpc::ConnectionPtr raylet_;
  ConnectionPool* pool_;
  rpc::Address self_;  // this core worker, for registrations at other nodes' raylets
  LocalityFn locality_;
  std::set<rpc::ConnectionPtr> registered_raylets_;  // GUARDED_BY(mu_): other nodes' raylets we registered at
  TaskManager* tasks_;
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Class> classes_;
  std::unordered_map<TaskID, std::shared_ptr<Leased>> running_;  // pushed, not replied
  asio::io_context* io_;
  std::unique_ptr<asio::steady_timer> reaper_;  // GUARDED_BY(mu_)
  bool reaper_armed_ = false;                   // GUARDED_BY(mu_)
};

}  // namespace lumos::core
