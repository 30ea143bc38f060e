// GpuAllocator: GPU ids for whole and fractional requests, packing, release.
#include "raylet/gpu_allocator.h"

#include <gtest/gtest.h>

namespace lumos::raylet {
namespace {

constexpr int64_t kUnit = GpuAllocator::kUnit;
using Ids = std::vector<int>;

TEST(GpuAllocatorTest, FixedPointIsOneTenThousandth) {
  EXPECT_EQ(kUnit, 10000);
  EXPECT_EQ(GpuAllocator::ToUnits(1.0), 10000);
  EXPECT_EQ(GpuAllocator::ToUnits(0.5), 5000);
  EXPECT_EQ(GpuAllocator::ToUnits(0.0001), 1);
  EXPECT_EQ(GpuAllocator::ToUnits(0.1) * 10, kUnit);  // no drift: ten tenths fill a GPU
}

TEST(GpuAllocatorTest, WholeRequestsTakeFreeGpusLowestFirst) {
  GpuAllocator a(4);
  EXPECT_EQ(GpuAllocator::Ids(*a.Allocate(kUnit)), Ids({0}));
  EXPECT_EQ(GpuAllocator::Ids(*a.Allocate(2 * kUnit)), Ids({1, 2}));
  EXPECT_FALSE(a.Allocate(2 * kUnit));  // only GPU 3 left
  EXPECT_EQ(a.free_units(3), kUnit);    // a failed request changes nothing
  EXPECT_EQ(GpuAllocator::Ids(*a.Allocate(kUnit)), Ids({3}));
  EXPECT_FALSE(a.Allocate(1));
}

TEST(GpuAllocatorTest, ZeroAmountGetsNoGpu) {
  GpuAllocator a(0);
  auto got = a.Allocate(0);
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->empty());
  EXPECT_FALSE(a.Allocate(1));
  EXPECT_FALSE(a.Feasible(1));
  EXPECT_TRUE(a.Feasible(0));
}

TEST(GpuAllocatorTest, FractionsPackOntoOneGpuBeforeOpeningTheNext) {
  GpuAllocator a(2);
  for (int i = 0; i < 4; i++) EXPECT_EQ(GpuAllocator::Ids(*a.Allocate(kUnit / 4)), Ids({0})) << i;
  EXPECT_EQ(a.free_units(0), 0);
  EXPECT_EQ(GpuAllocator::Ids(*a.Allocate(kUnit / 4)), Ids({1}));  // GPU 0 full: open GPU 1
  EXPECT_EQ(a.free_units(1), 3 * kUnit / 4);
}

TEST(GpuAllocatorTest, BestFitKeepsWholeGpusFree) {
  GpuAllocator a(3);
  auto x = a.Allocate(6000);  // GPU 0: 0.4 left
  auto y = a.Allocate(7000);  // does not fit GPU 0: GPU 1, 0.3 left
  EXPECT_EQ(GpuAllocator::Ids(*y), Ids({1}));
  // 0.3 fits both partly used GPUs; it goes to the fuller one (GPU 1).
  EXPECT_EQ(GpuAllocator::Ids(*a.Allocate(3000)), Ids({1}));
  EXPECT_EQ(GpuAllocator::Ids(*a.Allocate(4000)), Ids({0}));
  // GPU 2 stayed whole for a whole request.
  EXPECT_EQ(GpuAllocator::Ids(*a.Allocate(kUnit)), Ids({2}));
  (void)x;
}

TEST(GpuAllocatorTest, WholeRequestsSkipPartlyUsedGpus) {
  GpuAllocator a(2);
  a.Allocate(1);  // 0.0001 of GPU 0
  EXPECT_EQ(GpuAllocator::Ids(*a.Allocate(kUnit)), Ids({1}));
  EXPECT_FALSE(a.Allocate(kUnit));
  EXPECT_TRUE(a.Allocate(kUnit - 1));  // the rest of GPU 0, to the last unit
  EXPECT_FALSE(a.Allocate(1));
}

TEST(GpuAllocatorTest, ReleaseReturnsExactlyWhatWasTaken) {
  GpuAllocator a(2);
  auto half = a.Allocate(kUnit / 2);
  auto two = a.Allocate(2 * kUnit);
  EXPECT_FALSE(two);  // GPU 0 is half used
  auto one = a.Allocate(kUnit);
  EXPECT_EQ(GpuAllocator::Ids(*one), Ids({1}));
  a.Release(*half);
  EXPECT_EQ(a.free_units(0), kUnit);
  a.Release(*one);
  EXPECT_EQ(GpuAllocator::Ids(*a.Allocate(2 * kUnit)), Ids({0, 1}));
}

TEST(GpuAllocatorTest, ManySmallSharesAddUpWithoutDrift) {
  GpuAllocator a(1);
  std::vector<GpuAllocator::Assignment> held;
  for (int i = 0; i < 10; i++) held.push_back(*a.Allocate(GpuAllocator::ToUnits(0.1)));
  EXPECT_EQ(a.free_units(0), 0);
  EXPECT_FALSE(a.Allocate(1));
  for (const auto& h : held) a.Release(h);
  EXPECT_EQ(a.free_units(0), kUnit);
}

TEST(GpuAllocatorTest, NonWholeAmountsAboveOneAreInvalid) {
  GpuAllocator a(4);
  EXPECT_FALSE(GpuAllocator::CheckRequest(15000).empty());
  EXPECT_FALSE(GpuAllocator::CheckRequest(-1).empty());
  EXPECT_TRUE(GpuAllocator::CheckRequest(20000).empty());
  EXPECT_TRUE(GpuAllocator::CheckRequest(9999).empty());
  EXPECT_FALSE(a.Allocate(15000));
  EXPECT_FALSE(a.Feasible(15000));
  EXPECT_EQ(a.free_units(0), kUnit);
}

TEST(GpuAllocatorTest, FeasibleComparesWithTheNodeShape) {
  GpuAllocator a(2);
  EXPECT_TRUE(a.Feasible(2 * kUnit));
  EXPECT_FALSE(a.Feasible(3 * kUnit));
  a.Allocate(2 * kUnit);
  EXPECT_TRUE(a.Feasible(2 * kUnit));  // feasible on the idle node, not free now
  EXPECT_FALSE(a.Find(1));
}

}  // namespace
}  // namespace lumos::raylet
