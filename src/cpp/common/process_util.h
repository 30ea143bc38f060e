#pragma once
// Process helpers shared by the lumos executables and the core worker.
#include <sys/types.h>

#include <cstdint>

namespace lumos {

/// \brief Makes this process get `sig` when the parent that started it dies,
/// and returns false if that parent (`expected_parent`) is already gone.
/// Call first thing in main(); no-op when expected_parent <= 0.
bool TieLifetimeToParent(pid_t expected_parent, int sig);
/// \brief Sends this process `sig` when process `lifeline` (its parent, the
/// driver that started it) exits, and returns false if that parent is
/// already gone. Unlike PR_SET_PDEATHSIG, which fires when the parent
/// *thread* that spawned us exits (a driver calling init() from a thread
/// that then ends, or restarting the GCS from a helper thread), this watches
/// the parent process itself (a pidfd, polled on a thread of its own).
/// No-op when lifeline <= 0. Call before other threads start.
bool WatchLifeline(pid_t lifeline, int sig);
/// \brief Raises this process's soft RLIMIT_NOFILE to its hard limit (at most
/// 65536; never lowers it). The
/// daemons (raylet with its object store, GCS) hold one descriptor per
/// client connection, and a common soft default of 1024 would make a node
/// with ~1,000 connected workers, drivers and peers refuse new ones (accept
/// failing with EMFILE). Returns the soft limit in force afterwards.
uint64_t RaiseFdLimit();
/// \brief Total physical memory in bytes (0 if unknown).
uint64_t PhysicalMemoryBytes();

}  // namespace lumos
