#include "raylet/object_manager.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common.pb.h"
#include "common/log_budget.h"
#include "common/logging.h"
#include "object_manager.pb.h"
#include "rpc/blocking_io.h"
#include "rpc/connection.h"
#include "rpc/dial.h"
#include "rpc/handshake.h"

namespace lumos::raylet {
namespace {

constexpr int64_t kRequestIdleMs = 10 * 60 * 1000;  // a silent client is dropped after this
constexpr int64_t kIoTimeoutMs = 60 * 1000;          // per request / per chunk
constexpr uint64_t kMaxRequestBytes = 64 * 1024;

std::string Short(const NodeID& n) { return n.Hex().substr(0, 12); }

}  // namespace

ObjectManager::ObjectManager(Options options) : options_(std::move(options)) {}

ObjectManager::~ObjectManager() { Stop(); }

Status ObjectManager::Start(int* bound_port) {
  LUMOS_RETURN_NOT_OK(store_.Connect(options_.store_socket, WorkerID::FromRandom(), 10000));
  bool v6 = options_.node_ip.find(':') != std::string::npos;
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IOError(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(options_.port));
    if (::inet_pton(AF_INET6, options_.node_ip.c_str(), &a->sin6_addr) != 1) fd = -fd - 2;
    len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(options_.port));
    if (::inet_pton(AF_INET, options_.node_ip.c_str(), &a->sin_addr) != 1) fd = -fd - 2;
    len = sizeof(sockaddr_in);
  }
  if (fd < 0) {
    ::close(-fd - 2);
    return Status::InvalidArgument("'" + options_.node_ip + "' is not an IP address");
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 128) != 0) {
    std::string why = std::strerror(errno);
    ::close(fd);
    return Status::IOError("object manager cannot listen on " + options_.node_ip + ":" +
                           std::to_string(options_.port) + ": " + why);
  }
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  *bound_port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                         : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  listen_fd_ = fd;
  if (::pipe2(wake_pipe_, O_CLOEXEC) != 0) return Status::IOError("pipe2 failed");
  accept_thread_ = std::thread([this] { AcceptLoop(); });
  for (int i = 0; i < std::max(1, options_.num_pull_threads); i++) {
    pull_threads_.emplace_back([this] { PullLoop(); });
  }
  free_thread_ = std::thread([this] { FreeLoop(); });
  return Status::OK();
}

void ObjectManager::Stop() {
  std::vector<Batch> abandoned;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || listen_fd_ < 0) return;
    stopping_ = true;
    for (int fd : serving_fds_) ::shutdown(fd, SHUT_RDWR);
    for (auto& [id, b] : batches_) abandoned.push_back(std::move(b));
    batches_.clear();
  }
  cv_.notify_all();
  char c = 1;
  ssize_t ignored = ::write(wake_pipe_[1], &c, 1);
  (void)ignored;
  if (accept_thread_.joinable()) accept_thread_.join();
  for (auto& t : pull_threads_) t.join();
  pull_threads_.clear();
  if (free_thread_.joinable()) free_thread_.join();
  {
    std::unique_lock<std::mutex> lock(mu_);
    serving_cv_.wait_for(lock, std::chrono::seconds(2), [this] { return serving_ == 0; });
  }
  ::close(listen_fd_);
  for (auto& b : abandoned) {
    for (auto& e : b.errors) {
      if (e.empty()) e = "the raylet is stopping";
    }
    if (b.done) b.done(std::move(b.errors));
  }
}

void ObjectManager::SetNodeAddress(const NodeID& node, const std::string& ip, int port,
                                   const std::string& store_socket) {
  std::lock_guard<std::mutex> lock(mu_);
  nodes_[node] = Address{ip, port, store_socket};
}

void ObjectManager::RemoveNode(const NodeID& node) {
  std::lock_guard<std::mutex> lock(mu_);
  nodes_.erase(node);
  peer_stores_.erase(node);
}

Result<std::shared_ptr<object_store::StoreClient>> ObjectManager::PeerStore(const NodeID& node,
                                                                         const std::string& socket) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = peer_stores_.find(node);
    if (it != peer_stores_.end()) return it->second;
  }
  auto client = std::make_shared<object_store::StoreClient>();
  LUMOS_RETURN_NOT_OK(client->Connect(socket, WorkerID::FromRandom(), 2000));
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, added] = peer_stores_.emplace(node, client);
  return it->second;
}

