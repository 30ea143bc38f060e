// ReferenceCounter: when an owned or borrowed object may be forgotten.
#include "core_worker/reference_counter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <vector>

namespace lumos::core {
namespace {

class ReferenceCounterTest : public ::testing::Test {
 protected:
  ObjectID NewId() { return ObjectID::FromIndex(task_, ++n_); }
  static bool Deleted(const std::vector<DeletedObject>& d, const ObjectID& id) {
    return std::any_of(d.begin(), d.end(), [&](const DeletedObject& x) { return x.id == id; });
  }
  static const DeletedObject* Find(const std::vector<DeletedObject>& d, const ObjectID& id) {
    for (const auto& x : d) {
      if (x.id == id) return &x;
    }
    return nullptr;
  }

  ReferenceCounter rc_;
  TaskID task_ = TaskID::ForJob(JobID::FromInt(1));
  uint32_t n_ = 0;
};

TEST_F(ReferenceCounterTest, OwnedObjectDeletedWhenLocalRefsReachZero) {
  ObjectID id = NewId();
  rc_.AddOwnedObject(id, {}, /*in_plasma=*/false);
  rc_.AddLocalRef(id, nullptr);
  rc_.AddLocalRef(id, nullptr);
  EXPECT_TRUE(rc_.IsOwned(id));
  EXPECT_FALSE(rc_.GetOwner(id).has_value());  // owned: no foreign owner
  EXPECT_EQ(rc_.NumOwned(), 1u);

  std::vector<DeletedObject> deleted;
  rc_.RemoveLocalRef(id, &deleted);
  EXPECT_TRUE(deleted.empty());
  EXPECT_TRUE(rc_.Has(id));
  rc_.RemoveLocalRef(id, &deleted);
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].id, id);
  EXPECT_TRUE(deleted[0].owned);
  EXPECT_FALSE(deleted[0].in_plasma);
  EXPECT_FALSE(rc_.Has(id));
  EXPECT_EQ(rc_.NumObjects(), 0u);

  // Extra removals are harmless.
  deleted.clear();
  rc_.RemoveLocalRef(id, &deleted);
  EXPECT_TRUE(deleted.empty());
}

TEST_F(ReferenceCounterTest, SubmittedTaskRefsKeepObjectAlive) {
  ObjectID arg = NewId();
  rc_.AddOwnedObject(arg, {}, false);
  rc_.AddLocalRef(arg, nullptr);
  rc_.AddSubmittedTaskRefs({arg, arg});  // two tasks take it as an argument

  std::vector<DeletedObject> deleted;
  rc_.RemoveLocalRef(arg, &deleted);
  EXPECT_TRUE(deleted.empty());
  EXPECT_TRUE(rc_.Has(arg));
  rc_.RemoveSubmittedTaskRefs({arg}, &deleted);
  EXPECT_TRUE(deleted.empty());
  rc_.RemoveSubmittedTaskRefs({arg}, &deleted);
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].id, arg);
  EXPECT_TRUE(deleted[0].owned);
  EXPECT_FALSE(rc_.Has(arg));
}

TEST_F(ReferenceCounterTest, LocalRefOutlivesSubmittedTask) {
  ObjectID arg = NewId();
  rc_.AddOwnedObject(arg, {}, false);
  rc_.AddLocalRef(arg, nullptr);
  rc_.AddSubmittedTaskRefs({arg});
  std::vector<DeletedObject> deleted;
  rc_.RemoveSubmittedTaskRefs({arg}, &deleted);
  EXPECT_TRUE(deleted.empty());
  rc_.RemoveLocalRef(arg, &deleted);
  EXPECT_TRUE(Deleted(deleted, arg));
}

