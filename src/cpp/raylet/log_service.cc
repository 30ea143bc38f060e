#include "raylet/log_service.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common.pb.h"
#include "node_manager.pb.h"
#include "raylet/log_files.h"

namespace lumos {
namespace raylet {

void ServeLogRequest(const rpc::ConnectionPtr& conn, const rpc::Frame& frame, const std::string& log_dir) {
  const uint64_t rid = frame.header.request_id;
  const uint16_t method = frame.header.method;
  if (method == rpc::LIST_LOGS) {
    std::vector<LogFile> files;
    Status s = ListLogFiles(log_dir, &files);
    if (!s.ok()) return conn->SendError(rid, method, s);
    rpc::ListLogsReply reply;
    for (const auto& f : files) {
      auto* info = reply.add_files();
      info->set_name(f.name);
      info->set_size(f.size);
      info->set_mtime_s(f.mtime_s);
    }
    return conn->SendReply(rid, method, reply);
  }
  rpc::ReadLogRequest req;
  if (!req.ParseFromString(frame.payload)) {
    return conn->SendError(rid, method, Status::InvalidArgument("unparsable ReadLogRequest"));
  }
  LogSlice slice;
  Status s = ReadLogFile(log_dir, req.name(), req.offset(), req.tail_lines(), req.max_bytes(), &slice);
  if (!s.ok()) return conn->SendError(rid, method, s);
  rpc::ReadLogReply reply;
  reply.set_data(std::move(slice.data));
  reply.set_end_offset(slice.end_offset);
  reply.set_size(slice.size);
  conn->SendReply(rid, method, reply);
}

void ServeStackDumpRequest(const rpc::ConnectionPtr& conn, const rpc::Frame& frame, const std::string& log_dir,
                           const std::string& session_dir) {
  const uint64_t rid = frame.header.request_id;
  const uint16_t method = frame.header.method;
  rpc::StackDumpRequest req;
  if (!req.ParseFromString(frame.payload) || req.pid() <= 0) {
    return conn->SendError(rid, method, Status::InvalidArgument("StackDumpRequest needs a positive pid"));
  }
  const std::string pid = std::to_string(req.pid());
  const std::string log_name = "stack-" + pid + ".txt";
  ::unlink((log_dir + "/" + log_name).c_str());
  // O_NONBLOCK: opening a FIFO nobody reads fails with ENXIO instead of waiting.
  int fd = ::open((session_dir + "/sockets/stack." + pid).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    return conn->SendError(rid, method,
                           Status::NotFound("no lumos worker with pid " + pid +
                                            " listens for stack requests on this node (" +
                                            std::string(strerror(errno)) + ")"));
  }
  ssize_t n;
  do {
    n = ::write(fd, "s", 1);
  } while (n < 0 && errno == EINTR);
  int err = errno;
  ::close(fd);
  if (n != 1) {
    return conn->SendError(rid, method, Status::IOError("cannot wake worker " + pid + ": " + strerror(err)));
  }
  rpc::StackDumpReply reply;
  reply.set_log_name(log_name);
  conn->SendReply(rid, method, reply);
}

}  // namespace raylet
}  // namespace lumos
