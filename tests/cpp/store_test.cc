// A real StoreServer on an EventLoop thread with StoreClients talking to it
// over a Unix socket: shared-memory zero-copy reads, pins and deferred frees,
// out-of-memory, owner disconnects, and garbage input.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <thread>

#include "common.pb.h"
#include "object_manager.pb.h"
#include "object_store/store_client.h"
#include "object_store/store_server.h"
#include "rpc/event_loop.h"
#include "rpc/frame.h"
#include "test_util.h"

namespace lumos::object_store {
namespace {

using lumos::testing::TempDir;
using lumos::testing::WaitFor;
using ObjectBuffer = StoreClient::ObjectBuffer;

constexpr uint64_t kCapacity = 8 << 20;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    path_ = dir_.File("store.sock");
    server_ = std::make_unique<StoreServer>(loop_.io(), path_, kCapacity);
    Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    loop_.Start("store");
    a_ = Connect(wa_);
    b_ = Connect(wb_);
    ASSERT_TRUE(a_ && b_);
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    server_.reset();  // from this thread while the loop runs: Stop hands over and waits
  }

  std::unique_ptr<StoreClient> Connect(const WorkerID& id) {
    auto c = std::make_unique<StoreClient>();
    Status st = c->Connect(path_, id, 2000);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return st.ok() ? std::move(c) : nullptr;
  }

  ObjectID NewId() { return ObjectID::ForPut(task_, ++n_); }

  // Creates, fills with `fill` and seals an object of `size` bytes through `c`.
  ObjectID Put(StoreClient* c, const WorkerID& owner, uint64_t size, uint8_t fill) {
    ObjectID id = NewId();
    uint8_t* data = nullptr;
    Status st = c->Create(id, size, 0, owner, &data);
    EXPECT_TRUE(st.ok()) << st.ToString();
    if (!st.ok()) return id;
    std::memset(data, fill, size);
    EXPECT_TRUE(c->Seal(id).ok());
    return id;
  }

  bool ServerHas(uint64_t objects) {
    return WaitFor([&] { return server_->Stats().num_objects == objects; });
  }

  TempDir dir_;
  std::string path_;
  rpc::EventLoop loop_;
  std::unique_ptr<StoreServer> server_;
  WorkerID wa_ = WorkerID::FromRandom();
  WorkerID wb_ = WorkerID::FromRandom();
  std::unique_ptr<StoreClient> a_, b_;
  TaskID task_ = TaskID::ForJob(JobID::FromInt(7));
  uint32_t n_ = 0;
};

TEST_F(StoreTest, ConnectMapsTheArena) {
  EXPECT_EQ(a_->arena_size(), kCapacity);
  uint64_t cap = 0, used = 1, num = 1;
  ASSERT_TRUE(a_->Stats(&cap, &used, &num).ok());
  EXPECT_EQ(cap, kCapacity);
  EXPECT_EQ(used, 0u);
  EXPECT_EQ(num, 0u);
}

TEST_F(StoreTest, CreateWriteSealThenOtherClientReadsSameBytes) {
  ObjectID id = NewId();
  const std::string payload = "hello from a";
  const std::string meta = "P5";
  uint8_t* data = nullptr;
  ASSERT_TRUE(a_->Create(id, payload.size(), meta.size(), wa_, &data).ok());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(data) % 64, 0u);
  std::memcpy(data, payload.data(), payload.size());
  std::memcpy(data + payload.size(), meta.data(), meta.size());

  // Not visible before Seal.
  std::vector<ObjectBuffer> got;
  ASSERT_TRUE(b_->Get({id}, &got).ok());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(got[0].found);
  bool found = true;
  ASSERT_TRUE(b_->Contains(id, &found).ok());
  EXPECT_FALSE(found);

  ASSERT_TRUE(a_->Seal(id).ok());
  ASSERT_TRUE(b_->Contains(id, &found).ok());
  EXPECT_TRUE(found);
  ASSERT_TRUE(b_->Get({id, NewId()}, &got).ok());
  ASSERT_EQ(got.size(), 2u);
  ASSERT_TRUE(got[0].found);
  EXPECT_FALSE(got[1].found);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(got[0].data) % 64, 0u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(got[0].data), got[0].data_size), payload);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(got[0].metadata), got[0].metadata_size),
            meta);
  EXPECT_EQ(got[0].metadata, got[0].data + payload.size());
  // Zero copy: b reads a's memory itself (a write through a's mapping shows up
  // in b's; only a test may write after Seal).
  data[0] = 'J';
  EXPECT_EQ(got[0].data[0], 'J');
  b_->Release(id);
}

