#include "core_worker/task_manager.h"

#include <cstring>

#include "common/config.h"

namespace lumos::core {

const char* TaskStateName(TaskState s) {
  switch (s) {
    case TaskState::kPendingArgsAvail: return "PENDING_ARGS_AVAIL";
    case TaskState::kPendingNodeAssignment: return "PENDING_NODE_ASSIGNMENT";
    case TaskState::kSubmittedToWorker: return "SUBMITTED_TO_WORKER";
    case TaskState::kRunning: return "RUNNING";
    case TaskState::kFinished: return "FINISHED";
    case TaskState::kFailed: return "FAILED";
  }
  return "UNKNOWN";
}

namespace {
// Ray's error_type names for the error metadata tags.
const char* ErrorTypeOf(const std::string& meta) {
  if (meta == kMetaWorkerDied) return "WORKER_DIED";
  if (meta == kMetaTaskCancelled) return "TASK_CANCELLED";
  if (meta == kMetaObjectLost) return "OBJECT_LOST";
  if (meta == kMetaSystemError) return "LOCAL_RAYLET_DIED";
  if (meta == kMetaPlacementGroupRemoved) return "TASK_PLACEMENT_GROUP_REMOVED";
  if (meta.rfind("EA", 0) == 0) return "ACTOR_DIED";
  return "TASK_EXECUTION_EXCEPTION";
}
}  // namespace

void TaskManager::AddPendingTask(const rpc::TaskSpec& spec, std::vector<ObjectID> arg_refs,
                                 const std::vector<ObjectID>& rebuild_items) {
  // Only what may run again is kept (copied); otherwise the spec is only
  // borrowed for this call.
  AddPendingTask(spec.max_retries() != 0 ? std::make_shared<const rpc::TaskSpec>(spec)
                                         : std::shared_ptr<const rpc::TaskSpec>(&spec, [](const rpc::TaskSpec*) {}),
                 std::move(arg_refs), rebuild_items);
}

void TaskManager::AddPendingTask(std::shared_ptr<const rpc::TaskSpec> shared, std::vector<ObjectID> arg_refs,
                                 const std::vector<ObjectID>& rebuild_items) {
  const rpc::TaskSpec& spec = *shared;
  refs_->AddSubmittedTaskRefs(arg_refs);
  std::lock_guard<std::mutex> lock(mu_);
  Entry e;
  e.num_returns = spec.num_returns();
  e.arg_refs = std::move(arg_refs);
  e.retries_left = spec.max_retries();
  e.dynamic = spec.dynamic_returns();
  e.streaming = spec.streaming_returns();
  e.rebuilding = e.streaming && !rebuild_items.empty();
  e.awaited.insert(rebuild_items.begin(), rebuild_items.end());
  if (!e.awaited.empty()) awaited_ever_.store(true, std::memory_order_release);
  e.attempt = spec.attempt_number();
  e.name = spec.name();
  if (e.retries_left != 0) e.spec = std::move(shared);
  TaskID id = TaskID::FromBinary(spec.task_id());
  if (events_) events_->RecordState(id, e.attempt, rpc::PENDING_ARGS_AVAIL, &spec);
  // A reconstruction attempt reports into the stream the caller already has
  // (or had: once dropped and ended it is gone, and its items are freed on arrival).
  if (e.streaming && streams_ && !e.rebuilding) streams_->Create(id);
  pending_[id] = std::move(e);
}

bool TaskManager::AwaitItem(const TaskID& id, const ObjectID& item) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end() || !it->second.streaming) return false;
  it->second.awaited.insert(item);
  awaited_ever_.store(true, std::memory_order_release);
  return true;
}

