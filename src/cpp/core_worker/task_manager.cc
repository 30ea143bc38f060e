#include "core_worker/task_manager.h"

namespace lumos::core {

void TaskManager::AddPendingTask(const rpc::TaskSpec& spec, std::vector<ObjectID> arg_refs) {
  refs_->AddSubmittedTaskRefs(arg_refs);
  std::lock_guard<std::mutex> lock(mu_);
  Entry e;
  e.num_returns = spec.num_returns();
  e.arg_refs = std::move(arg_refs);
  e.retries_left = spec.max_retries();
  e.dynamic = spec.dynamic_returns();
  if (e.retries_left != 0) e.spec = spec;  // only what may run again is kept
  pending_[TaskID::FromBinary(spec.task_id())] = std::move(e);
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
      obj = RayObject::InPlasma();
      obj->nested_refs.assign(ret.nested_refs().begin(), ret.nested_refs().end());
    } else {
      obj = RayObject::FromInline(ret.value());
    }
    if (!obj->nested_refs.empty()) refs_->AddContainedRefs(oid, obj->nested_refs);
    store_->Put(oid, std::move(obj));
  }
  if (lineage_ && !e.dynamic && e.retries_left != 0 && !reply.is_application_error() &&
      !e.spec.has_actor_task() && !e.spec.has_actor_creation()) {
    std::vector<ObjectID> in_plasma;
    for (int i = 0; i < e.num_returns && i < reply.return_objects_size(); i++) {
      if (reply.return_objects(i).in_plasma()) in_plasma.push_back(ObjectID::FromIndex(id, i + 1));
    }
    if (!in_plasma.empty()) lineage_->Record(e.spec, e.retries_left, in_plasma);
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

void TaskManager::FailTask(const TaskID& id, const std::string& error_meta, const std::string& message) {
  Entry e;
  if (!Take(id, &e)) return;
  for (int i = 0; i < e.num_returns; i++) {
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

bool TaskManager::RetryTask(const TaskID& id, rpc::TaskSpec* spec) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end() || it->second.cancelled || it->second.retries_left == 0) return false;
  if (it->second.retries_left > 0) it->second.retries_left--;
  it->second.spec.set_attempt_number(it->second.spec.attempt_number() + 1);
  *spec = it->second.spec;
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
