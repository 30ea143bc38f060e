#pragma once
// BundleBook: the raylet's record of placement group bundles reserved on this
// node (two-phase: prepared, then committed), and the names of the resources a
// committed bundle turns into. Pure bookkeeping; the node manager moves the
// resources in the LeaseManager.
//
// A committed bundle {CPU: 2} of group <pg> at index i adds the resources
// CPU_group_i_<pg>: 2 and CPU_group_<pg>: 2 (the wildcard any bundle of the
// group can use), plus bundle_group_i_<pg> and bundle_group_<pg>
// (kBundleMarker each) that tasks use to land in a bundle without asking for
// anything else.
//
// It also remembers the groups removed for good (the last kMaxRemembered), so
// that lease requests naming one are refused instead of waiting forever.
//
// Thread safety: none (the node manager's loop thread only).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/recent_set.h"
#include "common/resource_set.h"

namespace lumos::raylet {

class BundleBook {
 public:
  static constexpr double kBundleMarker = 1000;
  static constexpr size_t kMaxRemembered = 16384;

  struct Entry {
    ResourceSet original;  // what the bundle took from the node
    bool committed = false;
  };

  /// \brief The resources a committed bundle adds to the node.
  static ResourceSet GroupResources(const std::string& pg, int32_t index,
                                    const ResourceSet& original);
  /// \brief True when `name` is a placement group resource (CPU_group_...).
  static bool IsGroupResource(const std::string& name);
  /// \brief The group id a placement group resource names ("CPU_group_1_<pg>"
  /// and "bundle_group_<pg>" -> "<pg>"); empty for any other name.
  static std::string GroupOf(const std::string& name);

  bool Has(const std::string& pg, int32_t index) const {
    return entries_.count({pg, index}) > 0;
  }
  void AddPrepared(const std::string& pg, int32_t index, const ResourceSet& original);
  /// \brief Marks a prepared bundle committed; returns the resources to add,
  /// nullopt if the bundle is unknown; empty set if it was already committed.
  std::optional<ResourceSet> Commit(const std::string& pg, int32_t index);
  /// \brief Forgets a bundle; nullopt if unknown.
  std::optional<Entry> Remove(const std::string& pg, int32_t index);
  /// \brief Indices of the group's bundles on this node.
  std::vector<int32_t> IndicesOf(const std::string& pg) const;
  size_t size() const { return entries_.size(); }

  /// \brief Records that `pg` was removed for good; the oldest record is
  /// forgotten beyond kMaxRemembered. Idempotent.
  void MarkRemoved(const std::string& pg);
  bool WasRemoved(const std::string& pg) const { return removed_.Contains(pg); }
  bool AnyRemoved() const { return !removed_.empty(); }
  /// \brief The first removed group that a resource in `names` belongs to, or empty.
  std::string RemovedGroupIn(const std::vector<std::string>& names) const;

 private:
  std::map<std::pair<std::string, int32_t>, Entry> entries_;
  RecentSet removed_{kMaxRemembered};
};

}  // namespace lumos::raylet
