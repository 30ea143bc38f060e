// FastpathServer + Connection over a Unix socket in a fresh temp dir.
#include "rpc/connection.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <vector>

#include "common.pb.h"
#include "rpc/event_loop.h"
#include "rpc/server.h"
#include "test_util.h"

namespace lumos::rpc {
namespace {

using lumos::testing::TempDir;
using lumos::testing::WaitFor;

constexpr uint16_t kEcho = 7;     // replies with the request's data
constexpr uint16_t kIgnore = 8;   // never replies
constexpr uint16_t kNotify = 9;   // one-way, recorded by the server

InlineObject Msg(const std::string& data) {
  InlineObject m;
  m.set_data(data);
  return m;
}

// A FastpathServer on its own loop thread. Shutdown() makes it go away the
// way a dying process does: the listener and every accepted connection close.
class TestServer {
 public:
  explicit TestServer(const std::string& path) {
    loop_ = std::make_unique<EventLoop>();
    server_ = std::make_unique<FastpathServer>(
        loop_->io(), path,
        [this](const ConnectionPtr& c, Frame&& f) { OnFrame(c, std::move(f)); },
        [this](const ConnectionPtr&, const Status&) { closed_++; });
    listen_status_ = server_->Listen();
    loop_->Start("test_server");
  }
  ~TestServer() { Shutdown(); }

  void Shutdown() {
    if (!loop_) return;
    std::promise<void> done;
    loop_->Post([&] {
      server_.reset();
      done.set_value();
    });
    done.get_future().wait();
    loop_.reset();  // joins; destroying the io_context closes accepted sockets
  }

  const Status& listen_status() const { return listen_status_; }
  int closed() const { return closed_.load(); }
  std::vector<std::string> notes() {
    std::lock_guard<std::mutex> l(mu_);
    return notes_;
  }

 private:
  void OnFrame(const ConnectionPtr& c, Frame&& f) {
    InlineObject m;
    m.ParseFromString(f.payload);
    if (f.header.kind == FrameKind::kOneway) {
      std::lock_guard<std::mutex> l(mu_);
      notes_.push_back(m.data());
      return;
    }
    if (f.header.method == kEcho) c->SendReply(f.header.request_id, f.header.method, m);
  }

  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<FastpathServer> server_;
  Status listen_status_;
  std::atomic<int> closed_{0};
  std::mutex mu_;
  std::vector<std::string> notes_;
};

class ConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    path_ = dir_.File("s.sock");
    server_ = std::make_unique<TestServer>(path_);
    ASSERT_TRUE(server_->listen_status().ok()) << server_->listen_status().ToString();
    client_loop_.Start("test_client");
  }
  void TearDown() override {
    for (auto& c : clients_) c->Close();
    server_.reset();
  }

  // A started client connection; `closes` counts its close callbacks.
  ConnectionPtr Dial(std::atomic<int>* closes = nullptr) {
    auto r = Connection::Connect(client_loop_.io(), path_, 2000);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return nullptr;
    ConnectionPtr c = r.value();
    c->Start([](const ConnectionPtr&, Frame&&) {},
             [closes](const ConnectionPtr&, const Status&) {
               if (closes) (*closes)++;
             });
    clients_.push_back(c);
    return c;
  }

  // Sends a request and waits for its completion.
  std::pair<Status, std::string> Call(const ConnectionPtr& c, uint16_t method,
                                      const std::string& data, int64_t timeout_ms = -1) {
    auto done = std::make_shared<std::promise<std::pair<Status, std::string>>>();
    auto fut = done->get_future();
    c->SendRequest(
        method, Msg(data),
        [done](const Status& st, Frame&& f) {
          InlineObject m;
          if (st.ok()) m.ParseFromString(f.payload);
          done->set_value({st, m.data()});
        },
        timeout_ms);
    if (fut.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      return {Status::TimedOut("test gave up waiting"), ""};
    }
    return fut.get();
  }

  TempDir dir_;
  std::string path_;
  EventLoop client_loop_;  // declared before the connections: outlives them
  std::unique_ptr<TestServer> server_;
  std::vector<ConnectionPtr> clients_;
};

TEST_F(ConnectionTest, RequestReplyRoundTrip) {
  ConnectionPtr c = Dial();
  ASSERT_TRUE(c);
  auto [st, data] = Call(c, kEcho, "hello");
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(data, "hello");
  std::string big(3 << 20, 'b');  // larger than socket buffers: exercises queued writes
  auto [st2, data2] = Call(c, kEcho, big);
  ASSERT_TRUE(st2.ok()) << st2.ToString();
  EXPECT_EQ(data2, big);
}

TEST_F(ConnectionTest, OnewayArrivesInOrder) {
  ConnectionPtr c = Dial();
  ASSERT_TRUE(c);
  for (int i = 0; i < 100; i++) c->SendOneway(kNotify, Msg(std::to_string(i)));
  ASSERT_TRUE(WaitFor([&] { return server_->notes().size() == 100; }));
  auto notes = server_->notes();
  for (int i = 0; i < 100; i++) EXPECT_EQ(notes[i], std::to_string(i));
}

