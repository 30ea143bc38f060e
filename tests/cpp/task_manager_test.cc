// TaskManager: completing and failing submitted tasks.
#include "core_worker/task_manager.h"

#include "common/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace lumos::core {
namespace {

class TaskManagerTest : public ::testing::Test {
 protected:
  TaskManagerTest()
      : tasks_(&store_, &refs_, [this](const std::vector<DeletedObject>& d) {
          freed_.insert(freed_.end(), d.begin(), d.end());
        }) {}

  // Submits a task the way the core worker does: its returns are owned objects
  // with a local ref each, and `args` are held until the task finishes.
  TaskID Submit(int num_returns, const std::vector<ObjectID>& args) {
    TaskID id = TaskID::ForJob(job_);
    rpc::TaskSpec spec;
    spec.set_task_id(id.Binary());
    spec.set_num_returns(num_returns);
    for (int i = 0; i < num_returns; i++) {
      ObjectID r = ObjectID::FromIndex(id, i + 1);
      refs_.AddOwnedObject(r, {}, false);
      refs_.AddLocalRef(r, nullptr);
    }
    tasks_.AddPendingTask(spec, args);
    return id;
  }
  // An owned object put by the driver, referenced only by the tasks using it.
  ObjectID PutArg() {
    ObjectID id = ObjectID::ForPut(driver_, ++puts_);
    refs_.AddOwnedObject(id, {}, false);
    return id;
  }
  static rpc::ReturnObject InlineReturn(const ObjectID& id, const std::string& data) {
    rpc::ReturnObject r;
    r.set_object_id(id.Binary());
    r.mutable_value()->set_data(data);
    r.mutable_value()->set_metadata(kMetaPickle);
    r.set_size(static_cast<int64_t>(data.size()));
    return r;
  }
  std::string Data(const ObjectID& id) {
    auto o = store_.GetIfExists(id);
    if (!o || !o->data) return "<none>";
    return std::string(reinterpret_cast<const char*>(o->data->data()), o->data->size());
  }
  bool WasFreed(const ObjectID& id) const {
    return std::any_of(freed_.begin(), freed_.end(), [&](const DeletedObject& d) { return d.id == id; });
  }

