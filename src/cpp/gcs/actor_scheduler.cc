#include "gcs/actor_scheduler.h"


#include <algorithm>
#include <cstdio>
#include <future>

#include "common/config.h"
#include "common/logging.h"
#include "gcs/actor_state_query.h"
#include "gcs/raylet_link.h"
#include "scheduling/strategy_proto.h"
#include "core_worker.pb.h"
#include "node_manager.pb.h"

namespace lumos::gcs {

namespace {

// The actor's SchedulingStrategy as a filter (hard constraints) and a
// preference (soft ones) over the GCS's node table.
bool StrategyAllows(const scheduling::SchedulingStrategy& s, const rpc::NodeInfo& n) {
  if (s.kind == scheduling::SchedulingStrategy::kNodeAffinity && !s.soft) return n.node_id() == s.affinity_node.Binary();
  return s.kind != scheduling::SchedulingStrategy::kNodeLabel ||
         scheduling::AllMatch(s.hard_labels, scheduling::NodeLabels(NodeID::FromBinary(n.node_id()), n.labels()));
}

bool StrategyPrefers(const scheduling::SchedulingStrategy& s, const rpc::NodeInfo& n) {
  if (s.kind == scheduling::SchedulingStrategy::kNodeAffinity) return n.node_id() == s.affinity_node.Binary();
  return s.kind != scheduling::SchedulingStrategy::kNodeLabel ||
         scheduling::AllMatch(s.soft_labels, scheduling::NodeLabels(NodeID::FromBinary(n.node_id()), n.labels()));
}

// How often pending actors are re-tried while no node takes them.
constexpr int64_t kRetryPeriodMs = 1000;
// After a raylet connection fails, how soon its pending leases are re-tried.
constexpr int64_t kRetryAfterDisconnectMs = 50;
// Worker failure reports are kept this long (they may precede the hang-up).
constexpr int64_t kFailureMemoryMs = 60 * 1000;
constexpr size_t kMaxRememberedFailures = 4096;

std::string ShortHex(const std::string& bin) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bin.size() && i < 6; i++) {
    unsigned char c = static_cast<unsigned char>(bin[i]);
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

std::string FormatAmount(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

// {CPU: 4, GPU: 1}, in the order of `keys`.
std::string FormatResources(const std::map<std::string, double>& keys,
                            const google::protobuf::Map<std::string, double>* have) {
  std::string out = "{";
  for (const auto& [k, v] : keys) {
    if (out.size() > 1) out += ", ";
    double amount = v;
    if (have != nullptr) {
      auto it = have->find(k);
      amount = it == have->end() ? 0 : it->second;
    }
    out += k + ": " + FormatAmount(amount);
  }
  return out + "}";
}

// required ∪ placement: per resource, the larger of the two (zeros dropped).
std::map<std::string, double> Demand(const rpc::TaskSpec& task) {
  std::map<std::string, double> d;
  for (const auto& [k, v] : task.required_resources()) d[k] = std::max(d[k], v);
  for (const auto& [k, v] : task.placement_resources()) d[k] = std::max(d[k], v);
  for (auto it = d.begin(); it != d.end();) it = it->second > 0 ? std::next(it) : d.erase(it);
  return d;
}

bool Fits(const std::map<std::string, double>& demand,
          const google::protobuf::Map<std::string, double>& have) {
  for (const auto& [k, v] : demand) {
    auto it = have.find(k);
    if (it == have.end() || it->second + 1e-9 < v) return false;
  }
  return true;
}

std::string ActorName(const rpc::TaskSpec& task) {
  const std::string& cls = task.actor_creation().class_name();
  return cls.empty() ? task.name() : cls;
}

}  // namespace

GcsActorScheduler::GcsActorScheduler(NodeLister list_nodes) : list_nodes_(std::move(list_nodes)) {
  retry_timer_ = std::make_unique<asio::steady_timer>(loop_.io());
}

GcsActorScheduler::~GcsActorScheduler() { Stop(); }

void GcsActorScheduler::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) return;
  started_ = true;
  loop_.Start("gcs_actors");
}

void GcsActorScheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_ || stopped_) return;
    stopped_ = true;
  }
  std::promise<void> done;
  loop_.Post([this, &done] {
    stopping_ = true;
    retry_timer_->cancel();
    for (auto& [w, t] : death_timers_) t->cancel();
    death_timers_.clear();
    std::vector<rpc::ConnectionPtr> conns;
    for (auto& [k, c] : raylets_) conns.push_back(c);
    for (auto& [k, c] : workers_) conns.push_back(c);
    for (auto& [k, c] : endpoints_) conns.push_back(c);
    raylets_.clear();
    workers_.clear();
    endpoints_.clear();
    for (auto& c : conns) c->Close(Status::Disconnected("GCS shutting down"));
    done.set_value();
  });
  done.get_future().wait();
  loop_.Join();
}

// ---------------------------------------------------------------------------
// Thread-safe entry points.

template <typename Fn>
auto GcsActorScheduler::WithManager(Fn&& fn) {
  ActorActions actions;
  std::unique_lock<std::mutex> lock(mu_);
  auto result = fn(manager_, &actions);
  if (storage_ != nullptr) PersistLocked();
  bool any = !actions.empty();
  for (auto& a : actions) queue_.push_back(std::move(a));
  lock.unlock();
  if (any) Kick();
  return result;
}

void GcsActorScheduler::Kick() {
  if (loop_.InLoopThread()) {
    Drain();
  } else {
    loop_.Post([this] { Drain(); });
  }
}

Status GcsActorScheduler::RegisterActor(const rpc::TaskSpec& creation_task,
                                        rpc::ActorTableData* existing) {
  Status s = WithManager([&](GcsActorManager& m, ActorActions* a) {
    return m.Register(creation_task, existing, a);
  });
  if (s.ok()) {
    LUMOS_LOG(Debug) << "actor " << ShortHex(creation_task.actor_creation().actor_id()) << " ("
                     << ActorName(creation_task) << ") registered";
  }
  return s;
}

Result<rpc::ActorTableData> GcsActorScheduler::GetActor(const std::string& actor_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return manager_.Get(actor_id);
}

Result<rpc::ActorTableData> GcsActorScheduler::GetNamedActor(const std::string& name,
                                                             const std::string& ns) {
  std::lock_guard<std::mutex> lock(mu_);
  return manager_.GetNamed(name, ns);
}

std::vector<rpc::ActorTableData> GcsActorScheduler::ListNamedActors(const std::string& ns,
                                                                    bool all_namespaces) {
  std::lock_guard<std::mutex> lock(mu_);
  return manager_.ListNamed(ns, all_namespaces);
}

Status GcsActorScheduler::QueryActors(const rpc::GetAllActorInfoRequest& req, rpc::GetAllActorInfoReply* reply) {
  std::lock_guard<std::mutex> lock(mu_);
  return gcs::QueryActors(manager_.AllRows(), req, reply);
}

Status GcsActorScheduler::KillActor(const std::string& actor_id, bool no_restart,
                                    const std::string& reason) {
  return WithManager([&](GcsActorManager& m, ActorActions* a) {
    return m.Kill(actor_id, no_restart, reason, a);
  });
}

Status GcsActorScheduler::SubscribeActor(const std::string& actor_id,
                                         const rpc::Address& subscriber,
                                         rpc::ActorTableData* current) {
  return WithManager([&](GcsActorManager& m, ActorActions* a) {
    return m.Subscribe(actor_id, subscriber.endpoint(), current, a);
  });
}

void GcsActorScheduler::ReportWorkerFailure(const WorkerID& worker, const NodeID& node,
                                            const std::string& description) {
  loop_.Post([this, worker, node, description] {
    if (stopping_) return;
    int64_t now = rpc::NowMs();
    if (failures_.size() >= kMaxRememberedFailures) {
      for (auto it = failures_.begin(); it != failures_.end();) {
        it = now - it->second.at_ms > kFailureMemoryMs ? failures_.erase(it) : std::next(it);
      }
      if (failures_.size() >= kMaxRememberedFailures) failures_.clear();
    }
    failures_[worker] = Failure{description, now};
    bool hosted = WithManager([&](GcsActorManager& m, ActorActions* a) {
      return m.WorkerDied(worker, description, a);
    });
    if (hosted) {
      LUMOS_LOG(Info) << "actor worker " << worker.Hex() << " on node " << node.Hex()
                      << " died: " << description;
    }
  });
}

