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
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <memory>
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

}  // namespace
}  // namespace lumos::object_store

BENCHMARK_MAIN();
