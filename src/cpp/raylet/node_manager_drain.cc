// NodeManager, draining part (`lumos drain-node`, remove_node(allow_graceful)).
// The GCS marks the node draining and says so in the reply to a resource
// report; from then on:
//   1. tasks: nothing new is granted here except actors the GCS placed
//      (LeaseManager::set_actors_only); queued and new task requests move to
//      other nodes as soon as one has room (this node left the cluster view);
//      workers holding task leases retire (EXIT_WORKER when_idle): they finish
//      what their owners already pushed, tell the owners in each reply, and
//      exit once idle, which ends their leases;
//   2. objects: once no task lease is left (or the drain deadline passed), a
//      thread hands every primary copy whose owner lives on another node to
//      another node (ObjectManager::HandOff) and tells the owner where it is
//      now (ADD_OBJECT_LOCATION, primary), so gets read it there;
//   3. the raylet unregisters ("node drained") and exits; its actors restart
//      elsewhere (max_restarts) like on any node removal.
// Objects owned by processes on this node are not moved: their owners end
// with the node (OwnerDiedError, as in Ray).
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/logging.h"
#include "core_worker.pb.h"
#include "node_manager.pb.h"
#include "raylet/node_manager.h"
#include "rpc/blocking_io.h"
#include "rpc/dial.h"
#include "rpc/endpoint.h"

namespace lumos::raylet {
namespace {

// A blocking connection to a core worker's endpoint (TCP authenticated, or
// its Unix socket when it has no TCP part); -1 and *why on failure.
int ConnectToWorker(const std::string& endpoint, std::string* why) {
  auto ep = rpc::ParseEndpoint(endpoint);
  if (!ep.ok()) {
    *why = ep.status().message();
    return -1;
  }
  if (ep.value().has_tcp()) {
    auto fd = rpc::DialTcpFd(ep.value().host, ep.value().port, 3000);
    if (!fd.ok()) *why = fd.status().message();
    return fd.ok() ? fd.value() : -1;
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string& path = ep.value().unix_path;
  if (fd < 0 || path.size() >= sizeof(addr.sun_path)) {
    if (fd >= 0) ::close(fd);
    *why = "bad unix endpoint " + path;
    return -1;
  }
  std::copy(path.begin(), path.end(), addr.sun_path);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    *why = "cannot connect to " + path;
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

void NodeManager::StartDrain(int64_t deadline_ms) {
  drain_deadline_ms_ = deadline_ms;
  if (drain_phase_ != DrainPhase::kNone || stopping_) return;
  drain_phase_ = DrainPhase::kTasks;
  LUMOS_LOG(Info) << "draining this node: no new tasks; waiting for running ones"
                  << (deadline_ms > 0 ? " (deadline set)" : "");
  leases_.set_actors_only(true);
  cluster_.RemoveNode(options_.node_id);  // never chosen for new work again
  rpc::ExitWorkerRequest retire;
  retire.set_reason("its node is draining");
  retire.set_when_idle(true);
  for (const auto& worker : leases_.TaskLeaseWorkers()) {
    auto it = workers_.find(worker);
    if (it != workers_.end()) it->second->conn->SendOneway(rpc::EXIT_WORKER, retire);
  }
  SpillQueuedRequests();
  CheckDrainProgress();
}

void NodeManager::CheckDrainProgress() {
  if (drain_phase_ != DrainPhase::kTasks || stopping_) return;
  const bool past_deadline = drain_deadline_ms_ > 0 && rpc::NowMs() >= drain_deadline_ms_;
  const size_t running = leases_.TaskLeaseWorkers().size();
  if (running > 0 && !past_deadline) return;
  if (running > 0) {
    LUMOS_LOG(Warning) << "drain deadline passed with " << running << " task leases left; their owners retry them";
  }
  drain_phase_ = DrainPhase::kObjects;
  std::vector<NodeID> targets;
  for (const auto& [id, endpoint] : raylet_endpoints_) targets.push_back(id);
  std::unordered_set<std::string> local;
  for (const auto& [id, c] : clients_) {
    if (!c->remote_owner && !c->endpoint.empty()) local.insert(c->endpoint);
  }
  drain_thread_ = std::thread([this, targets = std::move(targets), local = std::move(local)] {
    MovePrimaryCopies(targets, local);
  });
}

void NodeManager::MovePrimaryCopies(const std::vector<NodeID>& targets,
                                    const std::unordered_set<std::string>& local_endpoints) {
  size_t moved = 0, skipped = 0, failed = 0;
  auto copies = object_manager_ ? object_manager_->PrimaryCopies()
                                : Result<std::vector<ObjectManager::PrimaryCopy>>(
                                      std::vector<ObjectManager::PrimaryCopy>{});
  if (!copies.ok()) {
    LUMOS_LOG(Warning) << "drain: cannot list this node's objects: " << copies.status().ToString();
  }
  size_t next = 0;
  for (const auto& copy : copies.ok() ? copies.value() : std::vector<ObjectManager::PrimaryCopy>{}) {
    if (drain_cancel_) break;
    if (copy.owner_endpoint.empty() || local_endpoints.count(copy.owner_endpoint)) {
      skipped++;  // owned here: the owner ends with this node
      continue;
    }
    Status s = Status::NotFound("no other alive node to take it");
    NodeID target;
    for (size_t tried = 0; tried < targets.size() && !s.ok() && !drain_cancel_; tried++) {
      target = targets[next++ % targets.size()];
      s = object_manager_->HandOff(copy.id, target, copy.owner_endpoint);
    }
    if (!s.ok()) {
      failed++;
      LUMOS_LOG(Warning) << "drain: object " << copy.id.Hex() << " could not be moved: " << s.ToString();
      continue;
    }
    moved++;
    std::string why;
    int fd = ConnectToWorker(copy.owner_endpoint, &why);
    if (fd < 0) {
      LUMOS_LOG(Info) << "drain: owner of " << copy.id.Hex() << " unreachable (" << why << ")";
      continue;
    }
    rpc::AddObjectLocationRequest add;
    add.set_object_id(copy.id.Binary());
    add.set_node_id(target.Binary());
    add.set_primary(true);
    Status ws = rpc::WriteFrame(fd, rpc::FrameKind::kOneway, rpc::ADD_OBJECT_LOCATION, 0, 0,
                                add.SerializeAsString(), rpc::NowMs() + 3000);
    if (!ws.ok()) LUMOS_LOG(Info) << "drain: telling the owner of " << copy.id.Hex() << " failed: " << ws.ToString();
    ::close(fd);
  }
  LUMOS_LOG(Info) << "drain: moved " << moved << " primary copies to other nodes (" << skipped
                  << " owned on this node stay, " << failed << " failed)";
  asio::post(io_, [this] {
    if (stopping_) return;
    drain_phase_ = DrainPhase::kDone;
    Stop("node drained");
    ::kill(getpid(), SIGTERM);  // ends the raylet's main loop
  });
}

}  // namespace lumos::raylet
