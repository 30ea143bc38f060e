#include "common/resource_set.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace lumos {

Result<ResourceSet> ResourceSet::FromMap(const std::map<std::string, double>& m) {
  ResourceSet rs;
  for (const auto& [name, amount] : m) {
    if (!std::isfinite(amount) || amount < 0) {
      return Status::InvalidArgument("resource '" + name + "' must be a non-negative number, got " +
                                     std::to_string(amount));
    }
    // Amounts are kept in 1/kUnit steps: a finer amount would be silently rounded.
    double scaled = amount * kUnit;
    if (scaled > 9.0e18) {
      return Status::InvalidArgument("resource '" + name + "' amount " + std::to_string(amount) +
                                     " is too large (limit 9e14)");
    }
    if (std::fabs(scaled - std::nearbyint(scaled)) > 1e-6 * std::max(1.0, scaled) * 1e-3) {
      std::ostringstream os;
      os.precision(17);
      os << "resource '" << name << "' amount " << amount
         << " is too precise: amounts are multiples of 0.0001 (1/" << kUnit << ")";
      return Status::InvalidArgument(os.str());
    }
    rs.Set(name, amount);
  }
  return rs;
}

void ResourceSet::Set(const std::string& name, double amount) {
  int64_t v = static_cast<int64_t>(std::llround(amount * kUnit));
  if (v == 0) {
    amounts_.erase(name);
  } else {
    amounts_[name] = v;
  }
}

double ResourceSet::Get(const std::string& name) const {
  auto it = amounts_.find(name);
  return it == amounts_.end() ? 0.0 : static_cast<double>(it->second) / kUnit;
}

bool ResourceSet::Contains(const ResourceSet& need) const {
  for (const auto& [name, v] : need.amounts_) {
    auto it = amounts_.find(name);
    int64_t have = it == amounts_.end() ? 0 : it->second;
    if (have < v) return false;
  }
  return true;
}

void ResourceSet::RaiseTo(const ResourceSet& other) {
  for (const auto& [name, amount] : other.amounts_) {
    int64_t& mine = amounts_[name];
    if (mine < amount) mine = amount;
  }
}

void ResourceSet::Add(const ResourceSet& other) {
  for (const auto& [name, v] : other.amounts_) {
    int64_t& mine = amounts_[name];
    mine += v;
    if (mine == 0) amounts_.erase(name);
  }
}

void ResourceSet::Subtract(const ResourceSet& other) {
  for (const auto& [name, v] : other.amounts_) {
    int64_t& mine = amounts_[name];
    mine -= v;
    if (mine == 0) amounts_.erase(name);
  }
}

std::map<std::string, double> ResourceSet::ToMap() const {
  std::map<std::string, double> m;
  for (const auto& [name, v] : amounts_) m[name] = static_cast<double>(v) / kUnit;
  return m;
}

std::vector<std::string> ResourceSet::Names() const {
  std::vector<std::string> out;
  out.reserve(amounts_.size());
  for (const auto& [name, amount] : amounts_) out.push_back(name);
  return out;
}

std::string ResourceSet::ToString() const {
  std::ostringstream os;
  os << "{";
  bool first = true;
  for (const auto& [name, v] : amounts_) {
    if (!first) os << ", ";
    first = false;
    os << "'" << name << "': ";
    if (v % kUnit == 0) {
      os << v / kUnit << ".0";
    } else {
      os << static_cast<double>(v) / kUnit;
    }
  }
  os << "}";
  return os.str();
}

}  // namespace lumos
