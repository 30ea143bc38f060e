// LeaseManager: the raylet's pure scheduling state machine, driven by hand.
#include "raylet/lease_manager.h"
#include "lease_test_util.h"

#include <gtest/gtest.h>

#include <vector>

namespace lumos::raylet {
namespace {

LeaseRequest Req(uint64_t requester, uint64_t tag, double cpus, const std::string& name = "f") {
  LeaseRequest r;
  r.requester = requester;
  r.reply_tag = tag;
  if (cpus > 0) r.resources = RS({{"CPU", cpus}});
  r.task_name = name;
  return r;
}

class LeaseManagerTest : public ::testing::Test {
 protected:
  // A node with `cpus` CPUs and `idle` registered idle workers.
  void Init(double cpus, int idle, int max_starting = 10) {
    lm_ = std::make_unique<LeaseManager>(RS({{"CPU", cpus}}), max_starting);
    for (int i = 0; i < idle; i++) AddIdleWorker();
  }
  WorkerID AddIdleWorker() {
    WorkerID w = WorkerID::FromRandom();
    lm_->WorkerStarted(w);
    return w;
  }
  std::vector<LeaseAction> Grants() { return OfKind(lm_->Schedule(), LeaseAction::kGrant); }

  std::unique_ptr<LeaseManager> lm_;
};

TEST_F(LeaseManagerTest, GrantsInArrivalOrder) {
  Init(4, 4);
  for (uint64_t tag = 1; tag <= 4; tag++) lm_->AddRequest(Req(1, tag, 1));
  auto actions = lm_->Schedule();
  ASSERT_EQ(actions.size(), 4u);
  std::vector<uint64_t> lease_ids;
  for (size_t i = 0; i < actions.size(); i++) {
    EXPECT_EQ(actions[i].kind, LeaseAction::kGrant);
    EXPECT_EQ(actions[i].request.reply_tag, i + 1);
    EXPECT_FALSE(actions[i].worker.IsNil());
    lease_ids.push_back(actions[i].lease_id);
  }
  // Distinct workers and lease ids.
  for (size_t i = 0; i < actions.size(); i++) {
    for (size_t j = i + 1; j < actions.size(); j++) {
      EXPECT_NE(actions[i].worker, actions[j].worker);
      EXPECT_NE(actions[i].lease_id, actions[j].lease_id);
    }
  }
  EXPECT_EQ(lm_->num_leased(), 4u);
  EXPECT_EQ(lm_->num_idle(), 0u);
  EXPECT_EQ(lm_->num_pending(), 0u);
  EXPECT_EQ(lm_->available().Get("CPU"), 0.0);
  EXPECT_EQ(lm_->LeaseOfWorker(actions[2].worker), actions[2].lease_id);
  // Nothing left to do.
  EXPECT_TRUE(lm_->Schedule().empty());
}

TEST_F(LeaseManagerTest, GrantsTheWarmestWorker) {
  Init(2, 0);
  WorkerID a = AddIdleWorker();
  WorkerID b = AddIdleWorker();
  lm_->AddRequest(Req(1, 1, 1));
  auto g = Grants();
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].worker, b);  // most recently idle
  (void)a;
}

TEST_F(LeaseManagerTest, RequestThatDoesNotFitDoesNotBlockLaterOnes) {
  Init(2, 3);
  lm_->AddRequest(Req(1, 1, 1));    // fits
  lm_->AddRequest(Req(1, 2, 2));    // feasible but does not fit after #1
  lm_->AddRequest(Req(1, 3, 1));    // fits
  auto g = Grants();
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].request.reply_tag, 1u);
  EXPECT_EQ(g[1].request.reply_tag, 3u);
  EXPECT_EQ(lm_->num_pending(), 1u);
  // Once both leases come back, the big one goes through.
  ASSERT_TRUE(lm_->ReturnLease(g[0].lease_id, false).has_value());
  EXPECT_TRUE(Grants().empty());  // 1 CPU free, needs 2
  ASSERT_TRUE(lm_->ReturnLease(g[1].lease_id, false).has_value());
  auto g2 = Grants();
  ASSERT_EQ(g2.size(), 1u);
  EXPECT_EQ(g2[0].request.reply_tag, 2u);
  EXPECT_EQ(lm_->num_pending(), 0u);
}

