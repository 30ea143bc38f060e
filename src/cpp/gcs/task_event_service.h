#pragma once
// TaskEventService: the gRPC shell of TaskEventGcsService over
// GcsTaskEventManager (bounded by task_events_max_num_task_in_gcs).
//
// Thread safety: every handler takes mu_. Owns its manager. Handlers return
// grpc::Status::OK; failures (a bad filter) travel in the reply's GcsStatus.
#include <mutex>

#include "gcs/task_event_manager.h"
#include "gcs_service.grpc.pb.h"

namespace lumos::gcs {

class TaskEventService final : public rpc::TaskEventGcsService::Service {
 public:
  TaskEventService();

  grpc::Status AddTaskEvents(grpc::ServerContext* ctx, const rpc::AddTaskEventsRequest* req,
                             rpc::AddTaskEventsReply* reply) override;
  grpc::Status GetTaskEvents(grpc::ServerContext* ctx, const rpc::GetTaskEventsRequest* req,
                             rpc::GetTaskEventsReply* reply) override;

 private:
  std::mutex mu_;
  GcsTaskEventManager manager_;  // guarded by mu_
};

}  // namespace lumos::gcs
