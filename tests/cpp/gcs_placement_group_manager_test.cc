// GcsPlacementGroupManager: validation, the two-phase prepare/commit protocol,
// rollback on failure, stale replies, removal, node death and infeasibility.
#include "gcs/placement_group_manager.h"

#include <gtest/gtest.h>

namespace lumos::gcs {
namespace {

using PG = rpc::PlacementGroupTableData;

ResourceSet RS(const std::map<std::string, double>& m) { return ResourceSet::FromMap(m).value(); }

PG MakePg(const std::string& id, std::vector<std::map<std::string, double>> bundles,
          PG::Strategy strategy = PG::PACK, const std::string& name = "") {
  PG pg;
  pg.set_placement_group_id(id);
  pg.set_strategy(strategy);
  pg.set_name(name);
  pg.set_creator_job_id("job1");
  for (const auto& b : bundles) {
    auto* bundle = pg.add_bundles();
    for (const auto& [k, v] : b) (*bundle->mutable_unit_resources())[k] = v;
  }
  return pg;
}

std::vector<PgAction> OfKind(const PgActions& a, PgAction::Kind k) {
  std::vector<PgAction> out;
  for (const auto& x : a) {
    if (x.kind == k) out.push_back(x);
  }
  return out;
}

class PgManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    n1 = NodeID::FromRandom();
    n2 = NodeID::FromRandom();
    m.NodeAlive(n1, RS({{"CPU", 4}}), RS({{"CPU", 4}}));
    m.NodeAlive(n2, RS({{"CPU", 4}}), RS({{"CPU", 4}}));
  }
  PG::State State(const std::string& id) { return m.Get(id).value().state(); }
  GcsPlacementGroupManager m;
  NodeID n1, n2;
};

TEST_F(PgManagerTest, RejectsBadInput) {
  Status s = m.Create(MakePg("a", {}));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("at least one bundle"), std::string::npos);
  s = m.Create(MakePg("b", {{}}));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("bundle 0 is empty"), std::string::npos);
  s = m.Create(MakePg("c", {{{"CPU", -1}}}));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  s = m.Create(MakePg("d", {{{"CPU", 1}}}, static_cast<PG::Strategy>(42)));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(m.Get("a").status().code(), StatusCode::kNotFound);
}

TEST_F(PgManagerTest, PrepareAllThenCommitAll) {
  ASSERT_TRUE(m.Create(MakePg("pg", {{{"CPU", 2}}, {{"CPU", 2}}}, PG::STRICT_SPREAD)).ok());
  PgActions a;
  m.Schedule(&a);
  auto prep = OfKind(a, PgAction::kPrepare);
  ASSERT_EQ(prep.size(), 2u);
  EXPECT_NE(prep[0].node, prep[1].node);
  EXPECT_FALSE(prep[0].commit);  // two nodes: two phases
  EXPECT_EQ(State("pg"), PG::PENDING);
  PgActions b;
  m.PrepareDone("pg", prep[0].attempt, prep[0].node, true, "", &b);
  EXPECT_TRUE(b.empty());  // waits for the other node
  m.PrepareDone("pg", prep[1].attempt, prep[1].node, true, "", &b);
  auto commits = OfKind(b, PgAction::kCommit);
  ASSERT_EQ(commits.size(), 2u);
  EXPECT_EQ(State("pg"), PG::PREPARED);
  PgActions c;
  m.CommitDone("pg", commits[0].attempt, commits[0].node, true, "", &c);
  EXPECT_EQ(State("pg"), PG::PREPARED);
  m.CommitDone("pg", commits[1].attempt, commits[1].node, true, "", &c);
  EXPECT_EQ(State("pg"), PG::CREATED);
  ASSERT_EQ(OfKind(c, PgAction::kReady).size(), 1u);
  // Bundles name their nodes.
  PG pg = m.Get("pg").value();
  EXPECT_FALSE(pg.bundles(0).node_id().empty());
  EXPECT_NE(pg.bundles(0).node_id(), pg.bundles(1).node_id());
}