TEST_F(LeaseManagerTest, NonCpuResourcesAreScheduledToo) {
  lm_ = std::make_unique<LeaseManager>(RS({{"CPU", 4}, {"GPU", 1}}), 4);
  for (int i = 0; i < 3; i++) AddIdleWorker();
  LeaseRequest gpu1 = Req(1, 1, 1);
  gpu1.resources.Set("GPU", 1);
  LeaseRequest gpu2 = gpu1;
  gpu2.reply_tag = 2;
  lm_->AddRequest(gpu1);
  lm_->AddRequest(gpu2);
  lm_->AddRequest(Req(1, 3, 1));
  auto g = Grants();
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].request.reply_tag, 1u);
  EXPECT_EQ(g[1].request.reply_tag, 3u);
  EXPECT_EQ(lm_->available().Get("GPU"), 0.0);
  EXPECT_EQ(lm_->available().Get("CPU"), 2.0);
}

TEST_F(LeaseManagerTest, StartsOnlyAsManyWorkersAsCanBeUsed) {
  Init(2, 0, /*max_starting=*/10);
  for (uint64_t tag = 1; tag <= 10; tag++) lm_->AddRequest(Req(1, tag, 1));
  auto actions = lm_->Schedule();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, LeaseAction::kStartWorkers);
  EXPECT_EQ(actions[0].num_workers, 2);
  EXPECT_EQ(lm_->num_starting(), 2);
  // Scheduling again while they start asks for no more.
  EXPECT_TRUE(lm_->Schedule().empty());
  EXPECT_EQ(lm_->num_starting(), 2);
  EXPECT_EQ(lm_->num_pending(), 10u);
  EXPECT_EQ(lm_->available().Get("CPU"), 2.0);  // nothing is held until a grant

  // The workers register: two grants, in arrival order, and no more starts.
  AddIdleWorker();
  AddIdleWorker();
  EXPECT_EQ(lm_->num_starting(), 0);
  actions = lm_->Schedule();
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(actions[0].kind, LeaseAction::kGrant);
  EXPECT_EQ(actions[0].request.reply_tag, 1u);
  EXPECT_EQ(actions[1].kind, LeaseAction::kGrant);
  EXPECT_EQ(actions[1].request.reply_tag, 2u);
  EXPECT_EQ(lm_->num_pending(), 8u);
}

TEST_F(LeaseManagerTest, WorkerStartsAreBoundedByMaxStarting) {
  Init(8, 0, /*max_starting=*/3);
  for (uint64_t tag = 1; tag <= 10; tag++) lm_->AddRequest(Req(1, tag, 1));
  auto starts = OfKind(lm_->Schedule(), LeaseAction::kStartWorkers);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].num_workers, 3);
  EXPECT_TRUE(lm_->Schedule().empty());
  // One start fails: one more may start.
  lm_->WorkerStartFailed();
  starts = OfKind(lm_->Schedule(), LeaseAction::kStartWorkers);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].num_workers, 1);
  EXPECT_EQ(lm_->num_starting(), 3);
}

TEST_F(LeaseManagerTest, IdleWorkersCountBeforeStartingNewOnes) {
  Init(4, 1, 10);
  for (uint64_t tag = 1; tag <= 4; tag++) lm_->AddRequest(Req(1, tag, 1));
  auto actions = lm_->Schedule();
  auto grants = OfKind(actions, LeaseAction::kGrant);
  auto starts = OfKind(actions, LeaseAction::kStartWorkers);
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(grants[0].request.reply_tag, 1u);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].num_workers, 3);
}

TEST_F(LeaseManagerTest, PrestartedWorkersAreCounted) {
  Init(2, 0, 10);
  lm_->NoteWorkersStarting(2);
  lm_->AddRequest(Req(1, 1, 1));
  lm_->AddRequest(Req(1, 2, 1));
  EXPECT_TRUE(lm_->Schedule().empty());  // the prestarted ones will do
  EXPECT_EQ(lm_->num_starting(), 2);
}

