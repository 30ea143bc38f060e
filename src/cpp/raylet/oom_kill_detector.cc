#include "raylet/oom_kill_detector.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

namespace lumos::raylet {

namespace {

std::string ReadSmallFile(const std::string& path, bool* ok) {
  std::ifstream in(path);
  *ok = static_cast<bool>(in);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// root + "/" + rel without doubled or trailing slashes ("/" rel = root itself).
std::string Join(const std::string& root, const std::string& rel) {
  std::string out = root;
  while (!out.empty() && out.back() == '/') out.pop_back();
  size_t i = 0;
  while (i < rel.size() && rel[i] == '/') i++;
  std::string rest = rel.substr(i);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (!rest.empty()) out += "/" + rest;
  return out;
}

bool Exists(const std::string& path) { return ::access(path.c_str(), R_OK) == 0; }

}  // namespace

OomKillDetector::OomKillDetector(Options options) : options_(std::move(options)) {}

int64_t OomKillDetector::ParseOomKillCount(const std::string& text) {
  std::istringstream in(text);
  std::string key;
  std::string value;
  while (in >> key >> value) {
    if (key != "oom_kill") continue;  // not oom_kill_disable, oom_group_kill, ...
    if (value.empty() || !std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); })) {
      return -1;
    }
    try {
      return std::stoll(value);
    } catch (...) {
      return -1;
    }
  }
  return -1;
}

std::vector<std::string> OomKillDetector::CounterFiles(const std::string& proc_cgroup, const std::string& cgroup_root) {
  std::vector<std::string> out;
  std::istringstream in(proc_cgroup);
  std::string line;
  while (std::getline(in, line)) {
    // "hierarchy-id:controller-list:path"; the path may itself hold ':'.
    size_t a = line.find(':');
    if (a == std::string::npos) continue;
    size_t b = line.find(':', a + 1);
    if (b == std::string::npos) continue;
    std::string id = line.substr(0, a);
    std::string controllers = line.substr(a + 1, b - a - 1);
    std::string path = line.substr(b + 1);
    // The root cgroup is skipped: its counters (where they exist) mix in the
    // whole system, and a cgroup v1 zombie shows "/" whatever it was in.
    if (path.empty() || path[0] != '/' || path == "/") continue;
    if (id == "0" && controllers.empty()) {
      for (const char* mount : {"", "unified"}) {
        std::string dir = Join(Join(cgroup_root, mount), path);
        out.push_back(dir + "/memory.events.local");
        out.push_back(dir + "/memory.events");
      }
      continue;
    }
    std::istringstream cs(controllers);
    std::string c;
    while (std::getline(cs, c, ',')) {
      if (c == "memory") out.push_back(Join(Join(cgroup_root, "memory"), path) + "/memory.oom_control");
    }
  }
  return out;
}

bool OomKillDetector::LogNamesOomKill(const std::string& log, pid_t pid, int64_t since_us) {
  const std::string needle = "Killed process " + std::to_string(pid) + " (";
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    // "pri,seq,usec,flags;message"; continuation lines (" KEY=value") have no ';' prefix.
    size_t semi = line.find(';');
    if (semi == std::string::npos || line.empty() || line[0] == ' ') continue;
    size_t c1 = line.find(',');
    size_t c2 = c1 == std::string::npos ? c1 : line.find(',', c1 + 1);
    if (c2 == std::string::npos || c2 > semi) continue;
    int64_t usec = 0;
    try {
      usec = std::stoll(line.substr(c2 + 1, line.find(',', c2 + 1) - c2 - 1));
    } catch (...) {
      continue;
    }
    if (usec < since_us) continue;
    if (line.find(needle, semi + 1) != std::string::npos) return true;
  }
  return false;
}

int64_t OomKillDetector::ReadCount(const std::string& path) {
  bool ok = false;
  std::string text = ReadSmallFile(path, &ok);
  return ok ? ParseOomKillCount(text) : -1;
}

std::vector<std::string> OomKillDetector::ExistingCounterFiles(pid_t pid) const {
  bool ok = false;
  std::string text = ReadSmallFile(Join(options_.proc_root, std::to_string(pid)) + "/cgroup", &ok);
  std::vector<std::string> out;
  if (!ok) return out;
  for (auto& f : CounterFiles(text, options_.cgroup_root)) {
    if (Exists(f)) out.push_back(std::move(f));
  }
  return out;
}

bool OomKillDetector::ReadKernelLog(std::string* out) const {
  if (options_.kmsg_path.empty()) return false;
  int fd = ::open(options_.kmsg_path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  // /dev/kmsg gives one record per read (the buffer must fit it); a plain file
  // (tests) gives chunks. Either way records end with '\n'. Bounded in size.
  char buf[8192];
  const size_t kMaxBytes = 8u << 20;
  bool ok = true;
  while (out->size() < kMaxBytes) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      out->append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0 || errno == EAGAIN) break;
    if (errno == EPIPE || errno == EINTR) continue;  // records overwritten while reading: go on
    ok = false;                                      // EPERM/EINVAL...: not readable here
    break;
  }
  ::close(fd);
  return ok;
}

void OomKillDetector::Track(pid_t pid, int64_t start_us) {
  Tracked t;
  t.start_us = start_us;
  t.files = ExistingCounterFiles(pid);
  for (const auto& f : t.files) {
    if (baseline_.count(f)) continue;  // keep the older value: a kill since then still counts
    int64_t c = ReadCount(f);
    if (c >= 0) baseline_[f] = c;
  }
  tracked_[pid] = std::move(t);
}

OomKillDetector::Verdict OomKillDetector::OnExit(pid_t pid, bool sigkilled) {
  auto it = tracked_.find(pid);
  if (it == tracked_.end()) return Verdict::kUnknown;
  Tracked t = std::move(it->second);
  tracked_.erase(it);
  // Its cgroup now (it may have been moved since it started; a cgroup v1
  // zombie shows the root, i.e. nothing) and the one it started in.
  std::vector<std::string> now = ExistingCounterFiles(pid);
  std::vector<std::string> files = now;
  for (const auto& f : t.files) {
    if (std::find(files.begin(), files.end(), f) == files.end()) files.push_back(f);
  }
  bool grew = false;
  // "No growth" is conclusive only when the counters of the cgroup it died in
  // are visible and have baselines (else it may have died in a cgroup we never saw).
  bool conclusive = !now.empty();
  for (const auto& f : files) {
    int64_t c = ReadCount(f);
    bool is_now = std::find(now.begin(), now.end(), f) != now.end();
    auto b = baseline_.find(f);
    if (c < 0 || b == baseline_.end()) {
      if (is_now) conclusive = false;
    } else {
      grew = grew || c > b->second;
    }
    if (c >= 0) baseline_[f] = c;
  }
  if (!sigkilled) return Verdict::kUnknown;
  std::string log;
  if (ReadKernelLog(&log)) {
    return LogNamesOomKill(log, pid, t.start_us - options_.kmsg_slack_us) ? Verdict::kOomKilled
                                                                          : Verdict::kNotOomKilled;
  }
  if (grew) return Verdict::kOomKilled;
  return conclusive ? Verdict::kNotOomKilled : Verdict::kUnknown;
}

}  // namespace lumos::raylet
