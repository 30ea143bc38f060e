#include "rpc/server.h"

#include <sys/stat.h>
#include <unistd.h>

#include "common/logging.h"

namespace lumos::rpc {

FastpathServer::FastpathServer(asio::io_context& io, std::string path, FrameHandler on_frame,
                               CloseHandler on_close)
    : io_(io),
      path_(std::move(path)),
      on_frame_(std::move(on_frame)),
      on_close_(std::move(on_close)),
      acceptor_(io),
      creator_pid_(getpid()) {}

FastpathServer::~FastpathServer() {
  if (getpid() != creator_pid_) {
    asio::error_code ec;
    acceptor_.release(ec);
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
  acceptor_.async_accept([this](asio::error_code ec, Connection::Socket socket) {
    if (ec) {
      if (ec != asio::error::operation_aborted) {
        LUMOS_LOG(Warning) << "accept on " << path_ << " failed: " << ec.message();
        Accept();
      }
      return;
    }
    auto conn = Connection::Create(io_, std::move(socket));
    conn->Start(on_frame_, on_close_);
    Accept();
  });
}

void FastpathServer::Stop() {
  if (!acceptor_.is_open()) return;
  asio::error_code ec;
  acceptor_.close(ec);
  ::unlink(path_.c_str());
}

}  // namespace lumos::rpc
