#include "rpc/blocking_io.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common.pb.h"
#include "rpc/connection.h"

namespace lumos::rpc {
namespace {

Status WaitFor(int fd, short events, int64_t deadline_ms, const char* what) {
  while (true) {
    int64_t left = deadline_ms - NowMs();
    if (left <= 0) return Status::TimedOut(std::string("timed out while ") + what);
    struct pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1 << 30)));
    if (r > 0) return Status::OK();
    if (r < 0 && errno != EINTR) return Status::IOError(std::string("poll: ") + std::strerror(errno));
  }
}

}  // namespace

Status WriteAll(int fd, const char* data, size_t len, int64_t deadline_ms) {
  size_t off = 0;
  while (off < len) {
    ssize_t n = ::send(fd, data + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      off += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      LUMOS_RETURN_NOT_OK(WaitFor(fd, POLLOUT, deadline_ms, "sending"));
    } else {
      return Status::IOError(std::string("send: ") + std::strerror(errno));
    }
  }
  return Status::OK();
}

Status ReadAll(int fd, char* out, size_t len, int64_t deadline_ms) {
  size_t off = 0;
  while (off < len) {
    ssize_t n = ::recv(fd, out + off, len - off, MSG_DONTWAIT);
    if (n > 0) {
      off += static_cast<size_t>(n);
    } else if (n == 0) {
      return Status::Disconnected("the peer closed the connection");
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      LUMOS_RETURN_NOT_OK(WaitFor(fd, POLLIN, deadline_ms, "waiting for the peer"));
    } else {
      return Status::IOError(std::string("recv: ") + std::strerror(errno));
    }
  }
  return Status::OK();
}

Status ReadFrameHeader(int fd, uint64_t max_payload, int64_t deadline_ms, FrameHeader* out) {
  uint8_t hdr[kFrameHeaderSize];
  LUMOS_RETURN_NOT_OK(ReadAll(fd, reinterpret_cast<char*>(hdr), sizeof(hdr), deadline_ms));
  return DecodeHeader(hdr, max_payload, out);
}

Status ReadFrame(int fd, uint64_t max_payload, int64_t deadline_ms, Frame* out) {
  LUMOS_RETURN_NOT_OK(ReadFrameHeader(fd, max_payload, deadline_ms, &out->header));
  out->payload.resize(out->header.payload_len);
  return ReadAll(fd, out->payload.data(), out->payload.size(), deadline_ms);
}

Status WriteFrame(int fd, FrameKind kind, uint16_t method, uint64_t request_id, uint8_t flags,
                  const std::string& payload, int64_t deadline_ms) {
  return WriteAll(fd, EncodeFrame(kind, method, request_id, flags, payload), deadline_ms);
}

Status WriteErrorFrame(int fd, uint16_t method, uint64_t request_id, const Status& status, int64_t deadline_ms) {
  RpcError err;
  err.set_code(status.code_int());
  err.set_message(status.message());
  return WriteFrame(fd, FrameKind::kReply, method, request_id, kFlagError, err.SerializeAsString(), deadline_ms);
}

}  // namespace lumos::rpc
