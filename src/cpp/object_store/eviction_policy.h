#pragma once
// EvictionPolicy: which object the store gives up next when an allocation
// does not fit. A pure LRU bookkeeping class (no I/O, no knowledge of arenas).
//
// The table adds an object when it becomes evictable (sealed, in the arena,
// unpinned, not being deleted) and removes it when that stops being true (a
// reader pins it, it is spilled, evicted or deleted). Add of a present object
// moves it to the most-recently-used end, so "Add on last Release" is LRU.
// Victim order: cached copies (primary == false: another copy exists
// elsewhere, so dropping it loses nothing) in LRU order first, then primary
// copies (which must be spilled to disk before their memory is reused) in LRU
// order.
//
// Thread safety: none; owned by ObjectTable on the store's loop thread.
#include <cstdint>
#include <list>
#include <optional>
#include <unordered_map>

#include "common/id.h"

namespace lumos::object_store {

class EvictionPolicy {
 public:
  struct Candidate {
    ObjectID id;
    uint64_t size = 0;
    bool primary = true;
  };

  /// \brief Makes `id` evictable (or refreshes it to most recently used).
  void Add(const ObjectID& id, uint64_t size, bool primary);
  /// \brief No longer evictable; unknown ids are ignored.
  void Remove(const ObjectID& id);
  bool Contains(const ObjectID& id) const { return index_.count(id) > 0; }
  /// \brief The next victim without removing it: least recently used cached
  /// copy, else least recently used primary copy; nullopt when none.
  std::optional<Candidate> Next() const;
  size_t size() const { return index_.size(); }
  /// \brief Bytes of all evictable objects (what eviction could free at most).
  uint64_t evictable_bytes() const { return bytes_; }

 private:
  using List = std::list<Candidate>;  // front = least recently used
  List cached_;
  List primary_;
  std::unordered_map<ObjectID, List::iterator> index_;
  uint64_t bytes_ = 0;
};

}  // namespace lumos::object_store
