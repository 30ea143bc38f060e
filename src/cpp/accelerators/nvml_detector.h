#pragma once
// GPU detection without a build-time CUDA dependency: NVML
// (libnvidia-ml.so.1) is loaded with dlopen at run time and asked for the
// number of devices, their names, memory and UUIDs. CUDA_VISIBLE_DEVICES then
// selects which of the detected devices the node offers.
//
// A missing or failing NVML is not an error: detection reports zero devices
// and says why (callers log it at debug level). A CUDA_VISIBLE_DEVICES that
// names a device NVML did not report is an error, since tasks would be handed
// a GPU that does not exist.
//
// Free functions over plain values; thread safe (each call loads and unloads
// the library itself).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lumos::accelerators {

struct GpuDevice {
  int index = 0;              // NVML index (physical order)
  std::string name;           // e.g. "NVIDIA A100-SXM4-40GB"
  std::string uuid;           // e.g. "GPU-8c2f..."
  uint64_t memory_bytes = 0;  // total device memory
};

struct NvmlDetection {
  bool loaded = false;   // the library loaded and nvmlInit succeeded
  std::string error;     // why nothing was detected (load, symbol or init failure)
  std::vector<GpuDevice> devices;
};

/// \brief Loads NVML from `library` (empty: $LUMOS_NVML_LIBRARY, else
/// "libnvidia-ml.so.1") and lists its devices. Never throws or aborts.
NvmlDetection DetectNvidiaGpus(const std::string& library = "");

/// \brief CUDA_VISIBLE_DEVICES as a list. nullopt value (unset) means every
/// device; "" and "NoDevFiles" mean none. Entries are trimmed; like CUDA, the
/// list ends at the first negative index (so "-1" hides every device).
struct VisibleDevices {
  bool all = true;
  std::vector<std::string> entries;  // indices ("0") or UUID prefixes ("GPU-8c2f")
};
VisibleDevices ParseCudaVisibleDevices(const std::optional<std::string>& value);

/// \brief The node's GPUs: the visible entries that name detected devices, in
/// CUDA_VISIBLE_DEVICES order. `error` is set (and the list empty) when an
/// entry names no detected device while NVML did load; when NVML did not load
/// nothing can be checked and the list is empty.
struct NodeGpus {
  std::vector<GpuDevice> gpus;
  std::string error;
};
NodeGpus ResolveVisibleGpus(const NvmlDetection& detection, const VisibleDevices& visible);

/// \brief Ray's accelerator type of a device name: "NVIDIA A100-SXM4-40GB" ->
/// "A100", "Tesla V100-SXM2-16GB" -> "V100", "NVIDIA GeForce RTX 3090" ->
/// "RTX3090", "NVIDIA L4" -> "L4". Empty for an empty name.
std::string AcceleratorTypeFromName(const std::string& name);

}  // namespace lumos::accelerators