  JobID job_ = JobID::FromInt(5);
  TaskID driver_ = TaskID::ForDriver(job_);
  uint32_t puts_ = 0;
  MemoryStore store_;
  ReferenceCounter refs_;
  std::vector<DeletedObject> freed_;
  TaskManager tasks_;
};

TEST_F(TaskManagerTest, CompleteTaskStoresReturnsAndReleasesArgs) {
  ObjectID arg1 = PutArg(), arg2 = PutArg();
  TaskID t = Submit(2, {arg1, arg2});
  EXPECT_TRUE(tasks_.IsPending(t));
  EXPECT_EQ(tasks_.NumPending(), 1u);
  EXPECT_TRUE(refs_.Has(arg1));

  ObjectID r1 = ObjectID::FromIndex(t, 1), r2 = ObjectID::FromIndex(t, 2);
  rpc::PushTaskReply reply;
  *reply.add_return_objects() = InlineReturn(r1, "one");
  rpc::ReturnObject big;
  big.set_object_id(r2.Binary());
  big.set_in_plasma(true);
  big.set_size(10 << 20);
  *reply.add_return_objects() = big;
  tasks_.CompleteTask(t, reply);

  EXPECT_FALSE(tasks_.IsPending(t));
  EXPECT_EQ(tasks_.NumPending(), 0u);
  auto o1 = store_.GetIfExists(r1);
  ASSERT_NE(o1, nullptr);
  EXPECT_FALSE(o1->in_plasma);
  EXPECT_EQ(Data(r1), "one");
  EXPECT_EQ(o1->metadata, kMetaPickle);
  auto o2 = store_.GetIfExists(r2);
  ASSERT_NE(o2, nullptr);
  EXPECT_TRUE(o2->in_plasma);  // a marker; the value is in the object store
  EXPECT_EQ(o2->data, nullptr);

  // The args were only held by the task: freed, and reported as owned.
  EXPECT_TRUE(WasFreed(arg1));
  EXPECT_TRUE(WasFreed(arg2));
  EXPECT_FALSE(refs_.Has(arg1));
  for (const auto& d : freed_) EXPECT_TRUE(d.owned);
  // The in-plasma return is recorded as such for when it is deleted.
  std::vector<DeletedObject> deleted;
  refs_.RemoveLocalRef(r2, &deleted);
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_TRUE(deleted[0].in_plasma);
}

TEST_F(TaskManagerTest, ArgsStillReferencedElsewhereAreNotFreed) {
  ObjectID arg = PutArg();
  refs_.AddLocalRef(arg, nullptr);  // the driver still holds it
  TaskID t1 = Submit(1, {arg});
  TaskID t2 = Submit(1, {arg});
  rpc::PushTaskReply reply;
  *reply.add_return_objects() = InlineReturn(ObjectID::FromIndex(t1, 1), "a");
  tasks_.CompleteTask(t1, reply);
  EXPECT_TRUE(freed_.empty());
  EXPECT_TRUE(refs_.Has(arg));
  tasks_.FailTask(t2, kMetaWorkerDied, "gone");
  EXPECT_TRUE(freed_.empty());
  std::vector<DeletedObject> deleted;
  refs_.RemoveLocalRef(arg, &deleted);
  EXPECT_EQ(deleted.size(), 1u);
}

TEST_F(TaskManagerTest, ReturnHoldingRefsKeepsThemAlive) {
  ObjectID inner = PutArg();
  refs_.AddLocalRef(inner, nullptr);
  TaskID t = Submit(1, {});
  ObjectID r = ObjectID::FromIndex(t, 1);
  rpc::PushTaskReply reply;
  rpc::ReturnObject ret = InlineReturn(r, "holds a ref");
  ret.mutable_value()->add_nested_refs()->set_object_id(inner.Binary());
  *reply.add_return_objects() = ret;
  tasks_.CompleteTask(t, reply);
  ASSERT_EQ(store_.GetIfExists(r)->nested_refs.size(), 1u);

  std::vector<DeletedObject> deleted;
  refs_.RemoveLocalRef(inner, &deleted);
  EXPECT_TRUE(deleted.empty());  // held by the return value
  refs_.RemoveLocalRef(r, &deleted);
  EXPECT_EQ(deleted.size(), 2u);
}

TEST_F(TaskManagerTest, MissingReturnValueBecomesASystemError) {
  TaskID t = Submit(2, {});
  rpc::PushTaskReply reply;
  *reply.add_return_objects() = InlineReturn(ObjectID::FromIndex(t, 1), "only one");
  tasks_.CompleteTask(t, reply);
  EXPECT_EQ(Data(ObjectID::FromIndex(t, 1)), "only one");
  auto second = store_.GetIfExists(ObjectID::FromIndex(t, 2));
  ASSERT_NE(second, nullptr);
  EXPECT_TRUE(second->IsError());
  EXPECT_EQ(second->metadata, kMetaSystemError);
}

TEST_F(TaskManagerTest, FailTaskStoresAnErrorForEveryReturn) {
  ObjectID arg = PutArg();
  TaskID t = Submit(3, {arg});
  tasks_.FailTask(t, kMetaWorkerDied, "the worker died");
  EXPECT_FALSE(tasks_.IsPending(t));
  for (uint32_t i = 1; i <= 3; i++) {
    auto o = store_.GetIfExists(ObjectID::FromIndex(t, i));
    ASSERT_NE(o, nullptr) << i;
    EXPECT_TRUE(o->IsError());
    EXPECT_EQ(o->metadata, kMetaWorkerDied);
    EXPECT_EQ(Data(ObjectID::FromIndex(t, i)), "the worker died");
  }
  EXPECT_FALSE(store_.Contains(ObjectID::FromIndex(t, 4)));
  EXPECT_TRUE(WasFreed(arg));
}

TEST_F(TaskManagerTest, FailTaskWakesAGetter) {
  TaskID t = Submit(1, {});
  ObjectID r = ObjectID::FromIndex(t, 1);
  bool fired = false;
  store_.GetAsync(r, [&](std::shared_ptr<RayObject> o) { fired = o->IsError(); });
  tasks_.FailTask(t, kMetaObjectLost, "lost");
  EXPECT_TRUE(fired);
}

TEST_F(TaskManagerTest, UnknownOrFinishedTasksAreIgnored) {
  TaskID t = Submit(1, {});
  rpc::PushTaskReply reply;
  *reply.add_return_objects() = InlineReturn(ObjectID::FromIndex(t, 1), "first");
  tasks_.CompleteTask(t, reply);
  // A late failure or duplicate completion does not overwrite the value.
  tasks_.FailTask(t, kMetaWorkerDied, "late");
  rpc::PushTaskReply dup;
  *dup.add_return_objects() = InlineReturn(ObjectID::FromIndex(t, 1), "second");
  tasks_.CompleteTask(t, dup);
  EXPECT_EQ(Data(ObjectID::FromIndex(t, 1)), "first");
  // Never submitted.
  TaskID unknown = TaskID::ForJob(job_);
  tasks_.FailTask(unknown, kMetaWorkerDied, "x");
  tasks_.CompleteTask(unknown, reply);
  EXPECT_FALSE(store_.Contains(ObjectID::FromIndex(unknown, 1)));
}

TEST_F(TaskManagerTest, FailAllFailsEveryPendingTask) {
  ObjectID shared = PutArg();
  std::vector<TaskID> ids;
  for (int i = 0; i < 5; i++) ids.push_back(Submit(i % 2 + 1, {shared}));
  // One finishes normally first.
  rpc::PushTaskReply reply;
  *reply.add_return_objects() = InlineReturn(ObjectID::FromIndex(ids[0], 1), "done");
  tasks_.CompleteTask(ids[0], reply);
  EXPECT_EQ(tasks_.NumPending(), 4u);
  EXPECT_FALSE(WasFreed(shared));

  tasks_.FailAll(kMetaSystemError, "raylet connection lost");
  EXPECT_EQ(tasks_.NumPending(), 0u);
  EXPECT_EQ(Data(ObjectID::FromIndex(ids[0], 1)), "done");
  for (size_t i = 1; i < ids.size(); i++) {
    int num_returns = static_cast<int>(i % 2 + 1);
    for (int k = 1; k <= num_returns; k++) {
      auto o = store_.GetIfExists(ObjectID::FromIndex(ids[i], k));
      ASSERT_NE(o, nullptr);
      EXPECT_EQ(o->metadata, kMetaSystemError);
      EXPECT_EQ(Data(ObjectID::FromIndex(ids[i], k)), "raylet connection lost");
    }
  }
  EXPECT_TRUE(WasFreed(shared));  // released once the last holder failed
  // Nothing left: a second FailAll is a no-op.
  tasks_.FailAll(kMetaSystemError, "again");
  EXPECT_EQ(Data(ObjectID::FromIndex(ids[1], 1)), "raylet connection lost");
}

// ------------------------------------------------------------ retries and task states

class TaskManagerRetryTest : public ::testing::Test {
 protected:
  TaskManagerRetryTest() : tasks_(&store_, &refs_, [](const std::vector<DeletedObject>&) {}, nullptr, &streams_) {}

