#pragma once
// The process's place in a cluster, for the transports: the cluster token every
// TCP peer must present, the IP of the node this process runs on (peers on
// the same IP are reached over Unix sockets, others over TCP), and the lumos
// version a joining peer must match.
//
// Set once at start-up (raylet/gcs main, or the core worker from Python);
// read by every dial and accept. Thread safety: setters before any
// connection is made; getters are thread safe afterwards.
#include <string>

#include "common/status.h"

namespace lumos::rpc {

/// \brief The lumos release; peers of another release are refused at the
/// handshake (both versions named). Keep equal to python/lumos/__init__.py.
inline constexpr const char* kLumosVersion = "0.1.0";

void SetClusterToken(std::string token);
const std::string& ClusterToken();
void SetLocalNodeIp(std::string ip);
const std::string& LocalNodeIp();

/// \brief Sets the token from the file at `path` (trailing whitespace
/// dropped), or from $LUMOS_AUTH_TOKEN when `path` is empty. InvalidArgument
/// naming the fix when neither gives a token.
Status LoadClusterToken(const std::string& path);
/// \brief Compares two tokens in time independent of where they differ.
bool TokensEqual(const std::string& a, const std::string& b);

}  // namespace lumos::rpc
