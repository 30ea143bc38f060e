// ClusterScheduler: DEFAULT (hybrid), SPREAD, node affinity, node labels and
// placement-group bundle strategies over simulated node views.
#include "scheduling/cluster_scheduler.h"

#include <gtest/gtest.h>

#include <set>

namespace lumos::scheduling {
namespace {

ResourceSet RS(const std::map<std::string, double>& m) { return ResourceSet::FromMap(m).value(); }

class ClusterSchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 4; i++) ids.push_back(NodeID::FromRandom());
    sched = ClusterScheduler(ids[0], 0.5);
    for (auto& id : ids) sched.UpsertNode(id, RS({{"CPU", 4}}), RS({{"CPU", 4}}));
  }
  ResourceRequest Req(const std::map<std::string, double>& m) { return sched.MakeRequest(RS(m)); }
  std::vector<NodeID> ids;
  ClusterScheduler sched;
};

TEST_F(ClusterSchedulerTest, DefaultPacksLocallyUntilTheThresholdThenSpreads) {
  auto one = Req({{"CPU", 1}});
  SchedulingStrategy def;
  // Local node utilisation 0, 0.25 (< 0.5): local.
  for (int i = 0; i < 2; i++) {
    Decision d = sched.Schedule(one, def);
    ASSERT_EQ(d.kind, Decision::kNode);
    EXPECT_EQ(d.node, ids[0]);
    ASSERT_TRUE(sched.Allocate(d.node, one));
  }
  // Local at 0.5: the next node under the threshold.
  Decision d = sched.Schedule(one, def);
  ASSERT_EQ(d.kind, Decision::kNode);
  EXPECT_NE(d.node, ids[0]);
}

TEST_F(ClusterSchedulerTest, DefaultPicksLeastUtilisedWhenAllAreAboveThreshold) {
  auto three = Req({{"CPU", 3}});
  for (auto& id : ids) ASSERT_TRUE(sched.Allocate(id, Req({{"CPU", id == ids[2] ? 2.0 : 3.0}})));
  // Every node is >= 0.5 used; only ids[2] (0.5) has room for 1 CPU... and is least used.
  Decision d = sched.Schedule(Req({{"CPU", 1}}), SchedulingStrategy());
  ASSERT_EQ(d.kind, Decision::kNode);
  EXPECT_EQ(d.node, ids[2]);
  // 3 CPUs: fits every node's total, none now -> wait.
  d = sched.Schedule(three, SchedulingStrategy());
  EXPECT_EQ(d.kind, Decision::kWait);
}

TEST_F(ClusterSchedulerTest, InfeasibleNamesTheLargestNode) {
  Decision d = sched.Schedule(Req({{"CPU", 5}}), SchedulingStrategy());
  EXPECT_EQ(d.kind, Decision::kInfeasible);
  EXPECT_NE(d.reason.find("'CPU': 4.0"), std::string::npos) << d.reason;
  d = sched.Schedule(Req({{"GPU", 1}}), SchedulingStrategy());
  EXPECT_EQ(d.kind, Decision::kInfeasible);
  EXPECT_NE(d.reason.find("'GPU': 0.0"), std::string::npos) << d.reason;
}

TEST_F(ClusterSchedulerTest, FractionalAmountsAreExact) {
  auto tenth = Req({{"CPU", 0.1}});
  sched = ClusterScheduler(ids[0], 2.0);  // never spread
  sched.UpsertNode(ids[0], RS({{"CPU", 1}}), RS({{"CPU", 1}}));
  for (int i = 0; i < 10; i++) {
    Decision d = sched.Schedule(tenth, SchedulingStrategy());
    ASSERT_EQ(d.kind, Decision::kNode) << i;
    ASSERT_TRUE(sched.Allocate(d.node, tenth));
  }
  EXPECT_EQ(sched.Schedule(tenth, SchedulingStrategy()).kind, Decision::kWait);
  EXPECT_TRUE(sched.Available(ids[0]).IsEmpty());
}

TEST_F(ClusterSchedulerTest, SpreadRoundRobins) {
  SchedulingStrategy spread;
  spread.kind = SchedulingStrategy::kSpread;
  std::set<NodeID> seen;
  for (int i = 0; i < 4; i++) {
    Decision d = sched.Schedule(Req({{"CPU", 1}}), spread);
    ASSERT_EQ(d.kind, Decision::kNode);
    seen.insert(d.node);
  }
  EXPECT_EQ(seen.size(), 4u);
}

