// LeaseManager with GPUs: leases carry GPU ids, fractions pack, a request must
// fit one GPU (not just the node's total), and a blocked worker keeps its GPUs.
#include <gtest/gtest.h>

#include <vector>

#include "raylet/lease_manager.h"
#include "lease_test_util.h"

namespace lumos::raylet {
namespace {

LeaseRequest Req(uint64_t tag, double cpus, double gpus) {
  LeaseRequest r;
  r.requester = 1;
  r.reply_tag = tag;
  r.resources = RS({{"CPU", cpus}, {"GPU", gpus}});
  r.task_name = "g";
  return r;
}

class LeaseManagerGpuTest : public ::testing::Test {
 protected:
  void Init(double cpus, double gpus, int idle) {
    lm_ = std::make_unique<LeaseManager>(RS({{"CPU", cpus}, {"GPU", gpus}}), 10);
    for (int i = 0; i < idle; i++) lm_->WorkerStarted(WorkerID::FromRandom());
  }
  std::vector<LeaseAction> Grants() { return OfKind(lm_->Schedule(), LeaseAction::kGrant); }
  std::unique_ptr<LeaseManager> lm_;
};

TEST_F(LeaseManagerGpuTest, WholeGpuLeasesGetDistinctIds) {
  Init(8, 4, 4);
  lm_->AddRequest(Req(1, 1, 1));
  lm_->AddRequest(Req(2, 1, 2));
  lm_->AddRequest(Req(3, 1, 0));
  auto g = Grants();
  ASSERT_EQ(g.size(), 3u);
  EXPECT_EQ(g[0].gpu_ids, std::vector<int>({0}));
  EXPECT_EQ(g[1].gpu_ids, std::vector<int>({1, 2}));
  EXPECT_TRUE(g[2].gpu_ids.empty());
  EXPECT_EQ(lm_->available().Get("GPU"), 1.0);
  const LeaseInfo* info = lm_->GetLease(g[1].lease_id);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(GpuAllocator::Ids(info->gpus), std::vector<int>({1, 2}));
  // Returning frees the ids for the next lease.
  lm_->ReturnLease(g[1].lease_id, false);
  lm_->AddRequest(Req(4, 1, 3));
  g = Grants();
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].gpu_ids, std::vector<int>({1, 2, 3}));
}

TEST_F(LeaseManagerGpuTest, FractionalLeasesPackOntoOneGpu) {
  Init(8, 2, 6);
  for (uint64_t tag = 1; tag <= 5; tag++) lm_->AddRequest(Req(tag, 0.5, 0.25));
  auto g = Grants();
  ASSERT_EQ(g.size(), 5u);
  for (int i = 0; i < 4; i++) EXPECT_EQ(g[i].gpu_ids, std::vector<int>({0})) << i;
  EXPECT_EQ(g[4].gpu_ids, std::vector<int>({1}));
  // A whole GPU is no longer free anywhere (GPU 1 is partly used).
  lm_->AddRequest(Req(6, 0, 1));
  EXPECT_TRUE(Grants().empty());
  lm_->ReturnLease(g[4].lease_id, false);
  g = Grants();
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].gpu_ids, std::vector<int>({1}));
}

TEST_F(LeaseManagerGpuTest, AFractionMustFitOneGpuNotJustTheTotal) {
  Init(8, 2, 4);
  lm_->AddRequest(Req(1, 0, 0.6));
  lm_->AddRequest(Req(2, 0, 0.6));
  auto g = Grants();
  ASSERT_EQ(g.size(), 2u);
  EXPECT_NE(g[0].gpu_ids, g[1].gpu_ids);
  // 0.8 GPU is free in total, but 0.4 on each device: 0.5 does not fit.
  EXPECT_NEAR(lm_->available().Get("GPU"), 0.8, 1e-9);
  lm_->AddRequest(Req(3, 0, 0.5));
  EXPECT_TRUE(Grants().empty());
  EXPECT_EQ(lm_->num_pending(), 1u);
  lm_->ReturnLease(g[0].lease_id, false);
  g = Grants();
  ASSERT_EQ(g.size(), 1u);
}

TEST_F(LeaseManagerGpuTest, StartsWorkersOnlyForGpuRequestsThatFit) {
  Init(8, 1, 0);
  lm_->AddRequest(Req(1, 1, 1));
  lm_->AddRequest(Req(2, 1, 1));
  auto starts = OfKind(lm_->Schedule(), LeaseAction::kStartWorkers);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].num_workers, 1);  // the second request waits for the GPU, not a worker
}

