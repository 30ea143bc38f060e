#pragma once
// Dial: opens a fastpath connection to an endpoint string (rpc/endpoint.h),
// over the Unix socket when the peer is on this host (same node IP) and over
// TCP otherwise; a TCP connection is authenticated (rpc/handshake.h) before it
// is returned. Blocking: call off the loop thread. Thread safe.
#include <asio.hpp>
#include <string>

#include "rpc/connection.h"

namespace lumos::rpc {

/// \brief The connection (not started), or an error naming the endpoint:
/// IOError/TimedOut when unreachable within `timeout_ms` (refused connects
/// are retried until then; 0 = one attempt), Unauthenticated for a wrong token.
Result<ConnectionPtr> Dial(asio::io_context& io, const std::string& endpoint, int64_t timeout_ms);

/// \brief A connected, authenticated TCP socket descriptor to host:port
/// (blocking mode), for the object transfer client. Caller owns the fd.
Result<int> DialTcpFd(const std::string& host, int port, int64_t timeout_ms);

}  // namespace lumos::rpc
