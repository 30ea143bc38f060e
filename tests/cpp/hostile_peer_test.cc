// Peers that break the fastpath protocol on purpose: a TCP client that never
// authenticates, a truncated frame, a frame too big for its connection. Each
// must cost the server that one connection (closed, named in the reason and
// described by pid or address), never the process. Also LogBudget, which
// keeps a flood of such peers from flooding the log.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/log_budget.h"
#include "rpc/cluster_identity.h"
#include "rpc/connection.h"
#include "rpc/event_loop.h"
#include "rpc/handshake.h"
#include "rpc/server.h"
#include "test_util.h"

namespace lumos::rpc {
namespace {

using lumos::testing::TempDir;
using lumos::testing::WaitFor;

TEST(LogBudgetTest, BurstThenRateThenCountsWhatItLeftOut) {
  LogBudget b(/*burst=*/3, /*per_second=*/2);
  uint64_t suppressed = 99;
  for (int i = 0; i < 3; i++) {
    ASSERT_TRUE(b.Take(1000, &suppressed));
    EXPECT_EQ(suppressed, 0u);
  }
  EXPECT_FALSE(b.Take(1000, &suppressed));
  EXPECT_FALSE(b.Take(1100, &suppressed));  // 0.2 tokens back: not enough
  EXPECT_TRUE(b.Take(1500, &suppressed));   // 1 token back after 500 ms at 2/s
  EXPECT_EQ(suppressed, 2u);                // the two refused since the last line
  EXPECT_FALSE(b.Take(1500, &suppressed));
  // A long quiet spell refills up to the burst, not beyond.
  for (int i = 0; i < 3; i++) EXPECT_TRUE(b.Take(100000, &suppressed));
  EXPECT_FALSE(b.Take(100000, &suppressed));
  // A clock that goes backwards adds nothing.
  EXPECT_FALSE(b.Take(50, &suppressed));
}

// A FastpathServer on a Unix socket and 127.0.0.1:<any>, recording why and
// from whom each connection closed.
class Server {
 public:
  explicit Server(const std::string& path) {
    server_ = std::make_unique<FastpathServer>(
        loop_.io(), path, [](const ConnectionPtr&, Frame&&) {},
        [this](const ConnectionPtr& c, const Status& why) {
          std::lock_guard<std::mutex> l(mu_);
          closes_.push_back(why.message());
          (void)c;
        });
    EXPECT_TRUE(server_->Listen().ok());
    EXPECT_TRUE(server_->ListenTcp("127.0.0.1", 0, &port_).ok());
    loop_.Start("hostile_server");
  }
  ~Server() {
    std::promise<void> done;
    loop_.Post([&] {
      server_.reset();
      done.set_value();
    });
    done.get_future().wait();
    loop_.Stop();
  }
  int port() const { return port_; }
  std::vector<std::string> closes() {
    std::lock_guard<std::mutex> l(mu_);
    return closes_;
  }

 private:
  EventLoop loop_;
  std::unique_ptr<FastpathServer> server_;
  int port_ = 0;
  std::mutex mu_;
  std::vector<std::string> closes_;
};

int DialTcp(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  return fd;
}

int DialUnix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  return fd;
}

// True once the server has closed `fd` (EOF or reset), within `ms`.
bool ClosedByServer(int fd, int ms) {
  int64_t deadline = NowMs() + ms;
  char buf[256];
  while (NowMs() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);  // skip an error reply, if any
    if (n <= 0) return true;
  }
  return false;
}

bool AnyContains(const std::vector<std::string>& v, const std::string& s) {
  for (const auto& x : v) {
    if (x.find(s) != std::string::npos) return true;
  }
  return false;
}

TEST(HostilePeerTest, SilentTcpClientIsDroppedAfterAuthTimeoutAuthenticatedOneStays) {
  const int64_t saved = Config::Get().auth_timeout_ms();
  Config::Get().set_auth_timeout_ms(200);
  SetClusterToken("hostile-test-token");
  TempDir dir;
  {
    Server server(dir.File("h.sock"));
    int silent = DialTcp(server.port());
    int good = DialTcp(server.port());
    ASSERT_TRUE(ClientHandshake(good, "test server", 2000).ok());
    EXPECT_TRUE(ClosedByServer(silent, 5000));
    EXPECT_TRUE(WaitFor([&] { return AnyContains(server.closes(), "sent no AUTHENTICATE within 200 ms"); }));
    // The authenticated peer is past the deadline and still connected.
    pollfd p{good, POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 400), 0);
    // A silent Unix client is not timed out (the session dir is private).
    int unix_silent = DialUnix(dir.File("h.sock"));
    pollfd q{unix_silent, POLLIN, 0};
    EXPECT_EQ(::poll(&q, 1, 400), 0);
    ::close(silent);
    ::close(good);
    ::close(unix_silent);
  }
  Config::Get().set_auth_timeout_ms(saved);
}

