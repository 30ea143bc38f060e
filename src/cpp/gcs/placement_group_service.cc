#include "gcs/placement_group_service.h"

#include <algorithm>

#include "gcs/grpc_auth.h"
#include "gcs/service_util.h"

namespace lumos::gcs {

grpc::Status PlacementGroupInfoService::CreatePlacementGroup(
    grpc::ServerContext* context, const rpc::CreatePlacementGroupRequest* req,
    rpc::CreatePlacementGroupReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  std::vector<rpc::PlacementGroupTableData> pgs;
  pgs.reserve(1 + req->more_placement_groups_size());
  pgs.push_back(req->placement_group());
  pgs.insert(pgs.end(), req->more_placement_groups().begin(), req->more_placement_groups().end());
  const int64_t now = WallClockMs();
  for (auto& pg : pgs) {
    if (pg.create_time_ms() == 0) pg.set_create_time_ms(now);
  }
  FillGcsStatus(scheduler_->Create(pgs), reply->mutable_status());
  return grpc::Status::OK;
}

grpc::Status PlacementGroupInfoService::RemovePlacementGroup(
    grpc::ServerContext* context, const rpc::RemovePlacementGroupRequest* req,
    rpc::RemovePlacementGroupReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  const bool batch_only = req->placement_group_id().empty() && req->more_placement_group_ids_size() > 0;
  std::vector<std::string> ids;
  if (!batch_only) ids.push_back(req->placement_group_id());
  ids.insert(ids.end(), req->more_placement_group_ids().begin(), req->more_placement_group_ids().end());
  Status first = scheduler_->Remove(ids);
  FillGcsStatus(first, reply->mutable_status());
  return grpc::Status::OK;
}

grpc::Status PlacementGroupInfoService::GetPlacementGroup(grpc::ServerContext* context,
                                                          const rpc::GetPlacementGroupRequest* req,
                                                          rpc::GetPlacementGroupReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  auto r = req->placement_group_id().empty()
               ? scheduler_->GetNamed(req->name(), req->ray_namespace())
               : scheduler_->Get(req->placement_group_id());
  if (r.ok()) *reply->mutable_placement_group() = r.MoveValue();
  FillGcsStatus(r.status(), reply->mutable_status());
  return grpc::Status::OK;
}

grpc::Status PlacementGroupInfoService::GetAllPlacementGroup(
    grpc::ServerContext* context, const rpc::GetAllPlacementGroupRequest*,
    rpc::GetAllPlacementGroupReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  for (auto& pg : scheduler_->GetAll()) *reply->add_placement_groups() = std::move(pg);
  FillGcsStatus(Status::OK(), reply->mutable_status());
  return grpc::Status::OK;
}

grpc::Status PlacementGroupInfoService::WaitPlacementGroupUntilReady(
    grpc::ServerContext* context, const rpc::WaitPlacementGroupUntilReadyRequest* req,
    rpc::WaitPlacementGroupUntilReadyReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  // Bounded so that a handler thread is never parked for long; callers loop.
  int64_t timeout = std::clamp<int64_t>(req->timeout_ms(), 0, 10000);
  std::vector<std::string> also(req->also_report_ids().begin(), req->also_report_ids().end());
  std::vector<std::string> ready_ids;
  auto r = scheduler_->WaitUntilReady(req->placement_group_id(), timeout, also, &ready_ids);
  reply->set_ready(r.ok() && r.value());
  for (auto& id : ready_ids) reply->add_ready_ids(std::move(id));
  FillGcsStatus(r.status(), reply->mutable_status());
  return grpc::Status::OK;
}

}  // namespace lumos::gcs