TEST_F(LeaseManagerGpuTest, MoreGpusThanTheNodeHasIsInfeasible) {
  Init(8, 1, 1);
  lm_->AddRequest(Req(1, 1, 2));
  auto inf = OfKind(lm_->Schedule(), LeaseAction::kInfeasible);
  ASSERT_EQ(inf.size(), 1u);
  EXPECT_NE(inf[0].message.find("'GPU': 2.0"), std::string::npos) << inf[0].message;
}

TEST_F(LeaseManagerGpuTest, BlockedWorkerLendsCpusButKeepsGpus) {
  Init(1, 1, 3);
  lm_->AddRequest(Req(1, 1, 1));
  auto g = Grants();
  ASSERT_EQ(g.size(), 1u);
  WorkerID blocked = g[0].worker;
  lm_->WorkerBlocked(blocked);
  EXPECT_EQ(lm_->available().Get("CPU"), 1.0);  // lent
  EXPECT_EQ(lm_->available().Get("GPU"), 0.0);  // kept
  // A CPU task runs on the lent CPU; a GPU task does not get the blocked GPU.
  lm_->AddRequest(Req(2, 0, 1));
  lm_->AddRequest(Req(3, 1, 0));
  g = Grants();
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].request.reply_tag, 3u);
  EXPECT_EQ(lm_->gpus().free_units(0), 0);
  // Unblocking takes the CPU back (oversubscribed for a while), GPUs unchanged.
  lm_->WorkerUnblocked(blocked);
  EXPECT_EQ(lm_->available().Get("CPU"), -1.0);
  EXPECT_EQ(lm_->available().Get("GPU"), 0.0);
  // Returning the lease while blocked frees its GPU exactly once.
  lm_->WorkerBlocked(blocked);
  lm_->ReturnLease(*lm_->LeaseOfWorker(blocked), false);
  EXPECT_EQ(lm_->available().Get("GPU"), 1.0);
  EXPECT_EQ(lm_->gpus().free_units(0), GpuAllocator::kUnit);
  g = Grants();
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].request.reply_tag, 2u);
  EXPECT_EQ(g[0].gpu_ids, std::vector<int>({0}));
}

TEST_F(LeaseManagerGpuTest, WorkerDeathReleasesItsGpus) {
  Init(4, 2, 2);
  lm_->AddRequest(Req(1, 1, 2));
  auto g = Grants();
  ASSERT_EQ(g.size(), 1u);
  lm_->WorkerDied(g[0].worker);
  EXPECT_EQ(lm_->gpus().free_units(0), GpuAllocator::kUnit);
  EXPECT_EQ(lm_->gpus().free_units(1), GpuAllocator::kUnit);
}

}  // namespace
}  // namespace lumos::raylet

namespace lumos::raylet {
namespace {

TEST(GpuUnitsOfTest, PlainAndGroupGpuNames) {
  EXPECT_EQ(LeaseManager::GpuUnitsOf(RS({{"CPU", 1}, {"GPU", 1}})), 10000);
  // A bundle index names the same amount twice: counted once.
  EXPECT_EQ(LeaseManager::GpuUnitsOf(RS({{"GPU_group_1_ab12", 0.5}, {"GPU_group_ab12", 0.5}})), 5000);
  EXPECT_EQ(LeaseManager::GpuUnitsOf(RS({{"GPU_group_ab12", 2}})), 20000);
  EXPECT_EQ(LeaseManager::GpuUnitsOf(RS({{"CPU_group_ab12", 1}, {"bundle_group_ab12", 0.001}})), 0);
}

TEST_F(LeaseManagerGpuTest, BundleGpuRequestsGetIds) {
  Init(4, 2, 3);
  // A committed bundle {"GPU": 1, "CPU": 1} of group ab12 at index 0.
  ASSERT_TRUE(lm_->TryReserve(RS({{"CPU", 1}, {"GPU", 1}})));
  lm_->AddResources(RS({{"CPU_group_0_ab12", 1}, {"CPU_group_ab12", 1}, {"GPU_group_0_ab12", 1},
                        {"GPU_group_ab12", 1}}));
  LeaseRequest in_bundle = Req(1, 0, 0);
  in_bundle.resources = RS({{"CPU_group_0_ab12", 1}, {"CPU_group_ab12", 1}, {"GPU_group_0_ab12", 1},
                            {"GPU_group_ab12", 1}});
  lm_->AddRequest(in_bundle);
  lm_->AddRequest(Req(2, 1, 1));  // the GPU outside the bundle
  auto g = Grants();
  ASSERT_EQ(g.size(), 2u);
  ASSERT_EQ(g[0].gpu_ids.size(), 1u);
  ASSERT_EQ(g[1].gpu_ids.size(), 1u);
  EXPECT_NE(g[0].gpu_ids[0], g[1].gpu_ids[0]);
}

}  // namespace
}  // namespace lumos::raylet
