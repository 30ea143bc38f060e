// GcsStorage (SQLite tables on disk: written, reopened, schema version,
// corrupt and newer files refused) and the Restore of each GCS table from
// stored rows (actors, placement groups, jobs, nodes).
#include "gcs/gcs_storage.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "gcs/actor_manager.h"
#include "gcs/job_manager.h"
#include "gcs/node_manager.h"
#include "gcs/placement_group_manager.h"

namespace lumos::gcs {
namespace {

using T = GcsStorage::Table;

class GcsStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gcs_storage_test_XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/gcs.db";
  }
  void TearDown() override {
    for (const char* s : {"", "-wal", "-shm"}) std::remove((path_ + s).c_str());
    rmdir(dir_.c_str());
  }
  std::string dir_, path_;
};

TEST_F(GcsStorageTest, RowsSurviveReopen) {
  {
    auto s = GcsStorage::Open(path_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    auto& st = *s.value();
    ASSERT_TRUE(st.Put(T::kKv, "k1", "v1").ok());
    ASSERT_TRUE(st.Put(T::kKv, std::string("k\0two", 5), std::string("v\0", 2)).ok());
    ASSERT_TRUE(st.Put(T::kKv, "k1", "v1b").ok());  // upsert
    ASSERT_TRUE(st.Apply({{T::kActors, "a1", std::string("x")},
                          {T::kActors, "a2", std::string("y")},
                          {T::kActors, "a1", std::nullopt}})
                    .ok());
    ASSERT_TRUE(st.Put(T::kMeta, "next_job_id", "7").ok());
  }
  auto s = GcsStorage::Open(path_);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto kv = s.value()->LoadAll(T::kKv).value();
  ASSERT_EQ(kv.size(), 2u);
  // Byte order: "k\0two" < "k1".
  EXPECT_EQ(kv[0].first, std::string("k\0two", 5));
  EXPECT_EQ(kv[0].second, std::string("v\0", 2));
  EXPECT_EQ(kv[1].first, "k1");
  EXPECT_EQ(kv[1].second, "v1b");
  auto actors = s.value()->LoadAll(T::kActors).value();
  ASSERT_EQ(actors.size(), 1u);
  EXPECT_EQ(actors[0].first, "a2");
  EXPECT_EQ(*s.value()->Get(T::kMeta, "next_job_id").value(), "7");
  EXPECT_FALSE(s.value()->Get(T::kMeta, "missing").value().has_value());
  EXPECT_TRUE(s.value()->LoadAll(T::kJobs).value().empty());
}

TEST_F(GcsStorageTest, NewerSchemaIsRefusedAndKept) {
  ASSERT_TRUE(GcsStorage::Open(path_).ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value = CAST('99' AS BLOB) WHERE key = CAST('schema_version' AS BLOB)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_changes(db), 1);
  sqlite3_close(db);
  auto s = GcsStorage::Open(path_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("newer lumos (schema version 99"), std::string::npos)
      << s.status().message();
  EXPECT_NE(s.status().message().find(path_), std::string::npos);
  // Not reset: still refused the second time.
  EXPECT_FALSE(GcsStorage::Open(path_).ok());
}

TEST_F(GcsStorageTest, CorruptFileIsAClearError) {
  {
    std::ofstream f(path_, std::ios::binary);
    f << std::string(8192, 'x');
  }
  auto s = GcsStorage::Open(path_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("is not a usable lumos GCS database"), std::string::npos)
      << s.status().message();
  EXPECT_NE(s.status().message().find("move the file away"), std::string::npos);
  std::ifstream f(path_, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, std::string(8192, 'x'));  // never silently reset
}

TEST_F(GcsStorageTest, ASecondOpenerIsRefusedWhileTheFirstHoldsTheFile) {
  auto first = GcsStorage::Open(path_);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = GcsStorage::Open(path_);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("is in use by another process"), std::string::npos)
      << second.status().message();
  first.value().reset();  // released: the next GCS may open it
  EXPECT_TRUE(GcsStorage::Open(path_).ok());
}

TEST_F(GcsStorageTest, MissingDirectoryIsAClearError) {
  auto s = GcsStorage::Open(dir_ + "/no/such/dir/gcs.db");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("cannot open the GCS storage"), std::string::npos);
}

// ---------------------------------------------------------------- Restore

rpc::TaskSpec Creation(const std::string& name, bool detached, const std::string& owner_ep) {
  rpc::TaskSpec t;
  t.set_job_id(JobID::FromInt(1).Binary());
  t.mutable_caller()->set_worker_id(WorkerID::FromRandom().Binary());
  t.mutable_caller()->set_endpoint(owner_ep);
  (*t.mutable_placement_resources())["CPU"] = 1;
  auto* c = t.mutable_actor_creation();
  c->set_actor_id(WorkerID::FromRandom().Binary());
  c->set_name(name);
  c->set_ray_namespace("ns");
  c->set_detached(detached);
  c->set_max_restarts(1);
  return t;
}

