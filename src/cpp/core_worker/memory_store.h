#pragma once
// MemoryStore: the core worker's in-process table of object values (small
// values inline, or markers for values in the object store). Getters block
// until values arrive; async callbacks fire when a value is put.
//
// Thread safety: all methods are thread safe. Callbacks run on the thread that
// calls Put (or the caller of GetAsync when the value is already there), with
// no lock held.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "common/id.h"
#include "common/status.h"
#include "core_worker/ray_object.h"

namespace lumos::core {

class MemoryStore {
 public:
  using Callback = std::function<void(std::shared_ptr<RayObject>)>;
  /// \brief Returns true when the wait should stop early (e.g. Ctrl-C). Called
  /// every ~100 ms while blocked.
  using InterruptCheck = std::function<bool()>;

  /// \brief Stores (replacing) a value and wakes its waiters.
  void Put(const ObjectID& id, std::shared_ptr<RayObject> obj);
  std::shared_ptr<RayObject> GetIfExists(const ObjectID& id) const;
  bool Contains(const ObjectID& id) const;
  /// \brief Runs `cb` once the value exists (immediately if it does).
  void GetAsync(const ObjectID& id, Callback cb);
  /// \brief Waits until at least `num_required` of `ids` exist, the timeout
  /// (ms, <0 = forever) passes (TimedOut) or `interrupted` says stop
  /// (Interrupted). `ready[i]` tells which exist at the end. Spins for
  /// spin_wait_us before it sleeps.
  Status Wait(const std::vector<ObjectID>& ids, size_t num_required, int64_t timeout_ms,
              std::vector<bool>* ready, const InterruptCheck& interrupted);
  /// \brief Wait over entries that each stand for one or more ids: ids[i]
  /// belongs to entry `entry_of[i]` (< num_entries), and an entry is ready when
  /// any of its ids exists. `ready` has one flag per entry. InvalidArgument for
  /// a malformed `entry_of`.
  Status WaitAny(const std::vector<ObjectID>& ids, const std::vector<size_t>& entry_of, size_t num_entries,
                 size_t num_required, int64_t timeout_ms, std::vector<bool>* ready,
                 const InterruptCheck& interrupted);
  void Delete(const ObjectID& id);
  size_t size() const;

 private:
  // entry_of == nullptr: every id is its own entry.
  size_t CountReadyLocked(const std::vector<ObjectID>& ids, const std::vector<size_t>* entry_of,
                          std::vector<bool>* ready) const;
  Status WaitImpl(const std::vector<ObjectID>& ids, const std::vector<size_t>* entry_of, size_t num_entries,
                  size_t num_required, int64_t timeout_ms, std::vector<bool>* ready,
                  const InterruptCheck& interrupted);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> version_{0};  // bumped on every Put, lets waiters spin without the lock
  std::unordered_map<ObjectID, std::shared_ptr<RayObject>> objects_;
  std::unordered_map<ObjectID, std::vector<Callback>> callbacks_;
};

}  // namespace lumos::core
