// TaskManager: completing and failing submitted tasks.
#include "core_worker/task_manager.h"

#include <gtest/gtest.h>

#include <algorithm>
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

}  // namespace
}  // namespace lumos::core
