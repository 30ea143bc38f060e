#include "core_worker/memory_store.h"

#include <algorithm>
#include <chrono>

#include "common/config.h"

namespace lumos::core {

void MemoryStore::Put(const ObjectID& id, std::shared_ptr<RayObject> obj) {
  std::vector<Callback> cbs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    objects_[id] = obj;
    auto it = callbacks_.find(id);
    if (it != callbacks_.end()) {
      cbs = std::move(it->second);
      callbacks_.erase(it);
    }
    version_.fetch_add(1, std::memory_order_release);
    auto w = waiters_.find(id);
    if (w != waiters_.end()) {
      for (Waiter* waiter : w->second) {
        if (++waiter->hits >= waiter->wake_at) waiter->cv.notify_one();
      }
    }
  }
  for (auto& cb : cbs) cb(obj);
}

std::shared_ptr<RayObject> MemoryStore::GetIfExists(const ObjectID& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(id);
  return it == objects_.end() ? nullptr : it->second;
}

bool MemoryStore::Contains(const ObjectID& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return objects_.count(id) > 0;
}

void MemoryStore::GetAsync(const ObjectID& id, Callback cb) {
  std::shared_ptr<RayObject> obj;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = objects_.find(id);
    if (it == objects_.end()) {
      callbacks_[id].push_back(std::move(cb));
      return;
    }
    obj = it->second;
  }
  cb(obj);
}

size_t MemoryStore::CountReadyLocked(const std::vector<ObjectID>& ids, const std::vector<size_t>* entry_of,
                                     size_t num_required, std::vector<bool>* ready) const {
  size_t n = 0;
  if (entry_of == nullptr) {
    size_t i = 0;
    for (; i < ids.size() && n < num_required; i++) {
      bool r = objects_.count(ids[i]) > 0;
      (*ready)[i] = r;
      n += r;
    }
    for (; i < ids.size(); i++) (*ready)[i] = false;  // flags of an earlier scan
    return n;
  }
  std::fill(ready->begin(), ready->end(), false);
  for (size_t i = 0; i < ids.size(); i++) {
    size_t e = (*entry_of)[i];
    if (!(*ready)[e] && objects_.count(ids[i]) > 0) {
      (*ready)[e] = true;
      n++;
    }
  }
  return n;
}

Status MemoryStore::Wait(const std::vector<ObjectID>& ids, size_t num_required, int64_t timeout_ms,
                         std::vector<bool>* ready, const InterruptCheck& interrupted) {
  return WaitImpl(ids, nullptr, ids.size(), num_required, timeout_ms, ready, interrupted);
}

Status MemoryStore::WaitAny(const std::vector<ObjectID>& ids, const std::vector<size_t>& entry_of,
                            size_t num_entries, size_t num_required, int64_t timeout_ms, std::vector<bool>* ready,
                            const InterruptCheck& interrupted) {
  if (entry_of.size() != ids.size()) return Status::InvalidArgument("WaitAny: one entry index per id");
  for (size_t e : entry_of) {
    if (e >= num_entries) return Status::InvalidArgument("WaitAny: entry index out of range");
  }
  return WaitImpl(ids, &entry_of, num_entries, num_required, timeout_ms, ready, interrupted);
}

Status MemoryStore::WaitImpl(const std::vector<ObjectID>& ids, const std::vector<size_t>* entry_of,
                             size_t num_entries, size_t num_required, int64_t timeout_ms, std::vector<bool>* ready,
                             const InterruptCheck& interrupted) {
  using Clock = std::chrono::steady_clock;
  ready->assign(num_entries, false);
  auto start = Clock::now();
  auto deadline = timeout_ms < 0 ? Clock::time_point::max() : start + std::chrono::milliseconds(timeout_ms);
  uint64_t seen = version_.load(std::memory_order_acquire);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (CountReadyLocked(ids, entry_of, num_required, ready) >= num_required) return Status::OK();
  }
  if (timeout_ms == 0) return Status::TimedOut("");
  // Spin briefly: waking a sleeping thread costs ~50 us on this kind of VM.
  auto spin_until = start + std::chrono::microseconds(Config::Get().spin_wait_us());
  while (Clock::now() < spin_until) {
    uint64_t v = version_.load(std::memory_order_acquire);
    if (v != seen) {
      seen = v;
      std::lock_guard<std::mutex> lock(mu_);
      if (CountReadyLocked(ids, entry_of, num_required, ready) >= num_required) return Status::OK();
    }
  }
  std::unique_lock<std::mutex> lock(mu_);
  size_t n = CountReadyLocked(ids, entry_of, num_required, ready);
  if (n >= num_required) return Status::OK();
  if (Clock::now() >= deadline) return Status::TimedOut("");
  // The scan did not stop early (too few ready), so `ready` is exact: register
  // on every id whose entry is still missing.
  Waiter w;
  w.wake_at = num_required - n;
  std::vector<size_t> registered;
  for (size_t i = 0; i < ids.size(); i++) {
    if ((*ready)[entry_of == nullptr ? i : (*entry_of)[i]]) continue;
    waiters_[ids[i]].push_back(&w);
    registered.push_back(i);
  }
  // Checked every ~100 ms even while no awaited value arrives.
  auto next_check = Clock::now() + std::chrono::milliseconds(100);
  Status result;
  while (true) {
    if (w.hits >= w.wake_at) {
      n = CountReadyLocked(ids, entry_of, num_required, ready);
      if (n >= num_required) break;
      w.hits = 0;
      w.wake_at = num_required - n;
    }
    if (Clock::now() >= deadline) {
      result = Status::TimedOut("");
      break;
    }
    w.cv.wait_until(lock, std::min(deadline, next_check));
    if (interrupted && Clock::now() >= next_check) {
      next_check = Clock::now() + std::chrono::milliseconds(100);
      lock.unlock();
      bool stop = interrupted();
      lock.lock();
      if (stop) {
        result = Status::Interrupted("interrupted while waiting for objects");
        break;
      }
    }
  }
  UnregisterLocked(ids, registered, &w);
  // `ready` must describe the end state also when the wait gave up.
  if (!result.ok()) CountReadyLocked(ids, entry_of, num_required, ready);
  return result;
}

void MemoryStore::UnregisterLocked(const std::vector<ObjectID>& ids, const std::vector<size_t>& registered,
                                   Waiter* w) {
  for (size_t i : registered) {
    auto it = waiters_.find(ids[i]);
    if (it == waiters_.end()) continue;  // the same id listed twice
    auto& list = it->second;
    list.erase(std::remove(list.begin(), list.end(), w), list.end());
    if (list.empty()) waiters_.erase(it);
  }
}

void MemoryStore::Delete(const ObjectID& id) {
  std::lock_guard<std::mutex> lock(mu_);
  objects_.erase(id);
}

size_t MemoryStore::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return objects_.size();
}

void MemoryStore::DropCallbacks() {
  std::unordered_map<ObjectID, std::vector<Callback>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dropped.swap(callbacks_);
  }
  // Destroyed here, outside the lock: a callback's captures may run code.
}

}  // namespace lumos::core