void GcsActorScheduler::PlacementGroupRemoved(const std::string& pg_hex) {
  WithManager([&](GcsActorManager& m, ActorActions* a) {
    m.PlacementGroupRemoved(pg_hex, a);
    return 0;
  });
}

void GcsActorScheduler::NodeAlive(const NodeID& node) {
  loop_.Post([this, node] {
    if (stopping_) return;
    unreachable_.erase(node);
    SchedulePending();
  });
}

void GcsActorScheduler::NodeDead(const NodeID& node, const std::string& reason) {
  loop_.Post([this, node, reason] {
    if (stopping_) return;
    unreachable_.insert(node);
    WithManager([&](GcsActorManager& m, ActorActions* a) {
      m.NodeDied(node, "node " + node.Hex() + ": " + reason, a);
      return 0;
    });
    auto it = raylets_.find(node);
    if (it != raylets_.end()) {
      rpc::ConnectionPtr conn = it->second;
      raylets_.erase(it);
      conn->Close(Status::Disconnected("node marked dead"));
    }
  });
}

// ---------------------------------------------------------------------------
// Loop thread.

void GcsActorScheduler::Drain() {
  if (draining_ || stopping_) return;
  draining_ = true;
  while (!stopping_) {
    ActorAction action;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) break;
      action = std::move(queue_.front());
      queue_.pop_front();
    }
    Execute(action);
  }
  draining_ = false;
}

void GcsActorScheduler::Execute(ActorAction& a) {
  switch (a.kind) {
    case ActorAction::kSchedule:
      pending_.push_back(PendingCreation{a.actor_id, a.attempt, std::move(a.creation_task)});
      SchedulePending();
      break;
    case ActorAction::kReleaseLease:
      ReleaseLease(a.lease);
      break;
    case ActorAction::kPublish:
      for (const auto& ep : a.endpoints) {
        if (rpc::ConnectionPtr c = Endpoint(ep)) c->SendOneway(rpc::ACTOR_STATE_UPDATE, a.data);
      }
      break;
    case ActorAction::kWatch:
      Endpoint(a.endpoint);
      break;
    case ActorAction::kAdoptWorker:
      AdoptWorker(a.actor_id, a.lease);
      break;
  }
}

void GcsActorScheduler::ArmRetryTimer(int64_t delay_ms) {
  if (stopping_) return;
  int64_t at = rpc::NowMs() + delay_ms;
  if (retry_armed_ && retry_at_ms_ <= at) return;  // an earlier retry is coming
  retry_armed_ = true;
  retry_at_ms_ = at;
  uint64_t generation = ++retry_generation_;
  retry_timer_->expires_after(std::chrono::milliseconds(delay_ms));  // cancels an older wait
  retry_timer_->async_wait([this, generation](asio::error_code ec) {
    if (generation != retry_generation_) return;  // superseded
    retry_armed_ = false;
    if (ec || stopping_) return;
    SchedulePending();
  });
}

void GcsActorScheduler::SchedulePending() {
  if (stopping_ || pending_.empty()) return;
  std::vector<rpc::NodeInfo> nodes = list_nodes_();
  std::deque<PendingCreation> waiting;
  while (!pending_.empty()) {
    PendingCreation p = std::move(pending_.front());
    pending_.pop_front();
    bool wanted = WithManager([&](GcsActorManager& m, ActorActions*) {
      return m.WantsLease(p.actor_id, p.attempt);
    });
    if (!wanted) continue;
    std::string warning;
    bool infeasible = false;
    const rpc::NodeInfo* node = PickNode(nodes, p.task, &warning, &infeasible);
    if (node == nullptr && infeasible && p.task.fail_on_infeasible()) {
      WithManager([&](GcsActorManager& m, ActorActions* a) {
        m.SchedulingFailed(p.actor_id, p.attempt, warning, a);
        return 0;
      });
      continue;
    }
    if (node == nullptr) {
      WithManager([&](GcsActorManager& m, ActorActions* a) {
        m.SetSchedulingWarning(p.actor_id, p.attempt, warning, a);
        return 0;
      });
      waiting.push_back(std::move(p));
      continue;
    }
    rpc::ConnectionPtr raylet = Raylet(*node);
    if (!raylet) {
      // The node is now marked unreachable: pick again for the same actor.
      pending_.push_front(std::move(p));
      continue;
    }
    RequestLease(raylet, NodeID::FromBinary(node->node_id()), std::move(p));
  }
  pending_ = std::move(waiting);
  if (!pending_.empty()) ArmRetryTimer(kRetryPeriodMs);
}

