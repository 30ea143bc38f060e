#include "raylet/pull_queue.h"

namespace lumos::raylet {

bool PullQueue::Add(const ObjectID& id, uint64_t size, int priority, uint64_t waiter) {
  if (auto it = in_flight_.find(id); it != in_flight_.end()) {
    it->second.waiters.push_back(waiter);
    return false;
  }
  if (auto it = queued_.find(id); it != queued_.end()) {
    Entry& e = it->second;
    e.waiters.push_back(waiter);
    if (size > e.size) e.size = size;
    if (priority < e.priority) {
      order_.erase({e.priority, e.seq});
      e.priority = priority;
      order_[{e.priority, e.seq}] = id;
    }
    return false;
  }
  Entry e;
  e.size = size;
  e.priority = priority;
  e.seq = next_seq_++;
  e.waiters.push_back(waiter);
  order_[{e.priority, e.seq}] = id;
  queued_.emplace(id, std::move(e));
  return true;
}

std::optional<ObjectID> PullQueue::Next(uint64_t free_bytes) {
  if (order_.empty()) return std::nullopt;
  auto head = order_.begin();
  ObjectID id = head->second;
  Entry& e = queued_.at(id);
  // Strict priority: only the head may start, so a large get is never
  // starved by a stream of small task-argument pulls behind it.
  bool fits = bytes_in_flight_ + e.size <= free_bytes;
  if (!fits && !in_flight_.empty()) return std::nullopt;
  bytes_in_flight_ += e.size;
  order_.erase(head);
  in_flight_.emplace(id, std::move(e));
  queued_.erase(id);
  return id;
}

void PullQueue::SetSize(const ObjectID& id, uint64_t size) {
  auto it = in_flight_.find(id);
  if (it == in_flight_.end()) return;
  bytes_in_flight_ = bytes_in_flight_ - it->second.size + size;
  it->second.size = size;
}

std::vector<uint64_t> PullQueue::Finish(const ObjectID& id) {
  auto it = in_flight_.find(id);
  if (it == in_flight_.end()) return {};
  bytes_in_flight_ -= it->second.size;
  std::vector<uint64_t> waiters = std::move(it->second.waiters);
  in_flight_.erase(it);
  return waiters;
}

}  // namespace lumos::raylet