TEST(HostilePeerTest, TruncatedFrameThenHangUpIsNamedAsSuch) {
  TempDir dir;
  Server server(dir.File("t.sock"));
  int fd = DialUnix(dir.File("t.sock"));
  FrameHeader h;
  h.method = 7;
  h.payload_len = 100;
  std::string bytes = EncodeFrame(h, std::string(100, 'x')).substr(0, kFrameHeaderSize + 10);
  ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
  ::shutdown(fd, SHUT_WR);
  EXPECT_TRUE(ClosedByServer(fd, 5000));
  EXPECT_TRUE(WaitFor([&] { return AnyContains(server.closes(), "truncated frame"); }));
  ::close(fd);
  // A clean hang-up between frames is not a protocol violation.
  int clean = DialUnix(dir.File("t.sock"));
  ::close(clean);
  EXPECT_TRUE(WaitFor([&] { return AnyContains(server.closes(), "peer closed the connection"); }));
}

TEST(HostilePeerTest, OversizedLengthPrefixBeforeAuthIsRefused) {
  SetClusterToken("hostile-test-token");
  TempDir dir;
  Server server(dir.File("o.sock"));
  int fd = DialTcp(server.port());
  FrameHeader h;
  h.method = AUTHENTICATE;
  h.payload_len = 0xFFFFFFFFu;  // 4 GiB announced; must not be allocated or awaited
  uint8_t hdr[kFrameHeaderSize];
  EncodeHeader(h, hdr);
  ASSERT_EQ(::send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL), static_cast<ssize_t>(sizeof(hdr)));
  EXPECT_TRUE(ClosedByServer(fd, 5000));
  EXPECT_TRUE(WaitFor([&] { return AnyContains(server.closes(), "exceeds the limit of 4096"); }));
  ::close(fd);
}

TEST(HostilePeerTest, DescribePeerNamesThePidOnUnixAndTheAddressOnTcp) {
  SetClusterToken("hostile-test-token");
  TempDir dir;
  EventLoop loop;
  std::mutex mu;
  std::vector<std::string> peers;
  FastpathServer server(
      loop.io(), dir.File("d.sock"),
      [&](const ConnectionPtr& c, Frame&&) {
        std::lock_guard<std::mutex> l(mu);
        peers.push_back(c->DescribePeer());
      },
      [](const ConnectionPtr&, const Status&) {});
  ASSERT_TRUE(server.Listen().ok());
  int port = 0;
  ASSERT_TRUE(server.ListenTcp("127.0.0.1", 0, &port).ok());
  loop.Start("describe_server");
  int u = DialUnix(dir.File("d.sock"));
  std::string frame = EncodeFrame(FrameKind::kOneway, 7, 0, 0, "");
  ASSERT_GT(::send(u, frame.data(), frame.size(), MSG_NOSIGNAL), 0);
  int t = DialTcp(port);
  ASSERT_TRUE(ClientHandshake(t, "server", 2000).ok());
  ASSERT_GT(::send(t, frame.data(), frame.size(), MSG_NOSIGNAL), 0);
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> l(mu);
    return peers.size() == 2;
  }));
  std::lock_guard<std::mutex> l(mu);
  EXPECT_TRUE(AnyContains(peers, "unix peer pid " + std::to_string(getpid()))) << peers[0];
  EXPECT_TRUE(AnyContains(peers, "TCP peer 127.0.0.1:")) << peers[1];
  EXPECT_TRUE(AnyContains(peers, "pid not knowable over TCP"));
  ::close(u);
  ::close(t);
  std::promise<void> done;
  loop.Post([&] {
    server.Stop();
    done.set_value();
  });
  done.get_future().wait();
  loop.Stop();
}

}  // namespace
}  // namespace lumos::rpc
