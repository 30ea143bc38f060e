#pragma once
// The GCS's fastpath link to a raylet, shared by the actor and placement group
// schedulers: dial the raylet's endpoint, tag the connection with its NodeID
// (conn->context()), start it and register as the "gcs" client.
#include <asio.hpp>
#include <string>

#include "common/id.h"
#include "common/status.h"
#include "rpc/connection.h"

namespace lumos::gcs {

/// \brief Dials `endpoint` (unix and/or tcp, see rpc/endpoint.h) once: the peers the GCS dials listen
/// before they advertise their endpoint, so a failure means the peer is gone.
Result<rpc::ConnectionPtr> DialEndpoint(asio::io_context& io, const std::string& endpoint);

/// \brief A started, registering connection to the raylet of `node`, or the
/// dial error. A refused registration is logged (the connection stays usable
/// for what the raylet accepts).
Result<rpc::ConnectionPtr> ConnectRaylet(asio::io_context& io, const NodeID& node, const std::string& endpoint,
                                         rpc::FrameHandler on_frame, rpc::CloseHandler on_close);

}  // namespace lumos::gcs
