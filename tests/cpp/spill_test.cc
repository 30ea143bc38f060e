// The pure pieces of spilling: the LRU eviction policy, CRC-32C, the object
// table's SEALED -> SPILLED -> RESTORING -> RESTORED states, and spill files
// (write/read, checksum, corruption, truncation, disk-full failures).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "object_store/checksum.h"
#include "object_store/eviction_policy.h"
#include "object_store/object_table.h"
#include "object_store/spill_file.h"
#include "object_table_fixture.h"
#include "test_util.h"

namespace lumos::object_store {
namespace {

using lumos::testing::TempDir;

ObjectID Id(uint32_t n) {
  static const TaskID task = TaskID::ForJob(JobID::FromInt(1));
  return ObjectID::ForPut(task, n);
}

// ------------------------------------------------------------ EvictionPolicy

TEST(EvictionPolicyTest, CachedCopiesGoFirstThenPrimariesInLruOrder) {
  EvictionPolicy p;
  EXPECT_FALSE(p.Next().has_value());
  p.Add(Id(1), 10, true);
  p.Add(Id(2), 20, false);
  p.Add(Id(3), 30, true);
  p.Add(Id(4), 40, false);
  EXPECT_EQ(p.evictable_bytes(), 100u);
  std::vector<ObjectID> order;
  while (auto c = p.Next()) {
    order.push_back(c->id);
    p.Remove(c->id);
  }
  EXPECT_EQ(order, (std::vector<ObjectID>{Id(2), Id(4), Id(1), Id(3)}));
  EXPECT_EQ(p.evictable_bytes(), 0u);
  EXPECT_EQ(p.size(), 0u);
}

TEST(EvictionPolicyTest, AddAgainRefreshesAndRemoveIsIdempotent) {
  EvictionPolicy p;
  p.Add(Id(1), 10, true);
  p.Add(Id(2), 10, true);
  p.Add(Id(1), 10, true);  // used again: now the most recent
  EXPECT_EQ(p.Next()->id, Id(2));
  EXPECT_EQ(p.size(), 2u);
  EXPECT_EQ(p.evictable_bytes(), 20u);
  p.Remove(Id(2));
  p.Remove(Id(2));
  p.Remove(Id(9));
  EXPECT_EQ(p.Next()->id, Id(1));
  EXPECT_TRUE(p.Contains(Id(1)));
  EXPECT_FALSE(p.Contains(Id(2)));
}

// ------------------------------------------------------------ CRC-32C

TEST(Crc32cTest, KnownValuesAndIncremental) {
  const char* s = "123456789";
  EXPECT_EQ(Crc32c(s, 9), 0xE3069283u);  // the standard CRC-32C check value
  EXPECT_EQ(Crc32cPortable(s, 9), 0xE3069283u);
  EXPECT_EQ(Crc32c("", 0), 0u);
  std::vector<uint8_t> buf(100003);
  std::mt19937 rng(7);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  uint32_t whole = Crc32c(buf.data(), buf.size());
  EXPECT_EQ(whole, Crc32cPortable(buf.data(), buf.size()));
  uint32_t part = Crc32c(buf.data(), 777);
  EXPECT_EQ(Crc32c(buf.data() + 777, buf.size() - 777, part), whole);
  buf[5000] ^= 1;
  EXPECT_NE(Crc32c(buf.data(), buf.size()), whole);
}

// ------------------------------------------------------------ ObjectTable states

using SpillTableTest = ObjectTableTest;

TEST_F(SpillTableTest, SpillRestoreRespillDeleteLifecycle) {
  ObjectID x = Sealed(512);
  EXPECT_EQ(table_.NextVictim()->id, x);
  ASSERT_TRUE(table_.MarkSpilled(x, "/s/x", 4096, 42).ok());
  const ObjectEntry* e = table_.Find(x);
  EXPECT_EQ(e->state, ObjectState::kSpilled);
  EXPECT_FALSE(e->in_arena());
  EXPECT_EQ(table_.used(), 0u);
  EXPECT_EQ(table_.spilled_bytes(), 512u);
  EXPECT_EQ(table_.num_spilled(), 1u);
  EXPECT_TRUE(table_.Contains(x));  // still gettable
  EXPECT_FALSE(table_.NextVictim().has_value());
  // Restore: RESTORING is invisible to Get, then RESTORED.
  Result<uint64_t> off = table_.BeginRestore(x);
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(table_.Find(x)->state, ObjectState::kRestoring);
  EXPECT_EQ(table_.used(), 512u);
  EXPECT_EQ(table_.spilled_bytes(), 0u);
  EXPECT_EQ(table_.Get(x, b_, nullptr).code(), StatusCode::kNotFound);
  EXPECT_EQ(table_.BeginRestore(x).status().code(), StatusCode::kInvalid);
  ASSERT_TRUE(table_.FinishRestore(x, true).ok());
  EXPECT_EQ(table_.Find(x)->state, ObjectState::kRestored);
  EXPECT_EQ(table_.Find(x)->file_path, "/s/x");  // the copy on disk stays valid
  EXPECT_EQ(table_.NextVictim()->id, x);
  // Pinned: not a victim, cannot be spilled.
  ASSERT_TRUE(table_.Get(x, b_, nullptr).ok());
  EXPECT_FALSE(table_.NextVictim().has_value());
  EXPECT_EQ(table_.MarkSpilled(x, "/s/x", 4096, 42).code(), StatusCode::kInvalid);
  ASSERT_TRUE(table_.Release(x, b_).ok());
  ASSERT_TRUE(table_.MarkSpilled(x, "/s/x", 4096, 42).ok());
  EXPECT_TRUE(table_.TakeFilesToRemove().empty());
  // Delete of a spilled object: gone, its file queued for removal.
  ASSERT_TRUE(table_.Delete(x).ok());
  EXPECT_EQ(table_.num_objects(), 0u);
  EXPECT_EQ(table_.spilled_bytes(), 0u);
  EXPECT_EQ(table_.num_spilled(), 0u);
  EXPECT_EQ(table_.TakeFilesToRemove(), std::vector<std::string>{"/s/x"});
  EXPECT_TRUE(table_.TakeFilesToRemove().empty());
}

TEST_F(SpillTableTest, FailedRestoreGoesBackToSpilledAndFreesTheBlock) {
  ObjectID x = Sealed(512);
  ASSERT_TRUE(table_.MarkSpilled(x, "/s/x", 4096, 1).ok());
  ASSERT_TRUE(table_.BeginRestore(x).ok());
  ASSERT_TRUE(table_.FinishRestore(x, false).ok());
  EXPECT_EQ(table_.Find(x)->state, ObjectState::kSpilled);
  EXPECT_EQ(table_.used(), 0u);
  EXPECT_EQ(table_.spilled_bytes(), 512u);
  EXPECT_EQ(table_.FinishRestore(x, true).code(), StatusCode::kInvalid);
}

TEST_F(SpillTableTest, RestoreThatDoesNotFitIsOutOfMemory) {
  ObjectID x = Sealed(1024);
  ASSERT_TRUE(table_.MarkSpilled(x, "/s/x", 4096, 1).ok());
  ObjectID y = Sealed(64);
  EXPECT_EQ(table_.BeginRestore(x).status().code(), StatusCode::kOutOfMemory);
  EXPECT_EQ(table_.Find(x)->state, ObjectState::kSpilled);
  (void)y;
}

TEST_F(SpillTableTest, SpilledObjectCanBePinnedAndDeleteWaitsForIt) {
  ObjectID x = Sealed(100);
  ASSERT_TRUE(table_.MarkSpilled(x, "/s/x", 4096, 1).ok());
  ObjectEntry out;
  ASSERT_TRUE(table_.Get(x, b_, &out).ok());  // served from its file
  EXPECT_EQ(out.state, ObjectState::kSpilled);
  ASSERT_TRUE(table_.Delete(x).ok());
  EXPECT_FALSE(table_.Contains(x));
  EXPECT_TRUE(table_.TakeFilesToRemove().empty());  // still read
  ASSERT_TRUE(table_.Release(x, b_).ok());
  EXPECT_EQ(table_.TakeFilesToRemove(), std::vector<std::string>{"/s/x"});
  EXPECT_EQ(table_.num_objects(), 0u);
}

TEST_F(SpillTableTest, EvictionOnlyForUnpinnedCachedCopies) {
  ObjectID cached = Sealed(100, false);
  ObjectID primary = Sealed(100, true);
  EXPECT_EQ(table_.NextVictim()->id, cached);
  EXPECT_FALSE(table_.NextVictim()->primary);
  EXPECT_EQ(table_.Evict(primary).code(), StatusCode::kInvalid);
  ASSERT_TRUE(table_.Get(cached, b_, nullptr).ok());
  EXPECT_EQ(table_.Evict(cached).code(), StatusCode::kInvalid);  // pinned
  EXPECT_EQ(table_.NextVictim()->id, primary);
  ASSERT_TRUE(table_.Release(cached, b_).ok());
  EXPECT_EQ(table_.NextVictim()->id, cached);
  ASSERT_TRUE(table_.Evict(cached).ok());
  EXPECT_EQ(table_.num_objects(), 1u);
  EXPECT_EQ(table_.used(), 128u);  // 100 rounded up to 64-byte units
}

TEST_F(SpillTableTest, LruOrderFollowsLastRelease) {
  ObjectID x = Sealed(64);
  ObjectID y = Sealed(64);
  EXPECT_EQ(table_.NextVictim()->id, x);
  ASSERT_TRUE(table_.Get(x, b_, nullptr).ok());
  ASSERT_TRUE(table_.Release(x, b_).ok());
  EXPECT_EQ(table_.NextVictim()->id, y);
}

TEST_F(SpillTableTest, UnsealedDeletePendingAndExternalAreNeverVictims) {
  ObjectID unsealed = Id(100);
  ASSERT_TRUE(table_.Create(unsealed, 64, 0, a_, a_).ok());
  EXPECT_FALSE(table_.NextVictim().has_value());
  ObjectID ext = Id(101);
  ASSERT_TRUE(table_.CreateExternal(ext, 1 << 20, 10, a_, a_, "/s/ext").ok());
  EXPECT_EQ(table_.spilled_bytes(), (1u << 20) + 10);
  ASSERT_TRUE(table_.Seal(ext).ok());
  EXPECT_FALSE(table_.NextVictim().has_value());
  EXPECT_TRUE(table_.Contains(ext));
  EXPECT_EQ(table_.used(), 64u);  // the external object takes no arena
  // The owner goes away: both go, the external file is queued.
  table_.ClientDisconnected(a_);
  EXPECT_EQ(table_.num_objects(), 0u);
  EXPECT_EQ(table_.spilled_bytes(), 0u);
  EXPECT_EQ(table_.TakeFilesToRemove(), std::vector<std::string>{"/s/ext"});
}

TEST_F(SpillTableTest, AbortedExternalObjectRemovesItsFile) {
  ObjectID ext = Id(7);
  ASSERT_TRUE(table_.CreateExternal(ext, 4096, 0, a_, a_, "/s/e").ok());
  EXPECT_EQ(table_.CreateExternal(ext, 1, 0, a_, a_, "/s/f").code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(table_.Abort(ext, a_).ok());
  EXPECT_EQ(table_.TakeFilesToRemove(), std::vector<std::string>{"/s/e"});
  EXPECT_EQ(table_.num_spilled(), 0u);
}

TEST_F(SpillTableTest, OwnerDisconnectDeletesSpilledObjectsFiles) {
  ObjectID x = Sealed(100);
  ObjectID y = Sealed(100);
  ASSERT_TRUE(table_.MarkSpilled(x, "/s/x", 4096, 1).ok());
  ASSERT_TRUE(table_.MarkSpilled(y, "/s/y", 4096, 2).ok());
  ASSERT_TRUE(table_.BeginRestore(y).ok());
  ASSERT_TRUE(table_.FinishRestore(y, true).ok());
  table_.ClientDisconnected(a_);
  auto files = table_.TakeFilesToRemove();
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"/s/x", "/s/y"}));
  EXPECT_EQ(table_.used(), 0u);
}

