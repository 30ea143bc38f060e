#pragma once
// Accepts fastpath connections on a Unix socket path, and optionally on a TCP
// address too (ListenTcp: each TCP connection must authenticate first, see
// Connection::RequireAuth), and hands each one, started, to the given handlers. Runs on the EventLoop it was created with. The socket
// file is unlinked on Stop/destruction (not in a forked child).
#include <asio.hpp>
#include <memory>
#include <string>

#include "rpc/connection.h"

namespace lumos::rpc {

class FastpathServer {
 public:
  FastpathServer(asio::io_context& io, std::string path, FrameHandler on_frame,
                 CloseHandler on_close);
  ~FastpathServer();
  /// \brief Binds (replacing a stale socket file) and starts accepting; mode 0600.
  Status Listen();
  /// \brief Also accepts TCP connections on host:port (0: any free port);
  /// *bound_port is the port taken. Never binds 0.0.0.0 unless host says so.
  Status ListenTcp(const std::string& host, int port, int* bound_port);
  void Stop();
  const std::string& path() const { return path_; }

 private:
  void Accept();
  void AcceptTcp();

  asio::io_context& io_;
  std::string path_;
  FrameHandler on_frame_;
  CloseHandler on_close_;
  asio::local::stream_protocol::acceptor acceptor_;
  asio::ip::tcp::acceptor tcp_acceptor_;
  pid_t creator_pid_;
};

}  // namespace lumos::rpc