  TaskID Submit(int max_retries, bool streaming = false, const std::string& name = "f") {
    TaskID id = TaskID::ForJob(JobID::FromInt(9));
    rpc::TaskSpec spec;
    spec.set_task_id(id.Binary());
    spec.set_num_returns(1);
    spec.set_max_retries(max_retries);
    spec.set_streaming_returns(streaming);
    spec.set_name(name);
    refs_.AddOwnedObject(ObjectID::FromIndex(id, 1), {}, false);
    refs_.AddLocalRef(ObjectID::FromIndex(id, 1), nullptr);
    tasks_.AddPendingTask(spec, {});
    return id;
  }
  std::vector<TaskStateRecord> RowsOf(const TaskID& id) {
    std::vector<TaskStateRecord> out;
    for (auto& r : tasks_.ListTasks()) {
      if (r.task_id == id) out.push_back(r);
    }
    return out;
  }
  std::string Data(const ObjectID& id) {
    auto o = store_.GetIfExists(id);
    if (!o || !o->data) return "<none>";
    return std::string(reinterpret_cast<const char*>(o->data->data()), o->data->size());
  }

  MemoryStore store_;
  ReferenceCounter refs_;
  GeneratorStreams streams_;
  TaskManager tasks_;
};

TEST_F(TaskManagerRetryTest, RetriesCountDownAndBumpTheAttempt) {
  TaskID id = Submit(2);
  rpc::TaskSpec spec;
  ASSERT_TRUE(tasks_.RetryTask(id, &spec));
  EXPECT_EQ(spec.attempt_number(), 1);
  ASSERT_TRUE(tasks_.RetryTask(id, &spec, "TASK_EXECUTION_EXCEPTION"));
  EXPECT_EQ(spec.attempt_number(), 2);
  EXPECT_FALSE(tasks_.RetryTask(id, &spec));  // exhausted
  EXPECT_TRUE(tasks_.IsPending(id));          // the caller fails it now
  tasks_.FailTask(id, kMetaWorkerDied, "died");
  auto rows = RowsOf(id);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].attempt_number, 0);
  EXPECT_EQ(rows[0].error_type, "WORKER_DIED");
  EXPECT_EQ(rows[1].attempt_number, 1);
  EXPECT_EQ(rows[1].error_type, "TASK_EXECUTION_EXCEPTION");
  EXPECT_EQ(rows[2].attempt_number, 2);
  EXPECT_STREQ(rows[2].state_name(), "FAILED");
  EXPECT_EQ(rows[2].error_type, "WORKER_DIED");
}

