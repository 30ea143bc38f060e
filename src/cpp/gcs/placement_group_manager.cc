#include "gcs/placement_group_manager.h"

#include <algorithm>

namespace lumos::gcs {

namespace {
using PG = rpc::PlacementGroupTableData;

scheduling::BundleStrategy ToBundleStrategy(PG::Strategy s) {
  switch (s) {
    case PG::SPREAD:
      return scheduling::BundleStrategy::kSpread;
    case PG::STRICT_PACK:
      return scheduling::BundleStrategy::kStrictPack;
    case PG::STRICT_SPREAD:
      return scheduling::BundleStrategy::kStrictSpread;
    default:
      return scheduling::BundleStrategy::kPack;
  }
}

bool IsLive(const PG& d) { return d.state() != PG::REMOVED; }
}  // namespace

Status GcsPlacementGroupManager::Create(const PG& pg) {
  const std::string& id = pg.placement_group_id();
  if (id.empty()) return Status::InvalidArgument("placement group id is empty");
  if (groups_.count(id)) return Status::OK();  // retried request
  if (pg.bundles_size() == 0) {
    return Status::InvalidArgument("a placement group needs at least one bundle, got []");
  }
  if (!PG::Strategy_IsValid(pg.strategy())) {
    return Status::InvalidArgument("unknown placement strategy " + std::to_string(pg.strategy()));
  }
  Entry e;
  e.data = pg;
  for (int i = 0; i < pg.bundles_size(); i++) {
    std::map<std::string, double> m(pg.bundles(i).unit_resources().begin(),
                                    pg.bundles(i).unit_resources().end());
    auto rs = ResourceSet::FromMap(m);
    if (!rs.ok()) {
      return Status::InvalidArgument("bundle " + std::to_string(i) + ": " + rs.status().message());
    }
    if (rs.value().IsEmpty()) {
      return Status::InvalidArgument("bundle " + std::to_string(i) +
                                     " is empty; every bundle needs a positive resource amount");
    }
    e.requests.push_back(scheduler_.MakeRequest(rs.value()));
    e.data.mutable_bundles(i)->set_index(i);
    e.data.mutable_bundles(i)->clear_node_id();
  }
  if (!pg.name().empty()) {
    auto key = std::make_pair(pg.ray_namespace(), pg.name());
    auto it = named_.find(key);
    if (it != named_.end() && IsLive(groups_[it->second].data)) {
      return Status::AlreadyExists("a placement group named '" + pg.name() +
                                   "' already exists in namespace '" + pg.ray_namespace() + "'");
    }
    named_[key] = id;
  }
  e.data.set_state(PG::PENDING);
  groups_.emplace(id, std::move(e));
  order_.push_back(id);
  Touch(id);
  return Status::OK();
}

Status GcsPlacementGroupManager::Remove(const std::string& pg_id, PgActions* actions) {
  auto it = groups_.find(pg_id);
  if (it == groups_.end()) return Status::NotFound("placement group " + pg_id + " does not exist");
  Entry& e = it->second;
  if (e.data.state() == PG::REMOVED) return Status::OK();
  Touch(pg_id);
  PgAction removed;
  removed.kind = PgAction::kRemoved;
  removed.pg_id = pg_id;
  for (const NodeID& node : nodes_) {
    if (!e.placement.count(node)) removed.nodes.push_back(node);
  }
  actions->push_back(std::move(removed));
  CancelAll(e, /*removed=*/true, actions);
  e.data.set_state(PG::REMOVED);
  e.data.clear_pending_reason();
  e.data.set_infeasible(false);
  order_.erase(std::remove(order_.begin(), order_.end(), pg_id), order_.end());
  if (!e.data.name().empty()) named_.erase({e.data.ray_namespace(), e.data.name()});
  PgAction ready;  // wake waiters: the group will never be ready
  ready.kind = PgAction::kReady;
  ready.pg_id = pg_id;
  actions->push_back(ready);
  KeepRemoved(pg_id);  // last: may forget groups (not this one unless the cap is 0)
  return Status::OK();
}

void GcsPlacementGroupManager::KeepRemoved(const std::string& id) {
  removed_order_.push_back(id);
  while (removed_order_.size() > max_removed_kept_) {
    std::string old = std::move(removed_order_.front());
    removed_order_.pop_front();
    groups_.erase(old);
    changed_.erase(old);
    if (track_changes_) forgotten_.push_back(std::move(old));
  }
}

Result<PG> GcsPlacementGroupManager::Get(const std::string& pg_id) const {
  auto it = groups_.find(pg_id);
  if (it == groups_.end()) return Status::NotFound("placement group " + pg_id + " does not exist");
  return it->second.data;
}

Result<PG> GcsPlacementGroupManager::GetNamed(const std::string& name, const std::string& ns) const {
  auto it = named_.find({ns, name});
  if (it == named_.end()) {
    return Status::NotFound("no placement group named '" + name + "' in namespace '" + ns + "'");
  }
  return Get(it->second);
}

bool GcsPlacementGroupManager::IsCreated(const std::string& pg_id) const {
  auto it = groups_.find(pg_id);
  return it != groups_.end() && it->second.data.state() == PG::CREATED;
}

std::vector<PG> GcsPlacementGroupManager::GetAll() const {
  std::vector<PG> out;
  for (const auto& [id, e] : groups_) out.push_back(e.data);
  std::sort(out.begin(), out.end(),
            [](const PG& a, const PG& b) { return a.create_time_ms() < b.create_time_ms(); });
  return out;
}

void GcsPlacementGroupManager::JobFinished(const std::string& job_id, PgActions* actions) {
  std::vector<std::string> doomed;
  for (const auto& [id, e] : groups_) {
    if (!e.data.detached() && e.data.creator_job_id() == job_id && IsLive(e.data)) {
      doomed.push_back(id);
    }
  }
  for (const auto& id : doomed) (void)Remove(id, actions);
}

void GcsPlacementGroupManager::NodeAlive(const NodeID& node, const ResourceSet& total,
                                         const ResourceSet& available) {
  scheduler_.UpsertNode(node, total, available);
  nodes_.insert(node);
}

void GcsPlacementGroupManager::NodeResources(const NodeID& node, const ResourceSet& available) {
  scheduler_.UpdateAvailable(node, available);
}

void GcsPlacementGroupManager::NodeDead(const NodeID& node, PgActions* actions) {
  scheduler_.RemoveNode(node);
  nodes_.erase(node);
  for (auto& [id, e] : groups_) {
    if (!IsLive(e.data) || !e.placement.count(node)) continue;
    e.prepared.erase(node);
    e.committed.erase(node);
    e.placement.erase(node);  // nothing to cancel there
    bool was_created = e.data.state() == PG::CREATED;
    Abort(e, "node " + node.Hex() + " died", actions);
    if (was_created) e.data.set_state(PG::RESCHEDULING);
  }
}

size_t GcsPlacementGroupManager::num_pending() const {
  size_t n = 0;
  for (const auto& id : order_) {
    const Entry& e = groups_.at(id);
    if (!e.in_flight) n++;
  }
  return n;
}

void GcsPlacementGroupManager::Schedule(PgActions* actions) {
  for (const std::string& id : order_) {
    Entry& e = groups_.at(id);
    if (e.in_flight) continue;
    scheduling::BundleDecision d =
        scheduler_.ScheduleBundles(e.requests, ToBundleStrategy(e.data.strategy()));
    if (d.kind != scheduling::Decision::kNode) {
      e.data.set_pending_reason(d.reason);
      e.data.set_infeasible(d.kind == scheduling::Decision::kInfeasible);
      continue;
    }
    e.attempt++;
    e.in_flight = true;
    e.data.clear_pending_reason();
    e.data.set_infeasible(false);
    e.placement.clear();
    e.prepared.clear();
    e.committed.clear();
    for (size_t i = 0; i < d.nodes.size(); i++) {
      e.placement[d.nodes[i]].push_back(static_cast<int32_t>(i));
      scheduler_.Allocate(d.nodes[i], e.requests[i]);
      e.data.mutable_bundles(static_cast<int>(i))->set_node_id(d.nodes[i].Binary());
    }
    for (const auto& [node, indices] : e.placement) {
      PgAction a;
      a.kind = PgAction::kPrepare;
      a.pg_id = id;
      a.attempt = e.attempt;
      a.node = node;
      for (int32_t i : indices) a.bundles.push_back(e.data.bundles(i));
      a.commit = e.placement.size() == 1;
      actions->push_back(std::move(a));
    }
  }
  // Groups being reserved leave the pending order.
  order_.erase(std::remove_if(order_.begin(), order_.end(),
                              [&](const std::string& id) { return groups_.at(id).in_flight; }),
               order_.end());
}

void GcsPlacementGroupManager::PrepareDone(const std::string& pg_id, uint64_t attempt,
                                           const NodeID& node, bool ok,
                                           const std::string& message, PgActions* actions) {
  auto it = groups_.find(pg_id);
  bool stale = it == groups_.end() || it->second.attempt != attempt || !it->second.in_flight ||
               !IsLive(it->second.data);
  if (stale) {
    if (ok && it != groups_.end()) {
      // An abandoned attempt's reservation: give it back.
      PgAction a;
      a.kind = PgAction::kCancel;
      a.pg_id = pg_id;
      a.attempt = attempt;
      a.node = node;
      for (const auto& b : it->second.data.bundles()) a.indices.push_back(b.index());
      // A commit=true prepare may have let work start there already.
      a.removed = !IsLive(it->second.data);
      actions->push_back(std::move(a));
    }
    return;
  }
  Entry& e = it->second;
  if (!ok) {
    Abort(e, "prepare on node " + node.Hex() + " failed: " + message, actions);
    return;
  }
  e.prepared.insert(node);
  if (e.prepared.size() < e.placement.size()) return;
  if (e.placement.size() == 1) {  // prepared with commit=true: created
    e.committed.insert(node);
    e.in_flight = false;
    e.data.set_state(PG::CREATED);
    Touch(pg_id);
    PgAction ready;
    ready.kind = PgAction::kReady;
    ready.pg_id = pg_id;
    actions->push_back(ready);
    return;
  }
  e.data.set_state(PG::PREPARED);
  for (const auto& [n, indices] : e.placement) {
    PgAction a;
    a.kind = PgAction::kCommit;
    a.pg_id = pg_id;
    a.attempt = e.attempt;
    a.node = n;
    a.indices = indices;
    actions->push_back(std::move(a));
  }
}

void GcsPlacementGroupManager::CommitDone(const std::string& pg_id, uint64_t attempt,
                                          const NodeID& node, bool ok, const std::string& message,
                                          PgActions* actions) {
  auto it = groups_.find(pg_id);
  if (it == groups_.end() || it->second.attempt != attempt || !it->second.in_flight ||
      !IsLive(it->second.data)) {
    return;  // removal or abort already cancelled every node of the attempt
  }
  Entry& e = it->second;
  if (!ok) {
    Abort(e, "commit on node " + node.Hex() + " failed: " + message, actions);
    return;
  }
  e.committed.insert(node);
  if (e.committed.size() < e.placement.size()) return;
  e.in_flight = false;
  e.data.set_state(PG::CREATED);
  Touch(pg_id);
  PgAction a;
  a.kind = PgAction::kReady;
  a.pg_id = pg_id;
  actions->push_back(std::move(a));
}

void GcsPlacementGroupManager::CancelAll(Entry& e, bool removed, PgActions* actions) {
  Touch(e.data.placement_group_id());
  for (const auto& [node, indices] : e.placement) {
    PgAction a;
    a.kind = PgAction::kCancel;
    a.pg_id = e.data.placement_group_id();
    a.attempt = e.attempt;
    a.node = node;
    a.indices = indices;
    a.removed = removed;
    actions->push_back(std::move(a));
  }
  ReleaseAllocations(e);
  e.placement.clear();
  e.prepared.clear();
  e.committed.clear();
  e.in_flight = false;
  for (auto& b : *e.data.mutable_bundles()) b.clear_node_id();
}

void GcsPlacementGroupManager::ReleaseAllocations(Entry& e) {
  // Give back what Schedule() subtracted, until the nodes' next reports.
  for (const auto& [node, indices] : e.placement) {
    for (int32_t i : indices) scheduler_.Free(node, e.requests[i]);
  }
}

void GcsPlacementGroupManager::Abort(Entry& e, const std::string& why, PgActions* actions) {
  CancelAll(e, /*removed=*/false, actions);
  e.data.set_state(PG::PENDING);
  e.data.set_pending_reason(why + "; retrying");
  const std::string& id = e.data.placement_group_id();
  if (std::find(order_.begin(), order_.end(), id) == order_.end()) order_.push_back(id);
}

}  // namespace lumos::gcs
