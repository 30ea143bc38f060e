#include "gcs/actor_manager.h"

#include <algorithm>

#include "common/config.h"

namespace lumos::gcs {

namespace {
std::string Hex(const std::string& bin) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bin.size());
  for (unsigned char c : bin) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

std::string RemovedGroupCause(const std::string& pg_hex) {
  return "its placement group " + pg_hex +
         " was removed (remove_placement_group or the end of the job that created it)";
}
}  // namespace

GcsActorManager::GcsActorManager()
    : GcsActorManager(Config::Get().maximum_gcs_destroyed_actor_cached_count()) {}

GcsActorManager::GcsActorManager(int64_t max_dead_actors)
    : max_dead_actors_(static_cast<size_t>(std::max<int64_t>(0, max_dead_actors))) {}

GcsActorManager::Entry* GcsActorManager::Find(const std::string& actor_id) {
  auto it = actors_.find(actor_id);
  return it == actors_.end() ? nullptr : &it->second;
}

const GcsActorManager::Entry* GcsActorManager::Find(const std::string& actor_id) const {
  auto it = actors_.find(actor_id);
  return it == actors_.end() ? nullptr : &it->second;
}

bool GcsActorManager::RestartsLeft(const rpc::ActorTableData& d) {
  return d.max_restarts() == -1 || d.num_restarts() < d.max_restarts();
}

Status GcsActorManager::Register(const rpc::TaskSpec& task, rpc::ActorTableData* existing,
                                 ActorActions* actions) {
  if (!task.has_actor_creation()) {
    return Status::InvalidArgument("RegisterActor needs a creation task (actor_creation is unset)");
  }
  const rpc::ActorCreationSpec& spec = task.actor_creation();
  const std::string& id = spec.actor_id();
  if (id.empty()) return Status::InvalidArgument("the creation task has an empty actor_id");
  if (spec.max_restarts() < -1) {
    return Status::InvalidArgument("max_restarts must be -1 (infinite) or >= 0, got " +
                                   std::to_string(spec.max_restarts()));
  }
  if (Find(id) != nullptr) return Status::OK();  // a retried registration
  if (!spec.name().empty()) {
    auto it = named_.find({spec.ray_namespace(), spec.name()});
    if (it != named_.end()) {
      if (existing != nullptr) *existing = actors_.at(it->second).data;
      return Status::AlreadyExists("an actor named '" + spec.name() +
                                   "' already exists in namespace '" + spec.ray_namespace() + "'");
    }
  }
  Entry& e = actors_[id];
  e.creation_task = std::make_unique<rpc::TaskSpec>(task);
  rpc::ActorTableData& d = e.data;
  d.set_actor_id(id);
  d.set_job_id(task.job_id());
  d.set_state(rpc::ActorTableData::PENDING_CREATION);
  *d.mutable_owner() = task.caller();
  d.set_max_restarts(spec.max_restarts());
  d.set_name(spec.name());
  d.set_ray_namespace(spec.ray_namespace());
  d.set_detached(spec.detached());
  d.set_class_name(spec.class_name());
  d.set_serialized_handle(spec.serialized_handle());
  d.set_version(1);
  auto* res = d.mutable_resources();
  for (const auto& [k, v] : task.required_resources()) (*res)[k] = v;
  for (const auto& [k, v] : task.placement_resources()) {
    if ((*res)[k] < v) (*res)[k] = v;
  }
  if (!spec.name().empty()) named_[{spec.ray_namespace(), spec.name()}] = id;
  Touch(id);
  const std::string& owner_endpoint = task.caller().endpoint();
  WorkerID owner = WorkerID::FromBinary(task.caller().worker_id());
  if (!spec.detached() && !owner.IsNil()) by_owner_[owner].insert(id);
  if (!owner_endpoint.empty()) {
    if (!owner.IsNil()) owners_at_[owner_endpoint].insert(owner);
    e.subscribers.insert(owner_endpoint);
    subs_of_[owner_endpoint].insert(id);
    ActorAction watch{ActorAction::kWatch};
    watch.endpoint = owner_endpoint;
    actions->push_back(std::move(watch));
  }
  if (!task.placement_group_id().empty()) {
    std::string pg = Hex(task.placement_group_id());
    if (removed_groups_.Contains(pg)) {
      MarkDead(id, &e, RemovedGroupCause(pg), actions);
      return Status::OK();
    }
    by_group_[pg].insert(id);
  }
  Schedule(id, &e, actions);
  return Status::OK();
}

