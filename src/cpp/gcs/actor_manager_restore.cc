// GcsActorManager, durable part: the rows written to GcsStorage and the
// rebuild of the table from them when the GCS starts again.
#include "gcs/actor_manager.h"

namespace lumos::gcs {

namespace {
std::string HexOf(const std::string& bin) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bin) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}
}  // namespace

std::vector<std::pair<std::string, std::optional<rpc::StoredActor>>> GcsActorManager::TakeChanges() {
  std::vector<std::pair<std::string, std::optional<rpc::StoredActor>>> out;
  out.reserve(changed_.size());
  for (const auto& id : changed_) {
    const Entry* e = Find(id);
    if (e == nullptr) {  // forgotten (TrimDead)
      out.emplace_back(id, std::nullopt);
      continue;
    }
    rpc::StoredActor row;
    *row.mutable_data() = e->data;
    if (e->creation_task) *row.mutable_creation_task() = *e->creation_task;
    if (e->lease) {
      row.set_has_lease(true);
      row.set_lease_node_id(e->lease->node_id.Binary());
      row.set_lease_id(e->lease->lease_id);
      *row.mutable_lease_worker() = e->lease->worker_address;
    }
    for (const auto& ep : e->subscribers) row.add_subscribers(ep);
    out.emplace_back(id, std::move(row));
  }
  changed_.clear();
  return out;
}

void GcsActorManager::Restore(const std::vector<rpc::StoredActor>& rows, ActorActions* actions) {
  std::set<std::string> watch;
  std::vector<std::string> adopt, reschedule;
  for (const auto& row : rows) {
    const std::string& id = row.data().actor_id();
    if (id.empty()) continue;
    Entry& e = actors_[id];
    e.data = row.data();
    const rpc::ActorTableData& d = e.data;
    if (d.state() == rpc::ActorTableData::DEAD) {
      dead_order_.push_back(id);  // the time of death is not stored: row order
      std::string().swap(*e.data.mutable_serialized_handle());  // rows stored before MarkDead freed it
      continue;  // no creation task, lease or subscribers: see MarkDead
    }
    e.creation_task = std::make_unique<rpc::TaskSpec>(row.creation_task());
    for (const auto& ep : row.subscribers()) e.subscribers.insert(ep);
    if (row.has_lease()) {
      ActorLease lease;
      lease.node_id = NodeID::FromBinary(row.lease_node_id());
      lease.lease_id = row.lease_id();
      lease.worker_address = row.lease_worker();
      e.lease = lease;
    }
    if (!d.name().empty()) named_[{d.ray_namespace(), d.name()}] = id;
    WorkerID owner = WorkerID::FromBinary(d.owner().worker_id());
    if (!d.detached() && !owner.IsNil()) by_owner_[owner].insert(id);
    if (!d.owner().endpoint().empty()) {
      if (!owner.IsNil()) owners_at_[d.owner().endpoint()].insert(owner);
      watch.insert(d.owner().endpoint());
    }
    for (const auto& ep : e.subscribers) {
      subs_of_[ep].insert(id);
      watch.insert(ep);
    }
    if (e.lease) {
      by_worker_[e.lease->worker_id()] = id;
      by_node_[e.lease->node_id].insert(id);
    }
    if (!e.creation_task->placement_group_id().empty()) {
      by_group_[HexOf(e.creation_task->placement_group_id())].insert(id);
    }
    (d.state() == rpc::ActorTableData::ALIVE && e.lease ? adopt : reschedule).push_back(id);
  }
  TrimDead();  // the cap may be lower than when they were stored
  for (const auto& ep : watch) {
    ActorAction w{ActorAction::kWatch};
    w.endpoint = ep;
    actions->push_back(std::move(w));
  }
  for (const auto& id : adopt) {
    Entry* e = Find(id);
    if (e == nullptr || e->data.state() == rpc::ActorTableData::DEAD) continue;
    ActorAction a{ActorAction::kAdoptWorker};
    a.actor_id = id;
    a.lease = *e->lease;
    actions->push_back(std::move(a));
  }
  for (const auto& id : reschedule) {
    Entry* e = Find(id);
    if (e == nullptr || e->data.state() == rpc::ActorTableData::DEAD) continue;
    // Whether the creation task ran on the leased worker is unknown: start over.
    DropLease(id, e, actions);
    Schedule(id, e, actions);
  }
}

}  // namespace lumos::gcs
