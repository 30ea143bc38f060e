// ObjectManager, draining part: a node about to leave hands each primary copy
// in its store to another node (OBJECT_TAKE), which fetches it through the
// ordinary transfer path (same-host memcpy or TCP chunks) but keeps it as a
// primary copy: spilled under pressure, never evicted, freed only by its owner.
#include <unistd.h>

#include "common.pb.h"
#include "common/logging.h"
#include "object_manager.pb.h"
#include "raylet/object_manager.h"
#include "rpc/blocking_io.h"
#include "rpc/connection.h"
#include "rpc/dial.h"

namespace lumos::raylet {
namespace {

constexpr uint64_t kMaxTakeRequestBytes = 64 * 1024;
// A take moves a whole object (up to the store's size) before it answers.
constexpr int64_t kTakeTimeoutMs = 10 * 60 * 1000;

}  // namespace

Result<std::vector<ObjectManager::PrimaryCopy>> ObjectManager::PrimaryCopies() {
  object_store::StoreClient::DetailedStats stats;
  LUMOS_RETURN_NOT_OK(store_.GetDetailedStats(/*include_objects=*/true, &stats));
  std::vector<PrimaryCopy> out;
  for (const auto& o : stats.objects) {
    if (!o.primary || o.object_id.size() != ObjectID::kSize) continue;
    if (o.state != "SEALED" && o.state != "SPILLED" && o.state != "RESTORED") continue;
    out.push_back({ObjectID::FromBinary(o.object_id), o.size, o.owner_endpoint});
  }
  return out;
}

Status ObjectManager::HandOff(const ObjectID& id, const NodeID& target, const std::string& owner_endpoint) {
  Address addr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = nodes_.find(target);
    if (it == nodes_.end()) return Status::NotFound("node " + target.Hex() + " is not alive in the cluster");
    addr = it->second;
  }
  auto dialed = rpc::DialTcpFd(addr.ip, addr.port, 5000);
  if (!dialed.ok()) return dialed.status();
  int fd = dialed.value();
  rpc::ObjectTakeRequest req;
  req.set_object_id(id.Binary());
  req.set_from_node_id(options_.node_id.Binary());
  req.set_owner_endpoint(owner_endpoint);
  const int64_t deadline = rpc::NowMs() + kTakeTimeoutMs;
  Status s = rpc::WriteFrame(fd, rpc::FrameKind::kRequest, rpc::OBJECT_TAKE, 1, 0, req.SerializeAsString(), deadline);
  rpc::Frame f;
  if (s.ok()) s = rpc::ReadFrame(fd, kMaxTakeRequestBytes, deadline, &f);
  ::close(fd);
  if (!s.ok()) return s;
  if (f.header.flags & rpc::kFlagError) return rpc::StatusFromFrame(f);
  rpc::ObjectTakeReply reply;
  if (!reply.ParseFromString(f.payload)) return Status::Invalid("unparsable OBJECT_TAKE reply");
  if (!reply.error().empty()) return Status::IOError(reply.error());
  return Status::OK();
}

Status ObjectManager::ServeTake(int fd, const rpc::Frame& request) {
  rpc::ObjectTakeRequest req;
  rpc::ObjectTakeReply reply;
  const uint64_t rid = request.header.request_id;
  if (!req.ParseFromString(request.payload) || req.object_id().size() != ObjectID::kSize ||
      req.from_node_id().size() != NodeID::kSize) {
    return rpc::WriteErrorFrame(fd, rpc::OBJECT_TAKE, rid, Status::InvalidArgument("bad OBJECT_TAKE request"),
                                rpc::NowMs() + 5000);
  }
  const ObjectID id = ObjectID::FromBinary(req.object_id());
  const NodeID from = NodeID::FromBinary(req.from_node_id());
  CopyKind kind;
  kind.primary = true;
  kind.owner_endpoint = req.owner_endpoint();
  Status s = Transfer(id, from, kind);
  if (!s.ok()) {
    reply.set_error(s.message());
    LUMOS_LOG(Warning) << "taking object " << id.Hex() << " from draining node " << from.Hex()
                       << " failed: " << s.ToString();
  }
  return rpc::WriteFrame(fd, rpc::FrameKind::kReply, rpc::OBJECT_TAKE, rid, 0, reply.SerializeAsString(),
                         rpc::NowMs() + 5000);
}

}  // namespace lumos::raylet
