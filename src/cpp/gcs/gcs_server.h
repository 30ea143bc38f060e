#pragma once
// GcsServer: owns the GCS's gRPC server, its services, the actor scheduler
// (its own fastpath event loop thread) and the thread that marks silent nodes
// dead.
//
// Lifecycle: construct -> Start() (opens and loads the storage when
// `storage_path` is set, then binds host:port; port 0 lets the OS pick,
// read it back with port()) -> Shutdown() (idempotent; also run by the
// destructor). Start may fail with IOError when the address cannot be bound,
// and with the storage's error when its file cannot be used.
//
// Durability (gcs_server_restore.cc): with a storage path, nodes, jobs (and
// the job id counter), KV, placement groups and actors are written to one
// SQLite database as they change, and loaded back before serving, so a GCS
// killed and started again on the same file and port carries on: raylets
// keep reporting, actors that stayed alive are watched again.
//
// Thread safety: Start and Shutdown must not race each other; port() and
// address() are safe after Start returns. The services synchronize their own
// state, so gRPC serves calls on a small pool of threads.
//
// Memory: the sync server runs one completion queue with 1..2 idle pollers;
// handler threads are added under load and retire when idle, so the idle
// process stays small (~16 MB RSS, mostly shared-library text).
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/id.h"
#include "common/status.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace lumos::gcs {

class NodeInfoService;
class JobInfoService;
class InternalKVService;
class HealthCheckService;
class ActorInfoService;
class GcsActorScheduler;
class GcsPlacementGroupScheduler;
class PlacementGroupInfoService;
class TaskEventService;
class RayletWatcher;
class GcsStorage;

struct GcsServerOptions {
  /// Address to listen on.
  std::string host = "127.0.0.1";
  /// 0 lets the OS pick a free port.
  int port = 0;
  /// Reported by CheckAlive.
  std::string session_dir;
  /// How often silent nodes are checked (the timeout itself comes from
  /// Config::Get().node_death_timeout_ms()).
  int64_t deadline_check_period_ms = 250;
  /// SQLite file holding the GCS tables; empty = in memory only.
  std::string storage_path;
};

class GcsServer {
 public:
  explicit GcsServer(GcsServerOptions options);
  ~GcsServer();
  GcsServer(const GcsServer&) = delete;
  GcsServer& operator=(const GcsServer&) = delete;

  /// \brief Binds and starts serving, then starts the node deadline thread.
  /// REQUIRES: called once.
  Status Start();

  /// \brief Stops accepting calls, cancels in-flight ones after a short grace
  /// period, and joins the deadline thread. Safe to call more than once.
  void Shutdown();

  /// \brief The port actually bound (valid after a successful Start).
  int port() const { return port_; }
  /// \brief "host:port" clients should dial.
  std::string address() const;

  /// \brief The gRPC services, wired as when serving, for callers that drive
  /// their handlers in-process (fuzz/gcs_requests_fuzzer.cc). Valid for the
  /// server's lifetime, started or not; unstarted, the schedulers' and the
  /// watcher's loops do not run, so nothing is dialed.
  struct Services {
    NodeInfoService* node;
    JobInfoService* job;
    InternalKVService* kv;
    HealthCheckService* health;
    ActorInfoService* actor;
    PlacementGroupInfoService* placement_group;
    TaskEventService* task_event;
  };
  Services services() const {
    return {node_service_.get(), job_service_.get(),   kv_service_.get(),        health_service_.get(),
            actor_service_.get(), pg_service_.get(), task_event_service_.get()};
  }

 private:
  void DeadlineLoop();
  // Opens the storage, loads every table into the services and hands them
  // the storage for later writes. Fills restored_alive_ / removed groups.
  Status OpenAndRestore();
  // After serving starts: the restored alive nodes are announced as if they
  // had just registered (schedulers and the raylet watcher dial them).
  void AnnounceRestored();

  const GcsServerOptions options_;
  std::unique_ptr<GcsStorage> storage_;  // null = in memory only
  std::vector<NodeID> restored_alive_;
  std::vector<std::string> restored_removed_groups_;
  std::unique_ptr<NodeInfoService> node_service_;
  std::unique_ptr<JobInfoService> job_service_;
  std::unique_ptr<InternalKVService> kv_service_;
  std::unique_ptr<HealthCheckService> health_service_;
  std::unique_ptr<GcsActorScheduler> actor_scheduler_;
  std::unique_ptr<ActorInfoService> actor_service_;
  std::unique_ptr<GcsPlacementGroupScheduler> pg_scheduler_;
  std::unique_ptr<PlacementGroupInfoService> pg_service_;
  std::unique_ptr<TaskEventService> task_event_service_;
  // Marks a node dead at once when its raylet's process is gone.
  std::unique_ptr<RayletWatcher> watcher_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread deadline_thread_;
};

}  // namespace lumos::gcs
