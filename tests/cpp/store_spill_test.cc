// A real StoreServer with spilling enabled and StoreClients over a Unix
// socket: LRU spilling when full, transparent restore on Get, reading spilled
// objects straight from their files, objects bigger than the arena, files
// deleted with their objects, corrupted spill files, unusable spill
// directories, and spilling disabled.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "object_store/spill_file.h"
#include "object_store/store_client.h"
#include "object_store/store_server.h"
#include "rpc/event_loop.h"
#include "test_util.h"

namespace lumos::object_store {
namespace {

using lumos::testing::TempDir;
using lumos::testing::WaitFor;
using ObjectBuffer = StoreClient::ObjectBuffer;

constexpr uint64_t kCapacity = 4 << 20;
constexpr uint64_t kObject = 1 << 20;  // four fit

int CountFiles(const std::string& dir) {
  int n = 0;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
    ::closedir(d);
  }
  return n;
}

class StoreSpillTest : public ::testing::Test {
 protected:
  void Start(bool enabled, const std::string& spill_dir = "") {
    spill_dir_ = spill_dir.empty() ? dir_.File("spill") : spill_dir;
    SpillOptions opts;
    opts.enabled = enabled;
    opts.directory = spill_dir_;
    server_ = std::make_unique<StoreServer>(loop_.io(), dir_.File("store.sock"), kCapacity, opts);
    Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    loop_.Start("store");
    a_ = std::make_unique<StoreClient>();
    ASSERT_TRUE(a_->Connect(dir_.File("store.sock"), wa_, 2000).ok());
    b_ = std::make_unique<StoreClient>();
    ASSERT_TRUE(b_->Connect(dir_.File("store.sock"), wb_, 2000).ok());
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    server_.reset();
    // Whatever the test left, the store's files are gone with it.
    EXPECT_EQ(CountFiles(spill_dir_), 0);
    ::rmdir(spill_dir_.c_str());
  }

  ObjectID NewId() { return ObjectID::ForPut(task_, ++n_); }
  static uint8_t Pattern(uint64_t i, uint32_t seed) { return static_cast<uint8_t>(i * 31 + seed * 7 + (i >> 12)); }

  Status Put(StoreClient* c, const WorkerID& owner, uint64_t size, uint32_t seed, ObjectID* out) {
    *out = NewId();
    uint8_t* data = nullptr;
    LUMOS_RETURN_NOT_OK(c->Create(*out, size, 3, owner, &data));
    for (uint64_t i = 0; i < size; i++) data[i] = Pattern(i, seed);
    std::memcpy(data + size, "met", 3);
    return c->Seal(*out);
  }
  ::testing::AssertionResult Check(const ObjectBuffer& b, uint64_t size, uint32_t seed) {
    if (!b.found) return ::testing::AssertionFailure() << "not found: " << b.error;
    if (b.data_size != size) return ::testing::AssertionFailure() << "size " << b.data_size;
    for (uint64_t i = 0; i < size; i++) {
      if (b.data[i] != Pattern(i, seed)) return ::testing::AssertionFailure() << "byte " << i << " differs";
    }
    if (std::string(reinterpret_cast<const char*>(b.metadata), b.metadata_size) != "met") {
      return ::testing::AssertionFailure() << "metadata differs";
    }
    return ::testing::AssertionSuccess();
  }
  StoreClient::DetailedStats Stats() {
    StoreClient::DetailedStats s;
    EXPECT_TRUE(a_->GetDetailedStats(true, &s).ok());
    return s;
  }

