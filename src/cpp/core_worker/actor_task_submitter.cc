#include "core_worker/actor_task_submitter.h"

#include <limits>
#include <thread>

#include "common/logging.h"
#include "core_worker.pb.h"
#include "core_worker/push_task_frame.h"

namespace lumos::core {

namespace {
using State = rpc::ActorTableData;

std::string DeathMessage(const rpc::ActorTableData& d) {
  std::string cause = d.death_cause().empty() ? "unknown cause" : d.death_cause();
  return "The actor " + d.class_name() + " (id " + WorkerID::FromBinary(d.actor_id()).Hex() +
         ") died: " + cause;
}
}  // namespace

bool ActorTaskSubmitter::AddActor(const std::string& actor_id, int max_task_retries) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = actors_.try_emplace(actor_id);
  if (inserted) it->second.data.set_actor_id(actor_id);
  // The most retries any handle asked for wins; -1 (retry without limit) beats every count.
  int& have = it->second.max_task_retries;
  if (max_task_retries < 0) {
    have = -1;
  } else if (have >= 0 && max_task_retries > have) {
    have = max_task_retries;
  }
  return inserted;
}

uint64_t ActorTaskSubmitter::AdmitLocked(Actor& a, const rpc::TaskSpec& spec, bool* queued,
                                         rpc::ActorTableData* dead) {
  uint64_t seq = a.next_seq++;
  *queued = !(a.known && a.data.state() == State::DEAD);
  if (!*queued) {
    *dead = a.data;
    return seq;
  }
  Call c;
  c.task = TaskID::FromBinary(spec.task_id());
  // A method's or call's own max_task_retries beats the actor's.
  c.retries_left = spec.actor_task().has_max_task_retries() ? spec.actor_task().max_task_retries()
                                                            : a.max_task_retries;
  a.queue.emplace(seq, std::move(c));
  return seq;
}

void ActorTaskSubmitter::FailDead(const TaskID& task, const rpc::ActorTableData& dead) {
  if (!dead.creation_error().empty()) {
    tasks_->FailTask(task, kMetaActorInitFailed, dead.creation_error());
  } else {
    tasks_->FailTask(task, kMetaActorDied, DeathMessage(dead));
  }
}

uint64_t ActorTaskSubmitter::Enqueue(const std::string& actor_id, const rpc::TaskSpec& spec) {
  uint64_t seq;
  bool queued;
  rpc::ActorTableData dead;
  {
    std::lock_guard<std::mutex> lock(mu_);
    seq = AdmitLocked(actors_[actor_id], spec, &queued, &dead);
  }
  if (!queued) FailDead(TaskID::FromBinary(spec.task_id()), dead);
  return seq;
}

void ActorTaskSubmitter::Resolved(const std::string& actor_id, uint64_t seq, rpc::TaskSpec spec) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = actors_.find(actor_id);
  if (it == actors_.end()) return;
  auto q = it->second.queue.find(seq);
  if (q == it->second.queue.end()) return;  // failed meanwhile
  spec.mutable_actor_task()->set_sequence_number(seq);
  q->second.spec = std::move(spec);
  q->second.resolved = true;
  tasks_->SetState(q->second.task, TaskState::kPendingNodeAssignment);
  SendLocked(actor_id, it->second);
}

void ActorTaskSubmitter::SubmitResolved(const std::string& actor_id, rpc::TaskSpec spec) {
  const TaskID task = TaskID::FromBinary(spec.task_id());
  bool queued;
  rpc::ActorTableData dead;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Actor& a = actors_[actor_id];
    const uint64_t seq = AdmitLocked(a, spec, &queued, &dead);
    if (queued) {
      Call& call = a.queue.find(seq)->second;
      spec.mutable_actor_task()->set_sequence_number(seq);
      call.spec = std::move(spec);
      call.resolved = true;
      SendLocked(actor_id, a);
      // Not sent (the actor is not ALIVE yet, or calls before it wait):
      // it waits for the actor, as a resolved call does.
      if (a.queue.count(seq)) tasks_->SetState(task, TaskState::kPendingNodeAssignment);
      return;
    }
  }
  FailDead(task, dead);
}

