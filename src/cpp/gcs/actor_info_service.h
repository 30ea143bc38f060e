#pragma once
// ActorInfoService: the gRPC shell of ActorInfoGcsService over GcsActorScheduler.
//
// Thread safety: the scheduler synchronizes itself, so gRPC's worker threads
// call in concurrently. Does not own the scheduler (GcsServer does; it
// outlives the gRPC server). Handlers always return grpc::Status::OK;
// failures travel in the reply's GcsStatus (see service_util.h).
#include "gcs/actor_scheduler.h"
#include "gcs_service.grpc.pb.h"

namespace lumos::gcs {

class ActorInfoService final : public rpc::ActorInfoGcsService::Service {
 public:
  explicit ActorInfoService(GcsActorScheduler* scheduler) : scheduler_(scheduler) {}

  grpc::Status RegisterActor(grpc::ServerContext* ctx, const rpc::RegisterActorRequest* req,
                             rpc::RegisterActorReply* reply) override;
  grpc::Status GetActorInfo(grpc::ServerContext* ctx, const rpc::GetActorInfoRequest* req,
                            rpc::GetActorInfoReply* reply) override;
  grpc::Status GetNamedActorInfo(grpc::ServerContext* ctx,
                                 const rpc::GetNamedActorInfoRequest* req,
                                 rpc::GetNamedActorInfoReply* reply) override;
  grpc::Status ListNamedActors(grpc::ServerContext* ctx, const rpc::ListNamedActorsRequest* req,
                               rpc::ListNamedActorsReply* reply) override;
  grpc::Status GetAllActorInfo(grpc::ServerContext* ctx, const rpc::GetAllActorInfoRequest* req,
                               rpc::GetAllActorInfoReply* reply) override;
  grpc::Status KillActor(grpc::ServerContext* ctx, const rpc::KillActorRequest* req,
                         rpc::KillActorReply* reply) override;
  grpc::Status SubscribeActor(grpc::ServerContext* ctx, const rpc::SubscribeActorRequest* req,
                              rpc::SubscribeActorReply* reply) override;
  grpc::Status ReportWorkerFailure(grpc::ServerContext* ctx,
                                   const rpc::ReportWorkerFailureRequest* req,
                                   rpc::ReportWorkerFailureReply* reply) override;

 private:
  GcsActorScheduler* const scheduler_;
};

}  // namespace lumos::gcs
