#pragma once
// Accepts fastpath connections on a Unix socket path, and optionally on a TCP
// address too (ListenTcp: each TCP connection must authenticate first, see
// Connection::RequireAuth), and hands each one, started, to the given handlers. Runs on the EventLoop it was created with. The socket
// file is unlinked on Stop/destruction (not in a forked child). When accept
// fails (out of descriptors: EMFILE/ENFILE) it retries after a pause instead
// of at once, which would spin the loop and flood the log while the process
// is at its limit.
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
  /// \brief Logs (within a budget) and calls `again` after a pause.
  void RetryAcceptLater(const asio::error_code& ec, const char* what, asio::steady_timer& timer,
                        void (FastpathServer::*again)());

  asio::io_context& io_;
  std::string path_;
  FrameHandler on_frame_;
  CloseHandler on_close_;
  asio::local::stream_protocol::acceptor acceptor_;
  asio::ip::tcp::acceptor tcp_acceptor_;
  asio::steady_timer retry_timer_;
  asio::steady_timer tcp_retry_timer_;
  pid_t creator_pid_;
};

}  // namespace lumos::rpc
