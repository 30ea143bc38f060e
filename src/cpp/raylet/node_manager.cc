#include "raylet/node_manager.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include <algorithm>
#include <unistd.h>

#include "common/config.h"
#include "common/logging.h"
#include "common.pb.h"
#include "core_worker.pb.h"
#include "node_manager.pb.h"
#include "raylet/log_service.h"
#include "rpc/cluster_identity.h"
#include "rpc/endpoint.h"

namespace lumos::raylet {

namespace {
template <typename Msg>
bool Parse(const rpc::ConnectionPtr& conn, const rpc::Frame& frame, Msg* msg) {
  if (msg->ParseFromString(frame.payload)) return true;
  if (frame.header.kind == rpc::FrameKind::kRequest) {
    conn->SendError(frame.header.request_id, frame.header.method,
                    Status::InvalidArgument("unparsable request payload"));
  }
  return false;
}
}  // namespace

NodeManager::NodeManager(asio::io_context& io, NodeManagerOptions options,
                         std::shared_ptr<rpc::GcsClient> gcs)
    : io_(io),
      options_(std::move(options)),
      gcs_(std::move(gcs)),
      pool_(io, options_.worker_pool,
            [this](pid_t pid, int /*status*/, bool registered, const std::string& how) {
              OnWorkerExit(pid, registered, how);
            }),
      leases_(options_.resources,
              Config::Get().maximum_startup_concurrency() > 0
                  ? static_cast<int>(Config::Get().maximum_startup_concurrency())
                  : std::max(1, static_cast<int>(options_.resources.Get("CPU")))),
      maintenance_timer_(io),
      snapshot_timer_(io),
      cluster_(options_.node_id) {}

NodeManager::~NodeManager() {
  StopCluster();
  {
    std::lock_guard<std::mutex> lock(snapshot_mu_);
    reporter_stop_ = true;
  }
  snapshot_cv_.notify_all();
  if (reporter_.joinable()) reporter_.join();
}

Status NodeManager::Start() {
  server_ = std::make_unique<rpc::FastpathServer>(
      io_, options_.socket_path,
      [this](const rpc::ConnectionPtr& c, rpc::Frame&& f) { OnFrame(c, std::move(f)); },
      [this](const rpc::ConnectionPtr& c, const Status& s) { OnClose(c, s); });
  LUMOS_RETURN_NOT_OK(server_->Listen());
  int tcp_port = 0;
  LUMOS_RETURN_NOT_OK(server_->ListenTcp(options_.node_ip, options_.port, &tcp_port));
  int om_port = 0;
  LUMOS_RETURN_NOT_OK(StartCluster(&om_port));
  if (options_.num_prestart_workers > 0) {
    leases_.NoteWorkersStarting(options_.num_prestart_workers);
    StartWorkers(options_.num_prestart_workers);
  }
  rpc::NodeInfo info;
  info.set_node_id(options_.node_id.Binary());
  info.set_node_ip(options_.node_ip);
  info.set_raylet_endpoint(rpc::FormatEndpoint(options_.socket_path, options_.node_ip, tcp_port));
  info.set_object_manager_port(om_port);
  info.set_version(rpc::kLumosVersion);
  for (const auto& [k, v] : options_.labels) (*info.mutable_labels())[k] = v;
  info.set_store_endpoint(options_.store_endpoint);
  for (const auto& [k, v] : options_.resources.ToMap()) {
    (*info.mutable_total_resources())[k] = v;
    (*info.mutable_available_resources())[k] = v;
  }
  info.set_raylet_pid(getpid());
  info.set_session_dir(options_.session_dir);
  info.set_is_head(options_.is_head);
  info.set_object_store_memory(options_.object_store_memory);
  LUMOS_RETURN_NOT_OK(gcs_->RegisterNode(info));
  registration_ = info;  // registered again if a fresh GCS does not know the node
  {
    // The other nodes are known before the first lease request is served.
    std::vector<rpc::NodeInfo> nodes;
    if (gcs_->GetAllNodeInfo(&nodes).ok()) OnClusterView(std::move(nodes));
  }
  UpdateSnapshot();
  reporter_ = std::thread([this] { ReporterLoop(); });
  ArmMaintenanceTimer();
  return Status::OK();
}

void NodeManager::Stop(const std::string& reason) {
  if (stopping_) return;
  stopping_ = true;
  {
    // The reporter sends no more reports (and exits at its next check).
    std::lock_guard<std::mutex> lock(snapshot_mu_);
    reporter_stop_ = true;
  }
  snapshot_cv_.notify_all();
  maintenance_timer_.cancel();
  snapshot_timer_.cancel();
  if (server_) server_->Stop();
  drain_cancel_ = true;
  if (drain_thread_.joinable()) drain_thread_.join();
  StopCluster();
  pool_.KillAll(1000);
  snapshot_cv_.notify_all();  // reporter_stop_ was set at the top
  gcs_->CancelWaits();  // a report waiting for a restarting GCS ends now
  if (reporter_.joinable()) reporter_.join();
  Status s = gcs_->UnregisterNode(options_.node_id, reason);
  if (!s.ok()) LUMOS_LOG(Info) << "could not unregister from the GCS: " << s.ToString();
}

void NodeManager::OnFrame(const rpc::ConnectionPtr& conn, rpc::Frame&& frame) {
  if (!conn->context()) {
    auto c = std::make_shared<Client>();
    c->id = next_client_id_++;
    c->conn = conn;
    clients_[c->id] = c;
    conn->set_context(c);
  }
  auto c = std::static_pointer_cast<Client>(conn->context());
  uint16_t m = frame.header.method;
  // Owners on other nodes do not register here: the TCP handshake already
  // proved they belong to the cluster. Local clients must register first.
  const bool anonymous_ok = conn->authenticated() &&
                            (m == rpc::REQUEST_WORKER_LEASE || m == rpc::RETURN_WORKER ||
                             m == rpc::GET_WORKER_EXIT || m == rpc::GET_NODE_STATS ||
                             m == rpc::LIST_LOGS || m == rpc::READ_LOG || m == rpc::REQUEST_STACK_DUMP);
  if (m != rpc::REGISTER_CLIENT && !c->registered && !anonymous_ok) {
    conn->CloseBadPeer(Status::Invalid("sent method " + std::to_string(m) + " before REGISTER_CLIENT"));
    return;
  }
  switch (m) {
    case rpc::REGISTER_CLIENT:
      HandleRegister(c, frame);
      break;
    case rpc::REQUEST_WORKER_LEASE:
      HandleRequestLease(c, frame);
      break;
    case rpc::RETURN_WORKER:
      HandleReturnWorker(c, frame);
      break;
    case rpc::NOTIFY_BLOCKED:
      if (!c->is_driver) leases_.WorkerBlocked(c->worker_id);
      ScheduleAndDispatch();
      break;
    case rpc::NOTIFY_UNBLOCKED:
      if (!c->is_driver) leases_.WorkerUnblocked(c->worker_id);
      ScheduleAndDispatch();
      break;
    case rpc::DISCONNECT_CLIENT:
      conn->Close(Status::OK());
      break;
    case rpc::GET_NODE_STATS:
      HandleNodeStats(c, frame);
      break;
    case rpc::GET_WORKER_EXIT:
      HandleGetWorkerExit(c, frame);
      break;
    case rpc::LIST_LOGS:
    case rpc::READ_LOG:
      ServeLogRequest(conn, frame, options_.worker_pool.log_dir);
      break;
    case rpc::REQUEST_STACK_DUMP:
      ServeStackDumpRequest(conn, frame, options_.worker_pool.log_dir, options_.session_dir);
      break;
    case rpc::PREPARE_BUNDLES:
      HandlePrepareBundles(c, frame);
      break;
    case rpc::COMMIT_BUNDLES:
      HandleCommitBundles(c, frame);
      break;
    case rpc::CANCEL_BUNDLES:
      HandleCancelBundles(c, frame);
      break;
    case rpc::PULL_OBJECTS:
      HandlePullObjects(c, frame);
      break;
    case rpc::FREE_REMOTE_OBJECTS:
      HandleFreeRemoteObjects(frame);
      break;
    default:
      conn->CloseBadPeer(Status::Invalid("unknown raylet method " + std::to_string(m)));
  }
}

void NodeManager::HandleRegister(const std::shared_ptr<Client>& c, const rpc::Frame& frame) {
  rpc::RegisterClientRequest req;
  if (!Parse(c->conn, frame, &req)) return;
  if (c->registered || req.worker_id().size() != WorkerID::kSize) {
    c->conn->SendError(frame.header.request_id, frame.header.method,
                       Status::InvalidArgument("bad registration"));
    return;
  }
  c->worker_id = WorkerID::FromBinary(req.worker_id());
  c->pid = req.pid();
  c->is_driver = req.is_driver() || req.remote_owner();
  c->remote_owner = req.remote_owner();
  c->is_gcs = req.runtime() == "gcs" && req.is_driver();
  c->endpoint = req.endpoint();
  if (!c->is_driver) {
    // The kernel's word, not the claim: only a process this raylet spawned
    // may register as its worker (and so be killed by pid later).
    if (pid_t peer = options_.verify_worker_peer_pid ? c->conn->PeerPid() : -1; peer > 0 && peer != c->pid) {
      c->conn->SendError(frame.header.request_id, frame.header.method,
                         Status::InvalidArgument("registration claims pid " + std::to_string(c->pid) +
                                                 " but comes from pid " + std::to_string(peer)));
      return;
    }
    if (!pool_.MarkRegistered(c->pid)) {
      c->conn->SendError(frame.header.request_id, frame.header.method,
                         Status::InvalidArgument("pid " + std::to_string(c->pid) +
                                                 " is not a worker this raylet started"));
      return;
    }
    workers_[c->worker_id] = c;
    worker_of_pid_[c->pid] = c->worker_id;
  }
  c->registered = true;
  rpc::RegisterClientReply reply;
  reply.set_node_id(options_.node_id.Binary());
  reply.set_store_endpoint(options_.store_endpoint);
  reply.set_node_ip(options_.node_ip);
  for (const auto& [k, v] : options_.resources.ToMap()) (*reply.mutable_resources())[k] = v;
  c->conn->SendReply(frame.header.request_id, frame.header.method, reply);
  if (!c->is_driver) {
    auto env = env_of_pid_.find(c->pid);
    leases_.WorkerStarted(c->worker_id, env == env_of_pid_.end() ? 0 : env->second);
    idle_since_ms_[c->worker_id] = rpc::NowMs();
    ScheduleAndDispatch();
  }
}

void NodeManager::HandleRequestLease(const std::shared_ptr<Client>& c, const rpc::Frame& frame, bool after_view) {
  rpc::RequestWorkerLeaseRequest req;
  if (!Parse(c->conn, frame, &req)) return;
  std::map<std::string, double> m(req.resources().begin(), req.resources().end());
  auto rs = ResourceSet::FromMap(m);
  if (!rs.ok()) {
    c->conn->SendError(frame.header.request_id, frame.header.method, rs.status());
    return;
  }
  std::map<std::string, double> pm(req.placement_resources().begin(), req.placement_resources().end());
  auto placement = ResourceSet::FromMap(pm);
  if (!placement.ok()) {
    c->conn->SendError(frame.header.request_id, frame.header.method, placement.status());
    return;
  }
  if (std::string why = GpuAllocator::CheckRequest(GpuAllocator::ToUnits(rs.value().Get("GPU")));
      !why.empty()) {
    c->conn->SendError(frame.header.request_id, frame.header.method, Status::InvalidArgument(why));
    return;
  }
  // Actor leases are placed by the GCS on purpose: never moved.
  const bool alone = raylet_endpoints_.empty();
  const bool fits_here = leases_.total().Contains(rs.value()) && leases_.total().Contains(placement.value());
  if (alone && !fits_here && !after_view && !req.grant_or_reject() && !req.is_actor()) {
    // A node that joined in the last ~100 ms may fit it: decide on the next view.
    held_for_view_.emplace_back(c->id, frame);
    return;
  }
  if (!alone && !req.grant_or_reject() && !req.is_actor()) {
    NodeID target;
    bool feasible_somewhere = true;
    std::string endpoint = ChooseRemoteNode(req.scheduling_strategy(), rs.value(), placement.value(), &target,
                                            &feasible_somewhere, false, req.preferred_node_id());
    if (!endpoint.empty()) {
      ReplySpillback(c->id, frame.header.request_id, endpoint, target);
      return;
    }
    if (!feasible_somewhere && !after_view) {
      held_for_view_.emplace_back(c->id, frame);
      return;
    }
  }
  LeaseRequest lr;
  lr.strategy = req.scheduling_strategy().SerializeAsString();
  lr.grant_or_reject = req.grant_or_reject() || req.is_actor();
  lr.placement = placement.MoveValue();
  lr.is_actor = req.is_actor();
  lr.requester = c->id;
  lr.reply_tag = frame.header.request_id;
  lr.resources = rs.MoveValue();
  lr.scheduling_class = req.scheduling_class();
  lr.task_name = req.task_name();
  lr.fail_on_infeasible = req.fail_on_infeasible();
  if (!req.runtime_env().empty()) {
    lr.env_hash = std::hash<std::string>()(req.runtime_env()) | 1;  // never 0, the default's
    lr.runtime_env = req.runtime_env();
  }
  if (bundles_.AnyRemoved()) {
    std::vector<std::string> names = lr.resources.Names();
    for (auto& n : lr.placement.Names()) names.push_back(std::move(n));
    std::string pg = bundles_.RemovedGroupIn(names);
    if (!pg.empty()) {
      RejectForRemovedGroup(lr, pg);  // it would wait forever for the group's resources
      return;
    }
  }
  leases_.AddRequest(std::move(lr));
  ScheduleAndDispatch();
}

void NodeManager::HandleReturnWorker(const std::shared_ptr<Client>& c, const rpc::Frame& frame) {
  rpc::ReturnWorkerRequest req;
  if (!Parse(c->conn, frame, &req)) return;
  const LeaseInfo* held = leases_.GetLease(req.lease_id());
  if (held && held->requester != c->id && !(c->is_gcs && held->requester == kGcsLeases)) {
    // Not this client's lease: refuse, leaving the lease and its worker alone.
    LUMOS_LOG(Warning) << "client " << c->id << " returned lease " << req.lease_id()
                       << " which it does not hold; ignored";
    if (frame.header.kind == rpc::FrameKind::kRequest) {
      c->conn->SendError(frame.header.request_id, frame.header.method,
                         Status::InvalidArgument("lease " + std::to_string(req.lease_id()) +
                                                 " is not held by this client"));
    }
    return;
  }
  // An actor's worker is never pooled again: its lease ends with the process.
  // Nor is a worker that held GPUs: CUDA fixes a process's devices once.
  bool disconnect = req.disconnect_worker() || (held && (held->is_actor || !held->gpus.empty()));
  auto info = leases_.ReturnLease(req.lease_id(), disconnect);
  if (info) {
    if (disconnect) {
      KillWorker(info->worker, "returned with disconnect");
    } else {
      idle_since_ms_[info->worker] = rpc::NowMs();
    }
  }
  if (frame.header.kind == rpc::FrameKind::kRequest) {
    c->conn->SendReply(frame.header.request_id, frame.header.method, rpc::ReturnWorkerReply());
  }
  ScheduleAndDispatch();
}

void NodeManager::HandleNodeStats(const std::shared_ptr<Client>& c, const rpc::Frame& frame) {
  rpc::GetNodeStatsReply reply;
  for (const auto& [k, v] : leases_.total().ToMap()) (*reply.mutable_total_resources())[k] = v;
  for (const auto& [k, v] : leases_.available().ToMap()) (*reply.mutable_available_resources())[k] = v;
  reply.set_num_workers(static_cast<int>(workers_.size()));
  reply.set_num_idle_workers(static_cast<int>(leases_.num_idle()));
  reply.set_num_pending_leases(static_cast<int>(leases_.num_pending()));
  for (const auto& [id, client] : clients_) {
    if (!client->registered || client->remote_owner) continue;
    auto* info = reply.add_clients();
    info->set_worker_id(client->worker_id.Binary());
    info->set_pid(client->pid);
    info->set_is_driver(client->is_driver);
    info->set_endpoint(client->endpoint);
  }
  if (options_.fill_store_stats) options_.fill_store_stats(&reply);
  c->conn->SendReply(frame.header.request_id, frame.header.method, reply);
}

void NodeManager::HandleGetWorkerExit(const std::shared_ptr<Client>& c, const rpc::Frame& frame) {
  rpc::GetWorkerExitRequest req;
  if (!Parse(c->conn, frame, &req)) return;
  WorkerID wid = WorkerID::FromBinary(req.worker_id());
  auto it = exit_reasons_.find(wid);
  bool unreaped = std::any_of(worker_of_pid_.begin(), worker_of_pid_.end(),
                              [&](const auto& entry) { return entry.second == wid; });
  if (it != exit_reasons_.end() || !unreaped) {
    rpc::GetWorkerExitReply reply;
    if (it != exit_reasons_.end()) {
      reply.set_description(it->second.how);
      reply.set_placement_group_removed(it->second.placement_group_removed);
    }
    c->conn->SendReply(frame.header.request_id, frame.header.method, reply);
    return;
  }
  // Hung up but not reaped yet: answer when SIGCHLD arrives (or at the deadline).
  exit_queries_.emplace(wid, ExitQuery{c->conn, frame.header.request_id, rpc::NowMs() + 1000});
}

void NodeManager::RecordExit(const WorkerID& worker, const std::string& how,
                             bool placement_group_removed) {
  exit_reasons_[worker] = ExitRecord{how, placement_group_removed};
  exit_order_.push_back(worker);
  if (exit_order_.size() > 1024) {
    exit_reasons_.erase(exit_order_.front());
    exit_order_.pop_front();
  }
  auto range = exit_queries_.equal_range(worker);
  for (auto it = range.first; it != range.second; ++it) {
    rpc::GetWorkerExitReply reply;
    reply.set_description(how);
    reply.set_placement_group_removed(placement_group_removed);
    it->second.conn->SendReply(it->second.request_id, rpc::GET_WORKER_EXIT, reply);
  }
  exit_queries_.erase(range.first, range.second);
}

void NodeManager::OnClose(const rpc::ConnectionPtr& conn, const Status& why) {
  if (!conn->context()) return;
  auto c = std::static_pointer_cast<Client>(conn->context());
  conn->set_context(nullptr);
  clients_.erase(c->id);
  if (c->registered && !c->is_driver) {
    leases_.WorkerDied(c->worker_id);
    workers_.erase(c->worker_id);
    idle_since_ms_.erase(c->worker_id);
    // A worker that hung up but lives on would hold a process slot forever.
    pool_.Kill(c->pid, SIGKILL);
  }
  // The GCS's leases are its actors: they outlive a GCS restart (the new
  // GCS adopts them, see HandleReturnWorker).
  if (c->is_gcs) {
    leases_.ReassignRequester(c->id, kGcsLeases);
    ScheduleAndDispatch();
    return;
  }
  // Leases this client held: their workers may be running its orphaned tasks.
  for (const auto& lease : leases_.RequesterGone(c->id)) {
    leases_.ReturnLease(lease.lease_id, /*worker_gone=*/true);
    KillWorker(lease.worker, "its lease holder disconnected");
  }
  ScheduleAndDispatch();
}

void NodeManager::OnWorkerExit(pid_t pid, bool registered, const std::string& how) {
  uint64_t env_hash = 0;
  if (auto env = env_of_pid_.find(pid); env != env_of_pid_.end()) {
    env_hash = env->second;
    env_of_pid_.erase(env);
  }
  if (!registered) {
    leases_.WorkerStartFailed(env_hash);
    if (!stopping_) {
      LUMOS_LOG(Error) << "worker process " << pid << " exited before registering (" << how
                       << "); see " << options_.worker_pool.log_dir << "/worker-*.err";
    }
  } else {
    auto it = worker_of_pid_.find(pid);
    if (it != worker_of_pid_.end()) {
      WorkerID wid = it->second;
      worker_of_pid_.erase(it);
      actor_workers_.erase(wid);
      std::string desc = how;
      bool pg_removed = false;
      auto kit = killed_for_removed_group_.find(wid);
      if (kit != killed_for_removed_group_.end()) {  // by our SIGKILL
        desc = "killed because its placement group " + kit->second + " was removed";
        pg_removed = true;
        killed_for_removed_group_.erase(kit);
      }
      QueueWorkerFailure(wid, desc);
      RecordExit(wid, desc, pg_removed);
      if (workers_.count(wid)) {
        leases_.WorkerDied(wid);
        auto c = workers_[wid];
        workers_.erase(wid);
        idle_since_ms_.erase(wid);
        c->conn->Close(Status::WorkerDied("worker exited: " + desc));
      }
    }
    if (!stopping_) LUMOS_LOG(Debug) << "worker " << pid << " exited: " << how;
  }
  ScheduleAndDispatch();
}

void NodeManager::ScheduleAndDispatch() {
  if (stopping_) return;
  bool again = false;
  for (auto& a : leases_.Schedule()) {
    switch (a.kind) {
      case LeaseAction::kGrant: {
        auto cit = clients_.find(a.request.requester);
        auto wit = workers_.find(a.worker);
        if (cit == clients_.end() || wit == workers_.end()) {
          // Defensive: state is kept consistent, but never drop a request.
          leases_.ReturnLease(a.lease_id, wit == workers_.end());
          if (cit != clients_.end()) leases_.AddRequest(a.request);
          again = true;
          continue;
        }
        idle_since_ms_.erase(a.worker);
        if (a.request.is_actor) actor_workers_.insert(a.worker);
        rpc::RequestWorkerLeaseReply reply;
        reply.set_lease_id(a.lease_id);
        for (int id : a.gpu_ids) reply.add_gpu_ids(id);
        auto* addr = reply.mutable_worker_address();
        addr->set_node_id(options_.node_id.Binary());
        addr->set_worker_id(a.worker.Binary());
        addr->set_endpoint(wit->second->endpoint);
        cit->second->conn->SendReply(a.request.reply_tag, rpc::REQUEST_WORKER_LEASE, reply);
        break;
      }
      case LeaseAction::kStartWorkers:
        StartWorkers(a.num_workers, a.request.env_hash, a.request.runtime_env);
        break;
      case LeaseAction::kInfeasible: {
        a.message = ClusterWide(a.request, a.message);
        LUMOS_LOG(Warning) << a.message;
        auto cit = clients_.find(a.request.requester);
        if (a.reject) {
          if (cit != clients_.end()) {
            rpc::RequestWorkerLeaseReply reply;
            reply.set_rejected_reason(a.message);
            reply.set_infeasible(true);
            cit->second->conn->SendReply(a.request.reply_tag, rpc::REQUEST_WORKER_LEASE, reply);
          }
          break;
        }
        if (cit != clients_.end()) {
          rpc::LeaseInfeasibleNotice notice;
          notice.set_message(a.message);
          cit->second->conn->SendOneway(rpc::LEASE_INFEASIBLE, notice);
        }
        break;
      }
    }
  }
  RequestSnapshot();
  if (again) ScheduleAndDispatch();
}

namespace {
// Writes `content` to `path` (mode 0600) unless it exists; false on failure.
bool WriteFileOnce(const std::string& dir, const std::string& path, const std::string& content) {
  if (::access(path.c_str(), R_OK) == 0) return true;
  std::string parent = dir.substr(0, dir.rfind('/'));
  ::mkdir(parent.c_str(), 0700);
  ::mkdir(dir.c_str(), 0700);
  std::string tmp = path + ".tmp" + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  ::close(fd);
  return ok && ::rename(tmp.c_str(), path.c_str()) == 0;
}
}  // namespace

void NodeManager::StartWorkers(int n, uint64_t env_hash, const std::string& runtime_env) {
  // The worker sets its environment up (python/lumos/_private/runtime_env)
  // before it registers. The environment goes in a file of the session dir
  // (0700), not on the command line, where ps would show its env_vars.
  std::vector<std::string> extra;
  if (env_hash != 0) {
    char hex[17];
    std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(env_hash));
    std::string dir = options_.session_dir + "/runtime_resources/envs";
    std::string path = dir + "/" + hex + ".json";
    if (WriteFileOnce(dir, path, runtime_env)) {
      extra.push_back("--runtime-env-file=" + path);
    } else {
      LUMOS_LOG(Warning) << "cannot write " << path << " (" << strerror(errno)
                         << "); passing the runtime_env on the worker's command line";
      extra.push_back("--runtime-env=" + runtime_env);
    }
  }
  for (int i = 0; i < n; i++) {
    pid_t pid;
    Status s = pool_.StartWorker(&pid, extra);
    if (!s.ok()) {
      LUMOS_LOG(Error) << s.ToString();
      leases_.WorkerStartFailed(env_hash);
    } else if (env_hash != 0) {
      env_of_pid_[pid] = env_hash;
    }
  }
}

