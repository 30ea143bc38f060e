#include "core_worker/normal_task_submitter.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>

#include "common/config.h"
#include "common/logging.h"
#include "common/steady_clock.h"
#include "core_worker/push_task_frame.h"
#include "node_manager.pb.h"

namespace lumos::core {

uint64_t NormalTaskSubmitter::SchedulingClassOf(const rpc::TaskSpec& spec) {
  std::hash<std::string> h;
  uint64_t v = h(spec.function().function_id());
  std::map<std::string, double> sorted(spec.required_resources().begin(), spec.required_resources().end());
  for (const auto& [k, amount] : sorted) {
    v = v * 1000003 ^ h(k);
    v = v * 1000003 ^ std::hash<double>()(amount);
  }
  // Leases that fail on infeasibility must not serve tasks that wait.
  if (spec.fail_on_infeasible()) v = v * 1000003 ^ 0x9e3779b97f4a7c15ULL;
  // A worker serves one runtime environment: tasks of different ones never share a lease.
  if (!spec.runtime_env().empty()) v = v * 1000003 ^ h(spec.runtime_env());
  // Tasks placed differently (SPREAD, a node) never share a lease request.
  if (spec.has_scheduling_strategy()) v = v * 1000003 ^ h(spec.scheduling_strategy().SerializeAsString());
  return v;
}

void NormalTaskSubmitter::Submit(rpc::TaskSpec spec) { Submit(std::make_shared<const rpc::TaskSpec>(std::move(spec))); }

void NormalTaskSubmitter::Submit(std::shared_ptr<const rpc::TaskSpec> shared) {
  const rpc::TaskSpec& spec = *shared;
  uint64_t cls_id = SchedulingClassOf(spec);
  std::lock_guard<std::mutex> lock(mu_);
  Class& cls = classes_[cls_id];
  if (cls.resources.empty() && cls.queue.empty() && cls.workers.empty()) {
    cls.resources.insert(spec.required_resources().begin(), spec.required_resources().end());
    cls.fail_on_infeasible = spec.fail_on_infeasible();
    cls.runtime_env = spec.runtime_env();
    cls.strategy = spec.scheduling_strategy();
    for (const auto& [k, v] : cls.resources) cls.in_group |= k.find("_group_") != std::string::npos;
  }
  cls.queue.push_back(std::move(shared));
  DispatchLocked(cls_id, cls);
}

void NormalTaskSubmitter::DispatchLocked(uint64_t cls_id, Class& cls) {
  // Pushes to one worker in this call leave in one write (corked until the end).
  std::vector<rpc::ConnectionPtr> corked;
  auto push_front_task = [&](const std::shared_ptr<Leased>& w) {
    if (w->in_flight > 0 && std::find(corked.begin(), corked.end(), w->conn) == corked.end()) {
      w->conn->Cork();
      corked.push_back(w->conn);
    }
    std::shared_ptr<const rpc::TaskSpec> spec = std::move(cls.queue.front());
    cls.queue.pop_front();
    PushLocked(cls_id, w, std::move(spec));
  };
  // A held idle worker that went away meanwhile takes nothing (its lease ended with it).
  cls.workers.erase(std::remove_if(cls.workers.begin(), cls.workers.end(),
                                   [](const std::shared_ptr<Leased>& w) {
                                     return w->in_flight == 0 && (w->dead || w->conn->closed());
                                   }),
                    cls.workers.end());
  // Idle workers first, one task each.
  for (auto& w : cls.workers) {
    if (cls.queue.empty()) break;
    if (!w->dead && w->in_flight == 0) push_front_task(w);
  }
  // Then, round by round, one more task per worker, for the tasks the pending
  // lease requests would not take anyway (a few tasks wait for a worker of
  // their own instead of queueing). A worker is topped up only once half its
  // pipeline has drained, so pushes (and the worker's wake-ups) come in batches.
  const int64_t max_in_flight = Config::Get().max_tasks_in_flight_per_worker();
  std::vector<Leased*> refill;
  for (auto& w : cls.workers) {
    if (!w->dead && w->in_flight > 0 && w->in_flight <= std::max<int64_t>(1, max_in_flight / 2)) {
      refill.push_back(w.get());
    }
  }
  for (bool pushed = !refill.empty(); pushed;) {
    pushed = false;
    for (auto& w : cls.workers) {
      if (static_cast<int64_t>(cls.queue.size()) <= cls.pending_lease_requests) break;
      if (std::find(refill.begin(), refill.end(), w.get()) == refill.end()) continue;
      if (!MayPushLocked(cls, *w, *cls.queue.front())) continue;
      push_front_task(w);
      pushed = true;
    }
  }
  for (const auto& conn : corked) conn->Uncork();
  // Ask for more workers while tasks wait: at most one request per queued task.
  int64_t want = std::min<int64_t>(static_cast<int64_t>(cls.queue.size()),
                                   Config::Get().max_pending_lease_requests());
  while (cls.pending_lease_requests < want) {
    cls.pending_lease_requests++;
    RequestLeaseLocked(cls_id, cls, raylet_, false);
  }
}

bool NormalTaskSubmitter::MayPushLocked(const Class& cls, const Leased& w, const rpc::TaskSpec& spec) {
  if (w.in_flight == 0) return true;
  // See the class comment: a task without retries runs alone, and a worker
  // that will exit after max_calls would only hand queued tasks back.
  if (spec.max_retries() == 0 || spec.max_calls() > 0) return false;
  for (const auto& p : w.order) {
    if (p.spec->max_retries() == 0) return false;  // it runs with nothing queued behind it
  }
  if (cls.unpipelined_until_us != 0 && SteadyMicros() < cls.unpipelined_until_us) return false;
  return w.in_flight < Config::Get().max_tasks_in_flight_per_worker();
}

void NormalTaskSubmitter::RequestLeaseLocked(uint64_t cls_id, const Class& cls, const rpc::ConnectionPtr& raylet,
                                             bool grant_or_reject) {
  rpc::RequestWorkerLeaseRequest req;
  for (const auto& [k, v] : cls.resources) (*req.mutable_resources())[k] = v;
  req.set_scheduling_class(cls_id);
  if (!cls.queue.empty()) {
    req.set_task_name(cls.queue.front()->name());
    req.set_job_id(cls.queue.front()->job_id());
  }
  req.set_fail_on_infeasible(cls.fail_on_infeasible || Config::Get().fail_on_infeasible() != 0);
  if (!cls.runtime_env.empty()) req.set_runtime_env(cls.runtime_env);
  *req.mutable_scheduling_strategy() = cls.strategy;
  req.set_grant_or_reject(grant_or_reject);
  if (!grant_or_reject && locality_ && !cls.queue.empty()) {
    std::string node = locality_(*cls.queue.front());
    if (!node.empty() && node != self_.node_id()) req.set_preferred_node_id(node);
  }
  raylet->SendRequest(rpc::REQUEST_WORKER_LEASE, req, [this, cls_id, raylet](const Status& s, rpc::Frame&& f) {
    OnLeaseReply(cls_id, raylet, s, f);
  });
}

void NormalTaskSubmitter::PushLocked(uint64_t cls_id, const std::shared_ptr<Leased>& w,
                                     std::shared_ptr<const rpc::TaskSpec> shared) {
  const rpc::TaskSpec& spec = *shared;
  TaskID task = TaskID::FromBinary(spec.task_id());
  // The worker runs its tasks in order: the oldest pushed one is running. One
  // queued behind it may come back unrun, so it stays PENDING_NODE_ASSIGNMENT
  // until it is the oldest (OnTaskReply).
  if (w->in_flight == 0) tasks_->SetState(task, TaskState::kRunning);
  w->in_flight++;
  w->idle_since_us = 0;
  running_[task] = w;
  std::string name = spec.name();
  auto on_reply = [this, cls_id, w, task, name](const Status& s, rpc::Frame&& f) {
    OnTaskReply(cls_id, w, task, name, s, f);
  };
  w->order.push_back(Pushed{task, shared});
  if (w->gpu_ids.empty() && spec.gpu_ids_size() == 0) {
    w->conn->SendRequestFrame(rpc::PUSH_TASK, PushTaskFrame(spec), std::move(on_reply));
    return;
  }
  rpc::PushTaskRequest req;
  *req.mutable_task() = spec;  // a copy: the TaskManager may keep the spec for retries
  req.mutable_task()->clear_gpu_ids();
  for (int32_t id : w->gpu_ids) req.mutable_task()->add_gpu_ids(id);
  w->conn->SendRequest(rpc::PUSH_TASK, req, std::move(on_reply));
}

std::shared_ptr<const rpc::TaskSpec> NormalTaskSubmitter::TakePushedLocked(Leased& w, const TaskID& task) {
  std::shared_ptr<const rpc::TaskSpec> spec;
  for (auto it = w.order.begin(); it != w.order.end(); ++it) {
    if (it->task != task) continue;
    spec = std::move(it->spec);
    w.order.erase(it);
    break;
  }
  return spec;
}

void NormalTaskSubmitter::OnLeaseReply(uint64_t cls_id, const rpc::ConnectionPtr& raylet, const Status& s,
                                       const rpc::Frame& frame) {
  rpc::RequestWorkerLeaseReply reply;
  std::shared_ptr<Leased> w;
  const bool parsed = s.ok() && reply.ParseFromString(frame.payload);
  if (parsed && !reply.retry_at_raylet().empty()) {
    // Spillback: that node should run it. Ask its raylet, which grants or queues.
    // A raylet that was alive in the sender's view: it listens already, so a
    // refusal means it just died; fall back to the local raylet quickly.
    auto conn = pool_->Get(reply.retry_at_raylet(), 200);
    std::lock_guard<std::mutex> lock(mu_);
    Class& cls = classes_[cls_id];
    if (!conn.ok()) {
      LUMOS_LOG(Debug) << "cannot reach the raylet of node " << NodeID::FromBinary(reply.retry_at_node_id()).Hex()
                         << " (" << conn.status().message() << "); asking the local raylet again";
    } else if (registered_raylets_.insert(conn.value()).second) {
      for (auto it = registered_raylets_.begin(); it != registered_raylets_.end();) {
        it = (*it)->closed() ? registered_raylets_.erase(it) : std::next(it);
      }
      // First use of that raylet: register as a remote owner (ordered before the lease request).
      rpc::RegisterClientRequest reg;
      reg.set_worker_id(self_.worker_id());
      reg.set_is_driver(true);
      reg.set_remote_owner(true);
      reg.set_pid(getpid());
      reg.set_endpoint(self_.endpoint());
      reg.set_runtime("python");
      conn.value()->SendRequest(rpc::REGISTER_CLIENT, reg, [](const Status& s, rpc::Frame&&) {
        if (!s.ok()) LUMOS_LOG(Warning) << "registration at another node's raylet failed: " << s.ToString();
      });
    }
    RequestLeaseLocked(cls_id, cls, conn.ok() ? conn.value() : raylet_, true);
    return;
  }
  if (parsed && reply.rejected_reason().empty()) {
    // A granted worker listens already: a refusal means it just died (one
    // attempt, not the pool's 2 s of retries on this event-loop callback).
    auto conn = pool_->Get(reply.worker_address().endpoint(), 0);
    if (conn.ok()) {
      w = std::make_shared<Leased>();
      w->lease_id = reply.lease_id();
      w->raylet = raylet;
      w->address = reply.worker_address();
      w->gpu_ids.assign(reply.gpu_ids().begin(), reply.gpu_ids().end());
      w->conn = conn.value();
    } else {
      LUMOS_LOG(Warning) << "cannot reach leased worker: " << conn.status().ToString();
      rpc::ReturnWorkerRequest ret;
      ret.set_lease_id(reply.lease_id());
      ret.set_disconnect_worker(true);
      raylet->SendOneway(rpc::RETURN_WORKER, ret);
    }
  } else if (!s.ok() && s.code() != StatusCode::kDisconnected) {
    LUMOS_LOG(Warning) << "worker lease request failed: " << s.ToString();
  }
  // Refused for good (fail_on_infeasible, or its placement group was
  // removed): every queued task of the class fails the same way.
  // An error answer of the local raylet (a malformed request) would be the
  // same on every retry: fail the class's tasks with it instead of asking again.
  const bool raylet_error = !s.ok() && s.code() != StatusCode::kDisconnected && raylet == raylet_;
  const bool refused = !w && (reply.infeasible() || reply.placement_group_removed() || raylet_error);
  std::vector<TaskID> doomed;
  if (refused) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      Class& cls = classes_[cls_id];
      cls.pending_lease_requests--;
      for (const auto& spec : cls.queue) doomed.push_back(TaskID::FromBinary(spec->task_id()));
      cls.queue.clear();
    }
    const char* meta = reply.placement_group_removed() ? kMetaPlacementGroupRemoved : kMetaSystemError;
    const std::string why = raylet_error ? "the raylet refused the worker lease: " + s.message()
                                         : reply.rejected_reason();
    for (const auto& task : doomed) tasks_->FailTask(task, meta, why);
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  Class& cls = classes_[cls_id];
  cls.pending_lease_requests--;
  if (!w) {
    // No worker came of it: another node's raylet went away before granting,
    // the granted worker died before we reached it, or the request failed.
    // Ask again (the local raylet's own loss is handled by the core worker);
    // otherwise a class whose last lease request ended so would wait forever.
    if (!raylet_->closed()) DispatchLocked(cls_id, cls);
    return;
  }
  cls.workers.push_back(w);
  if (cls.queue.empty()) {
    ReturnLeaseLocked(cls, w, false);
    return;
  }
  DispatchLocked(cls_id, cls);
}