TEST_F(PgManagerTest, PrepareFailureRollsBackAndRetries) {
  ASSERT_TRUE(m.Create(MakePg("pg", {{{"CPU", 2}}, {{"CPU", 2}}}, PG::STRICT_SPREAD)).ok());
  PgActions a;
  m.Schedule(&a);
  auto prep = OfKind(a, PgAction::kPrepare);
  ASSERT_EQ(prep.size(), 2u);
  PgActions b;
  m.PrepareDone("pg", prep[0].attempt, prep[0].node, true, "", &b);
  m.PrepareDone("pg", prep[1].attempt, prep[1].node, false, "no room", &b);
  // Both nodes are cancelled (cancel is idempotent), the group is pending again.
  EXPECT_EQ(OfKind(b, PgAction::kCancel).size(), 2u);
  EXPECT_EQ(OfKind(b, PgAction::kCommit).size(), 0u);
  EXPECT_EQ(State("pg"), PG::PENDING);
  EXPECT_NE(m.Get("pg").value().pending_reason().find("no room"), std::string::npos);
  // Retried as a new attempt; replies about the old one are ignored.
  PgActions c;
  m.Schedule(&c);
  auto prep2 = OfKind(c, PgAction::kPrepare);
  ASSERT_EQ(prep2.size(), 2u);
  EXPECT_GT(prep2[0].attempt, prep[0].attempt);
  PgActions stale;
  m.CommitDone("pg", prep[0].attempt, prep[0].node, true, "", &stale);
  EXPECT_TRUE(stale.empty());
  // A late successful prepare of the abandoned attempt is given back.
  m.PrepareDone("pg", prep[0].attempt, prep[0].node, true, "", &stale);
  ASSERT_EQ(OfKind(stale, PgAction::kCancel).size(), 1u);
  EXPECT_EQ(stale[0].attempt, prep[0].attempt);
}

TEST_F(PgManagerTest, CommitFailureCancelsEverything) {
  ASSERT_TRUE(m.Create(MakePg("pg", {{{"CPU", 1}}, {{"CPU", 1}}}, PG::STRICT_SPREAD)).ok());
  PgActions a;
  m.Schedule(&a);
  auto prep = OfKind(a, PgAction::kPrepare);
  ASSERT_EQ(prep.size(), 2u);
  PgActions b;
  for (auto& p : prep) m.PrepareDone("pg", p.attempt, p.node, true, "", &b);
  auto commits = OfKind(b, PgAction::kCommit);
  ASSERT_EQ(commits.size(), 2u);
  PgActions c;
  m.CommitDone("pg", commits[0].attempt, commits[0].node, true, "", &c);
  m.CommitDone("pg", commits[1].attempt, commits[1].node, false, "raylet restarted", &c);
  EXPECT_EQ(OfKind(c, PgAction::kCancel).size(), 2u);  // the committed node too
  EXPECT_EQ(State("pg"), PG::PENDING);
}

TEST_F(PgManagerTest, OnePhaseWhenOneNodeHoldsTheGroup) {
  ASSERT_TRUE(m.Create(MakePg("pg", {{{"CPU", 1}}, {{"CPU", 2}}}, PG::STRICT_PACK)).ok());
  PgActions a;
  m.Schedule(&a);
  auto prep = OfKind(a, PgAction::kPrepare);
  ASSERT_EQ(prep.size(), 1u);
  EXPECT_TRUE(prep[0].commit);
  EXPECT_EQ(prep[0].bundles.size(), 2u);
  EXPECT_FALSE(m.IsCreated("pg"));  // what a batched wait reports
  PgActions b;
  m.PrepareDone("pg", prep[0].attempt, prep[0].node, true, "", &b);
  EXPECT_TRUE(OfKind(b, PgAction::kCommit).empty());
  EXPECT_EQ(OfKind(b, PgAction::kReady).size(), 1u);
  EXPECT_EQ(State("pg"), PG::CREATED);
  EXPECT_TRUE(m.IsCreated("pg"));
  EXPECT_FALSE(m.IsCreated("unknown"));
  PgActions r;
  ASSERT_TRUE(m.Remove("pg", &r).ok());
  EXPECT_EQ(OfKind(r, PgAction::kCancel).size(), 1u);
  EXPECT_FALSE(m.IsCreated("pg"));
}

