#include "rpc/connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "common/config.h"
#include "common/log_budget.h"
#include "common/logging.h"
#include "common.pb.h"
#include "rpc/cluster_identity.h"
#include "rpc/handshake.h"

namespace lumos::rpc {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Status StatusFromFrame(const Frame& frame) {
  if (!(frame.header.flags & kFlagError)) return Status::OK();
  RpcError err;
  if (!err.ParseFromString(frame.payload)) return Status::Invalid("unparsable RpcError");
  return Status(static_cast<StatusCode>(err.code()), err.message());
}

ConnectionPtr Connection::Create(asio::io_context& io, Socket socket) {
  return ConnectionPtr(new Connection(io, std::move(socket)));
}

Connection::Connection(asio::io_context& io, Socket socket)
    : io_(io),
      socket_(std::move(socket)),
      creator_pid_(getpid()),
      decoder_(Config::Get().max_frame_bytes()),
      // Small at first, grown when reads fill it (OnBytes) or a frame needs
      // more (ReadMore): 1,000 idle connections then cost 4 MiB, not 64.
      read_buf_(4 * 1024),
      deadline_timer_(io),
      auth_timer_(io) {}

Connection::~Connection() {
  if (getpid() != creator_pid_ && socket_.is_open()) {
    // A forked child must not close (or shut down) the parent's socket.
    asio::error_code ec;
    socket_.release(ec);
  }
}

Result<ConnectionPtr> Connection::Connect(asio::io_context& io, const std::string& path,
                                          int64_t timeout_ms) {
  int64_t deadline = NowMs() + timeout_ms;
  asio::error_code ec;
  while (true) {
    asio::local::stream_protocol::socket sock(io);
    sock.connect(asio::local::stream_protocol::endpoint(path), ec);
    if (!ec) return Create(io, Socket(std::move(sock)));
    if (NowMs() >= deadline) {
      return Status::IOError("could not connect to " + path + " within " +
                             std::to_string(timeout_ms) + " ms: " + ec.message());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void Connection::RequireAuth() {
  awaiting_auth_ = true;
  decoder_.set_max_payload(4096);
}

void Connection::HandleAuth(Frame&& frame) {
  AuthRequest req;
  Status s = (frame.header.method != AUTHENTICATE || frame.header.kind != FrameKind::kRequest ||
              !req.ParseFromString(frame.payload))
                 ? Status::Unauthenticated("the first frame of a TCP connection must be AUTHENTICATE")
                 : CheckAuth(req);
  if (!s.ok()) {
    SendError(frame.header.request_id, AUTHENTICATE, s);
    CloseBadPeer(Status(s.code(), "refused at AUTHENTICATE: " + s.message()));
    return;
  }
  awaiting_auth_ = false;
  auth_timer_.cancel();
  authenticated_ = true;
  decoder_.set_max_payload(Config::Get().max_frame_bytes());
  AuthReply ok;
  ok.set_version(kLumosVersion);
  SendReply(frame.header.request_id, AUTHENTICATE, ok);
}

void Connection::Start(FrameHandler on_frame, CloseHandler on_close) {
  on_frame_ = std::move(on_frame);
  on_close_ = std::move(on_close);
  auto self = shared_from_this();
  asio::post(io_, [self] {
    if (self->awaiting_auth_) self->ArmAuthTimer();
    self->ReadMore();
  });
}

void Connection::ArmAuthTimer() {
  const int64_t ms = Config::Get().auth_timeout_ms();
  auth_timer_.expires_after(std::chrono::milliseconds(ms));
  auto self = shared_from_this();
  auth_timer_.async_wait([self, ms](asio::error_code ec) {
    if (ec || self->closed_ || !self->awaiting_auth_) return;
    // Without this a client that connects and never speaks holds a
    // descriptor (and a read buffer) of this process forever.
    self->CloseBadPeer(Status::Unauthenticated("sent no AUTHENTICATE within " + std::to_string(ms) +
                                               " ms (auth_timeout_ms)"));
  });
}

void Connection::ReadMore() {
  if (closed_) return;
  size_t want = decoder_.Wanted();
  if (read_buf_.size() < want) read_buf_.resize(std::min<size_t>(want, 16 * 1024 * 1024));
  auto self = shared_from_this();
  socket_.async_read_some(asio::buffer(read_buf_), [self](asio::error_code ec, size_t n) {
    if (ec) {
      if (ec == asio::error::eof && self->decoder_.MidFrame()) {
        self->CloseBadPeer(Status::Invalid("the peer hung up in the middle of a frame (truncated frame)"));
        return;
      }
      self->Close(ec == asio::error::eof ? Status::Disconnected("peer closed the connection")
                                         : Status::IOError("read failed: " + ec.message()));
      return;
    }
    self->OnBytes(n);
  });
}

void Connection::OnBytes(size_t n) {
  Status s = decoder_.Feed(read_buf_.data(), n);
  if (n == read_buf_.size() && n < 64 * 1024) read_buf_.resize(64 * 1024);  // a busy peer: read more at once
  bool batch = false;
  while (decoder_.HasFrame()) {
    if (closed_) return;
    Dispatch(decoder_.Next());
    if (!batch && decoder_.HasFrame()) {
      // More frames came in this read (a peer's batched replies): what
      // handling them writes here goes out in one write, not one per frame.
      batch = true;
      std::lock_guard<std::mutex> lock(write_mu_);
      batch_corked_ = true;
    }
  }
  if (batch) {
    std::lock_guard<std::mutex> lock(write_mu_);
    batch_corked_ = false;
    FlushCorkLocked();
  }
  if (!s.ok()) {
    CloseBadPeer(Status(s.code(), "malformed frame: " + s.message()));
    return;
  }
  ReadMore();
}

void Connection::Dispatch(Frame&& frame) {
  if (awaiting_auth_) {
    HandleAuth(std::move(frame));
    return;
  }
  if (frame.header.kind == FrameKind::kReply) {
    ReplyCallback cb;
    {
      std::lock_guard<std::mutex> lock(pending_mu_);
      auto it = pending_.find(frame.header.request_id);
      if (it == pending_.end()) return;  // timed out earlier; drop the late reply
      cb = std::move(it->second.cb);
      pending_.erase(it);
    }
    Status st = StatusFromFrame(frame);
    cb(st, std::move(frame));
    return;
  }
  if (on_frame_) on_frame_(shared_from_this(), std::move(frame));
}

void Connection::SendRequest(uint16_t method, const google::protobuf::Message& msg, ReplyCallback cb,
                             int64_t timeout_ms) {
  SendRequestPayload(method, msg.SerializeAsString(), std::move(cb), timeout_ms);
}

void Connection::SendRequestPayload(uint16_t method, const std::string& payload, ReplyCallback cb,
                                    int64_t timeout_ms) {
  std::string frame;
  frame.reserve(kFrameHeaderSize + payload.size());
  frame.assign(kFrameHeaderSize, '\0');
  frame.append(payload);
  SendRequestFrame(method, std::move(frame), std::move(cb), timeout_ms);
}

void Connection::SendRequestFrame(uint16_t method, std::string frame, ReplyCallback cb, int64_t timeout_ms) {
  uint64_t request_id;
  bool arm = false;
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    request_id = next_request_id_++;
    pending_[request_id] = Pending{std::move(cb), timeout_ms < 0 ? -1 : NowMs() + timeout_ms};
    if (timeout_ms >= 0 && !deadline_timer_armed_) {
      deadline_timer_armed_ = true;
      arm = true;
    }
  }
  if (closed_) {
    // Fail on the loop thread, like every other completion.
    auto self = shared_from_this();
    asio::post(io_, [self] { self->ExpireDeadlines(); });
  }
  if (arm) {
    auto self = shared_from_this();
    asio::post(io_, [self] { self->ArmDeadlineTimer(); });
  }
  FrameHeader h;
  h.method = method;
  h.kind = FrameKind::kRequest;
  h.request_id = request_id;
  h.payload_len = static_cast<uint32_t>(frame.size() - kFrameHeaderSize);
  EncodeHeader(h, reinterpret_cast<uint8_t*>(&frame[0]));
  Write(std::move(frame));
}

void Connection::SendFrame(FrameKind kind, uint16_t method, uint64_t request_id, uint8_t flags,
                           const std::string& payload) {
  Write(EncodeFrame(kind, method, request_id, flags, payload));
}

void Connection::SendReply(uint64_t request_id, uint16_t method, const google::protobuf::Message& msg) {
  SendFrame(FrameKind::kReply, method, request_id, 0, msg.SerializeAsString());
}

void Connection::SendError(uint64_t request_id, uint16_t method, const Status& status) {
  RpcError err;
  err.set_code(status.code_int());
  err.set_message(status.message());
  SendFrame(FrameKind::kReply, method, request_id, kFlagError, err.SerializeAsString());
}

void Connection::SendOneway(uint16_t method, const google::protobuf::Message& msg) {
  SendFrame(FrameKind::kOneway, method, 0, 0, msg.SerializeAsString());
}

Status Connection::SendReplyWithFd(uint64_t request_id, uint16_t method,
                                   const google::protobuf::Message& msg, int fd) {
  FrameHeader h;
  h.method = method;
  h.kind = FrameKind::kReply;
  h.flags = kFlagHasFd;
  h.request_id = request_id;
  std::string payload = msg.SerializeAsString();
  h.payload_len = static_cast<uint32_t>(payload.size());
  std::string bytes = EncodeFrame(h, payload);

  std::lock_guard<std::mutex> lock(write_mu_);
  if (!cork_buffer_.empty()) {  // what was sent before goes first
    std::string corked;
    corked.swap(cork_buffer_);
    WriteLocked(std::move(corked));
  }
  if (write_in_progress_) return Status::Invalid("cannot pass a descriptor behind queued writes");
  struct msghdr m;
  std::memset(&m, 0, sizeof(m));
  struct iovec iov{bytes.data(), bytes.size()};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  char cbuf[CMSG_SPACE(sizeof(int))];
  std::memset(cbuf, 0, sizeof(cbuf));
  m.msg_control = cbuf;
  m.msg_controllen = sizeof(cbuf);
  struct cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  ssize_t n = ::sendmsg(socket_.native_handle(), &m, MSG_NOSIGNAL);
  if (n < 0) return Status::IOError(std::string("sendmsg: ") + std::strerror(errno));
  if (static_cast<size_t>(n) < bytes.size()) {
    write_queue_.push_back(bytes.substr(n));
    write_in_progress_ = true;
    auto self = shared_from_this();
    asio::post(io_, [self] {
      std::lock_guard<std::mutex> l(self->write_mu_);
      self->FlushQueueLocked();
    });
  }
  return Status::OK();
}

void Connection::Cork() {
  std::lock_guard<std::mutex> lock(write_mu_);
  corked_ = true;
}

void Connection::Uncork() {
  std::lock_guard<std::mutex> lock(write_mu_);
  corked_ = false;
  FlushCorkLocked();
}

void Connection::FlushCorkLocked() {
  if (corked_ || batch_corked_ || cork_buffer_.empty()) return;
  if (closed_ || write_in_progress_) {
    WriteLocked(std::move(cork_buffer_));
    cork_buffer_.clear();
    return;
  }
  // Sent from the buffer itself, which is then emptied but keeps its
  // capacity: a burst corks again soon, and regrowing the buffer by doubling
  // each time cost a malloc_consolidate per batch in a driver submitting calls.
  size_t off = 0;
  if (!SendNowLocked(cork_buffer_.data(), cork_buffer_.size(), &off)) {
    cork_buffer_.clear();
    return;
  }
  if (off < cork_buffer_.size()) QueueLocked(cork_buffer_.substr(off));
  cork_buffer_.clear();
  if (cork_buffer_.capacity() > kKeptCorkCapacity) cork_buffer_.shrink_to_fit();
}

void Connection::Write(std::string bytes) {
  std::lock_guard<std::mutex> lock(write_mu_);
  if (corked_ || batch_corked_) {
    cork_buffer_.append(bytes);
    return;
  }
  WriteLocked(std::move(bytes));
}

bool Connection::SendNowLocked(const char* data, size_t len, size_t* off) {
  while (*off < len) {
    ssize_t n = ::send(socket_.native_handle(), data + *off, len - *off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      *off += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return true;
    } else {
      auto self = shared_from_this();
      std::string why = std::strerror(errno);
      asio::post(io_, [self, why] { self->Close(Status::IOError("write failed: " + why)); });
      return false;
    }
  }
  return true;
}

void Connection::QueueLocked(std::string rest) {
  write_queue_.push_back(std::move(rest));
  write_in_progress_ = true;
  auto self = shared_from_this();
  asio::post(io_, [self] {
    std::lock_guard<std::mutex> l(self->write_mu_);
    self->FlushQueueLocked();
  });
}

void Connection::WriteLocked(std::string bytes) {
  if (closed_) return;
  if (write_in_progress_) {
    write_queue_.push_back(std::move(bytes));
    return;
  }
  // Fast path: write from this thread; only leftovers go through the loop.
  size_t off = 0;
  if (!SendNowLocked(bytes.data(), bytes.size(), &off) || off == bytes.size()) return;
  QueueLocked(off ? bytes.substr(off) : std::move(bytes));
}

void Connection::FlushQueueLocked() {
  if (write_queue_.empty() || closed_) {
    write_in_progress_ = false;
    return;
  }
  const std::string& front = write_queue_.front();
  auto self = shared_from_this();
  asio::async_write(socket_, asio::buffer(front.data(), front.size()),
                    [self](asio::error_code ec, size_t) {
                      if (ec) {
                        self->Close(Status::IOError("write failed: " + ec.message()));
                        return;
                      }
                      std::lock_guard<std::mutex> l(self->write_mu_);
                      self->write_queue_.pop_front();
                      self->FlushQueueLocked();
                    });
}

void Connection::ArmDeadlineTimer() {
  deadline_timer_.expires_after(std::chrono::milliseconds(20));
  auto self = shared_from_this();
  deadline_timer_.async_wait([self](asio::error_code ec) {
    if (ec) return;
    self->ExpireDeadlines();
  });
}

void Connection::ExpireDeadlines() {
  std::vector<ReplyCallback> expired;
  std::vector<ReplyCallback> failed;
  bool rearm = false;
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    int64_t now = NowMs();
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (closed_) {
        failed.push_back(std::move(it->second.cb));
        it = pending_.erase(it);
      } else if (it->second.deadline_ms >= 0 && it->second.deadline_ms <= now) {
        expired.push_back(std::move(it->second.cb));
        it = pending_.erase(it);
      } else {
        rearm |= it->second.deadline_ms >= 0;
        ++it;
      }
    }
    deadline_timer_armed_ = rearm;
  }
  for (auto& cb : expired) cb(Status::TimedOut("fastpath request timed out"), Frame{});
  for (auto& cb : failed) cb(Status::Disconnected("connection closed"), Frame{});
  if (rearm) ArmDeadlineTimer();
}

std::string Connection::PeerAddress() {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getpeername(fd(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "(unknown peer)";
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
    return std::string(buf) + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  return "unix socket (pid " + std::to_string(PeerPid()) + ")";
}

std::string Connection::DescribePeer() {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getsockname(fd(), reinterpret_cast<sockaddr*>(&ss), &len) == 0 && ss.ss_family == AF_UNIX) {
    return "unix peer pid " + std::to_string(PeerPid());
  }
  return "TCP peer " + PeerAddress() + " (pid not knowable over TCP)";
}

void Connection::CloseBadPeer(const Status& why) {
  // One line per connection (a handler may call this after the decoder did),
  // and a process-wide budget: 1,000 hostile connections must not mean 1,000
  // lines, nor a disk filled by one script.
  static LogBudget budget(/*burst=*/50, /*per_second=*/5);
  if (!closed_ && !reported_bad_peer_.exchange(true)) {
    uint64_t suppressed = 0;
    if (budget.Take(NowMs(), &suppressed)) {
      LUMOS_LOG(Warning) << "dropped a connection from " << DescribePeer() << ": " << why.message()
                         << (suppressed ? " (" + std::to_string(suppressed) +
                                              " earlier bad connections not logged: too many)"
                                        : std::string());
    }
  }
  Close(why);
}

pid_t Connection::PeerPid() {
  struct ucred cred {};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
  return cred.pid;
}

void Connection::Close(const Status& reason) {
  auto self = shared_from_this();
  asio::dispatch(io_, [self, reason] {
    if (self->closed_.exchange(true)) return;
    {
      // Under write_mu_ so a concurrent Write() cannot send to a closed (and
      // possibly reused) descriptor number.
      std::lock_guard<std::mutex> lock(self->write_mu_);
      asio::error_code ec;
      self->socket_.shutdown(Socket::shutdown_both, ec);
      self->socket_.close(ec);
    }
    self->deadline_timer_.cancel();
    self->auth_timer_.cancel();
    std::unordered_map<uint64_t, Pending> pending;
    {
      std::lock_guard<std::mutex> lock(self->pending_mu_);
      pending.swap(self->pending_);
    }
    for (auto& [id, p] : pending) p.cb(Status::Disconnected("connection closed: " + reason.message()), Frame{});
    {
      std::lock_guard<std::mutex> lock(self->write_mu_);
      self->write_queue_.clear();
    }
    if (self->on_close_) {
      auto cb = std::move(self->on_close_);
      cb(self, reason);
    }
    // Cleared later: Close() may run inside on_frame_ itself (a handler closing
    // its connection), and destroying a running std::function is undefined.
    asio::post(self->io_, [self] { self->on_frame_ = nullptr; });
  });
}

}  // namespace lumos::rpc