const rpc::NodeInfo* GcsActorScheduler::PickNode(const std::vector<rpc::NodeInfo>& nodes,
                                                 const rpc::TaskSpec& task,
                                                 std::string* warning, bool* infeasible) const {
  std::map<std::string, double> demand = Demand(task);
  scheduling::SchedulingStrategy strategy = scheduling::FromProto(task.scheduling_strategy());
  if (strategy.kind == scheduling::SchedulingStrategy::kNodeAffinity && strategy.soft &&
      !strategy.spill_on_unavailable) {
    // Like Ray: a soft affinity to an alive node that can fit the actor waits
    // for that node; only a dead or too small node lets it go elsewhere.
    for (const auto& n : nodes) {
      if (n.node_id() == strategy.affinity_node.Binary() && n.state() == rpc::NodeInfo::ALIVE &&
          Fits(demand, n.total_resources())) {
        strategy.soft = false;
      }
    }
  }
  const bool spread = strategy.kind == scheduling::SchedulingStrategy::kSpread;
  const rpc::NodeInfo* best = nullptr;
  bool best_has_room = false;
  bool best_preferred = false;
  double best_cpu = -1;
  std::vector<const rpc::NodeInfo*> spread_candidates;
  const rpc::NodeInfo* largest = nullptr;
  size_t alive = 0;
  for (const auto& n : nodes) {
    if (n.state() != rpc::NodeInfo::ALIVE || n.draining()) continue;  // draining: nothing new there
    alive++;
    auto cpu_of = [](const rpc::NodeInfo& x) {
      auto it = x.total_resources().find("CPU");
      return it == x.total_resources().end() ? 0.0 : it->second;
    };
    if (largest == nullptr || cpu_of(n) > cpu_of(*largest)) largest = &n;
    if (unreachable_.count(NodeID::FromBinary(n.node_id())) || !Fits(demand, n.total_resources()) ||
        !StrategyAllows(strategy, n)) {
      continue;
    }
    // Prefer a node with room now, then one a soft constraint asks for,
    // then the one with the most free CPU (which spreads actors out).
    bool has_room = Fits(demand, n.available_resources());
    bool preferred = StrategyPrefers(strategy, n);
    auto it = n.available_resources().find("CPU");
    double cpu = it == n.available_resources().end() ? 0 : it->second;
    if (spread && has_room) spread_candidates.push_back(&n);
    if (best == nullptr || (has_room && !best_has_room) ||
        (has_room == best_has_room && preferred && !best_preferred) ||
        (has_room == best_has_room && preferred == best_preferred && cpu > best_cpu)) {
      best = &n;
      best_has_room = has_room;
      best_preferred = preferred;
      best_cpu = cpu;
    }
  }
  if (spread && !spread_candidates.empty()) return spread_candidates[spread_next_++ % spread_candidates.size()];
  if (best != nullptr) return best;
  if (strategy.kind == scheduling::SchedulingStrategy::kNodeAffinity && !strategy.soft) {
    *infeasible = true;
    *warning = "the actor " + ActorName(task) + " cannot be scheduled: its NodeAffinitySchedulingStrategy "
               "(soft=False) names node " + strategy.affinity_node.Hex() +
               ", which is not alive or cannot fit " + FormatResources(demand, nullptr);
    return nullptr;
  }
  for (const auto& [name, amount] : demand) {
    if (name.find("_group_") != std::string::npos) {
      // Placement group bundle resources appear when the group is created:
      // the actor waits for its group (whose status says why it is pending).
      warning->clear();
      return nullptr;
    }
  }
  std::string what = "the actor " + ActorName(task) + " cannot be scheduled: it needs " +
                     FormatResources(demand, nullptr);
  if (alive == 0) {
    *warning = what + " but no node is alive in the cluster; it stays pending until a node joins";
  } else {
    bool some_fit = false;
    for (const auto& n : nodes) {
      some_fit |= n.state() == rpc::NodeInfo::ALIVE && Fits(demand, n.total_resources());
    }
    if (some_fit) {
      *warning = what + " and the nodes that could fit it are unreachable; it stays pending "
                        "until a node with enough resources joins";
    } else if (task.fail_on_infeasible()) {
      *infeasible = true;
      *warning = "the actor " + ActorName(task) + " is infeasible: it needs " +
                 FormatResources(demand, nullptr) + " but the largest node (" +
                 ShortHex(largest->node_id()) + "...) has " +
                 FormatResources(demand, &largest->total_resources()) +
                 " in total (fail_on_infeasible is set, so it fails instead of waiting; lower "
                 "the request with .options(num_cpus=..., resources=...))";
    } else {
      *infeasible = true;
      *warning = what + " but the largest node (" + ShortHex(largest->node_id()) + "...) has " +
                 FormatResources(demand, &largest->total_resources()) +
                 " in total; it stays pending until a node with enough resources joins the "
                 "cluster (lower the request with .options(num_cpus=..., resources=...))";
    }
  }
  return nullptr;
}

