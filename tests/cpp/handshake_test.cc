// The TCP AUTHENTICATE exchange (rpc/handshake.h) over a socket pair, the
// endpoint strings (rpc/endpoint.h), and an asio Connection that requires
// authentication before anything else.
#include "rpc/handshake.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <thread>

#include "rpc/blocking_io.h"
#include "rpc/cluster_identity.h"
#include "rpc/connection.h"
#include "rpc/endpoint.h"
#include "rpc/event_loop.h"

namespace lumos::rpc {
namespace {

struct Pair {
  int client = -1, server = -1;
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    client = fds[0];
    server = fds[1];
  }
  ~Pair() {
    ::close(client);
    ::close(server);
  }
};

TEST(HandshakeTest, RightTokenIsAccepted) {
  SetClusterToken("secret-token");
  Pair p;
  auto server = std::async(std::launch::async, [&] { return ServerHandshake(p.server, 2000); });
  Status c = ClientHandshake(p.client, "peer", 2000);
  EXPECT_TRUE(c.ok()) << c.ToString();
  EXPECT_TRUE(server.get().ok());
}

TEST(HandshakeTest, WrongTokenIsRefusedWithTheFix) {
  AuthRequest req;
  req.set_version(kLumosVersion);
  req.set_token("wrong");
  SetClusterToken("right");
  Status s = CheckAuth(req);
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("LUMOS_AUTH_TOKEN"), std::string::npos) << s.message();
  req.set_token("");
  EXPECT_EQ(CheckAuth(req).code(), StatusCode::kUnauthenticated);
  req.set_token("right");
  EXPECT_TRUE(CheckAuth(req).ok());
}

TEST(HandshakeTest, ClientSeesTheServersRefusal) {
  SetClusterToken("right");
  Pair p;
  auto server = std::async(std::launch::async, [&] { return ServerHandshake(p.server, 2000); });
  // A client holding another token: write its AUTHENTICATE by hand.
  AuthRequest req;
  req.set_token("wrong");
  req.set_version(kLumosVersion);
  ASSERT_TRUE(WriteFrame(p.client, FrameKind::kRequest, AUTHENTICATE, 1, 0, req.SerializeAsString(),
                         NowMs() + 2000).ok());
  Frame reply;
  ASSERT_TRUE(ReadFrame(p.client, 4096, NowMs() + 2000, &reply).ok());
  Status refused = StatusFromFrame(reply);
  EXPECT_EQ(refused.code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(server.get().code(), StatusCode::kUnauthenticated);
}

TEST(HandshakeTest, OtherVersionIsRefusedNamingBoth) {
  SetClusterToken("t");
  AuthRequest req;
  req.set_token("t");
  req.set_version("9.9.9");
  Status s = CheckAuth(req);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("9.9.9"), std::string::npos);
  EXPECT_NE(s.message().find(kLumosVersion), std::string::npos);
}

TEST(HandshakeTest, FirstFrameMustBeAuthenticate) {
  SetClusterToken("t");
  Pair p;
  auto server = std::async(std::launch::async, [&] { return ServerHandshake(p.server, 2000); });
  ASSERT_TRUE(WriteFrame(p.client, FrameKind::kRequest, PUSH_TASK, 1, 0, "x", NowMs() + 2000).ok());
  EXPECT_EQ(server.get().code(), StatusCode::kUnauthenticated);
}

TEST(HandshakeTest, OversizedFirstFrameIsRefused) {
  SetClusterToken("t");
  Pair p;
  auto server = std::async(std::launch::async, [&] { return ServerHandshake(p.server, 2000); });
  FrameHeader h;
  h.method = AUTHENTICATE;
  h.payload_len = 1 << 30;  // a hostile length: must not be allocated
  uint8_t hdr[kFrameHeaderSize];
  EncodeHeader(h, hdr);
  ASSERT_TRUE(WriteAll(p.client, reinterpret_cast<const char*>(hdr), sizeof(hdr), NowMs() + 2000).ok());
  EXPECT_FALSE(server.get().ok());
}