TEST_F(ClusterSchedulerTest, NodeAffinityHardAndSoft) {
  SchedulingStrategy aff;
  aff.kind = SchedulingStrategy::kNodeAffinity;
  aff.affinity_node = ids[3];
  Decision d = sched.Schedule(Req({{"CPU", 1}}), aff);
  ASSERT_EQ(d.kind, Decision::kNode);
  EXPECT_EQ(d.node, ids[3]);
  // Busy: hard and soft wait on their node (like Ray); only
  // spill_on_unavailable goes elsewhere.
  ASSERT_TRUE(sched.Allocate(ids[3], Req({{"CPU", 4}})));
  d = sched.Schedule(Req({{"CPU", 1}}), aff);
  EXPECT_EQ(d.node, ids[3]);
  aff.soft = true;
  d = sched.Schedule(Req({{"CPU", 1}}), aff);
  ASSERT_EQ(d.kind, Decision::kNode);
  EXPECT_EQ(d.node, ids[3]);
  aff.spill_on_unavailable = true;
  d = sched.Schedule(Req({{"CPU", 1}}), aff);
  ASSERT_EQ(d.kind, Decision::kNode);
  EXPECT_NE(d.node, ids[3]);
  aff.spill_on_unavailable = false;
  // Unknown node: soft falls back, hard is infeasible with a reason.
  aff.affinity_node = NodeID::FromRandom();
  EXPECT_EQ(sched.Schedule(Req({{"CPU", 1}}), aff).kind, Decision::kNode);
  aff.soft = false;
  d = sched.Schedule(Req({{"CPU", 1}}), aff);
  EXPECT_EQ(d.kind, Decision::kInfeasible);
  EXPECT_NE(d.reason.find("not alive"), std::string::npos);
  // Known node too small: hard infeasible.
  aff.affinity_node = ids[1];
  d = sched.Schedule(Req({{"CPU", 8}}), aff);
  EXPECT_EQ(d.kind, Decision::kInfeasible);
}

TEST_F(ClusterSchedulerTest, NodeLabelsHardFilterSoftPrefer) {
  sched.UpsertNode(ids[1], RS({{"CPU", 4}}), RS({{"CPU", 4}}), {{"zone", "a"}, {"ssd", "1"}});
  sched.UpsertNode(ids[2], RS({{"CPU", 4}}), RS({{"CPU", 4}}), {{"zone", "b"}});
  SchedulingStrategy s;
  s.kind = SchedulingStrategy::kNodeLabel;
  s.hard_labels = {LabelExpression{"zone", LabelExpression::kIn, {"a", "b"}}};
  s.soft_labels = {LabelExpression{"ssd", LabelExpression::kExists, {}}};
  Decision d = sched.Schedule(Req({{"CPU", 1}}), s);
  ASSERT_EQ(d.kind, Decision::kNode);
  EXPECT_EQ(d.node, ids[1]);
  ASSERT_TRUE(sched.Allocate(ids[1], Req({{"CPU", 4}})));
  d = sched.Schedule(Req({{"CPU", 1}}), s);  // preferred node full: the other hard match
  ASSERT_EQ(d.kind, Decision::kNode);
  EXPECT_EQ(d.node, ids[2]);
  s.hard_labels = {LabelExpression{"zone", LabelExpression::kIn, {"c"}}};
  d = sched.Schedule(Req({{"CPU", 1}}), s);
  EXPECT_EQ(d.kind, Decision::kInfeasible);
  EXPECT_NE(d.reason.find("label"), std::string::npos);
  LabelExpression not_in{"zone", LabelExpression::kNotIn, {"a"}};
  EXPECT_TRUE(not_in.Matches({}));
  EXPECT_FALSE(not_in.Matches({{"zone", "a"}}));
  LabelExpression absent{"gpu", LabelExpression::kDoesNotExist, {}};
  EXPECT_TRUE(absent.Matches({{"zone", "a"}}));
}

