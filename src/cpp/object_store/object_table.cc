#include "object_store/object_table.h"

namespace lumos::object_store {
namespace {
std::string Describe(const ObjectID& id) { return "object " + id.Hex(); }
bool OnDiskOnly(const ObjectEntry& e) { return e.external || e.state == ObjectState::kSpilled; }
}  // namespace

const char* ObjectStateName(ObjectState s) {
  switch (s) {
    case ObjectState::kCreated: return "CREATED";
    case ObjectState::kSealed: return "SEALED";
    case ObjectState::kSpilling: return "SPILLING";
    case ObjectState::kSpilled: return "SPILLED";
    case ObjectState::kRestoring: return "RESTORING";
    case ObjectState::kRestored: return "RESTORED";
  }
  return "UNKNOWN";
}

Result<uint64_t> ObjectTable::Create(const ObjectID& id, uint64_t data_size,
                                     uint64_t metadata_size, const WorkerID& owner,
                                     const WorkerID& creator, bool primary) {
  if (objects_.count(id)) return Status::AlreadyExists(Describe(id) + " already exists");
  if (data_size > UINT64_MAX - metadata_size) {
    return Status::InvalidArgument(Describe(id) + ": size overflows");
  }
  Result<uint64_t> offset = allocator_.Allocate(data_size + metadata_size);
  if (!offset.ok()) {
    return Status::OutOfMemory("object store cannot hold " + Describe(id) + " of " +
                               std::to_string(data_size + metadata_size) + " bytes (" +
                               offset.status().message() + ")");
  }
  ObjectEntry& e = objects_[id];
  e.offset = offset.value();
  e.data_size = data_size;
  e.metadata_size = metadata_size;
  e.owner = owner;
  e.creator = creator;
  e.primary = primary;
  by_client_[owner].insert(id);
  by_client_[creator].insert(id);
  return offset;
}

Status ObjectTable::CreateExternal(const ObjectID& id, uint64_t data_size, uint64_t metadata_size,
                                   const WorkerID& owner, const WorkerID& creator,
                                   const std::string& path) {
  if (objects_.count(id)) return Status::AlreadyExists(Describe(id) + " already exists");
  if (data_size > UINT64_MAX - metadata_size) {
    return Status::InvalidArgument(Describe(id) + ": size overflows");
  }
  ObjectEntry& e = objects_[id];
  e.data_size = data_size;
  e.metadata_size = metadata_size;
  e.owner = owner;
  e.creator = creator;
  e.external = true;
  e.file_path = path;
  RefFile(path);
  CountSpilled(e, +1);
  by_client_[owner].insert(id);
  by_client_[creator].insert(id);
  return Status::OK();
}

Status ObjectTable::Seal(const ObjectID& id, std::vector<uint64_t>* freed) {
  auto it = objects_.find(id);
  if (it == objects_.end()) return Status::NotFound(Describe(id) + " does not exist");
  if (it->second.state != ObjectState::kCreated) {
    return Status::Invalid(Describe(id) + " is already sealed");
  }
  it->second.state = ObjectState::kSealed;
  if (it->second.delete_pending) {
    Erase(it, freed);
  } else {
    MaybeUnlink(it->second.creator, id, it->second);
    UpdateEvictable(id, it->second);
  }
  return Status::OK();
}

Status ObjectTable::Abort(const ObjectID& id, const WorkerID& client,
                          std::vector<uint64_t>* freed) {
  auto it = objects_.find(id);
  if (it == objects_.end()) return Status::NotFound(Describe(id) + " does not exist");
  if (it->second.state != ObjectState::kCreated) {
    return Status::Invalid(Describe(id) + " is sealed and cannot be aborted");
  }
  if (it->second.creator != client) {
    return Status::Invalid(Describe(id) + " was created by another client");
  }
  Erase(it, freed);
  return Status::OK();
}

Status ObjectTable::Get(const ObjectID& id, const WorkerID& client, ObjectEntry* out) {
  auto it = objects_.find(id);
  if (it == objects_.end() || !it->second.sealed() || it->second.delete_pending) {
    return Status::NotFound(Describe(id) + " is not in the store");
  }
  ObjectEntry& e = it->second;
  if (e.pins[client]++ == 0) by_client_[client].insert(id);
  e.total_pins++;
  policy_.Remove(id);  // pinned: not evictable
  if (out) *out = e;
  return Status::OK();
}

Status ObjectTable::Release(const ObjectID& id, const WorkerID& client,
                            std::vector<uint64_t>* freed) {
  auto it = objects_.find(id);
  if (it == objects_.end()) return Status::NotFound(Describe(id) + " does not exist");
  ObjectEntry& e = it->second;
  auto pin = e.pins.find(client);
  if (pin == e.pins.end()) {
    return Status::Invalid(Describe(id) + " is not pinned by client " + client.Hex());
  }
  e.total_pins--;
  if (--pin->second == 0) {
    e.pins.erase(pin);
    MaybeUnlink(client, id, e);
  }
  if (e.total_pins == 0 && e.delete_pending && e.settled()) {
    Erase(it, freed);
  } else {
    UpdateEvictable(id, e);  // the last release makes it the most recently used
  }
  return Status::OK();
}

Status ObjectTable::Delete(const ObjectID& id, std::vector<uint64_t>* freed) {
  auto it = objects_.find(id);
  if (it == objects_.end()) return Status::NotFound(Describe(id) + " does not exist");
  DeleteEntry(it, freed);
  return Status::OK();
}

void ObjectTable::ClientDisconnected(const WorkerID& client, std::vector<uint64_t>* freed) {
  auto rel = by_client_.find(client);
  if (rel == by_client_.end()) return;
  std::unordered_set<ObjectID> ids = std::move(rel->second);
  by_client_.erase(rel);
  for (const ObjectID& id : ids) {
    auto it = objects_.find(id);
    if (it == objects_.end()) continue;
    ObjectEntry& e = it->second;
    auto pin = e.pins.find(client);
    if (pin != e.pins.end()) {
      e.total_pins -= pin->second;
      e.pins.erase(pin);
    }
    if (e.state == ObjectState::kCreated && e.creator == client) {
      Erase(it, freed);
    } else if (e.owner == client) {
      DeleteEntry(it, freed);
    } else if (e.total_pins == 0 && e.delete_pending && e.settled()) {
      Erase(it, freed);
    } else {
      UpdateEvictable(id, e);
    }
  }
}

Status ObjectTable::Evict(const ObjectID& id, std::vector<uint64_t>* freed) {
  auto it = objects_.find(id);
  if (it == objects_.end()) return Status::NotFound(Describe(id) + " does not exist");
  if (!policy_.Contains(id)) return Status::Invalid(Describe(id) + " is not evictable");
  if (it->second.primary) {
    return Status::Invalid(Describe(id) + " is a primary copy: spill it instead of evicting it");
  }
  Erase(it, freed);
  return Status::OK();
}

Status ObjectTable::MarkSpilled(const ObjectID& id, const std::string& path, uint64_t file_offset,
                                uint32_t crc, std::vector<uint64_t>* freed) {
  auto it = objects_.find(id);
  if (it == objects_.end()) return Status::NotFound(Describe(id) + " does not exist");
  ObjectEntry& e = it->second;
  if (!policy_.Contains(id)) {
    return Status::Invalid(Describe(id) + " cannot be spilled in state " + ObjectStateName(e.state) +
                           (e.total_pins ? " while pinned" : ""));
  }
  policy_.Remove(id);
  allocator_.Free(e.offset);
  if (freed) freed->push_back(e.offset);
  e.state = ObjectState::kSpilled;
  if (e.file_path != path) {  // a RESTORED object goes back to the file it has
    if (!e.file_path.empty()) UnrefFile(e.file_path);
    RefFile(path);
  }
  e.file_path = path;
  e.file_offset = file_offset;
  e.spill_crc = crc;
  CountSpilled(e, +1);
  return Status::OK();
}

Result<ObjectEntry> ObjectTable::BeginSpill(const ObjectID& id) {
  auto it = objects_.find(id);
  if (it == objects_.end()) return Status::NotFound(Describe(id) + " does not exist");
  ObjectEntry& e = it->second;
  if (!policy_.Contains(id) || !e.primary || !e.file_path.empty()) {
    return Status::Invalid(Describe(id) + " cannot be written to a spill file in state " +
                           ObjectStateName(e.state) + (e.total_pins ? " while pinned" : "") +
                           (e.file_path.empty() ? "" : " (it has a spill file already)"));
  }
  policy_.Remove(id);
  e.state = ObjectState::kSpilling;
  spilling_bytes_ += e.size();
  return e;
}

Status ObjectTable::FinishSpill(const ObjectID& id, bool ok, const std::string& path,
                                uint64_t file_offset, uint32_t crc, std::vector<uint64_t>* freed) {
  auto it = objects_.find(id);
  if (it == objects_.end()) return Status::NotFound(Describe(id) + " does not exist");
  ObjectEntry& e = it->second;
  if (e.state != ObjectState::kSpilling) {
    return Status::Invalid(Describe(id) + " is not being spilled (state " + ObjectStateName(e.state) + ")");
  }
  spilling_bytes_ -= e.size();
  if (ok) {
    RefFile(path);  // BeginSpill required it to have no file
    e.file_path = path;
    e.file_offset = file_offset;
    e.spill_crc = crc;
  }
  // In the arena with a valid file is RESTORED; the eviction below (or the
  // erase) then costs no I/O.
  e.state = ok ? ObjectState::kRestored : ObjectState::kSealed;
  if (e.delete_pending && e.total_pins == 0) {
    Erase(it, freed);
    return Status::OK();
  }
  UpdateEvictable(id, e);
  if (ok && policy_.Contains(id)) return MarkSpilled(id, path, file_offset, crc, freed);
  return Status::OK();
}

Result<uint64_t> ObjectTable::BeginRestore(const ObjectID& id) {
  auto it = objects_.find(id);
  if (it == objects_.end()) return Status::NotFound(Describe(id) + " does not exist");
  ObjectEntry& e = it->second;
  if (e.state != ObjectState::kSpilled) {
    return Status::Invalid(Describe(id) + " is not spilled (state " + ObjectStateName(e.state) + ")");
  }
  Result<uint64_t> offset = allocator_.Allocate(e.size());
  if (!offset.ok()) {
    return Status::OutOfMemory("object store cannot restore " + Describe(id) + " of " +
                               std::to_string(e.size()) + " bytes (" + offset.status().message() + ")");
  }
  CountSpilled(e, -1);
  e.offset = offset.value();
  e.state = ObjectState::kRestoring;
  return offset;
}

Status ObjectTable::FinishRestore(const ObjectID& id, bool ok, std::vector<uint64_t>* freed) {
  auto it = objects_.find(id);
  if (it == objects_.end()) return Status::NotFound(Describe(id) + " does not exist");
  ObjectEntry& e = it->second;
  if (e.state != ObjectState::kRestoring) {
    return Status::Invalid(Describe(id) + " is not being restored (state " + ObjectStateName(e.state) + ")");
  }
  if (ok) {
    e.state = ObjectState::kRestored;
  } else {
    allocator_.Free(e.offset);
    if (freed) freed->push_back(e.offset);
    e.state = ObjectState::kSpilled;
    CountSpilled(e, +1);
  }
  if (e.delete_pending && e.total_pins == 0) {
    Erase(it, freed);
  } else {
    UpdateEvictable(id, e);
  }
  return Status::OK();
}

std::vector<std::string> ObjectTable::TakeFilesToRemove() {
  std::vector<std::string> out;
  out.swap(files_to_remove_);
  return out;
}

bool ObjectTable::Contains(const ObjectID& id) const {
  auto it = objects_.find(id);
  return it != objects_.end() && it->second.sealed() && !it->second.delete_pending;
}

void ObjectTable::SetOwnerEndpoint(const ObjectID& id, std::string endpoint) {
  auto it = objects_.find(id);
  if (it != objects_.end()) it->second.owner_endpoint = std::move(endpoint);
}

bool ObjectTable::Promote(const ObjectID& id) {
  auto it = objects_.find(id);
  if (it == objects_.end() || !it->second.sealed() || it->second.delete_pending) return false;
  if (!it->second.primary) {
    it->second.primary = true;
    UpdateEvictable(id, it->second);
  }
  return true;
}

const ObjectEntry* ObjectTable::Find(const ObjectID& id) const {
  auto it = objects_.find(id);
  return it == objects_.end() ? nullptr : &it->second;
}

void ObjectTable::DeleteEntry(Map::iterator it, std::vector<uint64_t>* freed) {
  ObjectEntry& e = it->second;
  if (e.settled() && e.total_pins == 0) {
    Erase(it, freed);
  } else {
    e.delete_pending = true;  // freed at the last Release, or at Seal/Abort/FinishRestore/FinishSpill
    policy_.Remove(it->first);
  }
}

void ObjectTable::Erase(Map::iterator it, std::vector<uint64_t>* freed) {
  const ObjectID id = it->first;
  ObjectEntry& e = it->second;
  auto unlink = [&](const WorkerID& c) {
    auto rel = by_client_.find(c);
    if (rel == by_client_.end()) return;
    rel->second.erase(id);
    if (rel->second.empty()) by_client_.erase(rel);
  };
  unlink(e.owner);
  unlink(e.creator);
  for (const auto& pin : e.pins) unlink(pin.first);
  policy_.Remove(id);
  if (OnDiskOnly(e)) CountSpilled(e, -1);
  if (e.in_arena()) {
    allocator_.Free(e.offset);
    if (freed) freed->push_back(e.offset);
  }
  if (!e.file_path.empty()) UnrefFile(e.file_path);
  objects_.erase(it);
}

void ObjectTable::UnrefFile(const std::string& path) {
  auto it = file_refs_.find(path);
  if (it != file_refs_.end() && --it->second > 0) return;
  if (it != file_refs_.end()) file_refs_.erase(it);
  files_to_remove_.push_back(path);
}

void ObjectTable::MaybeUnlink(const WorkerID& client, const ObjectID& id, const ObjectEntry& e) {
  if (client == e.owner) return;
  if (client == e.creator && e.state == ObjectState::kCreated) return;
  if (e.pins.count(client)) return;
  auto rel = by_client_.find(client);
  if (rel == by_client_.end()) return;
  rel->second.erase(id);
  if (rel->second.empty()) by_client_.erase(rel);
}

void ObjectTable::UpdateEvictable(const ObjectID& id, const ObjectEntry& e) {
  bool evictable = !e.external && !e.delete_pending && e.total_pins == 0 &&  // SPILLING: in flight
                   (e.state == ObjectState::kSealed || e.state == ObjectState::kRestored);
  if (evictable) {
    policy_.Add(id, e.size(), e.primary);
  } else {
    policy_.Remove(id);
  }
}

void ObjectTable::CountSpilled(const ObjectEntry& e, int sign) {
  if (sign > 0) {
    spilled_bytes_ += e.size();
    num_spilled_++;
  } else {
    spilled_bytes_ -= e.size();
    num_spilled_--;
  }
}

}  // namespace lumos::object_store
