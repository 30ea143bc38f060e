#pragma once
// Accepts fastpath connections on a Unix socket path and hands each one, started,
// to the given handlers. Runs on the EventLoop it was created with. The socket
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
  void Stop();
  const std::string& path() const { return path_; }

 private:
  void Accept();

  asio::io_context& io_;
  std::string path_;
  FrameHandler on_frame_;
  CloseHandler on_close_;
  asio::local::stream_protocol::acceptor acceptor_;
  pid_t creator_pid_;
};

}  // namespace lumos::rpc
