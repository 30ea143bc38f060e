// GcsActorManager as a pure state machine: every transition, cause of death,
// the named-actor index, restarts, owner death, subscriptions and versions.
#include "gcs/actor_manager.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace lumos::gcs {
namespace {

using State = rpc::ActorTableData;

class ActorManagerTest : public ::testing::Test {
 protected:
  explicit ActorManagerTest(int64_t max_dead_actors = 100000) : m_(max_dead_actors) {}

  struct Owner {
    WorkerID id = WorkerID::FromRandom();
    std::string endpoint = "unix:/tmp/owner_" + id.Hex().substr(0, 8);
  };

  rpc::TaskSpec Creation(const std::string& name = "", int max_restarts = 0, bool detached = false,
                         const Owner* owner = nullptr, const std::string& ns = "ns") {
    rpc::TaskSpec t;
    t.set_task_id(TaskID::ForJob(JobID::FromInt(1)).Binary());
    t.set_job_id(JobID::FromInt(1).Binary());
    const Owner& o = owner ? *owner : owner_;
    t.mutable_caller()->set_worker_id(o.id.Binary());
    t.mutable_caller()->set_endpoint(o.endpoint);
    (*t.mutable_required_resources())["CPU"] = 0;
    (*t.mutable_placement_resources())["CPU"] = 1;
    auto* c = t.mutable_actor_creation();
    c->set_actor_id(WorkerID::FromRandom().Binary());  // any 16 random bytes
    c->set_max_restarts(max_restarts);
    c->set_name(name);
    c->set_ray_namespace(ns);
    c->set_detached(detached);
    c->set_class_name("Counter");
    c->set_serialized_handle("handle");
    return t;
  }

  // Registers and returns the actor id and the attempt of its kSchedule action.
  std::string Register(const rpc::TaskSpec& t, uint64_t* attempt = nullptr) {
    ActorActions a;
    Status s = m_.Register(t, nullptr, &a);
    EXPECT_TRUE(s.ok()) << s.ToString();
    const ActorAction* sched = FindAction(a, ActorAction::kSchedule);
    EXPECT_NE(sched, nullptr);
    if (sched && attempt) *attempt = sched->attempt;
    return t.actor_creation().actor_id();
  }

  static const ActorAction* FindAction(const ActorActions& a, ActorAction::Kind k) {
    for (const auto& x : a) {
      if (x.kind == k) return &x;
    }
    return nullptr;
  }
  static int Count(const ActorActions& a, ActorAction::Kind k) {
    int n = 0;
    for (const auto& x : a) n += x.kind == k;
    return n;
  }

  ActorLease MakeLease(const NodeID& node, uint64_t lease_id) {
    ActorLease l;
    l.node_id = node;
    l.lease_id = lease_id;
    WorkerID w = WorkerID::FromRandom();
    l.worker_address.set_node_id(node.Binary());
    l.worker_address.set_worker_id(w.Binary());
    l.worker_address.set_endpoint("unix:/tmp/worker_" + w.Hex().substr(0, 8));
    return l;
  }

  // Registers an actor and brings it to ALIVE on `node`; returns its id.
  std::string MakeAlive(const rpc::TaskSpec& t, const NodeID& node, ActorLease* lease_out = nullptr) {
    uint64_t attempt = 0;
    std::string id = Register(t, &attempt);
    ActorLease l = MakeLease(node, next_lease_++);
    ActorActions a;
    EXPECT_TRUE(m_.LeaseGranted(id, attempt, l, &a));
    EXPECT_TRUE(a.empty());
    m_.CreationSucceeded(id, attempt, &a);
    EXPECT_EQ(StateOf(id), State::ALIVE);
    if (lease_out) *lease_out = l;
    return id;
  }

  rpc::ActorTableData Data(const std::string& id) { return m_.Get(id).value(); }
  rpc::ActorTableData::ActorState StateOf(const std::string& id) { return Data(id).state(); }

  GcsActorManager m_;
  Owner owner_;
  NodeID node_ = NodeID::FromRandom();
  uint64_t next_lease_ = 1;
};

TEST_F(ActorManagerTest, RegisterFillsTheTableWatchesTheOwnerAndSchedules) {
  rpc::TaskSpec t = Creation("counter", 3, false);
  ActorActions a;
  ASSERT_TRUE(m_.Register(t, nullptr, &a).ok());
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].kind, ActorAction::kWatch);
  EXPECT_EQ(a[0].endpoint, owner_.endpoint);
  EXPECT_EQ(a[1].kind, ActorAction::kSchedule);
  EXPECT_GT(a[1].attempt, 0u);
  EXPECT_EQ(a[1].creation_task.task_id(), t.task_id());

  rpc::ActorTableData d = Data(t.actor_creation().actor_id());
  EXPECT_EQ(d.state(), State::PENDING_CREATION);
  EXPECT_EQ(d.version(), 1u);
  EXPECT_EQ(d.job_id(), t.job_id());
  EXPECT_EQ(d.owner().worker_id(), owner_.id.Binary());
  EXPECT_EQ(d.max_restarts(), 3);
  EXPECT_EQ(d.name(), "counter");
  EXPECT_EQ(d.ray_namespace(), "ns");
  EXPECT_EQ(d.class_name(), "Counter");
  EXPECT_EQ(d.serialized_handle(), "handle");
  EXPECT_EQ(d.resources().at("CPU"), 1);  // required ∪ placement
  EXPECT_TRUE(d.death_cause().empty());
  EXPECT_EQ(m_.num_subscriptions(owner_.endpoint), 1u);
}

