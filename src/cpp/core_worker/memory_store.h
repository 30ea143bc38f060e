#pragma once
// MemoryStore: the core worker's in-process table of object values (small
// values inline, or markers for values in the object store). Getters block
// until values arrive; async callbacks fire when a value is put.
//
// Thread safety: all methods are thread safe. Callbacks run on the thread that
// calls Put (or the caller of GetAsync when the value is already there), with
// no lock held.
//
// Cost: a blocked Wait registers on the ids still missing, and Put wakes only
// the waiters of its id once enough of their ids arrived, so getting N refs
// costs O(N) in all (not a rescan of the N ids per arriving value).
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
  /// (Interrupted). `ready[i]` tells which exist at the end; once
  /// `num_required` are found the scan stops, so when it succeeds exactly the
  /// first `num_required` existing ids (in list order) are flagged (wait()
  /// returns those, and a wait loop over a long list costs O(1) per call when
  /// its first ids are ready). Spins for spin_wait_us before it sleeps.
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
  /// \brief Drops every GetAsync callback not yet run, without running it.
  /// For shutdown: callbacks capture connections of the core worker's event
  /// loop, which must be released before the loop is destroyed.
  void DropCallbacks();
  size_t size() const;

 private:
  // entry_of == nullptr: every id is its own entry, and the scan stops at
  // num_required ready ones.
  size_t CountReadyLocked(const std::vector<ObjectID>& ids, const std::vector<size_t>* entry_of,
                          size_t num_required, std::vector<bool>* ready) const;
  Status WaitImpl(const std::vector<ObjectID>& ids, const std::vector<size_t>* entry_of, size_t num_entries,
                  size_t num_required, int64_t timeout_ms, std::vector<bool>* ready,
                  const InterruptCheck& interrupted);

  // One blocked Wait: `hits` counts Puts of its registered ids since its last
  // scan; it rescans once hits reach `wake_at` (the entries it still needs),
  // which never misses a wake-up (each newly ready entry took >= 1 Put).
  struct Waiter {
    size_t hits = 0;
    size_t wake_at = 0;
    std::condition_variable cv;
  };
  void UnregisterLocked(const std::vector<ObjectID>& ids, const std::vector<size_t>& registered, Waiter* w);

  mutable std::mutex mu_;
  std::unordered_map<ObjectID, std::vector<Waiter*>> waiters_;
  std::atomic<uint64_t> version_{0};  // bumped on every Put, lets waiters spin without the lock
  std::unordered_map<ObjectID, std::shared_ptr<RayObject>> objects_;
  std::unordered_map<ObjectID, std::vector<Callback>> callbacks_;
};

}  // namespace lumos::core