TEST_F(LeaseManagerTest, ReturnedLeaseMakesWorkerIdleAndGrantsNext) {
  Init(1, 1);
  lm_->AddRequest(Req(1, 1, 1));
  lm_->AddRequest(Req(2, 2, 1));
  auto g = Grants();
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].request.reply_tag, 1u);
  EXPECT_TRUE(lm_->Schedule().empty());  // no CPU left, and no start for it either
  WorkerID w = g[0].worker;

  auto info = lm_->ReturnLease(g[0].lease_id, /*worker_gone=*/false);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->worker, w);
  EXPECT_EQ(info->requester, 1u);
  EXPECT_EQ(info->resources, RS({{"CPU", 1}}));
  EXPECT_EQ(lm_->num_idle(), 1u);
  EXPECT_EQ(lm_->num_leased(), 0u);
  EXPECT_FALSE(lm_->LeaseOfWorker(w).has_value());
  EXPECT_EQ(lm_->available().Get("CPU"), 1.0);

  auto g2 = Grants();
  ASSERT_EQ(g2.size(), 1u);
  EXPECT_EQ(g2[0].request.reply_tag, 2u);
  EXPECT_EQ(g2[0].worker, w);  // reused
  EXPECT_NE(g2[0].lease_id, g[0].lease_id);

  // Unknown and stale lease ids are refused without side effects.
  EXPECT_FALSE(lm_->ReturnLease(g[0].lease_id, false).has_value());
  EXPECT_FALSE(lm_->ReturnLease(12345, false).has_value());
  EXPECT_EQ(lm_->available().Get("CPU"), 0.0);
  EXPECT_EQ(lm_->num_leased(), 1u);
}

TEST_F(LeaseManagerTest, GetLeaseFindsLiveLeasesOnly) {
  Init(2, 1);
  EXPECT_EQ(lm_->GetLease(1), nullptr);
  lm_->AddRequest(Req(9, 1, 1));
  auto g = Grants();
  ASSERT_EQ(g.size(), 1u);
  const LeaseInfo* l = lm_->GetLease(g[0].lease_id);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->requester, 9u);
  EXPECT_EQ(l->worker, g[0].worker);
  EXPECT_FALSE(l->blocked);
  ASSERT_TRUE(lm_->ReturnLease(g[0].lease_id, false).has_value());
  EXPECT_EQ(lm_->GetLease(g[0].lease_id), nullptr);
}

TEST_F(LeaseManagerTest, ReturnWithWorkerGoneDoesNotReuseIt) {
  Init(1, 1);
  lm_->AddRequest(Req(1, 1, 1));
  auto g = Grants();
  ASSERT_EQ(g.size(), 1u);
  ASSERT_TRUE(lm_->ReturnLease(g[0].lease_id, /*worker_gone=*/true).has_value());
  EXPECT_EQ(lm_->num_idle(), 0u);
  EXPECT_EQ(lm_->available().Get("CPU"), 1.0);
}

TEST_F(LeaseManagerTest, WorkerDiedFreesResources) {
  Init(2, 2);
  lm_->AddRequest(Req(1, 1, 2));
  auto g = Grants();
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(lm_->available().Get("CPU"), 0.0);
  lm_->AddRequest(Req(1, 2, 2));
  EXPECT_TRUE(Grants().empty());

  auto info = lm_->WorkerDied(g[0].worker);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->lease_id, g[0].lease_id);
  EXPECT_EQ(lm_->available().Get("CPU"), 2.0);
  EXPECT_EQ(lm_->num_leased(), 0u);
  // The dead worker is not reused; the other idle one takes the next request.
  auto g2 = Grants();
  ASSERT_EQ(g2.size(), 1u);
  EXPECT_NE(g2[0].worker, g[0].worker);
  EXPECT_EQ(lm_->num_idle(), 0u);
}

TEST_F(LeaseManagerTest, IdleWorkerDiedLeavesTheIdleSet) {
  Init(2, 0);
  WorkerID a = AddIdleWorker();
  WorkerID b = AddIdleWorker();
  EXPECT_FALSE(lm_->WorkerDied(a).has_value());  // held no lease
  EXPECT_EQ(lm_->num_idle(), 1u);
  EXPECT_EQ(lm_->idle_workers().front(), b);
  EXPECT_FALSE(lm_->WorkerDied(WorkerID::FromRandom()).has_value());  // unknown
  EXPECT_EQ(lm_->num_idle(), 1u);
  EXPECT_TRUE(lm_->TakeIdleWorker(b));
  EXPECT_FALSE(lm_->TakeIdleWorker(b));
  EXPECT_EQ(lm_->num_idle(), 0u);
}

