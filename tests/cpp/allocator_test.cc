// ArenaAllocator: alignment, best fit, coalescing, fragmentation, OOM message.
#include "object_store/allocator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace lumos::object_store {
namespace {

constexpr uint64_t kA = ArenaAllocator::kAlignment;

uint64_t MustAllocate(ArenaAllocator* a, uint64_t size) {
  Result<uint64_t> r = a->Allocate(size);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value() : ~0ull;
}

TEST(ArenaAllocatorTest, EmptyArena) {
  ArenaAllocator a(1 << 20);
  EXPECT_EQ(a.capacity(), 1u << 20);
  EXPECT_EQ(a.used(), 0u);
  EXPECT_EQ(a.largest_free_block(), 1u << 20);
  EXPECT_EQ(a.num_free_blocks(), 1u);
}

TEST(ArenaAllocatorTest, CapacityRoundsDownToAlignment) {
  ArenaAllocator a(1000);
  EXPECT_EQ(a.capacity(), 960u);
  ArenaAllocator tiny(63);
  EXPECT_EQ(tiny.capacity(), 0u);
  EXPECT_EQ(tiny.Allocate(1).status().code(), StatusCode::kOutOfMemory);
}

TEST(ArenaAllocatorTest, EveryOffsetIsAligned) {
  ArenaAllocator a(1 << 20);
  for (uint64_t size : {1ull, 63ull, 64ull, 65ull, 100ull, 4095ull, 0ull, 7ull}) {
    uint64_t off = MustAllocate(&a, size);
    EXPECT_EQ(off % kA, 0u) << "size " << size;
    EXPECT_EQ(a.AllocationSize(off), std::max<uint64_t>(kA, (size + kA - 1) / kA * kA));
  }
}

TEST(ArenaAllocatorTest, ZeroSizeGetsDistinctOffsets) {
  ArenaAllocator a(1024);
  uint64_t x = MustAllocate(&a, 0);
  uint64_t y = MustAllocate(&a, 0);
  EXPECT_NE(x, y);
  EXPECT_EQ(a.used(), 2 * kA);
}

TEST(ArenaAllocatorTest, AllocationsDoNotOverlap) {
  ArenaAllocator a(64 * 1024);
  std::vector<std::pair<uint64_t, uint64_t>> blocks;
  for (uint64_t size = 1; size < 3000; size += 317) {
    uint64_t off = MustAllocate(&a, size);
    blocks.push_back({off, off + size});
  }
  std::sort(blocks.begin(), blocks.end());
  for (size_t i = 1; i < blocks.size(); i++) EXPECT_LE(blocks[i - 1].second, blocks[i].first);
  EXPECT_LE(blocks.back().second, a.capacity());
}

TEST(ArenaAllocatorTest, FreeCoalescesWithBothNeighbours) {
  ArenaAllocator a(10 * kA);
  uint64_t x = MustAllocate(&a, kA);
  uint64_t y = MustAllocate(&a, kA);
  uint64_t z = MustAllocate(&a, kA);
  uint64_t rest = MustAllocate(&a, 7 * kA);  // arena now full
  EXPECT_EQ(a.largest_free_block(), 0u);
  a.Free(x);
  a.Free(z);
  EXPECT_EQ(a.num_free_blocks(), 2u);
  EXPECT_EQ(a.largest_free_block(), kA);
  a.Free(y);  // bridges x and z
  EXPECT_EQ(a.num_free_blocks(), 1u);
  EXPECT_EQ(a.largest_free_block(), 3 * kA);
  a.Free(rest);
  EXPECT_EQ(a.num_free_blocks(), 1u);
  EXPECT_EQ(a.largest_free_block(), a.capacity());
  EXPECT_EQ(a.used(), 0u);
}

TEST(ArenaAllocatorTest, FragmentationLimitsTheLargestRequest) {
  ArenaAllocator a(16 * kA);
  std::vector<uint64_t> offs;
  for (int i = 0; i < 16; i++) offs.push_back(MustAllocate(&a, kA));
  for (int i = 0; i < 16; i += 2) a.Free(offs[i]);  // free every other block
  EXPECT_EQ(a.used(), 8 * kA);
  EXPECT_EQ(a.num_free_blocks(), 8u);
  EXPECT_EQ(a.largest_free_block(), kA);
  // Half the arena is free, yet two units do not fit anywhere.
  Result<uint64_t> r = a.Allocate(2 * kA);
  EXPECT_EQ(r.status().code(), StatusCode::kOutOfMemory);
  a.Free(offs[1]);  // joins blocks 0, 1 and 2
  EXPECT_EQ(a.largest_free_block(), 3 * kA);
  EXPECT_EQ(MustAllocate(&a, 2 * kA), offs[0]);
}

TEST(ArenaAllocatorTest, BestFitKeepsBigBlocksWhole) {
  ArenaAllocator a(20 * kA);
  uint64_t small_hole = MustAllocate(&a, kA);
  uint64_t sep1 = MustAllocate(&a, kA);
  uint64_t big_hole = MustAllocate(&a, 8 * kA);
  uint64_t sep2 = MustAllocate(&a, kA);
  MustAllocate(&a, 9 * kA);  // fill the tail
  a.Free(big_hole);
  a.Free(small_hole);
  // A one-unit request takes the one-unit hole, not a piece of the big one.
  EXPECT_EQ(MustAllocate(&a, 10), small_hole);
  EXPECT_EQ(MustAllocate(&a, 8 * kA), big_hole);
  (void)sep1;
  (void)sep2;
}

TEST(ArenaAllocatorTest, OutOfMemoryMessageNamesTheNumbers) {
  ArenaAllocator a(1024);
  MustAllocate(&a, 600);  // 640 used, 384 free
  Result<uint64_t> r = a.Allocate(500);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kOutOfMemory);
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("500"), std::string::npos) << m;   // requested
  EXPECT_NE(m.find("1024"), std::string::npos) << m;  // capacity
  EXPECT_NE(m.find("640"), std::string::npos) << m;   // used
  EXPECT_NE(m.find("384"), std::string::npos) << m;   // largest free block
}

