#pragma once
// ConnectionPool: one fastpath connection per peer endpoint ("unix:/path"),
// opened on first use and forgotten when it closes. Frames the peer sends
// (one-way messages, requests) go to the shared handler.
// Thread safety: thread safe.
#include <asio.hpp>
#include <mutex>
#include <string>
#include <unordered_map>

#include "rpc/connection.h"

namespace lumos::core {

class ConnectionPool {
 public:
  ConnectionPool(asio::io_context& io, rpc::FrameHandler on_frame) : io_(io), on_frame_(std::move(on_frame)) {}
  /// \brief The open connection to `endpoint`, connecting if needed.
  Result<rpc::ConnectionPtr> Get(const std::string& endpoint);
  void CloseAll();

 private:
  asio::io_context& io_;
  rpc::FrameHandler on_frame_;
  std::mutex mu_;
  std::unordered_map<std::string, rpc::ConnectionPtr> conns_;
};

/// \brief "unix:/p" -> "/p"; anything else is an error (TCP comes with multi-node).
Result<std::string> UnixPathOf(const std::string& endpoint);

}  // namespace lumos::core