TEST(HandshakeTest, SilentClientTimesOut) {
  SetClusterToken("t");
  Pair p;
  auto t0 = NowMs();
  Status s = ServerHandshake(p.server, 100);
  EXPECT_EQ(s.code(), StatusCode::kTimedOut);
  EXPECT_LT(NowMs() - t0, 2000);
}

TEST(HandshakeTest, TokensCompare) {
  EXPECT_TRUE(TokensEqual("abc", "abc"));
  EXPECT_FALSE(TokensEqual("abc", "abd"));
  EXPECT_FALSE(TokensEqual("abc", "abcd"));
  EXPECT_FALSE(TokensEqual("", "a"));
}

TEST(EndpointTest, ParsesBothParts) {
  auto ep = ParseEndpoint("unix:/tmp/s;tcp:10.0.0.1:4567");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep.value().unix_path, "/tmp/s");
  EXPECT_EQ(ep.value().host, "10.0.0.1");
  EXPECT_EQ(ep.value().port, 4567);
  EXPECT_EQ(FormatEndpoint("/tmp/s", "10.0.0.1", 4567), "unix:/tmp/s;tcp:10.0.0.1:4567");
  auto v6 = ParseEndpoint("tcp:[::1]:80");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6.value().host, "::1");
  EXPECT_EQ(FormatEndpoint("", "::1", 80), "tcp:[::1]:80");
}

TEST(EndpointTest, BadEndpointsNameTheProblem) {
  EXPECT_FALSE(ParseEndpoint("http://x").ok());
  EXPECT_FALSE(ParseEndpoint("tcp:10.0.0.1").ok());
  EXPECT_FALSE(ParseEndpoint("tcp:10.0.0.1:99999").ok());
  std::string host;
  int port;
  Status s = SplitHostPort("10.0.0.1", &host, &port);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("HOST:PORT"), std::string::npos);
}

// The server side of `fd` as a Connection that requires AUTHENTICATE; counts delivered frames.
ConnectionPtr ServeWithAuth(EventLoop& loop, int fd, std::atomic<int>* frames) {
  Connection::Socket s(loop.io());
  asio::error_code ec;
  s.assign(asio::generic::stream_protocol(AF_UNIX, 0), ::dup(fd), ec);
  EXPECT_FALSE(ec);
  auto conn = Connection::Create(loop.io(), std::move(s));
  conn->RequireAuth();
  conn->Start([frames](const ConnectionPtr&, Frame&&) { (*frames)++; }, nullptr);
  return conn;
}

TEST(AuthConnectionTest, UnauthenticatedFramesNeverReachTheHandler) {
  SetClusterToken("t");
  EventLoop loop;
  loop.Start("test");
  Pair p;
  std::atomic<int> frames{0};
  auto conn = ServeWithAuth(loop, p.server, &frames);
  ASSERT_TRUE(WriteFrame(p.client, FrameKind::kRequest, PUSH_TASK, 1, 0, "x", NowMs() + 2000).ok());
  Frame reply;
  ASSERT_TRUE(ReadFrame(p.client, 4096, NowMs() + 2000, &reply).ok());
  EXPECT_EQ(StatusFromFrame(reply).code(), StatusCode::kUnauthenticated);
  for (int i = 0; i < 100 && !conn->closed(); i++) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_TRUE(conn->closed());
  EXPECT_EQ(frames.load(), 0);
  loop.Stop();
  loop.Join();
}

TEST(AuthConnectionTest, AuthenticatedConnectionDeliversFrames) {
  SetClusterToken("t");
  EventLoop loop;
  loop.Start("test");
  Pair p;
  std::atomic<int> frames{0};
  auto conn = ServeWithAuth(loop, p.server, &frames);
  ASSERT_TRUE(ClientHandshake(p.client, "peer", 2000).ok());
  ASSERT_TRUE(WriteFrame(p.client, FrameKind::kOneway, FORWARD_LOGS, 0, 0, "", NowMs() + 2000).ok());
  for (int i = 0; i < 200 && frames.load() == 0; i++) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(frames.load(), 1);
  conn->Close();
  loop.Stop();
  loop.Join();
}

}  // namespace
}  // namespace lumos::rpc
