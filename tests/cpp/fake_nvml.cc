// A stand-in for libnvidia-ml.so.1 so GPU detection is tested without a GPU.
// Exports the NVML entry points the detector uses and answers from env vars:
//   FAKE_NVML_COUNT      number of devices (default 0)
//   FAKE_NVML_NAME       device name (default "NVIDIA A100-SXM4-40GB"); a
//                        comma-separated list names devices one by one
//   FAKE_NVML_MEMORY_MB  total memory per device (default 40960)
//   FAKE_NVML_INIT_FAIL  when set, nvmlInit fails with NVML_ERROR_DRIVER_NOT_LOADED
// UUIDs are "GPU-fake-0000", "GPU-fake-0001", ...
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {
constexpr int kSuccess = 0;
constexpr int kInvalidArgument = 2;
constexpr int kUninitialized = 1;
constexpr int kDriverNotLoaded = 9;
constexpr int kInsufficientSize = 7;
bool initialized = false;

unsigned Count() {
  const char* v = std::getenv("FAKE_NVML_COUNT");
  return v ? static_cast<unsigned>(std::atoi(v)) : 0;
}

std::string NameOf(unsigned index) {
  const char* v = std::getenv("FAKE_NVML_NAME");
  std::string names = v ? v : "NVIDIA A100-SXM4-40GB";
  std::string last;
  size_t start = 0;
  for (unsigned i = 0;; i++) {
    size_t comma = names.find(',', start);
    last = names.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (i == index || comma == std::string::npos) return last;
    start = comma + 1;
  }
}

int Copy(const std::string& s, char* out, unsigned length) {
  if (!out) return kInvalidArgument;
  if (s.size() + 1 > length) return kInsufficientSize;
  std::memcpy(out, s.c_str(), s.size() + 1);
  return kSuccess;
}

// Handles are index + 1 so that a null handle is never valid.
bool Index(void* device, unsigned* index) {
  uintptr_t v = reinterpret_cast<uintptr_t>(device);
  if (!initialized || v == 0 || v > Count()) return false;
  *index = static_cast<unsigned>(v - 1);
  return true;
}
}  // namespace

extern "C" {

struct nvmlMemory_t {
  unsigned long long total, free, used;
};

int nvmlInit_v2() {
  if (std::getenv("FAKE_NVML_INIT_FAIL")) return kDriverNotLoaded;
  initialized = true;
  return kSuccess;
}
int nvmlShutdown() {
  initialized = false;
  return kSuccess;
}
int nvmlDeviceGetCount_v2(unsigned* count) {
  if (!initialized) return kUninitialized;
  *count = Count();
  return kSuccess;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned index, void** device) {
  if (!initialized) return kUninitialized;
  if (index >= Count()) return kInvalidArgument;
  *device = reinterpret_cast<void*>(static_cast<uintptr_t>(index) + 1);
  return kSuccess;
}
int nvmlDeviceGetName(void* device, char* name, unsigned length) {
  unsigned i;
  if (!Index(device, &i)) return kInvalidArgument;
  return Copy(NameOf(i), name, length);
}
int nvmlDeviceGetUUID(void* device, char* uuid, unsigned length) {
  unsigned i;
  if (!Index(device, &i)) return kInvalidArgument;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "GPU-fake-%04u", i);
  return Copy(buf, uuid, length);
}
int nvmlDeviceGetMemoryInfo(void* device, nvmlMemory_t* memory) {
  unsigned i;
  if (!Index(device, &i) || !memory) return kInvalidArgument;
  const char* v = std::getenv("FAKE_NVML_MEMORY_MB");
  unsigned long long mb = v ? std::strtoull(v, nullptr, 10) : 40960;
  memory->total = mb << 20;
  memory->used = 0;
  memory->free = memory->total;
  return kSuccess;
}
const char* nvmlErrorString(int result) {
  switch (result) {
    case kSuccess: return "Success";
    case kDriverNotLoaded: return "Driver Not Loaded";
    case kUninitialized: return "Uninitialized";
    default: return "Unknown Error";
  }
}

}  // extern "C"
