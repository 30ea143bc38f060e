#pragma once
// PlacementGroupInfoService: the gRPC shell of PlacementGroupInfoGcsService
// over GcsPlacementGroupScheduler (which synchronises itself). Does not own
// the scheduler. Handlers return grpc::Status::OK; failures travel in the
// reply's GcsStatus.
#include "gcs/placement_group_scheduler.h"
#include "gcs_service.grpc.pb.h"

namespace lumos::gcs {

class PlacementGroupInfoService final : public rpc::PlacementGroupInfoGcsService::Service {
 public:
  explicit PlacementGroupInfoService(GcsPlacementGroupScheduler* scheduler)
      : scheduler_(scheduler) {}

  grpc::Status CreatePlacementGroup(grpc::ServerContext*, const rpc::CreatePlacementGroupRequest*,
                                    rpc::CreatePlacementGroupReply*) override;
  grpc::Status RemovePlacementGroup(grpc::ServerContext*, const rpc::RemovePlacementGroupRequest*,
                                    rpc::RemovePlacementGroupReply*) override;
  grpc::Status GetPlacementGroup(grpc::ServerContext*, const rpc::GetPlacementGroupRequest*,
                                 rpc::GetPlacementGroupReply*) override;
  grpc::Status GetAllPlacementGroup(grpc::ServerContext*, const rpc::GetAllPlacementGroupRequest*,
                                    rpc::GetAllPlacementGroupReply*) override;
  grpc::Status WaitPlacementGroupUntilReady(grpc::ServerContext*,
                                            const rpc::WaitPlacementGroupUntilReadyRequest*,
                                            rpc::WaitPlacementGroupUntilReadyReply*) override;

 private:
  GcsPlacementGroupScheduler* const scheduler_;
};

}  // namespace lumos::gcs
