#include "gcs/task_event_service.h"

#include <chrono>
#include <vector>

#include "common/config.h"
#include "gcs/grpc_auth.h"
#include "gcs/service_util.h"

namespace lumos::gcs {

TaskEventService::TaskEventService() : manager_(Config::Get().task_events_max_num_task_in_gcs()) {}

grpc::Status TaskEventService::AddTaskEvents(grpc::ServerContext* context, const rpc::AddTaskEventsRequest* req,
                                             rpc::AddTaskEventsReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  {
    std::lock_guard<std::mutex> lock(mu_);
    manager_.AddEvents(*req, now_us);
  }
  FillGcsStatus(Status::OK(), reply->mutable_status());
  return grpc::Status::OK;
}

grpc::Status TaskEventService::GetTaskEvents(grpc::ServerContext* context, const rpc::GetTaskEventsRequest* req,
                                             rpc::GetTaskEventsReply* reply) {
  LUMOS_GCS_CHECK_AUTH(context);
  std::vector<rpc::StateFilter> filters(req->filters().begin(), req->filters().end());
  Status s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = manager_.Query(filters, req->limit(), reply, req->summarize(), req->newest_first(),
                       req->include_profile_events());
  }
  if (!s.ok()) reply->clear_events();
  FillGcsStatus(s, reply->mutable_status());
  return grpc::Status::OK;
}

}  // namespace lumos::gcs
