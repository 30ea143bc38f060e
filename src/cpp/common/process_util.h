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
/// \brief Total physical memory in bytes (0 if unknown).
uint64_t PhysicalMemoryBytes();

}  // namespace lumos
