#include "gcs/placement_group_scheduler.h"


#include <chrono>
#include <future>

#include "common/logging.h"
#include "gcs/gcs_storage.h"
#include "gcs/raylet_link.h"
#include "node_manager.pb.h"

namespace lumos::gcs {

namespace {
constexpr int64_t kRetryPeriodMs = 100;

ResourceSet ToSet(const google::protobuf::Map<std::string, double>& m) {
  ResourceSet rs;
  for (const auto& [k, v] : m) rs.Set(k, v);
  return rs;
}
}  // namespace

GcsPlacementGroupScheduler::GcsPlacementGroupScheduler(NodeLister list_nodes)
    : list_nodes_(std::move(list_nodes)) {
  retry_timer_ = std::make_unique<asio::steady_timer>(loop_.io());
}

GcsPlacementGroupScheduler::~GcsPlacementGroupScheduler() { Stop(); }

void GcsPlacementGroupScheduler::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) return;
  started_ = true;
  loop_.Start("gcs_pgs");
}

void GcsPlacementGroupScheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_ || stopped_) return;
    stopped_ = true;
  }
  ready_cv_.notify_all();
  std::promise<void> done;
  loop_.Post([this, &done] {
    stopping_ = true;
    retry_timer_->cancel();
    std::vector<rpc::ConnectionPtr> conns;
    for (auto& [k, c] : raylets_) conns.push_back(c);
    raylets_.clear();
    for (auto& c : conns) c->Close(Status::Disconnected("GCS shutting down"));
    done.set_value();
  });
  done.get_future().wait();
  loop_.Join();
}

void GcsPlacementGroupScheduler::SetStorage(GcsStorage* storage) {
  std::lock_guard<std::mutex> lock(mu_);
  storage_ = storage;
  manager_.TrackChanges(storage != nullptr);
}

Status GcsPlacementGroupScheduler::Restore(const std::vector<rpc::PlacementGroupTableData>& rows) {
  std::lock_guard<std::mutex> lock(mu_);
  return manager_.Restore(rows);
}

template <typename Fn>
auto GcsPlacementGroupScheduler::WithManager(Fn&& fn) {
  PgActions actions;
  std::unique_lock<std::mutex> lock(mu_);
  auto result = fn(manager_, &actions);
  if (storage_ != nullptr) {
    std::vector<GcsStorage::Op> ops;
    for (const auto& row : manager_.TakeChanges()) {
      ops.push_back(GcsStorage::Op{GcsStorage::Table::kPlacementGroups, row.placement_group_id(),
                                   row.SerializeAsString()});
    }
    for (auto& id : manager_.TakeForgotten()) {  // long-removed groups leave the store
      ops.push_back(GcsStorage::Op{GcsStorage::Table::kPlacementGroups, std::move(id), std::nullopt});
    }
    Status saved = storage_->Apply(ops);
    if (!saved.ok()) LUMOS_LOG(Error) << "placement group table not saved: " << saved.ToString();
  }
  bool any = false, ready = false;
  for (auto& a : actions) {
    if (a.kind == PgAction::kReady) {
      ready = true;
      continue;
    }
    if (a.kind == PgAction::kRemoved) {
      // Before the cancels are queued: actors in the group are marked dead
      // (with this cause) before any raylet kills their workers.
      if (on_removed_) on_removed_(a.pg_id);
      if (a.nodes.empty()) continue;
    }
    any = true;
    queue_.push_back(std::move(a));
  }
  lock.unlock();
  if (ready) ready_cv_.notify_all();
  if (any) Kick();
  return result;
}

void GcsPlacementGroupScheduler::Kick() {
  if (loop_.InLoopThread()) {
    Drain();
  } else {
    loop_.Post([this] { Drain(); });
  }
}

Status GcsPlacementGroupScheduler::Create(const rpc::PlacementGroupTableData& pg) {
  return Create(std::vector<rpc::PlacementGroupTableData>{pg});
}

Status GcsPlacementGroupScheduler::Create(const std::vector<rpc::PlacementGroupTableData>& pgs) {
  bool any = false;
  // One manager call for the whole batch: one storage commit.
  Status s = WithManager([&](GcsPlacementGroupManager& m, PgActions*) {
    Status first;
    for (const auto& pg : pgs) {
      Status st = m.Create(pg);
      any = any || st.ok();
      if (first.ok()) first = st;
    }
    return first;
  });
  if (any) PostSchedule();
  return s;
}

