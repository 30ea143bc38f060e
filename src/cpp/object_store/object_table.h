#pragma once
// ObjectTable: the object store's bookkeeping as a pure state machine (no I/O).
//
// Each object lives in one arena block: [offset, offset + data_size) holds the
// data and the metadata follows it directly. Lifecycle:
//   Create -> CREATED (only the creator writes it) -> Seal -> SEALED (immutable,
//   visible to Get) ; Abort drops a CREATED object.
// Clients pin sealed objects with Get and unpin them with Release. Delete frees
// an unpinned object at once; a pinned (or still unsealed) one is marked
// delete-pending: it disappears from Get/Contains immediately and its block is
// freed at the last Release (or at Seal/Abort for an unsealed one).
// ClientDisconnected(c) is what happens when client c goes away: its pins are
// dropped, the objects it owns are deleted as above, and the unsealed objects it
// was creating are aborted.
//
// Every call that can free memory reports the freed offsets through an optional
// `freed` vector (appended to), so the caller can tell waiters or reclaim pages.
//
// Thread safety: none; the store server calls it from its loop thread only.
// What may fail: Create (AlreadyExists, OutOfMemory), and the other calls with
// NotFound for an unknown id or Invalid for a call that breaks the lifecycle
// (sealing twice, aborting a sealed object or another client's object,
// releasing an object the client has not pinned).
#include <cstdint>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/id.h"
#include "common/status.h"
#include "object_store/allocator.h"

namespace lumos::object_store {

enum class ObjectState { kCreated, kSealed };

struct ObjectEntry {
  uint64_t offset = 0;
  uint64_t data_size = 0;
  uint64_t metadata_size = 0;
  WorkerID owner;    // deleted when this worker disconnects
  WorkerID creator;  // the client that called Create (may Abort)
  ObjectState state = ObjectState::kCreated;
  std::unordered_map<WorkerID, uint32_t> pins;  // client -> Get count not yet released
  uint64_t total_pins = 0;
  bool delete_pending = false;
};

class ObjectTable {
 public:
  /// \brief An empty table over an arena of `capacity` bytes.
  explicit ObjectTable(uint64_t capacity) : allocator_(capacity) {}
  ObjectTable(const ObjectTable&) = delete;
  ObjectTable& operator=(const ObjectTable&) = delete;

  /// \brief Allocates an unsealed object for `creator`; returns its offset.
  /// AlreadyExists if the id is present (even delete-pending); OutOfMemory if
  /// data_size + metadata_size bytes do not fit.
  Result<uint64_t> Create(const ObjectID& id, uint64_t data_size, uint64_t metadata_size,
                          const WorkerID& owner, const WorkerID& creator);
  /// \brief Makes a CREATED object SEALED. A delete-pending object is freed here.
  Status Seal(const ObjectID& id, std::vector<uint64_t>* freed = nullptr);
  /// \brief Drops a CREATED object. REQUIRES: `client` is its creator.
  Status Abort(const ObjectID& id, const WorkerID& client, std::vector<uint64_t>* freed = nullptr);
  /// \brief Pins a sealed object for `client` and copies its entry to *out.
  /// NotFound if the id is absent, unsealed or delete-pending (nothing pinned).
  Status Get(const ObjectID& id, const WorkerID& client, ObjectEntry* out);
  /// \brief Undoes one Get by `client`; frees a delete-pending object at its last pin.
  Status Release(const ObjectID& id, const WorkerID& client,
                 std::vector<uint64_t>* freed = nullptr);
  /// \brief Frees the object now if nothing pins it, else marks it delete-pending.
  Status Delete(const ObjectID& id, std::vector<uint64_t>* freed = nullptr);
  /// \brief Forgets `client`: drops its pins, deletes objects it owns, aborts
  /// the unsealed objects it created.
  void ClientDisconnected(const WorkerID& client, std::vector<uint64_t>* freed = nullptr);

  /// \brief True if Get would find the object (sealed, not delete-pending).
  bool Contains(const ObjectID& id) const;
  /// \brief The entry, or nullptr (for inspection and tests).
  const ObjectEntry* Find(const ObjectID& id) const;
  /// \brief Objects in the table, delete-pending ones included.
  size_t num_objects() const { return objects_.size(); }
  uint64_t used() const { return allocator_.used(); }
  uint64_t capacity() const { return allocator_.capacity(); }
  const ArenaAllocator& allocator() const { return allocator_; }

 private:
  using Map = std::unordered_map<ObjectID, ObjectEntry>;
  // Frees the block and forgets the object.
  void Erase(Map::iterator it, std::vector<uint64_t>* freed);
  // Delete semantics on an existing entry.
  void DeleteEntry(Map::iterator it, std::vector<uint64_t>* freed);
  // Forgets that `client` relates to `id` unless it still owns, creates or pins it.
  void MaybeUnlink(const WorkerID& client, const ObjectID& id, const ObjectEntry& e);

  ArenaAllocator allocator_;
  Map objects_;
  // client -> objects it owns, creates or pins, so a disconnect touches only those.
  std::unordered_map<WorkerID, std::unordered_set<ObjectID>> by_client_;
};

}  // namespace lumos::object_store
