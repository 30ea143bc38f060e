#include "rpc/gcs_client.h"

#include "rpc/cluster_identity.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <utility>

#include "common/config.h"
#include "common/logging.h"
#include "gcs_service.grpc.pb.h"

namespace lumos::rpc {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::system_clock::time_point DeadlineIn(int64_t ms) {
  return std::chrono::system_clock::now() + std::chrono::milliseconds(ms);
}

// A failed gRPC call (transport level) as a lumos Status.
Status FromGrpc(const grpc::Status& s, const char* method, const std::string& address,
                int64_t timeout_ms) {
  std::string what = std::string("GCS call ") + method + " to " + address;
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      return Status::Disconnected("GCS at " + address + " is unavailable (" + method +
                                  "): " + s.error_message());
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Status::TimedOut(what + " got no reply within " + std::to_string(timeout_ms) +
                              " ms (gcs_rpc_timeout_ms)");
    case grpc::StatusCode::UNIMPLEMENTED:
      return Status::NotImplemented(what + ": the server does not implement it (is " + address +
                                    " a lumos GCS?)");
    case grpc::StatusCode::INVALID_ARGUMENT:
      return Status::InvalidArgument(what + ": " + s.error_message());
    case grpc::StatusCode::UNAUTHENTICATED:
      return Status::Unauthenticated("the GCS at " + address + " refused " + method + ": " + s.error_message());
    case grpc::StatusCode::FAILED_PRECONDITION:
      return Status::InvalidArgument("the GCS at " + address + " refused " + method + ": " + s.error_message());
    case grpc::StatusCode::CANCELLED:
      return Status::Disconnected(what + " was cancelled: " + s.error_message());
    default:
      return Status::IOError(what + " failed with gRPC code " +
                             std::to_string(static_cast<int>(s.error_code())) + ": " +
                             s.error_message());
  }
}

// The cluster token and version every GCS handler checks (gcs/grpc_auth.h).
void AddAuthMetadata(grpc::ClientContext* ctx) {
  ctx->AddMetadata("authorization", "Bearer " + ClusterToken());
  ctx->AddMetadata("lumos-version", kLumosVersion);
}

// The GcsStatus carried by a reply as a lumos Status.
Status FromGcsStatus(const GcsStatus& s) {
  if (s.code() == 0) return Status::OK();
  constexpr int kMaxCode = static_cast<int>(StatusCode::kNotInitialized);
  if (s.code() < 0 || s.code() > kMaxCode) {
    return Status::Unknown("GCS error code " + std::to_string(s.code()) + ": " + s.message());
  }
  return Status(static_cast<StatusCode>(s.code()), s.message());
}

}  // namespace

