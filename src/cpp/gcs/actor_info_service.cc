#include "gcs/actor_info_service.h"

#include <string>
#include <utility>
#include <vector>

#include "gcs/grpc_auth.h"
#include "common/logging.h"
#include "gcs/service_util.h"

namespace lumos::gcs {

grpc::Status ActorInfoService::RegisterActor(grpc::ServerContext* context,
                                             const rpc::RegisterActorRequest* req,
                                             rpc::RegisterActorReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  Status s = scheduler_->RegisterActor(req->creation_task(), reply->mutable_existing());
  if (!s.ok() && s.code() != StatusCode::kAlreadyExists) {
    LUMOS_LOG(Warning) << "RegisterActor rejected: " << s.ToString();
  }
  if (s.code() != StatusCode::kAlreadyExists) reply->clear_existing();
  FillGcsStatus(s, reply->mutable_status());
  return grpc::Status::OK;
}

grpc::Status ActorInfoService::GetActorInfo(grpc::ServerContext* context,
                                            const rpc::GetActorInfoRequest* req,
                                            rpc::GetActorInfoReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  auto r = scheduler_->GetActor(req->actor_id());
  if (r.ok()) *reply->mutable_actor() = r.MoveValue();
  FillGcsStatus(r.status(), reply->mutable_status());
  return grpc::Status::OK;
}

grpc::Status ActorInfoService::GetNamedActorInfo(grpc::ServerContext* context,
                                                 const rpc::GetNamedActorInfoRequest* req,
                                                 rpc::GetNamedActorInfoReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  auto r = scheduler_->GetNamedActor(req->name(), req->ray_namespace());
  if (r.ok()) *reply->mutable_actor() = r.MoveValue();
  FillGcsStatus(r.status(), reply->mutable_status());
  return grpc::Status::OK;
}

grpc::Status ActorInfoService::ListNamedActors(grpc::ServerContext* context,
                                               const rpc::ListNamedActorsRequest* req,
                                               rpc::ListNamedActorsReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  for (auto& a : scheduler_->ListNamedActors(req->ray_namespace(), req->all_namespaces())) {
    *reply->add_actors() = std::move(a);
  }
  FillGcsStatus(Status::OK(), reply->mutable_status());
  return grpc::Status::OK;
}

grpc::Status ActorInfoService::GetAllActorInfo(grpc::ServerContext* context, const rpc::GetAllActorInfoRequest* req,
                                               rpc::GetAllActorInfoReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  Status s = scheduler_->QueryActors(*req, reply);
  if (!s.ok()) reply->Clear();
  FillGcsStatus(s, reply->mutable_status());
  return grpc::Status::OK;
}

grpc::Status ActorInfoService::KillActor(grpc::ServerContext* context, const rpc::KillActorRequest* req,
                                         rpc::KillActorReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  Status s = scheduler_->KillActor(req->actor_id(), req->no_restart(), req->reason());
  FillGcsStatus(s, reply->mutable_status());
  return grpc::Status::OK;
}

grpc::Status ActorInfoService::SubscribeActor(grpc::ServerContext* context,
                                              const rpc::SubscribeActorRequest* req,
                                              rpc::SubscribeActorReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  Status s = scheduler_->SubscribeActor(req->actor_id(), req->subscriber(), reply->mutable_actor());
  if (!s.ok()) reply->clear_actor();
  FillGcsStatus(s, reply->mutable_status());
  return grpc::Status::OK;
}

grpc::Status ActorInfoService::ReportWorkerFailure(grpc::ServerContext* context,
                                                   const rpc::ReportWorkerFailureRequest* req,
                                                   rpc::ReportWorkerFailureReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  if (req->worker_id().size() != WorkerID::kSize) {
    FillGcsStatus(Status::InvalidArgument("worker_id must be " + std::to_string(WorkerID::kSize) +
                                          " bytes, got " + std::to_string(req->worker_id().size())),
                  reply->mutable_status());
    return grpc::Status::OK;
  }
  scheduler_->ReportWorkerFailure(WorkerID::FromBinary(req->worker_id()),
                                  NodeID::FromBinary(req->node_id()), req->description());
  FillGcsStatus(Status::OK(), reply->mutable_status());
  return grpc::Status::OK;
}

}  // namespace lumos::gcs