Result<rpc::ConnectionPtr> GcsActorScheduler::Dial(const std::string& endpoint) {
  return DialEndpoint(loop_.io(), endpoint);
}

rpc::ConnectionPtr GcsActorScheduler::Raylet(const rpc::NodeInfo& node) {
  NodeID id = NodeID::FromBinary(node.node_id());
  auto it = raylets_.find(id);
  if (it != raylets_.end() && !it->second->closed()) return it->second;
  auto conn = ConnectRaylet(
      loop_.io(), id, node.raylet_endpoint(),
      [this](const rpc::ConnectionPtr& cc, rpc::Frame&& f) { OnRayletFrame(cc, std::move(f)); },
      [this](const rpc::ConnectionPtr& cc, const Status&) { OnRayletClosed(cc); });
  if (!conn.ok()) {
    LUMOS_LOG(Warning) << "cannot reach the raylet of node " << id.Hex() << " at "
                       << node.raylet_endpoint() << ": " << conn.status().ToString()
                       << "; actors will be placed elsewhere";
    unreachable_.insert(id);
    return nullptr;
  }
  raylets_[id] = conn.value();
  return conn.value();
}

void GcsActorScheduler::RequestLease(const rpc::ConnectionPtr& raylet, const NodeID& node,
                                     PendingCreation p) {
  rpc::RequestWorkerLeaseRequest req;
  req.mutable_resources()->insert(p.task.required_resources().begin(),
                                  p.task.required_resources().end());
  req.mutable_placement_resources()->insert(p.task.placement_resources().begin(),
                                            p.task.placement_resources().end());
  req.set_is_actor(true);
  if (!p.task.runtime_env().empty()) req.set_runtime_env(p.task.runtime_env());
  req.set_fail_on_infeasible(p.task.fail_on_infeasible());
  req.set_task_name(ActorName(p.task));
  req.set_job_id(p.task.job_id());
  inflight_[{p.actor_id, p.attempt}] = node;
  auto shared = std::make_shared<PendingCreation>(std::move(p));
  raylet->SendRequest(rpc::REQUEST_WORKER_LEASE, req,
                      [this, node, shared](const Status& s, rpc::Frame&& f) {
                        OnLeaseReply(node, std::move(*shared), s, std::move(f));
                      });
}