Status GcsPlacementGroupScheduler::Remove(const std::string& pg_id) { return Remove(std::vector<std::string>{pg_id}); }

Status GcsPlacementGroupScheduler::Remove(const std::vector<std::string>& pg_ids) {
  bool pending = false;
  // One manager call for the whole batch: one storage commit.
  Status s = WithManager([&](GcsPlacementGroupManager& m, PgActions* a) {
    Status first;
    for (const auto& id : pg_ids) {
      Status st = m.Remove(id, a);
      if (first.ok()) first = st;
    }
    pending = m.HasPending();
    return first;
  });
  // Freed resources may let a pending group in.
  if (s.ok() && pending) PostSchedule();
  return s;
}

void GcsPlacementGroupScheduler::PostSchedule() {
  // One scheduling pass serves every request that arrived before it runs.
  if (schedule_posted_.exchange(true)) return;
  loop_.Post([this] {
    schedule_posted_ = false;
    RefreshNodesAndSchedule(false);
  });
}

Result<rpc::PlacementGroupTableData> GcsPlacementGroupScheduler::Get(const std::string& pg_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return manager_.Get(pg_id);
}

Result<rpc::PlacementGroupTableData> GcsPlacementGroupScheduler::GetNamed(const std::string& name,
                                                                          const std::string& ns) {
  std::lock_guard<std::mutex> lock(mu_);
  return manager_.GetNamed(name, ns);
}

std::vector<rpc::PlacementGroupTableData> GcsPlacementGroupScheduler::GetAll() {
  std::lock_guard<std::mutex> lock(mu_);
  return manager_.GetAll();
}

Result<bool> GcsPlacementGroupScheduler::WaitUntilReady(const std::string& pg_id,
                                                        int64_t timeout_ms) {
  return WaitUntilReady(pg_id, timeout_ms, {}, nullptr);
}

Result<bool> GcsPlacementGroupScheduler::WaitUntilReady(const std::string& pg_id, int64_t timeout_ms,
                                                        const std::vector<std::string>& also_report,
                                                        std::vector<std::string>* ready_ids) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock<std::mutex> lock(mu_);
  struct Report {  // runs on every return, under the lock
    GcsPlacementGroupManager& m;
    const std::vector<std::string>& ids;
    std::vector<std::string>* out;
    ~Report() {
      if (out == nullptr) return;
      for (const auto& id : ids) {
        if (m.IsCreated(id)) out->push_back(id);
      }
    }
  } report{manager_, also_report, ready_ids};
  while (true) {
    auto pg = manager_.Get(pg_id);
    if (!pg.ok()) return pg.status();
    auto state = pg.value().state();
    if (state == rpc::PlacementGroupTableData::CREATED) return true;
    if (state == rpc::PlacementGroupTableData::REMOVED) {
      return Status::Invalid("placement group " + pg_id + " was removed before it was ready");
    }
    if (stopped_) return Status::Disconnected("GCS shutting down");
    if (ready_cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      auto again = manager_.Get(pg_id);
      return again.ok() && again.value().state() == rpc::PlacementGroupTableData::CREATED;
    }
  }
}

void GcsPlacementGroupScheduler::JobFinished(const std::string& job_id) {
  WithManager([&](GcsPlacementGroupManager& m, PgActions* a) {
    m.JobFinished(job_id, a);
    return 0;
  });
  PostSchedule();
}

void GcsPlacementGroupScheduler::NodeAlive(const NodeID&) {
  loop_.Post([this] { RefreshNodesAndSchedule(true); });
}

void GcsPlacementGroupScheduler::NodeDead(const NodeID& node) {
  loop_.Post([this, node] {
    if (stopping_) return;
    WithManager([&](GcsPlacementGroupManager& m, PgActions* a) {
      m.NodeDead(node, a);
      return 0;
    });
    RefreshNodesAndSchedule(true);
  });
}

// ---------------------------------------------------------------------------
// Loop thread.

