#pragma once
// TaskReplier: sends the reply of one task pushed to this worker, exactly once,
// from whichever thread finishes the task (the main thread for plain tasks, a
// pool thread or the asyncio loop for concurrent actors).
// Thread safety: Finish may be called from any thread; later calls are ignored.
#include <atomic>
#include <functional>

#include "core_worker.pb.h"
#include "rpc/connection.h"

namespace lumos::core {

class TaskReplier {
 public:
  using BeforeSend = std::function<void(const rpc::TaskSpec&, rpc::PushTaskReply*)>;
  TaskReplier(rpc::ConnectionPtr conn, uint64_t request_id, rpc::TaskSpec spec, BeforeSend before_send)
      : conn_(std::move(conn)), request_id_(request_id), spec_(std::move(spec)),
        before_send_(std::move(before_send)) {}

  const rpc::TaskSpec& spec() const { return spec_; }
  bool finished() const { return done_.load(); }

  void Finish(rpc::PushTaskReply reply) {
    if (done_.exchange(true)) return;
    if (before_send_) before_send_(spec_, &reply);
    conn_->SendReply(request_id_, rpc::PUSH_TASK, reply);
  }

 private:
  rpc::ConnectionPtr conn_;
  uint64_t request_id_;
  rpc::TaskSpec spec_;
  BeforeSend before_send_;
  std::atomic<bool> done_{false};
};

}  // namespace lumos::core
