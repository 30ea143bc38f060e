#include "gcs/gcs_server.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <chrono>
#include <utility>

#include "common/config.h"
#include "common/logging.h"
#include "gcs/actor_info_service.h"
#include "gcs/actor_scheduler.h"
#include "gcs/gcs_storage.h"
#include "gcs/placement_group_service.h"
#include "gcs/raylet_watcher.h"
#include "gcs/health_check_service.h"
#include "gcs/job_info_service.h"
#include "gcs/kv_service.h"
#include "gcs/node_info_service.h"
#include "gcs/service_util.h"
#include "gcs/task_event_service.h"

namespace lumos::gcs {
namespace {
// How long Shutdown lets in-flight calls and open connections finish.
constexpr int kShutdownGraceMs = 100;

std::string JoinHostPort(const std::string& host, int port) {
  bool ipv6 = host.find(':') != std::string::npos && host.front() != '[';
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}
}  // namespace

GcsServer::GcsServer(GcsServerOptions options)
    : options_(std::move(options)),
      node_service_(std::make_unique<NodeInfoService>()),
      job_service_(std::make_unique<JobInfoService>()),
      kv_service_(std::make_unique<InternalKVService>()),
      health_service_(std::make_unique<HealthCheckService>(options_.session_dir)),
      task_event_service_(std::make_unique<TaskEventService>()) {
  actor_scheduler_ = std::make_unique<GcsActorScheduler>(
      [svc = node_service_.get()] { return svc->GetAllNodes(); });
  actor_service_ = std::make_unique<ActorInfoService>(actor_scheduler_.get());
  pg_scheduler_ = std::make_unique<GcsPlacementGroupScheduler>(
      [svc = node_service_.get()] { return svc->GetAllNodes(); });
  pg_service_ = std::make_unique<PlacementGroupInfoService>(pg_scheduler_.get());
  // Like Ray, removing a group kills the actors created in it.
  pg_scheduler_->SetRemovedListener([sched = actor_scheduler_.get()](const std::string& pg) {
    sched->PlacementGroupRemoved(pg);
  });
  // A finished job's non-detached placement groups are removed.
  job_service_->SetFinishedListener(
      [pgs = pg_scheduler_.get()](const JobID& job) { pgs->JobFinished(job.Binary()); });
  watcher_ = std::make_unique<RayletWatcher>(
      [svc = node_service_.get()] { return svc->GetAllNodes(); },
      [svc = node_service_.get()](const NodeID& id, const std::string& reason) { svc->MarkDead(id, reason); });
  node_service_->SetListeners(
      [sched = actor_scheduler_.get(), pgs = pg_scheduler_.get(), w = watcher_.get()](const NodeID& id) {
        sched->NodeAlive(id);
        pgs->NodeAlive(id);
        w->NodeAlive(id);
      },
      [sched = actor_scheduler_.get(), pgs = pg_scheduler_.get(), w = watcher_.get()](const NodeID& id,
                                                                                     const std::string& reason) {
        w->NodeDead(id);
        sched->NodeDead(id, reason);
        pgs->NodeDead(id);
      });
}

GcsServer::~GcsServer() { Shutdown(); }

std::string GcsServer::address() const { return JoinHostPort(options_.host, port_); }

Status GcsServer::Start() {
  if (!options_.storage_path.empty()) LUMOS_RETURN_NOT_OK(OpenAndRestore());
  std::string listen = JoinHostPort(options_.host, options_.port);
  grpc::ServerBuilder builder;
  int bound_port = 0;
  // gRPC sets SO_REUSEPORT by default, which would let a second GCS bind the
  // same port silently; a taken port must be an error instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &bound_port);
  builder.RegisterService(node_service_.get());
  builder.RegisterService(job_service_.get());
  builder.RegisterService(kv_service_.get());
  builder.RegisterService(health_service_.get());
  builder.RegisterService(actor_service_.get());
  builder.RegisterService(pg_service_.get());
  builder.RegisterService(task_event_service_.get());
  // Few idle threads: one completion queue polled by 1..2 threads. Handler
  // threads are created on demand under load and exit again when idle. There
  // is deliberately no ResourceQuota thread cap: when a sync server reaches it,
  // gRPC rejects calls with RESOURCE_EXHAUSTED instead of queueing them.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 2);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || bound_port == 0) {
    server_.reset();
    return Status::IOError("GCS could not listen on " + listen +
                           " (address in use or not local?); pick another --host/--port");
  }
  port_ = bound_port;
  actor_scheduler_->Start();
  pg_scheduler_->Start();
  watcher_->Start();
  AnnounceRestored();
  LUMOS_LOG(Info) << "GCS listening on " << address() << " (node_death_timeout_ms="
                  << Config::Get().node_death_timeout_ms() << ")";
  deadline_thread_ = std::thread([this] { DeadlineLoop(); });
  return Status::OK();
}

void GcsServer::DeadlineLoop() {
  const auto period = std::chrono::milliseconds(options_.deadline_check_period_ms);
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, period, [this] { return stopping_; })) {
    lock.unlock();
    node_service_->CheckDeadlines(WallClockMs(), Config::Get().node_death_timeout_ms());
    lock.lock();
  }
}

void GcsServer::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (deadline_thread_.joinable()) deadline_thread_.join();
  if (server_ != nullptr) {
    // gRPC waits for every client connection to close, and an idle client in
    // another process may not notice the GOAWAY until it makes a call; so the
    // grace period is short (GCS handlers run for microseconds), after which
    // remaining calls are cancelled and connections dropped.
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(kShutdownGraceMs));
    server_->Wait();
    LUMOS_LOG(Info) << "GCS on " << address() << " stopped";
  }
  // After the gRPC server: no handler can reach the scheduler any more.
  if (watcher_ != nullptr) watcher_->Stop();
  if (actor_scheduler_ != nullptr) actor_scheduler_->Stop();
  if (pg_scheduler_ != nullptr) pg_scheduler_->Stop();
}

}  // namespace lumos::gcs
