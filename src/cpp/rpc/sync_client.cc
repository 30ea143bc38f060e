#include "rpc/sync_client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "common/config.h"
#include "rpc/connection.h"

namespace lumos::rpc {

SyncClient::~SyncClient() { Close(); }

void SyncClient::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status SyncClient::Connect(const std::string& path, int64_t timeout_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (path.size() >= sizeof(sockaddr_un::sun_path)) return Status::InvalidArgument("socket path too long: " + path);
  int64_t deadline = NowMs() + timeout_ms;
  while (true) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Status::IOError(std::string("socket: ") + std::strerror(errno));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      fd_ = fd;
      return Status::OK();
    }
    int err = errno;
    ::close(fd);
    if (NowMs() >= deadline) {
      return Status::IOError("could not connect to " + path + ": " + std::strerror(err));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

Status SyncClient::WriteAll(const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Disconnected(std::string("send: ") + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  return Status::OK();
}

Status SyncClient::ReadFrame(Frame* frame, int* received_fd) {
  FrameDecoder decoder(Config::Get().max_frame_bytes());
  char buf[64 * 1024];
  while (true) {
    if (!inbuf_.empty()) {
      LUMOS_RETURN_NOT_OK(decoder.Feed(inbuf_.data(), inbuf_.size()));
      inbuf_.clear();
    }
    if (decoder.HasFrame()) break;
    struct msghdr m;
    std::memset(&m, 0, sizeof(m));
    struct iovec iov{buf, std::min(sizeof(buf), std::max<size_t>(decoder.Wanted(), 1))};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    char cbuf[CMSG_SPACE(sizeof(int))];
    m.msg_control = cbuf;
    m.msg_controllen = sizeof(cbuf);
    ssize_t n = ::recvmsg(fd_, &m, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Disconnected("server closed the connection");
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
        if (received_fd) {
          *received_fd = fd;
        } else {
          ::close(fd);
        }
      }
    }
    LUMOS_RETURN_NOT_OK(decoder.Feed(buf, static_cast<size_t>(n)));
  }
  *frame = decoder.Next();
  // The decoder read exactly one frame's worth (reads are sized by Wanted()).
  return Status::OK();
}

Status SyncClient::CallNoWait(uint16_t method, const google::protobuf::Message& request) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ < 0) return Status::Disconnected("not connected");
  FrameHeader h;
  h.method = method;
  h.kind = FrameKind::kOneway;
  std::string payload = request.SerializeAsString();
  h.payload_len = static_cast<uint32_t>(payload.size());
  return WriteAll(EncodeFrame(h, payload));
}

Status SyncClient::Call(uint16_t method, const google::protobuf::Message& request,
                        google::protobuf::Message* reply, int* received_fd) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ < 0) return Status::Disconnected("not connected");
  FrameHeader h;
  h.method = method;
  h.kind = FrameKind::kRequest;
  h.request_id = next_id_++;
  std::string payload = request.SerializeAsString();
  h.payload_len = static_cast<uint32_t>(payload.size());
  LUMOS_RETURN_NOT_OK(WriteAll(EncodeFrame(h, payload)));
  while (true) {
    Frame f;
    LUMOS_RETURN_NOT_OK(ReadFrame(&f, received_fd));
    if (f.header.kind != FrameKind::kReply || f.header.request_id != h.request_id) continue;
    LUMOS_RETURN_NOT_OK(StatusFromFrame(f));
    if (reply && !reply->ParseFromString(f.payload)) return Status::Invalid("unparsable reply");
    return Status::OK();
  }
}

}  // namespace lumos::rpc
