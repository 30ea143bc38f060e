#include "rpc/dial.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "rpc/cluster_identity.h"
#include "rpc/endpoint.h"
#include "rpc/handshake.h"

namespace lumos::rpc {
namespace {

constexpr int64_t kMinConnectAttemptMs = 3000;
constexpr int64_t kHandshakeTimeoutMs = 5000;

// One non-blocking connect bounded by `attempt_ms`; -errno on failure.
int ConnectOnce(const addrinfo* ai, int64_t attempt_ms) {
  int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
  if (fd < 0) return -errno;
  int r = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
  if (r != 0 && errno != EINPROGRESS) {
    int e = errno;
    ::close(fd);
    return -e;
  }
  if (r != 0) {
    struct pollfd p{fd, POLLOUT, 0};
    int pr;
    do {
      pr = ::poll(&p, 1, static_cast<int>(attempt_ms));
    } while (pr < 0 && errno == EINTR);
    if (pr == 0) {
      ::close(fd);
      return -ETIMEDOUT;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      ::close(fd);
      return -err;
    }
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

}  // namespace

Result<int> DialTcpFd(const std::string& host, int port, int64_t timeout_ms) {
  std::string peer = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int gr = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (gr != 0 || res == nullptr) {
    return Status::IOError("cannot resolve " + peer + ": " + ::gai_strerror(gr));
  }
  const int64_t deadline = NowMs() + timeout_ms;
  int fd = -1;
  int last_err = 0;
  while (true) {
    int64_t attempt = std::max<int64_t>(deadline - NowMs(), kMinConnectAttemptMs);
    fd = ConnectOnce(res, attempt);
    if (fd >= 0) break;
    last_err = -fd;
    if (NowMs() >= deadline || (last_err != ECONNREFUSED && last_err != EAGAIN)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::freeaddrinfo(res);
  if (fd < 0) {
    return Status::IOError("cannot connect to " + peer + ": " + std::strerror(last_err) +
                           " (is the node at that address running, and is the port reachable?)");
  }
  Status hs = ClientHandshake(fd, peer, kHandshakeTimeoutMs);
  if (!hs.ok()) {
    ::close(fd);
    return hs;
  }
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

Result<ConnectionPtr> Dial(asio::io_context& io, const std::string& endpoint, int64_t timeout_ms) {
  auto parsed = ParseEndpoint(endpoint);
  if (!parsed.ok()) return parsed.status();
  const Endpoint& ep = parsed.value();
  if (!ep.unix_path.empty() && (!ep.has_tcp() || ep.host == LocalNodeIp())) {
    return Connection::Connect(io, ep.unix_path, timeout_ms);
  }
  if (!ep.has_tcp()) return Status::InvalidArgument("endpoint '" + endpoint + "' names no address");
  auto fd = DialTcpFd(ep.host, ep.port, timeout_ms);
  if (!fd.ok()) return fd.status();
  Connection::Socket sock(io);
  asio::error_code ec;
  sockaddr_storage ss{};
  socklen_t sl = sizeof(ss);
  ::getsockname(fd.value(), reinterpret_cast<sockaddr*>(&ss), &sl);
  int family = ss.ss_family;
  sock.assign(asio::generic::stream_protocol(family, IPPROTO_TCP), fd.value(), ec);
  if (ec) {
    ::close(fd.value());
    return Status::IOError("cannot adopt the socket to " + endpoint + ": " + ec.message());
  }
  return Connection::Create(io, std::move(sock));
}

}  // namespace lumos::rpc
