#pragma once
// Minimal leveled logging to stderr: "[lumos <component> <pid>] I 12:00:00.123 file:line msg".
// Thread safe (one write(2) per line). Level from LUMOS_LOG_LEVEL (debug|info|warning|error).
#include <sstream>
#include <string>

namespace lumos {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kFatal = 4 };

/// \brief Sets the component name printed in every line (e.g. "raylet").
void SetLogComponent(const std::string& name);
LogLevel MinLogLevel();

class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();  // writes the line; aborts on kFatal
  std::ostream& stream() { return ss_; }

 private:
  LogLevel level_;
  std::ostringstream ss_;
};

}  // namespace lumos

namespace lumos {
// Lets the logging macros be one expression (safe inside an unbraced if/else).
struct LogVoidify {
  void operator&(std::ostream&) {}
};
}  // namespace lumos

#define LUMOS_LOG(level)                                                   \
  (::lumos::LogLevel::k##level < ::lumos::MinLogLevel())                   \
      ? (void)0                                                            \
      : ::lumos::LogVoidify() &                                            \
            ::lumos::LogMessage(::lumos::LogLevel::k##level, __FILE__, __LINE__).stream()

#define LUMOS_CHECK(cond)                                                          \
  (cond) ? (void)0                                                                 \
         : ::lumos::LogVoidify() &                                                 \
               ::lumos::LogMessage(::lumos::LogLevel::kFatal, __FILE__, __LINE__).stream() \
                   << "Check failed: " #cond " "