void NormalTaskSubmitter::OnTaskReply(uint64_t cls_id, const std::shared_ptr<Leased>& w, const TaskID& task,
                                      const std::string& name, const Status& s, const rpc::Frame& frame) {
  rpc::PushTaskReply reply;
  const bool answered = s.ok() && reply.ParseFromString(frame.payload);
  const bool exiting = answered && reply.worker_exiting();
  // Came back unrun: returned by the worker, or queued behind the task that
  // was running when the connection was lost (only that one is charged).
  bool unrun = answered && reply.not_started();
  if (!s.ok() && w->conn->closed()) {
    std::lock_guard<std::mutex> lock(mu_);
    if (w->lost_running.IsNil()) w->lost_running = w->order.empty() ? task : w->order.front().task;
    unrun = w->lost_running != task;
  }
  rpc::TaskSpec retry;
  bool resubmit = false;
  if (unrun) {
    if (tasks_->IsCancelled(task)) {
      tasks_->FailTask(task, kMetaTaskCancelled, "task '" + name + "' was cancelled before it ran");
      unrun = false;
    }
  } else if (answered) {
    if (reply.is_application_error() && reply.is_retryable_error() && !reply.was_cancelled() &&
        tasks_->RetryTask(task, &retry, "TASK_EXECUTION_EXCEPTION")) {
      resubmit = true;  // an exception the task asked to retry
    } else {
      tasks_->CompleteTask(task, reply);
    }
  } else if (tasks_->IsCancelled(task)) {
    tasks_->FailTask(task, kMetaTaskCancelled, "task '" + name + "' was cancelled (its worker was killed)");
  } else {
    bool in_group;
    {
      std::lock_guard<std::mutex> lock(mu_);
      in_group = classes_[cls_id].in_group;
    }
    resubmit = OnWorkerLost(in_group, task, name, w->raylet, w->address, s.ok() ? "unparsable reply" : s.message(),
                            &retry);
  }
  std::lock_guard<std::mutex> lock(mu_);
  running_.erase(task);
  Class& cls = classes_[cls_id];
  std::shared_ptr<const rpc::TaskSpec> pushed = TakePushedLocked(*w, task);
  if (unrun && pushed) {
    cls.queue.push_front(std::move(pushed));
    // Returned from behind a slow task: this class's tasks are not all short.
    if (answered && !exiting) cls.unpipelined_until_us = SteadyMicros() + 1000000;
  }
  if (resubmit) cls.queue.push_back(std::make_shared<const rpc::TaskSpec>(std::move(retry)));
  w->in_flight--;
  if (!w->order.empty()) tasks_->SetState(w->order.front().task, TaskState::kRunning);
  if (!s.ok() || exiting || w->conn->closed()) {
    w->dead = true;  // the raylet sees the worker go and ends the lease itself
  }
  if (w->dead) {
    if (w->in_flight == 0) {
      cls.workers.erase(std::remove(cls.workers.begin(), cls.workers.end(), w), cls.workers.end());
    }
    DispatchLocked(cls_id, cls);
    return;
  }
  if (cls.queue.empty()) {
    if (w->in_flight == 0) IdleLeaseLocked(cls, w);
    return;
  }
  DispatchLocked(cls_id, cls);
}

