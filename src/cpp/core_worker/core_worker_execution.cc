// CoreWorker, worker side: running the tasks pushed to this process
// (RunTaskLoop, ExecuteTask, replies, cancellation). The rest of CoreWorker is
// in core_worker.cc.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "common/config.h"
#include "common/logging.h"
#include "common/steady_clock.h"
#include "core_worker/core_worker.h"

namespace lumos::core {

Status CoreWorker::RunTaskLoop() {
  using Clock = std::chrono::steady_clock;
  while (true) {
    std::pair<rpc::ConnectionPtr, rpc::Frame> item;
    bool more_queued = false;
    {
      // Spin briefly before sleeping: the next task often follows right away.
      uint64_t seen = queue_version_.load(std::memory_order_acquire);
      auto spin_until = Clock::now() + std::chrono::microseconds(Config::Get().spin_wait_us());
      while (Clock::now() < spin_until && queue_version_.load(std::memory_order_acquire) == seen &&
             !exit_requested_) {
      }
      std::unique_lock<std::mutex> lock(queue_mu_);
      const auto idle_since = Clock::now();
      while (task_queue_.empty() && !exit_requested_) {
        // Retiring (a draining node): owners saw worker_exiting in the last
        // replies and push nothing more; a second of quiet makes sure.
        if (retiring_ && Clock::now() - idle_since >= std::chrono::seconds(1)) return Status::OK();
        queue_cv_.wait_for(lock, std::chrono::milliseconds(100));
        if (options_.check_signals && task_queue_.empty()) {
          lock.unlock();
          bool stop = options_.check_signals();
          lock.lock();
          if (stop) return Status::Interrupted("task loop interrupted");
        }
      }
      if (task_queue_.empty()) {  // exit requested while idle
        lock.unlock();
        ReturnDirectQueue();
        return Status::OK();
      }
      item = std::move(task_queue_.front());
      task_queue_.pop_front();
      more_queued = !task_queue_.empty();
    }
    // A burst of pipelined tasks: batch their replies into one write per
    // connection instead of one syscall (and peer wake-up) per task.
    if (more_queued) {
      std::lock_guard<std::mutex> lock(cork_mu_);
      if (corked_.insert(item.first).second) item.first->Cork();
    }
    ExecuteTask(item.first, item.second);
    normal_task_start_us_.store(0, std::memory_order_release);
    bool idle;
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      idle = task_queue_.empty();
    }
    if (idle || exit_requested_) FlushReplies();
    if (exit_requested_) {
      // Tasks that arrived meanwhile go back to their owners unrun.
      std::deque<std::pair<rpc::ConnectionPtr, rpc::Frame>> unrun;
      {
        std::lock_guard<std::mutex> lock(queue_mu_);
        unrun.swap(task_queue_);
      }
      ReturnUnrun(std::move(unrun), true);
      ReturnDirectQueue();
      return Status::OK();
    }
  }
}

