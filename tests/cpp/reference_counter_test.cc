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

  static rpc::ObjectReference Ref(const ObjectID& id, const std::string& owner_endpoint = "") {
    rpc::ObjectReference r;
    r.set_object_id(id.Binary());
    if (!owner_endpoint.empty()) {
      r.mutable_owner()->set_endpoint(owner_endpoint);
      r.mutable_owner()->set_worker_id("w:" + owner_endpoint);
    }
    return r;
  }
  static rpc::Address Owner(const std::string& endpoint) { return Ref(ObjectID(), endpoint).owner(); }

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
  rc_.AddContainedRefs(ret, {Ref(inner)});
  std::vector<DeletedObject> deleted;
  rc_.RemoveLocalRef(inner, &deleted);
  EXPECT_TRUE(deleted.empty());
  rc_.RemoveLocalRef(ret, &deleted);
  EXPECT_EQ(deleted.size(), 2u);
  EXPECT_TRUE(Deleted(deleted, inner));

  // Unknown outer objects are ignored.
  rc_.AddContainedRefs(NewId(), {Ref(NewId())});
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

// ---- borrower protocol

TEST_F(ReferenceCounterTest, BorrowerKeepsOwnedObjectAlive) {
  rc_.SetSelf("w:unix:/owner", "unix:/owner");
  ObjectID x = NewId();
  rc_.AddOwnedObject(x, {}, true);
  rc_.AddLocalRef(x, nullptr);
  EXPECT_EQ(rc_.AddBorrowers({x, NewId()}, "unix:/b"), (std::vector<bool>{true, false}));
  std::vector<DeletedObject> deleted;
  rc_.RemoveLocalRef(x, &deleted);
  EXPECT_TRUE(deleted.empty());
  rc_.RemoveBorrowers(x, "unix:/b", 1, &deleted);
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_TRUE(deleted[0].owned);
  EXPECT_TRUE(deleted[0].in_plasma);
  EXPECT_EQ(deleted[0].registrations, 0);
}

TEST_F(ReferenceCounterTest, BorrowerRegistrationsAreCounted) {
  // Two lifetimes of one borrower may overlap at the owner (a new registration
  // can arrive before the old removal): counts, not a flag.
  ObjectID x = NewId();
  rc_.AddOwnedObject(x, {}, false);
  rc_.AddBorrowers({x}, "unix:/b");
  rc_.AddBorrowers({x}, "unix:/b");
  std::vector<DeletedObject> deleted;
  rc_.RemoveBorrowers(x, "unix:/b", 1, &deleted);
  EXPECT_TRUE(deleted.empty());
  rc_.RemoveBorrowers(x, "unix:/other", 5, &deleted);  // never registered: no effect
  EXPECT_TRUE(deleted.empty());
  rc_.RemoveBorrowers(x, "unix:/b", 1, &deleted);
  EXPECT_EQ(deleted.size(), 1u);
}

TEST_F(ReferenceCounterTest, BorrowerDeathDropsItsRegistrations) {
  ObjectID x = NewId(), y = NewId();
  rc_.AddOwnedObject(x, {}, false);
  rc_.AddOwnedObject(y, {}, false);
  rc_.AddBorrowers({x, y}, "unix:/b1");
  rc_.AddBorrowers({x}, "unix:/b2");
  std::vector<DeletedObject> deleted;
  rc_.RemoveBorrowerEverywhere("unix:/b1", &deleted);
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].id, y);
  rc_.RemoveBorrowerEverywhere("unix:/b2", &deleted);
  EXPECT_TRUE(Deleted(deleted, x));
}

TEST_F(ReferenceCounterTest, DeserializedRefRegistersOncePerLifetime) {
  rc_.SetSelf("w:unix:/me", "unix:/me");
  ObjectID x = NewId();
  rpc::Address owner = Owner("unix:/owner");
  EXPECT_TRUE(rc_.AddDeserializedRef(x, owner));
  EXPECT_FALSE(rc_.AddDeserializedRef(x, owner));  // registration in flight
  EXPECT_TRUE(rc_.OnRegistered(x));
  EXPECT_EQ(rc_.RegistrationsHeld(x), 1);
  EXPECT_FALSE(rc_.AddDeserializedRef(x, owner));  // already registered
  std::vector<DeletedObject> deleted;
  for (int i = 0; i < 3; i++) rc_.RemoveLocalRef(x, &deleted);
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_FALSE(deleted[0].owned);
  EXPECT_EQ(deleted[0].registrations, 1);
  EXPECT_EQ(deleted[0].owner_endpoint, "unix:/owner");
  // A new lifetime registers again.
  EXPECT_TRUE(rc_.AddDeserializedRef(x, owner));
}