Status ObjectManager::CopyFromLocalStore(const ObjectID& id, const NodeID& node, const std::string& store_socket,
                                         const CopyKind& kind) {
  auto peer = PeerStore(node, store_socket);
  if (!peer.ok()) {
    return Status::ObjectLost("object " + id.Hex() + " cannot be fetched from node " + node.Hex() +
                              " on this host: " + peer.status().message());
  }
  std::vector<object_store::StoreClient::ObjectBuffer> bufs;
  Status s = peer.value()->Get({id}, &bufs);
  if (!s.ok() || !bufs[0].found) {
    if (!s.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      peer_stores_.erase(node);  // its store went away: connect again next time
    }
    return Status::ObjectLost("object " + id.Hex() + " is no longer on node " + node.Hex() + " (" +
                              (s.ok() ? bufs[0].error : s.message()) + ")");
  }
  const auto& src = bufs[0];
  uint8_t* dst = nullptr;
  s = CreateCopy(id, node, src.data_size, src.metadata_size, &dst, kind);
  if (s.ok() && dst != nullptr) {
    std::memcpy(dst, src.data, src.data_size + src.metadata_size);  // metadata follows data in both stores
    s = store_.Seal(id);
  }
  peer.value()->Release(id);
  return s;
}

Status ObjectManager::CreateCopy(const ObjectID& id, const NodeID& node, uint64_t data_size, uint64_t metadata_size,
                                 uint8_t** dst, const CopyKind& kind) {
  const uint64_t total = data_size + metadata_size;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.SetSize(id, total);
  }
  *dst = nullptr;
  Status s = store_.Create(id, data_size, metadata_size, WorkerID::Nil(), dst, /*secondary=*/!kind.primary,
                           kind.owner_endpoint);
  if (s.code() == StatusCode::kAlreadyExists) {
    *dst = nullptr;
    return Status::OK();  // a copy arrived meanwhile: nothing to write
  }
  if (s.code() == StatusCode::kOutOfMemory) {
    return Status::OutOfMemory("no room for object " + id.Hex() + " of " + std::to_string(total) +
                               " bytes fetched from node " + Short(node) + ": " + s.message());
  }
  if (!s.ok()) {
    return Status(s.code(), "cannot store object " + id.Hex() + " fetched from node " + Short(node) + ": " + s.message());
  }
  return s;
}

// ----------------------------------------------------------------- serving

void ObjectManager::AcceptLoop() {
  while (true) {
    struct pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    int r = ::poll(p, 2, -1);
    if (r < 0 && errno == EINTR) continue;
    if (p[1].revents) return;
    if (!(p[0].revents & POLLIN)) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: the connection stays queued and poll() would say
        // so at once, forever. Pause (still woken by Stop) instead of spinning.
        struct pollfd w = {wake_pipe_[0], POLLIN, 0};
        if (::poll(&w, 1, 100) > 0) return;
      }
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_ || serving_ >= kMaxServingConnections) {
        ::close(fd);
        continue;
      }
      serving_++;
      serving_fds_.push_back(fd);
    }
    std::thread([this, fd] {
      Serve(fd);
      std::lock_guard<std::mutex> lock(mu_);
      serving_fds_.erase(std::remove(serving_fds_.begin(), serving_fds_.end(), fd), serving_fds_.end());
      ::close(fd);
      serving_--;
      serving_cv_.notify_all();
    }).detach();
  }
}

