#include "rpc/cluster_identity.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace lumos::rpc {
namespace {
std::string& TokenSlot() {
  static std::string token;
  return token;
}
std::string& IpSlot() {
  static std::string ip = "127.0.0.1";
  return ip;
}
}  // namespace

void SetClusterToken(std::string token) { TokenSlot() = std::move(token); }
const std::string& ClusterToken() { return TokenSlot(); }
void SetLocalNodeIp(std::string ip) { IpSlot() = std::move(ip); }
const std::string& LocalNodeIp() { return IpSlot(); }

Status LoadClusterToken(const std::string& path) {
  std::string token;
  if (!path.empty()) {
    std::ifstream in(path);
    if (!in) return Status::InvalidArgument("cannot read the cluster token file " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    token = ss.str();
  } else if (const char* env = std::getenv("LUMOS_AUTH_TOKEN")) {
    token = env;
  }
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) {
    return Status::InvalidArgument("no cluster token: pass --auth-token-file or set LUMOS_AUTH_TOKEN" +
                                   (path.empty() ? std::string() : " (" + path + " is empty)"));
  }
  SetClusterToken(std::move(token));
  return Status::OK();
}

bool TokensEqual(const std::string& a, const std::string& b) {
  // Length is not secret (tokens have a fixed format); the bytes are.
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); i++) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace lumos::rpc