TEST_F(ActorManagerTest, RegisterRejectsMalformedTasks) {
  ActorActions a;
  rpc::TaskSpec plain;
  EXPECT_EQ(m_.Register(plain, nullptr, &a).code(), StatusCode::kInvalidArgument);
  rpc::TaskSpec t = Creation();
  t.mutable_actor_creation()->clear_actor_id();
  EXPECT_EQ(m_.Register(t, nullptr, &a).code(), StatusCode::kInvalidArgument);
  t = Creation("", -2);
  EXPECT_EQ(m_.Register(t, nullptr, &a).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(m_.num_actors(), 0u);
}

TEST_F(ActorManagerTest, RegisteringTheSameIdAgainIsARetry) {
  rpc::TaskSpec t = Creation("a");
  std::string id = Register(t);
  ActorActions a;
  EXPECT_TRUE(m_.Register(t, nullptr, &a).ok());
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(m_.num_actors(), 1u);
  EXPECT_EQ(Data(id).version(), 1u);
}

TEST_F(ActorManagerTest, NamedIndex) {
  std::string a_id = Register(Creation("a", 0, false, nullptr, "ns1"));
  Register(Creation("b", 0, false, nullptr, "ns1"));
  Register(Creation("a", 0, false, nullptr, "ns2"));  // same name, other namespace
  Register(Creation(""));                              // anonymous

  EXPECT_EQ(m_.GetNamed("a", "ns1").value().actor_id(), a_id);
  Status nf = m_.GetNamed("a", "ns3").status();
  EXPECT_EQ(nf.code(), StatusCode::kNotFound);
  EXPECT_NE(nf.message().find("'a'"), std::string::npos) << nf.message();
  EXPECT_NE(nf.message().find("'ns3'"), std::string::npos) << nf.message();

  EXPECT_EQ(m_.ListNamed("ns1", false).size(), 2u);
  EXPECT_EQ(m_.ListNamed("ns2", false).size(), 1u);
  EXPECT_EQ(m_.ListNamed("", true).size(), 3u);

  // Taken name: AlreadyExists with the existing actor.
  rpc::ActorTableData existing;
  ActorActions a;
  Status s = m_.Register(Creation("a", 0, false, nullptr, "ns1"), &existing, &a);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(s.message().find("'a'"), std::string::npos);
  EXPECT_EQ(existing.actor_id(), a_id);
  EXPECT_TRUE(a.empty());

  // Once DEAD, the name is free again and the dead actor is not listed.
  ASSERT_TRUE(m_.Kill(a_id, true, "", &a).ok());
  EXPECT_EQ(m_.GetNamed("a", "ns1").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(m_.ListNamed("ns1", false).size(), 1u);
  std::string again = Register(Creation("a", 0, false, nullptr, "ns1"));
  EXPECT_EQ(m_.GetNamed("a", "ns1").value().actor_id(), again);
  // The dead one is still readable by id.
  EXPECT_EQ(StateOf(a_id), State::DEAD);
}

TEST_F(ActorManagerTest, CreationSucceededMakesItAliveAndPublishes) {
  uint64_t attempt = 0;
  std::string id = Register(Creation(), &attempt);
  EXPECT_TRUE(m_.WantsLease(id, attempt));
  ActorLease l = MakeLease(node_, 7);
  ActorActions a;
  ASSERT_TRUE(m_.LeaseGranted(id, attempt, l, &a));
  EXPECT_FALSE(m_.WantsLease(id, attempt));
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(StateOf(id), State::PENDING_CREATION);
  m_.CreationSucceeded(id, attempt, &a);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, ActorAction::kPublish);
  EXPECT_EQ(a[0].endpoints, std::vector<std::string>{owner_.endpoint});
  EXPECT_EQ(a[0].data.state(), State::ALIVE);
  EXPECT_EQ(a[0].data.version(), 2u);
  EXPECT_EQ(a[0].data.address().worker_id(), l.worker_address.worker_id());
  EXPECT_EQ(a[0].data.address().endpoint(), l.worker_address.endpoint());
  EXPECT_EQ(m_.LeaseOf(id)->lease_id, 7u);
  // A duplicate success report is stale.
  a.clear();
  m_.CreationSucceeded(id, attempt, &a);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(Data(id).version(), 2u);
}

TEST_F(ActorManagerTest, CreationFailedIsDeadWithTheErrorAndNoRestart) {
  uint64_t attempt = 0;
  std::string id = Register(Creation("x", -1), &attempt);
  ActorLease l = MakeLease(node_, 3);
  ActorActions a;
  ASSERT_TRUE(m_.LeaseGranted(id, attempt, l, &a));
  m_.CreationFailed(id, attempt, "pickled-error", "ValueError: bad", &a);
  rpc::ActorTableData d = Data(id);
  EXPECT_EQ(d.state(), State::DEAD);
  EXPECT_EQ(d.death_cause(), "the actor's __init__ raised: ValueError: bad");
  EXPECT_EQ(d.creation_error(), "pickled-error");
  EXPECT_EQ(d.num_restarts(), 0);
  ASSERT_EQ(Count(a, ActorAction::kReleaseLease), 1);
  EXPECT_EQ(FindAction(a, ActorAction::kReleaseLease)->lease.lease_id, 3u);
  EXPECT_EQ(Count(a, ActorAction::kSchedule), 0);
  EXPECT_EQ(FindAction(a, ActorAction::kPublish)->data.state(), State::DEAD);
  EXPECT_EQ(m_.GetNamed("x", "ns").status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(m_.LeaseOf(id).has_value());
}

TEST_F(ActorManagerTest, WorkerDeathWithoutRestartsIsDeath) {
  ActorLease l;
  std::string id = MakeAlive(Creation(), node_, &l);
  ActorActions a;
  EXPECT_TRUE(m_.WorkerDied(l.worker_id(), "exit code 1", &a));
  rpc::ActorTableData d = Data(id);
  EXPECT_EQ(d.state(), State::DEAD);
  EXPECT_EQ(d.death_cause(), "the actor's worker process died (exit code 1)");
  EXPECT_EQ(d.version(), 3u);
  EXPECT_FALSE(d.has_address());
  EXPECT_EQ(Count(a, ActorAction::kReleaseLease), 1);
  EXPECT_EQ(Count(a, ActorAction::kSchedule), 0);
  // The worker is forgotten.
  a.clear();
  EXPECT_FALSE(m_.WorkerDied(l.worker_id(), "again", &a));
  EXPECT_TRUE(a.empty());
}

TEST_F(ActorManagerTest, WorkerDeathRestartsUpToMaxRestarts) {
  uint64_t attempt = 0;
  rpc::TaskSpec t = Creation("r", 2);
  std::string id = Register(t, &attempt);
  for (int round = 0; round < 3; round++) {
    SCOPED_TRACE(round);
    ActorLease l = MakeLease(node_, next_lease_++);
    ActorActions a;
    ASSERT_TRUE(m_.LeaseGranted(id, attempt, l, &a));
    m_.CreationSucceeded(id, attempt, &a);
    ASSERT_EQ(StateOf(id), State::ALIVE);
    EXPECT_TRUE(Data(id).death_cause().empty());  // cleared on ALIVE
    a.clear();
    ASSERT_TRUE(m_.WorkerDied(l.worker_id(), "signal 9 (Killed)", &a));
    rpc::ActorTableData d = Data(id);
    if (round < 2) {
      EXPECT_EQ(d.state(), State::RESTARTING);
      EXPECT_EQ(d.num_restarts(), round + 1);
      EXPECT_EQ(d.death_cause(), "the actor's worker process died (signal 9 (Killed))");
      const ActorAction* s = FindAction(a, ActorAction::kSchedule);
      ASSERT_NE(s, nullptr);
      EXPECT_NE(s->attempt, attempt);
      EXPECT_EQ(s->creation_task.task_id(), t.task_id());
      attempt = s->attempt;
      EXPECT_EQ(FindAction(a, ActorAction::kPublish)->data.state(), State::RESTARTING);
      // The name stays taken while restarting.
      EXPECT_TRUE(m_.GetNamed("r", "ns").ok());
    } else {
      EXPECT_EQ(d.state(), State::DEAD);
      EXPECT_EQ(d.num_restarts(), 2);
      EXPECT_EQ(Count(a, ActorAction::kSchedule), 0);
    }
  }
}

TEST_F(ActorManagerTest, InfiniteRestarts) {
  uint64_t attempt = 0;
  std::string id = Register(Creation("", -1), &attempt);
  for (int round = 0; round < 50; round++) {
    ActorLease l = MakeLease(node_, next_lease_++);
    ActorActions a;
    ASSERT_TRUE(m_.LeaseGranted(id, attempt, l, &a));
    m_.CreationSucceeded(id, attempt, &a);
    a.clear();
    ASSERT_TRUE(m_.WorkerDied(l.worker_id(), "exit code 1", &a));
    ASSERT_EQ(StateOf(id), State::RESTARTING);
    attempt = FindAction(a, ActorAction::kSchedule)->attempt;
  }
  EXPECT_EQ(Data(id).num_restarts(), 50);
  // Kill with no_restart ends it.
  ActorActions a;
  ASSERT_TRUE(m_.Kill(id, true, "done", &a).ok());
  EXPECT_EQ(StateOf(id), State::DEAD);
  EXPECT_EQ(Data(id).death_cause(), "done");
}

TEST_F(ActorManagerTest, KillCausesAndRestarts) {
  // no_restart: DEAD with the reason, lease released.
  ActorLease l;
  std::string id = MakeAlive(Creation("", 5), node_, &l);
  ActorActions a;
  ASSERT_TRUE(m_.Kill(id, true, "killed by lumos.kill()", &a).ok());
  EXPECT_EQ(StateOf(id), State::DEAD);
  EXPECT_EQ(Data(id).death_cause(), "killed by lumos.kill()");
  ASSERT_EQ(Count(a, ActorAction::kReleaseLease), 1);
  EXPECT_EQ(FindAction(a, ActorAction::kReleaseLease)->lease.lease_id, l.lease_id);
  // Killing again is a no-op; an unknown actor is NotFound.
  a.clear();
  EXPECT_TRUE(m_.Kill(id, true, "again", &a).ok());
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(Data(id).death_cause(), "killed by lumos.kill()");
  EXPECT_EQ(m_.Kill("nope", true, "", &a).code(), StatusCode::kNotFound);

  // Empty reason gets the default.
  std::string id2 = MakeAlive(Creation(), node_);
  ASSERT_TRUE(m_.Kill(id2, true, "", &a).ok());
  EXPECT_EQ(Data(id2).death_cause(), "killed by lumos.kill()");

  // no_restart=false with restarts left: RESTARTING and rescheduled.
  std::string id3 = MakeAlive(Creation("", 1), node_);
  a.clear();
  ASSERT_TRUE(m_.Kill(id3, false, "", &a).ok());
  EXPECT_EQ(StateOf(id3), State::RESTARTING);
  EXPECT_EQ(Data(id3).num_restarts(), 1);
  EXPECT_EQ(Count(a, ActorAction::kReleaseLease), 1);
  EXPECT_EQ(Count(a, ActorAction::kSchedule), 1);
  // ...and with none left: DEAD.
  a.clear();
  ASSERT_TRUE(m_.Kill(id3, false, "", &a).ok());
  EXPECT_EQ(StateOf(id3), State::DEAD);
}

TEST_F(ActorManagerTest, KillWhilePendingMakesLaterEventsStale) {
  uint64_t attempt = 0;
  std::string id = Register(Creation(), &attempt);
  ActorActions a;
  ASSERT_TRUE(m_.Kill(id, true, "", &a).ok());
  EXPECT_EQ(StateOf(id), State::DEAD);
  EXPECT_EQ(Count(a, ActorAction::kReleaseLease), 0);  // nothing leased yet
  EXPECT_FALSE(m_.WantsLease(id, attempt));
  // The lease arrives later: it goes straight back.
  a.clear();
  ActorLease l = MakeLease(node_, 9);
  EXPECT_FALSE(m_.LeaseGranted(id, attempt, l, &a));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, ActorAction::kReleaseLease);
  EXPECT_EQ(a[0].lease.lease_id, 9u);
  a.clear();
  m_.CreationSucceeded(id, attempt, &a);
  m_.CreationFailed(id, attempt, "e", "m", &a);
  m_.SchedulingFailed(id, attempt, "x", &a);
  m_.SetSchedulingWarning(id, attempt, "w", &a);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(Data(id).death_cause(), "killed by lumos.kill()");
}

TEST_F(ActorManagerTest, KillDuringCreationWithRestartIgnoresTheOldAttempt) {
  uint64_t attempt = 0;
  std::string id = Register(Creation("", 1), &attempt);
  ActorActions a;
  ActorLease l = MakeLease(node_, 4);
  ASSERT_TRUE(m_.LeaseGranted(id, attempt, l, &a));
  ASSERT_TRUE(m_.Kill(id, false, "", &a).ok());
  EXPECT_EQ(StateOf(id), State::RESTARTING);
  uint64_t next = FindAction(a, ActorAction::kSchedule)->attempt;
  a.clear();
  m_.CreationSucceeded(id, attempt, &a);  // the old push finishing
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(StateOf(id), State::RESTARTING);
  EXPECT_TRUE(m_.WantsLease(id, next));
}

TEST_F(ActorManagerTest, OwnerDeathKillsOwnedActorsButSparesDetachedOnes) {
  Owner other;
  std::string owned1 = MakeAlive(Creation("o1", 3), node_);
  uint64_t attempt = 0;
  std::string owned_pending = Register(Creation("o2"), &attempt);
  std::string detached = MakeAlive(Creation("d", 0, true), node_);
  std::string foreign = MakeAlive(Creation("f", 0, false, &other), node_);
  ActorActions a;
  m_.OwnerDied(owner_.id, &a);
  std::string cause = "its owner (worker " + owner_.id.Hex() + ") died";
  EXPECT_EQ(StateOf(owned1), State::DEAD);  // no restart despite max_restarts
  EXPECT_EQ(Data(owned1).death_cause(), cause);
  EXPECT_EQ(StateOf(owned_pending), State::DEAD);
  EXPECT_EQ(Data(owned_pending).death_cause(), cause);
  EXPECT_EQ(StateOf(detached), State::ALIVE);
  EXPECT_EQ(StateOf(foreign), State::ALIVE);
  EXPECT_EQ(Count(a, ActorAction::kReleaseLease), 1);  // only owned1 had a lease
  EXPECT_EQ(Count(a, ActorAction::kSchedule), 0);
  // A second report changes nothing.
  a.clear();
  m_.OwnerDied(owner_.id, &a);
  EXPECT_TRUE(a.empty());
}

TEST_F(ActorManagerTest, OwnerEndpointGoneIsOwnerDeath) {
  std::string id = MakeAlive(Creation(), node_);
  std::string detached = MakeAlive(Creation("", 0, true), node_);
  ActorActions a;
  m_.EndpointGone(owner_.endpoint, &a);
  EXPECT_EQ(StateOf(id), State::DEAD);
  EXPECT_NE(Data(id).death_cause().find("its owner"), std::string::npos);
  EXPECT_EQ(StateOf(detached), State::ALIVE);
  EXPECT_EQ(m_.num_subscriptions(owner_.endpoint), 0u);
  // The owner is no longer subscribed to the detached actor.
  a.clear();
  ASSERT_TRUE(m_.Kill(detached, true, "", &a).ok());
  EXPECT_EQ(Count(a, ActorAction::kPublish), 0);
}

TEST_F(ActorManagerTest, NodeDeathRestartsOrKills) {
  NodeID other = NodeID::FromRandom();
  std::string restartable = MakeAlive(Creation("", 1), node_);
  std::string fragile = MakeAlive(Creation(), node_);
  std::string elsewhere = MakeAlive(Creation(), other);
  ActorActions a;
  m_.NodeDied(node_, "node abc", &a);
  EXPECT_EQ(StateOf(restartable), State::RESTARTING);
  EXPECT_EQ(Data(restartable).death_cause(), "its node died (node abc)");
  EXPECT_EQ(StateOf(fragile), State::DEAD);
  EXPECT_EQ(Data(fragile).death_cause(), "its node died (node abc)");
  EXPECT_EQ(StateOf(elsewhere), State::ALIVE);
  EXPECT_EQ(Count(a, ActorAction::kSchedule), 1);
  EXPECT_EQ(Count(a, ActorAction::kReleaseLease), 2);
  a.clear();
  m_.NodeDied(node_, "", &a);  // nothing left there
  EXPECT_TRUE(a.empty());
  m_.NodeDied(other, "", &a);
  EXPECT_EQ(Data(elsewhere).death_cause(), "its node died");
}

TEST_F(ActorManagerTest, SchedulingWarningAndFailure) {
  uint64_t attempt = 0;
  std::string id = Register(Creation(), &attempt);
  ActorActions a;
  m_.SetSchedulingWarning(id, attempt, "no node fits", &a);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, ActorAction::kPublish);
  EXPECT_EQ(a[0].data.state(), State::PENDING_CREATION);
  EXPECT_EQ(a[0].data.death_cause(), "no node fits");
  EXPECT_EQ(a[0].data.version(), 2u);
  // The same warning again is not republished.
  a.clear();
  m_.SetSchedulingWarning(id, attempt, "no node fits", &a);
  EXPECT_TRUE(a.empty());
  m_.SetSchedulingWarning(id, attempt + 100, "stale", &a);
  EXPECT_TRUE(a.empty());
  // A node joins; the actor is created and the warning cleared.
  ASSERT_TRUE(m_.LeaseGranted(id, attempt, MakeLease(node_, 1), &a));
  m_.CreationSucceeded(id, attempt, &a);
  EXPECT_TRUE(Data(id).death_cause().empty());

  uint64_t attempt2 = 0;
  std::string id2 = Register(Creation(), &attempt2);
  a.clear();
  m_.SchedulingFailed(id2, attempt2, "the raylet refused the lease: bad", &a);
  EXPECT_EQ(StateOf(id2), State::DEAD);
  EXPECT_EQ(Data(id2).death_cause(), "the raylet refused the lease: bad");
}