TEST_F(LeaseManagerTest, BlockedWorkerLendsItsCpuBack) {
  Init(1, 2);
  lm_->AddRequest(Req(1, 1, 1));
  auto g = Grants();
  ASSERT_EQ(g.size(), 1u);
  lm_->AddRequest(Req(1, 2, 1));
  EXPECT_TRUE(Grants().empty());

  lm_->WorkerBlocked(g[0].worker);
  EXPECT_EQ(lm_->available().Get("CPU"), 1.0);
  lm_->WorkerBlocked(g[0].worker);  // idempotent
  EXPECT_EQ(lm_->available().Get("CPU"), 1.0);
  auto g2 = Grants();
  ASSERT_EQ(g2.size(), 1u);
  EXPECT_EQ(g2[0].request.reply_tag, 2u);
  EXPECT_EQ(lm_->available().Get("CPU"), 0.0);

  // Unblocking takes the CPU back: the node is oversubscribed for a while.
  lm_->WorkerUnblocked(g[0].worker);
  EXPECT_EQ(lm_->available().Get("CPU"), -1.0);
  lm_->WorkerUnblocked(g[0].worker);  // idempotent
  EXPECT_EQ(lm_->available().Get("CPU"), -1.0);
  lm_->AddRequest(Req(1, 3, 1));
  EXPECT_TRUE(Grants().empty());

  ASSERT_TRUE(lm_->ReturnLease(g2[0].lease_id, false).has_value());
  EXPECT_EQ(lm_->available().Get("CPU"), 0.0);
  EXPECT_TRUE(Grants().empty());
  ASSERT_TRUE(lm_->ReturnLease(g[0].lease_id, false).has_value());
  EXPECT_EQ(lm_->available().Get("CPU"), 1.0);
  EXPECT_EQ(Grants().size(), 1u);
}

TEST_F(LeaseManagerTest, ReturningABlockedLeaseDoesNotCountItsCpuTwice) {
  lm_ = std::make_unique<LeaseManager>(RS({{"CPU", 2}, {"GPU", 1}}), 4);
  AddIdleWorker();
  LeaseRequest r = Req(1, 1, 1);
  r.resources.Set("GPU", 1);
  lm_->AddRequest(r);
  auto g = Grants();
  ASSERT_EQ(g.size(), 1u);
  lm_->WorkerBlocked(g[0].worker);
  EXPECT_EQ(lm_->available(), RS({{"CPU", 2}}));  // CPU lent back, GPU still held
  ASSERT_TRUE(lm_->ReturnLease(g[0].lease_id, false).has_value());
  EXPECT_EQ(lm_->available(), lm_->total());
  // A blocked worker that dies also settles exactly.
  lm_->AddRequest(r);
  g = Grants();
  ASSERT_EQ(g.size(), 1u);
  lm_->WorkerBlocked(g[0].worker);
  ASSERT_TRUE(lm_->WorkerDied(g[0].worker).has_value());
  EXPECT_EQ(lm_->available(), lm_->total());
}

TEST_F(LeaseManagerTest, BlockingUnknownOrIdleWorkersIsIgnored) {
  Init(1, 1);
  lm_->WorkerBlocked(WorkerID::FromRandom());
  lm_->WorkerBlocked(lm_->idle_workers().front());
  lm_->WorkerUnblocked(WorkerID::FromRandom());
  EXPECT_EQ(lm_->available().Get("CPU"), 1.0);
}

TEST_F(LeaseManagerTest, InfeasibleRequestWarnsOnceAndStaysPending) {
  Init(2, 1);
  lm_->AddRequest(Req(7, 1, 4, "big_task"));
  auto actions = lm_->Schedule();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, LeaseAction::kInfeasible);
  EXPECT_EQ(actions[0].request.requester, 7u);
  EXPECT_EQ(actions[0].request.reply_tag, 1u);
  const std::string& msg = actions[0].message;
  EXPECT_NE(msg.find("big_task"), std::string::npos) << msg;
  EXPECT_NE(msg.find(RS({{"CPU", 4}}).ToString()), std::string::npos) << msg;  // the request
  EXPECT_NE(msg.find(RS({{"CPU", 2}}).ToString()), std::string::npos) << msg;  // the node total
  EXPECT_EQ(lm_->num_pending(), 1u);

  // No repeat warning, no worker start, and it does not block feasible work.
  lm_->AddRequest(Req(7, 2, 1));
  actions = lm_->Schedule();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, LeaseAction::kGrant);
  EXPECT_EQ(actions[0].request.reply_tag, 2u);
  EXPECT_TRUE(lm_->Schedule().empty());
  EXPECT_EQ(lm_->num_pending(), 1u);
  EXPECT_EQ(lm_->num_starting(), 0);
}