TEST_F(TaskManagerRetryTest, ForeverRetriesAndCancelledTasksNeverRetry) {
  TaskID forever = Submit(-1);
  rpc::TaskSpec spec;
  for (int i = 0; i < 5; i++) ASSERT_TRUE(tasks_.RetryTask(forever, &spec));
  EXPECT_EQ(spec.attempt_number(), 5);
  TaskID cancelled = Submit(3);
  ASSERT_TRUE(tasks_.MarkCancelled(cancelled));
  EXPECT_FALSE(tasks_.RetryTask(cancelled, &spec));
  TaskID none = Submit(0);
  EXPECT_FALSE(tasks_.RetryTask(none, &spec));
  EXPECT_FALSE(tasks_.RetryTask(TaskID::ForJob(JobID::FromInt(1)), &spec));  // unknown
}

TEST_F(TaskManagerRetryTest, StatesMoveForwardAndRetryRestartsThem) {
  TaskID id = Submit(1, false, "g");
  EXPECT_STREQ(RowsOf(id)[0].state_name(), "PENDING_ARGS_AVAIL");
  tasks_.SetState(id, TaskState::kPendingNodeAssignment);
  tasks_.SetState(id, TaskState::kRunning);
  tasks_.SetState(id, TaskState::kSubmittedToWorker);  // a late, older step is ignored
  EXPECT_STREQ(RowsOf(id)[0].state_name(), "RUNNING");
  rpc::TaskSpec spec;
  ASSERT_TRUE(tasks_.RetryTask(id, &spec));
  auto rows = RowsOf(id);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_STREQ(rows[0].state_name(), "PENDING_NODE_ASSIGNMENT");  // the pending attempt 1 first
  EXPECT_EQ(rows[0].attempt_number, 1);
  EXPECT_STREQ(rows[1].state_name(), "FAILED");
  rpc::PushTaskReply reply;
  *reply.add_return_objects() = rpc::ReturnObject();
  tasks_.CompleteTask(id, reply);
  rows = RowsOf(id);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_STREQ(rows[1].state_name(), "FINISHED");
  EXPECT_EQ(rows[1].attempt_number, 1);
  EXPECT_EQ(rows[1].name, "g");
  tasks_.SetState(id, TaskState::kRunning);  // finished: ignored
  EXPECT_EQ(RowsOf(id).size(), 2u);
}

