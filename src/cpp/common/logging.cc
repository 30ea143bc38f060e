#include "common/logging.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace lumos {
namespace {
std::string g_component = "lumos";

LogLevel ReadLevel() {
  const char* v = std::getenv("LUMOS_LOG_LEVEL");
  if (!v) return LogLevel::kInfo;
  if (!strcasecmp(v, "debug")) return LogLevel::kDebug;
  if (!strcasecmp(v, "warning")) return LogLevel::kWarning;
  if (!strcasecmp(v, "error")) return LogLevel::kError;
  return LogLevel::kInfo;
}
}  // namespace

void SetLogComponent(const std::string& name) { g_component = name; }

LogLevel MinLogLevel() {
  static LogLevel level = ReadLevel();
  return level;
}

LogMessage::LogMessage(LogLevel level, const char* file, int line) : level_(level) {
  static const char kLetters[] = "DIWEF";
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  int ms = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm;
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
  const char* base = std::strrchr(file, '/');
  ss_ << "[" << g_component << " " << getpid() << "] " << kLetters[static_cast<int>(level)] << " "
      << buf << "." << (ms < 100 ? (ms < 10 ? "00" : "0") : "") << ms << " "
      << (base ? base + 1 : file) << ":" << line << " ";
}

LogMessage::~LogMessage() {
  ss_ << "\n";
  std::string s = ss_.str();
  ssize_t ignored = ::write(2, s.data(), s.size());
  (void)ignored;
  if (level_ == LogLevel::kFatal) std::abort();
}

}  // namespace lumos
