#include "rpc/endpoint.h"

#include <cstdlib>

namespace lumos::rpc {

Status SplitHostPort(const std::string& s, std::string* host, int* port) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon + 1 == s.size()) {
    return Status::InvalidArgument("address '" + s + "' has no port; write it as HOST:PORT (e.g. 10.0.0.1:6379)");
  }
  std::string h = s.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty()) return Status::InvalidArgument("address '" + s + "' has no host; write it as HOST:PORT");
  char* end = nullptr;
  long p = std::strtol(s.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || p <= 0 || p > 65535) {
    return Status::InvalidArgument("address '" + s + "' has a bad port '" + s.substr(colon + 1) +
                                   "'; a port is a number from 1 to 65535");
  }
  *host = h;
  *port = static_cast<int>(p);
  return Status::OK();
}

Result<Endpoint> ParseEndpoint(const std::string& s) {
  Endpoint ep;
  size_t start = 0;
  while (start <= s.size()) {
    size_t semi = s.find(';', start);
    std::string part = s.substr(start, semi == std::string::npos ? std::string::npos : semi - start);
    if (part.rfind("unix:", 0) == 0 && part.size() > 5) {
      ep.unix_path = part.substr(5);
    } else if (part.rfind("tcp:", 0) == 0) {
      LUMOS_RETURN_NOT_OK(SplitHostPort(part.substr(4), &ep.host, &ep.port));
    } else {
      return Status::InvalidArgument("bad fastpath endpoint '" + s + "' (expected unix:/path and/or tcp:IP:PORT)");
    }
    if (semi == std::string::npos) break;
    start = semi + 1;
  }
  return ep;
}

std::string FormatEndpoint(const std::string& unix_path, const std::string& host, int port) {
  std::string out;
  if (!unix_path.empty()) out = "unix:" + unix_path;
  if (!host.empty()) {
    if (!out.empty()) out += ";";
    bool v6 = host.find(':') != std::string::npos;
    out += "tcp:" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
  return out;
}

}  // namespace lumos::rpc