void GcsPlacementGroupScheduler::RefreshNodesAndSchedule(bool full) {
  if (stopping_) return;
  // Between full refreshes (node changes, the retry timer) the node table is
  // read only until the manager knows some node.
  std::vector<rpc::NodeInfo> nodes;
  if (full || !knows_nodes_) nodes = list_nodes_();
  WithManager([&](GcsPlacementGroupManager& m, PgActions* a) {
    if (!m.HasPending()) return 0;
    for (const auto& n : nodes) {
      NodeID id = NodeID::FromBinary(n.node_id());
      if (n.state() == rpc::NodeInfo::ALIVE) {
        // Between full refreshes the manager's own bookkeeping is fresher
        // than the last report (it has subtracted what it placed since).
        if (!full && m.KnowsNode(id)) continue;
        endpoints_[id] = n.raylet_endpoint();
        // A draining node keeps its bundles but offers no room for new ones.
        m.NodeAlive(id, ToSet(n.total_resources()),
                    n.draining() ? ResourceSet() : ToSet(n.available_resources()));
      } else {
        m.NodeDead(id, a);
      }
    }
    m.Schedule(a);
    knows_nodes_ = m.num_nodes() > 0;
    return 0;
  });
  bool pending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending = manager_.HasPending();
  }
  if (pending) ArmRetryTimer();
}

void GcsPlacementGroupScheduler::ArmRetryTimer() {
  if (retry_armed_ || stopping_) return;
  retry_armed_ = true;
  retry_timer_->expires_after(std::chrono::milliseconds(kRetryPeriodMs));
  retry_timer_->async_wait([this](asio::error_code ec) {
    retry_armed_ = false;
    if (ec || stopping_) return;
    RefreshNodesAndSchedule(true);
  });
}

void GcsPlacementGroupScheduler::Drain() {
  if (draining_ || stopping_) return;
  draining_ = true;
  // A burst of actions (a batch of creations or removals) leaves in one
  // write per raylet, not one send() and peer wake-up per group.
  std::vector<rpc::ConnectionPtr> corked;
  for (auto& [node, conn] : raylets_) {
    conn->Cork();
    corked.push_back(conn);
  }
  while (!stopping_) {
    PgAction action;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) break;
      action = std::move(queue_.front());
      queue_.pop_front();
    }
    Execute(action);
  }
  for (auto& conn : corked) conn->Uncork();
  draining_ = false;
}

void GcsPlacementGroupScheduler::Execute(const PgAction& a) {
  if (a.kind == PgAction::kRemoved) {
    // The news only (no bundles there): lease requests for the group fail.
    for (const NodeID& n : a.nodes) {
      if (rpc::ConnectionPtr r = Raylet(n)) SendCancel(r, a, n);
    }
    return;
  }
  if (a.kind == PgAction::kReady) return;
  rpc::ConnectionPtr raylet = Raylet(a.node);
  std::string pg = a.pg_id;
  uint64_t attempt = a.attempt;
  NodeID node = a.node;
  switch (a.kind) {
    case PgAction::kPrepare: {
      if (!raylet) {
        WithManager([&](GcsPlacementGroupManager& m, PgActions* out) {
          m.PrepareDone(pg, attempt, node, false, "its raylet is unreachable", out);
          return 0;
        });
        ArmRetryTimer();
        return;
      }
      rpc::PrepareBundlesRequest req;
      req.set_placement_group_id(pg);
      req.set_commit(a.commit);
      for (const auto& b : a.bundles) *req.add_bundles() = b;
      raylet->SendRequest(rpc::PREPARE_BUNDLES, req,
                          [this, pg, attempt, node](const Status& s, rpc::Frame&& f) {
                            rpc::PrepareBundlesReply reply;
                            bool ok = s.ok() && reply.ParseFromString(f.payload) && reply.success();
                            std::string why = s.ok() ? reply.message() : s.ToString();
                            OnReply(RayletReply{true, pg, attempt, node, ok, std::move(why)});
                          });
      return;
    }
    case PgAction::kCommit: {
      if (!raylet) {
        WithManager([&](GcsPlacementGroupManager& m, PgActions* out) {
          m.CommitDone(pg, attempt, node, false, "its raylet is unreachable", out);
          return 0;
        });
        ArmRetryTimer();
        return;
      }
      rpc::CommitBundlesRequest req;
      req.set_placement_group_id(pg);
      for (int32_t i : a.indices) req.add_bundle_indices(i);
      raylet->SendRequest(rpc::COMMIT_BUNDLES, req,
                          [this, pg, attempt, node](const Status& s, rpc::Frame&& f) {
                            rpc::CommitBundlesReply reply;
                            bool ok = s.ok() && reply.ParseFromString(f.payload) && reply.success();
                            std::string why = s.ok() ? reply.message() : s.ToString();
                            OnReply(RayletReply{false, pg, attempt, node, ok, std::move(why)});
                          });
      return;
    }
    case PgAction::kCancel:
      if (!raylet) return;  // the node is gone, and its bundles with it
      SendCancel(raylet, a, node);
      return;
    case PgAction::kRemoved:
    case PgAction::kReady:
      return;  // handled above
  }
}