void GcsActorScheduler::OnLeaseReply(const NodeID& node, PendingCreation p, const Status& status,
                                     rpc::Frame&& frame) {
  inflight_.erase({p.actor_id, p.attempt});
  if (stopping_) return;
  if (!status.ok()) {
    if (status.code() == StatusCode::kDisconnected) {
      // The raylet went away before granting: try again (elsewhere, once the
      // close handler has marked the node unreachable).
      pending_.push_back(std::move(p));
      ArmRetryTimer(kRetryAfterDisconnectMs);
      return;
    }
    std::string cause = "the raylet of node " + node.Hex() +
                        " refused to lease a worker for the actor: " + status.message();
    WithManager([&](GcsActorManager& m, ActorActions* a) {
      m.SchedulingFailed(p.actor_id, p.attempt, cause, a);
      return 0;
    });
    return;
  }
  rpc::RequestWorkerLeaseReply reply;
  if (!reply.ParseFromString(frame.payload) || !reply.rejected_reason().empty()) {
    std::string why =
        reply.rejected_reason().empty() ? "unparsable lease reply" : reply.rejected_reason();
    std::string cause = "the raylet of node " + node.Hex() + " rejected the actor's lease: " + why;
    WithManager([&](GcsActorManager& m, ActorActions* a) {
      m.SchedulingFailed(p.actor_id, p.attempt, cause, a);
      return 0;
    });
    return;
  }
  ActorLease lease;
  lease.node_id = node;
  lease.lease_id = reply.lease_id();
  lease.worker_address = reply.worker_address();
  if (lease.worker_address.node_id().empty()) lease.worker_address.set_node_id(node.Binary());
  bool proceed = WithManager([&](GcsActorManager& m, ActorActions* a) {
    return m.LeaseGranted(p.actor_id, p.attempt, lease, a);
  });
  // The actor keeps the lease's GPUs for its life; its worker sets
  // CUDA_VISIBLE_DEVICES from the creation task.
  p.task.clear_gpu_ids();
  for (int32_t id : reply.gpu_ids()) p.task.add_gpu_ids(id);
  if (proceed) PushCreationTask(std::move(p), lease);
}

void GcsActorScheduler::PushCreationTask(PendingCreation p, const ActorLease& lease) {
  WorkerID worker = lease.worker_id();
  auto conn = Dial(lease.worker_address.endpoint());
  if (!conn.ok()) {
    std::string why = "could not connect to it at " + lease.worker_address.endpoint() + ": " +
                      conn.status().message();
    WithManager([&](GcsActorManager& m, ActorActions* a) { return m.WorkerDied(worker, why, a); });
    return;
  }
  auto ctx = std::make_shared<WorkerContext>();
  ctx->actor_id = p.actor_id;
  ctx->attempt = p.attempt;
  ctx->worker = worker;
  ctx->owner_endpoint = p.task.caller().endpoint();
  rpc::ConnectionPtr c = conn.value();
  c->set_context(ctx);
  workers_[worker] = c;
  c->Start(
      [this](const rpc::ConnectionPtr& cc, rpc::Frame&& f) { OnWorkerFrame(cc, std::move(f)); },
      [this](const rpc::ConnectionPtr& cc, const Status&) { OnWorkerClosed(cc); });
  rpc::PushTaskRequest req;
  *req.mutable_task() = std::move(p.task);
  c->SendRequest(rpc::PUSH_TASK, req, [this, ctx](const Status& s, rpc::Frame&& f) {
    OnPushReply(ctx, s, std::move(f));
  });
}

void GcsActorScheduler::OnPushReply(const std::shared_ptr<WorkerContext>& ctx, const Status& status,
                                    rpc::Frame&& frame) {
  if (stopping_) return;
  if (!status.ok()) {
    // A closed connection is the worker dying: OnWorkerClosed handles it.
    if (status.code() == StatusCode::kDisconnected || status.code() == StatusCode::kWorkerDied) {
      return;
    }
    WithManager([&](GcsActorManager& m, ActorActions* a) {
      m.SchedulingFailed(ctx->actor_id, ctx->attempt,
                         "the worker could not run the actor's creation task: " + status.ToString(),
                         a);
      return 0;
    });
    return;
  }
  rpc::PushTaskReply reply;
  if (!reply.ParseFromString(frame.payload)) {
    WithManager([&](GcsActorManager& m, ActorActions* a) {
      m.SchedulingFailed(ctx->actor_id, ctx->attempt,
                         "the worker sent an unparsable reply to the actor's creation task", a);
      return 0;
    });
    return;
  }
  const rpc::InlineObject* first =
      reply.return_objects_size() > 0 ? &reply.return_objects(0).value() : nullptr;
  const std::string meta = first != nullptr ? first->metadata() : "";
  if (reply.is_application_error() || (!meta.empty() && meta[0] == 'E')) {
    std::string creation_error = meta == "E" ? first->data() : "";
    std::string message = reply.error_message();
    if (message.empty() && !meta.empty() && meta != "E") message = first->data();  // utf-8 kinds
    if (message.empty()) message = "an exception (calls to the actor raise it)";
    WithManager([&](GcsActorManager& m, ActorActions* a) {
      m.CreationFailed(ctx->actor_id, ctx->attempt, creation_error, message, a);
      return 0;
    });
    return;
  }
  WithManager([&](GcsActorManager& m, ActorActions* a) {
    m.CreationSucceeded(ctx->actor_id, ctx->attempt, a);
    return 0;
  });
}

