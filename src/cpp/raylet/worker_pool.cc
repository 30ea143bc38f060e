#include "raylet/worker_pool.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "common/logging.h"
#include "rpc/connection.h"

extern char** environ;

namespace lumos::raylet {

WorkerPool::WorkerPool(asio::io_context& io, Options options, ExitCallback on_exit)
    : io_(io), options_(std::move(options)), on_exit_(std::move(on_exit)), sigchld_(io, SIGCHLD),
      oom_(options_.oom) {
  WaitForSignal();
}

WorkerPool::~WorkerPool() {
  asio::error_code ec;
  sigchld_.cancel(ec);
}

Status WorkerPool::StartWorker(pid_t* pid_out, const std::vector<std::string>& extra_args) {
  std::vector<char*> argv;
  for (auto& a : options_.worker_argv) argv.push_back(const_cast<char*>(a.c_str()));
  for (auto& a : extra_args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  // Name logs by a start counter; the pid is known only after the spawn.
  static int counter = 0;
  std::string base = options_.log_dir + "/worker-" + std::to_string(getpid()) + "-" +
                     std::to_string(counter++);
  posix_spawn_file_actions_addopen(&fa, 1, (base + ".out").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, (base + ".err").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t def;
  sigemptyset(&def);
  sigaddset(&def, SIGTERM);
  sigaddset(&def, SIGINT);
  sigaddset(&def, SIGCHLD);
  sigaddset(&def, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &def);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return Status::IOError("cannot start worker '" + options_.worker_argv[0] + "': " + strerror(rc));
  }
  procs_[pid] = Proc{false, rpc::NowMs()};
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);  // the kernel log's clock
  oom_.Track(pid, static_cast<int64_t>(now.tv_sec) * 1000000 + now.tv_nsec / 1000);
  *pid_out = pid;
  return Status::OK();
}

bool WorkerPool::MarkRegistered(pid_t pid) {
  auto it = procs_.find(pid);
  if (it == procs_.end() || it->second.registered) return false;
  it->second.registered = true;
  return true;
}

size_t WorkerPool::num_starting() const {
  size_t n = 0;
  for (const auto& [pid, p] : procs_) n += !p.registered;
  return n;
}

std::vector<pid_t> WorkerPool::OverdueStarts(int64_t deadline_ms) const {
  std::vector<pid_t> out;
  for (const auto& [pid, p] : procs_) {
    if (!p.registered && p.started_ms < deadline_ms) out.push_back(pid);
  }
  return out;
}

void WorkerPool::Kill(pid_t pid, int sig) {
  auto it = procs_.find(pid);
  if (it == procs_.end()) return;
  if (sig == SIGKILL && !it->second.killed_by_raylet) {
    // Already dying (e.g. the OOM killer got it, and the hang-up of its socket,
    // closed on the way out, made us kill it)? Then this kill is not what ended it.
    siginfo_t info{};
    bool exited = ::waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    if (!exited && !StatSaysExiting(text)) it->second.killed_by_raylet = true;
  }
  ::kill(pid, sig);
}

bool WorkerPool::StatSaysExiting(const std::string& stat) {
  // "pid (comm) state ppid pgrp session tty_nr tpgid flags ..."; comm may hold
  // spaces and ')', so count from the last ')'.
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream in(stat.substr(close + 1));
  std::string field;
  for (int i = 0; i < 7; i++) {
    if (!(in >> field)) return false;
  }
  if (field.empty() || !std::all_of(field.begin(), field.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return false;
  }
  constexpr unsigned long kPfExiting = 0x00000004;  // PF_EXITING, set when do_exit starts
  try {
    return (std::stoul(field) & kPfExiting) != 0;
  } catch (...) {
    return false;
  }
}

void WorkerPool::WaitForSignal() {
  sigchld_.async_wait([this](asio::error_code ec, int) {
    if (ec) return;
    Reap();
    WaitForSignal();
  });
}

void WorkerPool::Reap() {
  while (true) {
    // Look before reaping: the OOM verdict reads the zombie's /proc entry.
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid <= 0) break;
    pid_t pid = info.si_pid;
    auto it = procs_.find(pid);
    OomKillDetector::Verdict oom = OomKillDetector::Verdict::kUnknown;
    if (it != procs_.end()) {
      bool sigkilled = (info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED) && info.si_status == SIGKILL;
      // The raylet's own kills need no verdict (and reading the kernel log costs ms).
      oom = oom_.OnExit(pid, sigkilled && !it->second.killed_by_raylet);
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) != pid) break;
    if (it == procs_.end()) continue;
    bool registered = it->second.registered;
    bool by_raylet = it->second.killed_by_raylet;
    procs_.erase(it);
    if (on_exit_) on_exit_(pid, status, registered, DescribeExit(status, oom, by_raylet));
  }
}

void WorkerPool::KillAll(int64_t grace_ms) {
  for (const auto& [pid, p] : procs_) ::kill(pid, SIGTERM);
  int64_t deadline = rpc::NowMs() + grace_ms;
  while (!procs_.empty() && rpc::NowMs() < deadline) {
    for (auto it = procs_.begin(); it != procs_.end();) {
      int status;
      if (::waitpid(it->first, &status, WNOHANG) == it->first) {
        it = procs_.erase(it);
      } else {
        ++it;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (const auto& [pid, p] : procs_) {
    ::kill(pid, SIGKILL);
    int status;
    ::waitpid(pid, &status, 0);
  }
  procs_.clear();
}

std::string WorkerPool::DescribeExit(int wait_status, OomKillDetector::Verdict oom, bool killed_by_raylet) {
  if (WIFEXITED(wait_status)) return "exit code " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    std::string out = "signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
    if (sig != SIGKILL) return out;
    if (oom == OomKillDetector::Verdict::kOomKilled) {
      return out + ": killed by the kernel's OOM killer (the node, or the worker's memory cgroup, ran out of "
                   "memory); use less memory per task or run fewer tasks at once (e.g. more num_cpus or memory= "
                   "per task)";
    }
    if (killed_by_raylet) return out + ", sent by the raylet";
    if (oom == OomKillDetector::Verdict::kNotOomKilled) return out + ", sent by a process (not the OOM killer)";
    return out + "; a SIGKILL often means the kernel's OOM killer";
  }
  return "status " + std::to_string(wait_status);
}

}  // namespace lumos::raylet
