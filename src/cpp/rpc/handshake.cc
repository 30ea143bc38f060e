#include "rpc/handshake.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "rpc/blocking_io.h"
#include "rpc/cluster_identity.h"
#include "rpc/connection.h"
#include "rpc/frame.h"

namespace lumos::rpc {
namespace {

// The handshake frames are tiny; a peer announcing more is not a lumos peer.
constexpr uint64_t kMaxHandshakePayload = 4096;

Status ReadFrame(int fd, int64_t deadline_ms, Frame* out) {
  return rpc::ReadFrame(fd, kMaxHandshakePayload, deadline_ms, out);
}

std::string Encode(FrameKind kind, uint8_t flags, const std::string& payload) {
  return EncodeFrame(kind, AUTHENTICATE, /*request_id=*/1, flags, payload);
}

}  // namespace

Status CheckAuth(const AuthRequest& req) {
  if (req.version() != kLumosVersion) {
    return Status::InvalidArgument("version mismatch: this cluster runs lumos " + std::string(kLumosVersion) +
                                   " but the connecting process runs lumos " +
                                   (req.version().empty() ? std::string("(unknown)") : req.version()) +
                                   "; install the same lumos version on every node");
  }
  const std::string& mine = ClusterToken();
  if (req.token().empty()) {
    return Status::Unauthenticated(
        "no cluster token was presented; set LUMOS_AUTH_TOKEN (or pass --auth-token-file) to the "
        "cluster's token, which `lumos start --head` wrote to <session_dir>/auth_token on the head");
  }
  if (mine.empty() || !TokensEqual(req.token(), mine)) {
    return Status::Unauthenticated(
        "the cluster token presented is wrong; set LUMOS_AUTH_TOKEN (or pass --auth-token-file) to "
        "the token in <session_dir>/auth_token on the head node");
  }
  return Status::OK();
}

Status ClientHandshake(int fd, const std::string& peer, int64_t timeout_ms) {
  int64_t deadline = NowMs() + timeout_ms;
  AuthRequest req;
  req.set_token(ClusterToken());
  req.set_version(kLumosVersion);
  Status s = WriteAll(fd, Encode(FrameKind::kRequest, 0, req.SerializeAsString()), deadline);
  Frame reply;
  if (s.ok()) s = ReadFrame(fd, deadline, &reply);
  if (!s.ok()) return Status(s.code(), "handshake with " + peer + " failed: " + s.message());
  Status remote = StatusFromFrame(reply);
  if (!remote.ok()) return Status(remote.code(), peer + " refused the connection: " + remote.message());
  return Status::OK();
}

Status ServerHandshake(int fd, int64_t timeout_ms) {
  int64_t deadline = NowMs() + timeout_ms;
  Frame f;
  LUMOS_RETURN_NOT_OK(ReadFrame(fd, deadline, &f));
  AuthRequest req;
  Status s = (f.header.method != AUTHENTICATE || f.header.kind != FrameKind::kRequest ||
              !req.ParseFromString(f.payload))
                 ? Status::Unauthenticated("the first frame of a TCP connection must be AUTHENTICATE")
                 : CheckAuth(req);
  if (!s.ok()) {
    RpcError err;
    err.set_code(s.code_int());
    err.set_message(s.message());
    (void)WriteAll(fd, Encode(FrameKind::kReply, kFlagError, err.SerializeAsString()), deadline);
    return s;
  }
  AuthReply ok;
  ok.set_version(kLumosVersion);
  return WriteAll(fd, Encode(FrameKind::kReply, 0, ok.SerializeAsString()), deadline);
}

}  // namespace lumos::rpc
