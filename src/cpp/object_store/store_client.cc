#include "object_store/store_client.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common.pb.h"
#include "object_manager.pb.h"

namespace lumos::object_store {

StoreClient::~StoreClient() {
  rpc_.Close();
  uint8_t* base = base_.load();
  if (base) ::munmap(base, arena_size_.load());
}

Status StoreClient::Connect(const std::string& socket_path, const WorkerID& client_id,
                            int64_t timeout_ms) {
  std::lock_guard<std::mutex> lock(connect_mu_);
  if (base_.load()) return Status::Invalid("StoreClient is already connected");
  LUMOS_RETURN_NOT_OK(rpc_.Connect(socket_path, timeout_ms));
  rpc::StoreConnectRequest req;
  req.set_client_id(client_id.Binary());
  rpc::StoreConnectReply reply;
  int fd = -1;
  Status st = rpc_.Call(rpc::STORE_CONNECT, req, &reply, &fd);
  if (st.ok() && fd < 0) st = Status::Invalid("the object store sent no arena descriptor");
  if (st.ok() && reply.arena_size() == 0) st = Status::Invalid("the object store arena is empty");
  void* p = MAP_FAILED;
  if (st.ok()) {
    p = ::mmap(nullptr, reply.arena_size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      st = Status::IOError("cannot map the object store arena of " +
                           std::to_string(reply.arena_size()) + " bytes: " + std::strerror(errno));
    }
  }
  if (fd >= 0) ::close(fd);  // the mapping keeps the memory alive
  if (!st.ok()) {
    rpc_.Close();
    return st;
  }
  arena_size_.store(reply.arena_size(), std::memory_order_release);
  base_.store(static_cast<uint8_t*>(p), std::memory_order_release);
  return Status::OK();
}

Status StoreClient::CheckConnected() const {
  if (!base_.load(std::memory_order_acquire)) {
    return Status::NotInitialized("the object store client is not connected");
  }
  return Status::OK();
}

uint8_t* StoreClient::Locate(uint64_t offset, uint64_t size) const {
  uint64_t arena = arena_size_.load(std::memory_order_acquire);
  if (offset > arena || size > arena - offset) return nullptr;
  return base_.load(std::memory_order_acquire) + offset;
}

Status StoreClient::Create(const ObjectID& id, uint64_t data_size, uint64_t metadata_size,
                           const WorkerID& owner, uint8_t** data) {
  LUMOS_RETURN_NOT_OK(CheckConnected());
  rpc::StoreCreateRequest req;
  req.set_object_id(id.Binary());
  req.set_data_size(data_size);
  req.set_metadata_size(metadata_size);
  req.set_owner_id(owner.Binary());
  rpc::StoreCreateReply reply;
  LUMOS_RETURN_NOT_OK(rpc_.Call(rpc::STORE_CREATE, req, &reply));
  uint8_t* p = Locate(reply.offset(), data_size + metadata_size);
  if (!p) return Status::Invalid("the object store returned an offset outside the arena");
  *data = p;
  return Status::OK();
}

Status StoreClient::Seal(const ObjectID& id) {
  LUMOS_RETURN_NOT_OK(CheckConnected());
  rpc::StoreSealRequest req;
  req.set_object_id(id.Binary());
  rpc::StoreSealReply reply;
  return rpc_.Call(rpc::STORE_SEAL, req, &reply);
}

Status StoreClient::Abort(const ObjectID& id) {
  LUMOS_RETURN_NOT_OK(CheckConnected());
  rpc::StoreAbortRequest req;
  req.set_object_id(id.Binary());
  rpc::StoreAbortReply reply;
  return rpc_.Call(rpc::STORE_ABORT, req, &reply);
}

Status StoreClient::Get(const std::vector<ObjectID>& ids, std::vector<ObjectBuffer>* out) {
  LUMOS_RETURN_NOT_OK(CheckConnected());
  rpc::StoreGetRequest req;
  for (const ObjectID& id : ids) req.add_object_ids(id.Binary());
  rpc::StoreGetReply reply;
  LUMOS_RETURN_NOT_OK(rpc_.Call(rpc::STORE_GET, req, &reply));
  if (reply.entries_size() != static_cast<int>(ids.size())) {
    return Status::Invalid("the object store answered " + std::to_string(reply.entries_size()) +
                           " entries for " + std::to_string(ids.size()) + " ids");
  }
  out->assign(ids.size(), ObjectBuffer{});
  for (size_t i = 0; i < ids.size(); i++) {
    const auto& e = reply.entries(static_cast<int>(i));
    if (!e.found()) continue;
    uint8_t* p = e.data_size() > UINT64_MAX - e.metadata_size()
                     ? nullptr
                     : Locate(e.offset(), e.data_size() + e.metadata_size());
    if (!p) {
      Release(ids[i]);
      continue;  // cannot be served safely: report it as missing
    }
    ObjectBuffer& b = (*out)[i];
    b.found = true;
    b.data = p;
    b.data_size = e.data_size();
    b.metadata = p + e.data_size();
    b.metadata_size = e.metadata_size();
  }
  return Status::OK();
}

void StoreClient::Release(const ObjectID& id) {
  if (!CheckConnected().ok()) return;
  rpc::StoreReleaseRequest req;
  req.set_object_id(id.Binary());
  rpc_.CallNoWait(rpc::STORE_RELEASE, req);  // a dead store has released everything
}

Status StoreClient::Delete(const std::vector<ObjectID>& ids) {
  LUMOS_RETURN_NOT_OK(CheckConnected());
  rpc::StoreDeleteRequest req;
  for (const ObjectID& id : ids) req.add_object_ids(id.Binary());
  rpc::StoreDeleteReply reply;
  return rpc_.Call(rpc::STORE_DELETE, req, &reply);
}

Status StoreClient::Contains(const ObjectID& id, bool* found) {
  LUMOS_RETURN_NOT_OK(CheckConnected());
  rpc::StoreContainsRequest req;
  req.set_object_id(id.Binary());
  rpc::StoreContainsReply reply;
  LUMOS_RETURN_NOT_OK(rpc_.Call(rpc::STORE_CONTAINS, req, &reply));
  *found = reply.found();
  return Status::OK();
}

Status StoreClient::Stats(uint64_t* capacity, uint64_t* used, uint64_t* num_objects) {
  LUMOS_RETURN_NOT_OK(CheckConnected());
  rpc::StoreStatsReply reply;
  LUMOS_RETURN_NOT_OK(rpc_.Call(rpc::STORE_STATS, rpc::StoreStatsRequest(), &reply));
  if (capacity) *capacity = reply.capacity();
  if (used) *used = reply.used();
  if (num_objects) *num_objects = reply.num_objects();
  return Status::OK();
}

}  // namespace lumos::object_store
