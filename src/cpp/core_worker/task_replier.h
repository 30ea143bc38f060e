#pragma once
// TaskReplier: sends the reply of one task pushed to this worker, exactly once,
// from whichever thread finishes the task (the main thread for plain tasks, a
// pool thread or the asyncio loop for concurrent actors).
// Streaming generator tasks also report each yielded item through it
// (ReportItem), before the final reply, on the same connection, so the caller
// sees items in order and the end after them.
// Thread safety: Finish may be called from any thread; later calls are ignored.
// ReportItem is called by the one thread running the task.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>

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

  /// \brief Sends one item of a streaming generator to the caller. With
  /// backpressure (generator_backpressure_num_objects > 0) the caller answers
  /// each report once it consumed the item, and this blocks while that many
  /// reports are unanswered; `interrupted` (may be empty) is polled meanwhile.
  /// Disconnected when the caller is gone (the task should stop).
  Status ReportItem(const rpc::ReportGeneratorItemRequest& req, const std::function<bool()>& interrupted) {
    int64_t limit = spec_.generator_backpressure_num_objects();
    if (limit <= 0) {
      conn_->SendOneway(rpc::REPORT_GENERATOR_ITEM, req);
    } else {
      if (!flow_) flow_ = std::make_shared<Flow>();
      auto flow = flow_;
      {
        std::lock_guard<std::mutex> lock(flow->mu);
        flow->unacked++;
      }
      conn_->SendRequest(rpc::REPORT_GENERATOR_ITEM, req, [flow](const Status& s, rpc::Frame&&) {
        std::lock_guard<std::mutex> lock(flow->mu);
        flow->unacked--;
        if (!s.ok()) flow->broken = true;
        flow->cv.notify_all();
      });
      std::unique_lock<std::mutex> lock(flow->mu);
      while (flow->unacked >= limit && !flow->broken) {
        flow->cv.wait_for(lock, std::chrono::milliseconds(100));
        if (interrupted) {
          lock.unlock();
          bool stop = interrupted();
          lock.lock();
          if (stop) return Status::Interrupted("interrupted while waiting for the caller to consume items");
        }
      }
      if (flow->broken) return Status::Disconnected("the caller of the streaming generator is gone");
    }
    if (conn_->closed()) return Status::Disconnected("the caller of the streaming generator is gone");
    return Status::OK();
  }

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
  struct Flow {  // backpressure of a streaming generator
    std::mutex mu;
    std::condition_variable cv;
    int64_t unacked = 0;
    bool broken = false;
  };
  std::shared_ptr<Flow> flow_;  // created by the first backpressured report
};

}  // namespace lumos::core