void GcsActorScheduler::OnWorkerFrame(const rpc::ConnectionPtr& conn, rpc::Frame&& frame) {
  auto ctx = std::static_pointer_cast<WorkerContext>(conn->context());
  if (frame.header.method == rpc::FORWARD_LOGS) {
    // Lines the actor printed while running its creation task: to its owner.
    if (ctx == nullptr || ctx->owner_endpoint.empty()) return;
    rpc::ForwardLogsRequest logs;
    if (!logs.ParseFromString(frame.payload)) return;
    if (rpc::ConnectionPtr owner = Endpoint(ctx->owner_endpoint)) {
      owner->SendOneway(rpc::FORWARD_LOGS, logs);
    }
    return;
  }
  if (frame.header.kind == rpc::FrameKind::kRequest) {
    conn->SendError(frame.header.request_id, frame.header.method,
                    Status::NotImplemented("the GCS serves no fastpath requests"));
  }
}

void GcsActorScheduler::OnWorkerClosed(const rpc::ConnectionPtr& conn) {
  auto ctx = std::static_pointer_cast<WorkerContext>(conn->context());
  if (ctx == nullptr) return;
  auto it = workers_.find(ctx->worker);
  if (it != workers_.end() && it->second == conn) workers_.erase(it);
  if (stopping_) return;
  WorkerID worker = ctx->worker;
  bool hosts = WithManager([&](GcsActorManager& m, ActorActions*) { return m.HasWorker(worker); });
  if (!hosts) return;
  if (failures_.count(worker)) {
    ApplyWorkerDeath(worker);
    return;
  }
  // Wait a little for the raylet to say how the process ended.
  auto timer = std::make_shared<asio::steady_timer>(loop_.io());
  death_timers_[worker] = timer;
  timer->expires_after(std::chrono::milliseconds(Config::Get().actor_worker_failure_wait_ms()));
  timer->async_wait([this, worker, timer](asio::error_code ec) {
    if (ec || stopping_) return;
    auto dit = death_timers_.find(worker);
    if (dit != death_timers_.end() && dit->second == timer) death_timers_.erase(dit);
    ApplyWorkerDeath(worker);
  });
}

void GcsActorScheduler::ApplyWorkerDeath(const WorkerID& worker) {
  auto fit = failures_.find(worker);
  std::string description = fit != failures_.end()
                                ? fit->second.description
                                : "its connection closed and the raylet reported no exit status";
  WithManager(
      [&](GcsActorManager& m, ActorActions* a) { return m.WorkerDied(worker, description, a); });
}

void GcsActorScheduler::OnRayletFrame(const rpc::ConnectionPtr& conn, rpc::Frame&& frame) {
  auto node = std::static_pointer_cast<NodeID>(conn->context());
  if (frame.header.method == rpc::LEASE_INFEASIBLE && node != nullptr) {
    rpc::LeaseInfeasibleNotice notice;
    if (!notice.ParseFromString(frame.payload)) return;
    LUMOS_LOG(Warning) << "raylet of node " << node->Hex() << ": " << notice.message();
    std::vector<std::pair<std::string, uint64_t>> on_node;
    for (const auto& [key, n] : inflight_) {
      if (n == *node) on_node.push_back(key);
    }
    WithManager([&](GcsActorManager& m, ActorActions* a) {
      for (const auto& [actor, attempt] : on_node) {
        m.SetSchedulingWarning(actor, attempt, notice.message(), a);
      }
      return 0;
    });
    return;
  }
  if (frame.header.kind == rpc::FrameKind::kRequest) {
    conn->SendError(frame.header.request_id, frame.header.method,
                    Status::NotImplemented("the GCS serves no fastpath requests"));
  }
}