  TempDir dir_;
  std::string spill_dir_;
  rpc::EventLoop loop_;
  std::unique_ptr<StoreServer> server_;
  WorkerID wa_ = WorkerID::FromRandom();
  WorkerID wb_ = WorkerID::FromRandom();
  std::unique_ptr<StoreClient> a_, b_;
  TaskID task_ = TaskID::ForJob(JobID::FromInt(9));
  uint32_t n_ = 0;
};

TEST_F(StoreSpillTest, FullStoreSpillsLruAndGetRestoresTransparently) {
  Start(true);
  std::vector<ObjectID> ids(10);
  for (uint32_t i = 0; i < ids.size(); i++) ASSERT_TRUE(Put(a_.get(), wa_, kObject - 64, i, &ids[i]).ok());
  auto s = Stats();
  EXPECT_EQ(s.num_objects, 10u);
  EXPECT_GE(s.num_spilled, 6u);
  EXPECT_LE(s.used, kCapacity);
  EXPECT_TRUE(s.spilling_enabled);
  EXPECT_EQ(CountFiles(spill_dir_), static_cast<int>(s.num_spilled));
  // The oldest went first.
  for (const auto& o : s.objects) {
    if (o.object_id == ids[0].Binary()) EXPECT_EQ(o.state, "SPILLED");
    if (o.object_id == ids[9].Binary()) EXPECT_EQ(o.state, "SEALED");
  }
  // Every object reads back right, one at a time (each restore spills others).
  for (uint32_t i = 0; i < ids.size(); i++) {
    std::vector<ObjectBuffer> got;
    ASSERT_TRUE(b_->Get({ids[i]}, &got).ok());
    EXPECT_TRUE(Check(got[0], kObject - 64, i)) << i;
    b_->Release(ids[i]);
  }
  s = Stats();
  EXPECT_GT(s.bytes_restored_total, 0u);
  EXPECT_GT(s.bytes_spilled_total, 0u);
}

TEST_F(StoreSpillTest, GettingMoreThanFitsServesTheRestFromSpillFiles) {
  Start(true);
  std::vector<ObjectID> ids(8);
  for (uint32_t i = 0; i < ids.size(); i++) ASSERT_TRUE(Put(a_.get(), wa_, kObject - 64, i, &ids[i]).ok());
  // All pinned at once: 8 MB of objects in a 4 MB arena.
  std::vector<ObjectBuffer> got;
  ASSERT_TRUE(b_->Get(ids, &got).ok());
  for (uint32_t i = 0; i < ids.size(); i++) EXPECT_TRUE(Check(got[i], kObject - 64, i)) << i;
  // A second reader of a file-served object shares it.
  std::vector<ObjectBuffer> again;
  ASSERT_TRUE(a_->Get({ids[0]}, &again).ok());
  EXPECT_TRUE(Check(again[0], kObject - 64, 0));
  a_->Release(ids[0]);
  for (const ObjectID& id : ids) b_->Release(id);
  // The owner deletes them: every file goes.
  ASSERT_TRUE(a_->Delete(ids).ok());
  ASSERT_TRUE(WaitFor([&] { return server_->Stats().num_objects == 0; }));
  EXPECT_EQ(CountFiles(spill_dir_), 0);
  EXPECT_EQ(server_->Stats().spilled_bytes, 0u);
}

TEST_F(StoreSpillTest, PinnedObjectsAreNeverSpilled) {
  Start(true);
  ObjectID pinned;
  ASSERT_TRUE(Put(a_.get(), wa_, kObject - 64, 1, &pinned).ok());
  std::vector<ObjectBuffer> got;
  ASSERT_TRUE(b_->Get({pinned}, &got).ok());
  const uint8_t* where = got[0].data;
  for (uint32_t i = 0; i < 8; i++) {
    ObjectID id;
    ASSERT_TRUE(Put(a_.get(), wa_, kObject - 64, 100 + i, &id).ok());
  }
  for (const auto& o : Stats().objects) {
    if (o.object_id == pinned.Binary()) EXPECT_EQ(o.state, "SEALED");
  }
  EXPECT_EQ(got[0].data, where);
  EXPECT_TRUE(Check(got[0], kObject - 64, 1));
  b_->Release(pinned);
}

TEST_F(StoreSpillTest, ObjectBiggerThanTheArenaLivesInItsOwnFile) {
  Start(true);
  ObjectID big;
  const uint64_t size = 3 * kCapacity + 5;
  ASSERT_TRUE(Put(a_.get(), wa_, size, 3, &big).ok());
  auto s = Stats();
  EXPECT_EQ(s.used, 0u);
  EXPECT_EQ(s.spilled_bytes, size + 3);
  ASSERT_EQ(s.objects.size(), 1u);
  EXPECT_TRUE(s.objects[0].external);
  std::vector<ObjectBuffer> got;
  ASSERT_TRUE(b_->Get({big}, &got).ok());
  EXPECT_TRUE(Check(got[0], size, 3));
  b_->Release(big);
  EXPECT_EQ(CountFiles(spill_dir_), 1);
  b_.reset();
  a_.reset();  // the owner disconnects: its object and file go
  ASSERT_TRUE(WaitFor([&] { return server_->Stats().num_objects == 0; }));
  EXPECT_EQ(CountFiles(spill_dir_), 0);
}

TEST_F(StoreSpillTest, CorruptedSpillFileGivesAnErrorNamingTheObject) {
  Start(true);
  std::vector<ObjectID> ids(6);
  for (uint32_t i = 0; i < ids.size(); i++) ASSERT_TRUE(Put(a_.get(), wa_, kObject - 64, i, &ids[i]).ok());
  std::string victim;
  for (const auto& o : Stats().objects) {
    if (o.object_id == ids[0].Binary()) ASSERT_EQ(o.state, "SPILLED");
  }
  DIR* d = ::opendir(spill_dir_.c_str());
  while (dirent* e = ::readdir(d)) {
    if (std::string(e->d_name).find(ids[0].Hex()) != std::string::npos) victim = spill_dir_ + "/" + e->d_name;
  }
  ::closedir(d);
  ASSERT_FALSE(victim.empty());
  int fd = ::open(victim.c_str(), O_WRONLY);
  ASSERT_EQ(::pwrite(fd, "garbage", 7, kSpillHeaderBytes + 1000), 7);
  ::close(fd);
  std::vector<ObjectBuffer> got;
  ASSERT_TRUE(b_->Get({ids[0], ids[5]}, &got).ok());
  EXPECT_FALSE(got[0].found);
  EXPECT_NE(got[0].error.find(ids[0].Hex()), std::string::npos) << got[0].error;
  EXPECT_NE(got[0].error.find("checksum"), std::string::npos) << got[0].error;
  EXPECT_TRUE(Check(got[1], kObject - 64, 5));
  b_->Release(ids[5]);
  // Still an error the next time (never wrong data), and the store still works.
  ASSERT_TRUE(b_->Get({ids[0]}, &got).ok());
  EXPECT_FALSE(got[0].found);
  ObjectID more;
  ASSERT_TRUE(Put(a_.get(), wa_, kObject - 64, 77, &more).ok());
  // Truncation is caught too.
  std::string t;
  for (const auto& o : Stats().objects) {
    if (o.state == "SPILLED" && o.object_id != ids[0].Binary()) t = ObjectID::FromBinary(o.object_id).Hex();
  }
  ASSERT_FALSE(t.empty());
  d = ::opendir(spill_dir_.c_str());
  std::string tpath;
  while (dirent* e = ::readdir(d)) {
    if (std::string(e->d_name).find(t) != std::string::npos) tpath = spill_dir_ + "/" + e->d_name;
  }
  ::closedir(d);
  ASSERT_EQ(::truncate(tpath.c_str(), 100), 0);
  ObjectID tid = ObjectID::FromHex(t);
  ASSERT_TRUE(b_->Get({tid}, &got).ok());
  EXPECT_FALSE(got[0].found);
  EXPECT_NE(got[0].error.find("truncated"), std::string::npos) << got[0].error;
}

TEST_F(StoreSpillTest, UnusableSpillDirectoryFailsTheCreateWithTheCause) {
  // A regular file where the directory should be: nothing can be created in it.
  std::string blocker = dir_.File("blocker");
  int fd = ::open(blocker.c_str(), O_CREAT | O_WRONLY, 0600);
  ::close(fd);
  Start(true, blocker + "/spill");
  std::vector<ObjectID> ids(4);
  for (uint32_t i = 0; i < ids.size(); i++) ASSERT_TRUE(Put(a_.get(), wa_, kObject - 64, i, &ids[i]).ok());
  ObjectID id = NewId();
  uint8_t* data = nullptr;
  Status st = a_->Create(id, kObject - 64, 0, wa_, &data);
  EXPECT_EQ(st.code(), StatusCode::kOutOfMemory);
  EXPECT_NE(st.message().find("spilling failed"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("Not a directory"), std::string::npos) << st.ToString();
  // Too big for the arena: cannot be placed on disk either, says so.
  st = a_->Create(NewId(), 2 * kCapacity, 0, wa_, &data);
  EXPECT_EQ(st.code(), StatusCode::kOutOfMemory);
  EXPECT_NE(st.message().find("cannot be placed on disk"), std::string::npos) << st.ToString();
  // Nothing was harmed: every object still reads back right.
  std::vector<ObjectBuffer> got;
  ASSERT_TRUE(b_->Get(ids, &got).ok());
  for (uint32_t i = 0; i < ids.size(); i++) EXPECT_TRUE(Check(got[i], kObject - 64, i));
  for (const ObjectID& i : ids) b_->Release(i);
  ::unlink(blocker.c_str());
  spill_dir_ = dir_.File("none");
}

TEST_F(StoreSpillTest, SpillingDisabledFailsWithSizeAndCapacity) {
  Start(false);
  std::vector<ObjectID> ids(4);
  for (uint32_t i = 0; i < ids.size(); i++) ASSERT_TRUE(Put(a_.get(), wa_, kObject - 64, i, &ids[i]).ok());
  ObjectID id = NewId();
  uint8_t* data = nullptr;
  Status st = a_->Create(id, kObject - 64, 0, wa_, &data);
  EXPECT_EQ(st.code(), StatusCode::kOutOfMemory);
  EXPECT_NE(st.message().find(std::to_string(kCapacity)), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("spilling"), std::string::npos) << st.ToString();
  st = a_->Create(NewId(), 2 * kCapacity, 0, wa_, &data);
  EXPECT_EQ(st.code(), StatusCode::kOutOfMemory);
  EXPECT_NE(st.message().find(std::to_string(2 * kCapacity)), std::string::npos) << st.ToString();
  EXPECT_EQ(CountFiles(spill_dir_), 0);
}

}  // namespace
}  // namespace lumos::object_store
