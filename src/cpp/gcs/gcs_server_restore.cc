// GcsServer, durable part: open the SQLite storage, load every table into
// the services before serving, and announce the restored nodes afterwards.
//
// What each storage table holds (key -> value):
//   nodes             NodeID binary -> NodeInfo (written at register/death)
//   jobs              JobID binary -> JobInfo; meta "next_job_id" -> decimal
//   kv                4-byte ns length + ns + key -> value (function table too)
//   placement_groups  id -> PlacementGroupTableData (at each state change)
//   actors            ActorID binary -> StoredActor (data, creation task,
//                     lease, subscribers; at each change)
#include <chrono>

#include "common/logging.h"
#include "gcs/actor_scheduler.h"
#include "gcs/gcs_server.h"
#include "gcs/gcs_storage.h"
#include "gcs/job_info_service.h"
#include "gcs/kv_service.h"
#include "gcs/node_info_service.h"
#include "gcs/placement_group_scheduler.h"
#include "gcs/raylet_watcher.h"
#include "gcs/service_util.h"

namespace lumos::gcs {

Status GcsServer::OpenAndRestore() {
  const auto t0 = std::chrono::steady_clock::now();
  auto opened = GcsStorage::Open(options_.storage_path);
  if (!opened.ok()) return opened.status();
  storage_ = opened.MoveValue();
  using T = GcsStorage::Table;
  auto load = [&](T t) { return storage_->LoadAll(t); };

  auto nodes = load(T::kNodes);
  if (!nodes.ok()) return nodes.status();
  auto alive = node_service_->Restore(nodes.value(), WallClockMs());
  if (!alive.ok()) return alive.status();
  restored_alive_ = alive.MoveValue();

  auto jobs = load(T::kJobs);
  if (!jobs.ok()) return jobs.status();
  auto counter = storage_->Get(T::kMeta, JobInfoService::kNextJobIdKey);
  if (!counter.ok()) return counter.status();
  uint32_t next_job_id = 0;
  if (counter.value()) {
    try {
      next_job_id = static_cast<uint32_t>(std::stoul(*counter.value()));
    } catch (...) {
      return Status::Invalid("malformed next_job_id '" + *counter.value() + "' in " + storage_->path());
    }
  }
  LUMOS_RETURN_NOT_OK(job_service_->Restore(jobs.value(), next_job_id));

  auto kv = load(T::kKv);
  if (!kv.ok()) return kv.status();
  LUMOS_RETURN_NOT_OK(kv_service_->Restore(kv.value()));

  auto pg_rows = load(T::kPlacementGroups);
  if (!pg_rows.ok()) return pg_rows.status();
  std::vector<rpc::PlacementGroupTableData> pgs;
  for (const auto& [key, value] : pg_rows.value()) {
    rpc::PlacementGroupTableData pg;
    if (!pg.ParseFromString(value)) return Status::Invalid("malformed placement group row in " + storage_->path());
    if (pg.state() == rpc::PlacementGroupTableData::REMOVED) restored_removed_groups_.push_back(pg.placement_group_id());
    pgs.push_back(std::move(pg));
  }
  Status pgs_ok = pg_scheduler_->Restore(pgs);
  if (!pgs_ok.ok()) LUMOS_LOG(Error) << pgs_ok.ToString();

  auto actor_rows = load(T::kActors);
  if (!actor_rows.ok()) return actor_rows.status();
  std::vector<rpc::StoredActor> actors;
  actors.reserve(actor_rows.value().size());
  for (const auto& [key, value] : actor_rows.value()) {
    rpc::StoredActor row;
    if (!row.ParseFromString(value)) return Status::Invalid("malformed actor row in " + storage_->path());
    actors.push_back(std::move(row));
  }
  // Actors in removed groups may still register (a retried call): they die at once.
  for (const auto& pg : restored_removed_groups_) actor_scheduler_->PlacementGroupRemoved(pg);
  actor_scheduler_->Restore(actors);

  node_service_->SetStorage(storage_.get());
  job_service_->SetStorage(storage_.get());
  kv_service_->SetStorage(storage_.get());
  pg_scheduler_->SetStorage(storage_.get());
  actor_scheduler_->SetStorage(storage_.get());
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  LUMOS_LOG(Info) << "GCS storage " << storage_->path() << " loaded in " << static_cast<int64_t>(ms)
                  << " ms: " << nodes.value().size() << " nodes (" << restored_alive_.size() << " alive), "
                  << jobs.value().size() << " jobs, " << kv.value().size() << " KV entries, " << pgs.size()
                  << " placement groups, " << actors.size() << " actors";
  return Status::OK();
}

void GcsServer::AnnounceRestored() {
  for (const auto& id : restored_alive_) {
    actor_scheduler_->NodeAlive(id);
    pg_scheduler_->NodeAlive(id);
    watcher_->NodeAlive(id);
  }
  restored_alive_.clear();
}

}  // namespace lumos::gcs
