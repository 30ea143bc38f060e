#include "rpc/event_loop.h"

#include <pthread.h>

namespace lumos::rpc {

EventLoop::EventLoop() : guard_(asio::make_work_guard(io_)) {}

EventLoop::~EventLoop() { Join(); }

void EventLoop::Join() {
  Stop();
  if (thread_.joinable()) {
    if (std::this_thread::get_id() == thread_.get_id()) {
      thread_.detach();
    } else {
      thread_.join();
    }
  }
}

void EventLoop::Start(const char* name) {
  thread_ = std::thread([this, name] {
    pthread_setname_np(pthread_self(), name);
    RunInThisThread();
  });
}

void EventLoop::RunInThisThread() {
  loop_thread_id_ = std::this_thread::get_id();
  io_.run();
}

void EventLoop::Stop() {
  guard_.reset();
  io_.stop();
}

}  // namespace lumos::rpc