TEST_F(ReferenceCounterTest, ContainedRefsLiveAsLongAsTheOuterObject) {
  ObjectID inner1 = NewId(), inner2 = NewId(), outer = NewId();
  rc_.AddOwnedObject(inner1, {}, false);
  rc_.AddOwnedObject(inner2, {}, true);
  rc_.AddLocalRef(inner1, nullptr);
  rc_.AddLocalRef(inner2, nullptr);
  rc_.AddOwnedObject(outer, {inner1, inner2}, false);
  rc_.AddLocalRef(outer, nullptr);

  // Dropping the Python refs to the inner objects does not delete them.
  std::vector<DeletedObject> deleted;
  rc_.RemoveLocalRef(inner1, &deleted);
  rc_.RemoveLocalRef(inner2, &deleted);
  EXPECT_TRUE(deleted.empty());
  EXPECT_TRUE(rc_.Has(inner1));
  EXPECT_TRUE(rc_.Has(inner2));

  // Deleting the outer object cascades.
  rc_.RemoveLocalRef(outer, &deleted);
  ASSERT_EQ(deleted.size(), 3u);
  EXPECT_EQ(deleted[0].id, outer);
  ASSERT_NE(Find(deleted, inner1), nullptr);
  ASSERT_NE(Find(deleted, inner2), nullptr);
  EXPECT_FALSE(Find(deleted, inner1)->in_plasma);
  EXPECT_TRUE(Find(deleted, inner2)->in_plasma);
  EXPECT_EQ(rc_.NumObjects(), 0u);
}

TEST_F(ReferenceCounterTest, CascadeStopsAtInnerObjectsStillReferenced) {
  ObjectID inner = NewId(), outer = NewId();
  rc_.AddOwnedObject(inner, {}, false);
  rc_.AddLocalRef(inner, nullptr);
  rc_.AddOwnedObject(outer, {inner}, false);
  rc_.AddLocalRef(outer, nullptr);
  std::vector<DeletedObject> deleted;
  rc_.RemoveLocalRef(outer, &deleted);
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].id, outer);
  EXPECT_TRUE(rc_.Has(inner));
  rc_.RemoveLocalRef(inner, &deleted);
  EXPECT_TRUE(Deleted(deleted, inner));
  EXPECT_EQ(rc_.NumObjects(), 0u);
}

TEST_F(ReferenceCounterTest, NestedContainmentCascadesThroughLevels) {
  // c inside b inside a; plus c also inside a directly.
  ObjectID c = NewId(), b = NewId(), a = NewId();
  rc_.AddOwnedObject(c, {}, false);
  rc_.AddOwnedObject(b, {c}, false);
  rc_.AddOwnedObject(a, {b, c}, false);
  rc_.AddLocalRef(a, nullptr);
  std::vector<DeletedObject> deleted;
  rc_.RemoveLocalRef(a, &deleted);
  EXPECT_EQ(deleted.size(), 3u);
  EXPECT_TRUE(Deleted(deleted, a));
  EXPECT_TRUE(Deleted(deleted, b));
  EXPECT_TRUE(Deleted(deleted, c));
  EXPECT_EQ(rc_.NumObjects(), 0u);
}

TEST_F(ReferenceCounterTest, ContainedRefsAddedWhenTheValueArrives) {
  // A task return known first by id, whose value later turns out to hold a ref.
  ObjectID inner = NewId(), ret = NewId();
  rc_.AddOwnedObject(inner, {}, false);
  rc_.AddLocalRef(inner, nullptr);
  rc_.AddOwnedObject(ret, {}, false);
  rc_.AddLocalRef(ret, nullptr);
  rc_.AddContainedRefs(ret, {inner});
  std::vector<DeletedObject> deleted;
  rc_.RemoveLocalRef(inner, &deleted);
  EXPECT_TRUE(deleted.empty());
  rc_.RemoveLocalRef(ret, &deleted);
  EXPECT_EQ(deleted.size(), 2u);
  EXPECT_TRUE(Deleted(deleted, inner));

  // Unknown outer objects are ignored.
  rc_.AddContainedRefs(NewId(), {NewId()});
  EXPECT_EQ(rc_.NumObjects(), 0u);
}

TEST_F(ReferenceCounterTest, EscapedObjectsAreNeverDeleted) {
  ObjectID id = NewId(), inner = NewId();
  rc_.AddOwnedObject(inner, {}, false);
  rc_.AddOwnedObject(id, {inner}, true);
  rc_.AddLocalRef(id, nullptr);
  rc_.AddSubmittedTaskRefs({id});
  rc_.MarkEscaped(id);
  std::vector<DeletedObject> deleted;
  rc_.RemoveLocalRef(id, &deleted);
  rc_.RemoveSubmittedTaskRefs({id}, &deleted);
  EXPECT_TRUE(deleted.empty());
  EXPECT_TRUE(rc_.Has(id));
  EXPECT_TRUE(rc_.Has(inner));  // kept alive by the pinned outer object
  // New refs come and go; still pinned.
  rc_.AddLocalRef(id, nullptr);
  rc_.RemoveLocalRef(id, &deleted);
  EXPECT_TRUE(deleted.empty());
  EXPECT_TRUE(rc_.Has(id));
}

