// raylet: one per node. Runs the node manager (worker pool, leases) on the main
// thread's event loop and the shared-memory object store on its own thread.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "common/config.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/process_util.h"
#include "object_store/store_server.h"
#include "raylet/node_manager.h"
#include "rpc/cluster_identity.h"
#include "rpc/event_loop.h"
#include "rpc/gcs_client.h"

using namespace lumos;

namespace {
constexpr const char* kKnownFlags =
    "node-id,node-ip,session-dir,gcs-address,resources,object-store-memory,raylet-socket,"
    "store-socket,python,num-prestart-workers,lifeline-pid,head,log-dir,spill-dir,auth-token-file,port,"
    "object-manager-port,labels";

int Fail(const Status& s) {
  std::cerr << "raylet: " << s.ToString() << std::endl;
  return 2;
}
}  // namespace

int main(int argc, char** argv) {
  SetLogComponent("raylet");
  auto parsed = Flags::Parse(argc, argv);
  if (!parsed.ok()) return Fail(parsed.status());
  Flags flags = parsed.MoveValue();
  if (Status s = flags.CheckKnown(kKnownFlags); !s.ok()) return Fail(s);
  if (!WatchLifeline(static_cast<pid_t>(flags.GetInt("lifeline-pid", 0)), SIGTERM)) return 1;
  signal(SIGPIPE, SIG_IGN);
  RaiseFdLimit();  // one descriptor per connected client: see RaiseFdLimit

  for (const char* required : {"session-dir", "gcs-address", "raylet-socket", "store-socket", "python"}) {
    if (!flags.Has(required)) return Fail(Status::InvalidArgument(std::string("--") + required + " is required"));
  }
  if (Status s = rpc::LoadClusterToken(flags.GetString("auth-token-file", "")); !s.ok()) return Fail(s);
  rpc::SetLocalNodeIp(flags.GetString("node-ip", "127.0.0.1"));
  auto resources_map = ParseResourceList(flags.GetString("resources", ""));
  if (!resources_map.ok()) return Fail(resources_map.status());
  auto resources = ResourceSet::FromMap(resources_map.value());
  if (!resources.ok()) return Fail(resources.status());

  NodeID node_id = flags.Has("node-id") ? NodeID::FromHex(flags.GetString("node-id")) : NodeID::FromRandom();
  if (node_id.IsNil()) return Fail(Status::InvalidArgument("--node-id must be 32 hex digits"));
  uint64_t store_bytes = static_cast<uint64_t>(flags.GetInt("object-store-memory", 0));
  if (store_bytes == 0) store_bytes = PhysicalMemoryBytes() * 3 / 10;

  std::string session_dir = flags.GetString("session-dir");
  std::string store_socket = flags.GetString("store-socket");

  // Object store thread.
  rpc::EventLoop store_loop;
  object_store::SpillOptions spill;
  spill.enabled = Config::Get().object_spilling_enabled() != 0;
  spill.fsync = Config::Get().object_spilling_fsync() != 0;
  spill.batch_object_max_bytes = static_cast<uint64_t>(std::max<int64_t>(0, Config::Get().object_spilling_batch_object_bytes()));
  spill.batch_max_bytes = static_cast<uint64_t>(std::max<int64_t>(0, Config::Get().object_spilling_batch_bytes()));
  spill.batch_max_objects = static_cast<uint64_t>(std::max<int64_t>(1, Config::Get().max_fused_object_count()));
  spill.directory = flags.GetString("spill-dir", session_dir + "/spill");
  spill.arena_fallback_directory = session_dir;
  object_store::StoreServer store(store_loop.io(), store_socket, store_bytes, spill);
  if (Status s = store.Start(); !s.ok()) return Fail(s);
  store_loop.Start("object_store");

  auto gcs = std::make_shared<rpc::GcsClient>(flags.GetString("gcs-address"));
  if (Status s = gcs->Connect(Config::Get().gcs_connect_timeout_ms()); !s.ok()) return Fail(s);

  raylet::NodeManagerOptions opts;
  opts.node_id = node_id;
  opts.node_ip = flags.GetString("node-ip", "127.0.0.1");
  opts.socket_path = flags.GetString("raylet-socket");
  opts.store_endpoint = "unix:" + store_socket;
  opts.store_socket = store_socket;
  opts.fill_store_stats = [&store](rpc::GetNodeStatsReply* reply) {
    const object_store::StoreStats s = store.Stats();  // thread safe
    reply->set_store_capacity(s.capacity);
    reply->set_store_used(s.used);
    reply->set_store_num_objects(s.num_objects);
    reply->set_store_spilled_bytes(s.spilled_bytes);
    reply->set_store_num_spilled(s.num_spilled);
  };
  opts.port = static_cast<int>(flags.GetInt("port", 0));
  opts.object_manager_port = static_cast<int>(flags.GetInt("object-manager-port", 0));
  if (flags.Has("labels")) {
    auto labels = ParseStringMap(flags.GetString("labels"));
    if (!labels.ok()) return Fail(labels.status());
    opts.labels = labels.MoveValue();
  }
  opts.session_dir = session_dir;
  opts.resources = resources.value();
  opts.num_prestart_workers = static_cast<int>(flags.GetInt("num-prestart-workers", 0));
  opts.object_store_memory = store_bytes;
  opts.is_head = flags.GetBool("head");
  opts.worker_pool.log_dir = flags.GetString("log-dir", session_dir + "/logs");
  opts.worker_pool.worker_argv = {
      flags.GetString("python"), "-m", "lumos._private.workers.default_worker",
      "--raylet-socket=" + opts.socket_path, "--store-socket=" + store_socket,
      "--gcs-address=" + flags.GetString("gcs-address"), "--node-id=" + node_id.Hex(),
      "--session-dir=" + session_dir, "--raylet-pid=" + std::to_string(getpid()),
      "--node-ip=" + opts.node_ip};

  rpc::EventLoop main_loop;
  raylet::NodeManager node_manager(main_loop.io(), opts, gcs);
  asio::signal_set signals(main_loop.io(), SIGTERM, SIGINT);
  signals.async_wait([&](asio::error_code ec, int sig) {
    if (ec) return;
    LUMOS_LOG(Info) << "signal " << sig << ": shutting down";
    node_manager.Stop("raylet received signal " + std::to_string(sig));
    main_loop.Stop();
  });
  if (Status s = node_manager.Start(); !s.ok()) return Fail(s);
  LUMOS_LOG(Info) << "raylet " << node_id.Hex() << " up: " << opts.socket_path << " resources "
                  << opts.resources.ToString() << " store " << store_bytes << " bytes, spilling "
                  << (spill.enabled ? "to " + spill.directory : std::string("disabled"));
  main_loop.RunInThisThread();
  store.Stop();
  store_loop.Stop();
  return 0;
}