bool TaskManager::TakeAwaitedItem(const TaskID& id, const ObjectID& item) {
  if (!awaited_ever_.load(std::memory_order_acquire)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(id);
  return it != pending_.end() && it->second.awaited.erase(item) > 0;
}

void TaskManager::FailAwaited(const Entry& e, const std::string& message) {
  for (const ObjectID& item : e.awaited) {
    if (!refs_->Has(item)) continue;  // freed meanwhile: nobody waits for it
    store_->Put(item, RayObject::Inline("object " + item.Hex() + " was lost and " + message,
                                        kMetaReconstructionFailed));
  }
}

void TaskManager::SetState(const TaskID& id, TaskState state) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  TaskState before = it->second.state;
  // A late inference (e.g. RUNNING) must not undo a later step of the same attempt.
  if (state == TaskState::kRunning || before != TaskState::kRunning) it->second.state = state;
  if (events_ == nullptr || before == it->second.state) return;
  // The owner only infers RUNNING (the executor reports it): for the GCS, it
  // means the task was pushed.
  if (state == TaskState::kSubmittedToWorker ||
      (state == TaskState::kRunning && before != TaskState::kSubmittedToWorker)) {
    events_->RecordState(id, it->second.attempt, rpc::SUBMITTED_TO_WORKER);
  } else if (state == TaskState::kPendingNodeAssignment) {
    events_->RecordState(id, it->second.attempt, rpc::PENDING_NODE_ASSIGNMENT);
  }
}

void TaskManager::RecordFinished(const TaskID& id, const Entry& e, TaskState state, std::string error_type,
                                 const std::string& error_message, const rpc::PushTaskReply* executed) {
  // Caller holds mu_.
  if (events_) {
    events_->RecordState(id, e.attempt, state == TaskState::kFinished ? rpc::FINISHED : rpc::FAILED, nullptr,
                         error_type, error_message.substr(0, 4000), executed);
  }
  size_t cap = static_cast<size_t>(std::max<int64_t>(0, Config::Get().task_state_history_size()));
  if (cap == 0) return;
  while (finished_.size() >= cap) finished_.pop_front();
  finished_.push_back(TaskStateRecord{id, e.name, state, e.attempt, std::move(error_type)});
}

std::vector<TaskStateRecord> TaskManager::ListTasks() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<TaskStateRecord> out;
  out.reserve(pending_.size() + finished_.size());
  for (const auto& [id, e] : pending_) out.push_back(TaskStateRecord{id, e.name, e.state, e.attempt, ""});
  out.insert(out.end(), finished_.begin(), finished_.end());
  return out;
}

bool TaskManager::Take(const TaskID& id, Entry* out) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end()) return false;
  *out = std::move(it->second);
  pending_.erase(it);
  return true;
}