struct GcsClient::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<NodeInfoGcsService::Stub> node;
  std::unique_ptr<JobInfoGcsService::Stub> job;
  std::unique_ptr<InternalKVGcsService::Stub> kv;
  std::unique_ptr<HealthCheckGcsService::Stub> health;
  std::unique_ptr<ActorInfoGcsService::Stub> actor;
  std::unique_ptr<PlacementGroupInfoGcsService::Stub> pg;
  std::unique_ptr<TaskEventGcsService::Stub> task_events;
  std::atomic<bool> cancelled{false};  // CancelWaits() was called
  static constexpr int64_t kWaitSliceMs = 500;

  // Runs one unary call with the configured deadline and folds both the
  // transport status and the reply's GcsStatus into one Status.
  // `wait_for_gcs`: while the GCS cannot be reached (it restarts), the call
  // is sent again as soon as it is back, for up to gcs_reconnect_timeout_s
  // in all; the error then says how long it waited. Calls made on the way
  // out (unregister, job finished, telemetry) pass false and fail at once.
  // Every GCS call that waits is idempotent or harmless when repeated.
  template <typename Request, typename Reply, typename Method>
  Status Call(const char* name, const std::string& address, Method method, const Request& request,
              Reply* reply, int64_t deadline_ms = 0, bool wait_for_gcs = true) {
    const int64_t timeout_ms = deadline_ms > 0 ? deadline_ms : Config::Get().gcs_rpc_timeout_ms();
    const int64_t budget_ms = Config::Get().gcs_reconnect_timeout_s() * 1000;
    const auto give_up = Clock::now() + std::chrono::milliseconds(budget_ms);  // 0: one attempt
    bool warned = false;
    for (int attempt = 0;; attempt++) {
      grpc::ClientContext ctx;
      AddAuthMetadata(&ctx);
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(give_up - Clock::now()).count();
      // The first attempt fails fast when the GCS is down; later ones wait
      // for the connection in slices, so CancelWaits() is noticed soon.
      ctx.set_wait_for_ready(attempt > 0);
      ctx.set_deadline(DeadlineIn(attempt == 0 ? timeout_ms
                                               : std::max<int64_t>(1, std::min({timeout_ms, left, kWaitSliceMs}))));
      grpc::Status s = method(&ctx, request, reply);
      if (s.ok()) return FromGcsStatus(reply->status());
      const bool unreachable =
          s.error_code() == grpc::StatusCode::UNAVAILABLE ||
          (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
           channel->GetState(false) != GRPC_CHANNEL_READY);
      if (!wait_for_gcs || !unreachable || Clock::now() >= give_up || cancelled.load()) {
        if (wait_for_gcs && unreachable && budget_ms > 0) {
          return Status::Disconnected("the GCS at " + address + " could not be reached for " +
                                      std::to_string(budget_ms / 1000) + " s (" + name +
                                      ", gcs_reconnect_timeout_s); restart it with `lumos start --head` on "
                                      "the head node (same --gcs-storage) or raise the knob");
        }
        return FromGrpc(s, name, address, timeout_ms);
      }
      if (!warned) {
        warned = true;
        LUMOS_LOG(Warning) << "the GCS at " << address << " is unreachable (" << name
                           << "); waiting up to " << budget_ms / 1000 << " s for it to come back";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
};

GcsClient::GcsClient(std::string address) : address_(std::move(address)), impl_(new Impl) {
  grpc::ChannelArguments args;
  // Reconnect quickly while the GCS starts (gRPC's default backoff starts at 1 s
  // and grows to 2 minutes, which would make Connect and recovery slow).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  impl_->channel = grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args);
  impl_->node = NodeInfoGcsService::NewStub(impl_->channel);
  impl_->job = JobInfoGcsService::NewStub(impl_->channel);
  impl_->kv = InternalKVGcsService::NewStub(impl_->channel);
  impl_->health = HealthCheckGcsService::NewStub(impl_->channel);
  impl_->actor = ActorInfoGcsService::NewStub(impl_->channel);
  impl_->pg = PlacementGroupInfoGcsService::NewStub(impl_->channel);
  impl_->task_events = TaskEventGcsService::NewStub(impl_->channel);
}

GcsClient::~GcsClient() = default;

void GcsClient::CancelWaits() { impl_->cancelled.store(true); }

Status GcsClient::Connect(int64_t timeout_ms) {
  const auto give_up = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string last_error = "no attempt made";
  while (true) {
    auto left_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(give_up - Clock::now()).count();
    if (left_ms <= 0) break;
    grpc::ClientContext ctx;
    AddAuthMetadata(&ctx);
    // Wait through connection failures while the GCS starts, but re-ask at
    // least every second so one slow attempt cannot eat the whole budget.
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(DeadlineIn(std::min<int64_t>(left_ms, 1000)));
    CheckAliveRequest request;
    CheckAliveReply reply;
    grpc::Status s = impl_->health->CheckAlive(&ctx, request, &reply);
    if (s.ok()) return FromGcsStatus(reply.status());
    last_error = s.error_message();
    if (s.error_code() != grpc::StatusCode::UNAVAILABLE &&
        s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      return FromGrpc(s, "CheckAlive", address_, timeout_ms);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Status::TimedOut("could not reach the GCS at " + address_ + " within " +
                          std::to_string(timeout_ms) + " ms (last error: " + last_error +
                          "); check that gcs_server is running at that address");
}

// A lambda calling the synchronous stub method `Name` of impl_->stub.
#define LUMOS_GCS_METHOD(stub, Name)                           \
  [this](grpc::ClientContext* c, const auto& req, auto* rep) { \
    return impl_->stub->Name(c, req, rep);                     \
  }

Status GcsClient::RegisterNode(const NodeInfo& node) {
  RegisterNodeRequest req;
  *req.mutable_node() = node;
  RegisterNodeReply rep;
  return impl_->Call("RegisterNode", address_, LUMOS_GCS_METHOD(node, RegisterNode), req, &rep);
}

Status GcsClient::UnregisterNode(const NodeID& node_id, const std::string& reason) {
  UnregisterNodeRequest req;
  req.set_node_id(node_id.Binary());
  req.set_reason(reason);
  UnregisterNodeReply rep;
  return impl_->Call("UnregisterNode", address_, LUMOS_GCS_METHOD(node, UnregisterNode), req, &rep, 0,
                     /*wait_for_gcs=*/false);
}

Status GcsClient::GetAllNodeInfo(std::vector<NodeInfo>* nodes) {
  GetAllNodeInfoRequest req;
  GetAllNodeInfoReply rep;
  LUMOS_RETURN_NOT_OK(
      impl_->Call("GetAllNodeInfo", address_, LUMOS_GCS_METHOD(node, GetAllNodeInfo), req, &rep));
  nodes->assign(rep.nodes().begin(), rep.nodes().end());
  return Status::OK();
}

Status GcsClient::ReportResources(const NodeID& node_id,
                                  const std::map<std::string, double>& available,
                                  bool* node_is_dead,
                                  const std::map<std::string, double>* total,
                                  const std::vector<std::string>* infeasible_demands,
                                  int64_t* drain_deadline_ms) {
  ReportResourcesRequest req;
  req.set_node_id(node_id.Binary());
  req.mutable_available_resources()->insert(available.begin(), available.end());
  if (total != nullptr) req.mutable_total_resources()->insert(total->begin(), total->end());
  if (infeasible_demands != nullptr) {
    for (const auto& d : *infeasible_demands) req.add_infeasible_demands(d);
  }
  ReportResourcesReply rep;
  LUMOS_RETURN_NOT_OK(
      impl_->Call("ReportResources", address_, LUMOS_GCS_METHOD(node, ReportResources), req, &rep));
  *node_is_dead = rep.node_is_dead();
  if (drain_deadline_ms != nullptr) *drain_deadline_ms = rep.drain() ? rep.drain_deadline_ms() : -1;
  return Status::OK();
}

Status GcsClient::GetNextJobId(JobID* job_id) {
  GetNextJobIdRequest req;
  GetNextJobIdReply rep;
  LUMOS_RETURN_NOT_OK(
      impl_->Call("GetNextJobId", address_, LUMOS_GCS_METHOD(job, GetNextJobId), req, &rep));
  if (rep.job_id().size() != JobID::kSize) {
    return Status::Invalid("GCS at " + address_ + " returned a malformed job id of " +
                           std::to_string(rep.job_id().size()) + " bytes");
  }
  *job_id = JobID::FromBinary(rep.job_id());
  return Status::OK();
}

Status GcsClient::AddJob(const JobInfo& job) {
  AddJobRequest req;
  *req.mutable_job() = job;
  AddJobReply rep;
  return impl_->Call("AddJob", address_, LUMOS_GCS_METHOD(job, AddJob), req, &rep);
}

Status GcsClient::MarkJobFinished(const JobID& job_id) {
  MarkJobFinishedRequest req;
  req.set_job_id(job_id.Binary());
  MarkJobFinishedReply rep;
  return impl_->Call("MarkJobFinished", address_, LUMOS_GCS_METHOD(job, MarkJobFinished), req,
                     &rep, 0, /*wait_for_gcs=*/false);
}

Status GcsClient::GetAllJobInfo(std::vector<JobInfo>* jobs) {
  GetAllJobInfoRequest req;
  GetAllJobInfoReply rep;
  LUMOS_RETURN_NOT_OK(
      impl_->Call("GetAllJobInfo", address_, LUMOS_GCS_METHOD(job, GetAllJobInfo), req, &rep));
  jobs->assign(rep.jobs().begin(), rep.jobs().end());
  return Status::OK();
}

Status GcsClient::KVGet(const std::string& ns, const std::string& key, std::string* value,
                        bool* found) {
  KVGetRequest req;
  req.set_namespace_(ns);
  req.set_key(key);
  KVGetReply rep;
  LUMOS_RETURN_NOT_OK(impl_->Call("KVGet", address_, LUMOS_GCS_METHOD(kv, KVGet), req, &rep));
  *found = rep.found();
  if (rep.found()) *value = std::move(*rep.mutable_value());
  return Status::OK();
}

Status GcsClient::KVPut(const std::string& ns, const std::string& key, const std::string& value,
                        bool overwrite, bool* added) {
  KVPutRequest req;
  req.set_namespace_(ns);
  req.set_key(key);
  req.set_value(value);
  req.set_overwrite(overwrite);
  KVPutReply rep;
  LUMOS_RETURN_NOT_OK(impl_->Call("KVPut", address_, LUMOS_GCS_METHOD(kv, KVPut), req, &rep));
  if (added != nullptr) *added = rep.added();
  return Status::OK();
}

Status GcsClient::KVDel(const std::string& ns, const std::string& key, bool by_prefix,
                        int64_t* deleted) {
  KVDelRequest req;
  req.set_namespace_(ns);
  req.set_key(key);
  req.set_del_by_prefix(by_prefix);
  KVDelReply rep;
  LUMOS_RETURN_NOT_OK(impl_->Call("KVDel", address_, LUMOS_GCS_METHOD(kv, KVDel), req, &rep));
  if (deleted != nullptr) *deleted = rep.deleted_num();
  return Status::OK();
}

Status GcsClient::KVExists(const std::string& ns, const std::string& key, bool* exists) {
  KVExistsRequest req;
  req.set_namespace_(ns);
  req.set_key(key);
  KVExistsReply rep;
  LUMOS_RETURN_NOT_OK(impl_->Call("KVExists", address_, LUMOS_GCS_METHOD(kv, KVExists), req, &rep));
  *exists = rep.exists();
  return Status::OK();
}

Status GcsClient::KVKeys(const std::string& ns, const std::string& prefix,
                         std::vector<std::string>* keys) {
  KVKeysRequest req;
  req.set_namespace_(ns);
  req.set_prefix(prefix);
  KVKeysReply rep;
  LUMOS_RETURN_NOT_OK(impl_->Call("KVKeys", address_, LUMOS_GCS_METHOD(kv, KVKeys), req, &rep));
  keys->assign(rep.keys().begin(), rep.keys().end());
  return Status::OK();
}

Status GcsClient::RegisterActor(const TaskSpec& creation_task, ActorTableData* existing_if_taken) {
  RegisterActorRequest req;
  *req.mutable_creation_task() = creation_task;
  RegisterActorReply rep;
  Status s =
      impl_->Call("RegisterActor", address_, LUMOS_GCS_METHOD(actor, RegisterActor), req, &rep);
  if (s.code() == StatusCode::kAlreadyExists && existing_if_taken != nullptr) {
    *existing_if_taken = std::move(*rep.mutable_existing());
  }
  return s;
}

Status GcsClient::GetActorInfo(const std::string& actor_id, ActorTableData* actor) {
  GetActorInfoRequest req;
  req.set_actor_id(actor_id);
  GetActorInfoReply rep;
  LUMOS_RETURN_NOT_OK(
      impl_->Call("GetActorInfo", address_, LUMOS_GCS_METHOD(actor, GetActorInfo), req, &rep));
  *actor = std::move(*rep.mutable_actor());
  return Status::OK();
}

Status GcsClient::GetNamedActorInfo(const std::string& name, const std::string& ns,
                                    ActorTableData* actor) {
  GetNamedActorInfoRequest req;
  req.set_name(name);
  req.set_ray_namespace(ns);
  GetNamedActorInfoReply rep;
  LUMOS_RETURN_NOT_OK(impl_->Call("GetNamedActorInfo", address_,
                                  LUMOS_GCS_METHOD(actor, GetNamedActorInfo), req, &rep));
  *actor = std::move(*rep.mutable_actor());
  return Status::OK();
}

Status GcsClient::ListNamedActors(const std::string& ns, bool all_namespaces,
                                  std::vector<ActorTableData>* actors) {
  ListNamedActorsRequest req;
  req.set_ray_namespace(ns);
  req.set_all_namespaces(all_namespaces);
  ListNamedActorsReply rep;
  LUMOS_RETURN_NOT_OK(impl_->Call("ListNamedActors", address_,
                                  LUMOS_GCS_METHOD(actor, ListNamedActors), req, &rep));
  actors->assign(rep.actors().begin(), rep.actors().end());
  return Status::OK();
}

Status GcsClient::KillActor(const std::string& actor_id, bool no_restart,
                            const std::string& reason) {
  KillActorRequest req;
  req.set_actor_id(actor_id);
  req.set_no_restart(no_restart);
  req.set_reason(reason);
  KillActorReply rep;
  return impl_->Call("KillActor", address_, LUMOS_GCS_METHOD(actor, KillActor), req, &rep);
}

Status GcsClient::SubscribeActor(const std::string& actor_id, const Address& subscriber,
                                 ActorTableData* current) {
  SubscribeActorRequest req;
  req.set_actor_id(actor_id);
  *req.mutable_subscriber() = subscriber;
  SubscribeActorReply rep;
  LUMOS_RETURN_NOT_OK(
      impl_->Call("SubscribeActor", address_, LUMOS_GCS_METHOD(actor, SubscribeActor), req, &rep));
  if (current != nullptr) *current = std::move(*rep.mutable_actor());
  return Status::OK();
}

Status GcsClient::ReportWorkerFailure(const std::string& worker_id, const std::string& node_id,
                                      const std::string& description) {
  ReportWorkerFailureRequest req;
  req.set_worker_id(worker_id);
  req.set_node_id(node_id);
  req.set_description(description);
  ReportWorkerFailureReply rep;
  return impl_->Call("ReportWorkerFailure", address_,
                     LUMOS_GCS_METHOD(actor, ReportWorkerFailure), req, &rep, 0, /*wait_for_gcs=*/false);
}


Status GcsClient::CreatePlacementGroup(const PlacementGroupTableData& pg) {
  CreatePlacementGroupRequest req;
  *req.mutable_placement_group() = pg;
  CreatePlacementGroupReply rep;
  return impl_->Call("CreatePlacementGroup", address_, LUMOS_GCS_METHOD(pg, CreatePlacementGroup),
                     req, &rep);
}

Status GcsClient::CreatePlacementGroups(const std::vector<PlacementGroupTableData>& pgs) {
  if (pgs.empty()) return Status::InvalidArgument("CreatePlacementGroups: no group given");
  CreatePlacementGroupRequest req;
  *req.mutable_placement_group() = pgs[0];
  for (size_t i = 1; i < pgs.size(); i++) *req.add_more_placement_groups() = pgs[i];
  CreatePlacementGroupReply rep;
  return impl_->Call("CreatePlacementGroup", address_, LUMOS_GCS_METHOD(pg, CreatePlacementGroup),
                     req, &rep);
}

Status GcsClient::RemovePlacementGroups(const std::vector<std::string>& pg_ids) {
  RemovePlacementGroupRequest req;
  for (const auto& id : pg_ids) req.add_more_placement_group_ids(id);
  RemovePlacementGroupReply rep;
  return impl_->Call("RemovePlacementGroup", address_, LUMOS_GCS_METHOD(pg, RemovePlacementGroup),
                     req, &rep);
}

Status GcsClient::RemovePlacementGroup(const std::string& pg_id) {
  RemovePlacementGroupRequest req;
  req.set_placement_group_id(pg_id);
  RemovePlacementGroupReply rep;
  return impl_->Call("RemovePlacementGroup", address_, LUMOS_GCS_METHOD(pg, RemovePlacementGroup),
                     req, &rep);
}

Status GcsClient::GetPlacementGroup(const std::string& pg_id, const std::string& name,
                                    const std::string& ns, PlacementGroupTableData* pg) {
  GetPlacementGroupRequest req;
  req.set_placement_group_id(pg_id);
  req.set_name(name);
  req.set_ray_namespace(ns);
  GetPlacementGroupReply rep;
  LUMOS_RETURN_NOT_OK(impl_->Call("GetPlacementGroup", address_,
                                  LUMOS_GCS_METHOD(pg, GetPlacementGroup), req, &rep));
  *pg = rep.placement_group();
  return Status::OK();
}

Status GcsClient::GetAllPlacementGroup(std::vector<PlacementGroupTableData>* pgs) {
  GetAllPlacementGroupRequest req;
  GetAllPlacementGroupReply rep;
  LUMOS_RETURN_NOT_OK(impl_->Call("GetAllPlacementGroup", address_,
                                  LUMOS_GCS_METHOD(pg, GetAllPlacementGroup), req, &rep));
  pgs->assign(rep.placement_groups().begin(), rep.placement_groups().end());
  return Status::OK();
}

Status GcsClient::WaitPlacementGroupUntilReady(const std::string& pg_id, int64_t timeout_ms,
                                               bool* ready) {
  std::vector<std::string> unused;
  return WaitPlacementGroupUntilReady(pg_id, timeout_ms, {}, ready, &unused);
}

Status GcsClient::WaitPlacementGroupUntilReady(const std::string& pg_id, int64_t timeout_ms,
                                               const std::vector<std::string>& also_report,
                                               bool* ready, std::vector<std::string>* ready_ids) {
  WaitPlacementGroupUntilReadyRequest req;
  req.set_placement_group_id(pg_id);
  req.set_timeout_ms(timeout_ms);
  for (const auto& id : also_report) req.add_also_report_ids(id);
  WaitPlacementGroupUntilReadyReply rep;
  LUMOS_RETURN_NOT_OK(impl_->Call("WaitPlacementGroupUntilReady", address_,
                                  LUMOS_GCS_METHOD(pg, WaitPlacementGroupUntilReady), req, &rep));
  *ready = rep.ready();
  ready_ids->assign(rep.ready_ids().begin(), rep.ready_ids().end());
  return Status::OK();
}

Status GcsClient::AddTaskEvents(const AddTaskEventsRequest& events, int64_t timeout_ms) {
  AddTaskEventsReply rep;
  return impl_->Call("AddTaskEvents", address_, LUMOS_GCS_METHOD(task_events, AddTaskEvents), events, &rep,
                     timeout_ms, /*wait_for_gcs=*/false);
}

Status GcsClient::GetTaskEvents(const GetTaskEventsRequest& request, GetTaskEventsReply* reply) {
  return impl_->Call("GetTaskEvents", address_, LUMOS_GCS_METHOD(task_events, GetTaskEvents), request, reply);
}

#undef LUMOS_GCS_METHOD

}  // namespace lumos::rpc
