// Object spilling I/O against the raw file I/O it is built on, same bytes,
// same directory (LUMOS_SPILL_BENCH_DIR, default /tmp). Reads come from the
// page cache for both (the files were just written), so the comparison shows
// the cost of the checksum and header, not of the disk.
//   BM_Crc32c            CRC-32C of 64 MiB in memory
//   BM_RawWrite/Read     pwrite / pread of 256 MiB to one file
//   BM_SpillWrite/Read   WriteSpillFile / ReadSpillFile (checksummed) of 256 MiB
//   BM_StoreSpillRestore end to end: a 64 MiB store, 16 MiB objects; each
//                        iteration puts one (spilling the oldest) and gets an
//                        old one back (restoring it, spilling another)
//   BM_SmallGetsDuringSpill/mode
//                        a 160 MiB store full of 50 MiB objects; each
//                        iteration puts one more (a 50 MiB spill; mode 1:
//                        fdatasynced; mode 2, the control: the oldest object
//                        is deleted first, so nothing spills) while another
//                        client Gets and Releases a small object in a loop:
//                        get_p50/p99/max_us are small-request latencies seen
//                        during the puts (the store's loop must not stall
//                        behind the write: compare with the control, which
//                        shows what the machine's scheduling alone costs),
//                        put_ms the put's time
//   BM_SpillManySmall/batch
//                        10k objects of 16 KiB through a 32 MiB store: time
//                        and spill files created, one file per object
//                        (batch:0) or small objects batched (batch:1, the
//                        raylet's default)
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <string>
#include <vector>

#include "object_store/checksum.h"
#include "object_store/spill_file.h"
#include "object_store/store_client.h"
#include "object_store/store_server.h"
#include "rpc/event_loop.h"