TEST(ActorRestoreTest, AliveAdoptedPendingRescheduledIndexesRebuilt) {
  GcsActorManager m;
  m.TrackChanges(true);
  ActorActions a;
  rpc::TaskSpec alive = Creation("svc", /*detached=*/true, "unix:/owner1");
  rpc::TaskSpec pending = Creation("", false, "unix:/owner2");
  ASSERT_TRUE(m.Register(alive, nullptr, &a).ok());
  ASSERT_TRUE(m.Register(pending, nullptr, &a).ok());
  const std::string alive_id = alive.actor_creation().actor_id();
  uint64_t attempt = 0;
  for (const auto& x : a) {
    if (x.kind == ActorAction::kSchedule && x.actor_id == alive_id) attempt = x.attempt;
  }
  ActorLease lease;
  lease.node_id = NodeID::FromRandom();
  lease.lease_id = 42;
  lease.worker_address.set_worker_id(WorkerID::FromRandom().Binary());
  lease.worker_address.set_endpoint("unix:/worker");
  ASSERT_TRUE(m.LeaseGranted(alive_id, attempt, lease, &a));
  m.CreationSucceeded(alive_id, attempt, &a);
  ASSERT_TRUE(m.Subscribe(alive_id, "unix:/sub", nullptr, &a).ok());

  std::vector<rpc::StoredActor> rows;
  for (auto& [id, row] : m.TakeChanges()) rows.push_back(*row);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(m.TakeChanges().empty());

  GcsActorManager r;
  ActorActions ra;
  r.Restore(rows, &ra);
  EXPECT_EQ(r.num_actors(), 2u);
  auto named = r.GetNamed("svc", "ns");
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named.value().state(), rpc::ActorTableData::ALIVE);
  EXPECT_EQ(named.value().version(), m.Get(alive_id).value().version());
  EXPECT_TRUE(r.HasWorker(lease.worker_id()));
  EXPECT_EQ(r.num_subscriptions("unix:/sub"), 1u);
  int adopt = 0, schedule = 0, watch = 0;
  for (const auto& x : ra) {
    adopt += x.kind == ActorAction::kAdoptWorker && x.actor_id == alive_id && x.lease.lease_id == 42;
    schedule += x.kind == ActorAction::kSchedule && x.actor_id == pending.actor_creation().actor_id();
    watch += x.kind == ActorAction::kWatch;
  }
  EXPECT_EQ(adopt, 1);
  EXPECT_EQ(schedule, 1);
  EXPECT_EQ(watch, 3);  // two owners and the subscriber
  // The restored worker dies: the actor restarts as before the restart.
  ActorActions da;
  EXPECT_TRUE(r.WorkerDied(lease.worker_id(), "SIGKILL", &da));
  EXPECT_EQ(r.Get(alive_id).value().state(), rpc::ActorTableData::RESTARTING);
  // The owner of the non-detached one is gone: it dies; the detached one does not.
  ActorActions oa;
  r.EndpointGone("unix:/owner2", &oa);
  EXPECT_EQ(r.Get(pending.actor_creation().actor_id()).value().state(), rpc::ActorTableData::DEAD);
  r.EndpointGone("unix:/owner1", &oa);
  EXPECT_NE(r.Get(alive_id).value().state(), rpc::ActorTableData::DEAD);
}

