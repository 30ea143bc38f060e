// Spill and restore I/O off the store's loop: the SPILLING state of the
// ObjectTable (pure), and a real StoreServer whose I/O threads a test holds
// back (SpillOptions::before_io) to show that other requests are served
// meanwhile, that a waiting Create is answered when space frees, that a
// Delete during a write removes the file afterwards, and the fsync option.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "object_store/object_table.h"
#include "object_store/spill_file.h"
#include "object_store/store_client.h"
#include "object_store/store_server.h"
#include "rpc/event_loop.h"
#include "object_table_fixture.h"
#include "test_util.h"

namespace lumos::object_store {
namespace {

using lumos::testing::TempDir;
using lumos::testing::WaitFor;
using ObjectBuffer = StoreClient::ObjectBuffer;

ObjectID Id(uint32_t i) {
  static const TaskID task = TaskID::ForJob(JobID::FromInt(4));  // ForJob is random: one for all
  return ObjectID::ForPut(task, i);
}

// ------------------------------------------------------------ ObjectTable

using SpillingStateTest = ObjectTableTest;

TEST_F(SpillingStateTest, TheBlockStaysUntilTheWriteFinishesThenIsFreed) {
  ObjectID x = Sealed(512);
  Result<ObjectEntry> e = table_.BeginSpill(x);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e.value().size(), 512u);
  EXPECT_EQ(table_.Find(x)->state, ObjectState::kSpilling);
  EXPECT_TRUE(table_.Find(x)->in_arena());
  EXPECT_EQ(table_.used(), 512u);
  EXPECT_EQ(table_.spilling_bytes(), 512u);
  EXPECT_EQ(table_.spilled_bytes(), 0u);
  EXPECT_FALSE(table_.NextVictim().has_value());  // one write per object
  EXPECT_EQ(table_.BeginSpill(x).status().code(), StatusCode::kInvalid);
  EXPECT_TRUE(table_.Contains(x));
  std::vector<uint64_t> freed;
  ASSERT_TRUE(table_.FinishSpill(x, true, "/s/x", 4096, 7, &freed).ok());
  EXPECT_EQ(freed, std::vector<uint64_t>{e.value().offset});
  const ObjectEntry* s = table_.Find(x);
  EXPECT_EQ(s->state, ObjectState::kSpilled);
  EXPECT_EQ(s->file_path, "/s/x");
  EXPECT_EQ(s->file_offset, 4096u);
  EXPECT_EQ(s->spill_crc, 7u);
  EXPECT_EQ(table_.used(), 0u);
  EXPECT_EQ(table_.spilling_bytes(), 0u);
  EXPECT_EQ(table_.spilled_bytes(), 512u);
  EXPECT_EQ(table_.FinishSpill(x, true, "/s/x", 4096, 7).code(), StatusCode::kInvalid);  // twice
}

TEST_F(SpillingStateTest, AReaderDuringTheWriteKeepsItInMemoryWithItsFile) {
  ObjectID x = Sealed(512);
  ASSERT_TRUE(table_.BeginSpill(x).ok());
  ObjectEntry got;
  ASSERT_TRUE(table_.Get(x, b_, &got).ok());  // served from memory
  EXPECT_EQ(got.state, ObjectState::kSpilling);
  ASSERT_TRUE(table_.Release(x, b_).ok());
  EXPECT_FALSE(table_.NextVictim().has_value());  // released, still being written
  ASSERT_TRUE(table_.Get(x, b_, &got).ok());
  ASSERT_TRUE(table_.FinishSpill(x, true, "/s/x", 4096, 7).ok());
  EXPECT_EQ(table_.Find(x)->state, ObjectState::kRestored);  // pinned: the block stays
  EXPECT_EQ(table_.used(), 512u);
  ASSERT_TRUE(table_.Release(x, b_).ok());
  // Later pressure drops the block without writing again.
  EXPECT_EQ(table_.NextVictim()->id, x);
  EXPECT_EQ(table_.BeginSpill(x).status().code(), StatusCode::kInvalid);  // has a file
  ASSERT_TRUE(table_.MarkSpilled(x, "/s/x", 4096, 7).ok());
  EXPECT_EQ(table_.used(), 0u);
}

TEST_F(SpillingStateTest, AFailedWriteLeavesTheObjectAsItWas) {
  ObjectID x = Sealed(512);
  ASSERT_TRUE(table_.BeginSpill(x).ok());
  std::vector<uint64_t> freed;
  ASSERT_TRUE(table_.FinishSpill(x, false, "/s/x", 4096, 0, &freed).ok());
  EXPECT_TRUE(freed.empty());
  EXPECT_EQ(table_.Find(x)->state, ObjectState::kSealed);
  EXPECT_TRUE(table_.Find(x)->file_path.empty());
  EXPECT_EQ(table_.NextVictim()->id, x);
  EXPECT_EQ(table_.spilling_bytes(), 0u);
  EXPECT_TRUE(table_.TakeFilesToRemove().empty());
  ASSERT_TRUE(table_.BeginSpill(x).ok());  // may be tried again
}

TEST_F(SpillingStateTest, DeleteDuringTheWriteErasesWhenItEndsAndQueuesTheFile) {
  ObjectID x = Sealed(512);
  ObjectID y = Sealed(256);
  ASSERT_TRUE(table_.BeginSpill(x).ok());
  ASSERT_TRUE(table_.BeginSpill(y).ok());
  ASSERT_TRUE(table_.Delete(x).ok());
  table_.ClientDisconnected(a_);  // the owner goes: y is deleted too
  // Still there (the I/O reads the blocks) but invisible.
  EXPECT_EQ(table_.num_objects(), 2u);
  EXPECT_EQ(table_.used(), 768u);
  EXPECT_FALSE(table_.Contains(x));
  EXPECT_EQ(table_.Get(x, b_, nullptr).code(), StatusCode::kNotFound);
  std::vector<uint64_t> freed;
  ASSERT_TRUE(table_.FinishSpill(x, true, "/s/x", 4096, 1, &freed).ok());
  EXPECT_EQ(freed.size(), 1u);
  EXPECT_EQ(table_.TakeFilesToRemove(), std::vector<std::string>{"/s/x"});
  ASSERT_TRUE(table_.FinishSpill(y, false, "/s/y", 4096, 0, &freed).ok());
  EXPECT_TRUE(table_.TakeFilesToRemove().empty());  // a failed write left no file
  EXPECT_EQ(table_.num_objects(), 0u);
  EXPECT_EQ(table_.used(), 0u);
  EXPECT_EQ(table_.spilling_bytes(), 0u);
  EXPECT_EQ(table_.spilled_bytes(), 0u);
}

TEST_F(SpillingStateTest, OnlyUnpinnedPrimaryObjectsWithoutAFileAreWritten) {
  ObjectID pinned = Sealed(64);
  ASSERT_TRUE(table_.Get(pinned, b_, nullptr).ok());
  EXPECT_EQ(table_.BeginSpill(pinned).status().code(), StatusCode::kInvalid);
  ObjectID cached = Sealed(64, false);
  EXPECT_EQ(table_.BeginSpill(cached).status().code(), StatusCode::kInvalid);
  ObjectID unsealed = Id(++n_);
  ASSERT_TRUE(table_.Create(unsealed, 64, 0, a_, a_).ok());
  EXPECT_EQ(table_.BeginSpill(unsealed).status().code(), StatusCode::kInvalid);
  EXPECT_EQ(table_.BeginSpill(Id(999)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(table_.spilling_bytes(), 0u);
}

TEST_F(SpillingStateTest, ABatchFileGoesWithTheLastOfItsObjects) {
  ObjectID x = Sealed(128), y = Sealed(128), z = Sealed(128);
  for (const ObjectID& id : {x, y, z}) ASSERT_TRUE(table_.BeginSpill(id).ok());
  ASSERT_TRUE(table_.FinishSpill(x, true, "/s/b", 4096, 1).ok());
  ASSERT_TRUE(table_.FinishSpill(y, true, "/s/b", 8192, 2).ok());
  ASSERT_TRUE(table_.Get(z, b_, nullptr).ok());
  ASSERT_TRUE(table_.FinishSpill(z, true, "/s/b", 12288, 3).ok());  // pinned: RESTORED, uses the file too
  EXPECT_EQ(table_.Find(y)->file_offset, 8192u);
  ASSERT_TRUE(table_.Delete(x).ok());
  ASSERT_TRUE(table_.Delete(y).ok());
  EXPECT_TRUE(table_.TakeFilesToRemove().empty());  // z still lives in it
  ASSERT_TRUE(table_.Release(z, b_).ok());
  ASSERT_TRUE(table_.MarkSpilled(z, "/s/b", 12288, 3).ok());
  EXPECT_TRUE(table_.TakeFilesToRemove().empty());
  ASSERT_TRUE(table_.Delete(z).ok());
  EXPECT_EQ(table_.TakeFilesToRemove(), std::vector<std::string>{"/s/b"});
}

TEST(SpillBatchFileTest, EachObjectReadsBackFromItsOffsetAndDamageStaysLocal) {
  TempDir dir;
  const std::string path = dir.File("batch.spill");
  std::vector<std::vector<uint8_t>> payloads;
  std::vector<SpillItem> items(3);
  for (uint32_t i = 0; i < items.size(); i++) {
    payloads.emplace_back(1000 + 5000 * i, static_cast<uint8_t>(i + 1));
    items[i].id = Id(100 + i);
    items[i].bytes = payloads[i].data();
    items[i].data_size = payloads[i].size() - 7;
    items[i].metadata_size = 7;
  }
  ASSERT_TRUE(WriteSpillBatch(path, &items, false).ok());
  for (uint32_t i = 0; i < items.size(); i++) {
    EXPECT_EQ(items[i].file_offset % kSpillHeaderBytes, 0u);
    std::vector<uint8_t> back(payloads[i].size());
    Status st = ReadSpillFile(path, items[i].file_offset, items[i].id, back.data(), items[i].data_size, 7,
                              items[i].crc);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(back, payloads[i]);
  }
  // Another object's offset, or a payload flipped: caught, the others still read.
  EXPECT_FALSE(ReadSpillFile(path, items[1].file_offset, items[0].id, nullptr, items[0].data_size, 7,
                             items[0].crc).ok());
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_EQ(::pwrite(fd, "x", 1, static_cast<off_t>(items[1].file_offset + 10)), 1);
  ::close(fd);
  Status bad = ReadSpillFile(path, items[1].file_offset, items[1].id, nullptr, items[1].data_size, 7, items[1].crc);
  EXPECT_NE(bad.message().find("checksum"), std::string::npos) << bad.ToString();
  EXPECT_TRUE(ReadSpillFile(path, items[2].file_offset, items[2].id, nullptr, items[2].data_size, 7,
                            items[2].crc).ok());
}

// ------------------------------------------------------------ StoreServer

constexpr uint64_t kCapacity = 4 << 20;
constexpr uint64_t kObject = (1 << 20) - 64;  // with 3 bytes of metadata: a 1 MiB block
constexpr uint64_t kSlack = 64 << 10;            // left free by Fill()

int CountFiles(const std::string& dir) {
  int n = 0;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
    ::closedir(d);
  }
  return n;
}

// Holds the store's I/O threads at the start of each job while closed.
class Gate {
 public:
  void Close() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = false;
  }
  void Open() {
    {
      std::lock_guard<std::mutex> l(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void Pass() {
    std::unique_lock<std::mutex> l(mu_);
    waiting_++;
    cv_.wait(l, [&] { return open_; });
    waiting_--;
  }
  int waiting() {
    std::lock_guard<std::mutex> l(mu_);
    return waiting_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int waiting_ = 0;
};

class StoreSpillAsyncTest : public ::testing::Test {
 protected:
  void Start(bool fsync = false, uint64_t batch_object_max_bytes = 0) {  // 1 MiB objects: unbatched by default
    SpillOptions opts;
    opts.enabled = true;
    opts.batch_object_max_bytes = batch_object_max_bytes;
    opts.directory = dir_.File("spill");
    opts.fsync = fsync;
    auto gate = gate_;
    opts.before_io = [gate] { gate->Pass(); };
    server_ = std::make_unique<StoreServer>(loop_.io(), dir_.File("store.sock"), kCapacity, opts);
    ASSERT_TRUE(server_->Start().ok());
    loop_.Start("store");
    a_ = std::make_unique<StoreClient>();
    ASSERT_TRUE(a_->Connect(dir_.File("store.sock"), wa_, 2000).ok());
    b_ = std::make_unique<StoreClient>();
    ASSERT_TRUE(b_->Connect(dir_.File("store.sock"), wb_, 2000).ok());
  }
  void TearDown() override {
    gate_->Open();  // a held write would keep the store from stopping
    if (waiter_.joinable()) waiter_.join();
    a_.reset();
    b_.reset();
    server_.reset();
    EXPECT_EQ(CountFiles(dir_.File("spill")), 0);
  }
  Status Put(StoreClient* c, uint64_t size, uint8_t fill, ObjectID* out) {
    *out = Id(++n_);
    uint8_t* data = nullptr;
    LUMOS_RETURN_NOT_OK(c->Create(*out, size, 3, wa_, &data));
    std::memset(data, fill, size);
    std::memcpy(data + size, "met", 3);
    return c->Seal(*out);
  }
  // Fills the arena with four objects (fill bytes 1..4) but kSlack bytes.
  void Fill() {
    for (uint8_t i = 0; i < 4; i++) {
      ObjectID id;
      ASSERT_TRUE(Put(a_.get(), i == 3 ? kObject - kSlack : kObject, i + 1, &id).ok());
      ids_.push_back(id);
    }
  }
  // Client a creates a fifth object on another thread: it needs a spill.
  void CreateInBackground() {
    waiter_ = std::thread([this] {
      uint8_t* data = nullptr;
      waiter_status_ = a_->Create(Id(1000), kObject, 3, wa_, &data);
      if (waiter_status_.ok()) {
        std::memset(data, 9, kObject + 3);
        waiter_status_ = a_->Seal(Id(1000));
      }
      waiter_done_ = true;
    });
  }
  std::string State(const ObjectID& id) {
    StoreClient::DetailedStats s;
    EXPECT_TRUE(b_->GetDetailedStats(true, &s).ok());
    for (const auto& o : s.objects) {
      if (o.object_id == id.Binary()) return o.state;
    }
    return "absent";
  }
  StoreClient::DetailedStats Stats() {
    StoreClient::DetailedStats s;
    EXPECT_TRUE(b_->GetDetailedStats(false, &s).ok());
    return s;
  }
  // 200 objects of 64 KiB through the 4 MiB store (batched below `batch` bytes).
  void SpillManySmall(uint64_t batch);

  TempDir dir_;
  rpc::EventLoop loop_;
  std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();
  std::unique_ptr<StoreServer> server_;
  WorkerID wa_ = WorkerID::FromRandom();
  WorkerID wb_ = WorkerID::FromRandom();
  std::unique_ptr<StoreClient> a_, b_;
  std::vector<ObjectID> ids_;
  uint32_t n_ = 0;
  std::thread waiter_;
  Status waiter_status_;
  std::atomic<bool> waiter_done_{false};
};

TEST_F(StoreSpillAsyncTest, RequestsAreServedWhileASpillIsWrittenAndDeleteRemovesTheFileAfter) {
  Start();
  Fill();
  std::vector<ObjectBuffer> before;
  ASSERT_TRUE(b_->Get({ids_[0]}, &before).ok());
  const uint8_t* where = before[0].data;
  b_->Release(ids_[0]);
  for (int i = 1; i < 4; i++) {  // the last release orders LRU: ids_[0] stays the oldest
    ASSERT_TRUE(b_->Get({ids_[i]}, &before).ok());
    b_->Release(ids_[i]);
  }
  gate_->Close();
  CreateInBackground();
  ASSERT_TRUE(WaitFor([&] { return gate_->waiting() == 1; }));
  // The oldest object is being written; everything else goes on.
  EXPECT_EQ(State(ids_[0]), "SPILLING");
  auto s = Stats();
  EXPECT_EQ(s.num_spill_writes_in_flight, 1u);
  EXPECT_EQ(s.used, kCapacity - kSlack);
  std::vector<ObjectBuffer> got;
  ASSERT_TRUE(b_->Get({ids_[0], ids_[3]}, &got).ok());
  ASSERT_TRUE(got[0].found && got[1].found);
  EXPECT_EQ(got[0].data, where);  // from memory, where it was
  EXPECT_EQ(got[0].data[kObject - 1], 1);
  EXPECT_EQ(got[1].data[0], 4);
  b_->Release(ids_[0]);
  b_->Release(ids_[3]);
  ObjectID tiny;
  ASSERT_TRUE(Put(b_.get(), 1000, 7, &tiny).ok());  // fits: not queued behind the big one
  EXPECT_FALSE(waiter_done_.load());
  // Deleted mid-write: gone for readers now, its file goes when the write ends.
  ASSERT_TRUE(b_->Delete({ids_[0]}).ok());
  ASSERT_TRUE(b_->Get({ids_[0]}, &got).ok());
  EXPECT_FALSE(got[0].found);
  gate_->Open();
  waiter_.join();
  ASSERT_TRUE(waiter_status_.ok()) << waiter_status_.ToString();
  EXPECT_EQ(State(ids_[0]), "absent");
  EXPECT_TRUE(WaitFor([&] { return CountFiles(dir_.File("spill")) == 0; }));
  EXPECT_EQ(Stats().num_spill_writes_in_flight, 0u);
}

TEST_F(StoreSpillAsyncTest, AWaitingCreateIsAnsweredAsSoonAsSpaceFrees) {
  Start();
  Fill();
  gate_->Close();
  CreateInBackground();
  ASSERT_TRUE(WaitFor([&] { return gate_->waiting() == 1; }));
  EXPECT_FALSE(waiter_done_.load());
  ASSERT_TRUE(b_->Delete({ids_[3]}).ok());  // frees a block while the write is held
  ASSERT_TRUE(WaitFor([&] { return waiter_done_.load(); }));
  EXPECT_TRUE(waiter_status_.ok()) << waiter_status_.ToString();
  EXPECT_EQ(State(ids_[0]), "SPILLING");
  gate_->Open();
  ASSERT_TRUE(WaitFor([&] { return State(ids_[0]) == "SPILLED"; }));
  std::vector<ObjectBuffer> got;
  ASSERT_TRUE(b_->Get({ids_[0]}, &got).ok());  // restored into the block its write freed
  ASSERT_TRUE(got[0].found) << got[0].error;
  EXPECT_EQ(got[0].data[0], 1);
  EXPECT_EQ(got[0].data[kObject - 1], 1);
  b_->Release(ids_[0]);
}

TEST_F(StoreSpillAsyncTest, AGetOfASpilledObjectWaitsForItsRestoreWhileOthersAreServed) {
  Start();
  Fill();
  ObjectID fifth;
  ASSERT_TRUE(Put(a_.get(), kObject, 5, &fifth).ok());  // spills ids_[0]
  ASSERT_EQ(State(ids_[0]), "SPILLED");
  gate_->Close();
  std::atomic<bool> done{false};
  std::vector<ObjectBuffer> restored;
  std::thread reader([&] {
    EXPECT_TRUE(b_->Get({ids_[0]}, &restored).ok());
    done = true;
  });
  // Room for the restore means spilling another object: both writes and the
  // read go through the held I/O threads.
  ASSERT_TRUE(WaitFor([&] { return gate_->waiting() >= 1; }));
  std::vector<ObjectBuffer> got;
  ASSERT_TRUE(a_->Get({fifth}, &got).ok());  // in memory: not held up
  EXPECT_EQ(got[0].data[0], 5);
  a_->Release(fifth);
  EXPECT_FALSE(done.load());
  gate_->Open();
  reader.join();
  ASSERT_TRUE(restored[0].found) << restored[0].error;
  EXPECT_EQ(restored[0].data[0], 1);
  EXPECT_EQ(restored[0].data[kObject - 1], 1);
  EXPECT_EQ(State(ids_[0]), "RESTORED");
  b_->Release(ids_[0]);
  EXPECT_GT(Stats().bytes_restored_total, 0u);
}

TEST_F(StoreSpillAsyncTest, FsyncOptionSyncsEverySpillFile) {
  Start(/*fsync=*/true);
  Fill();
  ObjectID id;
  for (uint8_t i = 0; i < 3; i++) ASSERT_TRUE(Put(a_.get(), kObject, 10 + i, &id).ok());
  StoreClient::DetailedStats s = Stats();
  EXPECT_TRUE(s.spill_fsync);
  EXPECT_GE(s.num_spill_files_total, 3u);
  EXPECT_EQ(s.num_spill_fsyncs_total, s.num_spill_files_total);
}

TEST_F(StoreSpillAsyncTest, WithoutTheFsyncOptionNothingIsSynced) {
  Start();
  Fill();
  ObjectID id;
  ASSERT_TRUE(Put(a_.get(), kObject, 10, &id).ok());
  StoreClient::DetailedStats s = Stats();
  EXPECT_FALSE(s.spill_fsync);
  EXPECT_GE(s.num_spill_files_total, 1u);
  EXPECT_EQ(s.num_spill_fsyncs_total, 0u);
}

TEST_F(StoreSpillAsyncTest, SmallObjectsAreSpilledSeveralToAFileAndReadBack) {
  Start(false, 1 << 20);
  SpillManySmall(1 << 20);
}

TEST_F(StoreSpillAsyncTest, WithoutBatchingEachObjectHasItsFile) {
  Start(false, 0);
  SpillManySmall(0);
}

void StoreSpillAsyncTest::SpillManySmall(uint64_t batch) {
  {
    std::vector<ObjectID> ids(200);  // 200 x 64 KiB in a 4 MiB store
    for (uint32_t i = 0; i < ids.size(); i++) {
      ASSERT_TRUE(Put(a_.get(), (64 << 10) - 64, static_cast<uint8_t>(i), &ids[i]).ok());
    }
    StoreClient::DetailedStats s = Stats();
    ASSERT_GE(s.num_spilled, 130u);
    if (batch) {
      EXPECT_LE(s.num_spill_files_total * 10, s.num_spilled) << s.num_spill_files_total;
    } else {
      EXPECT_EQ(s.num_spill_files_total, s.num_spilled);
    }
    EXPECT_EQ(CountFiles(dir_.File("spill")), static_cast<int>(s.num_spill_files_total));
    // Read back in pairs (restored or served from the file at its offset).
    for (uint32_t i = 0; i < ids.size(); i += 7) {
      std::vector<ObjectBuffer> got;
      ASSERT_TRUE(b_->Get({ids[i]}, &got).ok());
      ASSERT_TRUE(got[0].found) << got[0].error;
      EXPECT_EQ(got[0].data[0], static_cast<uint8_t>(i));
      EXPECT_EQ(got[0].data[(64 << 10) - 65], static_cast<uint8_t>(i));
      b_->Release(ids[i]);
    }
    // Every file goes with the last of its objects.
    ASSERT_TRUE(a_->Delete(std::vector<ObjectID>(ids.begin(), ids.begin() + 100)).ok());
    EXPECT_GT(CountFiles(dir_.File("spill")), 0);
    ASSERT_TRUE(a_->Delete(std::vector<ObjectID>(ids.begin() + 100, ids.end())).ok());
    EXPECT_TRUE(WaitFor([&] { return CountFiles(dir_.File("spill")) == 0; }));
  }
}

}  // namespace
}  // namespace lumos::object_store
