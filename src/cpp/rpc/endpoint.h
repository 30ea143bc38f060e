#pragma once
// Fastpath endpoints as they travel in messages: "unix:/path" (one host),
// "tcp:IP:PORT" (across hosts) or both, "unix:/path;tcp:IP:PORT", for a
// process that serves either way. Dial picks the Unix socket when the peer's
// IP is this node's IP (the same host) and TCP otherwise. Pure functions.
#include <string>

#include "common/status.h"

namespace lumos::rpc {

struct Endpoint {
  std::string unix_path;  // empty: none
  std::string host;       // empty: no TCP part
  int port = 0;
  bool has_tcp() const { return !host.empty(); }
};

/// \brief Parses an endpoint string; InvalidArgument naming what is wrong.
Result<Endpoint> ParseEndpoint(const std::string& s);
/// \brief The string form; either part may be empty.
std::string FormatEndpoint(const std::string& unix_path, const std::string& host, int port);
/// \brief "HOST:PORT" -> host and port (IPv6 in brackets); InvalidArgument
/// naming the fix when the port is missing or not a number.
Status SplitHostPort(const std::string& s, std::string* host, int* port);

}  // namespace lumos::rpc
