#pragma once
// Process helpers shared by the lumos executables and the core worker.
#include <sys/types.h>

#include <cstdint>

namespace lumos {

/// \brief Makes this process get `sig` when the parent that started it dies,
/// and returns false if that parent (`expected_parent`) is already gone.
/// Call first thing in main(); no-op when expected_parent <= 0.
bool TieLifetimeToParent(pid_t expected_parent, int sig);
/// \brief Total physical memory in bytes (0 if unknown).
uint64_t PhysicalMemoryBytes();

}  // namespace lumos