TEST_F(ReferenceCounterTest, OwnRefsAndUnknownOwnersNeverRegister) {
  rc_.SetSelf("w:unix:/me", "unix:/me");
  ObjectID mine = NewId(), gone = NewId(), anon = NewId();
  rc_.AddOwnedObject(mine, {}, false);
  EXPECT_FALSE(rc_.AddDeserializedRef(mine, Owner("unix:/me")));
  EXPECT_FALSE(rc_.AddDeserializedRef(gone, Owner("unix:/me")));  // freed here already
  EXPECT_FALSE(rc_.AddDeserializedRef(anon, rpc::Address()));
}

TEST_F(ReferenceCounterTest, RegistrationAnsweredAfterTheRefWasDropped) {
  rc_.SetSelf("w:unix:/me", "unix:/me");
  ObjectID x = NewId();
  EXPECT_TRUE(rc_.AddDeserializedRef(x, Owner("unix:/owner")));
  std::vector<DeletedObject> deleted;
  rc_.RemoveLocalRef(x, &deleted);
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].registrations, 0);  // nothing to drop yet
  EXPECT_FALSE(rc_.OnRegistered(x));       // the caller drops it at the owner at once
}

TEST_F(ReferenceCounterTest, PreregisteredReturnRefs) {
  rc_.SetSelf("w:unix:/me", "unix:/me");
  ObjectID ret = NewId(), foreign = NewId(), mine = NewId();
  rc_.AddOwnedObject(ret, {}, false);
  rc_.AddLocalRef(ret, nullptr);
  rc_.AddOwnedObject(mine, {}, false);
  // The executor registered "me" with my own object's entry and with the
  // foreign owner before replying.
  EXPECT_EQ(rc_.AddBorrowers({mine}, "unix:/me"), std::vector<bool>{true});
  rc_.AddContainedRefs(ret, {Ref(foreign, "unix:/owner"), Ref(mine, "unix:/me")});
  std::vector<DeletedObject> deleted;
  rc_.ApplyPreregistered({foreign, mine}, &deleted);
  EXPECT_TRUE(deleted.empty());
  EXPECT_EQ(rc_.RegistrationsHeld(foreign), 1);
  rc_.RemoveLocalRef(ret, &deleted);
  ASSERT_EQ(deleted.size(), 3u);
  const DeletedObject* f = Find(deleted, foreign);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->registrations, 1);
  EXPECT_EQ(f->owner_endpoint, "unix:/owner");
  EXPECT_TRUE(Deleted(deleted, mine));
}

TEST_F(ReferenceCounterTest, RefPassedThroughThreeWorkers) {
  // Owner O puts x; B1 gets it nested in a task argument and passes it on to
  // B2, which passes it to B3. Messages are applied by hand in the order the
  // protocol guarantees (a registration completes before its carrier goes).
  ReferenceCounter o, b1, b2, b3;
  o.SetSelf("w:unix:/o", "unix:/o");
  b1.SetSelf("w:unix:/b1", "unix:/b1");
  b2.SetSelf("w:unix:/b2", "unix:/b2");
  b3.SetSelf("w:unix:/b3", "unix:/b3");
  rpc::Address owner = Owner("unix:/o");
  ObjectID x = NewId();
  std::vector<DeletedObject> d;
  o.AddOwnedObject(x, {}, true);
  o.AddLocalRef(x, nullptr);
  o.AddSubmittedTaskRefs({x});  // task 1 (to B1) carries x

  auto borrow = [&](ReferenceCounter& b, const std::string& ep) {
    ASSERT_TRUE(b.AddDeserializedRef(x, owner));
    ASSERT_EQ(o.AddBorrowers({x}, ep), std::vector<bool>{true});
    ASSERT_TRUE(b.OnRegistered(x));
  };
  auto release = [&](ReferenceCounter& b, const std::string& ep) {
    std::vector<DeletedObject> bd;
    b.RemoveLocalRef(x, &bd);
    ASSERT_EQ(bd.size(), 1u);
    ASSERT_EQ(bd[0].registrations, 1);
    o.RemoveBorrowers(x, ep, bd[0].registrations, &d);
  };
  borrow(b1, "unix:/b1");
  o.RemoveLocalRef(x, &d);            // the driver drops its own ref
  o.RemoveSubmittedTaskRefs({x}, &d);  // task 1 finished; B1 still holds x
  EXPECT_TRUE(d.empty());
  b1.AddSubmittedTaskRefs({x});  // B1 -> B2
  borrow(b2, "unix:/b2");
  std::vector<DeletedObject> bd;
  b1.RemoveSubmittedTaskRefs({x}, &bd);
  EXPECT_TRUE(bd.empty());
  release(b1, "unix:/b1");
  EXPECT_TRUE(d.empty());
  b2.AddSubmittedTaskRefs({x});  // B2 -> B3
  borrow(b3, "unix:/b3");
  b2.RemoveSubmittedTaskRefs({x}, &bd);
  release(b2, "unix:/b2");
  EXPECT_TRUE(d.empty());
  EXPECT_TRUE(o.Has(x));
  release(b3, "unix:/b3");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].id, x);
  EXPECT_FALSE(o.Has(x));
}

}  // namespace
}  // namespace lumos::core
