#include "core_worker/reference_counter.h"

#include <algorithm>

namespace lumos::core {

void ReferenceCounter::SetSelf(const std::string& worker_id, const std::string& endpoint) {
  std::lock_guard<std::mutex> lock(mu_);
  self_worker_id_ = worker_id;
  self_endpoint_ = endpoint;
}

ReferenceCounter::Ref& ReferenceCounter::EntryLocked(const ObjectID& id, const rpc::Address* owner) {
  auto [it, inserted] = refs_.try_emplace(id);
  if (inserted && owner) it->second.owner = *owner;
  return it->second;
}

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
  EntryLocked(id, owner).local++;
}

bool ReferenceCounter::AddDeserializedRef(const ObjectID& id, const rpc::Address& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  Ref& r = EntryLocked(id, &owner);
  r.local++;
  if (r.owned || IsSelfLocked(r.owner) || r.owner.endpoint().empty()) return false;
  if (r.registrations > 0 || r.registration_pending) return false;
  r.registration_pending = true;
  return true;
}

bool ReferenceCounter::OnRegistered(const ObjectID& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refs_.find(id);
  if (it == refs_.end() || it->second.owned) return false;
  it->second.registration_pending = false;
  it->second.registrations++;
  return true;
}

void ReferenceCounter::OnRegistrationFailed(const ObjectID& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refs_.find(id);
  if (it != refs_.end()) it->second.registration_pending = false;
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

void ReferenceCounter::SetCallSite(const ObjectID& id, std::string site) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refs_.find(id);
  if (it != refs_.end()) it->second.call_site = std::move(site);
}

void ReferenceCounter::AddContainedRefs(const ObjectID& outer,
                                        const std::vector<rpc::ObjectReference>& contained) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refs_.find(outer);
  if (it == refs_.end()) return;
  std::vector<ObjectID> inner;
  inner.reserve(contained.size());
  for (const auto& c : contained) {
    ObjectID cid = ObjectID::FromBinary(c.object_id());
    inner.push_back(cid);
    EntryLocked(cid, c.has_owner() ? &c.owner() : nullptr).contained_in++;
  }
  // EntryLocked may rehash: look the outer entry up again.
  auto& contains = refs_[outer].contains;
  contains.insert(contains.end(), inner.begin(), inner.end());
}

void ReferenceCounter::ApplyPreregistered(const std::vector<ObjectID>& ids,
                                          std::vector<DeletedObject>* deleted) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& id : ids) {
    auto it = refs_.find(id);
    if (it == refs_.end()) continue;
    if (it->second.owned) {
      ChangeBorrowerLocked(it->second, self_endpoint_, -1);
      MaybeDeleteLocked(id, deleted);
    } else {
      it->second.registrations++;
    }
  }
}

void ReferenceCounter::ChangeBorrowerLocked(Ref& r, const std::string& endpoint, int64_t delta) {
  auto b = std::find_if(r.borrowers.begin(), r.borrowers.end(),
                        [&](const auto& p) { return p.first == endpoint; });
  if (b == r.borrowers.end()) {
    if (delta > 0) r.borrowers.emplace_back(endpoint, delta);
    return;
  }
  b->second += delta;
  if (b->second <= 0) r.borrowers.erase(b);
}

std::vector<bool> ReferenceCounter::AddBorrowers(const std::vector<ObjectID>& ids, const std::string& endpoint) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<bool> accepted(ids.size(), false);
  for (size_t i = 0; i < ids.size(); i++) {
    auto it = refs_.find(ids[i]);
    if (it == refs_.end() || !it->second.owned) continue;
    ChangeBorrowerLocked(it->second, endpoint, 1);
    accepted[i] = true;
  }
  return accepted;
}

void ReferenceCounter::RemoveBorrowers(const ObjectID& id, const std::string& endpoint, int64_t count,
                                       std::vector<DeletedObject>* deleted) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refs_.find(id);
  if (it == refs_.end() || !it->second.owned) return;
  ChangeBorrowerLocked(it->second, endpoint, -count);
  MaybeDeleteLocked(id, deleted);
}

void ReferenceCounter::RemoveBorrowerEverywhere(const std::string& endpoint, std::vector<DeletedObject>* deleted) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ObjectID> touched;
  for (auto& [id, r] : refs_) {
    auto n = r.borrowers.size();
    r.borrowers.erase(std::remove_if(r.borrowers.begin(), r.borrowers.end(),
                                     [&](const auto& p) { return p.first == endpoint; }),
                      r.borrowers.end());
    if (r.borrowers.size() != n) touched.push_back(id);
  }
  for (const auto& id : touched) MaybeDeleteLocked(id, deleted);
}

int64_t ReferenceCounter::RegistrationsHeld(const ObjectID& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refs_.find(id);
  return it == refs_.end() || it->second.owned ? 0 : it->second.registrations;
}

bool ReferenceCounter::IsOwned(const ObjectID& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refs_.find(id);
  return it != refs_.end() && it->second.owned;
}

std::vector<ObjectID> ReferenceCounter::BorrowedFrom(const std::string& owner_endpoint) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ObjectID> out;
  for (const auto& [id, r] : refs_) {
    if (!r.owned && r.owner.endpoint() == owner_endpoint) out.push_back(id);
  }
  return out;
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

std::vector<ReferenceInfo> ReferenceCounter::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ReferenceInfo> out;
  out.reserve(refs_.size());
  for (const auto& [id, r] : refs_) {
    ReferenceInfo info;
    info.id = id;
    if (!r.owned) info.owner = r.owner;
    info.owned = r.owned;
    info.in_plasma = r.in_plasma;
    info.escaped = r.escaped;
    info.local = r.local;
    info.submitted = r.submitted;
    info.contained_in = r.contained_in;
    for (const auto& b : r.borrowers) info.borrowers += b.second;
    info.call_site = r.call_site;
    out.push_back(std::move(info));
  }
  return out;
}

void ReferenceCounter::MaybeDeleteLocked(const ObjectID& id, std::vector<DeletedObject>* deleted) {
  std::vector<ObjectID> stack{id};
  while (!stack.empty()) {
    ObjectID cur = stack.back();
    stack.pop_back();
    auto it = refs_.find(cur);
    if (it == refs_.end()) continue;
    Ref& r = it->second;
    if (r.local > 0 || r.submitted > 0 || r.contained_in > 0 || r.escaped || !r.borrowers.empty()) continue;
    DeletedObject d{cur, r.owned, r.in_plasma};
    if (!r.owned && r.registrations > 0) {
      d.registrations = r.registrations;
      d.owner_endpoint = r.owner.endpoint();
    }
    deleted->push_back(std::move(d));
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