TEST_F(ActorManagerTest, SubscriptionsReceiveEveryChangeUntilDeath) {
  std::string sub = "unix:/tmp/sub";
  uint64_t attempt = 0;
  std::string id = Register(Creation("", 1), &attempt);
  rpc::ActorTableData cur;
  ActorActions a;
  ASSERT_TRUE(m_.Subscribe(id, sub, &cur, &a).ok());
  EXPECT_EQ(cur.state(), State::PENDING_CREATION);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, ActorAction::kWatch);
  EXPECT_EQ(a[0].endpoint, sub);
  a.clear();
  ASSERT_TRUE(m_.Subscribe(id, sub, &cur, &a).ok());  // twice: one subscription
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(m_.num_subscriptions(sub), 1u);
  EXPECT_EQ(m_.Subscribe("nope", sub, &cur, &a).code(), StatusCode::kNotFound);

  ActorLease l = MakeLease(node_, 1);
  ASSERT_TRUE(m_.LeaseGranted(id, attempt, l, &a));
  m_.CreationSucceeded(id, attempt, &a);
  m_.WorkerDied(l.worker_id(), "exit code 1", &a);  // -> RESTARTING
  uint64_t prev_version = 1;
  std::vector<rpc::ActorTableData::ActorState> seen;
  for (const auto& x : a) {
    if (x.kind != ActorAction::kPublish) continue;
    EXPECT_EQ(x.endpoints.size(), 2u);  // owner + sub
    EXPECT_GT(x.data.version(), prev_version);
    prev_version = x.data.version();
    seen.push_back(x.data.state());
  }
  EXPECT_EQ(seen, (std::vector<rpc::ActorTableData::ActorState>{State::ALIVE, State::RESTARTING}));

  // The subscriber goes away: only the owner hears about the death.
  a.clear();
  m_.EndpointGone(sub, &a);
  EXPECT_TRUE(a.empty());  // sub owns nothing
  EXPECT_EQ(m_.num_subscriptions(sub), 0u);
  ASSERT_TRUE(m_.Kill(id, true, "", &a).ok());
  const ActorAction* pub = FindAction(a, ActorAction::kPublish);
  ASSERT_NE(pub, nullptr);
  EXPECT_EQ(pub->endpoints, std::vector<std::string>{owner_.endpoint});
  // After death nothing is subscribed any more; subscribing returns the state.
  EXPECT_EQ(m_.num_subscriptions(owner_.endpoint), 0u);
  a.clear();
  ASSERT_TRUE(m_.Subscribe(id, sub, &cur, &a).ok());
  EXPECT_EQ(cur.state(), State::DEAD);
  EXPECT_TRUE(a.empty());
}