// ------------------------------------------------------------ spill files

class SpillFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_.resize(3 * 1024 * 1024 + 17);
    std::mt19937 rng(1);
    for (auto& b : data_) b = static_cast<uint8_t>(rng());
    path_ = dir_.File("x.spill");
  }
  TempDir dir_;
  std::vector<uint8_t> data_;
  std::string path_;
  ObjectID id_ = Id(1);
};

TEST_F(SpillFileTest, WriteReadRoundTrip) {
  uint32_t crc = 0;
  ASSERT_TRUE(WriteSpillFile(path_, id_, data_.data(), data_.size() - 17, 17, false, &crc).ok());
  EXPECT_EQ(crc, Crc32c(data_.data(), data_.size()));
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), kSpillHeaderBytes + data_.size());
  std::vector<uint8_t> back(data_.size());
  Status s = ReadSpillFile(path_, id_, back.data(), data_.size() - 17, 17, crc);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(back, data_);
  EXPECT_TRUE(ReadSpillFile(path_, id_, nullptr, data_.size() - 17, 17, crc).ok());
  // The wrong object, sizes or checksum are refused.
  EXPECT_FALSE(ReadSpillFile(path_, Id(2), nullptr, data_.size() - 17, 17, crc).ok());
  EXPECT_FALSE(ReadSpillFile(path_, id_, nullptr, data_.size() - 17, 17, crc + 1).ok());
  RemoveFile(path_);
  EXPECT_NE(::access(path_.c_str(), F_OK), 0);
  Status missing = ReadSpillFile(path_, id_, nullptr, data_.size() - 17, 17, crc);
  EXPECT_NE(missing.message().find(id_.Hex()), std::string::npos);
  RemoveFile(path_);  // twice: fine
}

