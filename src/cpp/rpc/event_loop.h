#pragma once
// An asio io_context with a keep-alive guard, run either on a background thread
// (Start) or on the caller's thread (RunInThisThread). Post() is thread safe.
// Destruction stops the loop and joins the thread.
#include <asio.hpp>
#include <functional>
#include <thread>

namespace lumos::rpc {

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  /// \brief Runs the loop on a new thread named `name`.
  void Start(const char* name);
  /// \brief Runs the loop on the calling thread until Stop().
  void RunInThisThread();
  void Stop();
  /// \brief Stops the loop and waits for its thread to finish.
  void Join();
  void Post(std::function<void()> fn) { asio::post(io_, std::move(fn)); }
  asio::io_context& io() { return io_; }
  bool InLoopThread() const { return std::this_thread::get_id() == loop_thread_id_; }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
  std::thread::id loop_thread_id_;
};

}  // namespace lumos::rpc
