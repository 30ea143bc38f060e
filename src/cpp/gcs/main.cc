// gcs_server: the GCS daemon. Started by `lumos.init()` / `lumos start --head`.
//
//   gcs_server [--host=127.0.0.1] [--port=0] [--port-file=PATH]
//              [--session-dir=DIR] [--lifeline-pid=PID] [--gcs-storage=PATH]
//
// --gcs-storage keeps the GCS tables in that SQLite file (created if
// missing); a GCS started again on the same file and port carries on where
// the previous one stopped (see gcs_server.h). Without it: memory only.
//
// --port=0 lets the OS pick; the chosen port is written to --port-file (write
// to a temporary file, then rename, so readers never see a partial file).
// --lifeline-pid ties the GCS's life to its parent: it gets SIGTERM when the
// parent dies (even by SIGKILL) and exits at once if the parent is already gone.
// SIGTERM/SIGINT shut down cleanly with exit code 0.
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "common/flags.h"
#include "common/logging.h"
#include "common/process_util.h"
#include "gcs/gcs_server.h"
#include "rpc/cluster_identity.h"

namespace {

constexpr const char* kKnownFlags = "host,port,port-file,session-dir,lifeline-pid,auth-token-file,gcs-storage";
constexpr const char* kUsage =
    "usage: gcs_server [--host=127.0.0.1] [--port=0] [--port-file=PATH] "
    "[--session-dir=DIR] [--lifeline-pid=PID] [--auth-token-file=PATH] [--gcs-storage=PATH]\n";

// Writes `content` to `path` atomically (temporary file + rename).
bool WriteFileAtomically(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return false;
  bool ok = std::fwrite(content.data(), 1, content.size(), f) == content.size();
  ok = (std::fclose(f) == 0) && ok;
  if (ok) ok = std::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) std::remove(tmp.c_str());
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  lumos::SetLogComponent("gcs_server");
  auto parsed = lumos::Flags::Parse(argc, argv);
  lumos::Status s = parsed.ok() ? parsed.value().CheckKnown(kKnownFlags) : parsed.status();
  if (!s.ok()) {
    std::fprintf(stderr, "gcs_server: %s\n%s", s.message().c_str(), kUsage);
    return 2;
  }
  const lumos::Flags& flags = parsed.value();

  // One malloc arena, not glibc's default of 8 per core: gRPC serves each
  // call on whichever of its threads is free, so a task attempt is made in
  // one thread's arena and freed (evicted) from another's, and a freed chunk
  // is reusable only by the threads of its own arena. With 8 a soak's GCS
  // grew ~10 MB/min with a full, bounded task table; with 2 the heaps still
  // crept up (+1 MB/min over minutes 7-11 of a soak, the second arena's
  // 30.2 -> 33.2 MB, while bytes in use rose 0.4 MB/min). Its threads
  // mostly wait (the task table has its own lock): one arena costs little.
  mallopt(M_ARENA_MAX, 1);

  // Block the shutdown signals before any thread exists, so every thread
  // inherits the mask and only the sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  lumos::RaiseFdLimit();  // one descriptor per raylet, driver and tool: see RaiseFdLimit
  const int64_t lifeline = flags.GetInt("lifeline-pid", 0);
  if (!lumos::WatchLifeline(static_cast<pid_t>(lifeline), SIGTERM)) {
    LUMOS_LOG(Warning) << "parent " << lifeline << " is already gone; exiting";
    return 1;
  }

  if (lumos::Status ts = lumos::rpc::LoadClusterToken(flags.GetString("auth-token-file", "")); !ts.ok()) {
    std::fprintf(stderr, "gcs_server: %s\n", ts.message().c_str());
    return 2;
  }
  lumos::gcs::GcsServerOptions options;
  options.host = flags.GetString("host", options.host);
  // Peers on this IP are dialed over their Unix sockets, others over TCP.
  lumos::rpc::SetLocalNodeIp(options.host);
  const int64_t port = flags.GetInt("port", 0);
  if (port < 0 || port > 65535) {
    std::fprintf(stderr, "gcs_server: bad --port '%s' (0..65535)\n",
                 flags.GetString("port").c_str());
    return 2;
  }
  options.port = static_cast<int>(port);
  options.session_dir = flags.GetString("session-dir");
  options.storage_path = flags.GetString("gcs-storage", "");

  lumos::gcs::GcsServer server(options);
  s = server.Start();
  if (!s.ok()) {
    LUMOS_LOG(Error) << s.ToString();
    return 1;
  }
  const std::string port_file = flags.GetString("port-file");
  if (!port_file.empty() && !WriteFileAtomically(port_file, std::to_string(server.port()) + "\n")) {
    LUMOS_LOG(Error) << "cannot write port file " << port_file << ": " << std::strerror(errno);
    server.Shutdown();
    return 1;
  }

  // Waiting for a stop signal, every kTrimPeriod glibc gives the free pages
  // inside its heaps back to the OS (malloc_trim(0) returns whole free pages
  // anywhere in a heap, not only at its top). Tables that churn (task
  // attempts, dead actors) leave freed holes that later allocations only
  // partly refill; without this the RSS of a soak's GCS rose in steps of a
  // few MB while the bytes in use stayed flat (mallinfo2: 8-14 MB free).
  constexpr timespec kTrimPeriod{10, 0};
  int sig = -1;
  while (sig <= 0) {
    sig = sigtimedwait(&stop_signals, nullptr, &kTrimPeriod);
    if (sig < 0 && errno == EAGAIN) malloc_trim(0);
  }
  LUMOS_LOG(Info) << "received " << strsignal(sig) << ", shutting down";
  server.Shutdown();
  return 0;
}