void NormalTaskSubmitter::IdleLeaseLocked(Class& cls, const std::shared_ptr<Leased>& w) {
  const int64_t hold_us = Config::Get().idle_lease_hold_us();
  if (io_ == nullptr || hold_us <= 0) {
    ReturnLeaseLocked(cls, w, false);
    return;
  }
  w->idle_since_us = SteadyMicros();
  if (!reaper_armed_) ArmReaperLocked(hold_us);
}

void NormalTaskSubmitter::ArmReaperLocked(int64_t delay_us) {
  if (!reaper_) reaper_ = std::make_unique<asio::steady_timer>(*io_);
  reaper_armed_ = true;
  reaper_->expires_after(std::chrono::microseconds(delay_us));
  reaper_->async_wait([this](const asio::error_code& ec) {
    if (!ec) ReapIdleLeases();
  });
}

void NormalTaskSubmitter::ReapIdleLeases() {
  std::lock_guard<std::mutex> lock(mu_);
  reaper_armed_ = false;
  const int64_t hold_us = Config::Get().idle_lease_hold_us();
  const int64_t now = SteadyMicros();
  int64_t next_due = -1;  // the earliest idle lease still held
  for (auto& [id, cls] : classes_) {
    auto workers = cls.workers;  // ReturnLeaseLocked edits the list
    for (auto& w : workers) {
      if (w->dead || w->in_flight > 0 || w->idle_since_us == 0) continue;
      const int64_t due = w->idle_since_us + hold_us;
      if (due <= now) {
        ReturnLeaseLocked(cls, w, false);
      } else if (next_due < 0 || due < next_due) {
        next_due = due;
      }
    }
  }
  if (next_due >= 0) ArmReaperLocked(next_due - now);
}

