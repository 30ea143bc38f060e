// LineageCache: which lost objects can be made again, and how often.
#include "core_worker/lineage_cache.h"

#include <gtest/gtest.h>

namespace lumos::core {
namespace {

rpc::TaskSpec SpecOf(const TaskID& t) {
  rpc::TaskSpec s;
  s.set_task_id(t.Binary());
  s.set_name("f");
  return s;
}

TEST(LineageCacheTest, ReconstructsUntilTheBudgetIsUsed) {
  LineageCache lc;
  TaskID t = TaskID::ForJob(JobID::FromInt(1));
  ObjectID r1 = ObjectID::FromIndex(t, 1), r2 = ObjectID::FromIndex(t, 2);
  lc.Record(SpecOf(t), 2, {r1, r2});
  rpc::TaskSpec spec;
  ASSERT_EQ(lc.TakeForReconstruction(r1, &spec), LineageCache::Outcome::kResubmit);
  EXPECT_EQ(spec.attempt_number(), 1);
  ASSERT_EQ(lc.TakeForReconstruction(r2, &spec), LineageCache::Outcome::kResubmit);
  EXPECT_EQ(spec.attempt_number(), 2);
  EXPECT_EQ(lc.TakeForReconstruction(r1, &spec), LineageCache::Outcome::kRetriesExhausted);
}

TEST(LineageCacheTest, UnlimitedRetries) {
  LineageCache lc;
  TaskID t = TaskID::ForJob(JobID::FromInt(1));
  ObjectID r = ObjectID::FromIndex(t, 1);
  lc.Record(SpecOf(t), -1, {r});
  rpc::TaskSpec spec;
  for (int i = 0; i < 5; i++) ASSERT_EQ(lc.TakeForReconstruction(r, &spec), LineageCache::Outcome::kResubmit);
}

TEST(LineageCacheTest, NothingRecordedForPutsNoRetriesOrInlineReturns) {
  LineageCache lc;
  TaskID t = TaskID::ForJob(JobID::FromInt(1));
  lc.Record(SpecOf(t), 0, {ObjectID::FromIndex(t, 1)});  // max_retries=0
  lc.Record(SpecOf(t), 3, {});                           // all returns inline
  EXPECT_EQ(lc.size(), 0u);
  rpc::TaskSpec spec;
  EXPECT_EQ(lc.TakeForReconstruction(ObjectID::FromIndex(t, 1), &spec), LineageCache::Outcome::kNoLineage);
  EXPECT_EQ(lc.TakeForReconstruction(ObjectID::ForPut(t, 1), &spec), LineageCache::Outcome::kNoLineage);
}

TEST(LineageCacheTest, DroppedWhenTheLastReturnIsFreed) {
  LineageCache lc;
  TaskID t = TaskID::ForJob(JobID::FromInt(1));
  ObjectID r1 = ObjectID::FromIndex(t, 1), r2 = ObjectID::FromIndex(t, 2);
  lc.Record(SpecOf(t), 3, {r1, r2});
  lc.OnObjectFreed(r1);
  EXPECT_EQ(lc.size(), 1u);
  rpc::TaskSpec spec;
  EXPECT_EQ(lc.TakeForReconstruction(r1, &spec), LineageCache::Outcome::kNoLineage);  // freed: not wanted
  lc.OnObjectFreed(r2);
  EXPECT_EQ(lc.size(), 0u);
  lc.OnObjectFreed(ObjectID::FromIndex(TaskID::ForJob(JobID::FromInt(2)), 1));  // unknown: ignored
}

}  // namespace
}  // namespace lumos::core