void NodeManager::KillWorker(const WorkerID& worker, const std::string& reason) {
  auto it = workers_.find(worker);
  if (it == workers_.end()) return;
  LUMOS_LOG(Debug) << "killing worker " << it->second->pid << ": " << reason;
  pool_.Kill(it->second->pid, SIGKILL);
}

void NodeManager::ArmMaintenanceTimer() {
  maintenance_timer_.expires_after(std::chrono::milliseconds(250));
  maintenance_timer_.async_wait([this](asio::error_code ec) {
    if (ec || stopping_) return;
    DoMaintenance();
    ArmMaintenanceTimer();
  });
}

void NodeManager::DoMaintenance() {
  int64_t now = rpc::NowMs();
  for (auto it = exit_queries_.begin(); it != exit_queries_.end();) {
    if (it->second.deadline_ms > now) {
      ++it;
      continue;
    }
    it->second.conn->SendReply(it->second.request_id, rpc::GET_WORKER_EXIT, rpc::GetWorkerExitReply());
    it = exit_queries_.erase(it);
  }
  // Workers that never registered (those setting up a runtime environment,
  // e.g. a pip install, get runtime_env_setup_timeout_ms).
  std::vector<pid_t> setup_overdue;
  if (!env_of_pid_.empty()) setup_overdue = pool_.OverdueStarts(now - Config::Get().runtime_env_setup_timeout_ms());
  for (pid_t pid : pool_.OverdueStarts(now - Config::Get().worker_register_timeout_ms())) {
    if (env_of_pid_.count(pid) &&
        std::find(setup_overdue.begin(), setup_overdue.end(), pid) == setup_overdue.end()) {
      continue;
    }
    LUMOS_LOG(Error) << "worker " << pid << " did not register within "
                     << Config::Get().worker_register_timeout_ms() << " ms; killing it";
    pool_.Kill(pid, SIGKILL);
  }
  // Idle workers beyond the soft limit (one per CPU).
  size_t soft_limit = std::max<size_t>(1, static_cast<size_t>(leases_.total().Get("CPU")));
  int64_t idle_ms = Config::Get().idle_worker_killing_time_ms();
  size_t alive = workers_.size() - actor_workers_.size();
  std::vector<WorkerID> idle(leases_.idle_workers().begin(), leases_.idle_workers().end());
  for (const auto& wid : idle) {  // oldest first
    if (alive <= soft_limit) break;
    auto it = idle_since_ms_.find(wid);
    if (it == idle_since_ms_.end() || now - it->second < idle_ms) continue;
    if (!leases_.TakeIdleWorker(wid)) continue;
    rpc::ExitWorkerRequest req;
    req.set_reason("idle worker beyond the pool's soft limit");
    workers_[wid]->conn->SendOneway(rpc::EXIT_WORKER, req);
    idle_since_ms_.erase(wid);
    alive--;
  }
}