void TaskManager::CompleteTask(const TaskID& id, const rpc::PushTaskReply& reply) {
  Entry e;
  if (!Take(id, &e)) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!reply.is_application_error()) {
      RecordFinished(id, e, TaskState::kFinished, "", "", &reply);
    } else {
      // The executor's error text (header and traceback) becomes the attempt's error_message.
      RecordFinished(id, e, TaskState::kFailed, reply.was_cancelled() ? "TASK_CANCELLED" : "TASK_EXECUTION_EXCEPTION",
                     reply.error_message(), &reply);
    }
  }
  // Items were reported (and stored) before this reply on the same connection.
  // A task that failed before streaming anything (bad argument, unloadable
  // function, system error) ends its stream with that error, like a failure;
  // so does a retryable exception out of retries (the executor does not report
  // those as items: see TaskExecutor._stream_failure).
  if (e.rebuilding) {
    // The caller's stream already ended with the first attempt's outcome, and
    // return 1 still holds it: only the lost items were wanted (reported
    // before this reply on the same connection, so what is still awaited
    // was not yielded again).
    FailAwaited(e, reply.is_application_error()
                       ? "its re-executed generator raised before yielding it again"
                       : "its re-executed generator yielded only " + std::to_string(reply.num_streamed_items()) +
                             " items (not deterministic?)");
    RecordStreamLineage(id, e, reply);
    std::vector<DeletedObject> freed;
    refs_->RemoveSubmittedTaskRefs(e.arg_refs, &freed);
    if (!freed.empty()) on_free_(freed);
    return;
  }
  if (e.streaming && streams_) {
    bool error_only = reply.num_streamed_items() == 0 && reply.return_objects_size() > 0 &&
                      !reply.return_objects(0).in_plasma() &&
                      reply.return_objects(0).value().metadata().rfind("E", 0) == 0;
    bool retryable_error = reply.is_application_error() && reply.is_retryable_error();
    if (error_only || retryable_error) {
      streams_->OnFailed(id);
    } else {
      streams_->OnFinished(id, reply.num_streamed_items());
    }
  }
  // Dynamic returns (num_returns="dynamic") come as extra objects after the
  // declared ones; they are owned here like any return.
  int n = e.dynamic ? std::max(e.num_returns, reply.return_objects_size()) : e.num_returns;
  for (int i = 0; i < n; i++) {
    ObjectID oid = ObjectID::FromIndex(id, i + 1);
    if (i >= e.num_returns) refs_->AddOwnedObject(oid, {}, false);
    if (i >= reply.return_objects_size()) {
      store_->Put(oid, RayObject::Inline("worker replied without return value " + std::to_string(i + 1),
                                         kMetaSystemError));
      continue;
    }
    const rpc::ReturnObject& ret = reply.return_objects(i);
    std::shared_ptr<RayObject> obj;
    if (ret.in_plasma()) {
      refs_->SetInPlasma(oid);
      obj = RayObject::InPlasma(ret.node_id());
      obj->size = ret.size();
      obj->nested_refs.assign(ret.nested_refs().begin(), ret.nested_refs().end());
    } else {
      obj = RayObject::FromInline(ret.value());
    }
    if (!obj->nested_refs.empty()) refs_->AddContainedRefs(oid, obj->nested_refs);
    store_->Put(oid, std::move(obj));
  }
  if (lineage_ && !e.dynamic && !e.streaming && e.retries_left != 0 && !reply.is_application_error() &&
      !e.spec->has_actor_task() && !e.spec->has_actor_creation()) {
    std::vector<ObjectID> in_plasma;
    for (int i = 0; i < e.num_returns && i < reply.return_objects_size(); i++) {
      if (reply.return_objects(i).in_plasma()) in_plasma.push_back(ObjectID::FromIndex(id, i + 1));
    }
    if (!in_plasma.empty()) lineage_->Record(*e.spec, e.retries_left, in_plasma);
  }
  if (e.streaming) RecordStreamLineage(id, e, reply, /*with_awaited=*/true);
  // Lost items awaited from this attempt (a retry) that it did not report
  // again: it had yielded them before the loss was seen. Marked lost, so the
  // get waiting for them takes the lineage just recorded and runs the
  // generator once more (or fails naming why when it has none).
  for (const ObjectID& item : e.awaited) {
    if (!refs_->Has(item)) continue;
    store_->Put(item, RayObject::Inline("object " + item.Hex() + " was lost while its generator was retried",
                                        kMetaObjectLost));
  }
  std::vector<DeletedObject> freed;
  if (reply.preregistered_refs_size() > 0) {
    // After the contained refs above hold them (see ReferenceCounter).
    std::vector<ObjectID> pre;
    for (const auto& b : reply.preregistered_refs()) {
      if (b.size() == ObjectID::kSize) pre.push_back(ObjectID::FromBinary(b));
    }
    refs_->ApplyPreregistered(pre, &freed);
  }
  refs_->RemoveSubmittedTaskRefs(e.arg_refs, &freed);
  if (!freed.empty()) on_free_(freed);
}