bool NormalTaskSubmitter::OnWorkerLost(bool in_group, const TaskID& task, const std::string& name,
                                       const rpc::ConnectionPtr& raylet, const rpc::Address& worker, const std::string& why,
                                       rpc::TaskSpec* retry) {
  // Outside placement groups a retry goes out at once (no round trip).
  if (!in_group && tasks_->RetryTask(task, retry)) return true;
  // Ask the raylet how the worker ended (exit code, signal; or killed
  // because the group was removed) for the decision and the message.
  rpc::GetWorkerExitRequest q;
  q.set_worker_id(worker.worker_id());
  TaskManager* tasks = tasks_;
  const bool remote = raylet && raylet != raylet_;
  const std::string node_hex = NodeID::FromBinary(worker.node_id()).Hex();
  (raylet ? raylet : raylet_)->SendRequest(
      rpc::GET_WORKER_EXIT, q,
      [this, tasks, task, name, why, in_group, remote, node_hex](const Status& qs, rpc::Frame&& f) {
        rpc::GetWorkerExitReply r;
        bool known = qs.ok() && r.ParseFromString(f.payload);
        if (known && r.placement_group_removed()) {
          tasks->FailTask(task, kMetaPlacementGroupRemoved,
                          "Task '" + name + "' was " + r.description() +
                              " while it ran; it is not retried, since the group's resources no "
                              "longer exist.");
          return;
        }
        rpc::TaskSpec again;
        if (in_group && tasks->RetryTask(task, &again)) {
          Submit(std::move(again));
          return;
        }
        if (remote && !qs.ok()) {
          // Neither the worker nor its raylet answers: the node went away.
          tasks->FailTask(task, kMetaNodeDied,
                          "Task '" + name + "' failed because the node running it died (node " + node_hex +
                              ": " + why + "), and the task has no retries left (max_retries).");
          return;
        }
        std::string how = known && !r.description().empty()
                              ? "the worker process exited with " + r.description()
                              : "the worker disconnected: " + why;
        tasks->FailTask(task, kMetaWorkerDied,
                        "The worker running task '" + name + "' died before it finished (" + how +
                            "), and the task has no retries left (max_retries). Its logs are under the "
                            "session's logs/ directory.");
      },
      2000);
  return false;
}

