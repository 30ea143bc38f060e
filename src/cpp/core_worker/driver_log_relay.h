#pragma once
// DriverLogRelay: where a driver puts the lines its tasks' workers print.
//
// By default each line goes straight to the driver's stdout/stderr (fd 1/2).
// Progress updates (lines that start with kProgressMarker, sent by
// lumos.experimental.tqdm_ray inside tasks) never reach the terminal as
// text: they are queued for the driver's Python progress thread, which draws
// the bars. While bars are on screen that thread turns capture on, and then
// every line is queued too, so it can print lines above the bars instead of
// through them. The queue is bounded (the oldest lines are dropped first,
// and counted) so a driver that never drains it cannot grow without limit.
//
// Thread safety: all methods may be called from any thread.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace lumos {
namespace core {

class DriverLogRelay {
 public:
  static constexpr const char* kProgressMarker = "\x1elumos-progress:";
  static constexpr size_t kMaxQueued = 20000;

  /// \brief Writes or queues `lines` (see the class comment).
  void Deliver(const std::vector<std::string>& lines, bool is_err);
  /// \brief While on, plain lines are queued instead of written.
  void SetCapture(bool on);
  /// \brief Waits up to timeout_ms (<0: forever) for queued lines and moves
  /// them to *out as (line, is_err). False once Close() was called and the
  /// queue is empty.
  bool Take(std::vector<std::pair<std::string, bool>>* out, int64_t timeout_ms);
  /// \brief Wakes Take() for good (and waits, up to 1 s, for callers inside
  /// it to leave); later lines are written, not queued.
  void Close();
  /// \brief Lines dropped because the queue was full.
  uint64_t num_dropped() const;

 private:
  static void Write(const std::vector<std::string>& lines, bool is_err);
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, bool>> queue_;  // GUARDED_BY(mu_)
  bool capture_ = false;                              // GUARDED_BY(mu_)
  bool closed_ = false;                               // GUARDED_BY(mu_)
  uint64_t dropped_ = 0;                              // GUARDED_BY(mu_)
  int takers_ = 0;                                    // GUARDED_BY(mu_): threads inside Take()
};

}  // namespace core
}  // namespace lumos
