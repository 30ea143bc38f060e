#include "core_worker/task_manager.h"

namespace lumos::core {

void TaskManager::AddPendingTask(const rpc::TaskSpec& spec, std::vector<ObjectID> arg_refs) {
  refs_->AddSubmittedTaskRefs(arg_refs);
  std::lock_guard<std::mutex> lock(mu_);
  pending_[TaskID::FromBinary(spec.task_id())] = Entry{spec.num_returns(), std::move(arg_refs)};
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
  for (int i = 0; i < e.num_returns; i++) {
    ObjectID oid = ObjectID::FromIndex(id, i + 1);
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
    } else {
      obj = RayObject::FromInline(ret.value());
      if (!obj->nested_refs.empty()) {
        std::vector<ObjectID> inner;
        for (const auto& r : obj->nested_refs) inner.push_back(ObjectID::FromBinary(r.object_id()));
        refs_->AddContainedRefs(oid, inner);
      }
    }
    store_->Put(oid, std::move(obj));
  }
  std::vector<DeletedObject> freed;
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

bool TaskManager::IsPending(const TaskID& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.count(id) > 0;
}

size_t TaskManager::NumPending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

}  // namespace lumos::core
