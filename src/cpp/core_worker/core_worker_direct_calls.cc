// CoreWorker, worker of an async actor: direct calls. Once the actor exists,
// its calls are run (handed to the Python executor, which starts them as
// coroutines) by the thread of its default asyncio loop, woken through an
// eventfd, instead of by the main thread that then hands each one to the loop
// thread: that hand-over (a GIL transfer, a Future, a write to the loop's
// self-pipe) cost about as much as the call itself.
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "common/logging.h"
#include "core_worker/core_worker.h"

namespace lumos::core {

Status CoreWorker::EnableDirectCalls(int* fd) {
  *fd = direct_fd_.load(std::memory_order_acquire);
  if (*fd >= 0) return Status::OK();
  *fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (*fd < 0) return Status::IOError(std::string("eventfd for direct actor calls: ") + std::strerror(errno));
  direct_fd_.store(*fd, std::memory_order_release);
  return Status::OK();
}

bool CoreWorker::IsDirectCall(const rpc::Frame& frame) {
  rpc::PushTaskRequest push;
  if (!push.ParseFromString(frame.payload)) return false;  // ExecuteTask answers the parse error
  const rpc::TaskSpec& spec = push.task();
  if (spec.actor_task().actor_id().empty()) return false;  // a task, or the creation
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
    wake = !direct_signalled_;
    direct_signalled_ = true;
  }
  if (!wake) return;  // the loop has not drained the last wake-up yet
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
  if (exit_requested_) {
    ReturnUnrun(std::move(items), true);
    return 0;
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
      break;
    }
    ExecuteTask(items.front().first, items.front().second);
    items.pop_front();
    ran++;
  }
  return ran;
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
