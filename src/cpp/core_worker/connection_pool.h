#pragma once
// ConnectionPool: one fastpath connection per peer endpoint (rpc/endpoint.h),
// opened on first use and forgotten when it closes. Frames the peer sends
// (one-way messages, requests) go to the shared handler.
// Thread safety: thread safe.
#include <asio.hpp>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "rpc/connection.h"

namespace lumos::core {

class ConnectionPool {
 public:
  ConnectionPool(asio::io_context& io, rpc::FrameHandler on_frame) : io_(io), on_frame_(std::move(on_frame)) {}
  /// \brief The open connection to `endpoint`, connecting if needed
  /// (refused connects are retried for `timeout_ms`: the peer may be starting).
  Result<rpc::ConnectionPtr> Get(const std::string& endpoint, int64_t timeout_ms = 2000);
  /// \brief Called (on the loop thread) when a pool connection closes because
  /// the peer went away; not for CloseAll.
  void SetPeerClosedHandler(std::function<void(const std::string& endpoint)> fn);
  void CloseAll();

 private:
  asio::io_context& io_;
  rpc::FrameHandler on_frame_;
  std::mutex mu_;
  std::unordered_map<std::string, rpc::ConnectionPtr> conns_;
  std::function<void(const std::string&)> on_peer_closed_;
  bool closing_all_ = false;
};

/// \brief Sends a request and blocks for its reply. Never call on the loop thread.
template <typename Reply>
Status CallSync(const rpc::ConnectionPtr& conn, uint16_t method, const google::protobuf::Message& req,
                Reply* reply, int64_t timeout_ms) {
  auto promise = std::make_shared<std::promise<Status>>();
  auto fut = promise->get_future();
  conn->SendRequest(
      method, req,
      [promise, reply](const Status& s, rpc::Frame&& f) {
        if (s.ok() && !reply->ParseFromString(f.payload)) {
          promise->set_value(Status::Invalid("unparsable reply"));
          return;
        }
        promise->set_value(s);
      },
      timeout_ms);
  return fut.get();
}

/// \brief The Unix socket path of an endpoint ("unix:/p[;tcp:..]" -> "/p"); an error without one.
Result<std::string> UnixPathOf(const std::string& endpoint);

}  // namespace lumos::core
