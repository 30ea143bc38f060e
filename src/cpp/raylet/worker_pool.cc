#include "raylet/worker_pool.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "common/logging.h"
#include "rpc/connection.h"

extern char** environ;

namespace lumos::raylet {

WorkerPool::WorkerPool(asio::io_context& io, Options options, ExitCallback on_exit)
    : io_(io), options_(std::move(options)), on_exit_(std::move(on_exit)), sigchld_(io, SIGCHLD) {
  WaitForSignal();
}

WorkerPool::~WorkerPool() {
  asio::error_code ec;
  sigchld_.cancel(ec);
}

Status WorkerPool::StartWorker(pid_t* pid_out) {
  std::vector<char*> argv;
  for (auto& a : options_.worker_argv) argv.push_back(const_cast<char*>(a.c_str()));
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
  if (procs_.count(pid)) ::kill(pid, sig);
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
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    auto it = procs_.find(pid);
    if (it == procs_.end()) continue;
    bool registered = it->second.registered;
    procs_.erase(it);
    if (on_exit_) on_exit_(pid, status, registered);
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

std::string WorkerPool::DescribeExit(int wait_status) {
  if (WIFEXITED(wait_status)) return "exit code " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    return "signal " + std::to_string(sig) + " (" + strsignal(sig) + ")" +
           (sig == SIGKILL ? "; a SIGKILL often means the kernel's OOM killer" : "");
  }
  return "status " + std::to_string(wait_status);
}

}  // namespace lumos::raylet
