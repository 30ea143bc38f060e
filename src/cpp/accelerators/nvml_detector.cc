#include "accelerators/nvml_detector.h"

#include <dlfcn.h>

#include <cctype>
#include <cstdlib>
#include <set>

namespace lumos::accelerators {

namespace {

// The few NVML types the detector needs (ABI from nvml.h; no header needed).
using nvmlReturn_t = int;
using nvmlDevice_t = void*;
struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
constexpr nvmlReturn_t kNvmlSuccess = 0;
constexpr unsigned kNameBufferSize = 96;  // NVML_DEVICE_NAME_V2_BUFFER_SIZE
constexpr unsigned kUuidBufferSize = 96;  // NVML_DEVICE_UUID_V2_BUFFER_SIZE

using InitFn = nvmlReturn_t (*)();
using ShutdownFn = nvmlReturn_t (*)();
using CountFn = nvmlReturn_t (*)(unsigned*);
using HandleFn = nvmlReturn_t (*)(unsigned, nvmlDevice_t*);
using StringFn = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned);
using MemoryFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t*);
using ErrorStringFn = const char* (*)(nvmlReturn_t);

// dlclose on every path out of DetectNvidiaGpus.
class Library {
 public:
  explicit Library(const std::string& path) : handle_(dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) {}
  ~Library() {
    if (handle_) dlclose(handle_);
  }
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
  bool ok() const { return handle_ != nullptr; }
  // The first of `names` the library exports, or nullptr.
  template <typename Fn>
  Fn Find(std::initializer_list<const char*> names) const {
    for (const char* n : names) {
      if (void* p = dlsym(handle_, n)) return reinterpret_cast<Fn>(p);
    }
    return nullptr;
  }

 private:
  void* handle_;
};

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) b++;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) e--;
  return s.substr(b, e - b);
}

// Parses a decimal (optionally signed) integer; false if `s` is not one.
bool ParseInt(const std::string& s, long* out) {
  if (s.empty()) return false;
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i == s.size()) return false;
  for (size_t j = i; j < s.size(); j++) {
    if (!std::isdigit(static_cast<unsigned char>(s[j]))) return false;
  }
  if (s.size() - i > 9) return false;
  *out = std::strtol(s.c_str(), nullptr, 10);
  return true;
}

}  // namespace

NvmlDetection DetectNvidiaGpus(const std::string& library) {
  NvmlDetection out;
  std::string path = library;
  if (path.empty()) {
    const char* env = std::getenv("LUMOS_NVML_LIBRARY");
    path = env && *env ? env : "libnvidia-ml.so.1";
  }
  Library lib(path);
  if (!lib.ok()) {
    const char* why = dlerror();
    out.error = "cannot load NVML from '" + path + "': " + (why ? why : "unknown error");
    return out;
  }
  auto init = lib.Find<InitFn>({"nvmlInit_v2", "nvmlInit"});
  auto shutdown = lib.Find<ShutdownFn>({"nvmlShutdown"});
  auto count = lib.Find<CountFn>({"nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"});
  auto handle = lib.Find<HandleFn>({"nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex"});
  auto get_name = lib.Find<StringFn>({"nvmlDeviceGetName"});
  auto get_uuid = lib.Find<StringFn>({"nvmlDeviceGetUUID"});
  auto get_memory = lib.Find<MemoryFn>({"nvmlDeviceGetMemoryInfo"});
  auto error_string = lib.Find<ErrorStringFn>({"nvmlErrorString"});
  if (!init || !shutdown || !count || !handle) {
    out.error = "'" + path + "' lacks the NVML entry points (nvmlInit_v2, nvmlDeviceGetCount_v2, ...)";
    return out;
  }
  auto describe = [&](nvmlReturn_t rc) {
    const char* s = error_string ? error_string(rc) : nullptr;
    return std::string(s ? s : "NVML error") + " (code " + std::to_string(rc) + ")";
  };
  nvmlReturn_t rc = init();
  if (rc != kNvmlSuccess) {
    out.error = "nvmlInit failed: " + describe(rc);
    return out;
  }
  unsigned n = 0;
  rc = count(&n);
  if (rc != kNvmlSuccess) {
    out.error = "nvmlDeviceGetCount failed: " + describe(rc);
    shutdown();
    return out;
  }
  out.loaded = true;
  for (unsigned i = 0; i < n; i++) {
    GpuDevice d;
    d.index = static_cast<int>(i);
    nvmlDevice_t dev = nullptr;
    if (handle(i, &dev) == kNvmlSuccess) {
      char buf[kNameBufferSize > kUuidBufferSize ? kNameBufferSize : kUuidBufferSize] = {0};
      if (get_name && get_name(dev, buf, kNameBufferSize) == kNvmlSuccess) {
        buf[kNameBufferSize - 1] = '\0';
        d.name = buf;
      }
      buf[0] = '\0';
      if (get_uuid && get_uuid(dev, buf, kUuidBufferSize) == kNvmlSuccess) {
        buf[kUuidBufferSize - 1] = '\0';
        d.uuid = buf;
      }
      nvmlMemory_t mem{};
      if (get_memory && get_memory(dev, &mem) == kNvmlSuccess) d.memory_bytes = mem.total;
    }
    out.devices.push_back(std::move(d));
  }
  shutdown();
  return out;
}

