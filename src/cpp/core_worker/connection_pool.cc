#include "core_worker/connection_pool.h"

#include "rpc/dial.h"
#include "rpc/endpoint.h"

namespace lumos::core {

Result<std::string> UnixPathOf(const std::string& endpoint) {
  auto ep = rpc::ParseEndpoint(endpoint);
  if (!ep.ok()) return ep.status();
  if (ep.value().unix_path.empty()) {
    return Status::InvalidArgument("endpoint '" + endpoint + "' has no unix socket (it is on another host)");
  }
  return ep.value().unix_path;
}

Result<rpc::ConnectionPtr> ConnectionPool::Get(const std::string& endpoint, int64_t timeout_ms) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = conns_.find(endpoint);
    if (it != conns_.end() && !it->second->closed()) return it->second;
  }
  auto conn = rpc::Dial(io_, endpoint, timeout_ms);
  if (!conn.ok()) return conn.status();
  rpc::ConnectionPtr c = conn.value();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = conns_.find(endpoint);
    if (it != conns_.end() && !it->second->closed()) return it->second;  // lost a race
    conns_[endpoint] = c;
  }
  c->Start(on_frame_, [this, endpoint](const rpc::ConnectionPtr& closed, const Status&) {
    std::function<void(const std::string&)> notify;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = conns_.find(endpoint);
      if (it != conns_.end() && it->second == closed) conns_.erase(it);
      if (!closing_all_) notify = on_peer_closed_;
    }
    if (notify) notify(endpoint);
  });
  return c;
}

void ConnectionPool::SetPeerClosedHandler(std::function<void(const std::string&)> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  on_peer_closed_ = std::move(fn);
}

void ConnectionPool::CloseAll() {
  std::unordered_map<std::string, rpc::ConnectionPtr> conns;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_all_ = true;
    conns.swap(conns_);
  }
  for (auto& [ep, c] : conns) c->Close();
}

}  // namespace lumos::core
