// BundleBook (the raylet's placement group bundles) and the LeaseManager
// operations bundles use: reserve/unreserve, group resources appearing on
// commit, requests for not-yet-committed group resources, fail_on_infeasible.
#include "raylet/bundle_book.h"

#include <gtest/gtest.h>

#include "raylet/lease_manager.h"

namespace lumos::raylet {
namespace {

ResourceSet RS(const std::map<std::string, double>& m) { return ResourceSet::FromMap(m).value(); }

TEST(BundleBookTest, GroupResourceNames) {
  ResourceSet g = BundleBook::GroupResources("abc", 1, RS({{"CPU", 2}, {"GPU", 0.5}}));
  EXPECT_EQ(g.Get("CPU_group_1_abc"), 2.0);
  EXPECT_EQ(g.Get("CPU_group_abc"), 2.0);
  EXPECT_EQ(g.Get("GPU_group_1_abc"), 0.5);
  EXPECT_EQ(g.Get("bundle_group_1_abc"), BundleBook::kBundleMarker);
  EXPECT_EQ(g.Get("bundle_group_abc"), BundleBook::kBundleMarker);
  EXPECT_EQ(g.Get("CPU"), 0.0);
  EXPECT_TRUE(BundleBook::IsGroupResource("CPU_group_abc"));
  EXPECT_FALSE(BundleBook::IsGroupResource("CPU"));
}

TEST(BundleBookTest, PrepareCommitRemove) {
  BundleBook book;
  EXPECT_FALSE(book.Commit("pg", 0).has_value());  // never prepared
  book.AddPrepared("pg", 0, RS({{"CPU", 1}}));
  book.AddPrepared("pg", 2, RS({{"CPU", 1}}));
  book.AddPrepared("other", 0, RS({{"CPU", 1}}));
  EXPECT_TRUE(book.Has("pg", 0));
  auto added = book.Commit("pg", 0);
  ASSERT_TRUE(added.has_value());
  EXPECT_EQ(added->Get("CPU_group_0_pg"), 1.0);
  EXPECT_TRUE(book.Commit("pg", 0)->IsEmpty());  // committing twice adds nothing
  EXPECT_EQ(book.IndicesOf("pg"), (std::vector<int32_t>{0, 2}));
  auto e = book.Remove("pg", 0);
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->committed);
  EXPECT_FALSE(book.Remove("pg", 0).has_value());
  EXPECT_FALSE(book.Remove("pg", 2)->committed);
  EXPECT_EQ(book.size(), 1u);
}

TEST(LeaseManagerBundlesTest, ReserveCommitAndReturn) {
  LeaseManager lm(RS({{"CPU", 4}}), 4);
  EXPECT_FALSE(lm.TryReserve(RS({{"CPU", 5}})));
  EXPECT_EQ(lm.available().Get("CPU"), 4.0);
  ASSERT_TRUE(lm.TryReserve(RS({{"CPU", 3}})));
  EXPECT_EQ(lm.available().Get("CPU"), 1.0);
  ResourceSet group = BundleBook::GroupResources("pg", 0, RS({{"CPU", 3}}));
  lm.AddResources(group);
  EXPECT_EQ(lm.total().Get("CPU_group_0_pg"), 3.0);
  // A task in the bundle is granted from the bundle's resources only.
  WorkerID w = WorkerID::FromRandom();
  lm.WorkerStarted(w);
  LeaseRequest r;
  r.requester = 1;
  r.resources = RS({{"CPU_group_0_pg", 3}, {"CPU_group_pg", 3}});
  lm.AddRequest(r);
  auto actions = lm.Schedule();
  ASSERT_EQ(actions.size(), 1u);
  ASSERT_EQ(actions[0].kind, LeaseAction::kGrant);
  EXPECT_EQ(lm.available().Get("CPU"), 1.0);
  // Removing the group while the lease holds it: back to zero when it returns.
  lm.RemoveResources(group);
  lm.Unreserve(RS({{"CPU", 3}}));
  lm.ReturnLease(actions[0].lease_id, false);
  EXPECT_EQ(lm.available().Get("CPU_group_0_pg"), 0.0);
  EXPECT_EQ(lm.total().Get("CPU_group_0_pg"), 0.0);
  EXPECT_EQ(lm.available(), RS({{"CPU", 4}}));
}

TEST(LeaseManagerBundlesTest, MissingGroupResourcesAreNotInfeasible) {
  LeaseManager lm(RS({{"CPU", 4}}), 4);
  LeaseRequest r;
  r.requester = 1;
  r.task_name = "in_pg";
  r.resources = RS({{"bundle_group_pg", 0.001}});
  r.fail_on_infeasible = true;
  lm.AddRequest(r);
  EXPECT_TRUE(lm.Schedule().empty() || lm.Schedule()[0].kind != LeaseAction::kInfeasible);
  EXPECT_EQ(lm.num_pending(), 1u);  // waits for the bundle's commit
}

TEST(LeaseManagerBundlesTest, FailOnInfeasibleRejects) {
  LeaseManager lm(RS({{"CPU", 2}}), 4);
  LeaseRequest r;
  r.requester = 1;
  r.task_name = "big";
  r.resources = RS({{"CPU", 8}});
  r.fail_on_infeasible = true;
  lm.AddRequest(r);
  auto actions = lm.Schedule();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, LeaseAction::kInfeasible);
  EXPECT_TRUE(actions[0].reject);
  EXPECT_NE(actions[0].message.find("'CPU': 8.0"), std::string::npos) << actions[0].message;
  EXPECT_NE(actions[0].message.find("'CPU': 2.0"), std::string::npos) << actions[0].message;
  EXPECT_EQ(lm.num_pending(), 0u);
  // Without the flag it stays pending and is warned about once.
  r.fail_on_infeasible = false;
  lm.AddRequest(r);
  actions = lm.Schedule();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_FALSE(actions[0].reject);
  EXPECT_TRUE(lm.Schedule().empty());
  EXPECT_EQ(lm.num_pending(), 1u);
}

