#pragma once
// The raylet's LIST_LOGS, READ_LOG and REQUEST_STACK_DUMP fastpath methods (tooling: `lumos
// logs`, list_logs/get_log): a thin shell over log_files.h. Served to any
// authenticated TCP peer without registration, like GET_NODE_STATS; the
// reply is sent before returning (event loop thread).
#include <string>

#include "rpc/connection.h"

namespace lumos {
namespace raylet {

/// \brief Answers one LIST_LOGS or READ_LOG frame about the files in `log_dir`.
void ServeLogRequest(const rpc::ConnectionPtr& conn, const rpc::Frame& frame, const std::string& log_dir);

/// \brief Answers one REQUEST_STACK_DUMP frame: removes the worker's old
/// dump in `log_dir` and writes one byte to its FIFO
/// `session_dir`/sockets/stack.<pid> (non-blocking: a worker that does not
/// listen is a NotFound naming the pid, never a hang).
void ServeStackDumpRequest(const rpc::ConnectionPtr& conn, const rpc::Frame& frame, const std::string& log_dir,
                           const std::string& session_dir);

}  // namespace raylet
}  // namespace lumos