TEST_F(TaskManagerRetryTest, ApplicationErrorsAndCancellationsAreFailed) {
  TaskID err = Submit(0);
  rpc::PushTaskReply reply;
  reply.set_is_application_error(true);
  tasks_.CompleteTask(err, reply);
  EXPECT_EQ(RowsOf(err)[0].error_type, "TASK_EXECUTION_EXCEPTION");
  TaskID cancelled = Submit(0);
  reply.set_was_cancelled(true);
  tasks_.CompleteTask(cancelled, reply);
  EXPECT_EQ(RowsOf(cancelled)[0].error_type, "TASK_CANCELLED");
  TaskID actor = Submit(0);
  tasks_.FailTask(actor, "EA", "actor died");
  EXPECT_EQ(RowsOf(actor)[0].error_type, "ACTOR_DIED");
}

TEST_F(TaskManagerRetryTest, HistoryIsBounded) {
  ASSERT_TRUE(Config::Get().Set("task_state_history_size", "3"));
  for (int i = 0; i < 10; i++) tasks_.FailTask(Submit(0), kMetaWorkerDied, "x");
  EXPECT_EQ(tasks_.ListTasks().size(), 3u);
  ASSERT_TRUE(Config::Get().Set("task_state_history_size", "10000"));
}

TEST_F(TaskManagerRetryTest, StreamingTaskEndsItsStream) {
  TaskID ok = Submit(0, true);
  std::vector<GeneratorStreams::Ack> now;
  EXPECT_EQ(streams_.OnItem(ok, 0, nullptr, &now), GeneratorStreams::ItemResult::kNew);
  rpc::PushTaskReply reply;
  reply.set_num_streamed_items(1);
  *reply.add_return_objects() = rpc::ReturnObject();
  tasks_.CompleteTask(ok, reply);
  int64_t index = -1;
  EXPECT_EQ(streams_.Next(ok, &index), GeneratorStreams::NextKind::kItem);
  EXPECT_EQ(streams_.Next(ok, &index), GeneratorStreams::NextKind::kEnd);

  TaskID died = Submit(1, true);
  EXPECT_EQ(streams_.OnItem(died, 0, nullptr, &now), GeneratorStreams::ItemResult::kNew);
  rpc::TaskSpec spec;
  ASSERT_TRUE(tasks_.RetryTask(died, &spec));  // the stream survives the retry
  EXPECT_EQ(streams_.OnItem(died, 0, nullptr, &now), GeneratorStreams::ItemResult::kDuplicate);
  tasks_.FailTask(died, kMetaWorkerDied, "died again");
  EXPECT_EQ(streams_.Next(died, &index), GeneratorStreams::NextKind::kItem);
  EXPECT_EQ(streams_.Next(died, &index), GeneratorStreams::NextKind::kError);
  EXPECT_EQ(streams_.Next(died, &index), GeneratorStreams::NextKind::kEnd);
  EXPECT_NE(Data(ObjectID::FromIndex(died, 1)).find("died again"), std::string::npos);
}

TEST_F(TaskManagerRetryTest, StreamingTaskFailingBeforeAnyItemGivesTheError) {
  TaskID id = Submit(0, true);
  rpc::PushTaskReply reply;
  reply.set_is_application_error(true);
  auto* ret = reply.add_return_objects();
  ret->mutable_value()->set_metadata(kMetaTaskError);
  ret->mutable_value()->set_data("bad argument");
  tasks_.CompleteTask(id, reply);
  int64_t index;
  EXPECT_EQ(streams_.Next(id, &index), GeneratorStreams::NextKind::kError);
  EXPECT_EQ(streams_.Next(id, &index), GeneratorStreams::NextKind::kEnd);
}

