// Head restart cost: writes a GCS database holding N actors (ALIVE, named,
// detached, with a creation task and a lease) and M CREATED placement groups
// through GcsStorage, then times `gcs_server --gcs-storage` from spawn to its
// first answered CheckAlive (it binds only after loading every table).
//
//   gcs_restart_benchmark [--actors=10000] [--groups=1000] [--runs=3]
//
// Prints the write time, and per run the time to serve and the load time the
// GCS logged. Target (issue 12): < 2 s for 10,000 actors and 1,000 groups.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "common/flags.h"
#include "gcs/gcs_storage.h"
#include "gcs_service.pb.h"
#include "rpc/cluster_identity.h"
#include "rpc/gcs_client.h"

extern char** environ;

namespace {
using Clock = std::chrono::steady_clock;
double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
int FreePort() { return 20000 + static_cast<int>(getpid() % 20000); }
}  // namespace

int main(int argc, char** argv) {
  using namespace lumos;
  auto flags = Flags::Parse(argc, argv);
  if (!flags.ok()) return 2;
  const int64_t actors = flags.value().GetInt("actors", 10000);
  const int64_t groups = flags.value().GetInt("groups", 1000);
  const int64_t runs = flags.value().GetInt("runs", 3);
  char tmpl[] = "/tmp/gcs_restart_bench_XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string db = dir + "/gcs.db", token = dir + "/token";
  std::ofstream(token) << std::string(64, 'a');

  auto t0 = Clock::now();
  {
    auto st = gcs::GcsStorage::Open(db);
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.status().ToString().c_str());
      return 1;
    }
    NodeID node = NodeID::FromRandom();
    std::vector<gcs::GcsStorage::Op> ops;
    for (int64_t i = 0; i < actors; i++) {
      rpc::StoredActor row;
      std::string id = WorkerID::FromRandom().Binary();
      auto* d = row.mutable_data();
      d->set_actor_id(id);
      d->set_state(rpc::ActorTableData::ALIVE);
      d->set_name("actor_" + std::to_string(i));
      d->set_ray_namespace("bench");
      d->set_detached(true);
      d->set_class_name("Counter");
      d->set_version(3);
      d->mutable_owner()->set_worker_id(WorkerID::FromRandom().Binary());
      auto* t = row.mutable_creation_task();
      t->mutable_actor_creation()->set_actor_id(id);
      t->mutable_actor_creation()->set_detached(true);
      t->mutable_actor_creation()->set_name(d->name());
      t->mutable_actor_creation()->set_serialized_handle(std::string(200, 'h'));
      (*t->mutable_placement_resources())["CPU"] = 1;
      row.set_has_lease(true);
      row.set_lease_node_id(node.Binary());
      row.set_lease_id(static_cast<uint64_t>(i + 1));
      row.mutable_lease_worker()->set_worker_id(WorkerID::FromRandom().Binary());
      row.mutable_lease_worker()->set_endpoint(dir + "/no_such_worker_" + std::to_string(i));
      ops.push_back({gcs::GcsStorage::Table::kActors, id, row.SerializeAsString()});
    }
    for (int64_t i = 0; i < groups; i++) {
      rpc::PlacementGroupTableData pg;
      pg.set_placement_group_id(WorkerID::FromRandom().Hex());
      pg.set_state(rpc::PlacementGroupTableData::CREATED);
      pg.set_detached(true);
      for (int b = 0; b < 2; b++) {
        auto* bundle = pg.add_bundles();
        bundle->set_index(b);
        bundle->set_node_id(node.Binary());
        (*bundle->mutable_unit_resources())["CPU"] = 1;
      }
      ops.push_back({gcs::GcsStorage::Table::kPlacementGroups, pg.placement_group_id(), pg.SerializeAsString()});
    }
    Status s = st.value()->Apply(ops);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
  }
  std::printf("wrote %lld actors and %lld placement groups in %.0f ms (%ld KiB)\n",
              static_cast<long long>(actors), static_cast<long long>(groups), Ms(t0, Clock::now()),
              static_cast<long>(std::ifstream(db, std::ios::ate | std::ios::binary).tellg() / 1024));

  rpc::LoadClusterToken(token);
  for (int64_t r = 0; r < runs; r++) {
    int port = FreePort() + static_cast<int>(r);
    std::string p = "--port=" + std::to_string(port), s = "--gcs-storage=" + db, tk = "--auth-token-file=" + token;
    std::string bin = GCS_SERVER_BIN;
    std::vector<char*> args = {bin.data(), p.data(), s.data(), tk.data(), nullptr};
    auto start = Clock::now();
    pid_t pid;
    if (posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return 1;
    rpc::GcsClient client("127.0.0.1:" + std::to_string(port));
    Status ok = client.Connect(30000);
    auto served = Clock::now();
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!ok.ok()) {
      std::fprintf(stderr, "run %lld: %s\n", static_cast<long long>(r), ok.ToString().c_str());
      return 1;
    }
    std::printf("run %lld: gcs_server spawn -> first CheckAlive answered: %.0f ms\n", static_cast<long long>(r),
                Ms(start, served));
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((db + suffix).c_str());
  std::remove(token.c_str());
  rmdir(dir.c_str());
  return 0;
}
