// NodeManager: the GCS's placement group bundle requests (two-phase
// reservation; see BundleBook and PrepareBundlesRequest in node_manager.proto).
#include "common/logging.h"
#include "node_manager.pb.h"
#include "raylet/node_manager.h"

namespace lumos::raylet {

namespace {
template <typename Msg>
bool ParseBundleRequest(const rpc::ConnectionPtr& conn, const rpc::Frame& frame, Msg* msg) {
  if (msg->ParseFromString(frame.payload)) return true;
  conn->SendError(frame.header.request_id, frame.header.method,
                  Status::InvalidArgument("unparsable bundle request payload"));
  return false;
}
}  // namespace

void NodeManager::HandlePrepareBundles(const std::shared_ptr<Client>& c, const rpc::Frame& frame) {
  rpc::PrepareBundlesRequest req;
  if (!ParseBundleRequest(c->conn, frame, &req)) return;
  rpc::PrepareBundlesReply reply;
  const std::string& pg = req.placement_group_id();
  // All or nothing: the bundles not yet held here must fit together.
  ResourceSet sum;
  std::vector<std::pair<int32_t, ResourceSet>> fresh;
  for (const auto& b : req.bundles()) {
    if (bundles_.Has(pg, b.index())) continue;  // a retried prepare
    std::map<std::string, double> m(b.unit_resources().begin(), b.unit_resources().end());
    auto rs = ResourceSet::FromMap(m);
    if (!rs.ok()) {
      reply.set_message("bundle " + std::to_string(b.index()) + ": " + rs.status().message());
      c->conn->SendReply(frame.header.request_id, frame.header.method, reply);
      return;
    }
    sum.Add(rs.value());
    fresh.emplace_back(b.index(), rs.MoveValue());
  }
  if (!leases_.TryReserve(sum)) {
    reply.set_message("node has " + leases_.available().ToString() + " available, bundles need " +
                      sum.ToString());
  } else {
    for (auto& [index, rs] : fresh) bundles_.AddPrepared(pg, index, rs);
    reply.set_success(true);
  }
  if (reply.success() && req.commit()) {
    // The whole group is here: commit at once (see PrepareBundlesRequest.commit).
    for (const auto& b : req.bundles()) {
      auto added = bundles_.Commit(pg, b.index());
      if (added) leases_.AddResources(*added);
    }
  }
  c->conn->SendReply(frame.header.request_id, frame.header.method, reply);
  if (reply.success() && req.commit()) {
    ScheduleAndDispatch();  // tasks waiting for the bundles' resources
    return;
  }
  RequestSnapshot();
}

void NodeManager::HandleCommitBundles(const std::shared_ptr<Client>& c, const rpc::Frame& frame) {
  rpc::CommitBundlesRequest req;
  if (!ParseBundleRequest(c->conn, frame, &req)) return;
  rpc::CommitBundlesReply reply;
  reply.set_success(true);
  for (int32_t index : req.bundle_indices()) {
    auto added = bundles_.Commit(req.placement_group_id(), index);
    if (!added) {
      reply.set_success(false);
      reply.set_message("bundle " + std::to_string(index) + " was not prepared on this node");
      continue;
    }
    leases_.AddResources(*added);
  }
  c->conn->SendReply(frame.header.request_id, frame.header.method, reply);
  ScheduleAndDispatch();  // tasks waiting for the bundle's resources
}

void NodeManager::HandleCancelBundles(const std::shared_ptr<Client>& c, const rpc::Frame& frame) {
  rpc::CancelBundlesRequest req;
  if (!ParseBundleRequest(c->conn, frame, &req)) return;
  const std::string& pg = req.placement_group_id();
  std::vector<int32_t> indices(req.bundle_indices().begin(), req.bundle_indices().end());
  if (indices.empty()) indices = bundles_.IndicesOf(pg);
  for (int32_t index : indices) {
    auto e = bundles_.Remove(pg, index);
    if (!e) continue;
    if (e->committed) leases_.RemoveResources(BundleBook::GroupResources(pg, index, e->original));
    leases_.Unreserve(e->original);
  }
  if (req.removed()) EvictRemovedGroup(pg);
  c->conn->SendReply(frame.header.request_id, frame.header.method, rpc::CancelBundlesReply());
  ScheduleAndDispatch();
}

void NodeManager::EvictRemovedGroup(const std::string& pg) {
  bundles_.MarkRemoved(pg);
  for (const auto& req : leases_.DropGroupRequests(pg)) RejectForRemovedGroup(req, pg);
  // Like Ray: work running on a removed group's resources is killed, since
  // those resources no longer exist. The lease ends now (its resources come
  // back to zero); the exit record tells the owner not to retry the task.
  for (const auto& lease : leases_.GroupLeases(pg)) {
    leases_.ReturnLease(lease.lease_id, /*worker_gone=*/true);
    if (!workers_.count(lease.worker)) continue;
    killed_for_removed_group_[lease.worker] = pg;
    KillWorker(lease.worker, "its placement group was removed");
  }
}

void NodeManager::RejectForRemovedGroup(const LeaseRequest& req, const std::string& pg) {
  auto cit = clients_.find(req.requester);
  if (cit == clients_.end()) return;
  rpc::RequestWorkerLeaseReply reply;
  reply.set_placement_group_removed(true);
  reply.set_rejected_reason(std::string(req.is_actor ? "actor '" : "task '") + req.task_name +
                            "' cannot run: its placement group " + pg +
                            " was removed (remove_placement_group or the end of its job), so its "
                            "bundles' resources no longer exist");
  cit->second->conn->SendReply(req.reply_tag, rpc::REQUEST_WORKER_LEASE, reply);
}

}  // namespace lumos::raylet