Result<rpc::ActorTableData> GcsActorManager::Get(const std::string& actor_id) const {
  const Entry* e = Find(actor_id);
  if (e == nullptr) return Status::NotFound("actor " + Hex(actor_id) + " is not registered");
  return e->data;
}

Result<rpc::ActorTableData> GcsActorManager::GetNamed(const std::string& name,
                                                      const std::string& ns) const {
  auto it = named_.find({ns, name});
  if (it == named_.end()) {
    return Status::NotFound("no live actor named '" + name + "' in namespace '" + ns +
                            "' (it may have died, or live in another namespace: "
                            "pass namespace=...)");
  }
  return actors_.at(it->second).data;
}

std::vector<rpc::ActorTableData> GcsActorManager::ListNamed(const std::string& ns,
                                                            bool all_namespaces) const {
  std::vector<rpc::ActorTableData> out;
  for (const auto& [key, id] : named_) {
    if (all_namespaces || key.first == ns) out.push_back(actors_.at(id).data);
  }
  return out;
}

std::vector<const rpc::ActorTableData*> GcsActorManager::AllRows() const {
  std::vector<const rpc::ActorTableData*> out;
  out.reserve(actors_.size());
  for (const auto& [id, e] : actors_) out.push_back(&e.data);
  return out;
}

Status GcsActorManager::Subscribe(const std::string& actor_id, const std::string& endpoint,
                                  rpc::ActorTableData* current, ActorActions* actions) {
  Entry* e = Find(actor_id);
  if (e == nullptr) return Status::NotFound("actor " + Hex(actor_id) + " is not registered");
  if (current != nullptr) *current = e->data;
  if (endpoint.empty() || e->data.state() == rpc::ActorTableData::DEAD) return Status::OK();
  if (e->subscribers.insert(endpoint).second) {
    Touch(actor_id);
    subs_of_[endpoint].insert(actor_id);
    ActorAction watch{ActorAction::kWatch};
    watch.endpoint = endpoint;
    actions->push_back(std::move(watch));
  }
  return Status::OK();
}

void GcsActorManager::EndpointGone(const std::string& endpoint, ActorActions* actions) {
  auto sit = subs_of_.find(endpoint);
  if (sit != subs_of_.end()) {
    for (const auto& id : sit->second) {
      if (Entry* e = Find(id)) {
        e->subscribers.erase(endpoint);
        Touch(id);
      }
    }
    subs_of_.erase(sit);
  }
  auto oit = owners_at_.find(endpoint);
  if (oit == owners_at_.end()) return;
  std::set<WorkerID> owners = std::move(oit->second);
  owners_at_.erase(oit);
  for (const auto& owner : owners) OwnerDied(owner, actions);
}

void GcsActorManager::OwnerDied(const WorkerID& owner, ActorActions* actions) {
  auto it = by_owner_.find(owner);
  if (it == by_owner_.end()) return;
  std::set<std::string> owned = std::move(it->second);
  by_owner_.erase(it);
  for (const auto& id : owned) {
    Entry* e = Find(id);
    if (e == nullptr || e->data.detached()) continue;
    if (e->data.state() == rpc::ActorTableData::DEAD) continue;
    MarkDead(id, e, "its owner (worker " + owner.Hex() + ") died", actions);
  }
}

bool GcsActorManager::WantsLease(const std::string& actor_id, uint64_t attempt) const {
  const Entry* e = Find(actor_id);
  return e != nullptr && attempt != 0 && e->attempt == attempt && !e->lease &&
         e->data.state() != rpc::ActorTableData::DEAD;
}

bool GcsActorManager::LeaseGranted(const std::string& actor_id, uint64_t attempt,
                                   const ActorLease& lease, ActorActions* actions) {
  if (!WantsLease(actor_id, attempt)) {
    ActorAction release{ActorAction::kReleaseLease};
    release.actor_id = actor_id;
    release.lease = lease;
    actions->push_back(std::move(release));
    return false;
  }
  Entry* e = Find(actor_id);
  e->lease = lease;
  Touch(actor_id);
  by_worker_[lease.worker_id()] = actor_id;
  by_node_[lease.node_id].insert(actor_id);
  return true;
}

void GcsActorManager::CreationSucceeded(const std::string& actor_id, uint64_t attempt,
                                        ActorActions* actions) {
  Entry* e = Find(actor_id);
  if (e == nullptr || attempt == 0 || e->attempt != attempt || !e->lease ||
      e->data.state() == rpc::ActorTableData::DEAD) {
    return;
  }
  e->attempt = 0;
  e->data.set_state(rpc::ActorTableData::ALIVE);
  *e->data.mutable_address() = e->lease->worker_address;
  e->data.clear_death_cause();
  Publish(actor_id, e, actions);
}