TEST(LeaseManagerBundlesTest, InfeasibleDemandsOnePerShape) {
  LeaseManager lm(RS({{"CPU", 2}}), 4);
  for (int i = 0; i < 3; i++) {
    LeaseRequest r;
    r.requester = 1;
    r.task_name = "big";
    r.resources = RS({{"CPU", 8}});
    lm.AddRequest(r);
  }
  LeaseRequest pg;
  pg.requester = 1;
  pg.task_name = "in_pg";
  pg.resources = RS({{"CPU_group_x", 1}});
  lm.AddRequest(pg);
  EXPECT_TRUE(lm.InfeasibleDemands().empty());  // not yet looked at
  lm.Schedule();
  auto d = lm.InfeasibleDemands();
  ASSERT_EQ(d.size(), 1u);  // the placement group request is not infeasible
  EXPECT_EQ(d[0], "task 'big': {'CPU': 8.0} x3");
  lm.RequesterGone(1);
  EXPECT_TRUE(lm.InfeasibleDemands().empty());
}

TEST(BundleBookTest, GroupOfAResourceName) {
  EXPECT_EQ(BundleBook::GroupOf("CPU_group_abc"), "abc");
  EXPECT_EQ(BundleBook::GroupOf("CPU_group_12_abc"), "abc");
  EXPECT_EQ(BundleBook::GroupOf("my_res_group_0_abc"), "abc");
  EXPECT_EQ(BundleBook::GroupOf("bundle_group_abc"), "abc");
  EXPECT_EQ(BundleBook::GroupOf("CPU"), "");
  EXPECT_EQ(BundleBook::GroupOf("my_custom_res"), "");
}

TEST(BundleBookTest, RemembersRemovedGroupsBounded) {
  BundleBook book;
  EXPECT_FALSE(book.AnyRemoved());
  EXPECT_EQ(book.RemovedGroupIn({"CPU_group_abc"}), "");
  book.MarkRemoved("abc");
  book.MarkRemoved("abc");  // idempotent
  EXPECT_TRUE(book.WasRemoved("abc"));
  EXPECT_EQ(book.RemovedGroupIn({"CPU", "bundle_group_0_abc"}), "abc");
  EXPECT_EQ(book.RemovedGroupIn({"CPU", "CPU_group_def"}), "");
  for (size_t i = 0; i < BundleBook::kMaxRemembered; i++) book.MarkRemoved("g" + std::to_string(i));
  EXPECT_FALSE(book.WasRemoved("abc"));  // the oldest is forgotten first
  EXPECT_TRUE(book.WasRemoved("g0"));
}

TEST(BundleBookTest, RemovedGroupRequestsAndLeases) {
  LeaseManager lm(RS({{"CPU", 4}}), 4);
  lm.AddResources(BundleBook::GroupResources("pg", 0, RS({{"CPU", 2}})));
  lm.AddResources(BundleBook::GroupResources("other", 0, RS({{"CPU", 1}})));
  for (int i = 0; i < 3; i++) lm.WorkerStarted(WorkerID::FromRandom());
  auto req = [](uint64_t tag, std::map<std::string, double> res, std::map<std::string, double> pl = {}) {
    LeaseRequest r;
    r.requester = 1;
    r.reply_tag = tag;
    r.resources = RS(res);
    r.placement = RS(pl);
    return r;
  };
  lm.AddRequest(req(1, {{"CPU_group_0_pg", 1}, {"CPU_group_pg", 1}, {"bundle_group_0_pg", 0.001}}));
  lm.AddRequest(req(2, {{"CPU_group_other", 1}}));
  lm.AddRequest(req(3, {{"CPU", 1}}));
  ASSERT_EQ(lm.Schedule().size(), 3u);  // all granted
  lm.AddRequest(req(4, {{"CPU_group_pg", 8}}));                    // never fits: waits
  lm.AddRequest(req(5, {{"bundle_group_pg", 0.001}}, {{"CPU_group_pg", 1}}));  // placement only
  lm.AddRequest(req(6, {{"CPU", 8}}));
  auto leases = lm.GroupLeases("pg");
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].resources.Get("CPU_group_pg"), 1.0);
  auto dropped = lm.DropGroupRequests("pg");
  ASSERT_EQ(dropped.size(), 2u);
  EXPECT_EQ(dropped[0].reply_tag, 4u);
  EXPECT_EQ(dropped[1].reply_tag, 5u);
  EXPECT_EQ(lm.num_pending(), 1u);  // the plain request stays
  EXPECT_TRUE(lm.DropGroupRequests("pg").empty());
  EXPECT_TRUE(lm.GroupLeases("nope").empty());
}

}  // namespace
}  // namespace lumos::raylet