namespace lumos::object_store {
namespace {

constexpr uint64_t kBytes = 256ull << 20;

std::string Dir() {
  const char* d = std::getenv("LUMOS_SPILL_BENCH_DIR");
  return d ? d : "/tmp";
}

std::vector<uint8_t>& Buffer() {
  static std::vector<uint8_t> buf = [] {
    std::vector<uint8_t> b(kBytes);
    for (size_t i = 0; i < b.size(); i++) b[i] = static_cast<uint8_t>(i * 2654435761u >> 13);
    return b;
  }();
  return buf;
}

ObjectID Id() {
  static const ObjectID id = ObjectID::ForPut(TaskID::ForJob(JobID::FromInt(3)), 1);
  return id;
}

void BM_Crc32c(benchmark::State& state) {
  auto& b = Buffer();
  uint64_t n = 64ull << 20;
  for (auto _ : state) benchmark::DoNotOptimize(Crc32c(b.data(), n));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_Crc32c)->Unit(benchmark::kMillisecond);

bool RawWrite(const std::string& path) {
  auto& b = Buffer();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return false;
  for (uint64_t off = 0; off < kBytes;) {
    ssize_t w = ::pwrite(fd, b.data() + off, kBytes - off, static_cast<off_t>(off));
    if (w <= 0) {
      ::close(fd);
      return false;
    }
    off += static_cast<uint64_t>(w);
  }
  return ::close(fd) == 0;
}

void BM_RawWrite(benchmark::State& state) {
  std::string path = Dir() + "/lumos_bench_raw";
  for (auto _ : state) {
    if (!RawWrite(path)) state.SkipWithError("write failed");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBytes));
  ::unlink(path.c_str());
}
BENCHMARK(BM_RawWrite)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_RawRead(benchmark::State& state) {
  std::vector<uint8_t> dest(kBytes);
  std::string path = Dir() + "/lumos_bench_raw";
  if (!RawWrite(path)) state.SkipWithError("write failed");
  for (auto _ : state) {
    int fd = ::open(path.c_str(), O_RDONLY);
    uint64_t off = 0;
    while (off < kBytes) {
      ssize_t r = ::pread(fd, dest.data() + off, kBytes - off, static_cast<off_t>(off));
      if (r <= 0) break;
      off += static_cast<uint64_t>(r);
    }
    ::close(fd);
    if (off != kBytes) state.SkipWithError("short read");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBytes));
  ::unlink(path.c_str());
}
BENCHMARK(BM_RawRead)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SpillWrite(benchmark::State& state) {
  auto& b = Buffer();
  std::string path = Dir() + "/lumos_bench_spill";
  uint32_t crc = 0;
  for (auto _ : state) {
    if (!WriteSpillFile(path, Id(), b.data(), kBytes, 0, false, &crc).ok()) state.SkipWithError("spill failed");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBytes));
  RemoveFile(path);
}
BENCHMARK(BM_SpillWrite)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SpillRead(benchmark::State& state) {
  std::vector<uint8_t> dest(kBytes);
  std::string path = Dir() + "/lumos_bench_spill";
  uint32_t crc = 0;
  if (!WriteSpillFile(path, Id(), Buffer().data(), kBytes, 0, false, &crc).ok()) state.SkipWithError("spill failed");
  for (auto _ : state) {
    if (!ReadSpillFile(path, Id(), dest.data(), kBytes, 0, crc).ok()) state.SkipWithError("restore failed");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBytes));
  RemoveFile(path);
}
BENCHMARK(BM_SpillRead)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_StoreSpillRestore(benchmark::State& state) {
  constexpr uint64_t kArena = 64ull << 20, kObj = (16ull << 20) - 64;
  char tmpl[] = "/tmp/lumos_b_XXXXXX";
  std::string dir = mkdtemp(tmpl);
  rpc::EventLoop loop;
  SpillOptions opts;
  opts.enabled = true;
  opts.directory = Dir() + "/lumos_bench_spill_dir";
  auto server = std::make_unique<StoreServer>(loop.io(), dir + "/store.sock", kArena, opts);
  bool ok = server->Start().ok();
  loop.Start("bench_store");
  auto client = std::make_unique<StoreClient>();
  WorkerID me = WorkerID::FromRandom();
  ok = ok && client->Connect(dir + "/store.sock", me, 2000).ok();
  if (!ok) {
    state.SkipWithError("store did not start");
    return;
  }
  std::vector<ObjectID> ids;
  uint32_t n = 0;
  auto put = [&] {
    ObjectID id = ObjectID::ForPut(TaskID::ForJob(JobID::FromInt(4)), ++n);
    uint8_t* data = nullptr;
    if (!client->Create(id, kObj, 0, me, &data).ok()) return false;
    std::memcpy(data, Buffer().data(), kObj);
    ids.push_back(id);
    return client->Seal(id).ok();
  };
  for (int i = 0; i < 8; i++) put();  // half of them spilled
  for (auto _ : state) {
    if (!put()) state.SkipWithError("put failed");
    ObjectID old = ids[ids.size() - 8];  // certainly spilled
    std::vector<StoreClient::ObjectBuffer> got;
    if (!client->Get({old}, &got).ok() || !got[0].found) state.SkipWithError("get failed");
    client->Release(old);
  }
  // Per iteration: one object spilled for the put, one spilled and one restored for the get.
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kObj * 3));
  client.reset();
  server.reset();
  ::rmdir(opts.directory.c_str());
  ::rmdir(dir.c_str());
}
BENCHMARK(BM_StoreSpillRestore)->Unit(benchmark::kMillisecond)->UseRealTime();

// A StoreServer with spilling in a temporary directory, and clients of it.
struct BenchStore {
  explicit BenchStore(uint64_t arena, bool fsync = false, uint64_t batch_object_max_bytes = 0) {
    char tmpl[] = "/tmp/lumos_b_XXXXXX";
    dir = mkdtemp(tmpl);
    SpillOptions opts;
    opts.enabled = true;
    opts.fsync = fsync;
    opts.batch_object_max_bytes = batch_object_max_bytes;
    opts.directory = Dir() + "/lumos_bench_spill_" + std::to_string(::getpid());
    spill_dir = opts.directory;
    server = std::make_unique<StoreServer>(loop.io(), dir + "/store.sock", arena, opts);
    ok = server->Start().ok();
    loop.Start("bench_store");
  }
  std::unique_ptr<StoreClient> Client() {
    auto c = std::make_unique<StoreClient>();
    ok = ok && c->Connect(dir + "/store.sock", WorkerID::FromRandom(), 2000).ok();
    return c;
  }
  ~BenchStore() {
    server.reset();
    ::rmdir(spill_dir.c_str());
    ::unlink((dir + "/store.sock").c_str());
    ::rmdir(dir.c_str());
  }
  std::string dir, spill_dir;
  rpc::EventLoop loop;
  std::unique_ptr<StoreServer> server;
  bool ok = false;
};