void CoreWorker::ExecuteTask(const rpc::ConnectionPtr& conn, const rpc::Frame& frame) {
  rpc::PushTaskRequest req;
  uint64_t rid = frame.header.request_id;
  if (!req.ParseFromString(frame.payload)) {
    conn->SendError(rid, rpc::PUSH_TASK, Status::InvalidArgument("unparsable task"));
    return;
  }
  const int64_t start_us = task_events_ ? task_events_->RecordExecutionStart(req.task()) : 0;
  auto replier = std::make_shared<TaskReplier>(
      conn, rid, std::move(*req.mutable_task()),
      [this, start_us](const rpc::TaskSpec& spec, rpc::PushTaskReply* reply) {
        BeforeReply(spec, reply);
        if (start_us != 0) task_events_->RecordExecutionEnd(spec, start_us, reply);
      });
  const rpc::TaskSpec& spec = replier->spec();
  if (spec.actor_task().actor_id().empty() && spec.actor_creation().actor_id().empty()) {
    normal_task_seq_.fetch_add(1, std::memory_order_relaxed);
    normal_task_start_us_.store(SteadyMicros(), std::memory_order_release);
  }
  // Items of a streaming generator must reach the caller as they are made,
  // not when the batch of corked replies is written.
  if (spec.streaming_returns()) FlushReplies();
  {
    std::lock_guard<std::mutex> lock(task_mu_);
    current_task_ = TaskID::FromBinary(spec.task_id());
    log_sink_ = conn;
  }
  std::vector<std::shared_ptr<RayObject>> args(spec.args_size());
  std::vector<ObjectID> ref_ids;
  std::vector<rpc::Address> ref_owners;
  std::vector<int> ref_pos;
  for (int i = 0; i < spec.args_size(); i++) {
    const auto& a = spec.args(i);
    if (a.has_ref()) {
      ref_ids.push_back(ObjectID::FromBinary(a.ref().object_id()));
      ref_owners.push_back(a.ref().owner());
      ref_pos.push_back(i);
    } else {
      args[i] = RayObject::FromInline(a.value());
    }
  }
  Status s;
  if (!ref_ids.empty()) {
    for (size_t j = 0; j < ref_ids.size(); j++) refs_.AddLocalRef(ref_ids[j], &ref_owners[j]);
    std::vector<std::shared_ptr<RayObject>> fetched;
    SetPullPriority(2);  // task arguments wait behind gets and waits
    s = Get(ref_ids, ref_owners, -1, &fetched);
    SetPullPriority(0);
    if (s.ok()) {
      for (size_t j = 0; j < ref_pos.size(); j++) args[ref_pos[j]] = fetched[j];
    }
  }
  if (s.ok()) s = options_.executor(spec, args, replier);
  for (const auto& id : ref_ids) RemoveLocalRef(id);
  if (!s.ok() && !replier->finished()) {
    rpc::PushTaskReply reply;
    for (int i = 0; i < spec.num_returns(); i++) {
      auto* r = reply.add_return_objects();
      r->set_object_id(ObjectID::FromIndex(TaskID::FromBinary(spec.task_id()), i + 1).Binary());
      r->mutable_value()->set_metadata(kMetaSystemError);
      r->mutable_value()->set_data("system error while running task '" + spec.name() + "': " + s.ToString());
    }
    replier->Finish(std::move(reply));
  }
}

bool CoreWorker::IsNormalTaskPush(const rpc::Frame& frame) {
  rpc::PushTaskRequest push;
  if (!push.ParseFromString(frame.payload)) return false;  // answered by ExecuteTask's parse error
  return push.task().actor_task().actor_id().empty() && push.task().actor_creation().actor_id().empty();
}

void CoreWorker::EnqueueTask(const rpc::ConnectionPtr& conn, rpc::Frame&& frame) {
  if (IsDirectCall(frame)) {
    EnqueueDirect(conn, std::move(frame));
    return;
  }
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    task_queue_.emplace_back(conn, std::move(frame));
    queue_version_.fetch_add(1, std::memory_order_release);
  }
  queue_cv_.notify_one();
  ArmQueuedTaskReturn();
}

void CoreWorker::ArmQueuedTaskReturn() {
  // Armed at most once at a time, and only while tasks are queued: one timer
  // per queued_task_return_ms of pipelined work, not one per task.
  if (return_timer_armed_) return;
  if (!return_timer_) return_timer_ = std::make_unique<asio::steady_timer>(loop_->io());
  const int64_t limit_us = Config::Get().queued_task_return_ms() * 1000;
  const uint64_t seq = normal_task_seq_.load(std::memory_order_acquire);
  const int64_t start = normal_task_start_us_.load(std::memory_order_acquire);
  const int64_t now = SteadyMicros();
  // Nothing running yet (the loop has not taken the task): look again later.
  const int64_t due = (start != 0 ? start : now) + limit_us;
  return_timer_->expires_after(std::chrono::microseconds(std::max<int64_t>(0, due - now)));
  return_timer_armed_ = true;
  return_timer_->async_wait([this, seq](const asio::error_code& ec) {
    return_timer_armed_ = false;
    if (!ec) ReturnQueuedTasks(seq);
  });
}

void CoreWorker::ReturnQueuedTasks(uint64_t seq) {
  std::deque<std::pair<rpc::ConnectionPtr, rpc::Frame>> unrun;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (task_queue_.empty()) return;  // the next push arms the timer again
    const int64_t start = normal_task_start_us_.load(std::memory_order_acquire);
    const bool stuck = normal_task_seq_.load(std::memory_order_acquire) == seq && start != 0 &&
                       SteadyMicros() - start >= Config::Get().queued_task_return_ms() * 1000;
    if (stuck) {
      // Only normal tasks go back (an actor's calls stay with the actor).
      std::deque<std::pair<rpc::ConnectionPtr, rpc::Frame>> keep;
      for (auto& item : task_queue_) (IsNormalTaskPush(item.second) ? unrun : keep).push_back(std::move(item));
      task_queue_.swap(keep);
    }
  }
  if (unrun.empty()) {
    ArmQueuedTaskReturn();  // tasks move on: time the one running now
    return;
  }
  FlushReplies();  // the answers of the tasks before it, batched meanwhile
  ReturnUnrun(std::move(unrun), false);
}

