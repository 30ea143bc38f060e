// Fuzzes every fastpath request handler of the raylet (NodeManager): a
// client connection sends arbitrary frames over the raylet's real socket, as
// a local worker or driver would (Unix socket), or as an owner on another node
// (TCP, after AUTHENTICATE). The raylet must answer or drop the connection,
// never crash or hang, and stay able to serve the next input.
// Input: byte 0 is the mode, the rest the frames (fuzz/fastpath_driver.h):
//   bit 0  start with a valid REGISTER_CLIENT as a driver (so inputs reach the
//          handlers past the registration check without discovering it)
//   bit 1  connect over TCP and authenticate first (the remote-owner path;
//          such clients may call a few methods without registering)
//   bit 2  the registration says remote_owner (a core worker of another node)
// One raylet serves every input (a raylet registers with its GCS, an
// in-process GcsServer here, which is too slow to redo per input): state a
// client leaves behind is exactly what a real raylet would keep after a
// hostile client left. Workers it starts for lease requests cannot exist
// (their command is a path that is not there), so no process is spawned and
// no lease is granted: grant paths are outside this harness.
// Speed (docs/ARCHITECTURE.md "Fuzzing"): run.sh passes -detect_leaks=0 (the
// state kept across inputs makes libFuzzer's per-input leak check rescan the
// whole heap; LeakSanitizer still checks the whole run at exit), and the log
// files of each failed worker spawn are removed after the input (LIST_LOGS
// would otherwise list thousands of them). The raylet's and the GCS's
// background threads cost ~1 % (perf): left as in production.
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <filesystem>
#include <string>

#include "common.pb.h"
#include "common/id.h"
#include "fastpath_driver.h"
#include "gcs/gcs_server.h"
#include "node_manager.pb.h"
#include "raylet/node_manager.h"
#include "rpc/cluster_identity.h"
#include "rpc/endpoint.h"
#include "rpc/gcs_client.h"

namespace {
using namespace lumos;

// Built once; stopped at exit (see LLVMFuzzerInitialize).
struct Raylet {
  std::string dir;
  gcs::GcsServer* gcs_server = nullptr;
  asio::io_context io;
  raylet::NodeManager* node_manager = nullptr;
  std::string socket_path;
  int tcp_port = 0;
};

Raylet* g = nullptr;

void RemoveTree(const std::string& path) {
  std::error_code ignored;  // best effort at exit
  std::filesystem::remove_all(path, ignored);
}

// The worker pool names a spawn's logs worker-<raylet pid>-<n>.{out,err} and
// opens them in the child before the exec fails; the two seeded logs stay.
void RemoveSpawnLogs() {
  const std::string prefix = "worker-" + std::to_string(::getpid()) + "-";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(g->dir + "/logs", ec)) {
    if (e.path().filename().string().rfind(prefix, 0) == 0) std::filesystem::remove(e.path(), ec);
  }
}

void Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "raylet_handlers_fuzzer: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ::setenv("LUMOS_LOG_LEVEL", "error", 0);
  rpc::SetClusterToken("fuzz-cluster-token");
  g = new Raylet;
  g->dir = fuzz::MakeTempDir("lumos_fuzz_raylet");
  if (g->dir.empty()) Fail("mkdtemp", Status::IOError(std::strerror(errno)));
  ::atexit([] { RemoveTree(g->dir); });
  ::mkdir((g->dir + "/logs").c_str(), 0700);
  std::ofstream(g->dir + "/logs/worker-1.out") << "line one\nline two\n";
  std::ofstream(g->dir + "/logs/raylet.err") << "an error\n";

  gcs::GcsServerOptions gopts;
  gopts.session_dir = g->dir;
  g->gcs_server = new gcs::GcsServer(gopts);
  if (Status s = g->gcs_server->Start(); !s.ok()) Fail("GCS start", s);
  auto gcs = std::make_shared<rpc::GcsClient>(g->gcs_server->address());
  if (Status s = gcs->Connect(10000); !s.ok()) Fail("GCS connect", s);

  raylet::NodeManagerOptions opts;
  opts.node_id = NodeID::FromBinary(std::string(NodeID::kSize, 'n'));  // fixed: seeds can name it
  opts.socket_path = g->dir + "/raylet.sock";
  opts.store_endpoint = "unix:" + g->dir + "/store.sock";  // never dialed: no store_socket
  opts.session_dir = g->dir;
  opts.resources = ResourceSet::FromMap({{"CPU", 2}, {"custom", 1}}).value();
  opts.worker_pool.worker_argv = {g->dir + "/no-such-worker"};
  opts.worker_pool.log_dir = g->dir + "/logs";
  g->socket_path = opts.socket_path;
  g->node_manager = new raylet::NodeManager(g->io, opts, gcs);
  if (Status s = g->node_manager->Start(); !s.ok()) Fail("raylet start", s);
  std::vector<rpc::NodeInfo> nodes;
  if (Status s = gcs->GetAllNodeInfo(&nodes); !s.ok() || nodes.empty()) Fail("node table", s);
  auto ep = rpc::ParseEndpoint(nodes[0].raylet_endpoint());
  if (!ep.ok() || !ep.value().has_tcp()) Fail("raylet endpoint " + nodes[0].raylet_endpoint(), ep.status());
  g->tcp_port = ep.value().port;
  // Before static destructors run (atexit order): stop the raylet's and the
  // GCS's threads, which would otherwise touch destroyed globals.
  ::atexit([] {
    g->io.stop();  // Stop() acts at once once the loop is stopped
    g->node_manager->Stop("fuzzing done");
    delete g->node_manager;
    g->gcs_server->Shutdown();
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  std::string stream;
  const bool tcp = mode & 2;
  if (tcp) {
    rpc::AuthRequest auth;
    auth.set_token(rpc::ClusterToken());
    auth.set_version(rpc::kLumosVersion);
    stream += fuzz::Frame(rpc::FrameKind::kRequest, rpc::AUTHENTICATE, 1, 0, auth.SerializeAsString());
  }
  if (mode & 1) {
    rpc::RegisterClientRequest reg;
    reg.set_worker_id(std::string(WorkerID::kSize, 'd'));
    reg.set_is_driver(true);
    reg.set_remote_owner(mode & 4);
    reg.set_pid(static_cast<int32_t>(::getpid()));
    reg.set_job_id(JobID::FromInt(1).Binary());
    reg.set_endpoint("unix:" + g->dir + "/nowhere.sock");
    reg.set_runtime("python");
    stream += fuzz::Frame(rpc::FrameKind::kRequest, rpc::REGISTER_CLIENT, 1, 0, reg.SerializeAsString());
  }
  static const std::vector<uint16_t> kMethods = {
      rpc::REGISTER_CLIENT, rpc::REQUEST_WORKER_LEASE, rpc::RETURN_WORKER,    rpc::NOTIFY_BLOCKED,
      rpc::NOTIFY_UNBLOCKED, rpc::DISCONNECT_CLIENT,   rpc::GET_NODE_STATS,   rpc::GET_WORKER_EXIT,
      rpc::LIST_LOGS,        rpc::READ_LOG,            rpc::REQUEST_STACK_DUMP, rpc::PREPARE_BUNDLES,
      rpc::COMMIT_BUNDLES,   rpc::CANCEL_BUNDLES,      rpc::PULL_OBJECTS,     rpc::FREE_REMOTE_OBJECTS,
      rpc::AUTHENTICATE,     rpc::LEASE_INFEASIBLE};
  stream += fuzz::FramesFromInput(data + 1, size - 1, kMethods);
  int fd = tcp ? fuzz::ConnectTcp(g->tcp_port) : fuzz::ConnectUnix(g->socket_path);
  if (fd < 0) Fail("connect to the raylet", Status::IOError(std::strerror(errno)));
  fuzz::PlayStream(g->io, fd, stream);
  RemoveSpawnLogs();
  return 0;
}