TEST_F(PgManagerTest, RemoveCancelsBundlesAndFreesTheName) {
  ASSERT_TRUE(m.Create(MakePg("pg", {{{"CPU", 1}}}, PG::PACK, "named")).ok());
  EXPECT_EQ(m.Create(MakePg("pg2", {{{"CPU", 1}}}, PG::PACK, "named")).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(m.GetNamed("named", "").value().placement_group_id(), "pg");
  PgActions a;
  m.Schedule(&a);
  auto prep = OfKind(a, PgAction::kPrepare);
  PgActions b;
  m.PrepareDone("pg", prep[0].attempt, prep[0].node, true, "", &b);
  m.CommitDone("pg", prep[0].attempt, prep[0].node, true, "", &b);
  ASSERT_EQ(State("pg"), PG::CREATED);
  PgActions r;
  ASSERT_TRUE(m.Remove("pg", &r).ok());
  auto cancels = OfKind(r, PgAction::kCancel);
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].node, prep[0].node);
  EXPECT_EQ(State("pg"), PG::REMOVED);
  PgActions again;
  EXPECT_TRUE(m.Remove("pg", &again).ok());
  EXPECT_TRUE(OfKind(again, PgAction::kCancel).empty());
  EXPECT_EQ(m.Remove("nope", &again).code(), StatusCode::kNotFound);
  EXPECT_EQ(m.GetNamed("named", "").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(m.Create(MakePg("pg3", {{{"CPU", 1}}}, PG::PACK, "named")).ok());
}

TEST_F(PgManagerTest, RemoveWhilePreparingCancelsLateReplies) {
  ASSERT_TRUE(m.Create(MakePg("pg", {{{"CPU", 1}}})).ok());
  PgActions a;
  m.Schedule(&a);
  auto prep = OfKind(a, PgAction::kPrepare);
  PgActions r;
  ASSERT_TRUE(m.Remove("pg", &r).ok());
  EXPECT_EQ(OfKind(r, PgAction::kCancel).size(), 1u);
  PgActions late;
  m.PrepareDone("pg", prep[0].attempt, prep[0].node, true, "", &late);
  EXPECT_EQ(OfKind(late, PgAction::kCancel).size(), 1u);
  EXPECT_EQ(State("pg"), PG::REMOVED);
}

TEST_F(PgManagerTest, InfeasibleStaysPendingWithAReason) {
  ASSERT_TRUE(m.Create(MakePg("big", {{{"CPU", 8}}})).ok());
  ASSERT_TRUE(m.Create(MakePg("spread", {{{"CPU", 1}}, {{"CPU", 1}}, {{"CPU", 1}}},
                              PG::STRICT_SPREAD))
                  .ok());
  PgActions a;
  m.Schedule(&a);
  EXPECT_TRUE(a.empty());
  PG big = m.Get("big").value();
  EXPECT_TRUE(big.infeasible());
  EXPECT_NE(big.pending_reason().find("'CPU': 4.0"), std::string::npos) << big.pending_reason();
  EXPECT_TRUE(m.Get("spread").value().infeasible());
  EXPECT_EQ(m.num_pending(), 2u);
  // A third node makes STRICT_SPREAD feasible.
  m.NodeAlive(NodeID::FromRandom(), RS({{"CPU", 4}}), RS({{"CPU", 4}}));
  PgActions b;
  m.Schedule(&b);
  EXPECT_EQ(OfKind(b, PgAction::kPrepare).size(), 3u);
  EXPECT_FALSE(m.Get("spread").value().infeasible());
}

TEST_F(PgManagerTest, PlacedGroupsCountAgainstLaterOnes) {
  ASSERT_TRUE(m.Create(MakePg("a", {{{"CPU", 4}}})).ok());
  ASSERT_TRUE(m.Create(MakePg("b", {{{"CPU", 4}}})).ok());
  ASSERT_TRUE(m.Create(MakePg("c", {{{"CPU", 4}}})).ok());
  PgActions a;
  m.Schedule(&a);
  auto prep = OfKind(a, PgAction::kPrepare);
  ASSERT_EQ(prep.size(), 2u);  // two nodes of 4 CPUs
  EXPECT_NE(prep[0].node, prep[1].node);
  EXPECT_EQ(State("c"), PG::PENDING);
  EXPECT_FALSE(m.Get("c").value().infeasible());
}

