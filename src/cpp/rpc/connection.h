#pragma once
// One fastpath connection (a Unix-domain or TCP stream socket) driven by an
// asio loop. A connection accepted on a TCP listener must authenticate first
// (RequireAuth): its first frame is AUTHENTICATE with the cluster token
// (rpc/handshake.h) within Config auth_timeout_ms; anything else, a wrong
// token, or silence past that deadline closes it.
//
// Reads happen on the loop thread: requests and one-way frames go to the
// handler given to Start(); replies complete the callback of the matching
// SendRequest(). A malformed frame closes the connection and fails every
// pending request with Disconnected; the process keeps running. Every such
// protocol violation (here or in a handler: CloseBadPeer) is logged once per
// connection, naming the peer (its pid on a Unix socket), rate-limited per
// process so a flood of bad connections cannot flood the log.
//
// Thread safety: every Send* may be called from any thread. A send writes
// straight to the socket from the calling thread when nothing is queued (no
// wake-up of the loop thread on the hot path); the rest is queued and written
// by the loop. Callbacks run on the loop thread.
//
// Ownership: shared_ptr; the pending read keeps the connection alive until it
// is closed. Destruction in a forked child does not touch the socket.
#include <sys/types.h>

#include <google/protobuf/message.h>

#include <asio.hpp>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/status.h"
#include "rpc/frame.h"

namespace lumos::rpc {

class Connection;
using ConnectionPtr = std::shared_ptr<Connection>;
using FrameHandler = std::function<void(const ConnectionPtr&, Frame&&)>;
using CloseHandler = std::function<void(const ConnectionPtr&, const Status&)>;
using ReplyCallback = std::function<void(const Status&, Frame&&)>;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Socket = asio::generic::stream_protocol::socket;

  static ConnectionPtr Create(asio::io_context& io, Socket socket);
  /// \brief Connects to a Unix socket path, retrying until `timeout_ms` passes
  /// (the peer may still be starting). Blocking; call off the loop thread.
  static Result<ConnectionPtr> Connect(asio::io_context& io, const std::string& path,
                                       int64_t timeout_ms);
  ~Connection();

  /// \brief Server side of a TCP connection: the first frame must be a valid
  /// AUTHENTICATE (frames before it are limited to a few KiB). Call before Start.
  void RequireAuth();
  /// \brief Starts reading. Call once, after the handlers are ready.
  void Start(FrameHandler on_frame, CloseHandler on_close);

  /// \brief Sends a request; `cb` runs on the loop thread with the reply, an
  /// RpcError status, Disconnected, or TimedOut after `timeout_ms` (<0: none).
  void SendRequest(uint16_t method, const google::protobuf::Message& msg, ReplyCallback cb,
                   int64_t timeout_ms = -1);
  /// \brief The same with the message already serialized (`payload`).
  void SendRequestPayload(uint16_t method, const std::string& payload, ReplyCallback cb, int64_t timeout_ms = -1);
  /// \brief The same with the frame laid out by the caller: kFrameHeaderSize
  /// bytes of room, then the payload. The header is written in place, so a
  /// large payload is not copied again (see core_worker/push_task_frame.h).
  void SendRequestFrame(uint16_t method, std::string frame, ReplyCallback cb, int64_t timeout_ms = -1);
  void SendReply(uint64_t request_id, uint16_t method, const google::protobuf::Message& msg);
  void SendError(uint64_t request_id, uint16_t method, const Status& status);
  void SendOneway(uint16_t method, const google::protobuf::Message& msg);
  /// \brief Sends a reply together with a file descriptor (SCM_RIGHTS).
  Status SendReplyWithFd(uint64_t request_id, uint16_t method,
                         const google::protobuf::Message& msg, int fd);
  /// \brief Sends raw bytes as they are (tests use it to inject malformed frames).
  void SendRawForTest(std::string bytes) { Write(std::move(bytes)); }

  /// \brief While corked, sends are buffered (no syscall, no wake-up of the
  /// peer); Uncork writes them all at once. Used to batch replies of pipelined
  /// tasks. Thread safe. Independently, the loop corks a connection while it
  /// handles the second and later frames of one read, so the answers and
  /// pushes they cause leave in one write (OnBytes).
  void Cork();
  void Uncork();