bool NormalTaskSubmitter::CancelQueued(const TaskID& task) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, cls] : classes_) {
    for (auto it = cls.queue.begin(); it != cls.queue.end(); ++it) {
      if ((*it)->task_id() == task.Binary()) {
        cls.queue.erase(it);
        return true;
      }
    }
  }
  return false;
}

bool NormalTaskSubmitter::CancelRunning(const TaskID& task, bool force, bool recursive) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = running_.find(task);
  if (it == running_.end()) return false;
  const auto& w = it->second;
  // A task queued behind the running one is answered as cancelled by the
  // worker without running; killing the worker would take the running one too.
  if (force && !w->order.empty() && w->order.front().task != task) force = false;
  if (force) {
    rpc::ReturnWorkerRequest ret;
    ret.set_lease_id(w->lease_id);
    ret.set_disconnect_worker(true);
    w->raylet->SendOneway(rpc::RETURN_WORKER, ret);
    w->dead = true;
  } else {
    rpc::CancelTaskRequest req;
    req.set_task_id(task.Binary());
    req.set_recursive(recursive);
    w->conn->SendOneway(rpc::CANCEL_TASK, req);
  }
  return true;
}

void NormalTaskSubmitter::ReturnLeaseLocked(Class& cls, const std::shared_ptr<Leased>& w, bool disconnect) {
  rpc::ReturnWorkerRequest ret;
  ret.set_lease_id(w->lease_id);
  ret.set_disconnect_worker(disconnect);
  w->raylet->SendOneway(rpc::RETURN_WORKER, ret);
  cls.workers.erase(std::remove(cls.workers.begin(), cls.workers.end(), w), cls.workers.end());
}

void NormalTaskSubmitter::ReturnAllLeases() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, cls] : classes_) {
    auto workers = cls.workers;
    for (auto& w : workers) ReturnLeaseLocked(cls, w, false);
  }
}

}  // namespace lumos::core
