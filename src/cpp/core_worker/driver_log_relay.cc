#include "core_worker/driver_log_relay.h"

#include <unistd.h>

#include <chrono>
#include <cstring>

namespace lumos {
namespace core {

namespace {
bool IsProgress(const std::string& line) {
  return line.compare(0, std::strlen(DriverLogRelay::kProgressMarker), DriverLogRelay::kProgressMarker) == 0;
}
}  // namespace

void DriverLogRelay::Write(const std::vector<std::string>& lines, bool is_err) {
  std::string out;
  for (const auto& l : lines) {
    out += l;
    if (out.empty() || out.back() != '\n') out += '\n';
  }
  if (out.empty()) return;
  ssize_t ignored = ::write(is_err ? 2 : 1, out.data(), out.size());
  (void)ignored;
}

void DriverLogRelay::Deliver(const std::vector<std::string>& lines, bool is_err) {
  std::vector<std::string> direct;
  bool queued = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& l : lines) {
      const bool progress = IsProgress(l);
      if (closed_ || (!progress && !capture_)) {
        if (!progress) direct.push_back(l);
        continue;
      }
      if (queue_.size() >= kMaxQueued) {
        queue_.pop_front();
        ++dropped_;
      }
      queue_.emplace_back(l, is_err);
      queued = true;
    }
  }
  if (queued) cv_.notify_all();
  if (!direct.empty()) Write(direct, is_err);
}

void DriverLogRelay::SetCapture(bool on) {
  std::lock_guard<std::mutex> lock(mu_);
  capture_ = on;
}

bool DriverLogRelay::Take(std::vector<std::pair<std::string, bool>>* out, int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  ++takers_;
  auto ready = [this] { return !queue_.empty() || closed_; };
  if (timeout_ms < 0) {
    cv_.wait(lock, ready);
  } else {
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), ready);
  }
  while (!queue_.empty()) {
    out->push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  const bool more = !(closed_ && out->empty());
  if (--takers_ == 0) cv_.notify_all();
  return more;
}

void DriverLogRelay::Close() {
  std::unique_lock<std::mutex> lock(mu_);
  closed_ = true;
  capture_ = false;
  cv_.notify_all();
  // The core worker (and this relay) may be destroyed right after: let a
  // Take() in progress leave first.
  cv_.wait_for(lock, std::chrono::seconds(1), [this] { return takers_ == 0; });
}

uint64_t DriverLogRelay::num_dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

}  // namespace core
}  // namespace lumos
