#pragma once
// The monotonic clock as one integer, for deadlines kept in atomics or
// compared across threads (timers that must not jump with the wall clock).
#include <chrono>
#include <cstdint>

namespace lumos {

/// \brief Microseconds on std::chrono::steady_clock (arbitrary epoch).
inline int64_t SteadyMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace lumos
