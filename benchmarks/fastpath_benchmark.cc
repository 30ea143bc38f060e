// Fastpath transport over a Unix socket, in one process: the server runs on an
// EventLoop thread, the client in the benchmark thread.
//   BM_SyncRoundTrip        SyncClient request/reply (64-byte payload)
//   BM_PipelinedOneway      Connection one-way frames, 10,000 per iteration,
//                           until the server has received them all
//   BM_PipelinedRequests    Connection requests, 10,000 in flight per iteration,
//                           until every reply has come back
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "common.pb.h"
#include "rpc/connection.h"
#include "rpc/event_loop.h"
#include "rpc/server.h"
#include "rpc/sync_client.h"

namespace lumos::rpc {
namespace {

constexpr uint16_t kEcho = 7;
constexpr uint16_t kNotify = 9;
constexpr int kBatch = 10000;

InlineObject Payload() {
  InlineObject m;
  m.set_data(std::string(64, 'p'));
  return m;
}

// An echo server on its own loop thread in a fresh temp dir.
class EchoServer {
 public:
  EchoServer() {
    char tmpl[] = "/tmp/lumos_b_XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/echo.sock";
    server_ = std::make_unique<FastpathServer>(
        loop_.io(), path_,
        [this](const ConnectionPtr& c, Frame&& f) {
          if (f.header.kind == FrameKind::kOneway) {
            received_.fetch_add(1, std::memory_order_relaxed);
            return;
          }
          InlineObject m;
          m.ParseFromString(f.payload);
          c->SendReply(f.header.request_id, f.header.method, m);
        },
        [](const ConnectionPtr&, const Status&) {});
    ok_ = server_->Listen().ok();
    loop_.Start("bench_server");
  }
  ~EchoServer() {
    std::atomic<bool> done{false};
    loop_.Post([&] {
      server_.reset();
      done = true;
    });
    while (!done) std::this_thread::yield();
    rmdir(dir_.c_str());
  }
  bool ok() const { return ok_; }
  const std::string& path() const { return path_; }
  uint64_t received() const { return received_.load(std::memory_order_relaxed); }

 private:
  EventLoop loop_;
  std::string dir_, path_;
  std::unique_ptr<FastpathServer> server_;
  std::atomic<uint64_t> received_{0};
  bool ok_ = false;
};

void BM_SyncRoundTrip(benchmark::State& state) {
  EchoServer server;
  SyncClient client;
  if (!server.ok() || !client.Connect(server.path(), 2000).ok()) {
    state.SkipWithError("setup failed");
    return;
  }
  InlineObject req = Payload(), reply;
  for (auto _ : state) {
    Status st = client.Call(kEcho, req, &reply);
    if (!st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SyncRoundTrip)->UseRealTime();

void BM_PipelinedOneway(benchmark::State& state) {
  EchoServer server;
  EventLoop client_loop;
  client_loop.Start("bench_client");
  auto conn = Connection::Connect(client_loop.io(), server.path(), 2000);
  if (!server.ok() || !conn.ok()) {
    state.SkipWithError("setup failed");
    return;
  }
  ConnectionPtr c = conn.value();
  c->Start([](const ConnectionPtr&, Frame&&) {}, [](const ConnectionPtr&, const Status&) {});
  InlineObject msg = Payload();
  uint64_t sent = 0;
  for (auto _ : state) {
    for (int i = 0; i < kBatch; i++) c->SendOneway(kNotify, msg);
    sent += kBatch;
    while (server.received() < sent) std::this_thread::yield();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  c->Close();
}
BENCHMARK(BM_PipelinedOneway)->UseRealTime();

void BM_PipelinedRequests(benchmark::State& state) {
  EchoServer server;
  EventLoop client_loop;
  client_loop.Start("bench_client");
  auto conn = Connection::Connect(client_loop.io(), server.path(), 2000);
  if (!server.ok() || !conn.ok()) {
    state.SkipWithError("setup failed");
    return;
  }
  ConnectionPtr c = conn.value();
  c->Start([](const ConnectionPtr&, Frame&&) {}, [](const ConnectionPtr&, const Status&) {});
  InlineObject msg = Payload();
  std::atomic<uint64_t> replies{0};
  uint64_t sent = 0;
  for (auto _ : state) {
    for (int i = 0; i < kBatch; i++) {
      c->SendRequest(kEcho, msg, [&replies](const Status&, Frame&&) {
        replies.fetch_add(1, std::memory_order_relaxed);
      });
    }
    sent += kBatch;
    while (replies.load(std::memory_order_relaxed) < sent) std::this_thread::yield();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  c->Close();
}
BENCHMARK(BM_PipelinedRequests)->UseRealTime();

}  // namespace
}  // namespace lumos::rpc

BENCHMARK_MAIN();
