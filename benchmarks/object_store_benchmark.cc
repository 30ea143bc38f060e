// Object store: a StoreServer on an EventLoop thread, a StoreClient in the
// benchmark thread (same process, real Unix socket and shared memory).
//   BM_SmallObjectLifecycle  create + write + seal + get + release + delete of 100 bytes
//   BM_CreateLarge           create + memcpy of 100 MiB + seal (+ delete), bytes/s
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "object_store/store_client.h"
#include "object_store/store_server.h"
#include "rpc/event_loop.h"

namespace lumos::object_store {
namespace {

constexpr uint64_t kArena = 256ull << 20;
constexpr uint64_t kLarge = 100ull << 20;

class Store {
 public:
  Store() {
    char tmpl[] = "/tmp/lumos_b_XXXXXX";
    dir_ = mkdtemp(tmpl);
    server_ = std::make_unique<StoreServer>(loop_.io(), dir_ + "/store.sock", kArena);
    ok_ = server_->Start().ok();
    loop_.Start("bench_store");
    ok_ = ok_ && client_.Connect(dir_ + "/store.sock", me_, 2000).ok();
  }
  ~Store() {
    server_.reset();
    rmdir(dir_.c_str());
  }
  bool ok() const { return ok_; }
  StoreClient& client() { return client_; }
  const WorkerID& me() const { return me_; }

 private:
  rpc::EventLoop loop_;
  std::string dir_;
  std::unique_ptr<StoreServer> server_;
  StoreClient client_;
  WorkerID me_ = WorkerID::FromRandom();
  bool ok_ = false;
};

void BM_SmallObjectLifecycle(benchmark::State& state) {
  Store store;
  if (!store.ok()) {
    state.SkipWithError("setup failed");
    return;
  }
  StoreClient& c = store.client();
  TaskID task = TaskID::ForJob(JobID::FromInt(1));
  uint32_t n = 0;
  std::vector<StoreClient::ObjectBuffer> got;
  for (auto _ : state) {
    ObjectID id = ObjectID::ForPut(task, ++n);
    uint8_t* data = nullptr;
    Status st = c.Create(id, 100, 0, store.me(), &data);
    if (st.ok()) {
      std::memset(data, 1, 100);
      st = c.Seal(id);
    }
    if (st.ok()) st = c.Get({id}, &got);
    if (!st.ok() || !got[0].found) {
      state.SkipWithError(st.ok() ? "object not found" : st.ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(got[0].data[99]);
    c.Release(id);
    st = c.Delete({id});
    if (!st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SmallObjectLifecycle)->UseRealTime();

void BM_CreateLarge(benchmark::State& state) {
  Store store;
  if (!store.ok()) {
    state.SkipWithError("setup failed");
    return;
  }
  StoreClient& c = store.client();
  std::vector<uint8_t> src(kLarge, 7);
  TaskID task = TaskID::ForJob(JobID::FromInt(1));
  uint32_t n = 0;
  for (auto _ : state) {
    ObjectID id = ObjectID::ForPut(task, ++n);
    uint8_t* data = nullptr;
    Status st = c.Create(id, kLarge, 0, store.me(), &data);
    if (st.ok()) {
      std::memcpy(data, src.data(), kLarge);
      st = c.Seal(id);
    }
    if (st.ok()) st = c.Delete({id});
    if (!st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * kLarge);
}
BENCHMARK(BM_CreateLarge)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace lumos::object_store

BENCHMARK_MAIN();