void ActorTaskSubmitter::SendLocked(const std::string& actor_id, Actor& a) {
  if (!a.known || a.data.state() != State::ALIVE) return;
  if (!a.conn || a.conn->closed() || a.conn_incarnation != a.data.num_restarts()) {
    // The connection to this very incarnation dropped: its worker most likely
    // died, and its socket now refuses. One attempt only -- retrying refused
    // connects for the pool's usual 2 s here (under mu_, on the event loop)
    // stalled every call and task of this process until the GCS said so.
    const bool dropped = a.conn && a.conn_incarnation == a.data.num_restarts();
    auto conn = dropped ? pool_->Get(a.data.address().endpoint(), 0) : pool_->Get(a.data.address().endpoint());
    if (!conn.ok()) {
      LUMOS_LOG(Debug) << "cannot reach actor yet: " << conn.status().ToString();
      return;  // the GCS will tell us when it died or moved
    }
    a.conn = conn.value();
    a.conn_incarnation = a.data.num_restarts();
  }
  while (!a.queue.empty() && a.queue.begin()->second.resolved) {
    auto node = a.queue.extract(a.queue.begin());
    uint64_t seq = node.key();
    Call& call = node.mapped();
    call.spec.mutable_actor_task()->set_incarnation(a.conn_incarnation);
    std::string frame = PushTaskFrame(call.spec);
    int64_t inc = a.conn_incarnation;
    tasks_->SetState(call.task, TaskState::kSubmittedToWorker);
    a.in_flight.insert(std::move(node));
    a.conn->SendRequestFrame(rpc::PUSH_TASK, std::move(frame),
                             [this, actor_id, seq, inc](const Status& s, rpc::Frame&& f) {
                               OnReply(actor_id, seq, inc, s, f);
                             });
  }
}

void ActorTaskSubmitter::OnReply(const std::string& actor_id, uint64_t seq, int64_t incarnation,
                                 const Status& s, const rpc::Frame& frame) {
  rpc::PushTaskReply reply;
  bool ok = s.ok() && reply.ParseFromString(frame.payload);
  TaskID task;
  bool kill = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = actors_.find(actor_id);
    if (it == actors_.end()) return;
    Actor& a = it->second;
    auto f = a.in_flight.find(seq);
    if (f == a.in_flight.end()) return;  // already retried or failed by a state update
    if (!ok) {
      // The actor's process is gone; the GCS update (restart or death) decides
      // what happens to this call. Stop using the connection meanwhile.
      if (a.conn && a.conn_incarnation == incarnation) a.conn.reset();
      return;
    }
    task = f->second.task;
    if (RetryOnExceptionLocked(a, f, reply, task)) {
      SendLocked(actor_id, a);
      return;
    }
    a.in_flight.erase(f);
    MaybeOutOfScopeLocked(actor_id, a, &kill);
  }
  tasks_->CompleteTask(task, reply);
  if (kill) on_out_of_scope_(actor_id);
}

bool ActorTaskSubmitter::RetryOnExceptionLocked(Actor& a, std::map<uint64_t, Call>::iterator f,
                                                const rpc::PushTaskReply& reply, const TaskID& task) {
  Call& call = f->second;
  if (!reply.is_application_error() || !reply.is_retryable_error() || reply.was_cancelled() ||
      call.retries_left == 0 || tasks_->IsCancelled(task)) {
    return false;
  }
  if (call.retries_left > 0) call.retries_left--;
  call.spec.set_attempt_number(call.spec.attempt_number() + 1);
  LUMOS_LOG(Debug) << "actor call " << call.spec.name() << " raised a retryable exception; "
                   << (call.retries_left < 0 ? std::string("unlimited") : std::to_string(call.retries_left))
                   << " retries left, running it again";
  // Back into the queue under its own sequence number: it is sent at once,
  // after the calls already sent (as in Ray, a retry runs after them).
  a.queue.insert(a.in_flight.extract(f));
  return true;
}

void ActorTaskSubmitter::FailLocked(Actor& a, std::vector<std::pair<TaskID, std::string>>* failed,
                                    const std::string& why) {
  for (auto* m : {&a.in_flight, &a.queue}) {
    for (auto& [seq, call] : *m) {
      failed->emplace_back(call.task, why);
    }
    m->clear();
  }
}

void ActorTaskSubmitter::OnActorUpdate(const rpc::ActorTableData& data) { Apply(data, false); }

void ActorTaskSubmitter::MarkRestarting(const std::string& actor_id, const std::string& reason) {
  rpc::ActorTableData restarting;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = actors_.find(actor_id);
    if (it == actors_.end() || !it->second.known || it->second.data.state() != State::ALIVE) return;
    restarting = it->second.data;
  }
  // Same version: the GCS's own RESTARTING/ALIVE updates still apply after it.
  restarting.set_state(State::RESTARTING);
  restarting.set_death_cause(reason);
  Apply(restarting, true);
}

