#pragma once
// The AUTHENTICATE exchange that opens every TCP fastpath connection (object
// transfer included): the client sends the cluster token and its version, the
// server answers with its version or an error frame, and closes on failure.
// Unix sockets skip it (the session dir is private to the user).
//
// ClientHandshake/ServerHandshake are blocking, on a raw connected socket,
// bounded by a timeout. CheckAuth is the one server-side rule, also used by
// Connection for asio-served sockets. Thread safe.
#include <cstdint>
#include <string>

#include "common.pb.h"
#include "common/status.h"

namespace lumos::rpc {

/// \brief OK when `req` carries this cluster's token and version; otherwise
/// Unauthenticated / InvalidArgument with a message naming the fix.
Status CheckAuth(const AuthRequest& req);
/// \brief Sends the token and waits for the answer. `peer` names the address in errors.
Status ClientHandshake(int fd, const std::string& peer, int64_t timeout_ms);
/// \brief Reads and checks the first frame, answers it. A non-OK result means
/// the caller must close the socket.
Status ServerHandshake(int fd, int64_t timeout_ms);

}  // namespace lumos::rpc