// A streaming task's held store items go to the lineage when it ends; a
// reconstruction attempt refills only the items it awaits, leaves the stream
// and return 1 as the first attempt left them, and fails an awaited item it
// did not yield again.
TEST(TaskManagerStreamLineageTest, HeldStoreItemsAreRecordedAndARebuildRefillsOnlyThose) {
  MemoryStore store;
  ReferenceCounter refs;
  GeneratorStreams streams;
  LineageCache lineage;
  TaskManager tasks(&store, &refs, [](const std::vector<DeletedObject>&) {}, &lineage, &streams);
  TaskID id = TaskID::ForJob(JobID::FromInt(3));
  rpc::TaskSpec spec;
  spec.set_task_id(id.Binary());
  spec.set_num_returns(1);
  spec.set_max_retries(2);
  spec.set_streaming_returns(true);
  refs.AddOwnedObject(ObjectID::FromIndex(id, 1), {}, false);
  refs.AddLocalRef(ObjectID::FromIndex(id, 1), nullptr);
  tasks.AddPendingTask(spec, {});
  auto item = [&](int i) { return ObjectID::FromIndex(id, i + 2); };
  std::vector<GeneratorStreams::Ack> now;
  for (int i = 0; i < 3; i++) ASSERT_EQ(streams.OnItem(id, i, nullptr, &now), GeneratorStreams::ItemResult::kNew);
  // Item 0 was consumed and freed (not held); item 1 is held in the store; item 2 is inline.
  refs.AddOwnedObject(item(1), {}, true);
  refs.AddLocalRef(item(1), nullptr);
  store.Put(item(1), RayObject::InPlasma("node-a"));
  refs.AddOwnedObject(item(2), {}, false);
  refs.AddLocalRef(item(2), nullptr);
  store.Put(item(2), RayObject::Inline("small", ""));
  rpc::PushTaskReply reply;
  reply.set_num_streamed_items(3);
  reply.add_return_objects()->mutable_value()->set_data("end");
  tasks.CompleteTask(id, reply);
  EXPECT_EQ(lineage.LiveReturns(id), std::vector<ObjectID>{item(1)});

  // Rebuild 1: item 1 is awaited and reported again.
  rpc::TaskSpec again;
  ASSERT_EQ(lineage.TakeForReconstruction(item(1), &again), LineageCache::Outcome::kResubmit);
  store.Delete(item(1));
  tasks.AddPendingTask(again, {}, {item(1)});
  EXPECT_FALSE(tasks.TakeAwaitedItem(id, item(2)));
  EXPECT_TRUE(tasks.TakeAwaitedItem(id, item(1)));
  EXPECT_FALSE(tasks.TakeAwaitedItem(id, item(1)));  // once
  store.Put(item(1), RayObject::InPlasma("node-b"));
  rpc::PushTaskReply rebuilt;
  rebuilt.set_num_streamed_items(3);
  rebuilt.add_return_objects()->mutable_value()->set_data("end again");
  tasks.CompleteTask(id, rebuilt);
  EXPECT_TRUE(store.GetIfExists(item(1))->in_plasma);
  EXPECT_EQ(lineage.LiveReturns(id), std::vector<ObjectID>{item(1)});  // can be rebuilt again
  // The stream and return 1 are the first attempt's.
  auto ret = store.GetIfExists(ObjectID::FromIndex(id, 1));
  ASSERT_TRUE(ret && ret->data);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(ret->data->data()), ret->data->size()), "end");
  int64_t index = -1;
  for (int i = 0; i < 3; i++) EXPECT_EQ(streams.Next(id, &index), GeneratorStreams::NextKind::kItem);
  EXPECT_EQ(streams.Next(id, &index), GeneratorStreams::NextKind::kEnd);

  // Rebuild 2: the generator now stops after one item; the awaited item 1 fails naming that.
  ASSERT_EQ(lineage.TakeForReconstruction(item(1), &again), LineageCache::Outcome::kResubmit);
  store.Delete(item(1));
  tasks.AddPendingTask(again, {}, {item(1)});
  rpc::PushTaskReply shorter;
  shorter.set_num_streamed_items(1);
  shorter.add_return_objects()->mutable_value()->set_data("end");
  tasks.CompleteTask(id, shorter);
  auto failed = store.GetIfExists(item(1));
  ASSERT_TRUE(failed && failed->data);
  EXPECT_EQ(failed->metadata, kMetaReconstructionFailed);
  EXPECT_NE(std::string(reinterpret_cast<const char*>(failed->data->data()), failed->data->size()).find("yielded only 1"),
            std::string::npos);
  EXPECT_EQ(streams.Next(id, &index), GeneratorStreams::NextKind::kEnd);  // no second end or error
}

