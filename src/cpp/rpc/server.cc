#include "rpc/server.h"

#include <sys/stat.h>
#include <unistd.h>

#include "common/log_budget.h"
#include "common/logging.h"
#include "rpc/connection.h"

namespace lumos::rpc {

FastpathServer::FastpathServer(asio::io_context& io, std::string path, FrameHandler on_frame,
                               CloseHandler on_close)
    : io_(io),
      path_(std::move(path)),
      on_frame_(std::move(on_frame)),
      on_close_(std::move(on_close)),
      acceptor_(io),
      tcp_acceptor_(io),
      retry_timer_(io),
      tcp_retry_timer_(io),
      creator_pid_(getpid()) {}

FastpathServer::~FastpathServer() {
  if (getpid() != creator_pid_) {
    asio::error_code ec;
    acceptor_.release(ec);
    tcp_acceptor_.release(ec);
    return;
  }
  Stop();
}

Status FastpathServer::Listen() {
  if (path_.size() >= sizeof(sockaddr_un::sun_path)) {
    return Status::InvalidArgument("socket path too long (" + std::to_string(path_.size()) +
                                   " bytes, limit 107): " + path_ + "; use a shorter temp dir");
  }
  ::unlink(path_.c_str());
  asio::error_code ec;
  asio::local::stream_protocol::endpoint ep(path_);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::IOError("cannot listen on " + path_ + ": " + ec.message());
  ::chmod(path_.c_str(), 0600);
  Accept();
  return Status::OK();
}

void FastpathServer::Accept() {
  acceptor_.async_accept([this](asio::error_code ec, asio::local::stream_protocol::socket socket) {
    if (ec) {
      if (ec != asio::error::operation_aborted) RetryAcceptLater(ec, "accept", retry_timer_, &FastpathServer::Accept);
      return;
    }
    auto conn = Connection::Create(io_, Connection::Socket(std::move(socket)));
    conn->Start(on_frame_, on_close_);
    Accept();
  });
}

Status FastpathServer::ListenTcp(const std::string& host, int port, int* bound_port) {
  asio::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return Status::InvalidArgument("'" + host + "' is not an IP address to listen on");
  asio::ip::tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  tcp_acceptor_.open(ep.protocol(), ec);
  if (!ec) tcp_acceptor_.bind(ep, ec);
  if (!ec) tcp_acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IOError("cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message() +
                           (ec == asio::error::address_in_use ? " (the port is taken; pick another)" : ""));
  }
  *bound_port = tcp_acceptor_.local_endpoint().port();
  AcceptTcp();
  return Status::OK();
}

void FastpathServer::AcceptTcp() {
  tcp_acceptor_.async_accept([this](asio::error_code ec, asio::ip::tcp::socket socket) {
    if (ec) {
      if (ec != asio::error::operation_aborted) {
        RetryAcceptLater(ec, "TCP accept", tcp_retry_timer_, &FastpathServer::AcceptTcp);
      }
      return;
    }
    asio::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    auto conn = Connection::Create(io_, Connection::Socket(std::move(socket)));
    conn->RequireAuth();
    conn->Start(on_frame_, on_close_);
    AcceptTcp();
  });
}

void FastpathServer::RetryAcceptLater(const asio::error_code& ec, const char* what,
                                      asio::steady_timer& timer, void (FastpathServer::*again)()) {
  static LogBudget budget(/*burst=*/5, /*per_second=*/0.2);
  uint64_t suppressed = 0;
  if (budget.Take(NowMs(), &suppressed)) {
    LUMOS_LOG(Warning) << what << " on " << path_ << " failed: " << ec.message()
                       << (ec == asio::error::no_descriptors ? " (out of file descriptors; retrying)" : "")
                       << (suppressed ? " (" + std::to_string(suppressed) + " more not logged)" : std::string());
  }
  // The pending connection stays in the backlog; it is taken once a
  // descriptor is free again.
  timer.expires_after(std::chrono::milliseconds(100));
  timer.async_wait([this, again](asio::error_code tec) {
    if (!tec) (this->*again)();
  });
}

void FastpathServer::Stop() {
  asio::error_code ec;
  retry_timer_.cancel();
  tcp_retry_timer_.cancel();
  if (tcp_acceptor_.is_open()) tcp_acceptor_.close(ec);
  if (!acceptor_.is_open()) return;
  acceptor_.close(ec);
  ::unlink(path_.c_str());
}

}  // namespace lumos::rpc
