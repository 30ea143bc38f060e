// GeneratorStreams: the owner's bookkeeping of streaming generator tasks.
#include "core_worker/generator_streams.h"

#include <gtest/gtest.h>

#include <vector>

namespace lumos::core {
namespace {

using Kind = GeneratorStreams::NextKind;
using Item = GeneratorStreams::ItemResult;

class GeneratorStreamsTest : public ::testing::Test {
 protected:
  GeneratorStreamsTest() { streams_.Create(task_); }
  // An ack that counts how often it ran.
  GeneratorStreams::Ack Counting(int* n) {
    return [n] { (*n)++; };
  }
  static void Run(std::vector<GeneratorStreams::Ack>& acks) {
    for (auto& a : acks) a();
    acks.clear();
  }

  TaskID task_ = TaskID::ForJob(JobID::FromInt(3));
  GeneratorStreams streams_;
  std::vector<GeneratorStreams::Ack> now_;
};

TEST_F(GeneratorStreamsTest, ItemsComeInOrderThenTheEnd) {
  int64_t index = -1;
  EXPECT_EQ(streams_.Next(task_, &index), Kind::kNotReady);
  EXPECT_EQ(index, 0);
  EXPECT_EQ(streams_.OnItem(task_, 0, nullptr, &now_), Item::kNew);
  EXPECT_EQ(streams_.OnItem(task_, 1, nullptr, &now_), Item::kNew);
  EXPECT_EQ(streams_.Next(task_, &index), Kind::kItem);
  EXPECT_EQ(index, 0);
  EXPECT_FALSE(streams_.IsFinished(task_));
  streams_.OnFinished(task_, 2);
  EXPECT_EQ(streams_.Next(task_, &index), Kind::kItem);
  EXPECT_EQ(index, 1);
  EXPECT_TRUE(streams_.IsFinished(task_));
  EXPECT_EQ(streams_.Next(task_, &index), Kind::kEnd);
  EXPECT_EQ(streams_.Next(task_, &index), Kind::kEnd);
}

TEST_F(GeneratorStreamsTest, DuplicatesFromARetryAreIgnored) {
  EXPECT_EQ(streams_.OnItem(task_, 0, nullptr, &now_), Item::kNew);
  EXPECT_EQ(streams_.OnItem(task_, 1, nullptr, &now_), Item::kNew);
  // The retry reports from 0 again.
  EXPECT_EQ(streams_.OnItem(task_, 0, nullptr, &now_), Item::kDuplicate);
  EXPECT_EQ(streams_.OnItem(task_, 1, nullptr, &now_), Item::kDuplicate);
  EXPECT_EQ(streams_.OnItem(task_, 2, nullptr, &now_), Item::kNew);
  streams_.OnFinished(task_, 3);
  int64_t index;
  for (int i = 0; i < 3; i++) {
    ASSERT_EQ(streams_.Next(task_, &index), Kind::kItem);
    EXPECT_EQ(index, i);
  }
  EXPECT_EQ(streams_.Next(task_, &index), Kind::kEnd);
}

TEST_F(GeneratorStreamsTest, FailureComesAfterTheReportedItemsOnce) {
  streams_.OnItem(task_, 0, nullptr, &now_);
  streams_.OnFailed(task_);
  int64_t index;
  EXPECT_EQ(streams_.Next(task_, &index), Kind::kItem);
  EXPECT_FALSE(streams_.IsFinished(task_));
  EXPECT_EQ(streams_.Next(task_, &index), Kind::kError);
  EXPECT_TRUE(streams_.IsFinished(task_));
  EXPECT_EQ(streams_.Next(task_, &index), Kind::kEnd);
}

TEST_F(GeneratorStreamsTest, PeekTellsWhatNextWouldGiveWithoutTakingIt) {
  int64_t index = -1;
  EXPECT_EQ(streams_.Peek(task_, &index), Kind::kNotReady);
  EXPECT_EQ(index, 0);
  streams_.OnItem(task_, 0, nullptr, &now_);
  EXPECT_EQ(streams_.Peek(task_, &index), Kind::kItem);
  EXPECT_EQ(streams_.Peek(task_, &index), Kind::kItem);   // nothing taken
  ASSERT_EQ(streams_.Next(task_, &index), Kind::kItem);
  EXPECT_EQ(streams_.Peek(task_, &index), Kind::kNotReady);
  EXPECT_EQ(index, 1);
  streams_.OnFailed(task_);
  EXPECT_EQ(streams_.Peek(task_, &index), Kind::kError);
  EXPECT_EQ(streams_.Peek(task_, &index), Kind::kError);  // the error is still to take
  EXPECT_EQ(streams_.Next(task_, &index), Kind::kError);
  EXPECT_EQ(streams_.Peek(task_, &index), Kind::kEnd);
  TaskID unknown = TaskID::ForJob(JobID::FromInt(4));
  EXPECT_EQ(streams_.Peek(unknown, &index), Kind::kEnd);
}

TEST_F(GeneratorStreamsTest, AcksWaitForConsumption) {
  int acked = 0;
  streams_.OnItem(task_, 0, Counting(&acked), &now_);
  streams_.OnItem(task_, 1, Counting(&acked), &now_);
  EXPECT_TRUE(now_.empty());
  int64_t index;
  ASSERT_EQ(streams_.Next(task_, &index), Kind::kItem);
  auto ready = streams_.Consumed(task_, index);
  Run(ready);
  EXPECT_EQ(acked, 1);
  // A retry re-reports item 0 (consumed: acked at once) and 1 (not yet: waits).
  streams_.OnItem(task_, 0, Counting(&acked), &now_);
  ASSERT_EQ(now_.size(), 1u);
  Run(now_);
  EXPECT_EQ(acked, 2);
  streams_.OnItem(task_, 1, Counting(&acked), &now_);
  EXPECT_TRUE(now_.empty());
  ASSERT_EQ(streams_.Next(task_, &index), Kind::kItem);
  ready = streams_.Consumed(task_, index);
  EXPECT_EQ(ready.size(), 2u);  // the first attempt's ack and the retry's
  Run(ready);
  EXPECT_EQ(acked, 4);
}

TEST_F(GeneratorStreamsTest, DropReleasesUnconsumedItemsAndAcks) {
  int acked = 0;
  for (int i = 0; i < 4; i++) streams_.OnItem(task_, i, Counting(&acked), &now_);
  int64_t index;
  ASSERT_EQ(streams_.Next(task_, &index), Kind::kItem);
  auto ready = streams_.Consumed(task_, index);
  Run(ready);
  auto unconsumed = streams_.Drop(task_, &now_);
  EXPECT_EQ(unconsumed, (std::vector<int64_t>{1, 2, 3}));
  Run(now_);
  EXPECT_EQ(acked, 4);
  // Later items are discarded on arrival; their acks run at once.
  EXPECT_EQ(streams_.OnItem(task_, 4, Counting(&acked), &now_), Item::kDropped);
  Run(now_);
  EXPECT_EQ(acked, 5);
  EXPECT_TRUE(streams_.Has(task_));   // still running
  streams_.OnFinished(task_, 5);
  EXPECT_FALSE(streams_.Has(task_));  // ended and dropped: forgotten
  EXPECT_EQ(streams_.NumStreams(), 0u);
}

TEST_F(GeneratorStreamsTest, UnknownTasksAndBadIndexes) {
  TaskID other = TaskID::ForJob(JobID::FromInt(4));
  int acked = 0;
  EXPECT_EQ(streams_.OnItem(other, 0, Counting(&acked), &now_), Item::kUnknown);
  EXPECT_EQ(streams_.OnItem(task_, -1, Counting(&acked), &now_), Item::kUnknown);
  Run(now_);
  EXPECT_EQ(acked, 2);  // never left waiting
  int64_t index;
  EXPECT_EQ(streams_.Next(other, &index), Kind::kEnd);
  EXPECT_TRUE(streams_.IsFinished(other));
  EXPECT_TRUE(streams_.Drop(other, &now_).empty());
  streams_.OnFinished(other, 3);  // ignored
  streams_.OnFailed(other);
  EXPECT_FALSE(streams_.Has(other));
}

}  // namespace
}  // namespace lumos::core