TEST_F(ActorManagerTest, EveryChangeBumpsTheVersion) {
  uint64_t attempt = 0;
  std::string id = Register(Creation("", 1), &attempt);
  uint64_t v = Data(id).version();
  ActorActions a;
  auto bumped = [&] {
    uint64_t now = Data(id).version();
    bool ok = now == v + 1;
    v = now;
    return ok;
  };
  m_.SetSchedulingWarning(id, attempt, "w", &a);
  EXPECT_TRUE(bumped());
  ActorLease l = MakeLease(node_, 1);
  m_.LeaseGranted(id, attempt, l, &a);
  EXPECT_EQ(Data(id).version(), v);  // internal, not a visible change
  m_.CreationSucceeded(id, attempt, &a);
  EXPECT_TRUE(bumped());
  m_.WorkerDied(l.worker_id(), "x", &a);
  EXPECT_TRUE(bumped());
  ASSERT_TRUE(m_.Kill(id, true, "", &a).ok());
  EXPECT_TRUE(bumped());
}

TEST_F(ActorManagerTest, AnonymousOwnerlessActor) {
  // Tools may register without an owner endpoint: no watch, no owner index.
  rpc::TaskSpec t = Creation();
  t.clear_caller();
  ActorActions a;
  ASSERT_TRUE(m_.Register(t, nullptr, &a).ok());
  EXPECT_EQ(Count(a, ActorAction::kWatch), 0);
  EXPECT_EQ(Count(a, ActorAction::kSchedule), 1);
  a.clear();
  m_.OwnerDied(WorkerID::Nil(), &a);
  EXPECT_EQ(StateOf(t.actor_creation().actor_id()), State::PENDING_CREATION);
}

