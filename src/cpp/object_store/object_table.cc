#include "object_store/object_table.h"

namespace lumos::object_store {
namespace {
std::string Describe(const ObjectID& id) { return "object " + id.Hex(); }
}  // namespace

Result<uint64_t> ObjectTable::Create(const ObjectID& id, uint64_t data_size,
                                     uint64_t metadata_size, const WorkerID& owner,
                                     const WorkerID& creator) {
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
  by_client_[owner].insert(id);
  by_client_[creator].insert(id);
  return offset;
}

Status ObjectTable::Seal(const ObjectID& id, std::vector<uint64_t>* freed) {
  auto it = objects_.find(id);
  if (it == objects_.end()) return Status::NotFound(Describe(id) + " does not exist");
  if (it->second.state == ObjectState::kSealed) {
    return Status::Invalid(Describe(id) + " is already sealed");
  }
  it->second.state = ObjectState::kSealed;
  if (it->second.delete_pending) {
    Erase(it, freed);
  } else {
    MaybeUnlink(it->second.creator, id, it->second);
  }
  return Status::OK();
}

Status ObjectTable::Abort(const ObjectID& id, const WorkerID& client,
                          std::vector<uint64_t>* freed) {
  auto it = objects_.find(id);
  if (it == objects_.end()) return Status::NotFound(Describe(id) + " does not exist");
  if (it->second.state == ObjectState::kSealed) {
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
  if (it == objects_.end() || it->second.state != ObjectState::kSealed ||
      it->second.delete_pending) {
    return Status::NotFound(Describe(id) + " is not in the store");
  }
  ObjectEntry& e = it->second;
  if (e.pins[client]++ == 0) by_client_[client].insert(id);
  e.total_pins++;
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
  if (e.total_pins == 0 && e.delete_pending) Erase(it, freed);
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
    } else if (e.total_pins == 0 && e.delete_pending && e.state == ObjectState::kSealed) {
      Erase(it, freed);
    }
  }
}

bool ObjectTable::Contains(const ObjectID& id) const {
  auto it = objects_.find(id);
  return it != objects_.end() && it->second.state == ObjectState::kSealed &&
         !it->second.delete_pending;
}

const ObjectEntry* ObjectTable::Find(const ObjectID& id) const {
  auto it = objects_.find(id);
  return it == objects_.end() ? nullptr : &it->second;
}

void ObjectTable::DeleteEntry(Map::iterator it, std::vector<uint64_t>* freed) {
  ObjectEntry& e = it->second;
  if (e.state == ObjectState::kSealed && e.total_pins == 0) {
    Erase(it, freed);
  } else {
    e.delete_pending = true;  // freed at the last Release, or at Seal/Abort
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
  allocator_.Free(e.offset);
  if (freed) freed->push_back(e.offset);
  objects_.erase(it);
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

}  // namespace lumos::object_store
