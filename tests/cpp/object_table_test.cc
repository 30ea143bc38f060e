// ObjectTable as a pure state machine: lifecycle, pins, deferred deletes,
// abort rules and client disconnects.
#include "object_store/object_table.h"

#include <gtest/gtest.h>

namespace lumos::object_store {
namespace {

class ObjectTableTest : public ::testing::Test {
 protected:
  ObjectID NewId() { return ObjectID::ForPut(task_, ++n_); }
  // Create + Seal by `who` (also the owner unless given).
  ObjectID Sealed(const WorkerID& who, uint64_t size = 100) {
    ObjectID id = NewId();
    EXPECT_TRUE(table_.Create(id, size, 0, who, who).ok());
    EXPECT_TRUE(table_.Seal(id).ok());
    return id;
  }

  ObjectTable table_{1 << 20};
  TaskID task_ = TaskID::ForJob(JobID::FromInt(1));
  uint32_t n_ = 0;
  WorkerID a_ = WorkerID::FromRandom();
  WorkerID b_ = WorkerID::FromRandom();
  WorkerID c_ = WorkerID::FromRandom();
};

TEST_F(ObjectTableTest, CreateSealGetLifecycle) {
  ObjectID id = NewId();
  Result<uint64_t> off = table_.Create(id, 1000, 24, a_, a_);
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off.value() % 64, 0u);
  EXPECT_EQ(table_.used(), 1024u);
  EXPECT_EQ(table_.num_objects(), 1u);
  // Unsealed: invisible.
  EXPECT_FALSE(table_.Contains(id));
  EXPECT_EQ(table_.Get(id, b_, nullptr).code(), StatusCode::kNotFound);
  ASSERT_TRUE(table_.Seal(id).ok());
  EXPECT_EQ(table_.Seal(id).code(), StatusCode::kInvalid);  // twice
  EXPECT_TRUE(table_.Contains(id));
  ObjectEntry e;
  ASSERT_TRUE(table_.Get(id, b_, &e).ok());
  EXPECT_EQ(e.offset, off.value());
  EXPECT_EQ(e.data_size, 1000u);
  EXPECT_EQ(e.metadata_size, 24u);
  EXPECT_EQ(e.owner, a_);
  EXPECT_EQ(e.state, ObjectState::kSealed);
  EXPECT_EQ(e.total_pins, 1u);
}

TEST_F(ObjectTableTest, CreateTwiceIsAlreadyExists) {
  ObjectID id = Sealed(a_);
  EXPECT_EQ(table_.Create(id, 10, 0, a_, a_).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(table_.num_objects(), 1u);
}

TEST_F(ObjectTableTest, UnknownIdsAreNotFound) {
  ObjectID id = NewId();
  EXPECT_EQ(table_.Seal(id).code(), StatusCode::kNotFound);
  EXPECT_EQ(table_.Abort(id, a_).code(), StatusCode::kNotFound);
  EXPECT_EQ(table_.Get(id, a_, nullptr).code(), StatusCode::kNotFound);
  EXPECT_EQ(table_.Release(id, a_).code(), StatusCode::kNotFound);
  EXPECT_EQ(table_.Delete(id).code(), StatusCode::kNotFound);
  EXPECT_EQ(table_.Find(id), nullptr);
}

TEST_F(ObjectTableTest, OutOfMemoryNamesTheObject) {
  ObjectID id = NewId();
  Result<uint64_t> r = table_.Create(id, 2 << 20, 0, a_, a_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kOutOfMemory);
  EXPECT_NE(r.status().message().find(id.Hex()), std::string::npos);
  EXPECT_EQ(table_.num_objects(), 0u);
}

TEST_F(ObjectTableTest, PinsAreCountedPerClient) {
  ObjectID id = Sealed(a_);
  ASSERT_TRUE(table_.Get(id, b_, nullptr).ok());
  ASSERT_TRUE(table_.Get(id, b_, nullptr).ok());
  ASSERT_TRUE(table_.Get(id, c_, nullptr).ok());
  const ObjectEntry* e = table_.Find(id);
  EXPECT_EQ(e->total_pins, 3u);
  EXPECT_EQ(e->pins.at(b_), 2u);
  EXPECT_EQ(table_.Release(id, a_).code(), StatusCode::kInvalid);  // a never pinned it
  ASSERT_TRUE(table_.Release(id, b_).ok());
  ASSERT_TRUE(table_.Release(id, b_).ok());
  EXPECT_EQ(table_.Release(id, b_).code(), StatusCode::kInvalid);  // no pins left
  EXPECT_EQ(e->total_pins, 1u);
}

TEST_F(ObjectTableTest, DeleteUnpinnedFreesAtOnce) {
  ObjectID id = Sealed(a_);
  std::vector<uint64_t> freed;
  uint64_t off = table_.Find(id)->offset;
  ASSERT_TRUE(table_.Delete(id, &freed).ok());
  EXPECT_EQ(freed, std::vector<uint64_t>{off});
  EXPECT_EQ(table_.num_objects(), 0u);
  EXPECT_EQ(table_.used(), 0u);
}

TEST_F(ObjectTableTest, DeleteWhilePinnedFreesAtLastRelease) {
  ObjectID id = Sealed(a_);
  ASSERT_TRUE(table_.Get(id, b_, nullptr).ok());
  ASSERT_TRUE(table_.Get(id, c_, nullptr).ok());
  std::vector<uint64_t> freed;
  ASSERT_TRUE(table_.Delete(id, &freed).ok());
  EXPECT_TRUE(freed.empty());
  EXPECT_TRUE(table_.Find(id)->delete_pending);
  // Gone for new readers, but the bytes stay for the pinned ones.
  EXPECT_FALSE(table_.Contains(id));
  EXPECT_EQ(table_.Get(id, a_, nullptr).code(), StatusCode::kNotFound);
  EXPECT_EQ(table_.Create(id, 1, 0, a_, a_).status().code(), StatusCode::kAlreadyExists);
  EXPECT_GT(table_.used(), 0u);
  ASSERT_TRUE(table_.Release(id, b_, &freed).ok());
  EXPECT_TRUE(freed.empty());
  ASSERT_TRUE(table_.Release(id, c_, &freed).ok());
  EXPECT_EQ(freed.size(), 1u);
  EXPECT_EQ(table_.num_objects(), 0u);
  EXPECT_EQ(table_.used(), 0u);
  // The id can be used again.
  EXPECT_TRUE(table_.Create(id, 1, 0, a_, a_).ok());
}

TEST_F(ObjectTableTest, DeleteUnsealedWaitsForSeal) {
  ObjectID id = NewId();
  ASSERT_TRUE(table_.Create(id, 10, 0, a_, a_).ok());
  std::vector<uint64_t> freed;
  ASSERT_TRUE(table_.Delete(id, &freed).ok());
  EXPECT_TRUE(freed.empty());  // the creator may still be writing
  ASSERT_TRUE(table_.Seal(id, &freed).ok());
  EXPECT_EQ(freed.size(), 1u);
  EXPECT_EQ(table_.num_objects(), 0u);
}

TEST_F(ObjectTableTest, AbortOnlyUnsealedAndOnlyByCreator) {
  ObjectID id = NewId();
  ASSERT_TRUE(table_.Create(id, 10, 0, /*owner=*/b_, /*creator=*/a_).ok());
  EXPECT_EQ(table_.Abort(id, b_).code(), StatusCode::kInvalid);  // the owner did not create it
  std::vector<uint64_t> freed;
  ASSERT_TRUE(table_.Abort(id, a_, &freed).ok());
  EXPECT_EQ(freed.size(), 1u);
  EXPECT_EQ(table_.num_objects(), 0u);

  ObjectID sealed = Sealed(a_);
  EXPECT_EQ(table_.Abort(sealed, a_).code(), StatusCode::kInvalid);
  EXPECT_TRUE(table_.Contains(sealed));
}

TEST_F(ObjectTableTest, DisconnectDropsPins) {
  ObjectID id = Sealed(a_);
  ASSERT_TRUE(table_.Get(id, b_, nullptr).ok());
  ASSERT_TRUE(table_.Get(id, b_, nullptr).ok());
  table_.ClientDisconnected(b_);
  EXPECT_EQ(table_.Find(id)->total_pins, 0u);
  EXPECT_TRUE(table_.Contains(id));  // owned by a, who is still here
  std::vector<uint64_t> freed;
  ASSERT_TRUE(table_.Delete(id, &freed).ok());
  EXPECT_EQ(freed.size(), 1u);
}

TEST_F(ObjectTableTest, DisconnectOfPinnerCompletesPendingDelete) {
  ObjectID id = Sealed(a_);
  ASSERT_TRUE(table_.Get(id, b_, nullptr).ok());
  ASSERT_TRUE(table_.Delete(id).ok());
  std::vector<uint64_t> freed;
  table_.ClientDisconnected(b_, &freed);
  EXPECT_EQ(freed.size(), 1u);
  EXPECT_EQ(table_.num_objects(), 0u);
}

TEST_F(ObjectTableTest, DisconnectOfOwnerDeletesItsObjects) {
  ObjectID unpinned = Sealed(a_);
  ObjectID pinned = Sealed(a_);
  ObjectID others = Sealed(b_);
  // Created by b on behalf of owner a (e.g. a task's return value).
  ObjectID for_a = NewId();
  ASSERT_TRUE(table_.Create(for_a, 10, 0, a_, b_).ok());
  ASSERT_TRUE(table_.Seal(for_a).ok());
  ASSERT_TRUE(table_.Get(pinned, c_, nullptr).ok());
  std::vector<uint64_t> freed;
  table_.ClientDisconnected(a_, &freed);
  EXPECT_EQ(freed.size(), 2u);  // unpinned and for_a
  EXPECT_EQ(table_.Find(unpinned), nullptr);
  EXPECT_EQ(table_.Find(for_a), nullptr);
  ASSERT_NE(table_.Find(pinned), nullptr);  // c still reads it
  EXPECT_TRUE(table_.Find(pinned)->delete_pending);
  EXPECT_TRUE(table_.Contains(others));
  freed.clear();
  ASSERT_TRUE(table_.Release(pinned, c_, &freed).ok());
  EXPECT_EQ(freed.size(), 1u);
  EXPECT_EQ(table_.num_objects(), 1u);
}

TEST_F(ObjectTableTest, DisconnectOfCreatorAbortsItsUnsealedObjects) {
  // b was writing an object owned by a and died before sealing it.
  ObjectID id = NewId();
  ASSERT_TRUE(table_.Create(id, 10, 0, a_, b_).ok());
  ObjectID sealed_by_b = NewId();
  ASSERT_TRUE(table_.Create(sealed_by_b, 10, 0, a_, b_).ok());
  ASSERT_TRUE(table_.Seal(sealed_by_b).ok());
  std::vector<uint64_t> freed;
  table_.ClientDisconnected(b_, &freed);
  EXPECT_EQ(freed.size(), 1u);
  EXPECT_EQ(table_.Find(id), nullptr);
  EXPECT_TRUE(table_.Contains(sealed_by_b));  // sealed objects belong to their owner
}

TEST_F(ObjectTableTest, OwnerDisconnectDefersUnsealedObjectOfLiveCreator) {
  ObjectID id = NewId();
  ASSERT_TRUE(table_.Create(id, 10, 0, a_, b_).ok());
  std::vector<uint64_t> freed;
  table_.ClientDisconnected(a_, &freed);
  EXPECT_TRUE(freed.empty());  // b may still be writing into it
  ASSERT_TRUE(table_.Seal(id, &freed).ok());
  EXPECT_EQ(freed.size(), 1u);
  EXPECT_EQ(table_.num_objects(), 0u);
}

TEST_F(ObjectTableTest, DisconnectOfUnknownClientIsHarmless) {
  ObjectID id = Sealed(a_);
  table_.ClientDisconnected(WorkerID::FromRandom());
  table_.ClientDisconnected(c_);
  EXPECT_TRUE(table_.Contains(id));
}

TEST_F(ObjectTableTest, ManyObjectsEverythingFreedAfterDisconnects) {
  std::vector<ObjectID> ids;
  for (int i = 0; i < 200; i++) ids.push_back(Sealed(i % 2 ? a_ : b_, 1000));
  for (int i = 0; i < 200; i += 3) ASSERT_TRUE(table_.Get(ids[i], c_, nullptr).ok());
  table_.ClientDisconnected(a_);
  table_.ClientDisconnected(b_);
  EXPECT_GT(table_.num_objects(), 0u);  // c's pins hold some
  table_.ClientDisconnected(c_);
  EXPECT_EQ(table_.num_objects(), 0u);
  EXPECT_EQ(table_.used(), 0u);
  EXPECT_EQ(table_.allocator().num_free_blocks(), 1u);
}

}  // namespace
}  // namespace lumos::object_store