TEST_F(ActorManagerTest, PlacementGroupRemovalKillsItsActorsForGood) {
  const std::string pg(16, '\x01');  // binary id; the manager is told the hex form
  const std::string pg_hex = "01010101010101010101010101010101";
  auto in_group = [&](rpc::TaskSpec t) {
    t.set_placement_group_id(pg);
    return t;
  };
  ActorLease lease;
  std::string restartable = MakeAlive(in_group(Creation("", 5)), node_, &lease);
  std::string detached = MakeAlive(in_group(Creation("d", 0, true)), node_);
  uint64_t attempt = 0;
  std::string pending = Register(in_group(Creation()), &attempt);  // waits for its group
  rpc::TaskSpec other_group = Creation();
  other_group.set_placement_group_id(std::string(16, '\x02'));
  std::string elsewhere = MakeAlive(other_group, node_);
  std::string no_group = MakeAlive(Creation(), node_);

  ActorActions a;
  m_.PlacementGroupRemoved(pg_hex, &a);
  for (const auto& id : {restartable, detached, pending}) {
    EXPECT_EQ(StateOf(id), State::DEAD);  // restarts left do not matter
    EXPECT_NE(Data(id).death_cause().find("placement group " + pg_hex + " was removed"),
              std::string::npos)
        << Data(id).death_cause();
  }
  EXPECT_EQ(Count(a, ActorAction::kReleaseLease), 2);  // the raylet kills those workers
  EXPECT_EQ(Count(a, ActorAction::kSchedule), 0);
  EXPECT_FALSE(m_.WantsLease(pending, attempt));
  EXPECT_FALSE(m_.HasWorker(lease.worker_id()));
  EXPECT_EQ(StateOf(elsewhere), State::ALIVE);
  EXPECT_EQ(StateOf(no_group), State::ALIVE);
  EXPECT_EQ(m_.GetNamed("d", "ns").status().code(), StatusCode::kNotFound);

  // The worker's death report that follows changes nothing.
  a.clear();
  EXPECT_FALSE(m_.WorkerDied(lease.worker_id(), "killed", &a));
  EXPECT_EQ(Data(restartable).num_restarts(), 0);
  // Removing twice is a no-op; an actor created in the removed group dies at once.
  m_.PlacementGroupRemoved(pg_hex, &a);
  EXPECT_TRUE(a.empty());
  rpc::TaskSpec late = in_group(Creation());
  ASSERT_TRUE(m_.Register(late, nullptr, &a).ok());
  EXPECT_EQ(Count(a, ActorAction::kSchedule), 0);
  EXPECT_EQ(StateOf(late.actor_creation().actor_id()), State::DEAD);
  EXPECT_NE(Data(late.actor_creation().actor_id()).death_cause().find("was removed"),
            std::string::npos);
}

