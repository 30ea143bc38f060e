#include "object_store/store_client.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common.pb.h"
#include "object_manager.pb.h"

namespace lumos::object_store {

StoreClient::~StoreClient() {
  rpc_.Close();
  for (auto& [id, m] : files_) ::munmap(m.base, m.length);
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

uint8_t* StoreClient::MapFile(const ObjectID& id, const std::string& path, uint64_t offset,
                             uint64_t size, bool writable, std::string* error) {
  std::lock_guard<std::mutex> lock(files_mu_);
  auto it = files_.find(id);
  if (it != files_.end()) {
    it->second.refs++;
    return it->second.base;
  }
  int fd = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) {
    *error = "cannot open the file of object " + id.Hex() + " (" + path + "): " + std::strerror(errno);
    return nullptr;
  }
  // mmap of 0 bytes fails: map one page so even an empty object has an address.
  uint64_t length = std::max<uint64_t>(size, 1);
  void* p = ::mmap(nullptr, length, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd,
                   static_cast<off_t>(offset));
  int err = errno;
  ::close(fd);
  if (p == MAP_FAILED) {
    *error = "cannot map the file of object " + id.Hex() + " (" + path + "): " + std::strerror(err);
    return nullptr;
  }
  files_[id] = FileMapping{static_cast<uint8_t*>(p), length, 1};
  return static_cast<uint8_t*>(p);
}

void StoreClient::UnmapFile(const ObjectID& id) {
  std::lock_guard<std::mutex> lock(files_mu_);
  auto it = files_.find(id);
  if (it == files_.end()) return;
  if (--it->second.refs > 0) return;
  ::munmap(it->second.base, it->second.length);
  files_.erase(it);
}

Status StoreClient::Create(const ObjectID& id, uint64_t data_size, uint64_t metadata_size,
                           const WorkerID& owner, uint8_t** data, bool secondary,
                           const std::string& owner_endpoint) {
  LUMOS_RETURN_NOT_OK(CheckConnected());
  rpc::StoreCreateRequest req;
  req.set_object_id(id.Binary());
  req.set_data_size(data_size);
  req.set_metadata_size(metadata_size);
  req.set_owner_id(owner.Binary());
  req.set_secondary(secondary);
  if (!owner_endpoint.empty()) req.set_owner_endpoint(owner_endpoint);
  rpc::StoreCreateReply reply;
  LUMOS_RETURN_NOT_OK(rpc_.Call(rpc::STORE_CREATE, req, &reply));
  if (!reply.file_path().empty()) {
    std::string error;
    uint8_t* p = MapFile(id, reply.file_path(), 0, data_size + metadata_size, true, &error);
    if (!p) {
      Abort(id);
      return Status::IOError(error);
    }
    *data = p;
    return Status::OK();
  }
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
  Status st = rpc_.Call(rpc::STORE_SEAL, req, &reply);
  UnmapFile(id);  // a large object's creator is done writing
  return st;
}

Status StoreClient::Abort(const ObjectID& id) {
  LUMOS_RETURN_NOT_OK(CheckConnected());
  rpc::StoreAbortRequest req;
  req.set_object_id(id.Binary());
  rpc::StoreAbortReply reply;
  Status st = rpc_.Call(rpc::STORE_ABORT, req, &reply);
  UnmapFile(id);
  return st;
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
    if (!e.found()) {
      (*out)[i].error = e.error();
      continue;
    }
    uint8_t* p = nullptr;
    if (e.data_size() > UINT64_MAX - e.metadata_size()) {
      // nullptr: reported missing below
    } else if (!e.file_path().empty()) {
      p = MapFile(ids[i], e.file_path(), e.file_offset(), e.data_size() + e.metadata_size(), false,
                  &(*out)[i].error);
    } else {
      p = Locate(e.offset(), e.data_size() + e.metadata_size());
    }
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
  UnmapFile(id);
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

namespace lumos::object_store {

Status StoreClient::GetDetailedStats(bool include_objects, DetailedStats* out) {
  LUMOS_RETURN_NOT_OK(CheckConnected());
  rpc::StoreStatsRequest req;
  req.set_include_objects(include_objects);
  rpc::StoreStatsReply r;
  LUMOS_RETURN_NOT_OK(rpc_.Call(rpc::STORE_STATS, req, &r));
  *out = DetailedStats{};
  out->capacity = r.capacity();
  out->used = r.used();
  out->num_objects = r.num_objects();
  out->spilled_bytes = r.spilled_bytes();
  out->num_spilled = r.num_spilled();
  out->bytes_spilled_total = r.bytes_spilled_total();
  out->bytes_restored_total = r.bytes_restored_total();
  out->num_evicted_total = r.num_evicted_total();
  out->spilling_enabled = r.spilling_enabled();
  out->num_spill_files_total = r.num_spill_files_total();
  out->num_spill_fsyncs_total = r.num_spill_fsyncs_total();
  out->num_spill_writes_in_flight = r.num_spill_writes_in_flight();
  out->num_spill_reads_in_flight = r.num_spill_reads_in_flight();
  out->spill_fsync = r.spill_fsync();
  out->spill_directory = r.spill_directory();
  for (const auto& o : r.objects()) {
    ObjectInfo info;
    info.object_id = o.object_id();
    info.owner_id = o.owner_id();
    info.size = o.size();
    info.state = o.state();
    info.in_memory = o.in_memory();
    info.external = o.external();
    info.primary = o.primary();
    info.owner_endpoint = o.owner_endpoint();
    info.pins = o.pins();
    out->objects.push_back(std::move(info));
  }
  return Status::OK();
}

}  // namespace lumos::object_store
