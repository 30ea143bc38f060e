#include "object_store/store_server.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>

#include "common.pb.h"
#include "common/logging.h"
#include "object_manager.pb.h"

namespace lumos::object_store {

using rpc::ConnectionPtr;
using rpc::Frame;
using rpc::FrameKind;

// Per-connection state, stored in the connection's context slot.
struct StoreServer::Session {
  bool connected = false;  // STORE_CONNECT succeeded
  WorkerID client_id;
};

namespace {

template <typename Msg>
Status ParsePayload(const Frame& f, Msg* msg) {
  if (!msg->ParseFromString(f.payload)) {
    return Status::InvalidArgument("unparsable " + msg->GetTypeName() + " payload (" +
                                   std::to_string(f.payload.size()) + " bytes)");
  }
  return Status::OK();
}

template <typename ID>
Status ParseId(const std::string& bin, const char* field, ID* out) {
  if (bin.size() != ID::kSize) {
    return Status::InvalidArgument(std::string(field) + " must be " + std::to_string(ID::kSize) +
                                   " bytes, got " + std::to_string(bin.size()));
  }
  *out = ID::FromBinary(bin);
  return Status::OK();
}

}  // namespace

StoreServer::StoreServer(asio::io_context& io, std::string socket_path, uint64_t capacity_bytes)
    : io_(io),
      socket_path_(std::move(socket_path)),
      capacity_(capacity_bytes),
      table_(capacity_bytes) {}

StoreServer::~StoreServer() {
  Stop();
  if (arena_) ::munmap(arena_, arena_size_);
  if (arena_fd_ >= 0) ::close(arena_fd_);
}

Status StoreServer::Start() {
  if (arena_fd_ >= 0 || stopped_) return Status::Invalid("StoreServer::Start called twice");
  arena_size_ = table_.capacity();
  if (arena_size_ == 0) {
    return Status::InvalidArgument("object store capacity of " + std::to_string(capacity_) +
                                   " bytes is too small (at least 64)");
  }
  int fd = ::memfd_create("lumos-object-store", MFD_CLOEXEC);
  if (fd < 0) return Status::IOError(std::string("memfd_create: ") + std::strerror(errno));
  if (::ftruncate(fd, static_cast<off_t>(arena_size_)) != 0) {
    Status st = Status::IOError("cannot size the object store arena to " +
                                std::to_string(arena_size_) + " bytes: " + std::strerror(errno));
    ::close(fd);
    return st;
  }
  void* p = ::mmap(nullptr, arena_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    Status st = Status::IOError(std::string("mmap of the object store arena: ") + std::strerror(errno));
    ::close(fd);
    return st;
  }
  arena_fd_ = fd;
  arena_ = static_cast<uint8_t*>(p);

  // Connections outlive this object; `alive` makes late callbacks no-ops.
  auto alive = alive_;
  server_ = std::make_unique<rpc::FastpathServer>(
      io_, socket_path_,
      [this, alive](const ConnectionPtr& conn, Frame&& frame) {
        if (!alive->load()) {
          conn->Close(Status::Disconnected("object store stopped"));
          return;
        }
        OnFrame(conn, std::move(frame));
      },
      [this, alive](const ConnectionPtr& conn, const Status& reason) {
        if (alive->load()) OnClose(conn, reason);
      });
  Status st = server_->Listen();
  if (!st.ok()) server_.reset();
  return st;
}

void StoreServer::Stop() {
  // Never started (nothing lives on the loop), on the loop, or after it: act now.
  if (!server_ || io_.get_executor().running_in_this_thread() || io_.stopped()) {
    StopOnLoop();
    return;
  }
  // Hand the work to the running loop and wait; if the loop stops before it
  // runs the handler, do it here instead (whoever claims first does it).
  auto claimed = std::make_shared<std::atomic<bool>>(false);
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  asio::post(io_, [this, claimed, done] {
    if (!claimed->exchange(true)) StopOnLoop();
    done->set_value();
  });
  while (finished.wait_for(std::chrono::milliseconds(20)) == std::future_status::timeout) {
    if (io_.stopped() && !claimed->exchange(true)) {
      StopOnLoop();
      return;
    }
  }
}

void StoreServer::StopOnLoop() {
  if (stopped_) return;
  stopped_ = true;
  if (server_) server_->Stop();
  server_.reset();
  auto conns = std::move(connections_);
  connections_.clear();
  for (const auto& conn : conns) conn->Close(Status::Disconnected("object store stopped"));
  alive_->store(false);
}

StoreStats StoreServer::Stats() const {
  StoreStats s;
  s.capacity = table_.capacity();  // immutable after construction
  s.used = used_.load(std::memory_order_relaxed);
  s.num_objects = num_objects_.load(std::memory_order_relaxed);
  return s;
}

void StoreServer::PublishStats() {
  used_.store(table_.used(), std::memory_order_relaxed);
  num_objects_.store(table_.num_objects(), std::memory_order_relaxed);
}

void StoreServer::Reply(const ConnectionPtr& conn, const Frame& request,
                        const google::protobuf::Message& reply) {
  PublishStats();  // before the reply: whoever got it sees its effect in Stats()
  if (request.header.kind == FrameKind::kRequest) {
    conn->SendReply(request.header.request_id, request.header.method, reply);
  }
}

void StoreServer::OnFrame(const ConnectionPtr& conn, Frame&& frame) {
  auto* s = static_cast<Session*>(conn->context().get());
  if (!s) {
    auto fresh = std::make_shared<Session>();
    s = fresh.get();
    conn->set_context(std::move(fresh));
    connections_.insert(conn);
  }
  const uint16_t method = frame.header.method;
  Status st;
  if (method != rpc::STORE_CONNECT && !s->connected) {
    st = Status::NotInitialized("object store request " + std::to_string(method) +
                                " before STORE_CONNECT");
  } else {
    switch (method) {
      case rpc::STORE_CONNECT: st = HandleConnect(conn, s, frame); break;
      case rpc::STORE_CREATE: st = HandleCreate(conn, s, frame); break;
      case rpc::STORE_SEAL: st = HandleSeal(conn, s, frame); break;
      case rpc::STORE_GET: st = HandleGet(conn, s, frame); break;
      case rpc::STORE_RELEASE: st = HandleRelease(conn, s, frame); break;
      case rpc::STORE_DELETE: st = HandleDelete(conn, s, frame); break;
      case rpc::STORE_ABORT: st = HandleAbort(conn, s, frame); break;
      case rpc::STORE_CONTAINS: st = HandleContains(conn, s, frame); break;
      case rpc::STORE_STATS: st = HandleStats(conn, s, frame); break;
      default:
        st = Status::NotImplemented("the object store has no method " + std::to_string(method));
    }
  }
  PublishStats();
  if (st.ok()) return;
  if (frame.header.kind == FrameKind::kRequest) {
    conn->SendError(frame.header.request_id, method, st);
  } else {
    // Nobody to answer: a broken one-way frame means a broken client.
    LUMOS_LOG(Warning) << "closing object store connection after a bad one-way frame: "
                       << st.ToString();
    conn->Close(st);
  }
}

void StoreServer::OnClose(const ConnectionPtr& conn, const Status& reason) {
  connections_.erase(conn);
  auto* s = static_cast<Session*>(conn->context().get());
  if (!s || !s->connected) return;
  s->connected = false;
  auto it = connections_per_client_.find(s->client_id);
  if (it != connections_per_client_.end() && --it->second > 0) return;
  if (it != connections_per_client_.end()) connections_per_client_.erase(it);
  table_.ClientDisconnected(s->client_id);
  PublishStats();
}

Status StoreServer::HandleConnect(const ConnectionPtr& conn, Session* s, const Frame& f) {
  if (s->connected) return Status::Invalid("STORE_CONNECT sent twice on one connection");
  if (f.header.kind != FrameKind::kRequest) return Status::Invalid("STORE_CONNECT must be a request");
  rpc::StoreConnectRequest req;
  LUMOS_RETURN_NOT_OK(ParsePayload(f, &req));
  WorkerID client;
  LUMOS_RETURN_NOT_OK(ParseId(req.client_id(), "client_id", &client));
  s->connected = true;
  s->client_id = client;
  connections_per_client_[client]++;
  rpc::StoreConnectReply reply;
  reply.set_arena_size(arena_size_);
  Status st = conn->SendReplyWithFd(f.header.request_id, f.header.method, reply, arena_fd_);
  if (!st.ok()) {
    LUMOS_LOG(Warning) << "cannot pass the arena to object store client " << client.Hex() << ": "
                       << st.ToString();
    conn->Close(st);  // OnClose undoes the registration
  }
  return Status::OK();
}

Status StoreServer::HandleCreate(const ConnectionPtr& conn, Session* s, const Frame& f) {
  rpc::StoreCreateRequest req;
  LUMOS_RETURN_NOT_OK(ParsePayload(f, &req));
  ObjectID id;
  LUMOS_RETURN_NOT_OK(ParseId(req.object_id(), "object_id", &id));
  WorkerID owner = s->client_id;
  if (!req.owner_id().empty()) LUMOS_RETURN_NOT_OK(ParseId(req.owner_id(), "owner_id", &owner));
  Result<uint64_t> offset =
      table_.Create(id, req.data_size(), req.metadata_size(), owner, s->client_id);
  if (!offset.ok()) return offset.status();
  rpc::StoreCreateReply reply;
  reply.set_offset(offset.value());
  Reply(conn, f, reply);
  return Status::OK();
}

Status StoreServer::HandleSeal(const ConnectionPtr& conn, Session* s, const Frame& f) {
  rpc::StoreSealRequest req;
  LUMOS_RETURN_NOT_OK(ParsePayload(f, &req));
  ObjectID id;
  LUMOS_RETURN_NOT_OK(ParseId(req.object_id(), "object_id", &id));
  LUMOS_RETURN_NOT_OK(table_.Seal(id));
  Reply(conn, f, rpc::StoreSealReply());
  return Status::OK();
}

Status StoreServer::HandleGet(const ConnectionPtr& conn, Session* s, const Frame& f) {
  rpc::StoreGetRequest req;
  LUMOS_RETURN_NOT_OK(ParsePayload(f, &req));
  std::vector<ObjectID> ids(req.object_ids_size());
  for (int i = 0; i < req.object_ids_size(); i++) {
    LUMOS_RETURN_NOT_OK(ParseId(req.object_ids(i), "object_ids entry", &ids[i]));
  }
  rpc::StoreGetReply reply;
  for (const ObjectID& id : ids) {
    auto* entry = reply.add_entries();
    ObjectEntry e;
    if (!table_.Get(id, s->client_id, &e).ok()) continue;  // found = false
    entry->set_found(true);
    entry->set_offset(e.offset);
    entry->set_data_size(e.data_size);
    entry->set_metadata_size(e.metadata_size);
  }
  if (f.header.kind != FrameKind::kRequest) {
    // Nobody would learn of the pins: undo them.
    for (int i = 0; i < reply.entries_size(); i++) {
      if (reply.entries(i).found()) table_.Release(ids[i], s->client_id);
    }
    return Status::Invalid("STORE_GET must be a request");
  }
  Reply(conn, f, reply);
  return Status::OK();
}

Status StoreServer::HandleRelease(const ConnectionPtr& conn, Session* s, const Frame& f) {
  rpc::StoreReleaseRequest req;
  LUMOS_RETURN_NOT_OK(ParsePayload(f, &req));
  ObjectID id;
  LUMOS_RETURN_NOT_OK(ParseId(req.object_id(), "object_id", &id));
  Status st = table_.Release(id, s->client_id);
  if (!st.ok()) {
    LUMOS_LOG(Debug) << "ignoring STORE_RELEASE: " << st.ToString();
  }
  Reply(conn, f, rpc::StoreReleaseReply());
  return Status::OK();
}

Status StoreServer::HandleDelete(const ConnectionPtr& conn, Session* s, const Frame& f) {
  rpc::StoreDeleteRequest req;
  LUMOS_RETURN_NOT_OK(ParsePayload(f, &req));
  std::vector<ObjectID> ids(req.object_ids_size());
  for (int i = 0; i < req.object_ids_size(); i++) {
    LUMOS_RETURN_NOT_OK(ParseId(req.object_ids(i), "object_ids entry", &ids[i]));
  }
  for (const ObjectID& id : ids) table_.Delete(id);  // unknown ids: already gone
  Reply(conn, f, rpc::StoreDeleteReply());
  return Status::OK();
}

Status StoreServer::HandleAbort(const ConnectionPtr& conn, Session* s, const Frame& f) {
  rpc::StoreAbortRequest req;
  LUMOS_RETURN_NOT_OK(ParsePayload(f, &req));
  ObjectID id;
  LUMOS_RETURN_NOT_OK(ParseId(req.object_id(), "object_id", &id));
  LUMOS_RETURN_NOT_OK(table_.Abort(id, s->client_id));
  Reply(conn, f, rpc::StoreAbortReply());
  return Status::OK();
}

Status StoreServer::HandleContains(const ConnectionPtr& conn, Session* s, const Frame& f) {
  rpc::StoreContainsRequest req;
  LUMOS_RETURN_NOT_OK(ParsePayload(f, &req));
  ObjectID id;
  LUMOS_RETURN_NOT_OK(ParseId(req.object_id(), "object_id", &id));
  rpc::StoreContainsReply reply;
  reply.set_found(table_.Contains(id));
  Reply(conn, f, reply);
  return Status::OK();
}

Status StoreServer::HandleStats(const ConnectionPtr& conn, Session* s, const Frame& f) {
  rpc::StoreStatsRequest req;
  LUMOS_RETURN_NOT_OK(ParsePayload(f, &req));
  rpc::StoreStatsReply reply;
  reply.set_capacity(table_.capacity());
  reply.set_used(table_.used());
  reply.set_num_objects(table_.num_objects());
  Reply(conn, f, reply);
  return Status::OK();
}

}  // namespace lumos::object_store
