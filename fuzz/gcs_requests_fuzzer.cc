// Fuzzes the GCS's gRPC handlers: arbitrary bytes are parsed into each
// request message of protos/gcs_service.proto, as gRPC would (bytes that do
// not parse never reach a handler, as with gRPC), and handed to the service
// handler with a ServerContext that carries the cluster token. The GCS must
// answer every request with a status, never crash or hang.
// Input: byte 0 is the mode, then records  u8 method | u16 len (LE) | payload
//   mode bit 0   no token in the metadata (every call must be refused)
//   mode bit 1   a wrong lumos version in the metadata (refused too)
//   method       index into kCalls below (modulo its size); the last entry is
//                not an RPC but the heartbeat deadline sweep, an hour on,
//                so that inputs reach the node-death paths.
// Each input gets a fresh, unstarted GcsServer (GcsServer::services()): the
// tables and the actor and placement-group managers do their work, but the
// schedulers' and the watcher's loops do not run, so nothing is dialed
// (endpoints in requests are arbitrary). WaitPlacementGroupUntilReady's
// timeout is forced to 0: waiting up to its 10 s bound is its contract, not a
// hang.
#include <grpcpp/server_context.h>
#include <grpcpp/test/server_context_test_spouse.h>
#include <stdlib.h>

#include <functional>
#include <string>
#include <vector>

#include "common/config.h"
#include "gcs/actor_info_service.h"
#include "gcs/gcs_server.h"
#include "gcs/health_check_service.h"
#include "gcs/job_info_service.h"
#include "gcs/kv_service.h"
#include "gcs/node_info_service.h"
#include "gcs/placement_group_service.h"
#include "gcs/service_util.h"
#include "gcs/task_event_service.h"
#include "rpc/cluster_identity.h"

namespace {
using namespace lumos;
using Services = gcs::GcsServer::Services;
using Call = std::function<void(const Services&, grpc::ServerContext*, const std::string&)>;

// Parses `payload` as the request of `fn` and calls it, like gRPC's sync
// server would; the reply is serialized as gRPC would send it.
template <typename Svc, typename Req, typename Rep>
Call Rpc(Svc* Services::*svc, grpc::Status (Svc::*fn)(grpc::ServerContext*, const Req*, Rep*),
         std::function<void(Req*)> adjust = nullptr) {
  return [svc, fn, adjust](const Services& s, grpc::ServerContext* ctx, const std::string& payload) {
    Req req;
    if (!req.ParseFromString(payload)) return;
    if (adjust) adjust(&req);
    Rep rep;
    (s.*svc->*fn)(ctx, &req, &rep);
    rep.SerializeAsString();
  };
}

const std::vector<Call>& Calls() {
  using namespace gcs;
  static const std::vector<Call> calls = {
      Rpc(&Services::node, &NodeInfoService::RegisterNode),
      Rpc(&Services::node, &NodeInfoService::UnregisterNode),
      Rpc(&Services::node, &NodeInfoService::GetAllNodeInfo),
      Rpc(&Services::node, &NodeInfoService::ReportResources),
      Rpc(&Services::node, &NodeInfoService::DrainNode),
      Rpc(&Services::job, &JobInfoService::GetNextJobId),
      Rpc(&Services::job, &JobInfoService::AddJob),
      Rpc(&Services::job, &JobInfoService::MarkJobFinished),
      Rpc(&Services::job, &JobInfoService::GetAllJobInfo),
      Rpc(&Services::kv, &InternalKVService::KVGet),
      Rpc(&Services::kv, &InternalKVService::KVPut),
      Rpc(&Services::kv, &InternalKVService::KVDel),
      Rpc(&Services::kv, &InternalKVService::KVExists),
      Rpc(&Services::kv, &InternalKVService::KVKeys),
      Rpc(&Services::health, &HealthCheckService::CheckAlive),
      Rpc(&Services::actor, &ActorInfoService::RegisterActor),
      Rpc(&Services::actor, &ActorInfoService::GetActorInfo),
      Rpc(&Services::actor, &ActorInfoService::GetNamedActorInfo),
      Rpc(&Services::actor, &ActorInfoService::ListNamedActors),
      Rpc(&Services::actor, &ActorInfoService::GetAllActorInfo),
      Rpc(&Services::actor, &ActorInfoService::KillActor),
      Rpc(&Services::actor, &ActorInfoService::SubscribeActor),
      Rpc(&Services::actor, &ActorInfoService::ReportWorkerFailure),
      Rpc(&Services::placement_group, &PlacementGroupInfoService::CreatePlacementGroup),
      Rpc(&Services::placement_group, &PlacementGroupInfoService::RemovePlacementGroup),
      Rpc(&Services::placement_group, &PlacementGroupInfoService::GetPlacementGroup),
      Rpc(&Services::placement_group, &PlacementGroupInfoService::GetAllPlacementGroup),
      Rpc<PlacementGroupInfoService, rpc::WaitPlacementGroupUntilReadyRequest,
          rpc::WaitPlacementGroupUntilReadyReply>(
          &Services::placement_group, &PlacementGroupInfoService::WaitPlacementGroupUntilReady,
          [](rpc::WaitPlacementGroupUntilReadyRequest* r) { r->set_timeout_ms(0); }),
      Rpc(&Services::task_event, &TaskEventService::AddTaskEvents),
      Rpc(&Services::task_event, &TaskEventService::GetTaskEvents),
      [](const Services& s, grpc::ServerContext*, const std::string&) {
        s.node->CheckDeadlines(gcs::WallClockMs() + 3600 * 1000, Config::Get().node_death_timeout_ms());
      },
  };
  return calls;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ::setenv("LUMOS_LOG_LEVEL", "error", 0);
  // A small task-event table: the default (100,000 attempts) is reserved up
  // front, which made each fresh GcsServer cost ~5 ms under ASan; a small one
  // also lets inputs reach its eviction.
  ::setenv("LUMOS_TASK_EVENTS_MAX_NUM_TASK_IN_GCS", "64", 0);
  rpc::SetClusterToken("fuzz-cluster-token");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  gcs::GcsServerOptions opts;
  opts.session_dir = "/nonexistent-session";  // only reported by CheckAlive
  gcs::GcsServer server(opts);
  const Services services = server.services();
  grpc::ServerContext ctx;
  grpc::testing::ServerContextTestSpouse spouse(&ctx);
  if (!(mode & 1)) spouse.AddClientMetadata("authorization", "Bearer " + rpc::ClusterToken());
  spouse.AddClientMetadata("lumos-version", (mode & 2) ? "0.0.0-other" : rpc::kLumosVersion);
  const auto& calls = Calls();
  size_t i = 1;
  while (i + 3 <= size) {
    const Call& call = calls[data[i] % calls.size()];
    size_t len = data[i + 1] | (size_t{data[i + 2]} << 8);
    i += 3;
    len = std::min(len, size - i);
    call(services, &ctx, std::string(reinterpret_cast<const char*>(data + i), len));
    i += len;
  }
  return 0;
}
