#include "common/process_util.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

namespace lumos {

bool TieLifetimeToParent(pid_t expected_parent, int sig) {
  if (expected_parent <= 0) return true;
  prctl(PR_SET_PDEATHSIG, sig);
  // The parent may have died before prctl took effect.
  return getppid() == expected_parent;
}

bool WatchLifeline(pid_t lifeline, int sig) {
  if (lifeline <= 0) return true;
#ifdef SYS_pidfd_open
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, lifeline, 0));
#else
  int fd = -1;
#endif
  // Opened while the parent is alive (checked after), so a recycled pid is never watched.
  if (getppid() != lifeline) {
    if (fd >= 0) ::close(fd);
    return false;
  }
  std::thread([fd, lifeline, sig] {
    if (fd >= 0) {
      pollfd p{fd, POLLIN, 0};
      while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
      }
    } else {
      // No pidfd (kernel < 5.3): our parent changes when it dies.
      while (getppid() == lifeline) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    ::kill(getpid(), sig);
  }).detach();
  return true;
}

uint64_t RaiseFdLimit() {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  // Capped: a hard limit of 2^30 (some containers) would make anything that
  // walks every possible descriptor (old close-all-fds loops in the workers
  // this process spawns) crawl.
  const rlim_t target = std::min<rlim_t>(rl.rlim_max, 65536);
  if (rl.rlim_cur < target) {
    struct rlimit raised = rl;
    raised.rlim_cur = target;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return static_cast<uint64_t>(rl.rlim_cur);
}

uint64_t PhysicalMemoryBytes() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * page : 0;
}

}  // namespace lumos
