#pragma once
// Fixed-size binary identifiers. Layout (bytes):
//   JobID    4   big-endian counter allocated by the GCS
//   TaskID   16  12 unique bytes + JobID
//   ObjectID 20  TaskID + 4-byte index (returns: 1..n; puts: 0x80000000 | n)
//   WorkerID, NodeID 16 random bytes
// Value types: cheap to copy, hashable, comparable. Thread safe (immutable).
#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>

namespace lumos {

template <typename Derived, size_t N>
class BaseID {
 public:
  static constexpr size_t kSize = N;
  BaseID() { bytes_.fill(0); }
  static Derived FromBinary(const std::string& b) {
    Derived id;
    if (b.size() == N) std::memcpy(id.bytes_.data(), b.data(), N);
    return id;
  }
  static Derived FromHex(const std::string& hex);
  static Derived FromRandom();
  static Derived Nil() { return Derived(); }

  bool IsNil() const {
    for (auto c : bytes_) if (c) return false;
    return true;
  }
  std::string Binary() const { return std::string(reinterpret_cast<const char*>(bytes_.data()), N); }
  std::string Hex() const;
  const uint8_t* Data() const { return bytes_.data(); }
  uint8_t* MutableData() { return bytes_.data(); }
  size_t Hash() const {
    // Every byte counts: object ids of one task share their first 16 bytes.
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < N; i += 4) {
      uint32_t w = 0;
      std::memcpy(&w, bytes_.data() + i, N - i < 4 ? N - i : 4);
      h = (h ^ w) * 0xff51afd7ed558ccdULL;
      h ^= h >> 32;
    }
    h ^= h >> 29;  // final mix so the low bits spread too (power-of-two tables)
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return static_cast<size_t>(h);
  }
  bool operator==(const BaseID& o) const { return bytes_ == o.bytes_; }
  bool operator!=(const BaseID& o) const { return bytes_ != o.bytes_; }
  bool operator<(const BaseID& o) const { return bytes_ < o.bytes_; }

 protected:
  std::array<uint8_t, N> bytes_;
};

class JobID : public BaseID<JobID, 4> {
 public:
  static JobID FromInt(uint32_t v);
  uint32_t ToInt() const;
};

class WorkerID : public BaseID<WorkerID, 16> {};
class NodeID : public BaseID<NodeID, 16> {};

class TaskID : public BaseID<TaskID, 16> {
 public:
  /// \brief A fresh task id within the given job.
  static TaskID ForJob(const JobID& job);
  /// \brief The id of a driver's top-level "task" (deterministic per job).
  static TaskID ForDriver(const JobID& job);
  JobID Job() const;
};

class ObjectID : public BaseID<ObjectID, 20> {
 public:
  static constexpr uint32_t kPutBit = 0x80000000u;
  /// \brief The index-th return object of a task (index starts at 1).
  static ObjectID FromIndex(const TaskID& task, uint32_t index);
  /// \brief The n-th object put by a task (n starts at 1).
  static ObjectID ForPut(const TaskID& task, uint32_t n);
  TaskID Task() const;
  uint32_t Index() const;
  bool IsPut() const { return (Index() & kPutBit) != 0; }
};

/// \brief Fills `out` with `n` random bytes from a per-thread generator.
void FillRandom(uint8_t* out, size_t n);

template <typename D, size_t N>
D BaseID<D, N>::FromRandom() {
  D id;
  FillRandom(id.bytes_.data(), N);
  return id;
}

template <typename D, size_t N>
std::string BaseID<D, N>::Hex() const {
  static const char* kDigits = "0123456789abcdef";
  std::string out(2 * N, '0');
  for (size_t i = 0; i < N; i++) {
    out[2 * i] = kDigits[bytes_[i] >> 4];
    out[2 * i + 1] = kDigits[bytes_[i] & 0xf];
  }
  return out;
}

template <typename D, size_t N>
D BaseID<D, N>::FromHex(const std::string& hex) {
  D id;
  if (hex.size() != 2 * N) return id;
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < N; i++) {
    int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return D();
    id.bytes_[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return id;
}

}  // namespace lumos

namespace std {
#define LUMOS_ID_HASH(T) \
  template <> struct hash<lumos::T> { size_t operator()(const lumos::T& id) const { return id.Hash(); } };
LUMOS_ID_HASH(JobID)
LUMOS_ID_HASH(WorkerID)
LUMOS_ID_HASH(NodeID)
LUMOS_ID_HASH(TaskID)
LUMOS_ID_HASH(ObjectID)
#undef LUMOS_ID_HASH
}  // namespace std
