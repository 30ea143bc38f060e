#pragma once
// Placement group calls for Cython: flat views of PlacementGroupTableData so
// that the .pxd does not have to declare the protobuf classes. Header only.
#include <map>
#include <string>
#include <vector>

#include "rpc/gcs_client.h"

namespace lumos::pyx {

struct PgView {
  std::string id, name, ns, state, strategy, pending_reason, creator_job_id;
  bool detached = false, infeasible = false;
  std::vector<std::map<std::string, double>> bundles;
  std::vector<std::string> bundle_nodes;  // NodeID binary, empty when not placed
};

inline PgView ViewPg(const rpc::PlacementGroupTableData& d) {
  PgView v;
  v.id = d.placement_group_id();
  v.name = d.name();
  v.ns = d.ray_namespace();
  v.state = rpc::PlacementGroupTableData::State_Name(d.state());
  v.strategy = rpc::PlacementGroupTableData::Strategy_Name(d.strategy());
  v.pending_reason = d.pending_reason();
  v.creator_job_id = d.creator_job_id();
  v.detached = d.detached();
  v.infeasible = d.infeasible();
  for (const auto& b : d.bundles()) {
    v.bundles.emplace_back(b.unit_resources().begin(), b.unit_resources().end());
    v.bundle_nodes.push_back(b.node_id());
  }
  return v;
}

/// \brief `strategy` is the PlacementGroupTableData::Strategy number.
inline rpc::PlacementGroupTableData PgRow(const std::string& id, const std::string& name,
                                          const std::string& ns, int strategy,
                                          const std::vector<std::map<std::string, double>>& bundles,
                                          bool detached, const std::string& job_id) {
  rpc::PlacementGroupTableData d;
  d.set_placement_group_id(id);
  d.set_name(name);
  d.set_ray_namespace(ns);
  d.set_strategy(static_cast<rpc::PlacementGroupTableData::Strategy>(strategy));
  d.set_detached(detached);
  d.set_creator_job_id(job_id);
  for (size_t i = 0; i < bundles.size(); i++) {
    auto* b = d.add_bundles();
    b->set_index(static_cast<int32_t>(i));
    b->mutable_unit_resources()->insert(bundles[i].begin(), bundles[i].end());
  }
  return d;
}

inline Status CreatePg(rpc::GcsClient* gcs, const std::string& id, const std::string& name,
                       const std::string& ns, int strategy,
                       const std::vector<std::map<std::string, double>>& bundles, bool detached,
                       const std::string& job_id) {
  return gcs->CreatePlacementGroup(PgRow(id, name, ns, strategy, bundles, detached, job_id));
}

/// \brief Batched creation of unnamed groups, built up one by one from Cython.
struct PgBatch {
  std::vector<rpc::PlacementGroupTableData> rows;
  void Add(const std::string& id, int strategy,
           const std::vector<std::map<std::string, double>>& bundles, bool detached,
           const std::string& job_id) {
    rows.push_back(PgRow(id, "", "", strategy, bundles, detached, job_id));
  }
  Status Send(rpc::GcsClient* gcs) const { return gcs->CreatePlacementGroups(rows); }
};

inline Status GetPg(rpc::GcsClient* gcs, const std::string& id, const std::string& name,
                    const std::string& ns, PgView* out) {
  rpc::PlacementGroupTableData d;
  Status s = gcs->GetPlacementGroup(id, name, ns, &d);
  if (s.ok()) *out = ViewPg(d);
  return s;
}

inline Status WaitPg(rpc::GcsClient* gcs, const std::string& id, int64_t timeout_ms,
                     const std::vector<std::string>& also, bool* ready,
                     std::vector<std::string>* ready_ids) {
  return gcs->WaitPlacementGroupUntilReady(id, timeout_ms, also, ready, ready_ids);
}

inline Status GetAllPg(rpc::GcsClient* gcs, std::vector<PgView>* out) {
  std::vector<rpc::PlacementGroupTableData> all;
  Status s = gcs->GetAllPlacementGroup(&all);
  if (s.ok()) {
    for (const auto& d : all) out->push_back(ViewPg(d));
  }
  return s;
}

}  // namespace lumos::pyx
