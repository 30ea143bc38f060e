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