VisibleDevices ParseCudaVisibleDevices(const std::optional<std::string>& value) {
  VisibleDevices v;
  if (!value) return v;
  v.all = false;
  std::string s = Trim(*value);
  if (s.empty() || s == "NoDevFiles") return v;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    std::string entry = Trim(s.substr(start, comma - start));
    long idx;
    if (ParseInt(entry, &idx) && idx < 0) break;  // CUDA stops at a negative index
    v.entries.push_back(entry);
    start = comma + 1;
  }
  return v;
}

NodeGpus ResolveVisibleGpus(const NvmlDetection& detection, const VisibleDevices& visible) {
  NodeGpus out;
  if (!detection.loaded) return out;
  if (visible.all) {
    out.gpus = detection.devices;
    return out;
  }
  std::set<int> seen;
  for (const auto& entry : visible.entries) {
    const GpuDevice* match = nullptr;
    long idx;
    if (ParseInt(entry, &idx)) {
      if (idx < static_cast<long>(detection.devices.size())) match = &detection.devices[idx];
    } else if (!entry.empty()) {
      // A UUID or a unique prefix of one, as CUDA accepts.
      for (const auto& d : detection.devices) {
        if (d.uuid.compare(0, entry.size(), entry) == 0) {
          if (match) {
            out.error = "CUDA_VISIBLE_DEVICES entry '" + entry + "' matches more than one GPU";
            out.gpus.clear();
            return out;
          }
          match = &d;
        }
      }
    }
    if (!match) {
      size_t n = detection.devices.size();
      out.error = "CUDA_VISIBLE_DEVICES entry '" + entry + "' names no GPU of this machine (" +
                  (n == 0 ? std::string("NVML detected no GPU")
                          : std::to_string(n) + " detected, indices 0.." + std::to_string(n - 1)) +
                  "); fix or unset CUDA_VISIBLE_DEVICES";
      out.gpus.clear();
      return out;
    }
    if (!seen.insert(match->index).second) {
      out.error = "CUDA_VISIBLE_DEVICES names GPU " + std::to_string(match->index) + " twice ('" +
                  entry + "')";
      out.gpus.clear();
      return out;
    }
    out.gpus.push_back(*match);
  }
  return out;
}

std::string AcceleratorTypeFromName(const std::string& name) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < name.size()) {
    while (i < name.size() && std::isspace(static_cast<unsigned char>(name[i]))) i++;
    size_t j = i;
    while (j < name.size() && !std::isspace(static_cast<unsigned char>(name[j]))) j++;
    if (j > i) words.push_back(name.substr(i, j - i));
    i = j;
  }
  // Vendor and product-line words carry no model information.
  static const std::set<std::string> kBrand = {"NVIDIA", "Nvidia", "nvidia", "Tesla", "GeForce", "Quadro"};
  size_t w = 0;
  while (w < words.size() && kBrand.count(words[w])) w++;
  if (w == words.size()) return words.empty() ? "" : words.back();
  std::string model = words[w].substr(0, words[w].find('-'));
  // "RTX 3090", "GTX 1080", "TITAN V": the series word alone says too little.
  if ((model == "RTX" || model == "GTX" || model == "TITAN") && w + 1 < words.size()) {
    model += words[w + 1].substr(0, words[w + 1].find('-'));
  }
  return model;
}

}  // namespace lumos::accelerators
