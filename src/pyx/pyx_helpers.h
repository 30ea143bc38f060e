#pragma once
// Small C++ helpers that keep the Cython code simple (protobuf maps and
// repeated fields are awkward to walk from Cython).
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "core_worker/core_worker.h"
#include "gcs_service.pb.h"

namespace lumos::pyx {

struct NodeView {
  std::string node_id, node_ip, raylet_endpoint, store_endpoint, session_dir, death_reason;
  std::map<std::string, double> total, available;
  bool alive = false, is_head = false;
  int raylet_pid = 0;
  uint64_t object_store_memory = 0;
};

inline NodeView ViewNode(const rpc::NodeInfo& n) {
  NodeView v;
  v.node_id = n.node_id();
  v.node_ip = n.node_ip();
  v.raylet_endpoint = n.raylet_endpoint();
  v.store_endpoint = n.store_endpoint();
  v.session_dir = n.session_dir();
  v.death_reason = n.death_reason();
  v.total.insert(n.total_resources().begin(), n.total_resources().end());
  v.available.insert(n.available_resources().begin(), n.available_resources().end());
  v.alive = n.state() == rpc::NodeInfo::ALIVE;
  v.is_head = n.is_head();
  v.raylet_pid = n.raylet_pid();
  v.object_store_memory = n.object_store_memory();
  return v;
}

/// \brief A task spec's required resources as a std::map (Cython makes it a dict).
inline std::map<std::string, double> RequiredResourcesOf(const rpc::TaskSpec& spec) {
  return std::map<std::string, double>(spec.required_resources().begin(), spec.required_resources().end());
}

/// \brief Fills TaskSpec.scheduling_strategy. kind: SchedulingStrategy.Kind;
/// each label expression is "key\x1fop\x1fvalue1\x1fvalue2..." (op: LabelMatch.Op).
inline void SetSchedulingStrategy(rpc::TaskSpec* spec, int kind, const std::string& node_id, bool soft,
                                  const std::vector<std::string>& hard, const std::vector<std::string>& soft_labels,
                                  bool spill_on_unavailable) {
  auto* s = spec->mutable_scheduling_strategy();
  s->set_kind(static_cast<rpc::SchedulingStrategy::Kind>(kind));
  s->set_node_id(node_id);
  s->set_soft(soft);
  s->set_spill_on_unavailable(spill_on_unavailable);
  auto fill = [](const std::string& enc, rpc::LabelMatch* m) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
      size_t sep = enc.find('\x1f', start);
      parts.push_back(enc.substr(start, sep == std::string::npos ? std::string::npos : sep - start));
      if (sep == std::string::npos) break;
      start = sep + 1;
    }
    m->set_key(parts[0]);
    if (parts.size() > 1) m->set_op(static_cast<rpc::LabelMatch::Op>(std::atoi(parts[1].c_str())));
    for (size_t i = 2; i < parts.size(); i++) m->add_values(parts[i]);
  };
  for (const auto& h : hard) fill(h, s->add_hard());
  for (const auto& h : soft_labels) fill(h, s->add_soft_labels());
}

inline Status MakeStatus(int code, const std::string& msg) {
  return Status(static_cast<StatusCode>(code), msg);
}

inline Status CreateCoreWorker(core::CoreWorkerOptions opts, std::unique_ptr<core::CoreWorker>* out) {
  auto r = core::CoreWorker::Create(std::move(opts));
  if (!r.ok()) return r.status();
  *out = r.MoveValue();
  return Status::OK();
}

}  // namespace lumos::pyx