namespace lumos::object_store {
namespace {

TEST(ObjectTablePromoteTest, ACachedCopyPromotedIsNeverEvictedAndKeepsItsOwnerEndpoint) {
  ObjectTable table(1 << 20);
  WorkerID w = WorkerID::FromRandom();
  ObjectID id = ObjectID::ForPut(TaskID::ForJob(JobID::FromInt(1)), 1);
  ASSERT_TRUE(table.Create(id, 100, 0, WorkerID::Nil(), w, /*primary=*/false).ok());
  EXPECT_FALSE(table.Promote(id));  // unsealed: not yet
  ASSERT_TRUE(table.Seal(id).ok());
  ASSERT_TRUE(table.NextVictim().has_value());
  EXPECT_FALSE(table.NextVictim()->primary);
  ASSERT_TRUE(table.Promote(id));
  table.SetOwnerEndpoint(id, "unix:/owner.sock");
  EXPECT_TRUE(table.Find(id)->primary);
  EXPECT_EQ(table.Find(id)->owner_endpoint, "unix:/owner.sock");
  // Now a primary: a candidate for spilling, no longer for eviction.
  ASSERT_TRUE(table.NextVictim().has_value());
  EXPECT_TRUE(table.NextVictim()->primary);
  EXPECT_EQ(table.Evict(id).code(), StatusCode::kInvalid);
  EXPECT_FALSE(table.Promote(ObjectID::ForPut(TaskID::ForJob(JobID::FromInt(1)), 2)));  // unknown
}

}  // namespace
}  // namespace lumos::object_store
