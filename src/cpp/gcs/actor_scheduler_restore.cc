// GcsActorScheduler, durable part: writing changed actor rows to GcsStorage,
// rebuilding the table after a restart, and re-watching the workers of
// actors that stayed ALIVE while the GCS was away.
#include <memory>

#include "common/logging.h"
#include "gcs/actor_scheduler.h"
#include "gcs/gcs_storage.h"
#include "gcs/raylet_link.h"

namespace lumos::gcs {

void GcsActorScheduler::SetStorage(GcsStorage* storage) {
  std::lock_guard<std::mutex> lock(mu_);
  storage_ = storage;
  manager_.TrackChanges(storage != nullptr);
}

void GcsActorScheduler::PersistLocked() {
  auto changes = manager_.TakeChanges();
  if (changes.empty()) return;
  std::vector<GcsStorage::Op> ops;
  ops.reserve(changes.size());
  for (auto& [id, row] : changes) {
    // No row: the actor was forgotten (the dead-actor cap), so its stored row goes too.
    std::optional<std::string> value;
    if (row) value = row->SerializeAsString();
    ops.push_back(GcsStorage::Op{GcsStorage::Table::kActors, id, std::move(value)});
  }
  Status s = storage_->Apply(ops);
  if (!s.ok()) LUMOS_LOG(Error) << "actor table not saved: " << s.ToString();
}

void GcsActorScheduler::Apply(const std::function<void(GcsActorManager&, ActorActions*)>& fn) {
  ActorActions actions;
  std::unique_lock<std::mutex> lock(mu_);
  fn(manager_, &actions);
  if (storage_ != nullptr) PersistLocked();
  bool any = !actions.empty();
  for (auto& a : actions) queue_.push_back(std::move(a));
  lock.unlock();
  if (any) Kick();
}

void GcsActorScheduler::Restore(const std::vector<rpc::StoredActor>& rows) {
  Apply([&](GcsActorManager& m, ActorActions* a) { m.Restore(rows, a); });
}

rpc::ConnectionPtr GcsActorScheduler::RayletOf(const NodeID& node) {
  auto it = raylets_.find(node);
  if (it != raylets_.end() && !it->second->closed()) return it->second;
  // A lease from before a GCS restart: its raylet was not dialed yet.
  for (const auto& n : list_nodes_()) {
    if (n.node_id() == node.Binary() && n.state() == rpc::NodeInfo::ALIVE) return Raylet(n);
  }
  return nullptr;
}

void GcsActorScheduler::AdoptWorker(const std::string& actor_id, const ActorLease& lease) {
  WorkerID worker = lease.worker_id();
  bool current = false;
  Apply([&](GcsActorManager& m, ActorActions*) {
    auto held = m.LeaseOf(actor_id);
    current = held && held->worker_id() == worker;
  });
  if (!current) return;  // died or was killed meanwhile (e.g. its owner is gone)
  auto conn = Dial(lease.worker_address.endpoint());
  if (!conn.ok()) {
    std::string why = "it could not be reached at " + lease.worker_address.endpoint() +
                      " when the GCS restarted: " + conn.status().message();
    LUMOS_LOG(Info) << "actor worker " << worker.Hex() << ": " << why;
    Apply([&](GcsActorManager& m, ActorActions* a) { m.WorkerDied(worker, why, a); });
    return;
  }
  auto ctx = std::make_shared<WorkerContext>();
  ctx->actor_id = actor_id;
  ctx->worker = worker;
  rpc::ConnectionPtr c = conn.value();
  c->set_context(ctx);
  workers_[worker] = c;
  c->Start(
      [this](const rpc::ConnectionPtr& cc, rpc::Frame&& f) { OnWorkerFrame(cc, std::move(f)); },
      [this](const rpc::ConnectionPtr& cc, const Status&) { OnWorkerClosed(cc); });
}

}  // namespace lumos::gcs