TEST_F(ConnectionTest, ManyPipelinedRequests) {
  ConnectionPtr c = Dial();
  ASSERT_TRUE(c);
  constexpr int kN = 20000;
  std::atomic<int> ok{0}, bad{0};
  std::promise<void> all_done;
  std::atomic<int> remaining{kN};
  for (int i = 0; i < kN; i++) {
    std::string want = std::to_string(i);
    c->SendRequest(kEcho, Msg(want), [&, want](const Status& st, Frame&& f) {
      InlineObject m;
      if (st.ok() && m.ParseFromString(f.payload) && m.data() == want) {
        ok++;
      } else {
        bad++;
      }
      if (--remaining == 0) all_done.set_value();
    });
  }
  ASSERT_EQ(all_done.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(ok.load(), kN);
  EXPECT_EQ(bad.load(), 0);
}

TEST_F(ConnectionTest, RequestTimesOut) {
  ConnectionPtr c = Dial();
  ASSERT_TRUE(c);
  int64_t start = NowMs();
  auto [st, data] = Call(c, kIgnore, "x", 50);
  EXPECT_EQ(st.code(), StatusCode::kTimedOut) << st.ToString();
  EXPECT_GE(NowMs() - start, 45);
  // The connection is still usable afterwards.
  auto [st2, data2] = Call(c, kEcho, "after");
  EXPECT_TRUE(st2.ok()) << st2.ToString();
}

TEST_F(ConnectionTest, PendingRequestsFailWhenServerGoesAway) {
  std::atomic<int> closes{0};
  ConnectionPtr c = Dial(&closes);
  ASSERT_TRUE(c);
  constexpr int kN = 5;
  std::vector<std::future<Status>> results;
  for (int i = 0; i < kN; i++) {
    auto p = std::make_shared<std::promise<Status>>();
    results.push_back(p->get_future());
    c->SendRequest(kIgnore, Msg("never answered"),
                   [p](const Status& st, Frame&&) { p->set_value(st); });
  }
  // Make sure the requests reached the server before it dies.
  ASSERT_TRUE(Call(c, kEcho, "sync").first.ok());
  server_->Shutdown();
  for (auto& f : results) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_EQ(f.get().code(), StatusCode::kDisconnected);
  }
  EXPECT_TRUE(WaitFor([&] { return closes.load() == 1; }));
  EXPECT_TRUE(c->closed());
  // New requests on the dead connection fail too, on the loop thread.
  EXPECT_EQ(Call(c, kEcho, "late").first.code(), StatusCode::kDisconnected);
}

TEST_F(ConnectionTest, MalformedClientIsDroppedOthersKeepWorking) {
  std::atomic<int> bad_closes{0};
  ConnectionPtr bad = Dial(&bad_closes);
  ConnectionPtr good = Dial();
  ASSERT_TRUE(bad && good);
  ASSERT_TRUE(Call(bad, kEcho, "before").first.ok());
  // A header with kind 9: the server must drop this connection, not crash.
  FrameHeader h;
  h.method = kEcho;
  h.payload_len = 0;
  std::string raw = EncodeFrame(h, "");
  raw[6] = 9;
  bad->SendRawForTest(raw);
  EXPECT_TRUE(WaitFor([&] { return bad_closes.load() == 1; }));
  EXPECT_TRUE(WaitFor([&] { return server_->closed() == 1; }));
  EXPECT_EQ(Call(bad, kEcho, "after").first.code(), StatusCode::kDisconnected);
  for (int i = 0; i < 10; i++) {
    auto [st, data] = Call(good, kEcho, "still here " + std::to_string(i));
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(data, "still here " + std::to_string(i));
  }
  // A third client can still connect.
  ConnectionPtr third = Dial();
  ASSERT_TRUE(third);
  EXPECT_TRUE(Call(third, kEcho, "new").first.ok());
}

TEST(ConnectionCloseTest, HandlerMayCloseItsOwnConnection) {
  // A frame handler that closes its connection and then still uses what it
  // captured (a heap-allocated closure): Close must not destroy the running
  // handler under it.
  TempDir dir;
  EventLoop server_loop, client_loop;
  std::atomic<int> handled{0};
  std::string note(200, 'n');  // makes the closure too big for std::function's inline buffer
  FastpathServer server(
      server_loop.io(), dir.File("c.sock"),
      [&handled, note](const ConnectionPtr& c, Frame&&) {
        c->Close(Status::Invalid("handler closed it"));
        if (note.size() == 200) handled++;  // reads the closure after Close
      },
      [](const ConnectionPtr&, const Status&) {});
  ASSERT_TRUE(server.Listen().ok());
  server_loop.Start("close_server");
  client_loop.Start("close_client");
  auto r = Connection::Connect(client_loop.io(), dir.File("c.sock"), 2000);
  ASSERT_TRUE(r.ok());
  std::atomic<int> closes{0};
  r.value()->Start([](const ConnectionPtr&, Frame&&) {},
                   [&closes](const ConnectionPtr&, const Status&) { closes++; });
  r.value()->SendOneway(kNotify, Msg("bye"));
  EXPECT_TRUE(WaitFor([&] { return closes.load() == 1; }));
  EXPECT_EQ(handled.load(), 1);
  std::promise<void> done;
  server_loop.Post([&] {
    server.Stop();
    done.set_value();
  });
  done.get_future().wait();
  server_loop.Stop();
  client_loop.Stop();
}

TEST_F(ConnectionTest, ConnectTimesOutWithoutServer) {
  int64_t start = NowMs();
  auto r = Connection::Connect(client_loop_.io(), dir_.File("nobody.sock"), 50);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIOError);
  EXPECT_GE(NowMs() - start, 45);
}

}  // namespace
}  // namespace lumos::rpc
