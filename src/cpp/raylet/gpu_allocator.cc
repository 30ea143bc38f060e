#include "raylet/gpu_allocator.h"

#include <algorithm>
#include <cmath>

namespace lumos::raylet {

GpuAllocator::GpuAllocator(int num_gpus) : free_(std::max(0, num_gpus), kUnit) {}

int64_t GpuAllocator::ToUnits(double amount) { return static_cast<int64_t>(std::llround(amount * kUnit)); }

std::string GpuAllocator::CheckRequest(int64_t units) {
  if (units < 0) return "a GPU amount must be non-negative";
  if (units > kUnit && units % kUnit != 0) {
    return "a GPU amount above 1 must be a whole number (got " +
           std::to_string(static_cast<double>(units) / kUnit) + ")";
  }
  return "";
}

bool GpuAllocator::Feasible(int64_t units) const {
  if (!CheckRequest(units).empty()) return false;
  if (units <= kUnit) return units == 0 || num_gpus() > 0;
  return units / kUnit <= num_gpus();
}

std::optional<GpuAllocator::Assignment> GpuAllocator::Find(int64_t units) const {
  Assignment out;
  if (units == 0) return out;
  if (!CheckRequest(units).empty()) return std::nullopt;
  if (units < kUnit) {
    int best = -1;
    for (int i = 0; i < num_gpus(); i++) {
      if (free_[i] >= units && (best < 0 || free_[i] < free_[best])) best = i;
    }
    if (best < 0) return std::nullopt;
    out.push_back({best, units});
    return out;
  }
  int64_t want = units / kUnit;
  for (int i = 0; i < num_gpus() && static_cast<int64_t>(out.size()) < want; i++) {
    if (free_[i] == kUnit) out.push_back({i, kUnit});
  }
  if (static_cast<int64_t>(out.size()) < want) return std::nullopt;
  return out;
}

std::optional<GpuAllocator::Assignment> GpuAllocator::Allocate(int64_t units) {
  auto a = Find(units);
  if (a) {
    for (const auto& s : *a) free_[s.id] -= s.units;
  }
  return a;
}

void GpuAllocator::Release(const Assignment& assignment) {
  for (const auto& s : assignment) {
    if (s.id >= 0 && s.id < num_gpus()) free_[s.id] = std::min(kUnit, free_[s.id] + s.units);
  }
}

std::vector<int> GpuAllocator::Ids(const Assignment& assignment) {
  std::vector<int> ids;
  for (const auto& s : assignment) ids.push_back(s.id);
  return ids;
}

}  // namespace lumos::raylet
