#include "common/process_util.h"

#include <sys/prctl.h>
#include <unistd.h>

namespace lumos {

bool TieLifetimeToParent(pid_t expected_parent, int sig) {
  if (expected_parent <= 0) return true;
  prctl(PR_SET_PDEATHSIG, sig);
  // The parent may have died before prctl took effect.
  return getppid() == expected_parent;
}

uint64_t PhysicalMemoryBytes() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * page : 0;
}

}  // namespace lumos