void CoreWorker::ReturnUnrun(std::deque<std::pair<rpc::ConnectionPtr, rpc::Frame>> items, bool exiting) {
  rpc::PushTaskReply reply;
  reply.set_not_started(true);
  reply.set_worker_exiting(exiting);
  for (auto& [conn, frame] : items) {
    if (IsNormalTaskPush(frame)) {
      conn->SendReply(frame.header.request_id, rpc::PUSH_TASK, reply);
    } else {
      // An actor call fails with its actor (the caller's actor path decides on retries).
      conn->SendError(frame.header.request_id, rpc::PUSH_TASK, Status::WorkerDied("worker is exiting"));
    }
  }
}

void CoreWorker::RecordProfileEvent(const TaskID& task, int32_t attempt, std::string name, int64_t start_us,
                                    int64_t end_us, std::string extra_json) {
  if (task_events_) {
    task_events_->RecordProfileEvent(task, attempt, std::move(name), start_us, end_us, std::move(extra_json));
  }
}

void CoreWorker::BeforeReply(const rpc::TaskSpec& spec, rpc::PushTaskReply* reply) {
  // Returns in the object store are in this node's: the owner may be elsewhere.
  for (auto& ret : *reply->mutable_return_objects()) {
    if (ret.in_plasma()) ret.set_node_id(node_id_.Binary());
  }
  PreregisterCaller(spec, reply);
  if (spec.max_calls() > 0) {
    std::lock_guard<std::mutex> lock(task_mu_);
    if (++calls_per_function_[spec.function().function_id()] >= spec.max_calls()) {
      RequestExit("max_calls reached");
    }
  }
  // The caller must not push more tasks to a worker that is leaving (the task
  // called sys.exit, or max_calls was reached).
  if (exit_requested_ || retiring_) reply->set_worker_exiting(true);
  if (!spec.actor_task().actor_id().empty() || !spec.actor_creation().actor_id().empty()) return;
  std::lock_guard<std::mutex> lock(task_mu_);
  if (current_task_ == TaskID::FromBinary(spec.task_id())) current_task_ = TaskID::Nil();
}

void CoreWorker::HandleCancelTask(const rpc::Frame& frame) {
  rpc::CancelTaskRequest req;
  if (!req.ParseFromString(frame.payload)) return;
  // Still queued here: answer it as cancelled without running it.
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    for (auto* queue : {&task_queue_, &direct_queue_}) {
      for (auto it = queue->begin(); it != queue->end(); ++it) {
        rpc::PushTaskRequest push;
        if (!push.ParseFromString(it->second.payload) || push.task().task_id() != req.task_id()) continue;
        rpc::PushTaskReply reply;
        for (int i = 0; i < std::max(1, push.task().num_returns()); i++) {
          auto* r = reply.add_return_objects();
          r->set_object_id(ObjectID::FromIndex(TaskID::FromBinary(req.task_id()), i + 1).Binary());
          r->mutable_value()->set_metadata(kMetaTaskCancelled);
          r->mutable_value()->set_data("task '" + push.task().name() + "' was cancelled before it ran");
        }
        reply.set_was_cancelled(true);
        reply.set_is_application_error(true);
        it->first->SendReply(it->second.header.request_id, rpc::PUSH_TASK, reply);
        queue->erase(it);
        return;
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(task_mu_);
    cancel_target_ = req.task_id();
  }
  // The Python handler raises KeyboardInterrupt in the task if it is still the
  // one running (or cancels the matching asyncio call of an async actor).
  ::kill(getpid(), SIGUSR1);
  if (req.recursive()) {
    for (const auto& child : tasks_->PendingTaskIds()) {
      Status s = CancelTask(ObjectID::FromIndex(child, 1), false, true);
      (void)s;
    }
  }
}

void CoreWorker::FlushReplies() {
  std::lock_guard<std::mutex> lock(cork_mu_);
  for (const auto& c : corked_) c->Uncork();
  corked_.clear();
}

std::string CoreWorker::TakeCancelTarget() {
  std::lock_guard<std::mutex> lock(task_mu_);
  std::string out;
  out.swap(cancel_target_);
  return out;
}

void CoreWorker::RequestExit(const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    exit_requested_ = true;
    exit_reason_ = reason;
  }
  queue_cv_.notify_all();
  direct_cv_.notify_all();
}

}  // namespace lumos::core
