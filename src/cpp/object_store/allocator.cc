#include "object_store/allocator.h"

#include <string>

#include "common/logging.h"

namespace lumos::object_store {
namespace {
uint64_t RoundUp(uint64_t size) {
  if (size == 0) return ArenaAllocator::kAlignment;
  return (size + ArenaAllocator::kAlignment - 1) & ~(ArenaAllocator::kAlignment - 1);
}
}  // namespace

ArenaAllocator::ArenaAllocator(uint64_t capacity) : capacity_(capacity & ~(kAlignment - 1)) {
  if (capacity_ > 0) InsertFree(0, capacity_);
}

Result<uint64_t> ArenaAllocator::Allocate(uint64_t size) {
  // Rounding must not overflow: anything beyond the capacity fails anyway.
  uint64_t need = size > capacity_ ? 0 : RoundUp(size);
  auto fit = need == 0 ? free_by_size_.end() : free_by_size_.lower_bound({need, 0});
  if (fit == free_by_size_.end()) {
    return Status::OutOfMemory("cannot allocate " + std::to_string(size) +
                               " bytes: capacity " + std::to_string(capacity_) + ", used " +
                               std::to_string(used_) + ", largest free block " +
                               std::to_string(largest_free_block()));
  }
  uint64_t block_size = fit->first;
  uint64_t offset = fit->second;
  EraseFree(free_by_offset_.find(offset));
  if (block_size > need) InsertFree(offset + need, block_size - need);
  allocated_.emplace(offset, need);
  used_ += need;
  return offset;
}

void ArenaAllocator::Free(uint64_t offset) {
  auto a = allocated_.find(offset);
  if (a == allocated_.end()) {
    LUMOS_LOG(Error) << "ArenaAllocator::Free of offset " << offset << " that is not allocated";
    return;
  }
  uint64_t start = offset;
  uint64_t size = a->second;
  allocated_.erase(a);
  used_ -= size;
  // Merge with the free block that ends where this one starts...
  auto next = free_by_offset_.lower_bound(offset);
  if (next != free_by_offset_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == start) {
      start = prev->first;
      size += prev->second;
      EraseFree(prev);
    }
  }
  // ...and with the one that starts where it ends.
  next = free_by_offset_.find(start + size);
  if (next != free_by_offset_.end()) {
    size += next->second;
    EraseFree(next);
  }
  InsertFree(start, size);
}

uint64_t ArenaAllocator::largest_free_block() const {
  return free_by_size_.empty() ? 0 : free_by_size_.rbegin()->first;
}

uint64_t ArenaAllocator::AllocationSize(uint64_t offset) const {
  auto it = allocated_.find(offset);
  return it == allocated_.end() ? 0 : it->second;
}

void ArenaAllocator::InsertFree(uint64_t offset, uint64_t size) {
  free_by_offset_.emplace(offset, size);
  free_by_size_.emplace(size, offset);
}

void ArenaAllocator::EraseFree(std::map<uint64_t, uint64_t>::iterator it) {
  free_by_size_.erase({it->second, it->first});
  free_by_offset_.erase(it);
}

}  // namespace lumos::object_store