// A streamed item lost while its task runs again after a retry is taken from
// the running attempt (not ignored as a duplicate); if that attempt fails, so
// does the item.
TEST(TaskManagerStreamLineageTest, ItemAwaitedFromARunningAttemptFailsWithIt) {
  MemoryStore store;
  ReferenceCounter refs;
  GeneratorStreams streams;
  TaskManager tasks(&store, &refs, [](const std::vector<DeletedObject>&) {}, nullptr, &streams);
  TaskID id = TaskID::ForJob(JobID::FromInt(4));
  rpc::TaskSpec spec;
  spec.set_task_id(id.Binary());
  spec.set_num_returns(1);
  spec.set_max_retries(1);
  spec.set_streaming_returns(true);
  tasks.AddPendingTask(spec, {});
  ObjectID lost = ObjectID::FromIndex(id, 2);
  refs.AddOwnedObject(lost, {}, true);
  refs.AddLocalRef(lost, nullptr);
  EXPECT_TRUE(tasks.AwaitItem(id, lost));
  EXPECT_FALSE(tasks.AwaitItem(TaskID::ForJob(JobID::FromInt(5)), lost));  // not pending
  tasks.FailTask(id, kMetaWorkerDied, "worker died");
  auto o = store.GetIfExists(lost);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->metadata, kMetaReconstructionFailed);
}

// An attempt that ends without reporting an awaited item again (it yielded it
// before the loss was seen) leaves it lost and in the lineage: the waiting get
// then runs the generator once more.
TEST(TaskManagerStreamLineageTest, ItemAwaitedFromAFinishedAttemptGoesToTheLineage) {
  MemoryStore store;
  ReferenceCounter refs;
  GeneratorStreams streams;
  LineageCache lineage;
  TaskManager tasks(&store, &refs, [](const std::vector<DeletedObject>&) {}, &lineage, &streams);
  TaskID id = TaskID::ForJob(JobID::FromInt(6));
  rpc::TaskSpec spec;
  spec.set_task_id(id.Binary());
  spec.set_num_returns(1);
  spec.set_max_retries(1);
  spec.set_streaming_returns(true);
  tasks.AddPendingTask(spec, {});
  ObjectID lost = ObjectID::FromIndex(id, 2);
  std::vector<GeneratorStreams::Ack> now;
  ASSERT_EQ(streams.OnItem(id, 0, nullptr, &now), GeneratorStreams::ItemResult::kNew);
  refs.AddOwnedObject(lost, {}, true);
  refs.AddLocalRef(lost, nullptr);
  ASSERT_TRUE(tasks.AwaitItem(id, lost));  // its memory-store entry was dropped with it
  rpc::PushTaskReply reply;
  reply.set_num_streamed_items(1);
  reply.add_return_objects()->mutable_value()->set_data("end");
  tasks.CompleteTask(id, reply);
  auto o = store.GetIfExists(lost);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->metadata, kMetaObjectLost);
  EXPECT_EQ(lineage.LiveReturns(id), std::vector<ObjectID>{lost});
}

}  // namespace
}  // namespace lumos::core