  void Close(const Status& reason = Status::Disconnected("closed locally"));
  /// \brief Closes the connection because the peer broke the protocol (a
  /// malformed or truncated frame, an unknown method, no or a wrong
  /// AUTHENTICATE): one warning naming the peer (DescribePeer) and `why`,
  /// once per connection and within the process's budget for such lines.
  void CloseBadPeer(const Status& why);
  bool closed() const { return closed_.load(); }
  /// \brief True once a TCP peer passed AUTHENTICATE (false on Unix sockets).
  bool authenticated() const { return authenticated_.load(); }
  int fd() { return socket_.native_handle(); }
  /// \brief The pid of the process at the other end, from the kernel
  /// (SO_PEERCRED), or -1 if it cannot be read.
  pid_t PeerPid();
  /// \brief "IP:port" of a TCP peer, or a description of a Unix one (for logs).
  std::string PeerAddress();
  /// \brief The peer for a log line: "unix peer pid N" (SO_PEERCRED), or
  /// "TCP peer IP:port (pid not knowable over TCP)".
  std::string DescribePeer();

  /// \brief Opaque per-connection slot for the owner (e.g. the worker behind it).
  void set_context(std::shared_ptr<void> ctx) { context_ = std::move(ctx); }
  const std::shared_ptr<void>& context() const { return context_; }

 private:
  Connection(asio::io_context& io, Socket socket);
  void SendFrame(FrameKind kind, uint16_t method, uint64_t request_id, uint8_t flags,
                 const std::string& payload);
  void Write(std::string bytes);
  void WriteLocked(std::string bytes);  // REQUIRES: write_mu_ held
  void FlushCorkLocked();               // REQUIRES: write_mu_ held; writes the cork buffer unless corked
  // REQUIRES: write_mu_ held, no write in progress. Sends from data+*off on
  // without blocking; false after a hard error (the connection then closes).
  bool SendNowLocked(const char* data, size_t len, size_t* off);
  void QueueLocked(std::string rest);  // REQUIRES: write_mu_ held; the loop writes it
  // A cork buffer keeps its capacity between batches up to this size.
  static constexpr size_t kKeptCorkCapacity = 1 << 20;
  void FlushQueueLocked();  // REQUIRES: write_mu_ held; runs on the loop thread
  void ReadMore();
  void OnBytes(size_t n);
  void Dispatch(Frame&& frame);
  void HandleAuth(Frame&& frame);
  void ArmDeadlineTimer();
  void ArmAuthTimer();
  void ExpireDeadlines();

  asio::io_context& io_;
  Socket socket_;
  pid_t creator_pid_;
  FrameHandler on_frame_;
  CloseHandler on_close_;
  FrameDecoder decoder_;
  std::vector<char> read_buf_;
  std::atomic<bool> closed_{false};
  bool awaiting_auth_ = false;  // loop thread only
  std::atomic<bool> authenticated_{false};

  std::mutex write_mu_;
  std::deque<std::string> write_queue_;  // GUARDED_BY(write_mu_)
  bool write_in_progress_ = false;       // GUARDED_BY(write_mu_)
  bool corked_ = false;                  // GUARDED_BY(write_mu_): Cork()
  bool batch_corked_ = false;            // GUARDED_BY(write_mu_): OnBytes handles a batch of frames
  std::string cork_buffer_;              // GUARDED_BY(write_mu_)
  size_t queue_front_offset_ = 0;        // GUARDED_BY(write_mu_)

  struct Pending {
    ReplyCallback cb;
    int64_t deadline_ms;  // <0: none
  };
  std::mutex pending_mu_;
  uint64_t next_request_id_ = 1;                   // GUARDED_BY(pending_mu_)
  std::unordered_map<uint64_t, Pending> pending_;  // GUARDED_BY(pending_mu_)
  bool deadline_timer_armed_ = false;              // GUARDED_BY(pending_mu_)
  asio::steady_timer deadline_timer_;
  asio::steady_timer auth_timer_;  // loop thread only; armed while awaiting_auth_
  std::atomic<bool> reported_bad_peer_{false};
  std::shared_ptr<void> context_;
};

/// \brief Converts an RpcError-flagged reply frame to a Status; OK otherwise.
Status StatusFromFrame(const Frame& frame);
int64_t NowMs();

}  // namespace lumos::rpc