TEST_F(SpillFileTest, CorruptedPayloadIsDetectedAndNamesTheObject) {
  uint32_t crc = 0;
  ASSERT_TRUE(WriteSpillFile(path_, id_, data_.data(), data_.size(), 0, false, &crc).ok());
  int fd = ::open(path_.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  uint8_t b = data_[2'000'000] ^ 0x40;
  ASSERT_EQ(::pwrite(fd, &b, 1, kSpillHeaderBytes + 2'000'000), 1);
  ::close(fd);
  std::vector<uint8_t> back(data_.size());
  Status s = ReadSpillFile(path_, id_, back.data(), data_.size(), 0, crc);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(id_.Hex()), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("checksum"), std::string::npos) << s.ToString();
}

TEST_F(SpillFileTest, CorruptedHeaderAndTruncationAreDetected) {
  uint32_t crc = 0;
  ASSERT_TRUE(WriteSpillFile(path_, id_, data_.data(), data_.size(), 0, false, &crc).ok());
  ASSERT_EQ(::truncate(path_.c_str(), static_cast<off_t>(kSpillHeaderBytes + data_.size() / 2)), 0);
  Status s = ReadSpillFile(path_, id_, nullptr, data_.size(), 0, crc);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("truncated"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find(id_.Hex()), std::string::npos);

  ASSERT_TRUE(WriteSpillFile(path_, id_, data_.data(), data_.size(), 0, false, &crc).ok());
  int fd = ::open(path_.c_str(), O_WRONLY);
  ASSERT_EQ(::pwrite(fd, "XXXX", 4, 0), 4);
  ::close(fd);
  s = ReadSpillFile(path_, id_, nullptr, data_.size(), 0, crc);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("corrupted"), std::string::npos) << s.ToString();
}