void ObjectManager::Serve(int fd) {
  Status hs = rpc::ServerHandshake(fd, 5000);
  if (!hs.ok()) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      const bool v4 = ss.ss_family == AF_INET;
      const void* a = v4 ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&ss)->sin_addr)
                         : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr);
      ::inet_ntop(ss.ss_family, a, host, sizeof(host));
      port = ntohs(v4 ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    }
    static LogBudget budget(/*burst=*/50, /*per_second=*/5);  // a flood must not flood the log
    uint64_t suppressed = 0;
    if (budget.Take(rpc::NowMs(), &suppressed)) {
      LUMOS_LOG(Warning) << "object manager refused a connection from TCP peer " << host << ":" << port
                         << " (pid not knowable over TCP): " << hs.message()
                         << (suppressed ? " (" + std::to_string(suppressed) + " earlier refusals not logged)" : "");
    }
    return;
  }
  ObjectID pinned;
  object_store::StoreClient::ObjectBuffer buf;
  bool have = false;
  auto release = [&] {
    if (have) store_.Release(pinned);
    have = false;
  };
  auto pin = [&](const ObjectID& id) -> Status {
    if (have && pinned == id) return Status::OK();
    release();
    std::vector<object_store::StoreClient::ObjectBuffer> bufs;
    LUMOS_RETURN_NOT_OK(store_.Get({id}, &bufs));
    if (!bufs[0].found) {
      return Status::ObjectLost(bufs[0].error.empty() ? "object " + id.Hex() + " is not in this node's store"
                                                      : bufs[0].error);
    }
    buf = bufs[0];
    pinned = id;
    have = true;
    return Status::OK();
  };
  while (true) {
    rpc::Frame f;
    if (!rpc::ReadFrame(fd, kMaxRequestBytes, rpc::NowMs() + kRequestIdleMs, &f).ok()) break;
    const uint64_t rid = f.header.request_id;
    const int64_t deadline = rpc::NowMs() + kIoTimeoutMs;
    Status ws;
    if (f.header.method == rpc::OBJECT_INFO) {
      rpc::ObjectInfoRequest req;
      rpc::ObjectInfoReply reply;
      if (req.ParseFromString(f.payload) && req.object_id().size() == ObjectID::kSize) {
        Status s = pin(ObjectID::FromBinary(req.object_id()));
        reply.set_found(s.ok());
        if (s.ok()) {
          reply.set_data_size(buf.data_size);
          reply.set_metadata_size(buf.metadata_size);
        } else {
          reply.set_error(s.message());
        }
      }
      ws = rpc::WriteFrame(fd, rpc::FrameKind::kReply, rpc::OBJECT_INFO, rid, 0, reply.SerializeAsString(), deadline);
    } else if (f.header.method == rpc::OBJECT_CHUNK) {
      rpc::ObjectChunkRequest req;
      Status s = req.ParseFromString(f.payload) && req.object_id().size() == ObjectID::kSize
                     ? pin(ObjectID::FromBinary(req.object_id()))
                     : Status::InvalidArgument("bad OBJECT_CHUNK request");
      const uint64_t total = have ? buf.data_size + buf.metadata_size : 0;
      if (s.ok() && (req.offset() > total || req.length() > total - req.offset() || req.length() > UINT32_MAX)) {
        s = Status::InvalidArgument("chunk outside the object");
      }
      if (!s.ok()) {
        ws = rpc::WriteErrorFrame(fd, rpc::OBJECT_CHUNK, rid, s, deadline);
      } else {
        rpc::FrameHeader h;
        h.method = rpc::OBJECT_CHUNK;
        h.kind = rpc::FrameKind::kReply;
        h.request_id = rid;
        h.payload_len = static_cast<uint32_t>(req.length());
        uint8_t hdr[rpc::kFrameHeaderSize];
        rpc::EncodeHeader(h, hdr);
        ws = rpc::WriteAll(fd, reinterpret_cast<const char*>(hdr), sizeof(hdr), deadline);
        // Straight from shared memory (or the spill file mapping) to the socket.
        if (ws.ok()) ws = rpc::WriteAll(fd, reinterpret_cast<const char*>(buf.data) + req.offset(), req.length(), deadline);
      }
    } else if (f.header.method == rpc::OBJECT_FREE) {
      rpc::ObjectFreeRequest req;
      if (req.ParseFromString(f.payload)) {
        std::vector<ObjectID> ids;
        for (const auto& b : req.object_ids()) {
          if (b.size() != ObjectID::kSize) continue;
          ObjectID id = ObjectID::FromBinary(b);
          if (have && id == pinned) release();
          ids.push_back(id);
        }
        Status ds = store_.Delete(ids);
        if (!ds.ok()) LUMOS_LOG(Debug) << "remote free failed: " << ds.ToString();
      }
    } else if (f.header.method == rpc::OBJECT_TAKE) {
      ws = ServeTake(fd, f);
    } else {
      break;  // not an object manager peer
    }
    if (!ws.ok()) break;
  }
  release();
}

// ----------------------------------------------------------------- pulling

