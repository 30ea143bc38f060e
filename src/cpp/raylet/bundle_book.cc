#include "raylet/bundle_book.h"

#include <vector>

namespace lumos::raylet {

ResourceSet BundleBook::GroupResources(const std::string& pg, int32_t index,
                                       const ResourceSet& original) {
  ResourceSet out;
  std::string idx = std::to_string(index);
  for (const auto& [name, amount] : original.ToMap()) {
    out.Set(name + "_group_" + idx + "_" + pg, amount);
    out.Set(name + "_group_" + pg, amount);
  }
  out.Set("bundle_group_" + idx + "_" + pg, kBundleMarker);
  out.Set("bundle_group_" + pg, kBundleMarker);
  return out;
}

bool BundleBook::IsGroupResource(const std::string& name) {
  return name.find("_group_") != std::string::npos;
}

std::string BundleBook::GroupOf(const std::string& name) {
  if (!IsGroupResource(name)) return "";
  size_t last = name.rfind('_');
  // "<res>_group_<pg>" or "<res>_group_<i>_<pg>": the id follows the last '_'.
  return last == std::string::npos ? "" : name.substr(last + 1);
}

void BundleBook::MarkRemoved(const std::string& pg) { removed_.Insert(pg); }

std::string BundleBook::RemovedGroupIn(const std::vector<std::string>& names) const {
  if (removed_.empty()) return "";
  for (const auto& name : names) {
    std::string pg = GroupOf(name);
    if (!pg.empty() && removed_.Contains(pg)) return pg;
  }
  return "";
}

void BundleBook::AddPrepared(const std::string& pg, int32_t index, const ResourceSet& original) {
  entries_[{pg, index}] = Entry{original, false};
}

std::optional<ResourceSet> BundleBook::Commit(const std::string& pg, int32_t index) {
  auto it = entries_.find({pg, index});
  if (it == entries_.end()) return std::nullopt;
  if (it->second.committed) return ResourceSet();
  it->second.committed = true;
  return GroupResources(pg, index, it->second.original);
}

std::optional<BundleBook::Entry> BundleBook::Remove(const std::string& pg, int32_t index) {
  auto it = entries_.find({pg, index});
  if (it == entries_.end()) return std::nullopt;
  Entry e = it->second;
  entries_.erase(it);
  return e;
}

std::vector<int32_t> BundleBook::IndicesOf(const std::string& pg) const {
  std::vector<int32_t> out;
  for (auto it = entries_.lower_bound({pg, INT32_MIN}); it != entries_.end() && it->first.first == pg;
       ++it) {
    out.push_back(it->first.second);
  }
  return out;
}

}  // namespace lumos::raylet
