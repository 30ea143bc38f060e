#include "core_worker/lineage_cache.h"

namespace lumos::core {

void LineageCache::Record(const rpc::TaskSpec& spec, int retries_left, const std::vector<ObjectID>& plasma_returns) {
  if (plasma_returns.empty() || retries_left == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = entries_[TaskID::FromBinary(spec.task_id())];
  e.spec = spec;
  e.retries_left = retries_left;
  e.live_returns.insert(plasma_returns.begin(), plasma_returns.end());
}

void LineageCache::OnObjectFreed(const ObjectID& id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.empty()) return;
  auto it = entries_.find(id.Task());
  if (it == entries_.end()) return;
  it->second.live_returns.erase(id);
  if (it->second.live_returns.empty()) entries_.erase(it);
}

LineageCache::Outcome LineageCache::TakeForReconstruction(const ObjectID& lost, rpc::TaskSpec* spec) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(lost.Task());
  if (it == entries_.end() || !it->second.live_returns.count(lost)) return Outcome::kNoLineage;
  Entry& e = it->second;
  if (e.retries_left == 0) return Outcome::kRetriesExhausted;
  if (e.retries_left > 0) e.retries_left--;
  e.spec.set_attempt_number(e.spec.attempt_number() + 1);
  *spec = e.spec;
  return Outcome::kResubmit;
}

std::vector<ObjectID> LineageCache::LiveReturns(const TaskID& task) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(task);
  if (it == entries_.end()) return {};
  return std::vector<ObjectID>(it->second.live_returns.begin(), it->second.live_returns.end());
}

size_t LineageCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace lumos::core