// The dead-actor cap reaches the store: forgotten actors' rows are deleted,
// and a restart with a lower cap forgets (and deletes) the excess.
TEST_F(GcsStorageTest, ForgottenDeadActorsLeaveTheStore) {
  auto opened = GcsStorage::Open(path_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  GcsStorage& st = *opened.value();
  auto persist = [&st](GcsActorManager& m) {  // as GcsActorScheduler::PersistLocked writes them
    std::vector<GcsStorage::Op> ops;
    for (auto& [id, row] : m.TakeChanges()) {
      ops.push_back({T::kActors, id, row ? std::optional<std::string>(row->SerializeAsString()) : std::nullopt});
    }
    ASSERT_TRUE(st.Apply(ops).ok());
  };
  GcsActorManager m(/*max_dead_actors=*/3);
  m.TrackChanges(true);
  ActorActions a;
  rpc::TaskSpec live = Creation("live", false, "unix:/owner");
  ASSERT_TRUE(m.Register(live, nullptr, &a).ok());
  for (int i = 0; i < 5; i++) {
    rpc::TaskSpec t = Creation("", false, "unix:/owner");
    ASSERT_TRUE(m.Register(t, nullptr, &a).ok());
    persist(m);
    ASSERT_TRUE(m.Kill(t.actor_creation().actor_id(), true, "", &a).ok());
    persist(m);
  }
  auto rows = st.LoadAll(T::kActors).value();
  ASSERT_EQ(rows.size(), 4u);  // the live one and 3 dead
  std::vector<rpc::StoredActor> stored;
  for (const auto& [key, value] : rows) {
    stored.emplace_back();
    ASSERT_TRUE(stored.back().ParseFromString(value));
    // A dead actor's creation task is not kept.
    if (stored.back().data().state() == rpc::ActorTableData::DEAD) {
      EXPECT_EQ(stored.back().creation_task().ByteSizeLong(), 0u);
    }
  }
  GcsActorManager r(/*max_dead_actors=*/1);
  r.TrackChanges(true);
  ActorActions ra;
  r.Restore(stored, &ra);
  EXPECT_EQ(r.num_actors(), 2u);
  EXPECT_EQ(r.num_dead_actors(), 1u);
  EXPECT_TRUE(r.GetNamed("live", "ns").ok());
  persist(r);
  EXPECT_EQ(st.LoadAll(T::kActors).value().size(), 2u);
}

TEST(PlacementGroupRestoreTest, CreatedStaysPendingIsPlacedAgainRemovedStays) {
  using PG = rpc::PlacementGroupTableData;
  NodeID n1 = NodeID::FromRandom();
  auto make = [](const std::string& id, PG::State state) {
    PG pg;
    pg.set_placement_group_id(id);
    pg.set_strategy(PG::PACK);
    pg.set_name(id == "a" ? "named" : "");
    auto* b = pg.add_bundles();
    (*b->mutable_unit_resources())["CPU"] = 1;
    pg.set_state(state);
    return pg;
  };
  PG created = make("a", PG::CREATED);
  created.mutable_bundles(0)->set_node_id(n1.Binary());
  PG pending = make("b", PG::PREPARED);
  pending.mutable_bundles(0)->set_node_id(n1.Binary());
  PG removed = make("c", PG::REMOVED);
  GcsPlacementGroupManager m;
  ASSERT_TRUE(m.Restore({created, pending, removed}).ok());
  EXPECT_EQ(m.Get("a").value().state(), PG::CREATED);
  EXPECT_EQ(m.Get("a").value().bundles(0).node_id(), n1.Binary());
  EXPECT_EQ(m.GetNamed("named", "").value().placement_group_id(), "a");
  EXPECT_EQ(m.Get("b").value().state(), PG::PENDING);
  EXPECT_EQ(m.Get("c").value().state(), PG::REMOVED);
  EXPECT_EQ(m.num_pending(), 1u);
  // The pending one is placed again once a node is known.
  m.NodeAlive(n1, ResourceSet::FromMap({{"CPU", 4}}).value(), ResourceSet::FromMap({{"CPU", 3}}).value());
  PgActions a;
  m.Schedule(&a);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, PgAction::kPrepare);
  EXPECT_EQ(a[0].pg_id, "b");
  // The node of the created one dies: it is rescheduled, as before a restart.
  PgActions d;
  m.NodeDead(n1, &d);
  EXPECT_EQ(m.Get("a").value().state(), PG::RESCHEDULING);
}

TEST(JobRestoreTest, CounterContinuesPastStoredJobs) {
  GcsJobManager m;
  rpc::JobInfo j;
  j.set_job_id(JobID::FromInt(3).Binary());
  j.set_is_dead(true);
  m.Restore({j}, 2);
  EXPECT_EQ(m.NextJobId(), JobID::FromInt(4));
  GcsJobManager m2;
  m2.Restore({}, 9);
  EXPECT_EQ(m2.NextJobId(), JobID::FromInt(9));
  EXPECT_TRUE(m.GetJob(JobID::FromInt(3)).value().is_dead());
}

TEST(NodeRestoreTest, AliveNodesCountAsJustReported) {
  GcsNodeManager m;
  rpc::NodeInfo alive, dead;
  alive.set_node_id(NodeID::FromRandom().Binary());
  alive.set_state(rpc::NodeInfo::ALIVE);
  alive.set_last_report_ms(1);
  dead.set_node_id(NodeID::FromRandom().Binary());
  dead.set_state(rpc::NodeInfo::DEAD);
  m.Restore({alive, dead}, 1000);
  EXPECT_EQ(m.NumAlive(), 1u);
  EXPECT_TRUE(m.CheckDeadlines(2000, 3000).empty());
  bool is_dead = false;
  EXPECT_TRUE(m.ReportResources(NodeID::FromBinary(alive.node_id()), {}, 2500, &is_dead).ok());
  EXPECT_FALSE(is_dead);
}

}  // namespace
}  // namespace lumos::gcs
