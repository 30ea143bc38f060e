#include "object_store/store_server.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>

#include "common.pb.h"
#include "common/logging.h"
#include "object_manager.pb.h"
#include "object_store/spill_file.h"

namespace lumos::object_store {

using rpc::ConnectionPtr;
using rpc::Frame;
using rpc::FrameKind;

// Per-connection state, stored in the connection's context slot.
struct StoreServer::Session {
  bool connected = false;  // STORE_CONNECT succeeded
  WorkerID client_id;
};

// A Create waiting for the scheduler to make room.
struct StoreServer::PendingCreate {
  ConnectionPtr conn;
  Frame request;  // header only
  ObjectID id;
  rpc::StoreCreateRequest req;
  WorkerID owner;
};

// A Get waiting for spilled objects to be restored (or their files checked).
struct StoreServer::PendingGet {
  ConnectionPtr conn;
  Frame request;  // header only
  std::vector<ObjectID> ids;
  std::vector<std::string> errors;  // per id, from its Load
  size_t remaining = 0;             // Loads not done yet
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

StoreServer::StoreServer(asio::io_context& io, std::string socket_path, uint64_t capacity_bytes,
                         SpillOptions spill)
    : io_(io),
      socket_path_(std::move(socket_path)),
      capacity_(capacity_bytes),
      spill_(std::move(spill)),
      table_(capacity_bytes),
      scheduler_(io, table_, spill_, [this] { PublishStats(); }) {}

StoreServer::~StoreServer() {
  Stop();
  scheduler_.Join();  // no I/O touches the arena or the files from here on
  // The objects die with the store: so do their files.
  for (const auto& [id, e] : table_.objects()) {
    if (!e.file_path.empty()) RemoveFile(e.file_path);
  }
  RemoveDeletedFiles();
  if (arena_) ::munmap(arena_, arena_size_);
  if (arena_fd_ >= 0) ::close(arena_fd_);
}

Status StoreServer::MakeArena() {
  int fd = ::memfd_create("lumos-object-store", MFD_CLOEXEC);
  if (fd < 0 && !spill_.arena_fallback_directory.empty()) {
    // No memfd (old kernel, seccomp): an unlinked file, mapped shared, works the same.
    LUMOS_LOG(Warning) << "memfd_create failed (" << std::strerror(errno)
                       << "); the object store arena is a file in " << spill_.arena_fallback_directory;
    fd = ::open(spill_.arena_fallback_directory.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  }
  if (fd < 0) return Status::IOError(std::string("cannot create the object store arena: ") + std::strerror(errno));
  if (::ftruncate(fd, static_cast<off_t>(arena_size_)) != 0) {
    Status st = Status::IOError("cannot size the object store arena to " +
                                std::to_string(arena_size_) + " bytes: " + std::strerror(errno));
    ::close(fd);
    return st;
  }
  arena_fd_ = fd;
  return Status::OK();
}

Status StoreServer::Start() {
  if (arena_fd_ >= 0 || stopped_) return Status::Invalid("StoreServer::Start called twice");
  arena_size_ = table_.capacity();
  if (arena_size_ == 0) {
    return Status::InvalidArgument("object store capacity of " + std::to_string(capacity_) +
                                   " bytes is too small (at least 64)");
  }
  LUMOS_RETURN_NOT_OK(MakeArena());
  void* p = ::mmap(nullptr, arena_size_, PROT_READ | PROT_WRITE, MAP_SHARED, arena_fd_, 0);
  if (p == MAP_FAILED) {
    Status st = Status::IOError(std::string("mmap of the object store arena: ") + std::strerror(errno));
    ::close(arena_fd_);
    arena_fd_ = -1;
    return st;
  }
  arena_ = static_cast<uint8_t*>(p);
  scheduler_.SetArena(arena_);
  if (spill_.enabled) {
    if (spill_.directory.empty()) return Status::InvalidArgument("object spilling is enabled but no spill directory is set");
    // Missing parents are created; failing here is not fatal: spilling then
    // fails with the cause when it is first needed.
    std::string partial;
    for (size_t i = 0; i <= spill_.directory.size(); i++) {
      if (i == spill_.directory.size() || (spill_.directory[i] == '/' && i > 0)) {
        partial = spill_.directory.substr(0, i);
        ::mkdir(partial.c_str(), 0700);
      }
    }
    struct stat st {};
    if (::stat(spill_.directory.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      LUMOS_LOG(Warning) << "object spill directory " << spill_.directory << " is not usable: "
                         << std::strerror(errno);
    } else {
      RemoveStaleSpillFiles();
    }
  }

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
  scheduler_.Stop();
}

StoreStats StoreServer::Stats() const {
  StoreStats s;
  s.capacity = table_.capacity();  // immutable after construction
  s.used = used_.load(std::memory_order_relaxed);
  s.num_objects = num_objects_.load(std::memory_order_relaxed);
  s.spilled_bytes = spilled_bytes_.load(std::memory_order_relaxed);
  s.num_spilled = num_spilled_.load(std::memory_order_relaxed);
  return s;
}

void StoreServer::PublishStats() {
  RemoveDeletedFiles();
  used_.store(table_.used(), std::memory_order_relaxed);
  num_objects_.store(table_.num_objects(), std::memory_order_relaxed);
  spilled_bytes_.store(table_.spilled_bytes(), std::memory_order_relaxed);
  num_spilled_.store(table_.num_spilled(), std::memory_order_relaxed);
}

void StoreServer::RemoveStaleSpillFiles() {
  DIR* d = ::opendir(spill_.directory.c_str());
  if (!d) return;
  int removed = 0;
  while (dirent* e = ::readdir(d)) {
    // lumos-<pid>-<object hex>.spill|.ext: ours only, and only of a store that is gone.
    const std::string name = e->d_name;
    if (name.rfind("lumos-", 0) != 0) continue;
    if (name.size() < 6 || (name.compare(name.size() - 6, 6, ".spill") != 0 &&
                            name.compare(name.size() - 4, 4, ".ext") != 0)) {
      continue;
    }
    char* end = nullptr;
    long pid = std::strtol(name.c_str() + 6, &end, 10);
    if (pid <= 0 || !end || *end != '-') continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to judge)
    RemoveFile(spill_.directory + "/" + name);
    removed++;
  }
  ::closedir(d);
  if (removed) {
    LUMOS_LOG(Info) << "removed " << removed << " spill files of object stores that are gone from "
                    << spill_.directory;
  }
}

void StoreServer::RemoveDeletedFiles() {
  for (const std::string& path : table_.TakeFilesToRemove()) RemoveFile(path);
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
  // The store's methods are numbered STORE_CONNECT..STORE_STATS
  // (protos/common.proto). Anything else is no store request, connected or
  // not: NotImplemented (and the connection dropped, below).
  if (method < rpc::STORE_CONNECT || method > rpc::STORE_STATS) {
    st = Status::NotImplemented("the object store has no method " + std::to_string(method));
  } else if (method != rpc::STORE_CONNECT && !s->connected) {
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
  scheduler_.Pump();  // whatever this freed may be what a waiting request needs
  PublishStats();
  if (st.ok()) return;
  if (frame.header.kind == FrameKind::kRequest) conn->SendError(frame.header.request_id, method, st);
  // An unknown method means the peer does not speak this protocol (told why,
  // then dropped); a broken one-way frame has nobody to answer and means a
  // broken client. Both are logged once, naming the peer's pid.
  if (frame.header.kind != FrameKind::kRequest || st.code() == StatusCode::kNotImplemented) {
    conn->CloseBadPeer(Status(st.code(), "object store: " + st.message()));
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
  scheduler_.Pump();
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
  if (req.data_size() > UINT64_MAX - req.metadata_size()) {
    return Status::InvalidArgument("object " + id.Hex() + ": size overflows");
  }
  const uint64_t size = req.data_size() + req.metadata_size();
  const bool primary = !req.secondary();
  Result<uint64_t> offset =
      table_.Create(id, req.data_size(), req.metadata_size(), owner, s->client_id, primary);
  if (offset.ok() && !req.owner_endpoint().empty()) table_.SetOwnerEndpoint(id, req.owner_endpoint());
  if (!offset.ok() && offset.status().code() == StatusCode::kAlreadyExists && primary && table_.Promote(id) &&
      !req.owner_endpoint().empty()) {
    // A primary copy asked for where a cached one is already (e.g. handed
    // over by a draining node): kept from now on; still AlreadyExists.
    table_.SetOwnerEndpoint(id, req.owner_endpoint());
  }
  if (!offset.ok() && offset.status().code() == StatusCode::kOutOfMemory) {
    if (!spill_.enabled && table_.evictable_bytes() == 0) {
      return Status::OutOfMemory("object " + id.Hex() + " of " + std::to_string(size) +
                                 " bytes does not fit in the object store of " +
                                 std::to_string(table_.capacity()) + " bytes (" + offset.status().message() +
                                 "); enable object spilling or raise object_store_memory");
    }
    // The reply waits until spills free a block (other requests go on).
    auto c = std::make_shared<PendingCreate>();
    c->conn = conn;
    c->request.header = f.header;
    c->id = id;
    c->req = std::move(req);
    c->owner = owner;
    scheduler_.RequestRoom(size, [this, c](Status room) { FinishCreate(*c, room); });
    return Status::OK();
  }
  if (!offset.ok()) return offset.status();
  rpc::StoreCreateReply reply;
  reply.set_offset(offset.value());
  Reply(conn, f, reply);
  return Status::OK();
}

void StoreServer::FinishCreate(const PendingCreate& c, const Status& room) {
  auto* s = static_cast<Session*>(c.conn->context().get());
  if (stopped_ || !s || !s->connected) return;  // the client went away while waiting
  const rpc::StoreCreateRequest& req = c.req;
  const ObjectID& id = c.id;
  const uint64_t size = req.data_size() + req.metadata_size();
  auto fail = [&](const Status& st) {
    if (c.request.header.kind == FrameKind::kRequest) {
      c.conn->SendError(c.request.header.request_id, c.request.header.method, st);
    }
    PublishStats();
  };
  Result<uint64_t> offset = room.ok() ? table_.Create(id, req.data_size(), req.metadata_size(), c.owner,
                                                      s->client_id, !req.secondary())
                                      : Result<uint64_t>(Status::OutOfMemory(room.message()));
  rpc::StoreCreateReply reply;
  if (offset.ok()) {
    if (!req.owner_endpoint().empty()) table_.SetOwnerEndpoint(id, req.owner_endpoint());
    reply.set_offset(offset.value());
    Reply(c.conn, c.request, reply);
    return;
  }
  if (offset.status().code() != StatusCode::kOutOfMemory) return fail(offset.status());
  const std::string why = offset.status().message();
  if (!spill_.enabled) {
    return fail(Status::OutOfMemory("object " + id.Hex() + " of " + std::to_string(size) +
                                    " bytes does not fit in the object store of " +
                                    std::to_string(table_.capacity()) + " bytes (" + why +
                                    "); enable object spilling or raise object_store_memory"));
  }
  // Too big for the arena even after spilling: a file of its own.
  std::string path = scheduler_.FilePath(id, ".ext");
  Status st = CreateExternalFile(path, id, size);
  if (!st.ok()) {
    return fail(Status::OutOfMemory("object " + id.Hex() + " of " + std::to_string(size) +
                                    " bytes does not fit in the object store of " +
                                    std::to_string(table_.capacity()) + " bytes (" + why +
                                    ") and cannot be placed on disk: " + st.message()));
  }
  st = table_.CreateExternal(id, req.data_size(), req.metadata_size(), c.owner, s->client_id, path);
  if (!st.ok()) {
    RemoveFile(path);
    return fail(st);
  }
  if (!req.owner_endpoint().empty()) table_.SetOwnerEndpoint(id, req.owner_endpoint());
  reply.set_file_path(path);
  Reply(c.conn, c.request, reply);
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
  // One-way: nobody would learn of the pins.
  if (f.header.kind != FrameKind::kRequest) return Status::Invalid("STORE_GET must be a request");
  rpc::StoreGetRequest req;
  LUMOS_RETURN_NOT_OK(ParsePayload(f, &req));
  std::vector<ObjectID> ids(req.object_ids_size());
  for (int i = 0; i < req.object_ids_size(); i++) {
    LUMOS_RETURN_NOT_OK(ParseId(req.object_ids(i), "object_ids entry", &ids[i]));
  }
  // Spilled objects come back first (restored, or their file checked); the
  // reply waits for that I/O, other requests do not.
  std::vector<size_t> loads;
  for (size_t i = 0; i < ids.size(); i++) {
    const ObjectEntry* e = table_.Find(ids[i]);
    if (e && !e->delete_pending && (e->state == ObjectState::kSpilled || e->state == ObjectState::kRestoring)) {
      loads.push_back(i);
    }
  }
  if (loads.empty()) {  // the hot path: everything is in memory (or absent)
    Reply(conn, f, GetReply(s, ids, nullptr));
    return Status::OK();
  }
  auto g = std::make_shared<PendingGet>();
  g->conn = conn;
  g->request.header = f.header;
  g->ids = std::move(ids);
  g->errors.resize(g->ids.size());
  g->remaining = loads.size();
  for (size_t i : loads) {
    scheduler_.Load(g->ids[i], [this, g, i](Status st) {
      if (!st.ok() && st.code() != StatusCode::kNotFound) g->errors[i] = st.message();
      if (--g->remaining == 0) FinishGet(*g);
    });
  }
  return Status::OK();
}

void StoreServer::FinishGet(const PendingGet& g) {
  auto* s = static_cast<Session*>(g.conn->context().get());
  if (stopped_ || !s || !s->connected) return;  // pins for a gone client would leak
  Reply(g.conn, g.request, GetReply(s, g.ids, &g.errors));
}

rpc::StoreGetReply StoreServer::GetReply(Session* s, const std::vector<ObjectID>& ids,
                                         const std::vector<std::string>* errors) {
  rpc::StoreGetReply reply;
  for (size_t i = 0; i < ids.size(); i++) {
    auto* entry = reply.add_entries();
    if (errors && !(*errors)[i].empty()) {
      entry->set_error((*errors)[i]);
      continue;
    }
    ObjectEntry e;
    if (!table_.Get(ids[i], s->client_id, &e).ok()) continue;  // found = false
    entry->set_found(true);
    entry->set_offset(e.offset);
    entry->set_data_size(e.data_size);
    entry->set_metadata_size(e.metadata_size);
    if (e.external) {
      entry->set_file_path(e.file_path);
      entry->set_file_offset(0);
    } else if (e.state == ObjectState::kSpilled) {
      entry->set_file_path(e.file_path);
      entry->set_file_offset(e.file_offset);
    }
  }
  return reply;
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
  reply.set_spilled_bytes(table_.spilled_bytes());
  reply.set_num_spilled(table_.num_spilled());
  reply.set_bytes_spilled_total(scheduler_.bytes_spilled_total());
  reply.set_bytes_restored_total(scheduler_.bytes_restored_total());
  reply.set_num_evicted_total(scheduler_.num_evicted_total());
  reply.set_num_spill_files_total(scheduler_.num_spill_files_total());
  reply.set_num_spill_fsyncs_total(scheduler_.num_spill_fsyncs_total());
  reply.set_num_spill_writes_in_flight(scheduler_.num_writes_in_flight());
  reply.set_num_spill_reads_in_flight(scheduler_.num_reads_in_flight());
  reply.set_spill_fsync(spill_.fsync);
  reply.set_spilling_enabled(spill_.enabled);
  reply.set_spill_directory(spill_.directory);
  if (req.include_objects()) {
    for (const auto& [id, e] : table_.objects()) {
      auto* o = reply.add_objects();
      o->set_object_id(id.Binary());
      o->set_size(e.size());
      o->set_owner_id(e.owner.Binary());
      o->set_state(ObjectStateName(e.state));
      o->set_in_memory(e.in_arena());
      o->set_external(e.external);
      o->set_pins(e.total_pins);
      o->set_primary(e.primary);
      o->set_owner_endpoint(e.owner_endpoint);
    }
  }
  Reply(conn, f, reply);
  return Status::OK();
}

}  // namespace lumos::object_store
