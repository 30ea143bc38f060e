#include "object_store/eviction_policy.h"

namespace lumos::object_store {

void EvictionPolicy::Add(const ObjectID& id, uint64_t size, bool primary) {
  Remove(id);
  List& list = primary ? primary_ : cached_;
  list.push_back(Candidate{id, size, primary});
  index_.emplace(id, std::prev(list.end()));
  bytes_ += size;
}

void EvictionPolicy::Remove(const ObjectID& id) {
  auto it = index_.find(id);
  if (it == index_.end()) return;
  List& list = it->second->primary ? primary_ : cached_;
  bytes_ -= it->second->size;
  list.erase(it->second);
  index_.erase(it);
}

std::optional<EvictionPolicy::Candidate> EvictionPolicy::Next() const {
  if (!cached_.empty()) return cached_.front();
  if (!primary_.empty()) return primary_.front();
  return std::nullopt;
}

}  // namespace lumos::object_store
