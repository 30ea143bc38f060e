#include "common/id.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <random>

namespace lumos {

void FillRandom(uint8_t* out, size_t n) {
  thread_local std::mt19937_64 gen([] {
    std::random_device rd;
    uint64_t seed = (uint64_t(rd()) << 32) ^ rd() ^
                    uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()) ^
                    (uint64_t(getpid()) << 40);
    return seed;
  }());
  size_t i = 0;
  while (i < n) {
    uint64_t r = gen();
    for (int b = 0; b < 8 && i < n; b++, i++) out[i] = static_cast<uint8_t>(r >> (8 * b));
  }
}

JobID JobID::FromInt(uint32_t v) {
  JobID id;
  for (int i = 0; i < 4; i++) id.bytes_[i] = static_cast<uint8_t>(v >> (8 * (3 - i)));
  return id;
}

uint32_t JobID::ToInt() const {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v = (v << 8) | bytes_[i];
  return v;
}

TaskID TaskID::ForJob(const JobID& job) {
  TaskID id;
  FillRandom(id.bytes_.data(), 12);
  std::memcpy(id.bytes_.data() + 12, job.Data(), 4);
  return id;
}

TaskID TaskID::ForDriver(const JobID& job) {
  TaskID id;  // 12 zero bytes followed by the job id
  std::memcpy(id.bytes_.data() + 12, job.Data(), 4);
  id.bytes_[0] = 0xff;  // distinguishes it from the nil id
  return id;
}

JobID TaskID::Job() const {
  JobID j;
  std::memcpy(j.MutableData(), bytes_.data() + 12, 4);
  return j;
}

ObjectID ObjectID::FromIndex(const TaskID& task, uint32_t index) {
  ObjectID id;
  std::memcpy(id.bytes_.data(), task.Data(), TaskID::kSize);
  for (int i = 0; i < 4; i++) id.bytes_[16 + i] = static_cast<uint8_t>(index >> (8 * (3 - i)));
  return id;
}

ObjectID ObjectID::ForPut(const TaskID& task, uint32_t n) { return FromIndex(task, kPutBit | n); }

TaskID ObjectID::Task() const {
  TaskID t;
  std::memcpy(t.MutableData(), bytes_.data(), TaskID::kSize);
  return t;
}

uint32_t ObjectID::Index() const {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v = (v << 8) | bytes_[16 + i];
  return v;
}

}  // namespace lumos
