// lumos._accelerators: GPU detection for init() and `lumos start` (see
// nvml_detector.h). Plain dicts and lists out; a bad CUDA_VISIBLE_DEVICES
// raises ValueError.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdlib>
#include <stdexcept>

#include "accelerators/nvml_detector.h"

namespace py = pybind11;
using namespace lumos::accelerators;

namespace {

py::dict DeviceDict(const GpuDevice& d) {
  py::dict out;
  out["index"] = d.index;
  out["name"] = d.name;
  out["uuid"] = d.uuid;
  out["memory_bytes"] = d.memory_bytes;
  out["accelerator_type"] = AcceleratorTypeFromName(d.name);
  return out;
}

std::optional<std::string> EnvVisibleDevices() {
  const char* v = std::getenv("CUDA_VISIBLE_DEVICES");
  if (!v) return std::nullopt;
  return std::string(v);
}

// detect_gpus(library=None, cuda_visible_devices=<from the environment>)
py::dict DetectGpus(py::object library, py::object visible_devices) {
  std::string lib = library.is_none() ? "" : library.cast<std::string>();
  std::optional<std::string> cvd;
  if (visible_devices.is_none()) {
    cvd = EnvVisibleDevices();
  } else if (!py::isinstance<py::bool_>(visible_devices) || visible_devices.cast<bool>()) {
    cvd = visible_devices.cast<std::string>();
  }
  NvmlDetection detection;
  {
    py::gil_scoped_release release;  // nvmlInit can take a while on a real driver
    detection = DetectNvidiaGpus(lib);
  }
  VisibleDevices visible = ParseCudaVisibleDevices(cvd);
  NodeGpus node = ResolveVisibleGpus(detection, visible);
  if (!node.error.empty()) throw py::value_error(node.error);
  py::list devices, gpus, entries;
  for (const auto& d : detection.devices) devices.append(DeviceDict(d));
  for (const auto& d : node.gpus) gpus.append(DeviceDict(d));
  for (const auto& e : visible.entries) entries.append(e);
  py::dict out;
  out["nvml_loaded"] = detection.loaded;
  out["nvml_error"] = detection.error;
  out["devices"] = devices;
  out["visible"] = gpus;
  out["num_gpus"] = static_cast<int>(node.gpus.size());
  out["accelerator_type"] =
      node.gpus.empty() ? py::object(py::none()) : py::object(py::str(AcceleratorTypeFromName(node.gpus[0].name)));
  out["cuda_visible_devices"] = visible.all ? py::object(py::none()) : py::object(entries);
  return out;
}

}  // namespace

PYBIND11_MODULE(_accelerators, m) {
  m.doc() = "GPU detection through NVML loaded at run time (no CUDA needed at build time).";
  m.def("detect_gpus", &DetectGpus, py::arg("library") = py::none(),
        py::arg("cuda_visible_devices") = py::none(),
        "Detects NVIDIA GPUs with NVML and applies CUDA_VISIBLE_DEVICES (taken from the "
        "environment unless given; pass False to ignore it). Returns a dict with nvml_loaded, "
        "nvml_error, devices (all detected), visible (the node's GPUs, in CUDA_VISIBLE_DEVICES "
        "order), num_gpus, accelerator_type and cuda_visible_devices (the parsed list, None when "
        "unset). Raises ValueError when CUDA_VISIBLE_DEVICES names a GPU NVML did not report.");
  m.def(
      "parse_cuda_visible_devices",
      [](py::object value) -> py::object {
        std::optional<std::string> v;
        if (!value.is_none()) v = value.cast<std::string>();
        VisibleDevices parsed = ParseCudaVisibleDevices(v);
        if (parsed.all) return py::none();
        return py::cast(parsed.entries);
      },
      py::arg("value"),
      "CUDA_VISIBLE_DEVICES as a list of entries; None when unset (every device visible).");
  m.def("accelerator_type_from_name", &AcceleratorTypeFromName, py::arg("name"),
        "Ray's accelerator type of a GPU name, e.g. 'NVIDIA A100-SXM4-40GB' -> 'A100'.");
}