void NodeManager::RequestSnapshot() {
  if (snapshot_timer_armed_ || stopping_) return;
  snapshot_timer_armed_ = true;
  snapshot_timer_.expires_after(std::chrono::milliseconds(2));
  snapshot_timer_.async_wait([this](asio::error_code ec) {
    if (ec || stopping_) return;
    snapshot_timer_armed_ = false;
    UpdateSnapshot();
  });
}

void NodeManager::UpdateSnapshot() {
  auto m = leases_.available().ToMap();
  auto t = leases_.total().ToMap();
  auto inf = leases_.InfeasibleDemands();
  std::lock_guard<std::mutex> lock(snapshot_mu_);
  if (m == available_snapshot_ && t == total_snapshot_ && inf == infeasible_snapshot_) return;
  available_snapshot_ = std::move(m);
  total_snapshot_ = std::move(t);
  infeasible_snapshot_ = std::move(inf);
  snapshot_dirty_ = true;
  snapshot_cv_.notify_all();
}

void NodeManager::QueueWorkerFailure(const WorkerID& worker, const std::string& description) {
  std::lock_guard<std::mutex> lock(snapshot_mu_);
  worker_failures_.emplace_back(worker, description);
  snapshot_cv_.notify_all();
}

void NodeManager::ReporterLoop() {
  int64_t period = Config::Get().resource_report_period_ms();
  std::unique_lock<std::mutex> lock(snapshot_mu_);
  while (!reporter_stop_) {
    snapshot_cv_.wait_for(lock, std::chrono::milliseconds(period), [this] {
      return reporter_stop_ || snapshot_dirty_ || !worker_failures_.empty();
    });
    if (reporter_stop_) break;
    auto snapshot = available_snapshot_;
    auto total = total_snapshot_;
    auto infeasible = infeasible_snapshot_;
    snapshot_dirty_ = false;
    std::vector<std::pair<WorkerID, std::string>> failures;
    failures.swap(worker_failures_);
    lock.unlock();
    for (const auto& [wid, why] : failures) {
      Status fs = gcs_->ReportWorkerFailure(wid.Binary(), options_.node_id.Binary(), why);
      if (!fs.ok()) LUMOS_LOG(Debug) << "worker failure report failed: " << fs.ToString();
    }
    bool dead = false;
    const int64_t sent_ms = rpc::NowMs();
    int64_t drain_deadline_ms = -1;
    Status s = gcs_->ReportResources(options_.node_id, snapshot, &dead, &total, &infeasible, &drain_deadline_ms);
    if (s.ok() && drain_deadline_ms >= 0 && !drain_requested_.exchange(true)) {
      asio::post(io_, [this, drain_deadline_ms] { StartDrain(drain_deadline_ms); });
    }
    if (s.ok() || s.code() == StatusCode::kNotFound) gcs_failing_since_ms_ = 0;
    else if (gcs_failing_since_ms_ == 0) gcs_failing_since_ms_ = sent_ms;
    if (s.code() == StatusCode::kNotFound) {
      // A GCS started afresh (no storage) does not know this node: join again.
      LUMOS_LOG(Warning) << "the GCS does not know this node (it restarted); registering again";
      rpc::NodeInfo info = registration_;
      for (const auto& [k, v] : snapshot) (*info.mutable_available_resources())[k] = v;
      Status rs = gcs_->RegisterNode(info);
      if (!rs.ok()) LUMOS_LOG(Warning) << "registering again failed: " << rs.ToString();
      std::lock_guard<std::mutex> relock(snapshot_mu_);
      snapshot_dirty_ = true;  // report the totals again too
    } else if (!s.ok() && rpc::NowMs() - gcs_failing_since_ms_ >= Config::Get().gcs_reconnect_timeout_s() * 1000) {
      LUMOS_LOG(Error) << "exiting: the GCS at " << gcs_->address() << " has not answered for "
                       << (rpc::NowMs() - gcs_failing_since_ms_) / 1000
                       << " s (gcs_reconnect_timeout_s); last error: " << s.ToString();
      ::kill(getpid(), SIGTERM);
    } else if (!s.ok()) {
      LUMOS_LOG(Warning) << "resource report to the GCS failed: " << s.ToString();
    }
    // Not while Stop() runs: it closed the GCS's connection first, which is
    // how the GCS learns a raylet died, so "dead" is then our own doing (and
    // in a test process the signal would end the test).
    if (dead && !Stopping()) {
      LUMOS_LOG(Error) << "the GCS considers this node dead; exiting";
      ::kill(getpid(), SIGTERM);
    }
    // Throttle: at most one report per 20 ms even when resources churn.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    lock.lock();
  }
}

bool NodeManager::Stopping() {
  std::lock_guard<std::mutex> lock(snapshot_mu_);
  return reporter_stop_;
}

}  // namespace lumos::raylet