TEST_F(PgManagerTest, NodeDeathReschedules) {
  ASSERT_TRUE(m.Create(MakePg("pg", {{{"CPU", 1}}, {{"CPU", 1}}}, PG::STRICT_SPREAD)).ok());
  PgActions a;
  m.Schedule(&a);
  auto prep = OfKind(a, PgAction::kPrepare);
  PgActions b;
  for (auto& p : prep) m.PrepareDone("pg", p.attempt, p.node, true, "", &b);
  for (auto& c : OfKind(b, PgAction::kCommit)) m.CommitDone("pg", c.attempt, c.node, true, "", &b);
  ASSERT_EQ(State("pg"), PG::CREATED);
  PgActions d;
  m.NodeDead(n2, &d);
  auto cancels = OfKind(d, PgAction::kCancel);
  ASSERT_EQ(cancels.size(), 1u);  // the surviving node's bundle
  EXPECT_EQ(cancels[0].node, n1);
  EXPECT_EQ(State("pg"), PG::RESCHEDULING);
  NodeID n3 = NodeID::FromRandom();
  m.NodeAlive(n3, RS({{"CPU", 4}}), RS({{"CPU", 4}}));
  PgActions e;
  m.Schedule(&e);
  EXPECT_EQ(OfKind(e, PgAction::kPrepare).size(), 2u);
}

TEST_F(PgManagerTest, JobFinishedRemovesItsNonDetachedGroups) {
  PG detached = MakePg("keep", {{{"CPU", 1}}});
  detached.set_detached(true);
  ASSERT_TRUE(m.Create(detached).ok());
  ASSERT_TRUE(m.Create(MakePg("drop", {{{"CPU", 1}}})).ok());
  PgActions a;
  m.JobFinished("job1", &a);
  EXPECT_EQ(State("drop"), PG::REMOVED);
  EXPECT_EQ(State("keep"), PG::PENDING);
}

TEST_F(PgManagerTest, RemovalTellsEveryKnownNodeAndAsksToKillWork) {
  ASSERT_TRUE(m.Create(MakePg("pg", {{{"CPU", 1}}})).ok());
  PgActions a;
  m.Schedule(&a);
  auto prep = OfKind(a, PgAction::kPrepare);
  ASSERT_EQ(prep.size(), 1u);
  PgActions b;
  m.PrepareDone("pg", prep[0].attempt, prep[0].node, true, "", &b);
  ASSERT_EQ(State("pg"), PG::CREATED);
  PgActions r;
  ASSERT_TRUE(m.Remove("pg", &r).ok());
  auto cancels = OfKind(r, PgAction::kCancel);
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_TRUE(cancels[0].removed);  // the raylet kills what runs in the bundles
  auto removed = OfKind(r, PgAction::kRemoved);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].pg_id, "pg");
  // The other node holds no bundle of the group but learns of the removal.
  NodeID other = prep[0].node == n1 ? n2 : n1;
  EXPECT_EQ(removed[0].nodes, std::vector<NodeID>{other});
  PgActions again;
  ASSERT_TRUE(m.Remove("pg", &again).ok());
  EXPECT_TRUE(OfKind(again, PgAction::kRemoved).empty());
}

TEST_F(PgManagerTest, PendingGroupRemovalTellsEveryNodeAndDeadNodesAreForgotten) {
  ASSERT_TRUE(m.Create(MakePg("big", {{{"CPU", 64}}})).ok());
  PgActions a;
  m.Schedule(&a);
  m.NodeDead(n2, &a);
  PgActions r;
  ASSERT_TRUE(m.Remove("big", &r).ok());
  EXPECT_TRUE(OfKind(r, PgAction::kCancel).empty());  // never placed
  auto removed = OfKind(r, PgAction::kRemoved);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].nodes, std::vector<NodeID>{n1});
}