bool PutObject(StoreClient* c, const ObjectID& id, uint64_t size) {
  uint8_t* data = nullptr;
  if (!c->Create(id, size, 0, WorkerID::FromRandom(), &data).ok()) return false;
  std::memcpy(data, Buffer().data(), std::min<uint64_t>(size, kBytes));
  return c->Seal(id).ok();
}

void BM_SmallGetsDuringSpill(benchmark::State& state) {
  constexpr uint64_t kBig = 50ull << 20;
  const int mode = static_cast<int>(state.range(0));
  BenchStore store(160ull << 20, mode == 1);
  auto writer = store.Client();
  auto prober = store.Client();
  if (!store.ok) return state.SkipWithError("store did not start");
  static const TaskID task = TaskID::ForJob(JobID::FromInt(6));
  uint32_t n = 0;
  ObjectID small = ObjectID::ForPut(task, ++n);
  if (!PutObject(prober.get(), small, 64 << 10)) return state.SkipWithError("put failed");
  std::vector<ObjectID> bigs;
  for (int i = 0; i < 3; i++) {
    bigs.push_back(ObjectID::ForPut(task, ++n));
    PutObject(writer.get(), bigs.back(), kBig);
  }
  std::atomic<bool> measuring{false}, stop{false};
  std::vector<int64_t> lat;  // probe thread only, read after join
  lat.reserve(1 << 20);
  std::thread probe([&] {
    while (!stop.load()) {
      auto t0 = std::chrono::steady_clock::now();
      std::vector<StoreClient::ObjectBuffer> got;
      if (!prober->Get({small}, &got).ok() || !got[0].found) break;
      prober->Release(small);
      int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
      if (measuring.load()) lat.push_back(ns);
    }
  });
  double put_ms = 0;
  for (auto _ : state) {
    if (mode == 2) {
      writer->Delete({bigs.front()});
      bigs.erase(bigs.begin());
    }
    measuring = true;
    auto t0 = std::chrono::steady_clock::now();
    bigs.push_back(ObjectID::ForPut(task, ++n));
    if (!PutObject(writer.get(), bigs.back(), kBig)) state.SkipWithError("put failed");
    put_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    measuring = false;
  }
  stop = true;
  probe.join();
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double q) {
    return lat.empty() ? 0.0 : static_cast<double>(lat[static_cast<size_t>(q * static_cast<double>(lat.size() - 1))]) / 1000;
  };
  state.counters["get_p50_us"] = pct(0.5);
  state.counters["get_p99_us"] = pct(0.99);
  state.counters["get_max_us"] = pct(1.0);
  state.counters["gets"] = static_cast<double>(lat.size());
  state.counters["put_ms"] = put_ms / static_cast<double>(state.iterations());
}
BENCHMARK(BM_SmallGetsDuringSpill)->Arg(0)->Arg(1)->Arg(2)->ArgName("mode")->Iterations(8)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SpillManySmall(benchmark::State& state) {
  constexpr uint64_t kSmall = 16 << 10;
  constexpr int kCount = 10000;
  for (auto _ : state) {
    state.PauseTiming();
    auto store = std::make_unique<BenchStore>(32ull << 20, false, state.range(0) ? 1 << 20 : 0);
    auto c = store->Client();
    if (!store->ok) return state.SkipWithError("store did not start");
    TaskID task = TaskID::ForJob(JobID::FromInt(7));
    state.ResumeTiming();
    for (int i = 0; i < kCount; i++) {
      if (!PutObject(c.get(), ObjectID::ForPut(task, i + 1), kSmall)) return state.SkipWithError("put failed");
    }
    state.PauseTiming();
    StoreClient::DetailedStats s;
    c->GetDetailedStats(false, &s);
    state.counters["spilled_objects"] = static_cast<double>(s.num_spilled);
    state.counters["spill_files"] = static_cast<double>(s.num_spill_files_total);
    c.reset();
    store.reset();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_SpillManySmall)->Arg(0)->Arg(1)->ArgName("batch")->Iterations(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace lumos::object_store

BENCHMARK_MAIN();