TEST_F(StoreTest, CreateErrors) {
  ObjectID id = Put(a_.get(), wa_, 10, 1);
  uint8_t* data = nullptr;
  EXPECT_EQ(b_->Create(id, 10, 0, wb_, &data).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(a_->Seal(id).code(), StatusCode::kInvalid);
  EXPECT_EQ(a_->Seal(NewId()).code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, AbortDropsUnsealedObjectOfItsCreatorOnly) {
  ObjectID id = NewId();
  uint8_t* data = nullptr;
  ASSERT_TRUE(a_->Create(id, 1000, 0, wa_, &data).ok());
  EXPECT_EQ(b_->Abort(id).code(), StatusCode::kInvalid);
  ASSERT_TRUE(a_->Abort(id).ok());
  EXPECT_EQ(server_->Stats().num_objects, 0u);
  EXPECT_EQ(server_->Stats().used, 0u);
  ObjectID sealed = Put(a_.get(), wa_, 10, 2);
  EXPECT_EQ(a_->Abort(sealed).code(), StatusCode::kInvalid);
}

TEST_F(StoreTest, DeleteWhilePinnedFreesAtRelease) {
  ObjectID id = Put(a_.get(), wa_, 1 << 20, 0xab);
  std::vector<ObjectBuffer> got;
  ASSERT_TRUE(b_->Get({id}, &got).ok());
  ASSERT_TRUE(got[0].found);
  ASSERT_TRUE(a_->Delete({id}).ok());
  bool found = true;
  ASSERT_TRUE(a_->Contains(id, &found).ok());
  EXPECT_FALSE(found);
  uint64_t used = 0, num = 0;
  ASSERT_TRUE(a_->Stats(nullptr, &used, &num).ok());
  EXPECT_EQ(num, 1u);  // pinned by b: still there
  EXPECT_GE(used, 1u << 20);
  EXPECT_EQ(got[0].data[12345], 0xab);  // still readable
  b_->Release(id);
  // Release is one-way, but b's next call is ordered after it.
  ASSERT_TRUE(b_->Stats(nullptr, &used, &num).ok());
  EXPECT_EQ(num, 0u);
  EXPECT_EQ(used, 0u);
}

TEST_F(StoreTest, OutOfMemoryIsReportedAndRecoverable) {
  uint8_t* data = nullptr;
  Status st = a_->Create(NewId(), kCapacity + 1, 0, wa_, &data);
  EXPECT_EQ(st.code(), StatusCode::kOutOfMemory);
  EXPECT_NE(st.message().find("capacity"), std::string::npos) << st.message();
  std::vector<ObjectID> ids;
  for (int i = 0; i < 4; i++) ids.push_back(Put(a_.get(), wa_, 2 << 20, static_cast<uint8_t>(i)));
  st = a_->Create(NewId(), 1, 0, wa_, &data);  // full
  EXPECT_EQ(st.code(), StatusCode::kOutOfMemory) << st.ToString();
  ASSERT_TRUE(a_->Delete({ids[0]}).ok());
  EXPECT_TRUE(a_->Create(NewId(), 2 << 20, 0, wa_, &data).ok());
}

TEST_F(StoreTest, OwnerDisconnectFreesItsObjects) {
  WorkerID wc = WorkerID::FromRandom();
  auto c = Connect(wc);
  ASSERT_TRUE(c);
  ObjectID owned1 = Put(c.get(), wc, 1000, 1);
  ObjectID owned2 = Put(c.get(), wc, 1000, 2);
  ObjectID pinned = Put(c.get(), wc, 1000, 3);
  ObjectID for_a = Put(c.get(), wa_, 1000, 4);  // written by c, owned by a
  uint8_t* data = nullptr;
  ASSERT_TRUE(c->Create(NewId(), 1000, 0, wc, &data).ok());  // never sealed
  std::vector<ObjectBuffer> got;
  ASSERT_TRUE(b_->Get({pinned}, &got).ok());
  ASSERT_TRUE(got[0].found);
  EXPECT_EQ(server_->Stats().num_objects, 5u);

  c.reset();  // c's process goes away
  ASSERT_TRUE(ServerHas(2));  // for_a, and pinned (delete-pending)
  bool found = false;
  ASSERT_TRUE(a_->Contains(for_a, &found).ok());
  EXPECT_TRUE(found);
  ASSERT_TRUE(a_->Contains(owned1, &found).ok());
  EXPECT_FALSE(found);
  ASSERT_TRUE(a_->Contains(owned2, &found).ok());
  EXPECT_FALSE(found);
  EXPECT_EQ(got[0].data[999], 3);  // b's pin keeps the bytes
  b_->Release(pinned);
  ASSERT_TRUE(ServerHas(1));
}

TEST_F(StoreTest, PinsOfADisconnectedReaderAreDropped) {
  ObjectID id = Put(a_.get(), wa_, 100, 9);
  std::vector<ObjectBuffer> got;
  ASSERT_TRUE(b_->Get({id}, &got).ok());
  ASSERT_TRUE(b_->Get({id}, &got).ok());
  ASSERT_TRUE(a_->Delete({id}).ok());
  EXPECT_EQ(server_->Stats().num_objects, 1u);
  b_.reset();
  ASSERT_TRUE(ServerHas(0));
  EXPECT_EQ(server_->Stats().used, 0u);
}

TEST_F(StoreTest, ConcurrentClientsFromManyThreads) {
  constexpr int kThreads = 4, kPerThread = 200;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  std::vector<ObjectID> ids;
  for (int i = 0; i < kThreads * kPerThread; i++) ids.push_back(NewId());
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      StoreClient* c = t % 2 ? a_.get() : b_.get();  // two threads share each client
      const WorkerID& owner = t % 2 ? wa_ : wb_;
      for (int i = 0; i < kPerThread; i++) {
        const ObjectID& id = ids[t * kPerThread + i];
        uint8_t* data = nullptr;
        if (!c->Create(id, 64, 0, owner, &data).ok()) { failures++; continue; }
        std::memset(data, t, 64);
        if (!c->Seal(id).ok()) failures++;
        std::vector<ObjectBuffer> got;
        if (!c->Get({id}, &got).ok() || !got[0].found || got[0].data[63] != t) failures++;
        c->Release(id);
        if (!c->Delete({id}).ok()) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  uint64_t num = 1;
  ASSERT_TRUE(a_->Stats(nullptr, nullptr, &num).ok());
  EXPECT_EQ(num, 0u);
}

TEST_F(StoreTest, RequestsFailAfterServerStops) {
  server_->Stop();
  uint64_t num = 0;
  Status st = a_->Stats(nullptr, nullptr, &num);
  EXPECT_EQ(st.code(), StatusCode::kDisconnected) << st.ToString();
  StoreClient late;
  EXPECT_FALSE(late.Connect(path_, WorkerID::FromRandom(), 50).ok());
}

TEST_F(StoreTest, ClientNotConnected) {
  StoreClient c;
  uint8_t* data;
  EXPECT_EQ(c.Create(NewId(), 1, 0, wa_, &data).code(), StatusCode::kNotInitialized);
  c.Release(NewId());  // harmless
  EXPECT_EQ(c.arena_size(), 0u);
}

// A raw socket speaking bytes, to send what StoreClient never would.
class RawClient {
 public:
  explicit RawClient(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  void Send(const std::string& bytes) { ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL); }
  void SendFrame(uint16_t method, rpc::FrameKind kind, const std::string& payload) {
    rpc::FrameHeader h;
    h.method = method;
    h.kind = kind;
    h.request_id = ++next_id_;
    h.payload_len = static_cast<uint32_t>(payload.size());
    Send(rpc::EncodeFrame(h, payload));
  }
  // The status of the reply to the last request (OK for a normal reply).
  Status Reply() {
    rpc::FrameDecoder d(1 << 20);
    char buf[4096];
    while (!d.HasFrame()) {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);  // a passed fd is discarded
      if (n <= 0) return Status::Disconnected("closed");
      if (!d.Feed(buf, n).ok()) return Status::Invalid("bad reply");
    }
    rpc::Frame f = d.Next();
    if (f.header.request_id != next_id_) return Status::Invalid("reply to another request");
    return rpc::StatusFromFrame(f);
  }
  bool ClosedByPeer() {
    char c;
    return ::recv(fd_, &c, 1, 0) == 0;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  uint64_t next_id_ = 0;
};

std::string ConnectPayload(const std::string& client_id) {
  rpc::StoreConnectRequest req;
  req.set_client_id(client_id);
  return req.SerializeAsString();
}

TEST_F(StoreTest, GarbageRequestsGetErrorsOrAreDropped) {
  using rpc::FrameKind;
  const std::string junk = "\xff\xff\xff\xff\x0f";  // not a protobuf message
  {
    RawClient r(path_);
    ASSERT_TRUE(r.connected());
    r.SendFrame(rpc::STORE_GET, FrameKind::kRequest, "");
    EXPECT_EQ(r.Reply().code(), StatusCode::kNotInitialized);
    r.SendFrame(rpc::STORE_CONNECT, FrameKind::kRequest, junk);
    EXPECT_EQ(r.Reply().code(), StatusCode::kInvalidArgument);
    r.SendFrame(rpc::STORE_CONNECT, FrameKind::kRequest, ConnectPayload("short"));
    EXPECT_EQ(r.Reply().code(), StatusCode::kInvalidArgument);
    r.SendFrame(rpc::STORE_CONNECT, FrameKind::kRequest,
                ConnectPayload(WorkerID::FromRandom().Binary()));
    EXPECT_TRUE(r.Reply().ok());
    r.SendFrame(rpc::STORE_CONNECT, FrameKind::kRequest,
                ConnectPayload(WorkerID::FromRandom().Binary()));
    EXPECT_EQ(r.Reply().code(), StatusCode::kInvalid);  // twice
    rpc::StoreCreateRequest create;
    create.set_object_id("12345");
    create.set_data_size(10);
    r.SendFrame(rpc::STORE_CREATE, FrameKind::kRequest, create.SerializeAsString());
    EXPECT_EQ(r.Reply().code(), StatusCode::kInvalidArgument);
    create.set_object_id(NewId().Binary());
    create.set_owner_id("x");
    r.SendFrame(rpc::STORE_CREATE, FrameKind::kRequest, create.SerializeAsString());
    EXPECT_EQ(r.Reply().code(), StatusCode::kInvalidArgument);
    create.set_data_size(UINT64_MAX);
    create.set_metadata_size(10);
    create.clear_owner_id();
    r.SendFrame(rpc::STORE_CREATE, FrameKind::kRequest, create.SerializeAsString());
    EXPECT_EQ(r.Reply().code(), StatusCode::kInvalidArgument);  // size overflow
    r.SendFrame(rpc::STORE_GET, FrameKind::kRequest, junk);
    EXPECT_EQ(r.Reply().code(), StatusCode::kInvalidArgument);
    r.SendFrame(rpc::STORE_STATS, FrameKind::kRequest, "");
    EXPECT_TRUE(r.Reply().ok());  // still served
    // A broken one-way frame has nobody to answer: the connection is dropped.
    r.SendFrame(rpc::STORE_RELEASE, FrameKind::kOneway, junk);
    EXPECT_TRUE(r.ClosedByPeer());
  }
  {
    // An unknown method: the peer speaks another protocol. Told why, then dropped.
    RawClient r(path_);
    ASSERT_TRUE(r.connected());
    r.SendFrame(999, FrameKind::kRequest, "");
    EXPECT_EQ(r.Reply().code(), StatusCode::kNotImplemented);
    EXPECT_TRUE(r.ClosedByPeer());
  }
  {
    RawClient r(path_);
    ASSERT_TRUE(r.connected());
    r.Send(std::string(64, '\xee'));  // not even a frame header
    EXPECT_TRUE(r.ClosedByPeer());
  }
  // The store is still up and serving its real clients.
  ObjectID id = Put(a_.get(), wa_, 100, 5);
  std::vector<ObjectBuffer> got;
  ASSERT_TRUE(b_->Get({id}, &got).ok());
  EXPECT_TRUE(got[0].found);
  b_->Release(id);
}

TEST_F(StoreTest, SecondConnectionOfSameClientKeepsItsObjects) {
  auto again = Connect(wa_);  // e.g. another thread's connection of the same worker
  ASSERT_TRUE(again);
  ObjectID id = Put(again.get(), wa_, 10, 1);
  again.reset();
  // a_ (same WorkerID) is still connected: nothing is deleted.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  bool found = false;
  ASSERT_TRUE(b_->Contains(id, &found).ok());
  EXPECT_TRUE(found);
  a_.reset();
  ASSERT_TRUE(ServerHas(0));
}

TEST(StoreServerTest, RejectsTinyCapacityAndLongPaths) {
  rpc::EventLoop loop;
  StoreServer tiny(loop.io(), "/tmp/lumos_never.sock", 10);
  EXPECT_EQ(tiny.Start().code(), StatusCode::kInvalidArgument);
  StoreServer long_path(loop.io(), "/tmp/" + std::string(200, 'x'), 1 << 20);
  EXPECT_EQ(long_path.Start().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lumos::object_store