void GcsActorManager::CreationFailed(const std::string& actor_id, uint64_t attempt,
                                     const std::string& creation_error, const std::string& message,
                                     ActorActions* actions) {
  Entry* e = Find(actor_id);
  if (e == nullptr || attempt == 0 || e->attempt != attempt ||
      e->data.state() == rpc::ActorTableData::DEAD) {
    return;
  }
  e->data.set_creation_error(creation_error);
  MarkDead(actor_id, e, "the actor's __init__ raised: " + message, actions);
}

void GcsActorManager::SchedulingFailed(const std::string& actor_id, uint64_t attempt,
                                       const std::string& cause, ActorActions* actions) {
  Entry* e = Find(actor_id);
  if (e == nullptr || attempt == 0 || e->attempt != attempt ||
      e->data.state() == rpc::ActorTableData::DEAD) {
    return;
  }
  MarkDead(actor_id, e, cause, actions);
}

void GcsActorManager::SetSchedulingWarning(const std::string& actor_id, uint64_t attempt,
                                           const std::string& warning, ActorActions* actions) {
  if (!WantsLease(actor_id, attempt)) return;
  Entry* e = Find(actor_id);
  if (e->data.death_cause() == warning) return;
  e->data.set_death_cause(warning);
  Publish(actor_id, e, actions);
}

bool GcsActorManager::WorkerDied(const WorkerID& worker, const std::string& description,
                                 ActorActions* actions) {
  auto it = by_worker_.find(worker);
  if (it == by_worker_.end()) return false;
  std::string id = it->second;
  Entry* e = Find(id);
  Fail(id, e, "the actor's worker process died (" + description + ")", /*may_restart=*/true,
       actions);
  return true;
}

Status GcsActorManager::Kill(const std::string& actor_id, bool no_restart,
                             const std::string& reason, ActorActions* actions) {
  Entry* e = Find(actor_id);
  if (e == nullptr) return Status::NotFound("actor " + Hex(actor_id) + " is not registered");
  if (e->data.state() == rpc::ActorTableData::DEAD) return Status::OK();
  Fail(actor_id, e, reason.empty() ? "killed by lumos.kill()" : reason, !no_restart, actions);
  return Status::OK();
}

void GcsActorManager::NodeDied(const NodeID& node, const std::string& detail,
                               ActorActions* actions) {
  auto it = by_node_.find(node);
  if (it == by_node_.end()) return;
  std::set<std::string> on_node = it->second;  // Fail() edits by_node_
  std::string cause = detail.empty() ? "its node died" : "its node died (" + detail + ")";
  for (const auto& id : on_node) {
    if (Entry* e = Find(id)) Fail(id, e, cause, /*may_restart=*/true, actions);
  }
}

void GcsActorManager::PlacementGroupRemoved(const std::string& pg_hex, ActorActions* actions) {
  if (!removed_groups_.Insert(pg_hex)) return;
  auto it = by_group_.find(pg_hex);
  if (it == by_group_.end()) return;
  std::set<std::string> in_group = std::move(it->second);
  by_group_.erase(it);
  for (const auto& id : in_group) {
    Entry* e = Find(id);
    if (e == nullptr || e->data.state() == rpc::ActorTableData::DEAD) continue;
    MarkDead(id, e, RemovedGroupCause(pg_hex), actions);  // never restarted: the group is gone
  }
}

std::optional<ActorLease> GcsActorManager::LeaseOf(const std::string& actor_id) const {
  const Entry* e = Find(actor_id);
  if (e == nullptr) return std::nullopt;
  return e->lease;
}

size_t GcsActorManager::num_index_entries() const {
  size_t n = named_.size() + by_worker_.size() + dead_order_.size();
  for (const auto& [k, v] : by_owner_) n += v.size();
  for (const auto& [k, v] : owners_at_) n += v.size();
  for (const auto& [k, v] : by_node_) n += v.size();
  for (const auto& [k, v] : subs_of_) n += v.size();
  for (const auto& [k, v] : by_group_) n += v.size();
  return n;
}

size_t GcsActorManager::num_subscriptions(const std::string& endpoint) const {
  auto it = subs_of_.find(endpoint);
  return it == subs_of_.end() ? 0 : it->second.size();
}

