// Binary identifiers: layout, conversions, hashing.
#include "common/id.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "common/duplicate_ids.h"

namespace lumos {
namespace {

TEST(IdTest, NilIsAllZeroAndDefault) {
  EXPECT_TRUE(ObjectID().IsNil());
  EXPECT_TRUE(ObjectID::Nil().IsNil());
  EXPECT_TRUE(TaskID::Nil().IsNil());
  EXPECT_TRUE(JobID::Nil().IsNil());
  EXPECT_EQ(ObjectID::Nil().Hex(), std::string(40, '0'));
  EXPECT_EQ(ObjectID::Nil().Binary(), std::string(20, '\0'));
  EXPECT_FALSE(ObjectID::FromRandom().IsNil());
  EXPECT_FALSE(WorkerID::FromRandom().IsNil());
  EXPECT_FALSE(NodeID::FromRandom().IsNil());
}

TEST(IdTest, Sizes) {
  EXPECT_EQ(JobID::kSize, 4u);
  EXPECT_EQ(TaskID::kSize, 16u);
  EXPECT_EQ(ObjectID::kSize, 20u);
  EXPECT_EQ(WorkerID::kSize, 16u);
  EXPECT_EQ(NodeID::kSize, 16u);
  EXPECT_EQ(ObjectID::FromRandom().Binary().size(), 20u);
  EXPECT_EQ(NodeID::FromRandom().Hex().size(), 32u);
}

TEST(IdTest, BinaryRoundTrip) {
  for (int i = 0; i < 100; i++) {
    ObjectID o = ObjectID::FromRandom();
    EXPECT_EQ(ObjectID::FromBinary(o.Binary()), o);
    WorkerID w = WorkerID::FromRandom();
    EXPECT_EQ(WorkerID::FromBinary(w.Binary()), w);
  }
  // Binary with embedded zero bytes survives.
  std::string raw(16, '\0');
  raw[3] = 7;
  raw[15] = static_cast<char>(0xff);
  EXPECT_EQ(TaskID::FromBinary(raw).Binary(), raw);
}

TEST(IdTest, FromBinaryWrongSizeIsNil) {
  EXPECT_TRUE(ObjectID::FromBinary("").IsNil());
  EXPECT_TRUE(ObjectID::FromBinary(std::string(19, 'x')).IsNil());
  EXPECT_TRUE(ObjectID::FromBinary(std::string(21, 'x')).IsNil());
  EXPECT_FALSE(ObjectID::FromBinary(std::string(20, 'x')).IsNil());
}

TEST(IdTest, HexRoundTrip) {
  for (int i = 0; i < 100; i++) {
    NodeID n = NodeID::FromRandom();
    std::string hex = n.Hex();
    ASSERT_EQ(hex.size(), 32u);
    for (char c : hex) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << hex;
    EXPECT_EQ(NodeID::FromHex(hex), n);
  }
  JobID j = JobID::FromInt(0x0a0b0c0d);
  EXPECT_EQ(j.Hex(), "0a0b0c0d");
  EXPECT_EQ(JobID::FromHex("0a0b0c0d"), j);
  EXPECT_EQ(JobID::FromHex("0A0B0C0D"), j);  // upper case accepted
}

TEST(IdTest, FromHexRejectsBadInput) {
  EXPECT_TRUE(JobID::FromHex("").IsNil());
  EXPECT_TRUE(JobID::FromHex("0102030").IsNil());     // too short
  EXPECT_TRUE(JobID::FromHex("010203040").IsNil());   // too long
  EXPECT_TRUE(JobID::FromHex("0102030g").IsNil());    // bad digit at the end
  EXPECT_TRUE(JobID::FromHex("g1020304").IsNil());    // bad digit at the start
  EXPECT_TRUE(JobID::FromHex("01 20304").IsNil());
  EXPECT_TRUE(JobID::FromHex("0x010203").IsNil());
  EXPECT_TRUE(NodeID::FromHex(std::string(31, 'a') + "z").IsNil());
  EXPECT_TRUE(NodeID::FromHex(std::string(31, 'a') + std::string(1, '\0')).IsNil());
  EXPECT_FALSE(NodeID::FromHex(std::string(32, 'a')).IsNil());
}

TEST(IdTest, JobIdIntRoundTrip) {
  for (uint32_t v : {0u, 1u, 255u, 256u, 0x12345678u, 0xffffffffu}) {
    EXPECT_EQ(JobID::FromInt(v).ToInt(), v);
  }
  // Big-endian layout.
  EXPECT_EQ(JobID::FromInt(1).Binary(), std::string("\0\0\0\1", 4));
}

TEST(IdTest, TaskIdForJobEmbedsTheJob) {
  JobID job = JobID::FromInt(42);
  std::set<TaskID> seen;
  for (int i = 0; i < 100; i++) {
    TaskID t = TaskID::ForJob(job);
    EXPECT_FALSE(t.IsNil());
    EXPECT_EQ(t.Job(), job);
    EXPECT_EQ(t.Binary().substr(12), job.Binary());
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 100u);  // unique
  TaskID other = TaskID::ForJob(JobID::FromInt(43));
  EXPECT_EQ(other.Job().ToInt(), 43u);
}

TEST(IdTest, DriverTaskIdIsDeterministicAndNotNil) {
  JobID job = JobID::FromInt(7);
  TaskID d = TaskID::ForDriver(job);
  EXPECT_FALSE(d.IsNil());
  EXPECT_EQ(d, TaskID::ForDriver(job));
  EXPECT_EQ(d.Job(), job);
  EXPECT_NE(d, TaskID::ForDriver(JobID::FromInt(8)));
}

TEST(IdTest, ObjectIdFromIndex) {
  TaskID t = TaskID::ForJob(JobID::FromInt(3));
  ObjectID o1 = ObjectID::FromIndex(t, 1);
  ObjectID o2 = ObjectID::FromIndex(t, 2);
  EXPECT_NE(o1, o2);
  EXPECT_EQ(o1.Task(), t);
  EXPECT_EQ(o2.Task(), t);
  EXPECT_EQ(o1.Index(), 1u);
  EXPECT_EQ(o2.Index(), 2u);
  EXPECT_FALSE(o1.IsPut());
  EXPECT_EQ(o1.Binary().substr(0, 16), t.Binary());
  EXPECT_EQ(o1.Task().Job().ToInt(), 3u);
  EXPECT_EQ(ObjectID::FromIndex(t, 1), o1);  // deterministic
  EXPECT_EQ(ObjectID::FromIndex(t, 0x7fffffffu).Index(), 0x7fffffffu);
}

TEST(IdTest, ObjectIdForPut) {
  TaskID t = TaskID::ForJob(JobID::FromInt(3));
  ObjectID p1 = ObjectID::ForPut(t, 1);
  EXPECT_TRUE(p1.IsPut());
  EXPECT_EQ(p1.Task(), t);
  EXPECT_EQ(p1.Index(), ObjectID::kPutBit | 1u);
  EXPECT_EQ(p1.Index() & ~ObjectID::kPutBit, 1u);
  EXPECT_NE(p1, ObjectID::FromIndex(t, 1));  // a put never aliases a return
  EXPECT_NE(p1, ObjectID::ForPut(t, 2));
}

TEST(IdTest, ComparisonAndStdHash) {
  ObjectID a = ObjectID::FromRandom();
  ObjectID b = ObjectID::FromBinary(a.Binary());
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a != b);
  EXPECT_EQ(std::hash<ObjectID>()(a), std::hash<ObjectID>()(b));
  std::unordered_set<ObjectID> s{a};
  EXPECT_EQ(s.count(b), 1u);
  ObjectID c = ObjectID::FromRandom();
  EXPECT_TRUE(a < c || c < a);
}

// Regression: the hash used to read only the first 8 bytes, so every object of
// one task (same 16-byte task prefix, different index) hashed alike.
TEST(IdTest, HashSpreadsIdsDifferingOnlyInIndex) {
  TaskID t = TaskID::ForJob(JobID::FromInt(1));
  constexpr int kN = 1000;
  std::unordered_set<size_t> hashes;
  for (uint32_t i = 1; i <= kN; i++) hashes.insert(ObjectID::FromIndex(t, i).Hash());
  for (uint32_t i = 1; i <= kN; i++) hashes.insert(ObjectID::ForPut(t, i).Hash());
  EXPECT_EQ(hashes.size(), 2u * kN);

  // The same for TaskIDs differing only in their job (the last 4 bytes).
  std::unordered_set<size_t> task_hashes;
  std::string base(12, '\x5a');
  for (uint32_t j = 0; j < 100; j++) {
    task_hashes.insert(TaskID::FromBinary(base + JobID::FromInt(j).Binary()).Hash());
  }
  EXPECT_EQ(task_hashes.size(), 100u);

  // And an unordered_map keyed by one task's objects spreads them over its
  // buckets: a uniform hash fills ~1 - e^(-load) of them; the old one, 1.
  std::unordered_map<ObjectID, int> m;
  for (uint32_t i = 1; i <= kN; i++) m[ObjectID::FromIndex(t, i)] = static_cast<int>(i);
  size_t max_bucket = 0, nonempty = 0;
  for (size_t b = 0; b < m.bucket_count(); b++) {
    max_bucket = std::max(max_bucket, m.bucket_size(b));
    nonempty += m.bucket_size(b) > 0;
  }
  EXPECT_LT(max_bucket, 16u);
  EXPECT_GT(nonempty, m.size() / 2);
}

TEST(DuplicateIdsTest, FindsTheFirstRepeatOrNone) {
  TaskID t = TaskID::ForJob(JobID::FromInt(7));
  std::vector<ObjectID> ids;
  EXPECT_EQ(FindDuplicateId(ids), -1);
  for (uint32_t i = 1; i <= 1000; i++) ids.push_back(ObjectID::FromIndex(t, i));
  EXPECT_EQ(FindDuplicateId(ids), -1);  // one task's ids differ in a few bytes only
  ids.push_back(ids[500]);
  EXPECT_EQ(FindDuplicateId(ids), 1000);
  std::vector<ObjectID> two{ids[3], ids[3]};
  EXPECT_EQ(FindDuplicateId(two), 1);
  std::vector<ObjectID> nils(3);  // default ids are all the nil id
  EXPECT_EQ(FindDuplicateId(nils), 1);
}

}  // namespace
}  // namespace lumos