void ObjectManager::Pull(const std::vector<ObjectID>& ids, const std::vector<NodeID>& nodes,
                         const std::vector<uint64_t>& sizes, int priority, PullDone done) {
  Batch b;
  b.errors.assign(ids.size(), "");
  b.done = std::move(done);
  std::vector<size_t> needed;
  for (size_t i = 0; i < ids.size(); i++) {
    bool found = false;
    if (store_.Contains(ids[i], &found).ok() && found) continue;
    needed.push_back(i);
  }
  if (needed.empty()) {
    b.done(std::move(b.errors));
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      for (size_t i : needed) b.errors[i] = "the raylet is stopping";
    } else {
      uint64_t tag = next_batch_++;
      for (size_t i : needed) {
        b.positions[ids[i]].push_back(i);
        if (queue_.Add(ids[i], i < sizes.size() ? sizes[i] : 0, priority, tag)) sources_[ids[i]] = nodes[i];
      }
      // Waiters are per object: several positions of one id count once.
      b.remaining = b.positions.size();
      batches_.emplace(tag, std::move(b));
      cv_.notify_all();
      return;
    }
  }
  b.done(std::move(b.errors));
}

uint64_t ObjectManager::FreeStoreBytes() {
  uint64_t capacity = 0, used = 0, n = 0;
  if (!store_.Stats(&capacity, &used, &n).ok()) return 0;
  return capacity > used ? capacity - used : 0;
}

void ObjectManager::PullLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (queue_.num_queued() == 0) {
      cv_.wait(lock);
      continue;
    }
    lock.unlock();
    uint64_t free_bytes = FreeStoreBytes();
    lock.lock();
    auto next = queue_.Next(free_bytes);
    if (!next) {
      // Not admissible until a transfer in flight finishes (or memory frees).
      cv_.wait_for(lock, std::chrono::milliseconds(50));
      continue;
    }
    ObjectID id = *next;
    NodeID source = sources_[id];
    sources_.erase(id);
    lock.unlock();
    Status s = Transfer(id, source, CopyKind());
    std::vector<std::pair<PullDone, std::vector<std::string>>> finished;
    lock.lock();
    for (uint64_t tag : queue_.Finish(id)) {
      auto it = batches_.find(tag);
      if (it == batches_.end()) continue;
      Batch& b = it->second;
      auto pos = b.positions.find(id);
      if (pos == b.positions.end()) continue;
      if (!s.ok()) {
        for (size_t i : pos->second) b.errors[i] = s.message();
      }
      b.positions.erase(pos);
      if (--b.remaining == 0) {
        finished.emplace_back(std::move(b.done), std::move(b.errors));
        batches_.erase(it);
      }
    }
    cv_.notify_all();
    lock.unlock();
    for (auto& [done, errors] : finished) done(std::move(errors));
    lock.lock();
  }
}