TEST(ArenaAllocatorTest, HugeRequestsFailWithoutOverflow) {
  ArenaAllocator a(1 << 20);
  EXPECT_EQ(a.Allocate(UINT64_MAX).status().code(), StatusCode::kOutOfMemory);
  EXPECT_EQ(a.Allocate(UINT64_MAX - 10).status().code(), StatusCode::kOutOfMemory);
  EXPECT_EQ(a.Allocate((1 << 20) + 1).status().code(), StatusCode::kOutOfMemory);
  EXPECT_TRUE(a.Allocate(1 << 20).ok());  // exactly the capacity fits
}

TEST(ArenaAllocatorTest, ReuseAfterFree) {
  ArenaAllocator a(4 * kA);
  uint64_t x = MustAllocate(&a, 4 * kA);
  EXPECT_FALSE(a.Allocate(1).ok());
  a.Free(x);
  EXPECT_EQ(MustAllocate(&a, 4 * kA), x);
}

TEST(ArenaAllocatorTest, DoubleFreeIsIgnored) {
  ArenaAllocator a(4 * kA);
  uint64_t x = MustAllocate(&a, kA);
  uint64_t y = MustAllocate(&a, kA);
  a.Free(x);
  a.Free(x);        // ignored
  a.Free(12345);    // never allocated: ignored
  EXPECT_EQ(a.used(), kA);
  EXPECT_EQ(a.AllocationSize(y), kA);
  a.Free(y);
  EXPECT_EQ(a.largest_free_block(), 4 * kA);
}

TEST(ArenaAllocatorTest, RandomWorkloadKeepsInvariants) {
  ArenaAllocator a(1 << 20);
  std::mt19937_64 rng(42);
  std::vector<std::pair<uint64_t, uint64_t>> live;  // offset, requested size
  uint64_t expect_used = 0;
  for (int step = 0; step < 20000; step++) {
    if (live.empty() || rng() % 3 != 0) {
      uint64_t size = rng() % 20000;
      Result<uint64_t> r = a.Allocate(size);
      if (!r.ok()) {
        EXPECT_LT(a.largest_free_block(), std::max<uint64_t>(size, 1));
        continue;
      }
      EXPECT_EQ(r.value() % kA, 0u);
      live.push_back({r.value(), size});
      expect_used += a.AllocationSize(r.value());
    } else {
      size_t i = rng() % live.size();
      expect_used -= a.AllocationSize(live[i].first);
      a.Free(live[i].first);
      live[i] = live.back();
      live.pop_back();
    }
    ASSERT_EQ(a.used(), expect_used);
  }
  for (auto& l : live) a.Free(l.first);
  EXPECT_EQ(a.used(), 0u);
  EXPECT_EQ(a.num_free_blocks(), 1u);
  EXPECT_EQ(a.largest_free_block(), a.capacity());
}

}  // namespace
}  // namespace lumos::object_store
