#pragma once
// Helpers shared by the C++ tests: a fresh temp dir for socket files (short
// enough for the 107-byte sun_path limit) and polling with a deadline.
#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace lumos::testing {

/// \brief mkdtemp under /tmp; removes its files and itself on destruction.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/lumos_t_XXXXXX";
    if (mkdtemp(tmpl)) path_ = tmpl;
  }
  ~TempDir() {
    if (path_.empty()) return;
    if (DIR* d = opendir(path_.c_str())) {
      while (dirent* e = readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") unlink((path_ + "/" + n).c_str());
      }
      closedir(d);
    }
    rmdir(path_.c_str());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// \brief Polls `cond` every millisecond until it holds or `timeout_ms` passes.
inline bool WaitFor(const std::function<bool()>& cond, int64_t timeout_ms = 5000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace lumos::testing
