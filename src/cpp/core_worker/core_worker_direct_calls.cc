// CoreWorker, worker of an async or threaded actor: direct calls. Once the
// actor exists, its calls are run (handed to the Python executor) by the
// threads that execute them -- the default asyncio loop's thread, woken
// through an eventfd, or the pool threads, woken through a condition variable
// -- instead of by the main thread that then hands each one over: that
// hand-over (a GIL transfer, a queue or Future, a wake-up) cost about as much
// as a small call itself.
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "common/logging.h"
#include "core_worker/core_worker.h"

namespace lumos::core {

Status CoreWorker::EnableDirectCalls(bool threads, int* fd) {
  *fd = -1;
  if (direct_threads_ || direct_fd_ >= 0) return Status::Invalid("direct calls are enabled already");
  if (threads) {
    direct_threads_ = true;
    return Status::OK();
  }
  *fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (*fd < 0) return Status::IOError(std::string("eventfd for direct actor calls: ") + std::strerror(errno));
  direct_fd_.store(*fd, std::memory_order_release);
  return Status::OK();
}

bool CoreWorker::IsDirectCall(const rpc::Frame& frame) const {
  if (!DirectCallsOn()) return false;
  // Once the actor exists, every push to its worker is one of its calls, and
  // a pool thread may fetch arguments: no need to parse the push here.
  if (direct_threads_) return true;
  rpc::PushTaskRequest push;
  if (!push.ParseFromString(frame.payload)) return false;  // ExecuteTask answers the parse error
  const rpc::TaskSpec& spec = push.task();
  if (spec.actor_task().actor_id().empty()) return false;  // not a call (cannot happen once created)
  for (const auto& a : spec.args()) {
    if (a.has_ref()) return false;  // fetched by the main thread, not on the loop
  }
  return true;
}

void CoreWorker::EnqueueDirect(const rpc::ConnectionPtr& conn, rpc::Frame&& frame) {
  bool wake;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    direct_queue_.emplace_back(conn, std::move(frame));
    wake = !direct_signalled_;  // the async loop's eventfd: written once per drain
    if (!direct_threads_) direct_signalled_ = true;
  }
  if (direct_threads_) {
    direct_cv_.notify_one();
    return;
  }
  if (!wake) return;
  const uint64_t one = 1;
  if (::write(direct_fd_.load(std::memory_order_acquire), &one, sizeof(one)) < 0 && errno != EAGAIN) {
    LUMOS_LOG(Warning) << "cannot wake the actor's loop for a call: " << std::strerror(errno);
  }
}

int CoreWorker::RunDirectCalls() {
  std::deque<std::pair<rpc::ConnectionPtr, rpc::Frame>> items;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    items.swap(direct_queue_);
    direct_signalled_ = false;
    uint64_t count;
    (void)!::read(direct_fd_.load(std::memory_order_acquire), &count, sizeof(count));  // EAGAIN: none
  }
  if (items.size() > 1) {  // a burst: their replies leave together (FlushReplies)
    std::lock_guard<std::mutex> lock(cork_mu_);
    for (const auto& item : items) {
      if (corked_.insert(item.first).second) item.first->Cork();
    }
  }
  int ran = 0;
  while (!items.empty()) {
    if (exit_requested_) {  // the actor is leaving (exit_actor): the rest never run
      ReturnUnrun(std::move(items), true);
      FlushReplies();  // leaving: nothing waits for a batch to end
      break;
    }
    ExecuteTask(items.front().first, items.front().second);
    items.pop_front();
    ran++;
  }
  return ran;
}

void CoreWorker::ServeDirectCalls() {
  while (true) {
    std::pair<rpc::ConnectionPtr, rpc::Frame> item;
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      direct_cv_.wait(lock, [this] { return !direct_queue_.empty() || exit_requested_; });
      // Leaving: RunTaskLoop answers what still waits (ReturnDirectQueue).
      if (exit_requested_) return;
      item = std::move(direct_queue_.front());
      direct_queue_.pop_front();
    }
    // No corking here: with several threads, a reply held for a batch could
    // wait behind a call that blocks its thread.
    ExecuteTask(item.first, item.second);
  }
}

void CoreWorker::ReturnDirectQueue() {
  std::deque<std::pair<rpc::ConnectionPtr, rpc::Frame>> unrun;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    unrun.swap(direct_queue_);
  }
  if (!unrun.empty()) ReturnUnrun(std::move(unrun), true);
}

}  // namespace lumos::core