TEST_F(ReferenceCounterTest, MarkEscapedIgnoresBorrowedAndUnknown) {
  rc_.MarkEscaped(NewId());  // unknown: no entry is created
  EXPECT_EQ(rc_.NumObjects(), 0u);
  ObjectID borrowed = NewId();
  rc_.AddLocalRef(borrowed, nullptr);
  rc_.MarkEscaped(borrowed);  // only owned objects are pinned
  std::vector<DeletedObject> deleted;
  rc_.RemoveLocalRef(borrowed, &deleted);
  EXPECT_TRUE(Deleted(deleted, borrowed));
}

TEST_F(ReferenceCounterTest, BorrowedRefsReportTheirOwnerAndOwnedFalse) {
  ObjectID id = NewId();
  rpc::Address owner;
  owner.set_worker_id(WorkerID::FromRandom().Binary());
  owner.set_endpoint("unix:/tmp/owner.sock");
  rc_.AddLocalRef(id, &owner);
  rc_.AddLocalRef(id, nullptr);  // a second ref to a known id keeps the owner
  EXPECT_TRUE(rc_.Has(id));
  EXPECT_FALSE(rc_.IsOwned(id));
  EXPECT_EQ(rc_.NumOwned(), 0u);
  auto got = rc_.GetOwner(id);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->endpoint(), "unix:/tmp/owner.sock");
  EXPECT_EQ(got->worker_id(), owner.worker_id());

  std::vector<DeletedObject> deleted;
  rc_.RemoveLocalRef(id, &deleted);
  EXPECT_TRUE(deleted.empty());
  rc_.RemoveLocalRef(id, &deleted);
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].id, id);
  EXPECT_FALSE(deleted[0].owned);
  EXPECT_FALSE(rc_.GetOwner(id).has_value());
}

TEST_F(ReferenceCounterTest, InPlasmaFlagIsReported) {
  ObjectID put = NewId(), ret = NewId(), small = NewId();
  rc_.AddOwnedObject(put, {}, /*in_plasma=*/true);
  rc_.AddOwnedObject(ret, {}, /*in_plasma=*/false);
  rc_.AddOwnedObject(small, {}, false);
  rc_.SetInPlasma(ret);  // the task's return turned out big
  rc_.SetInPlasma(NewId());  // unknown: ignored
  for (const auto& id : {put, ret, small}) rc_.AddLocalRef(id, nullptr);
  std::vector<DeletedObject> deleted;
  for (const auto& id : {put, ret, small}) rc_.RemoveLocalRef(id, &deleted);
  ASSERT_EQ(deleted.size(), 3u);
  EXPECT_TRUE(Find(deleted, put)->in_plasma);
  EXPECT_TRUE(Find(deleted, ret)->in_plasma);
  EXPECT_FALSE(Find(deleted, small)->in_plasma);
}

TEST_F(ReferenceCounterTest, ConcurrentRefsFromManyThreads) {
  std::vector<ObjectID> ids;
  for (int i = 0; i < 64; i++) {
    ids.push_back(NewId());
    rc_.AddOwnedObject(ids.back(), {}, false);
    rc_.AddLocalRef(ids.back(), nullptr);  // the test's own ref
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&] {
      std::vector<DeletedObject> deleted;
      for (int round = 0; round < 200; round++) {
        for (const auto& id : ids) rc_.AddLocalRef(id, nullptr);
        for (const auto& id : ids) rc_.RemoveLocalRef(id, &deleted);
      }
      EXPECT_TRUE(deleted.empty());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(rc_.NumObjects(), ids.size());
  std::vector<DeletedObject> deleted;
  for (const auto& id : ids) rc_.RemoveLocalRef(id, &deleted);
  EXPECT_EQ(deleted.size(), ids.size());
}

}  // namespace
}  // namespace lumos::core
