// CoreWorker: objects that live in another node's object store. A get (or a
// task argument) of such an object asks the local raylet to pull it
// (PULL_OBJECTS; the raylet's ObjectManager does the transfer), then reads the
// local copy zero-copy as usual. Owners learn about every copy
// (ADD_OBJECT_LOCATION) so that freeing an object frees them all.
#include <algorithm>

#include "common/logging.h"
#include "core_worker/core_worker.h"
#include "node_manager.pb.h"

namespace lumos::core {
namespace {
thread_local int g_pull_priority = 0;
}  // namespace

void CoreWorker::SetPullPriority(int priority) { g_pull_priority = priority; }

Status CoreWorker::PullRemoteObjects(const std::vector<ObjectID>& ids, const std::vector<rpc::Address>& owners,
                                     int64_t timeout_ms, std::vector<std::shared_ptr<RayObject>>* objs) {
  rpc::PullObjectsRequest req;
  std::vector<size_t> pos;
  const std::string me = node_id_.Binary();
  for (size_t i = 0; i < ids.size(); i++) {
    const auto& o = (*objs)[i];
    if (!o || !o->in_plasma || o->node_id.empty() || o->node_id == me) continue;
    req.add_object_ids(ids[i].Binary());
    req.add_node_ids(o->node_id);
    req.add_sizes(o->size > 0 ? static_cast<uint64_t>(o->size) : 0);
    pos.push_back(i);
  }
  if (pos.empty()) return Status::OK();
  req.set_priority(g_pull_priority);
  rpc::PullObjectsReply reply;
  SetBlocked(true);
  Status s = CallSync(raylet_, rpc::PULL_OBJECTS, req, &reply, timeout_ms);
  SetBlocked(false);
  if (s.code() == StatusCode::kTimedOut) {
    return Status::TimedOut("get timed out after " + std::to_string(timeout_ms / 1000.0) + " s while " +
                            std::to_string(pos.size()) + " objects were being fetched from other nodes");
  }
  LUMOS_RETURN_NOT_OK(s);
  for (size_t j = 0; j < pos.size(); j++) {
    size_t i = pos[j];
    const std::string err = j < static_cast<size_t>(reply.errors_size()) ? reply.errors(j) : "no answer";
    if (!err.empty()) {
      const char* meta = err.find("no room for object") != std::string::npos ? kMetaSystemError : kMetaObjectLost;
      (*objs)[i] = RayObject::Inline(err, meta);
      continue;
    }
    // The copy is local now: tell the owner, so freeing the object frees it too.
    if (i < owners.size() && owners[i].worker_id() != worker_id_.Binary() && !owners[i].endpoint().empty()) {
      auto conn = pool_->Get(owners[i].endpoint());
      if (conn.ok()) {
        rpc::AddObjectLocationRequest add;
        add.set_object_id(ids[i].Binary());
        add.set_node_id(me);
        conn.value()->SendOneway(rpc::ADD_OBJECT_LOCATION, add);
      }
    } else if (refs_.IsOwned(ids[i])) {
      AddObjectCopy(ids[i], me);
    }
  }
  return Status::OK();
}

std::string CoreWorker::LargestArgumentNode(const rpc::TaskSpec& spec) const {
  std::unordered_map<std::string, int64_t> bytes;
  for (const auto& a : spec.args()) {
    if (!a.has_ref()) continue;
    auto obj = memory_store_.GetIfExists(ObjectID::FromBinary(a.ref().object_id()));
    if (!obj || !obj->in_plasma) continue;
    bytes[obj->node_id.empty() ? node_id_.Binary() : obj->node_id] += obj->size > 0 ? obj->size : 1;
  }
  std::string best;
  int64_t most = 0;
  for (const auto& [node, n] : bytes) {
    if (n > most) {
      most = n;
      best = node;
    }
  }
  return best;
}

void CoreWorker::HandleAddObjectLocation(const rpc::Frame& frame) {
  rpc::AddObjectLocationRequest req;
  if (!req.ParseFromString(frame.payload) || req.object_id().size() != ObjectID::kSize ||
      req.node_id().size() != NodeID::kSize) {
    return;
  }
  ObjectID id = ObjectID::FromBinary(req.object_id());
  if (!refs_.IsOwned(id)) {
    // Already freed: the copy is an orphan; have it deleted.
    FreeRemoteCopies({id}, {req.node_id()});
    return;
  }
  AddObjectCopy(id, req.node_id());
  if (req.primary()) {
    // The node of the primary copy is draining: the copy now on node_id is
    // the one to fetch from (a get reads the marker's node).
    auto obj = memory_store_.GetIfExists(id);
    if (obj && obj->in_plasma && obj->node_id != req.node_id()) {
      auto moved = std::make_shared<RayObject>(*obj);
      moved->node_id = req.node_id();
      memory_store_.Put(id, std::move(moved));
    }
  }
}

void CoreWorker::AddObjectCopy(const ObjectID& id, const std::string& node) {
  std::lock_guard<std::mutex> lock(copies_mu_);
  auto& list = copies_[id];
  if (std::find(list.begin(), list.end(), node) == list.end()) list.push_back(node);
}

void CoreWorker::FreeRemoteCopies(const std::vector<ObjectID>& ids, const std::vector<std::string>& primary_nodes) {
  rpc::FreeRemoteObjectsRequest req;
  const std::string me = node_id_.Binary();
  std::lock_guard<std::mutex> lock(copies_mu_);
  for (size_t i = 0; i < ids.size(); i++) {
    std::vector<std::string> nodes;
    if (i < primary_nodes.size() && !primary_nodes[i].empty()) nodes.push_back(primary_nodes[i]);
    if (auto it = copies_.find(ids[i]); it != copies_.end()) {
      for (auto& n : it->second) {
        if (std::find(nodes.begin(), nodes.end(), n) == nodes.end()) nodes.push_back(n);
      }
      copies_.erase(it);
    }
    for (const auto& n : nodes) {
      if (n == me) continue;
      req.add_object_ids(ids[i].Binary());
      req.add_node_ids(n);
    }
  }
  if (req.object_ids_size() > 0 && raylet_ && !shut_down_) raylet_->SendOneway(rpc::FREE_REMOTE_OBJECTS, req);
}

void CoreWorker::ObjectLocations(const std::vector<ObjectID>& ids, std::vector<std::vector<std::string>>* nodes,
                                 std::vector<int64_t>* sizes) {
  nodes->assign(ids.size(), {});
  sizes->assign(ids.size(), -1);
  for (size_t i = 0; i < ids.size(); i++) {
    auto obj = memory_store_.GetIfExists(ids[i]);
    if (!obj || !obj->in_plasma) continue;
    (*nodes)[i].push_back(obj->node_id.empty() ? node_id_.Binary() : obj->node_id);
    (*sizes)[i] = obj->size;
    std::lock_guard<std::mutex> lock(copies_mu_);
    if (auto it = copies_.find(ids[i]); it != copies_.end()) {
      for (const auto& n : it->second) {
        if (std::find((*nodes)[i].begin(), (*nodes)[i].end(), n) == (*nodes)[i].end()) (*nodes)[i].push_back(n);
      }
    }
  }
}

}  // namespace lumos::core
