#pragma once
// OomKillDetector: tells whether a worker that died of SIGKILL was killed by
// the kernel's OOM killer, so its WorkerCrashedError can say so instead of
// guessing. Consulted only for SIGKILL deaths, while the dead worker is still
// a zombie (its /proc/<pid>/cgroup is readable until it is reaped).
//
// Sources, best first:
//  1. The kernel log (/dev/kmsg; needs CAP_SYSLOG or dmesg_restrict=0). The
//     OOM killer logs "...: Killed process <pid> (<comm>) ..." in the same call
//     that sends the SIGKILL, so the record exists before the victim can exit:
//     pid-exact, and its absence means "not the OOM killer".
//  2. The oom_kill counter of the worker's memory cgroup: cgroup v2
//     memory.events.local / memory.events, cgroup v1 memory.oom_control. The
//     kernel raises it in that same call, for cgroup and global OOM kills
//     alike. It counts kills, not pids: growth since the last worker exit in
//     that cgroup is blamed on this SIGKILL (an OOM kill of another process in
//     the same cgroup meanwhile could be misattributed; the kernel log, when
//     readable, decides instead). No growth means "not the OOM killer" when
//     the cgroup the worker died in is visible and was seen before (cgroup v2;
//     a cgroup v1 zombie shows the root cgroup, so there no growth is unknown).
//  When neither source can be read (or the cgroup was never seen before, so no
//  baseline exists), the verdict is kUnknown and callers keep their hedge.
//
// Paths are options so tests run it over a fake /proc, cgroup tree and log.
// Thread safety: none (the raylet's event loop thread only). No exceptions;
// unreadable files only make the verdict kUnknown.
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lumos::raylet {

class OomKillDetector {
 public:
  struct Options {
    std::string proc_root = "/proc";
    std::string cgroup_root = "/sys/fs/cgroup";
    std::string kmsg_path = "/dev/kmsg";  // empty: do not read the kernel log
    // Kernel log records older than the worker's start minus this are ignored
    // (an earlier process with the same pid).
    int64_t kmsg_slack_us = 2'000'000;
  };
  enum class Verdict { kUnknown, kOomKilled, kNotOomKilled };

  OomKillDetector() : OomKillDetector(Options()) {}
  explicit OomKillDetector(Options options);

  /// \brief A worker started (`start_us`: CLOCK_MONOTONIC microseconds, the kernel
  /// log's clock). Records baselines of its cgroup's oom_kill counters.
  void Track(pid_t pid, int64_t start_us);
  /// \brief The worker exited and is not reaped yet. For a SIGKILL
  /// (`sigkilled`) judges whether the OOM killer sent it; any exit refreshes the
  /// counter baselines of its cgroup and forgets the pid. kUnknown for pids
  /// never tracked or exits that were not SIGKILLs.
  Verdict OnExit(pid_t pid, bool sigkilled);

  /// \brief The oom_kill value in a memory.events / memory.oom_control text, or
  /// -1 when it has none.
  static int64_t ParseOomKillCount(const std::string& text);
  /// \brief The counter files a process's /proc/<pid>/cgroup text points at
  /// (candidates under `cgroup_root`; callers keep those that exist): v2
  /// ("0::<path>", under the root or its "unified" mount) and v1 memory. The
  /// root cgroup ("/") gives none.
  static std::vector<std::string> CounterFiles(const std::string& proc_cgroup, const std::string& cgroup_root);
  /// \brief True when a kernel log text (records "pri,seq,usec,flags;message",
  /// one a line) has an OOM kill of `pid` at or after `since_us`.
  static bool LogNamesOomKill(const std::string& log, pid_t pid, int64_t since_us);

 private:
  struct Tracked {
    int64_t start_us = 0;
    std::vector<std::string> files;
  };
  // Files of pid's cgroup (now) that exist.
  std::vector<std::string> ExistingCounterFiles(pid_t pid) const;
  // Reads a counter; -1 when unreadable.
  static int64_t ReadCount(const std::string& path);
  // The kernel log's text, or false when it cannot be read.
  bool ReadKernelLog(std::string* out) const;

  Options options_;
  std::map<pid_t, Tracked> tracked_;
  std::map<std::string, int64_t> baseline_;  // counter file -> value at the last look
};

}  // namespace lumos::raylet