void TaskManager::RecordStreamLineage(const TaskID& id, const Entry& e, const rpc::PushTaskReply& reply,
                                      bool with_awaited) {
  // Like returns (above): a generator with retries left that ended without an
  // exception can run again to rebuild the items the caller still holds in
  // the object store. Items already consumed and freed are not recorded (a
  // re-execution yields them again and they are freed on arrival).
  if (!lineage_ || e.retries_left == 0 || reply.is_application_error() || e.spec->has_actor_task() ||
      e.spec->has_actor_creation()) {
    return;
  }
  std::vector<ObjectID> in_plasma;
  for (int64_t i = 0; i < reply.num_streamed_items(); i++) {
    ObjectID item = ObjectID::FromIndex(id, static_cast<uint32_t>(i + 2));
    auto obj = refs_->Has(item) ? store_->GetIfExists(item) : nullptr;
    // An awaited item has no entry now: it was held in the store when it was lost.
    if ((obj && obj->in_plasma) || (with_awaited && e.awaited.count(item) && refs_->Has(item))) {
      in_plasma.push_back(item);
    }
  }
  if (!in_plasma.empty()) lineage_->Record(*e.spec, e.retries_left, in_plasma);
}

void TaskManager::FailTask(const TaskID& id, const std::string& error_meta, const std::string& message) {
  Entry e;
  if (!Take(id, &e)) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // The message of an error object may be a pickled exception: only plain text is kept.
    bool text = error_meta != kMetaTaskError && error_meta != "EAI";  // EAI: kMetaActorInitFailed
    RecordFinished(id, e, TaskState::kFailed, ErrorTypeOf(error_meta), text ? message : "");
  }
  FailAwaited(e, "re-executing its generator failed: " + message);
  if (e.streaming && streams_ && !e.rebuilding) streams_->OnFailed(id);
  for (int i = 0; i < e.num_returns && !e.rebuilding; i++) {
    store_->Put(ObjectID::FromIndex(id, i + 1), RayObject::Inline(message, error_meta));
  }
  std::vector<DeletedObject> freed;
  refs_->RemoveSubmittedTaskRefs(e.arg_refs, &freed);
  if (!freed.empty()) on_free_(freed);
}

void TaskManager::FailAll(const std::string& error_meta, const std::string& message) {
  std::vector<TaskID> ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, e] : pending_) ids.push_back(id);
  }
  for (const auto& id : ids) FailTask(id, error_meta, message);
}

bool TaskManager::RetryTask(const TaskID& id, rpc::TaskSpec* spec, const char* error_type) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end() || it->second.cancelled || it->second.retries_left == 0) return false;
  if (it->second.retries_left > 0) it->second.retries_left--;
  RecordFinished(id, it->second, TaskState::kFailed, error_type);
  it->second.attempt++;
  it->second.state = TaskState::kPendingNodeAssignment;
  // A new spec, not an edit: the old one may still sit in a queue or a push.
  auto next = std::make_shared<rpc::TaskSpec>(*it->second.spec);
  next->set_attempt_number(next->attempt_number() + 1);
  *spec = *next;
  it->second.spec = next;
  if (events_) events_->RecordState(id, it->second.attempt, rpc::PENDING_NODE_ASSIGNMENT, next.get());
  return true;
}

bool TaskManager::MarkCancelled(const TaskID& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end()) return false;
  it->second.cancelled = true;
  return true;
}

bool TaskManager::IsCancelled(const TaskID& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(id);
  return it != pending_.end() && it->second.cancelled;
}

bool TaskManager::CancelIfResolving(const TaskID& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end() || it->second.state != TaskState::kPendingArgsAvail) return false;
  it->second.cancelled = true;
  return true;
}

bool TaskManager::StartIfNotCancelled(const TaskID& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end() || it->second.cancelled) return false;
  it->second.state = TaskState::kPendingNodeAssignment;
  if (events_) events_->RecordState(id, it->second.attempt, rpc::PENDING_NODE_ASSIGNMENT);
  return true;
}

std::vector<TaskID> TaskManager::PendingTaskIds() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<TaskID> out;
  for (const auto& [id, e] : pending_) out.push_back(id);
  return out;
}

bool TaskManager::IsPending(const TaskID& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.count(id) > 0;
}

size_t TaskManager::NumPending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

}  // namespace lumos::core