TEST_F(SpillFileTest, UnwritableDirectoryFailsWithTheCause) {
  uint32_t crc = 0;
  Status s = WriteSpillFile(dir_.File("no/such/dir/x"), id_, data_.data(), 100, 0, false, &crc);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_NE(s.message().find("No such file"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find(id_.Hex()), std::string::npos);
  s = CreateExternalFile(dir_.File("no/such/dir/y"), id_, 100);
  EXPECT_FALSE(s.ok());
}

// A file size limit stands in for a full disk: the write fails with EFBIG,
// leaves no file and says why. Run in a child so the limit stays there.
TEST_F(SpillFileTest, FileSizeLimitFailsCleanly) {
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim {1 << 20, 1 << 20};
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(10);
    uint32_t crc = 0;
    Status s = WriteSpillFile(path_, id_, data_.data(), data_.size(), 0, false, &crc);
    if (s.ok()) ::_exit(11);
    if (s.message().find("File too large") == std::string::npos) ::_exit(12);
    if (::access(path_.c_str(), F_OK) == 0) ::_exit(13);  // no partial file left
    s = CreateExternalFile(dir_.File("big.ext"), id_, 8 << 20);
    if (s.ok()) ::_exit(14);
    if (::access(dir_.File("big.ext").c_str(), F_OK) == 0) ::_exit(15);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(SpillFileTest, ExternalFileIsReserved) {
  std::string p = dir_.File("e.ext");
  ASSERT_TRUE(CreateExternalFile(p, id_, 5 << 20).ok());
  struct stat st {};
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 5 << 20);
  EXPECT_GE(static_cast<uint64_t>(st.st_blocks) * 512, 5u << 20);  // blocks allocated
  RemoveFile(p);
}

}  // namespace
}  // namespace lumos::object_store
