#pragma once
// ArenaAllocator: hands out 64-byte aligned byte ranges of [0, capacity).
//
// A pure offset allocator: it never touches memory, so it can manage any arena
// (shared memory, a file, a test's imaginary buffer). Best fit: a request takes
// the smallest free block that can hold it (lowest offset among equals) and the
// rest of that block stays free. Freed blocks merge with free neighbours, so
// freeing everything always gives back one block of the whole capacity.
//
// Invariants: every offset and every block size is a multiple of kAlignment;
// free blocks never touch each other (they would have merged); used() plus the
// free bytes equals capacity().
//
// Thread safety: none; the owner serializes calls (the store's loop thread).
// What may fail: Allocate returns OutOfMemory when no free block fits; the
// message names the request, the capacity, the bytes used and the largest free
// block (so a caller can tell "full" from "fragmented").
#include <cstdint>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>

#include "common/status.h"

namespace lumos::object_store {

class ArenaAllocator {
 public:
  static constexpr uint64_t kAlignment = 64;

  /// \brief Manages [0, capacity) rounded down to a multiple of kAlignment.
  explicit ArenaAllocator(uint64_t capacity);
  ArenaAllocator(const ArenaAllocator&) = delete;
  ArenaAllocator& operator=(const ArenaAllocator&) = delete;

  /// \brief Reserves at least `size` bytes (rounded up to kAlignment; a zero
  /// size still takes one unit so every allocation has a distinct offset).
  /// Returns the 64-byte aligned offset, or OutOfMemory.
  Result<uint64_t> Allocate(uint64_t size);
  /// \brief Returns a block given by Allocate. An offset that is not currently
  /// allocated is ignored (and logged): freeing twice cannot corrupt the lists.
  void Free(uint64_t offset);

  /// \brief Bytes reserved by live allocations (after rounding).
  uint64_t used() const { return used_; }
  uint64_t capacity() const { return capacity_; }
  /// \brief Size of the biggest request that would succeed right now.
  uint64_t largest_free_block() const;
  /// \brief Number of free blocks (1 when nothing is allocated; fragmentation gauge).
  size_t num_free_blocks() const { return free_by_offset_.size(); }
  /// \brief Size of the live allocation at `offset`, or 0 if there is none.
  uint64_t AllocationSize(uint64_t offset) const;

 private:
  void InsertFree(uint64_t offset, uint64_t size);
  void EraseFree(std::map<uint64_t, uint64_t>::iterator it);

  uint64_t capacity_;
  uint64_t used_ = 0;
  std::map<uint64_t, uint64_t> free_by_offset_;         // offset -> size
  std::set<std::pair<uint64_t, uint64_t>> free_by_size_;  // (size, offset)
  std::unordered_map<uint64_t, uint64_t> allocated_;    // offset -> size
};

}  // namespace lumos::object_store
