#pragma once
// A token bucket for warnings a remote peer can trigger at will (a malformed
// frame, a refused handshake, accept failing for lack of descriptors): the
// first `burst` lines go out, then `per_second` a second; the rest are counted
// and the next line that goes out says how many were left out. So a flood of
// 1,000 bad connections costs a few dozen log lines, not 1,000.
//
// Thread safe (one mutex; called once per event, never per byte).
#include <cstdint>
#include <mutex>

namespace lumos {

class LogBudget {
 public:
  LogBudget(double burst, double per_second) : burst_(burst), per_second_(per_second), tokens_(burst) {}

  /// \brief True when a line may be logged at `now_ms` (a steady clock);
  /// then *suppressed is how many were refused since the last line let out.
  bool Take(int64_t now_ms, uint64_t* suppressed) {
    std::lock_guard<std::mutex> lock(mu_);
    if (last_ms_ >= 0 && now_ms > last_ms_) {
      tokens_ += static_cast<double>(now_ms - last_ms_) * per_second_ / 1000.0;
      if (tokens_ > burst_) tokens_ = burst_;
    }
    if (last_ms_ < 0 || now_ms > last_ms_) last_ms_ = now_ms;
    if (tokens_ < 1.0) {
      suppressed_++;
      return false;
    }
    tokens_ -= 1.0;
    *suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }

 private:
  std::mutex mu_;
  const double burst_;
  const double per_second_;
  double tokens_;           // GUARDED_BY(mu_)
  int64_t last_ms_ = -1;    // GUARDED_BY(mu_)
  uint64_t suppressed_ = 0;  // GUARDED_BY(mu_)
};

}  // namespace lumos
