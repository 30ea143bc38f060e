// GcsPlacementGroupManager, durable part: the rows written to GcsStorage and
// the rebuild of the table from them when the GCS starts again.
#include <algorithm>

#include "gcs/placement_group_manager.h"

namespace lumos::gcs {

std::vector<rpc::PlacementGroupTableData> GcsPlacementGroupManager::TakeChanges() {
  std::vector<rpc::PlacementGroupTableData> out;
  out.reserve(changed_.size());
  for (const auto& id : changed_) {
    auto it = groups_.find(id);
    if (it != groups_.end()) out.push_back(it->second.data);
  }
  changed_.clear();
  return out;
}

std::vector<std::string> GcsPlacementGroupManager::TakeForgotten() {
  std::vector<std::string> out;
  out.swap(forgotten_);
  return out;
}

Status GcsPlacementGroupManager::Restore(const std::vector<rpc::PlacementGroupTableData>& rows) {
  using PG = rpc::PlacementGroupTableData;
  std::string skipped;
  const bool tracking = track_changes_;
  track_changes_ = false;  // the rows are on disk already
  std::vector<std::pair<int64_t, std::string>> removed;  // (create time, id)
  for (const auto& row : rows) {
    const std::string& id = row.placement_group_id();
    if (row.state() == PG::REMOVED) {
      Entry e;
      e.data = row;
      groups_.emplace(id, std::move(e));
      removed.emplace_back(row.create_time_ms(), id);
      continue;
    }
    // Create() validates the bundles and builds the scheduling requests; the
    // group is PENDING in the creation order.
    Status s = Create(row);
    if (!s.ok()) {
      skipped += (skipped.empty() ? "" : "; ") + id + ": " + s.message();
      continue;
    }
    Entry& e = groups_.at(id);
    e.data.set_create_time_ms(row.create_time_ms());
    if (row.state() != PG::CREATED) continue;  // placed again from scratch
    bool placed = true;
    for (const auto& b : row.bundles()) placed &= b.node_id().size() == NodeID::kSize;
    if (!placed) continue;
    for (int i = 0; i < row.bundles_size(); i++) {
      NodeID node = NodeID::FromBinary(row.bundles(i).node_id());
      e.data.mutable_bundles(i)->set_node_id(row.bundles(i).node_id());
      e.placement[node].push_back(i);
      e.prepared.insert(node);
      e.committed.insert(node);
    }
    e.data.set_state(PG::CREATED);
    order_.erase(std::remove(order_.begin(), order_.end(), id), order_.end());
  }
  // Removal times are not stored: creation order stands in for them. Rows
  // beyond the cap (a smaller cap than before) are forgotten, and deleted at
  // the next write (the store is attached after the restore).
  track_changes_ = true;
  std::sort(removed.begin(), removed.end());
  for (const auto& [time, id] : removed) KeepRemoved(id);
  track_changes_ = tracking;
  if (!skipped.empty()) {
    return Status::Invalid("placement groups not restored (their stored rows do not validate): " + skipped);
  }
  return Status::OK();
}

}  // namespace lumos::gcs
