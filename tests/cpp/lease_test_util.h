#pragma once
// Helpers shared by the LeaseManager tests: resource sets from a map and the
// actions of one kind out of a step's result.
#include <map>
#include <string>
#include <vector>

#include "raylet/lease_manager.h"

namespace lumos::raylet {

inline ResourceSet RS(const std::map<std::string, double>& m) { return ResourceSet::FromMap(m).value(); }

inline std::vector<LeaseAction> OfKind(const std::vector<LeaseAction>& actions, LeaseAction::Kind kind) {
  std::vector<LeaseAction> out;
  for (const auto& a : actions) {
    if (a.kind == kind) out.push_back(a);
  }
  return out;
}

}  // namespace lumos::raylet
