#pragma once
// A set of named resource quantities ("CPU": 2, "GPU": 1, "custom": 0.5) in
// fixed point (1/10000 units) so that repeated add/subtract never drifts.
// Value type; not thread safe by itself.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace lumos {

class ResourceSet {
 public:
  static constexpr int64_t kUnit = 10000;
  ResourceSet() = default;
  /// \brief Validates and converts; negative or non-finite amounts are an error.
  static Result<ResourceSet> FromMap(const std::map<std::string, double>& m);

  void Set(const std::string& name, double amount);
  double Get(const std::string& name) const;
  bool IsEmpty() const { return amounts_.empty(); }
  /// \brief True if every quantity of `need` is available here.
  bool Contains(const ResourceSet& need) const;
  void Add(const ResourceSet& other);
  /// \brief Raises each amount to at least `other`'s (e.g. what a lease needs
  /// to be placed: its held resources and its placement resources, whichever
  /// is larger per name).
  void RaiseTo(const ResourceSet& other);
  /// \brief Subtracts; quantities may go negative (oversubscription after unblock).
  void Subtract(const ResourceSet& other);
  std::map<std::string, double> ToMap() const;
  /// \brief The names with a non-zero amount, sorted.
  std::vector<std::string> Names() const;
  std::string ToString() const;  // {"CPU": 1.0, ...}
  bool operator==(const ResourceSet& o) const { return amounts_ == o.amounts_; }

 private:
  std::map<std::string, int64_t> amounts_;  // zero entries are erased
};

}  // namespace lumos