void ActorTaskSubmitter::Apply(const rpc::ActorTableData& data, bool local) {
  std::vector<std::pair<TaskID, std::string>> failed;
  bool init_failed = false;
  std::string init_error;
  bool kill = false;
  std::vector<std::pair<TaskID, std::string>> unavailable;  // in flight when it began restarting
  {
    std::lock_guard<std::mutex> lock(mu_);
    Actor& a = actors_[data.actor_id()];
    if (!local && a.known && data.version() <= a.data.version()) return;  // stale
    a.known = true;
    a.data = data;
    switch (data.state()) {
      case State::ALIVE:
        SendLocked(data.actor_id(), a);
        break;
      case State::RESTARTING: {
        a.conn.reset();
        // Calls the old incarnation may have been running: retry or fail.
        for (auto it = a.in_flight.begin(); it != a.in_flight.end();) {
          if (it->second.retries_left != 0) {
            if (it->second.retries_left > 0) it->second.retries_left--;
            a.queue.insert(a.in_flight.extract(it++));
          } else {
            unavailable.emplace_back(it->second.task,
                                     "The actor " + data.class_name() + " is unavailable: it is restarting (" +
                                     (data.death_cause().empty() ? "its process died" : data.death_cause()) +
                                     ") and the call was running when its process died, so it may or may "
                                     "not have run; set max_task_retries to retry such calls");
            it = a.in_flight.erase(it);
          }
        }
        break;
      }
      case State::DEAD:
        a.conn.reset();
        init_failed = !data.creation_error().empty();
        init_error = data.creation_error();
        FailLocked(a, &failed, DeathMessage(data));
        break;
      default:
        break;
    }
    MaybeOutOfScopeLocked(data.actor_id(), a, &kill);
  }
  for (const auto& [task, why] : failed) {
    if (init_failed) {
      tasks_->FailTask(task, kMetaActorInitFailed, init_error);
    } else {
      tasks_->FailTask(task, kMetaActorDied, why);
    }
  }
  for (const auto& [task, why] : unavailable) tasks_->FailTask(task, kMetaActorUnavailable, why);
  if (kill) on_out_of_scope_(data.actor_id());
}

bool ActorTaskSubmitter::IsActorCall(const TaskID& task) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [actor, a] : actors_) {
    for (const auto& [seq, call] : a.queue) {
      if (call.task == task) return true;
    }
    for (const auto& [seq, call] : a.in_flight) {
      if (call.task == task) return true;
    }
  }
  return false;
}

bool ActorTaskSubmitter::CancelQueued(const TaskID& task, bool* is_actor_call) {
  std::lock_guard<std::mutex> lock(mu_);
  *is_actor_call = false;
  for (auto& [id, a] : actors_) {
    for (auto it = a.queue.begin(); it != a.queue.end(); ++it) {
      if (it->second.task == task) {
        *is_actor_call = true;
        a.queue.erase(it);
        return true;
      }
    }
    for (const auto& [seq, call] : a.in_flight) {
      if (call.task == task) *is_actor_call = true;
    }
  }
  return false;
}

void ActorTaskSubmitter::CancelRunning(const TaskID& task, bool recursive) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, a] : actors_) {
    for (const auto& [seq, call] : a.in_flight) {
      if (call.task != task || !a.conn) continue;
      rpc::CancelTaskRequest req;
      req.set_task_id(task.Binary());
      req.set_recursive(recursive);
      a.conn->SendOneway(rpc::CANCEL_TASK, req);
      return;
    }
  }
}

void ActorTaskSubmitter::MarkKilled(const std::string& actor_id, const std::string& reason) {
  rpc::ActorTableData dead;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Actor& a = actors_[actor_id];
    dead = a.data;
  }
  dead.set_actor_id(actor_id);
  dead.set_state(State::DEAD);
  dead.set_death_cause(reason);
  dead.clear_creation_error();
  // DEAD is final: later (older or equal) updates from the GCS change nothing.
  dead.set_version(std::numeric_limits<uint64_t>::max());
  OnActorUpdate(dead);
}

int64_t ActorTaskSubmitter::NumPending(const std::string& actor_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = actors_.find(actor_id);
  if (it == actors_.end()) return 0;
  return static_cast<int64_t>(it->second.queue.size() + it->second.in_flight.size());
}

void ActorTaskSubmitter::MarkOutOfScope(const std::string& actor_id) {
  bool kill = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = actors_.find(actor_id);
    if (it == actors_.end()) return;
    it->second.out_of_scope = true;
    MaybeOutOfScopeLocked(actor_id, it->second, &kill);
  }
  if (kill) on_out_of_scope_(actor_id);
}

void ActorTaskSubmitter::MaybeOutOfScopeLocked(const std::string& actor_id, Actor& a, bool* kill) {
  if (!a.out_of_scope || a.kill_requested || !a.queue.empty() || !a.in_flight.empty()) return;
  if (a.known && a.data.state() == State::DEAD) return;
  a.kill_requested = true;
  *kill = true;
}

rpc::ActorTableData::ActorState ActorTaskSubmitter::State(const std::string& actor_id, std::string* cause) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = actors_.find(actor_id);
  if (it == actors_.end() || !it->second.known) return State::PENDING_CREATION;
  if (cause) *cause = it->second.data.death_cause();
  return it->second.data.state();
}

}  // namespace lumos::core