TEST_F(LeaseManagerTest, UnknownResourceIsInfeasible) {
  Init(2, 1);
  LeaseRequest r = Req(1, 1, 0, "gpu_task");
  r.resources.Set("GPU", 1);
  lm_->AddRequest(r);
  auto actions = lm_->Schedule();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, LeaseAction::kInfeasible);
  EXPECT_NE(actions[0].message.find("GPU"), std::string::npos);
}

TEST_F(LeaseManagerTest, RequesterGoneDropsPendingAndReportsHeldLeases) {
  Init(2, 2);
  lm_->AddRequest(Req(1, 1, 1));
  lm_->AddRequest(Req(2, 2, 1));
  lm_->AddRequest(Req(1, 3, 1));  // pending: no CPU left
  lm_->AddRequest(Req(2, 4, 1));  // pending
  auto g = Grants();
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(lm_->num_pending(), 2u);

  auto held = lm_->RequesterGone(1);
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].lease_id, g[0].lease_id);
  EXPECT_EQ(held[0].requester, 1u);
  EXPECT_EQ(lm_->num_pending(), 1u);  // only requester 2's request remains
  // The caller returns the held leases (the node manager kills their workers).
  for (const auto& l : held) ASSERT_TRUE(lm_->ReturnLease(l.lease_id, true).has_value());
  EXPECT_EQ(lm_->num_leased(), 1u);
  EXPECT_EQ(lm_->available().Get("CPU"), 1.0);
  // Requester 2's pending request now fits, but its worker is gone: a start.
  auto actions = lm_->Schedule();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, LeaseAction::kStartWorkers);
  EXPECT_EQ(actions[0].num_workers, 1);
  AddIdleWorker();
  g = Grants();
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].request.reply_tag, 4u);

  EXPECT_TRUE(lm_->RequesterGone(99).empty());
}

TEST_F(LeaseManagerTest, ZeroCpuRequests) {
  Init(1, 3);
  lm_->AddRequest(Req(1, 1, 1));
  lm_->AddRequest(Req(1, 2, 0));
  lm_->AddRequest(Req(1, 3, 0));
  auto g = Grants();
  ASSERT_EQ(g.size(), 3u);  // zero-CPU leases need only a worker
  EXPECT_EQ(lm_->available().Get("CPU"), 0.0);
  EXPECT_TRUE(g[1].request.resources.IsEmpty());

  // Without idle workers a zero-CPU request still gets a worker started.
  lm_->AddRequest(Req(1, 4, 0));
  auto actions = lm_->Schedule();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, LeaseAction::kStartWorkers);
  EXPECT_EQ(actions[0].num_workers, 1);
  for (const auto& l : g) ASSERT_TRUE(lm_->ReturnLease(l.lease_id, false).has_value());
  EXPECT_EQ(lm_->available().Get("CPU"), 1.0);
  g = Grants();
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].request.reply_tag, 4u);
}

TEST_F(LeaseManagerTest, ZeroCpuNodeStillGrantsZeroCpuRequests) {
  lm_ = std::make_unique<LeaseManager>(ResourceSet(), 1);
  AddIdleWorker();
  lm_->AddRequest(Req(1, 1, 0));
  EXPECT_EQ(Grants().size(), 1u);
  lm_->AddRequest(Req(1, 2, 1));
  auto actions = lm_->Schedule();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, LeaseAction::kInfeasible);
}

}  // namespace
}  // namespace lumos::raylet

namespace lumos::raylet {
namespace {

TEST_F(LeaseManagerTest, ADrainingNodeGrantsOnlyActorsAndListsTaskLeases) {
  Init(4, 3);
  lm_->AddRequest(Req(1, 1, 1));
  auto first = Grants();
  ASSERT_EQ(first.size(), 1u);
  lm_->set_actors_only(true);
  lm_->AddRequest(Req(1, 2, 1));  // a task: waits (to be moved elsewhere)
  LeaseRequest actor = Req(2, 3, 1, "A");
  actor.is_actor = true;
  lm_->AddRequest(actor);
  auto grants = Grants();
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_TRUE(grants[0].request.is_actor);
  EXPECT_EQ(lm_->num_pending(), 1u);
  auto tasks = lm_->TaskLeaseWorkers();
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0], first[0].worker);
}

}  // namespace
}  // namespace lumos::raylet
