// Two object stores and two ObjectManagers in one process, talking TCP over
// loopback: an object is reassembled from many small chunks, byte for byte;
// concurrent pulls of one object are merged; a missing object, an unknown
// node and a store without room give errors naming the cause; remote frees
// delete the copy.
#include "raylet/object_manager.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>

#include "object_store/store_client.h"
#include "object_store/store_server.h"
#include "rpc/cluster_identity.h"
#include "rpc/event_loop.h"
#include "test_util.h"

namespace lumos::raylet {
namespace {

using lumos::testing::TempDir;

struct TestNode {
  TempDir dir;
  rpc::EventLoop loop;
  std::unique_ptr<object_store::StoreServer> store;
  std::unique_ptr<ObjectManager> om;
  object_store::StoreClient client;
  NodeID id = NodeID::FromRandom();
  int port = 0;

  explicit TestNode(uint64_t capacity, uint64_t chunk) {
    store = std::make_unique<object_store::StoreServer>(loop.io(), dir.File("store"), capacity);
    EXPECT_TRUE(store->Start().ok());
    loop.Start("store");
    ObjectManager::Options o;
    o.node_id = id;
    o.store_socket = dir.File("store");
    o.chunk_bytes = chunk;
    om = std::make_unique<ObjectManager>(o);
    Status s = om->Start(&port);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(client.Connect(dir.File("store"), WorkerID::FromRandom(), 2000).ok());
  }
  ~TestNode() {
    om->Stop();
    om.reset();
    store.reset();
    loop.Stop();
    loop.Join();
  }
};

ObjectID Id(int i) {
  static const TaskID task = TaskID::ForJob(JobID::FromInt(7));
  return ObjectID::ForPut(task, i);
}

std::vector<std::string> PullSync(ObjectManager* om, const std::vector<ObjectID>& ids, const NodeID& from) {
  std::promise<std::vector<std::string>> done;
  om->Pull(ids, std::vector<NodeID>(ids.size(), from), std::vector<uint64_t>(ids.size(), 0), 0,
           [&](std::vector<std::string> errors) { done.set_value(std::move(errors)); });
  auto f = done.get_future();
  EXPECT_EQ(f.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  return f.get();
}

class ObjectManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rpc::SetClusterToken("om-test-token");
    a_ = std::make_unique<TestNode>(32 << 20, 4096 + 17);  // odd chunk size: many uneven chunks
    b_ = std::make_unique<TestNode>(32 << 20, 4096 + 17);
    b_->om->SetNodeAddress(a_->id, "127.0.0.1", a_->port);
    a_->om->SetNodeAddress(b_->id, "127.0.0.1", b_->port);
  }
  ObjectID PutOnA(int i, uint64_t size, const std::string& meta) {
    uint8_t* p = nullptr;
    EXPECT_TRUE(a_->client.Create(Id(i), size, meta.size(), WorkerID::FromRandom(), &p).ok());
    for (uint64_t k = 0; k < size; k++) p[k] = static_cast<uint8_t>((k * 131 + i) & 0xff);
    std::memcpy(p + size, meta.data(), meta.size());
    EXPECT_TRUE(a_->client.Seal(Id(i)).ok());
    return Id(i);
  }
  std::unique_ptr<TestNode> a_, b_;
};

TEST_F(ObjectManagerTest, ReassemblesManyChunksExactly) {
  const uint64_t size = 1 << 20;
  ObjectID id = PutOnA(1, size, "P5");
  auto errors = PullSync(b_->om.get(), {id}, a_->id);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "");
  std::vector<object_store::StoreClient::ObjectBuffer> bufs;
  ASSERT_TRUE(b_->client.Get({id}, &bufs).ok());
  ASSERT_TRUE(bufs[0].found);
  ASSERT_EQ(bufs[0].data_size, size);
  ASSERT_EQ(std::string(reinterpret_cast<const char*>(bufs[0].metadata), bufs[0].metadata_size), "P5");
  for (uint64_t k = 0; k < size; k++) {
    ASSERT_EQ(bufs[0].data[k], static_cast<uint8_t>((k * 131 + 1) & 0xff)) << "byte " << k;
  }
  b_->client.Release(id);
}

TEST_F(ObjectManagerTest, ConcurrentPullsOfOneObjectMerge) {
  ObjectID id = PutOnA(2, 300000, "");
  std::vector<std::future<std::vector<std::string>>> pulls;
  for (int i = 0; i < 4; i++) {
    pulls.push_back(std::async(std::launch::async, [&] { return PullSync(b_->om.get(), {id}, a_->id); }));
  }
  for (auto& p : pulls) EXPECT_EQ(p.get()[0], "");
  bool found = false;
  ASSERT_TRUE(b_->client.Contains(id, &found).ok());
  EXPECT_TRUE(found);
}

TEST_F(ObjectManagerTest, MissingObjectAndUnknownNodeAreErrors) {
  auto errors = PullSync(b_->om.get(), {Id(99)}, a_->id);
  EXPECT_NE(errors[0].find("no longer on node"), std::string::npos) << errors[0];
  errors = PullSync(b_->om.get(), {Id(98)}, NodeID::FromRandom());
  EXPECT_NE(errors[0].find("not alive"), std::string::npos) << errors[0];
}

TEST_F(ObjectManagerTest, RemoteFreeDeletesTheCopy) {
  ObjectID id = PutOnA(3, 1000, "");
  b_->om->FreeRemote({id}, {a_->id});
  bool found = true;
  for (int i = 0; i < 200 && found; i++) {
    ASSERT_TRUE(a_->client.Contains(id, &found).ok());
    if (found) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(found);
}

TEST_F(ObjectManagerTest, SameHostCopiesStraightFromTheOtherStore) {
  // With the peer's store socket known (a node on this host), no TCP is used.
  b_->om->SetNodeAddress(a_->id, "127.0.0.1", /*port=*/1, a_->dir.File("store"));
  const uint64_t size = 3 << 20;
  ObjectID id = PutOnA(6, size, "META");
  EXPECT_EQ(PullSync(b_->om.get(), {id}, a_->id)[0], "");
  std::vector<object_store::StoreClient::ObjectBuffer> bufs;
  ASSERT_TRUE(b_->client.Get({id}, &bufs).ok());
  ASSERT_TRUE(bufs[0].found);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(bufs[0].metadata), bufs[0].metadata_size), "META");
  for (uint64_t k = 0; k < size; k += 4099) ASSERT_EQ(bufs[0].data[k], static_cast<uint8_t>((k * 131 + 6) & 0xff));
  b_->client.Release(id);
  EXPECT_NE(PullSync(b_->om.get(), {Id(97)}, a_->id)[0].find("no longer on node"), std::string::npos);
}

TEST(ObjectManagerFullTest, NoRoomIsAClearError) {
  rpc::SetClusterToken("om-test-token");
  TestNode a(32 << 20, 1 << 20);
  TestNode b(2 << 20, 1 << 20);  // too small for the object
  b.om->SetNodeAddress(a.id, "127.0.0.1", a.port);
  uint8_t* p = nullptr;
  ObjectID id = Id(5);
  ASSERT_TRUE(a.client.Create(id, 8 << 20, 0, WorkerID::FromRandom(), &p).ok());
  ASSERT_TRUE(a.client.Seal(id).ok());
  auto errors = PullSync(b.om.get(), {id}, a.id);
  // Spilling is off in this store: the pull fails naming the size instead of hanging.
  EXPECT_NE(errors[0].find("no room"), std::string::npos) << errors[0];
}

}  // namespace
}  // namespace lumos::raylet