void GcsActorScheduler::OnRayletClosed(const rpc::ConnectionPtr& conn) {
  auto node = std::static_pointer_cast<NodeID>(conn->context());
  if (node == nullptr) return;
  NodeID id = *node;
  auto it = raylets_.find(id);
  if (it != raylets_.end() && it->second == conn) raylets_.erase(it);
  if (stopping_) return;
  unreachable_.insert(id);
  LUMOS_LOG(Info) << "connection to the raylet of node " << id.Hex() << " closed";
  // The raylet ends the leases of a client that hangs up: our actors there are
  // gone. A raylet that stops on purpose unregisters its node with the reason
  // over gRPC, which may arrive just after this hang-up: give it a moment so
  // the actors' death cause names it (NodeDied is a no-op the second time).
  auto timer = std::make_shared<asio::steady_timer>(loop_.io());
  timer->expires_after(std::chrono::milliseconds(Config::Get().actor_worker_failure_wait_ms()));
  timer->async_wait([this, id, timer](asio::error_code ec) {
    if (ec || stopping_) return;
    WithManager([&](GcsActorManager& m, ActorActions* a) {
      m.NodeDied(id, "node " + id.Hex() + ": the GCS lost its connection to the raylet", a);
      return 0;
    });
  });
}

void GcsActorScheduler::ReleaseLease(const ActorLease& lease) {
  if (rpc::ConnectionPtr raylet = RayletOf(lease.node_id)) {
    rpc::ReturnWorkerRequest req;
    req.set_lease_id(lease.lease_id);
    req.set_disconnect_worker(true);
    NodeID node = lease.node_id;
    uint64_t lease_id = lease.lease_id;
    auto on_reply = [node, lease_id](const Status& s, rpc::Frame&&) {
      if (!s.ok() && s.code() != StatusCode::kDisconnected) {
        LUMOS_LOG(Warning) << "returning actor lease " << lease_id << " to node " << node.Hex()
                           << " failed: " << s.ToString();
      }
    };
    raylet->SendRequest(rpc::RETURN_WORKER, req, on_reply);
  }
  // Our connection to the worker is done too (the raylet kills the process).
  auto wit = workers_.find(lease.worker_id());
  if (wit != workers_.end()) {
    rpc::ConnectionPtr c = wit->second;
    workers_.erase(wit);
    c->Close(Status::Disconnected("actor lease released"));
  }
}

rpc::ConnectionPtr GcsActorScheduler::Endpoint(const std::string& endpoint) {
  auto it = endpoints_.find(endpoint);
  if (it != endpoints_.end() && !it->second->closed()) return it->second;
  auto conn = Dial(endpoint);
  if (!conn.ok()) {
    LUMOS_LOG(Info) << "actor subscriber/owner at " << endpoint
                    << " is unreachable: " << conn.status().ToString();
    WithManager([&](GcsActorManager& m, ActorActions* a) {
      m.EndpointGone(endpoint, a);
      return 0;
    });
    return nullptr;
  }
  rpc::ConnectionPtr c = conn.value();
  c->set_context(std::make_shared<std::string>(endpoint));
  endpoints_[endpoint] = c;
  c->Start(
      [](const rpc::ConnectionPtr& cc, rpc::Frame&& f) {
        if (f.header.kind == rpc::FrameKind::kRequest) {
          cc->SendError(f.header.request_id, f.header.method,
                        Status::NotImplemented("the GCS serves no fastpath requests"));
        }
      },
      [this](const rpc::ConnectionPtr& cc, const Status&) { OnEndpointClosed(cc); });
  return c;
}

void GcsActorScheduler::OnEndpointClosed(const rpc::ConnectionPtr& conn) {
  auto ep = std::static_pointer_cast<std::string>(conn->context());
  if (ep == nullptr) return;
  auto it = endpoints_.find(*ep);
  if (it != endpoints_.end() && it->second == conn) endpoints_.erase(it);
  if (stopping_) return;
  WithManager([&](GcsActorManager& m, ActorActions* a) {
    m.EndpointGone(*ep, a);
    return 0;
  });
}

}  // namespace lumos::gcs
