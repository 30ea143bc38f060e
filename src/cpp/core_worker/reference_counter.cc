#include "core_worker/reference_counter.h"

namespace lumos::core {

void ReferenceCounter::AddOwnedObject(const ObjectID& id, const std::vector<ObjectID>& contained,
                                      bool in_plasma) {
  std::lock_guard<std::mutex> lock(mu_);
  Ref& r = refs_[id];
  r.owned = true;
  r.in_plasma = in_plasma;
  for (const auto& c : contained) {
    r.contains.push_back(c);
    refs_[c].contained_in++;
  }
}

void ReferenceCounter::AddLocalRef(const ObjectID& id, const rpc::Address* owner) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = refs_.try_emplace(id);
  if (inserted && owner) it->second.owner = *owner;
  it->second.local++;
}

void ReferenceCounter::RemoveLocalRef(const ObjectID& id, std::vector<DeletedObject>* deleted) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refs_.find(id);
  if (it == refs_.end() || it->second.local == 0) return;
  it->second.local--;
  MaybeDeleteLocked(id, deleted);
}

void ReferenceCounter::AddSubmittedTaskRefs(const std::vector<ObjectID>& ids) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& id : ids) refs_[id].submitted++;
}

void ReferenceCounter::RemoveSubmittedTaskRefs(const std::vector<ObjectID>& ids,
                                               std::vector<DeletedObject>* deleted) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& id : ids) {
    auto it = refs_.find(id);
    if (it == refs_.end() || it->second.submitted == 0) continue;
    it->second.submitted--;
    MaybeDeleteLocked(id, deleted);
  }
}

void ReferenceCounter::MarkEscaped(const ObjectID& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refs_.find(id);
  if (it != refs_.end() && it->second.owned) it->second.escaped = true;
}

void ReferenceCounter::SetInPlasma(const ObjectID& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refs_.find(id);
  if (it != refs_.end()) it->second.in_plasma = true;
}

void ReferenceCounter::AddContainedRefs(const ObjectID& outer, const std::vector<ObjectID>& contained) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refs_.find(outer);
  if (it == refs_.end()) return;
  for (const auto& c : contained) {
    it->second.contains.push_back(c);
    refs_[c].contained_in++;
  }
}

bool ReferenceCounter::IsOwned(const ObjectID& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refs_.find(id);
  return it != refs_.end() && it->second.owned;
}

bool ReferenceCounter::Has(const ObjectID& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return refs_.count(id) > 0;
}

std::optional<rpc::Address> ReferenceCounter::GetOwner(const ObjectID& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refs_.find(id);
  if (it == refs_.end() || it->second.owned) return std::nullopt;
  return it->second.owner;
}

size_t ReferenceCounter::NumObjects() const {
  std::lock_guard<std::mutex> lock(mu_);
  return refs_.size();
}

size_t ReferenceCounter::NumOwned() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [id, r] : refs_) n += r.owned;
  return n;
}

void ReferenceCounter::MaybeDeleteLocked(const ObjectID& id, std::vector<DeletedObject>* deleted) {
  std::vector<ObjectID> stack{id};
  while (!stack.empty()) {
    ObjectID cur = stack.back();
    stack.pop_back();
    auto it = refs_.find(cur);
    if (it == refs_.end()) continue;
    Ref& r = it->second;
    if (r.local > 0 || r.submitted > 0 || r.contained_in > 0 || r.escaped) continue;
    deleted->push_back(DeletedObject{cur, r.owned, r.in_plasma});
    for (const auto& inner : r.contains) {
      auto in = refs_.find(inner);
      if (in != refs_.end() && in->second.contained_in > 0) {
        in->second.contained_in--;
        stack.push_back(inner);
      }
    }
    refs_.erase(it);
  }
}

}  // namespace lumos::core