TEST_F(ActorManagerTest, ADeadActorKeepsWhatTheStateApiShowsAndNothingElse) {
  // Kept up to 100,000 of them: the row list_actors reads, without the
  // creation task and the pickled handle (only live lookups use it).
  m_.TrackChanges(true);
  rpc::TaskSpec t = Creation("counter", 0, /*detached=*/true);
  t.add_args()->mutable_value()->set_data(std::string(4096, 'x'));
  std::string id = MakeAlive(t, node_);
  ActorActions a;
  ASSERT_TRUE(m_.Kill(id, /*no_restart=*/true, "", &a).ok());
  rpc::ActorTableData d = Data(id);
  EXPECT_EQ(d.state(), State::DEAD);
  EXPECT_EQ(d.class_name(), "Counter");
  EXPECT_EQ(d.name(), "counter");
  EXPECT_EQ(d.ray_namespace(), "ns");
  EXPECT_TRUE(d.detached());
  EXPECT_EQ(d.job_id(), t.job_id());
  EXPECT_EQ(d.owner().worker_id(), owner_.id.Binary());
  EXPECT_EQ(d.resources().at("CPU"), 1);
  EXPECT_EQ(d.death_cause(), "killed by lumos.kill()");
  EXPECT_TRUE(d.serialized_handle().empty());
  auto changes = m_.TakeChanges();
  ASSERT_EQ(changes.size(), 1u);
  ASSERT_TRUE(changes[0].second.has_value());
  EXPECT_FALSE(changes[0].second->has_creation_task());
  EXPECT_FALSE(changes[0].second->has_lease());
  EXPECT_EQ(changes[0].second->subscribers_size(), 0);
}

