#include "gcs/raylet_link.h"

#include <unistd.h>

#include <memory>

#include "common/logging.h"
#include "rpc/dial.h"
#include "node_manager.pb.h"

namespace lumos::gcs {

Result<rpc::ConnectionPtr> DialEndpoint(asio::io_context& io, const std::string& endpoint) {
  return rpc::Dial(io, endpoint, /*timeout_ms=*/0);
}

Result<rpc::ConnectionPtr> ConnectRaylet(asio::io_context& io, const NodeID& node, const std::string& endpoint,
                                         rpc::FrameHandler on_frame, rpc::CloseHandler on_close) {
  auto conn = DialEndpoint(io, endpoint);
  if (!conn.ok()) return conn.status();
  rpc::ConnectionPtr c = conn.value();
  c->set_context(std::make_shared<NodeID>(node));
  c->Start(std::move(on_frame), std::move(on_close));
  rpc::RegisterClientRequest reg;
  reg.set_worker_id(WorkerID::FromRandom().Binary());
  reg.set_is_driver(true);
  reg.set_pid(getpid());
  reg.set_runtime("gcs");
  c->SendRequest(rpc::REGISTER_CLIENT, reg, [node](const Status& s, rpc::Frame&&) {
    if (!s.ok()) {
      LUMOS_LOG(Warning) << "the raylet of node " << node.Hex() << " refused the GCS's registration: "
                         << s.ToString();
    }
  });
  return c;
}

}  // namespace lumos::gcs
