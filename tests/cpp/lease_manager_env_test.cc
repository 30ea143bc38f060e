// LeaseManager with runtime environments: a worker serves only the
// environment it was started for; missing ones are started per environment.
#include <gtest/gtest.h>

#include <vector>

#include "raylet/lease_manager.h"
#include "lease_test_util.h"

namespace lumos::raylet {
namespace {

LeaseRequest Req(uint64_t tag, uint64_t env_hash = 0, const std::string& env = "") {
  LeaseRequest r;
  r.requester = 1;
  r.reply_tag = tag;
  r.resources = RS({{"CPU", 1}});
  r.task_name = "f";
  r.env_hash = env_hash;
  r.runtime_env = env;
  return r;
}

TEST(LeaseManagerEnvTest, DefaultWorkerIsNotGrantedToAnEnvRequest) {
  LeaseManager lm(RS({{"CPU", 4}}), 4);
  WorkerID plain = WorkerID::FromRandom();
  lm.WorkerStarted(plain);
  lm.AddRequest(Req(1, 7, "{\"env_vars\": {\"A\": \"1\"}}"));
  auto actions = lm.Schedule();
  EXPECT_TRUE(OfKind(actions, LeaseAction::kGrant).empty());
  auto starts = OfKind(actions, LeaseAction::kStartWorkers);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].num_workers, 1);
  EXPECT_EQ(starts[0].request.env_hash, 7u);
  EXPECT_EQ(starts[0].request.runtime_env, "{\"env_vars\": {\"A\": \"1\"}}");
  // Scheduling again does not start a second worker for the same request.
  EXPECT_TRUE(OfKind(lm.Schedule(), LeaseAction::kStartWorkers).empty());
  EXPECT_EQ(lm.num_idle(), 1u);

  WorkerID env_worker = WorkerID::FromRandom();
  lm.WorkerStarted(env_worker, 7);
  auto grants = OfKind(lm.Schedule(), LeaseAction::kGrant);
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(grants[0].worker, env_worker);
  EXPECT_EQ(lm.EnvOfWorker(env_worker), 7u);
  EXPECT_EQ(lm.EnvOfWorker(plain), 0u);
}

TEST(LeaseManagerEnvTest, EnvWorkerIsNotGrantedToOtherEnvsOrTheDefault) {
  LeaseManager lm(RS({{"CPU", 4}}), 4);
  WorkerID a = WorkerID::FromRandom();
  lm.WorkerStarted(a, 1);
  lm.AddRequest(Req(1));           // default
  lm.AddRequest(Req(2, 2, "B"));   // another environment
  auto actions = lm.Schedule();
  EXPECT_TRUE(OfKind(actions, LeaseAction::kGrant).empty());
  auto starts = OfKind(actions, LeaseAction::kStartWorkers);
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[0].request.env_hash, 0u);
  EXPECT_EQ(starts[1].request.env_hash, 2u);
  EXPECT_EQ(lm.num_starting(), 2);

  // The lease of environment 1 returns its worker to that environment's pool.
  lm.AddRequest(Req(3, 1, "A"));
  auto grants = OfKind(lm.Schedule(), LeaseAction::kGrant);
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(grants[0].worker, a);
  lm.ReturnLease(grants[0].lease_id, false);
  WorkerID plain = WorkerID::FromRandom();
  lm.WorkerStarted(plain);
  grants = OfKind(lm.Schedule(), LeaseAction::kGrant);
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(grants[0].request.reply_tag, 1u);
  EXPECT_EQ(grants[0].worker, plain);
}

TEST(LeaseManagerEnvTest, FailedStartsFreeTheirEnvSlot) {
  LeaseManager lm(RS({{"CPU", 4}}), 1);
  lm.AddRequest(Req(1, 5, "E"));
  auto starts = OfKind(lm.Schedule(), LeaseAction::kStartWorkers);
  ASSERT_EQ(starts.size(), 1u);
  lm.AddRequest(Req(2));  // default: no start slot left (max_starting 1)
  EXPECT_TRUE(OfKind(lm.Schedule(), LeaseAction::kStartWorkers).empty());
  lm.WorkerStartFailed(5);
  EXPECT_EQ(lm.num_starting(), 0);
  starts = OfKind(lm.Schedule(), LeaseAction::kStartWorkers);
  ASSERT_EQ(starts.size(), 1u);  // default requests are started first
  EXPECT_EQ(starts[0].request.env_hash, 0u);
}

TEST(LeaseManagerEnvTest, DeadEnvWorkerIsForgotten) {
  LeaseManager lm(RS({{"CPU", 2}}), 2);
  WorkerID w = WorkerID::FromRandom();
  lm.WorkerStarted(w, 9);
  lm.WorkerDied(w);
  EXPECT_EQ(lm.EnvOfWorker(w), 0u);
  EXPECT_EQ(lm.num_idle(), 0u);
  lm.AddRequest(Req(1, 9, "E"));
  auto starts = OfKind(lm.Schedule(), LeaseAction::kStartWorkers);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].request.runtime_env, "E");
}

}  // namespace
}  // namespace lumos::raylet