Status ObjectManager::Transfer(const ObjectID& id, const NodeID& node, const CopyKind& kind) {
  Address addr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = nodes_.find(node);
    if (it == nodes_.end()) {
      return Status::ObjectLost("object " + id.Hex() + " was on node " + node.Hex() +
                                ", which is not alive in the cluster (it left or died)");
    }
    addr = it->second;
  }
  if (addr.ip == options_.node_ip && !addr.store_socket.empty()) {
    return CopyFromLocalStore(id, node, addr.store_socket, kind);
  }
  auto dialed = rpc::DialTcpFd(addr.ip, addr.port, 5000);
  if (!dialed.ok()) {
    return Status::ObjectLost("object " + id.Hex() + " cannot be fetched from node " + node.Hex() + ": " +
                              dialed.status().message());
  }
  int fd = dialed.value();
  auto fail = [&](const Status& s) {
    ::close(fd);
    return Status::ObjectLost("fetching object " + id.Hex() + " from node " + Short(node) + " failed: " + s.message());
  };
  rpc::ObjectInfoRequest ireq;
  ireq.set_object_id(id.Binary());
  int64_t deadline = rpc::NowMs() + kIoTimeoutMs;
  Status s = rpc::WriteFrame(fd, rpc::FrameKind::kRequest, rpc::OBJECT_INFO, 1, 0, ireq.SerializeAsString(), deadline);
  rpc::Frame f;
  if (s.ok()) s = rpc::ReadFrame(fd, kMaxRequestBytes, deadline, &f);
  rpc::ObjectInfoReply info;
  if (s.ok() && !info.ParseFromString(f.payload)) s = Status::Invalid("unparsable OBJECT_INFO reply");
  if (!s.ok()) return fail(s);
  if (!info.found()) {
    ::close(fd);
    return Status::ObjectLost("object " + id.Hex() + " is no longer on node " + node.Hex() + " (" + info.error() + ")");
  }
  const uint64_t total = info.data_size() + info.metadata_size();
  uint8_t* dst = nullptr;
  s = CreateCopy(id, node, info.data_size(), info.metadata_size(), &dst, kind);
  if (!s.ok() || dst == nullptr) {
    ::close(fd);
    return s;
  }
  // Pipelined: every chunk request goes out first, then the replies stream in.
  const uint64_t chunk = std::max<uint64_t>(1, options_.chunk_bytes);
  uint64_t n = 0;
  for (uint64_t off = 0; off < total && s.ok(); off += chunk, n++) {
    rpc::ObjectChunkRequest creq;
    creq.set_object_id(id.Binary());
    creq.set_offset(off);
    creq.set_length(std::min(chunk, total - off));
    s = rpc::WriteFrame(fd, rpc::FrameKind::kRequest, rpc::OBJECT_CHUNK, n + 2, 0, creq.SerializeAsString(),
                        rpc::NowMs() + kIoTimeoutMs);
  }
  for (uint64_t off = 0; off < total && s.ok(); off += chunk) {
    uint64_t len = std::min(chunk, total - off);
    rpc::FrameHeader h;
    s = rpc::ReadFrameHeader(fd, chunk, rpc::NowMs() + kIoTimeoutMs, &h);
    if (!s.ok()) break;
    if (h.flags & rpc::kFlagError) {
      std::string payload(h.payload_len, '\0');
      s = rpc::ReadAll(fd, payload.data(), payload.size(), rpc::NowMs() + kIoTimeoutMs);
      rpc::Frame ef;
      ef.header = h;
      ef.payload = std::move(payload);
      s = s.ok() ? rpc::StatusFromFrame(ef) : s;
      if (s.ok()) s = Status::Invalid("error frame without an error");
      break;
    }
    if (h.payload_len != len) {
      s = Status::Invalid("chunk of the wrong size");
      break;
    }
    s = rpc::ReadAll(fd, reinterpret_cast<char*>(dst) + off, len, rpc::NowMs() + kIoTimeoutMs);
  }
  ::close(fd);
  if (!s.ok()) {
    store_.Abort(id);
    return Status::ObjectLost("fetching object " + id.Hex() + " from node " + Short(node) + " failed: " + s.message());
  }
  return store_.Seal(id);
}

// ----------------------------------------------------------------- freeing

void ObjectManager::FreeRemote(const std::vector<ObjectID>& ids, const std::vector<NodeID>& nodes) {
  std::unordered_map<NodeID, std::vector<ObjectID>> by_node;
  for (size_t i = 0; i < ids.size() && i < nodes.size(); i++) {
    if (nodes[i] == options_.node_id) continue;
    by_node[nodes[i]].push_back(ids[i]);
  }
  if (by_node.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [node, list] : by_node) frees_.emplace_back(node, std::move(list));
  cv_.notify_all();
}

void ObjectManager::FreeLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (frees_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto [node, ids] = std::move(frees_.front());
    frees_.pop_front();
    auto it = nodes_.find(node);
    if (it == nodes_.end()) continue;  // gone: its copies went with it
    Address addr = it->second;
    lock.unlock();
    auto fd = rpc::DialTcpFd(addr.ip, addr.port, 2000);
    if (fd.ok()) {
      rpc::ObjectFreeRequest req;
      for (const auto& id : ids) req.add_object_ids(id.Binary());
      Status s = rpc::WriteFrame(fd.value(), rpc::FrameKind::kOneway, rpc::OBJECT_FREE, 0, 0, req.SerializeAsString(),
                                 rpc::NowMs() + 5000);
      if (!s.ok()) LUMOS_LOG(Debug) << "free on node " << Short(node) << " failed: " << s.ToString();
      // Let the peer read it before the close: a half-close, then wait for its close.
      ::shutdown(fd.value(), SHUT_WR);
      char c;
      struct pollfd p{fd.value(), POLLIN, 0};
      if (::poll(&p, 1, 1000) > 0) (void)::recv(fd.value(), &c, 1, MSG_DONTWAIT);
      ::close(fd.value());
    } else {
      LUMOS_LOG(Debug) << "cannot reach node " << Short(node) << " to free copies: " << fd.status().ToString();
    }
    lock.lock();
  }
}

}  // namespace lumos::raylet