void GcsPlacementGroupScheduler::OnReply(RayletReply r) {
  if (!loop_.InLoopThread()) {
    loop_.Post([this, r = std::move(r)]() mutable { OnReply(std::move(r)); });
    return;
  }
  // The replies of one read from a raylet (a burst of groups) are applied
  // together: one lock, one storage commit and one wake-up of the waiters,
  // not one each. Nothing is visible before its commit (same WithManager).
  replies_.push_back(std::move(r));
  if (replies_posted_) return;
  replies_posted_ = true;
  loop_.Post([this] { ApplyReplies(); });
}

void GcsPlacementGroupScheduler::ApplyReplies() {
  replies_posted_ = false;
  std::vector<RayletReply> batch;
  batch.swap(replies_);
  if (stopping_ || batch.empty()) return;
  bool failed = false;
  WithManager([&](GcsPlacementGroupManager& m, PgActions* out) {
    for (const auto& r : batch) {
      if (r.prepare) {
        m.PrepareDone(r.pg_id, r.attempt, r.node, r.ok, r.why, out);
      } else {
        m.CommitDone(r.pg_id, r.attempt, r.node, r.ok, r.why, out);
      }
      failed = failed || !r.ok;
    }
    return 0;
  });
  if (failed) ArmRetryTimer();
}

void GcsPlacementGroupScheduler::SendCancel(const rpc::ConnectionPtr& raylet, const PgAction& a,
                                            const NodeID& node) {
  rpc::CancelBundlesRequest req;
  req.set_placement_group_id(a.pg_id);
  req.set_removed(a.removed || a.kind == PgAction::kRemoved);
  if (a.kind == PgAction::kCancel) {
    for (int32_t i : a.indices) req.add_bundle_indices(i);
  }
  std::string pg = a.pg_id;
  raylet->SendRequest(rpc::CANCEL_BUNDLES, req, [pg, node](const Status& s, rpc::Frame&&) {
    if (!s.ok() && s.code() != StatusCode::kDisconnected) {
      LUMOS_LOG(Warning) << "cancelling bundles of placement group " << pg << " on node "
                         << node.Hex() << " failed: " << s.ToString();
    }
  });
}

rpc::ConnectionPtr GcsPlacementGroupScheduler::Raylet(const NodeID& node) {
  auto it = raylets_.find(node);
  if (it != raylets_.end() && !it->second->closed()) return it->second;
  auto ep = endpoints_.find(node);
  if (ep == endpoints_.end()) {
    for (const auto& n : list_nodes_()) {
      if (n.node_id() == node.Binary()) endpoints_[node] = n.raylet_endpoint();
    }
    ep = endpoints_.find(node);
    if (ep == endpoints_.end()) return nullptr;
  }
  auto conn = ConnectRaylet(
      loop_.io(), node, ep->second,
      [](const rpc::ConnectionPtr& cc, rpc::Frame&& f) {
        if (f.header.kind == rpc::FrameKind::kRequest) {
          cc->SendError(f.header.request_id, f.header.method,
                        Status::NotImplemented("the GCS serves no fastpath requests"));
        }
      },
      [this](const rpc::ConnectionPtr& cc, const Status&) { OnRayletClosed(cc); });
  if (!conn.ok()) {
    LUMOS_LOG(Warning) << "cannot reach the raylet of node " << node.Hex() << " for placement "
                       << "groups: " << conn.status().ToString();
    return nullptr;
  }
  raylets_[node] = conn.value();
  return conn.value();
}

void GcsPlacementGroupScheduler::OnRayletClosed(const rpc::ConnectionPtr& conn) {
  auto node = std::static_pointer_cast<NodeID>(conn->context());
  if (node == nullptr) return;
  auto it = raylets_.find(*node);
  if (it != raylets_.end() && it->second == conn) raylets_.erase(it);
}

}  // namespace lumos::gcs