TEST_F(ClusterSchedulerTest, RemovedNodesAreNotChosen) {
  for (int i = 1; i < 4; i++) sched.RemoveNode(ids[i]);
  EXPECT_EQ(sched.num_nodes(), 1u);
  SchedulingStrategy spread;
  spread.kind = SchedulingStrategy::kSpread;
  for (int i = 0; i < 3; i++) EXPECT_EQ(sched.Schedule(Req({{"CPU", 1}}), spread).node, ids[0]);
  sched.RemoveNode(ids[0]);
  Decision d = sched.Schedule(Req({{"CPU", 1}}), SchedulingStrategy());
  EXPECT_EQ(d.kind, Decision::kInfeasible);
}

TEST_F(ClusterSchedulerTest, BundleStrictPackNeedsOneNode) {
  std::vector<ResourceRequest> b = {Req({{"CPU", 2}}), Req({{"CPU", 2}})};
  BundleDecision d = sched.ScheduleBundles(b, BundleStrategy::kStrictPack);
  ASSERT_EQ(d.kind, Decision::kNode);
  EXPECT_EQ(d.nodes[0], d.nodes[1]);
  b.push_back(Req({{"CPU", 1}}));
  d = sched.ScheduleBundles(b, BundleStrategy::kStrictPack);
  EXPECT_EQ(d.kind, Decision::kInfeasible);
  EXPECT_NE(d.reason.find("STRICT_PACK"), std::string::npos);
  // PACK spills over instead.
  d = sched.ScheduleBundles(b, BundleStrategy::kPack);
  ASSERT_EQ(d.kind, Decision::kNode);
  EXPECT_EQ(d.nodes[0], d.nodes[1]);
  EXPECT_NE(d.nodes[1], d.nodes[2]);
}

TEST_F(ClusterSchedulerTest, BundleStrictSpreadNeedsDistinctNodes) {
  std::vector<ResourceRequest> b(4, Req({{"CPU", 1}}));
  BundleDecision d = sched.ScheduleBundles(b, BundleStrategy::kStrictSpread);
  ASSERT_EQ(d.kind, Decision::kNode);
  EXPECT_EQ(std::set<NodeID>(d.nodes.begin(), d.nodes.end()).size(), 4u);
  b.push_back(Req({{"CPU", 1}}));
  d = sched.ScheduleBundles(b, BundleStrategy::kStrictSpread);
  EXPECT_EQ(d.kind, Decision::kInfeasible);
  // SPREAD reuses nodes when it must.
  d = sched.ScheduleBundles(b, BundleStrategy::kSpread);
  ASSERT_EQ(d.kind, Decision::kNode);
  EXPECT_EQ(std::set<NodeID>(d.nodes.begin(), d.nodes.end()).size(), 4u);
}

TEST_F(ClusterSchedulerTest, BundlesWaitWhenBusyAndCountEachOther) {
  for (auto& id : ids) ASSERT_TRUE(sched.Allocate(id, Req({{"CPU", 3}})));
  std::vector<ResourceRequest> b = {Req({{"CPU", 1}}), Req({{"CPU", 1}})};
  BundleDecision d = sched.ScheduleBundles(b, BundleStrategy::kPack);
  ASSERT_EQ(d.kind, Decision::kNode);
  EXPECT_NE(d.nodes[0], d.nodes[1]);  // one free CPU per node
  EXPECT_EQ(sched.ScheduleBundles(b, BundleStrategy::kStrictPack).kind, Decision::kWait);
  b.assign(5, Req({{"CPU", 1}}));
  EXPECT_EQ(sched.ScheduleBundles(b, BundleStrategy::kSpread).kind, Decision::kWait);
}

TEST_F(ClusterSchedulerTest, CustomResourcesAppearLate) {
  NodeID gpu_node = NodeID::FromRandom();
  EXPECT_EQ(sched.Schedule(Req({{"accel", 1}}), SchedulingStrategy()).kind, Decision::kInfeasible);
  sched.UpsertNode(gpu_node, RS({{"CPU", 1}, {"accel", 2}}), RS({{"CPU", 1}, {"accel", 2}}));
  Decision d = sched.Schedule(Req({{"accel", 1}}), SchedulingStrategy());
  ASSERT_EQ(d.kind, Decision::kNode);
  EXPECT_EQ(d.node, gpu_node);
  sched.UpdateAvailable(gpu_node, RS({{"CPU", 1}}));
  EXPECT_EQ(sched.Schedule(Req({{"accel", 1}}), SchedulingStrategy()).kind, Decision::kWait);
}

}  // namespace
}  // namespace lumos::scheduling
