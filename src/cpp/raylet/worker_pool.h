#pragma once
// WorkerPool: starts Python worker processes (posix_spawn, never a bare fork:
// the raylet runs gRPC) and reaps them. It knows processes, not leases: the
// LeaseManager decides who works on what.
//
// Each worker's stdout/stderr go to <log_dir>/worker-<pid>.{out,err}. Exits are
// reported through the exit callback on the event loop thread (SIGCHLD via
// asio::signal_set), with a description that, for a SIGKILL, says whether the
// kernel's OOM killer sent it (OomKillDetector, consulted before the zombie is
// reaped). Thread safety: event loop thread only.
#include <sys/types.h>

#include <asio.hpp>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "raylet/oom_kill_detector.h"

namespace lumos::raylet {

class WorkerPool {
 public:
  struct Options {
    std::vector<std::string> worker_argv;  // e.g. python -m lumos._private.workers.default_worker ...
    std::string log_dir;
    // Where the OOM kill detection looks (see OomKillDetector).
    OomKillDetector::Options oom;
  };
  // `description`: DescribeExit of the status, with the OOM verdict of a SIGKILL.
  using ExitCallback =
      std::function<void(pid_t pid, int wait_status, bool registered, const std::string& description)>;

  WorkerPool(asio::io_context& io, Options options, ExitCallback on_exit);
  ~WorkerPool();

  /// \brief Starts worker_argv plus `extra_args` (e.g. --runtime-env=...).
  Status StartWorker(pid_t* pid, const std::vector<std::string>& extra_args = {});
  /// \brief Marks a started process registered; false if we did not start it.
  bool MarkRegistered(pid_t pid);
  size_t num_starting() const;
  /// \brief Pids started before `deadline_ms` (steady clock) that never registered.
  std::vector<pid_t> OverdueStarts(int64_t deadline_ms) const;
  /// \brief SIGTERM to every worker, then SIGKILL to those alive after grace_ms. Blocking.
  void KillAll(int64_t grace_ms);
  void Kill(pid_t pid, int sig);
  /// \brief Human readable description of a wait status ("exit code 1", "signal 9 (Killed)").
  /// A SIGKILL says who sent it when known: the OOM killer (`oom`), the raylet
  /// (`killed_by_raylet`), another process; else that it may have been the OOM killer.
  /// \brief True when a /proc/<pid>/stat text has PF_EXITING in its flags (the
  /// process is on its way out, whatever killed it).
  static bool StatSaysExiting(const std::string& stat);
  static std::string DescribeExit(int wait_status,
                                  OomKillDetector::Verdict oom = OomKillDetector::Verdict::kUnknown,
                                  bool killed_by_raylet = false);

 private:
  void WaitForSignal();
  void Reap();

  asio::io_context& io_;
  Options options_;
  ExitCallback on_exit_;
  asio::signal_set sigchld_;
  struct Proc {
    bool registered = false;
    int64_t started_ms = 0;
    bool killed_by_raylet = false;  // SIGKILLed by Kill while it was alive
  };
  std::map<pid_t, Proc> procs_;
  OomKillDetector oom_;
};

}  // namespace lumos::raylet