// The same table keeping at most 2 DEAD actors.
class ActorEvictionTest : public ActorManagerTest {
 protected:
  ActorEvictionTest() : ActorManagerTest(2) {}
  void KillIt(const std::string& id) {
    ActorActions a;
    ASSERT_TRUE(m_.Kill(id, /*no_restart=*/true, "", &a).ok());
    // The DEAD update reaches the subscribers even when the row is forgotten at once.
    const ActorAction* pub = FindAction(a, ActorAction::kPublish);
    ASSERT_NE(pub, nullptr);
    EXPECT_EQ(pub->data.state(), State::DEAD);
  }
};

TEST_F(ActorEvictionTest, TheLongestDeadGoFirstWithTheirRowsAndIndexes) {
  m_.TrackChanges(true);
  std::string pg_bin(18, '\x07');
  rpc::TaskSpec in_group = Creation("g");
  in_group.set_placement_group_id(pg_bin);
  Owner other;
  std::vector<std::string> ids = {
      MakeAlive(Creation("svc", 0, /*detached=*/true), node_),  // named, detached
      MakeAlive(in_group, node_),                                 // named, in a group
      MakeAlive(Creation("", 0, false, &other), node_),           // another owner
      MakeAlive(Creation("", /*max_restarts=*/-1), node_),        // restartable
      MakeAlive(Creation(), node_),
  };
  ActorActions a;
  for (const auto& id : ids) ASSERT_TRUE(m_.Subscribe(id, "unix:/sub", nullptr, &a).ok());
  // A kill that restarts is no death: nothing is forgotten.
  ASSERT_TRUE(m_.Kill(ids[3], /*no_restart=*/false, "", &a).ok());
  EXPECT_EQ(StateOf(ids[3]), State::RESTARTING);
  EXPECT_EQ(m_.num_dead_actors(), 0u);
  m_.TakeChanges();

  // Deaths in the order 2, 0, 4, 1, 3 (not the order of creation).
  for (int i : {2, 0, 4}) KillIt(ids[i]);
  EXPECT_EQ(m_.num_dead_actors(), 2u);
  EXPECT_EQ(m_.Get(ids[2]).status().code(), StatusCode::kNotFound);  // died first: gone
  EXPECT_EQ(StateOf(ids[0]), State::DEAD);
  EXPECT_EQ(StateOf(ids[4]), State::DEAD);
  for (int i : {1, 3}) KillIt(ids[i]);
  EXPECT_EQ(m_.num_actors(), 2u);
  EXPECT_EQ(m_.AllRows().size(), 2u);
  EXPECT_EQ(StateOf(ids[1]), State::DEAD);
  EXPECT_EQ(StateOf(ids[3]), State::DEAD);
  for (int i : {2, 0, 4}) {
    EXPECT_EQ(m_.Get(ids[i]).status().code(), StatusCode::kNotFound);
    rpc::ActorTableData cur;
    EXPECT_EQ(m_.Subscribe(ids[i], "unix:/late", &cur, &a).code(), StatusCode::kNotFound);
    EXPECT_EQ(m_.Kill(ids[i], true, "", &a).code(), StatusCode::kNotFound);
  }
  EXPECT_EQ(m_.GetNamed("svc", "ns").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(m_.ListNamed("", true).empty());
  // Every per-actor index is empty: what is left is the owners' endpoints
  // (until they close) and the two dead actors kept.
  EXPECT_EQ(m_.num_index_entries(), 2u + 2u);
  EXPECT_EQ(m_.num_subscriptions("unix:/sub"), 0u);
  m_.EndpointGone(owner_.endpoint, &a);
  m_.EndpointGone(other.endpoint, &a);
  EXPECT_EQ(m_.num_index_entries(), 2u);

  // The store: the forgotten rows are deleted, the kept ones written.
  std::map<std::string, bool> stored;  // id -> has a row
  for (auto& [id, row] : m_.TakeChanges()) stored[id] = row.has_value();
  EXPECT_EQ(stored, (std::map<std::string, bool>{
                        {ids[0], false}, {ids[1], true}, {ids[2], false}, {ids[3], true}, {ids[4], false}}));
  // The name is free again.
  uint64_t attempt = 0;
  Register(Creation("svc", 0, true), &attempt);
  EXPECT_GT(attempt, 0u);
}

TEST(ActorEvictionCapTest, CapZeroForgetsAtDeathAndNegativeCountsAsZero) {
  for (int64_t cap : {0, -5}) {
    GcsActorManager m(cap);
    rpc::TaskSpec t;
    t.set_task_id(TaskID::ForJob(JobID::FromInt(1)).Binary());
    t.mutable_caller()->set_worker_id(WorkerID::FromRandom().Binary());
    t.mutable_caller()->set_endpoint("unix:/owner");
    t.mutable_actor_creation()->set_actor_id(WorkerID::FromRandom().Binary());
    const std::string id = t.actor_creation().actor_id();
    ActorActions a;
    ASSERT_TRUE(m.Register(t, nullptr, &a).ok());
    a.clear();
    ASSERT_TRUE(m.Kill(id, true, "", &a).ok());
    int dead_published = 0;
    for (const auto& x : a) dead_published += x.kind == ActorAction::kPublish && x.data.state() == State::DEAD;
    EXPECT_EQ(dead_published, 1);
    EXPECT_EQ(m.num_actors(), 0u);
    EXPECT_EQ(m.num_dead_actors(), 0u);
    EXPECT_EQ(m.Get(id).status().code(), StatusCode::kNotFound);
  }
}

}  // namespace
}  // namespace lumos::gcs