void GcsActorManager::Publish(const std::string& actor_id, Entry* e, ActorActions* actions) {
  e->data.set_version(e->data.version() + 1);
  Touch(actor_id);
  if (e->subscribers.empty()) return;
  ActorAction pub{ActorAction::kPublish};
  pub.actor_id = actor_id;
  pub.data = e->data;
  pub.endpoints.assign(e->subscribers.begin(), e->subscribers.end());
  actions->push_back(std::move(pub));
}

void GcsActorManager::Schedule(const std::string& actor_id, Entry* e, ActorActions* actions) {
  e->attempt = ++next_attempt_;
  ActorAction s{ActorAction::kSchedule};
  s.actor_id = actor_id;
  s.attempt = e->attempt;
  if (e->creation_task) s.creation_task = *e->creation_task;
  actions->push_back(std::move(s));
}

void GcsActorManager::DropLease(const std::string& actor_id, Entry* e, ActorActions* actions) {
  if (!e->lease) return;
  ActorAction release{ActorAction::kReleaseLease};
  release.actor_id = actor_id;
  release.lease = *e->lease;
  actions->push_back(std::move(release));
  by_worker_.erase(e->lease->worker_id());
  auto nit = by_node_.find(e->lease->node_id);
  if (nit != by_node_.end()) {
    nit->second.erase(actor_id);
    if (nit->second.empty()) by_node_.erase(nit);
  }
  e->lease.reset();
  Touch(actor_id);
}

void GcsActorManager::Fail(const std::string& actor_id, Entry* e, const std::string& cause,
                           bool may_restart, ActorActions* actions) {
  if (!may_restart || !RestartsLeft(e->data)) {
    MarkDead(actor_id, e, cause, actions);
    return;
  }
  DropLease(actor_id, e, actions);
  e->data.set_state(rpc::ActorTableData::RESTARTING);
  e->data.set_num_restarts(e->data.num_restarts() + 1);
  e->data.set_death_cause(cause);
  e->data.clear_address();
  Publish(actor_id, e, actions);
  Schedule(actor_id, e, actions);
}

void GcsActorManager::MarkDead(const std::string& actor_id, Entry* e, const std::string& cause,
                               ActorActions* actions) {
  const bool newly_dead = e->data.state() != rpc::ActorTableData::DEAD;
  DropLease(actor_id, e, actions);
  e->attempt = 0;
  e->data.set_state(rpc::ActorTableData::DEAD);
  e->data.set_death_cause(cause);
  e->data.clear_address();
  if (e->creation_task && !e->creation_task->placement_group_id().empty()) {
    auto git = by_group_.find(Hex(e->creation_task->placement_group_id()));
    if (git != by_group_.end()) {
      git->second.erase(actor_id);
      if (git->second.empty()) by_group_.erase(git);
    }
  }
  // Never scheduled again, and its args may be large: freed. The pickled
  // handle only serves lookups of live actors (get_actor by name,
  // current_actor): freed too (swap: clear() keeps the capacity).
  e->creation_task.reset();
  std::string().swap(*e->data.mutable_serialized_handle());
  const rpc::ActorTableData& d = e->data;
  if (!d.name().empty()) {
    auto it = named_.find({d.ray_namespace(), d.name()});
    if (it != named_.end() && it->second == actor_id) named_.erase(it);
  }
  WorkerID owner = WorkerID::FromBinary(d.owner().worker_id());
  auto oit = by_owner_.find(owner);
  if (oit != by_owner_.end()) {
    oit->second.erase(actor_id);
    if (oit->second.empty()) by_owner_.erase(oit);
  }
  Publish(actor_id, e, actions);
  // A DEAD actor never changes again: its subscriptions are done.
  for (const auto& ep : e->subscribers) {
    auto sit = subs_of_.find(ep);
    if (sit == subs_of_.end()) continue;
    sit->second.erase(actor_id);
    if (sit->second.empty()) subs_of_.erase(sit);
  }
  e->subscribers.clear();
  if (newly_dead) KeepDead(actor_id);  // last: it may forget `e` itself (cap 0)
}

void GcsActorManager::KeepDead(const std::string& actor_id) {
  dead_order_.push_back(actor_id);
  TrimDead();
}

void GcsActorManager::TrimDead() {
  // Every index dropped a DEAD actor when it died (MarkDead): only the row is left.
  while (dead_order_.size() > max_dead_actors_) {
    std::string gone = std::move(dead_order_.front());
    dead_order_.pop_front();
    actors_.erase(gone);
    Touch(gone);  // TakeChanges: no row left, so the stored one is deleted
  }
}

}  // namespace lumos::gcs
