// CoreWorker, borrower protocol: registering this process as a borrower of
// refs it deserialized, registering a task's caller for the refs its returns
// carry, and the owner's side (ADD_BORROWERS / REMOVE_BORROWERS, borrower
// deaths). The counting itself is ReferenceCounter's; see its header.
#include <map>

#include "common/logging.h"
#include "core_worker/core_worker.h"
#include "node_manager.pb.h"

namespace lumos::core {

namespace {
// Refs deserialized on this thread whose registration waits for the flush.
thread_local std::vector<std::pair<ObjectID, rpc::Address>> pending_registrations;
constexpr int64_t kRegisterTimeoutMs = 10000;
}  // namespace

void CoreWorker::AddDeserializedRef(const ObjectID& id, const rpc::Address& owner) {
  if (refs_.AddDeserializedRef(id, owner)) pending_registrations.emplace_back(id, owner);
}

bool CoreWorker::HasPendingRegistrations() { return !pending_registrations.empty(); }

void CoreWorker::FlushBorrowerRegistrations() {
  if (pending_registrations.empty()) return;
  std::vector<std::pair<ObjectID, rpc::Address>> pending;
  pending.swap(pending_registrations);
  std::map<std::string, std::vector<ObjectID>> by_owner;
  for (const auto& [id, owner] : pending) by_owner[owner.endpoint()].push_back(id);
  std::vector<DeletedObject> late;  // registered after this process dropped the ref
  for (const auto& [endpoint, ids] : by_owner) {
    std::vector<bool> accepted;
    Status s = AddBorrowersAt(endpoint, address_, ids, &accepted);
    for (size_t i = 0; i < ids.size(); i++) {
      if (!s.ok() || !accepted[i]) {
        // The owner is gone or freed it already: a get reports that.
        refs_.OnRegistrationFailed(ids[i]);
      } else if (!refs_.OnRegistered(ids[i])) {
        DeletedObject d{ids[i], false, false};
        d.registrations = 1;
        d.owner_endpoint = endpoint;
        late.push_back(std::move(d));
      }
    }
    if (!s.ok()) LUMOS_LOG(Debug) << "borrower registration at " << endpoint << " failed: " << s.ToString();
  }
  if (!late.empty()) SendRemoveBorrowers(late);
}

Status CoreWorker::AddBorrowersAt(const std::string& owner_endpoint, const rpc::Address& borrower,
                                  const std::vector<ObjectID>& ids, std::vector<bool>* accepted) {
  accepted->assign(ids.size(), false);
  auto conn = pool_->Get(owner_endpoint);
  if (!conn.ok()) return conn.status();
  rpc::AddBorrowersRequest req;
  *req.mutable_borrower() = borrower;
  for (const auto& id : ids) req.add_object_ids(id.Binary());
  rpc::AddBorrowersReply reply;
  LUMOS_RETURN_NOT_OK(CallSync(conn.value(), rpc::ADD_BORROWERS, req, &reply, kRegisterTimeoutMs));
  for (int i = 0; i < reply.accepted_size() && i < static_cast<int>(ids.size()); i++) {
    (*accepted)[i] = reply.accepted(i);
  }
  return Status::OK();
}

void CoreWorker::PreregisterCaller(const rpc::TaskSpec& spec, rpc::PushTaskReply* reply) {
  if (spec.has_actor_creation()) return;  // the reply goes to the GCS, not the owner
  std::vector<rpc::ObjectReference> nested;
  for (const auto& ret : reply->return_objects()) {
    for (const auto& r : ret.value().nested_refs()) nested.push_back(r);
    for (const auto& r : ret.nested_refs()) nested.push_back(r);
  }
  if (nested.empty()) return;
  const rpc::Address& caller = spec.caller();
  std::map<std::string, std::vector<ObjectID>> remote;  // owner endpoint -> ids
  std::vector<ObjectID> mine;
  for (const auto& r : nested) {
    ObjectID id = ObjectID::FromBinary(r.object_id());
    const std::string& owner_ep = r.owner().endpoint();
    if (r.owner().worker_id() == worker_id_.Binary() || owner_ep.empty()) {
      mine.push_back(id);
    } else if (owner_ep == caller.endpoint()) {
      // The caller's own object: only needed if this process holds a
      // registration it may drop before the caller has read the reply.
      if (refs_.RegistrationsHeld(id) > 0) remote[owner_ep].push_back(id);
    } else {
      remote[owner_ep].push_back(id);
    }
  }
  if (!mine.empty()) {
    std::vector<bool> accepted = refs_.AddBorrowers(mine, caller.endpoint());
    bool any = false;
    for (size_t i = 0; i < mine.size(); i++) {
      if (!accepted[i]) continue;
      reply->add_preregistered_refs(mine[i].Binary());
      any = true;
    }
    if (any && caller.endpoint() != address_.endpoint()) WatchBorrower(caller.endpoint());
  }
  for (const auto& [endpoint, ids] : remote) {
    std::vector<bool> accepted;
    Status s = AddBorrowersAt(endpoint, caller, ids, &accepted);
    if (!s.ok()) LUMOS_LOG(Debug) << "pre-registering the caller at " << endpoint << ": " << s.ToString();
    for (size_t i = 0; i < ids.size(); i++) {
      if (accepted[i]) reply->add_preregistered_refs(ids[i].Binary());
    }
  }
}

void CoreWorker::HandleAddBorrowers(const rpc::ConnectionPtr& conn, const rpc::Frame& frame) {
  rpc::AddBorrowersRequest req;
  uint64_t rid = frame.header.request_id;
  if (!req.ParseFromString(frame.payload) || req.borrower().endpoint().empty()) {
    conn->SendError(rid, rpc::ADD_BORROWERS, Status::InvalidArgument("bad AddBorrowers request"));
    return;
  }
  std::vector<ObjectID> ids;
  for (const auto& b : req.object_ids()) {
    if (b.size() == ObjectID::kSize) ids.push_back(ObjectID::FromBinary(b));
  }
  const std::string& endpoint = req.borrower().endpoint();
  std::vector<bool> accepted = refs_.AddBorrowers(ids, endpoint);
  rpc::AddBorrowersReply reply;
  bool any = false;
  for (bool a : accepted) {
    reply.add_accepted(a);
    any |= a;
  }
  conn->SendReply(rid, rpc::ADD_BORROWERS, reply);
  if (any && endpoint != address_.endpoint()) WatchBorrower(endpoint);
}

void CoreWorker::HandleRemoveBorrowers(const rpc::Frame& frame) {
  rpc::RemoveBorrowersRequest req;
  if (!req.ParseFromString(frame.payload)) return;
  std::vector<DeletedObject> deleted;
  for (int i = 0; i < req.object_ids_size() && i < req.counts_size(); i++) {
    if (req.object_ids(i).size() != ObjectID::kSize) continue;
    refs_.RemoveBorrowers(ObjectID::FromBinary(req.object_ids(i)), req.borrower_endpoint(), req.counts(i),
                          &deleted);
  }
  if (!deleted.empty()) FreeObjects(deleted);
}

void CoreWorker::WatchBorrower(const std::string& endpoint) {
  // The pool connection's close (SetPeerClosedHandler -> OnPeerGone) is the
  // borrower's death notice; failing to connect means it is gone already.
  if (!pool_->Get(endpoint).ok()) OnPeerGone(endpoint);
}

void CoreWorker::OnPeerGone(const std::string& endpoint) {
  if (shut_down_) return;
  std::vector<DeletedObject> deleted;
  refs_.RemoveBorrowerEverywhere(endpoint, &deleted);
  if (!deleted.empty()) FreeObjects(deleted);
  // Objects we borrowed from it died with it, as in Ray: a get raises
  // OwnerDiedError even when a copy of the value is still cached here (the
  // "owner ... died" wording is what Python maps to OwnerDiedError).
  for (const ObjectID& id : refs_.BorrowedFrom(endpoint)) {
    memory_store_.Put(id, RayObject::Inline("object " + id.Hex() + " is lost: its owner (at " + endpoint +
                                                ") died; objects live only as long as the process that "
                                                "created them (ray.put or .remote())",
                                            kMetaObjectLost));
  }
}

void CoreWorker::SendRemoveBorrowers(const std::vector<DeletedObject>& deleted) {
  std::map<std::string, rpc::RemoveBorrowersRequest> by_owner;
  for (const auto& d : deleted) {
    if (d.registrations <= 0 || d.owner_endpoint.empty()) continue;
    auto& req = by_owner[d.owner_endpoint];
    req.add_object_ids(d.id.Binary());
    req.add_counts(d.registrations);
  }
  for (auto& [endpoint, req] : by_owner) {
    req.set_borrower_endpoint(address_.endpoint());
    auto conn = pool_->Get(endpoint);
    if (!conn.ok()) continue;  // the owner is gone: nothing to release
    conn.value()->SendOneway(rpc::REMOVE_BORROWERS, req);
  }
}

rpc::ReferenceTableReply CoreWorker::ReferenceTable() {
  rpc::ReferenceTableReply reply;
  *reply.mutable_address() = address_;
  reply.set_pid(getpid());
  reply.set_is_driver(options_.is_driver);
  for (const auto& info : refs_.Snapshot()) {
    auto* e = reply.add_entries();
    e->set_object_id(info.id.Binary());
    if (info.owned) {
      *e->mutable_owner() = address_;
    } else {
      *e->mutable_owner() = info.owner;
    }
    e->set_owned(info.owned);
    e->set_local_refs(info.local);
    e->set_submitted_task_refs(info.submitted);
    e->set_contained_in(info.contained_in);
    e->set_borrowers(info.borrowers);
    e->set_in_plasma(info.in_plasma);
    e->set_pinned_forever(info.escaped);
    e->set_call_site(info.call_site);
    if (auto obj = memory_store_.GetIfExists(info.id); obj && !obj->in_plasma && obj->data) {
      e->set_size(static_cast<int64_t>(obj->data->size()));
    } else if (obj && obj->in_plasma && obj->size > 0) {
      e->set_size(obj->size);  // a task return in the object store (its size came with the reply)
    }
  }
  return reply;
}

void CoreWorker::HandleGetReferenceTable(const rpc::ConnectionPtr& conn, const rpc::Frame& frame) {
  conn->SendReply(frame.header.request_id, rpc::GET_REFERENCE_TABLE, ReferenceTable());
}

Status CoreWorker::CollectReferenceTables(int64_t timeout_ms, std::vector<std::string>* out) {
  rpc::GetNodeStatsReply stats;
  LUMOS_RETURN_NOT_OK(CallSync(raylet_, rpc::GET_NODE_STATS, rpc::GetNodeStatsRequest(), &stats, timeout_ms));
  for (const auto& client : stats.clients()) {
    if (client.endpoint() == address_.endpoint()) {
      out->push_back(ReferenceTable().SerializeAsString());
      continue;
    }
    auto conn = pool_->Get(client.endpoint());
    if (!conn.ok()) continue;  // exited meanwhile
    rpc::ReferenceTableReply table;
    Status s = CallSync(conn.value(), rpc::GET_REFERENCE_TABLE, rpc::ReferenceTableRequest(), &table, timeout_ms);
    if (s.ok()) out->push_back(table.SerializeAsString());
  }
  return Status::OK();
}

}  // namespace lumos::core
