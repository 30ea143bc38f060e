#pragma once
// GpuAllocator: which of the node's GPUs each lease holds ("resource
// instances" in Ray's terms). GPUs are numbered 0..n-1 in the order of the
// node's visible devices; the worker maps an id to its CUDA_VISIBLE_DEVICES
// entry. Amounts are fixed point like ResourceSet (kUnit = one whole GPU).
//
// Rules: a request below one GPU is packed onto the partly used GPU with the
// least room that still fits it (best fit), so fractional work fills one
// device before opening the next and whole GPUs stay free for whole requests;
// a request of k whole GPUs takes k completely free GPUs (lowest ids first);
// a request above one GPU that is not whole is invalid (like Ray).
//
// Pure value type, no I/O; not thread safe (the lease manager owns it).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/resource_set.h"

namespace lumos::raylet {

class GpuAllocator {
 public:
  static constexpr int64_t kUnit = ResourceSet::kUnit;
  struct Share {
    int id;
    int64_t units;  // of GPU `id`, at most kUnit
    bool operator==(const Share& o) const { return id == o.id && units == o.units; }
  };
  using Assignment = std::vector<Share>;

  explicit GpuAllocator(int num_gpus = 0);

  /// \brief A GPU amount in fixed-point units (1e-4 GPU), rounded to nearest.
  static int64_t ToUnits(double amount);
  /// \brief Empty if `units` can be asked for at all; else why not.
  static std::string CheckRequest(int64_t units);
  /// \brief True if an idle node of this shape could serve `units`.
  bool Feasible(int64_t units) const;
  /// \brief The assignment Allocate(units) would make, without making it.
  std::optional<Assignment> Find(int64_t units) const;
  /// \brief Takes the GPUs for `units`; nullopt (and no change) if they are not free.
  std::optional<Assignment> Allocate(int64_t units);
  void Release(const Assignment& assignment);

  int num_gpus() const { return static_cast<int>(free_.size()); }
  int64_t free_units(int id) const { return free_.at(id); }
  static std::vector<int> Ids(const Assignment& assignment);

 private:
  std::vector<int64_t> free_;  // free units per GPU
};

}  // namespace lumos::raylet
