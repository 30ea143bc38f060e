// PullQueue: merging of requests per object, priority order (get > wait >
// task arguments, FIFO within one), and admission against the store's free
// bytes (never overcommitted, but the head always starts when nothing runs).
#include "raylet/pull_queue.h"

#include <gtest/gtest.h>

namespace lumos::raylet {
namespace {

ObjectID Id(int i) {
  static const TaskID task = TaskID::ForJob(JobID::FromInt(1));
  return ObjectID::ForPut(task, i);
}

TEST(PullQueueTest, MergesRequestsForOneObject) {
  PullQueue q;
  EXPECT_TRUE(q.Add(Id(1), 100, PullQueue::kGet, 1));
  EXPECT_FALSE(q.Add(Id(1), 100, PullQueue::kGet, 2));
  auto next = q.Next(1000);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(*next, Id(1));
  EXPECT_FALSE(q.Add(Id(1), 100, PullQueue::kWait, 3));  // in flight: joins it
  auto waiters = q.Finish(Id(1));
  EXPECT_EQ(waiters, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_FALSE(q.Next(1000).has_value());
}

TEST(PullQueueTest, GetBeatsWaitBeatsTaskArgs) {
  PullQueue q;
  q.Add(Id(1), 10, PullQueue::kTaskArgs, 1);
  q.Add(Id(2), 10, PullQueue::kWait, 2);
  q.Add(Id(3), 10, PullQueue::kGet, 3);
  q.Add(Id(4), 10, PullQueue::kGet, 4);
  EXPECT_EQ(*q.Next(1000), Id(3));
  EXPECT_EQ(*q.Next(1000), Id(4));  // FIFO among gets
  EXPECT_EQ(*q.Next(1000), Id(2));
  EXPECT_EQ(*q.Next(1000), Id(1));
}

TEST(PullQueueTest, ABetterWaiterRaisesAQueuedObject) {
  PullQueue q;
  q.Add(Id(1), 10, PullQueue::kTaskArgs, 1);
  q.Add(Id(2), 10, PullQueue::kWait, 2);
  q.Add(Id(1), 10, PullQueue::kGet, 3);  // a get now needs object 1 too
  EXPECT_EQ(*q.Next(1000), Id(1));
}

TEST(PullQueueTest, AdmitsOnlyWhatFitsInFreeMemory) {
  PullQueue q;
  q.Add(Id(1), 600, PullQueue::kGet, 1);
  q.Add(Id(2), 600, PullQueue::kGet, 2);
  EXPECT_EQ(*q.Next(1000), Id(1));           // nothing in flight: starts
  EXPECT_FALSE(q.Next(1000).has_value());    // 600 + 600 > 1000: waits
  EXPECT_EQ(q.bytes_in_flight(), 600u);
  q.Finish(Id(1));
  EXPECT_EQ(*q.Next(1000), Id(2));
}

TEST(PullQueueTest, HeadStartsWhenNothingRunsEvenIfTooBig) {
  // The store decides then (spill, or ObjectStoreFullError): never a hang.
  PullQueue q;
  q.Add(Id(1), 5000, PullQueue::kGet, 1);
  EXPECT_EQ(*q.Next(1000), Id(1));
}

TEST(PullQueueTest, StrictPriorityDoesNotLetSmallArgsPassABigGet) {
  PullQueue q;
  q.Add(Id(1), 100, PullQueue::kTaskArgs, 1);
  EXPECT_EQ(*q.Next(1000), Id(1));
  q.Add(Id(2), 950, PullQueue::kGet, 2);
  q.Add(Id(3), 10, PullQueue::kTaskArgs, 3);
  EXPECT_FALSE(q.Next(1000).has_value());  // the get is next and does not fit yet
  q.Finish(Id(1));
  EXPECT_EQ(*q.Next(1000), Id(2));
}

TEST(PullQueueTest, KnownSizeReplacesTheHint) {
  PullQueue q;
  q.Add(Id(1), 0, PullQueue::kGet, 1);
  q.Next(1000);
  q.SetSize(Id(1), 700);
  EXPECT_EQ(q.bytes_in_flight(), 700u);
  q.Add(Id(2), 400, PullQueue::kGet, 2);
  EXPECT_FALSE(q.Next(1000).has_value());
  q.Finish(Id(1));
  EXPECT_EQ(q.bytes_in_flight(), 0u);
}

}  // namespace
}  // namespace lumos::raylet