TEST_F(PgManagerTest, RollbackCancelsDoNotKillWorkButLateRemovedOnesDo) {
  ASSERT_TRUE(m.Create(MakePg("pg", {{{"CPU", 3}}, {{"CPU", 3}}})).ok());
  PgActions a;
  m.Schedule(&a);
  auto prep = OfKind(a, PgAction::kPrepare);
  ASSERT_EQ(prep.size(), 2u);
  PgActions b;
  m.PrepareDone("pg", prep[0].attempt, prep[0].node, false, "no room", &b);
  auto rollback = OfKind(b, PgAction::kCancel);
  ASSERT_FALSE(rollback.empty());
  for (const auto& c : rollback) EXPECT_FALSE(c.removed);  // retried later: work stays
  PgActions late;
  m.PrepareDone("pg", prep[1].attempt, prep[1].node, true, "", &late);
  ASSERT_EQ(OfKind(late, PgAction::kCancel).size(), 1u);
  EXPECT_FALSE(OfKind(late, PgAction::kCancel)[0].removed);
  // After removal, a late commit=true prepare may have started work: kill it.
  PgActions c;
  m.Schedule(&c);
  auto prep2 = OfKind(c, PgAction::kPrepare);
  ASSERT_EQ(prep2.size(), 2u);
  PgActions r;
  ASSERT_TRUE(m.Remove("pg", &r).ok());
  PgActions late2;
  m.PrepareDone("pg", prep2[0].attempt, prep2[0].node, true, "", &late2);
  ASSERT_EQ(OfKind(late2, PgAction::kCancel).size(), 1u);
  EXPECT_TRUE(OfKind(late2, PgAction::kCancel)[0].removed);
}

TEST_F(PgManagerTest, LongRemovedGroupsAreForgottenInMemoryAndInTheStore) {
  m.SetMaxRemovedKept(2);
  m.TrackChanges(true);
  for (const char* id : {"a", "b", "c"}) {
    PG pg = MakePg(id, {{{"CPU", 1}}});
    pg.set_create_time_ms(id[0]);
    ASSERT_TRUE(m.Create(pg).ok());
    PgActions a;
    ASSERT_TRUE(m.Remove(id, &a).ok());
  }
  // "a" was removed longest ago: gone from the table and the store.
  EXPECT_EQ(m.Get("a").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(m.Get("c").value().state(), PG::REMOVED);
  EXPECT_EQ(m.GetAll().size(), 2u);
  EXPECT_EQ(m.TakeForgotten(), std::vector<std::string>{"a"});
  EXPECT_TRUE(m.TakeForgotten().empty());
  for (const auto& row : m.TakeChanges()) EXPECT_NE(row.placement_group_id(), "a");
  // Live groups never count against the cap.
  ASSERT_TRUE(m.Create(MakePg("live", {{{"CPU", 1}}})).ok());
  PgActions a;
  ASSERT_TRUE(m.Remove("b", &a).ok());  // twice: still kept, nothing forgotten
  EXPECT_TRUE(m.TakeForgotten().empty());
  EXPECT_EQ(m.Get("live").value().state(), PG::PENDING);

  // A restart with a smaller cap forgets the oldest stored ones and deletes their rows.
  std::vector<PG> rows;
  for (const char* id : {"r3", "r1", "r2"}) {
    PG pg = MakePg(id, {{{"CPU", 1}}});
    pg.set_create_time_ms(id[1]);
    pg.set_state(PG::REMOVED);
    rows.push_back(pg);
  }
  GcsPlacementGroupManager restored;
  restored.SetMaxRemovedKept(1);
  ASSERT_TRUE(restored.Restore(rows).ok());  // as the GCS does: the store comes after
  restored.TrackChanges(true);
  EXPECT_EQ((restored.TakeForgotten()), (std::vector<std::string>{"r1", "r2"}));
  EXPECT_EQ(restored.Get("r3").value().state(), PG::REMOVED);
  EXPECT_TRUE(restored.TakeChanges().empty());
}

}  // namespace
}  // namespace lumos::gcs
