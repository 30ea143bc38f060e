#pragma once
// PullQueue: which objects of other nodes this node's object manager fetches
// next. Pure state, no I/O (ObjectManager is the shell; tests drive it).
//
// * Requests for one object are merged: one transfer, every waiter told.
// * Priority: get (0) before wait (1) before task arguments (2); FIFO within
//   a priority. A waiter with a better priority raises a queued object's.
// * Admission: an object starts only when the bytes in flight plus its size
//   fit in the store's free bytes, so a pull never overcommits the store;
//   when nothing is in flight the head of the queue always starts (the
//   store then spills or fails it with ObjectStoreFullError: never a hang).
//
// Thread safety: none (the ObjectManager holds its mutex around every call).
#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "common/id.h"

namespace lumos::raylet {

class PullQueue {
 public:
  enum Priority : int { kGet = 0, kWait = 1, kTaskArgs = 2 };

  /// \brief Adds `waiter` for `id` (size 0 = unknown). True when the object
  /// was neither queued nor in flight (a new transfer is needed).
  bool Add(const ObjectID& id, uint64_t size, int priority, uint64_t waiter);
  /// \brief The next object to start, if one is admissible with `free_bytes`
  /// free in the store; it moves to in flight.
  std::optional<ObjectID> Next(uint64_t free_bytes);
  /// \brief The transfer of `id` ended (either way): its waiters.
  std::vector<uint64_t> Finish(const ObjectID& id);
  /// \brief Sets a known size (from the source) for in-flight accounting.
  void SetSize(const ObjectID& id, uint64_t size);

  size_t num_queued() const { return queued_.size(); }
  size_t num_in_flight() const { return in_flight_.size(); }
  uint64_t bytes_in_flight() const { return bytes_in_flight_; }

 private:
  struct Entry {
    uint64_t size = 0;
    int priority = kTaskArgs;
    uint64_t seq = 0;  // arrival order
    std::vector<uint64_t> waiters;
  };
  using Key = std::pair<int, uint64_t>;  // (priority, seq)

  std::unordered_map<ObjectID, Entry> queued_;
  std::map<Key, ObjectID> order_;
  std::unordered_map<ObjectID, Entry> in_flight_;
  uint64_t bytes_in_flight_ = 0;
  uint64_t next_seq_ = 0;
};

}  // namespace lumos::raylet
