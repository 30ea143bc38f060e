#pragma once
// ObjectTable: the object store's bookkeeping as a pure state machine (no I/O).
//
// Where an object's bytes live:
//   - in the arena: [offset, offset + data_size) holds the data and the
//     metadata follows it directly;
//   - in a spill file on disk (the store server writes and reads the files;
//     the table only records the path and checksum);
//   - in an "external" file: an object too big for the arena gets a file of
//     its own that clients map directly (it never moves).
// Lifecycle (ObjectState):
//   Create -> CREATED (only the creator writes it) -> Seal -> SEALED (in the
//   arena, immutable, visible to Get) ; Abort drops a CREATED object.
//   SEALED, unpinned -> BeginSpill -> SPILLING (the server's I/O thread is
//   writing the block to a file; the block stays allocated and readable, Get
//   may pin it, Delete only marks it) -> FinishSpill(ok) -> SPILLED (block
//   freed) or, when it was pinned or deleted meanwhile, RESTORED (in the
//   arena with a valid file) or erased; FinishSpill(failed) -> SEALED.
//   An evictable object that already has a spill file (RESTORED) goes
//   straight to SPILLED with MarkSpilled (no I/O).
//   SPILLED (arena block freed, bytes only
//   in the spill file) -> BeginRestore -> RESTORING (block allocated, the
//   server is reading the file into it) -> FinishRestore(ok) -> RESTORED (in
//   the arena again; the spill file is kept, so spilling it again is free) or
//   FinishRestore(failed) -> SPILLED.
//   Any state -> deleted (erased): its block is freed and its file is
//   queued for the server to unlink (TakeFilesToRemove) once no other object
//   lives in it (a batch spill file holds several: counted per file).
//   External objects go CREATED -> SEALED only.
// Eviction: an object is a victim candidate (EvictionPolicy, LRU) while it is
// SEALED or RESTORED, in the arena, unpinned and not delete-pending. A cached
// copy (primary == false) is evicted (erased); a primary copy is spilled.
// Clients pin objects with Get (SEALED, RESTORED or SPILLED — a pinned SPILLED
// object is one the server serves straight from its spill file) and unpin
// them with Release. Delete frees an unpinned object at once; a pinned (or
// still unsealed or restoring) one is marked delete-pending: it disappears
// from Get/Contains immediately and goes at the last Release (or at
// Seal/Abort/FinishRestore/FinishSpill): SPILLING and RESTORING blocks are
// being used by I/O, so they are never freed under its feet.
// ClientDisconnected(c) is what happens when client c goes away: its pins are
// dropped, the objects it owns are deleted as above, and the unsealed objects
// it was creating are aborted.
//
// Every call that can free memory reports the freed offsets through an optional
// `freed` vector (appended to), so the caller can tell waiters or reclaim pages.
//
// Thread safety: none; the store server calls it from its loop thread only.
// What may fail: Create (AlreadyExists, OutOfMemory), and the other calls with
// NotFound for an unknown id or Invalid for a call that breaks the lifecycle
// (sealing twice, aborting a sealed object or another client's object,
// releasing an object the client has not pinned, spilling a pinned object).
// Blocks that BeginSpill took out of eviction are counted in spilling_bytes()
// until FinishSpill, so the server knows what in-flight writes will free.
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/id.h"
#include "common/status.h"
#include "object_store/allocator.h"
#include "object_store/eviction_policy.h"

namespace lumos::object_store {

enum class ObjectState { kCreated, kSealed, kSpilling, kSpilled, kRestoring, kRestored };
const char* ObjectStateName(ObjectState s);

struct ObjectEntry {
  uint64_t offset = 0;  // in the arena; meaningless when !in_arena()
  uint64_t data_size = 0;
  uint64_t metadata_size = 0;
  WorkerID owner;    // deleted when this worker disconnects
  std::string owner_endpoint;  // the owner's core worker (a drained node tells it where the copy went)
  WorkerID creator;  // the client that called Create (may Abort)
  ObjectState state = ObjectState::kCreated;
  bool primary = true;    // false: a cached copy that may be dropped
  bool external = false;  // lives in its own file (file_path), never in the arena
  std::string file_path;  // the external file, or the spill file once spilled
  uint64_t file_offset = 0;  // where the payload starts in file_path
  uint32_t spill_crc = 0;
  std::unordered_map<WorkerID, uint32_t> pins;  // client -> Get count not yet released
  uint64_t total_pins = 0;
  bool delete_pending = false;

  uint64_t size() const { return data_size + metadata_size; }
  bool in_arena() const { return !external && state != ObjectState::kSpilled; }
  bool sealed() const { return state != ObjectState::kCreated && state != ObjectState::kRestoring; }
  // No I/O and no writer uses its block: it may be erased now.
  bool settled() const { return sealed() && state != ObjectState::kSpilling; }
};

class ObjectTable {
 public:
  /// \brief An empty table over an arena of `capacity` bytes.
  explicit ObjectTable(uint64_t capacity) : allocator_(capacity) {}
  ObjectTable(const ObjectTable&) = delete;
  ObjectTable& operator=(const ObjectTable&) = delete;

  /// \brief Allocates an unsealed object for `creator`; returns its offset.
  /// AlreadyExists if the id is present (even delete-pending); OutOfMemory if
  /// data_size + metadata_size bytes do not fit (nothing is evicted here).
  Result<uint64_t> Create(const ObjectID& id, uint64_t data_size, uint64_t metadata_size,
                          const WorkerID& owner, const WorkerID& creator, bool primary = true);
  /// \brief Records an unsealed object whose bytes live in the file at `path`.
  Status CreateExternal(const ObjectID& id, uint64_t data_size, uint64_t metadata_size,
                        const WorkerID& owner, const WorkerID& creator, const std::string& path);
  /// \brief Makes a CREATED object SEALED. A delete-pending object is freed here.
  Status Seal(const ObjectID& id, std::vector<uint64_t>* freed = nullptr);
  /// \brief Drops a CREATED object. REQUIRES: `client` is its creator.
  Status Abort(const ObjectID& id, const WorkerID& client, std::vector<uint64_t>* freed = nullptr);
  /// \brief Pins a SEALED, RESTORED or SPILLED object for `client` and copies
  /// its entry to *out. NotFound if absent, unsealed, restoring or
  /// delete-pending (nothing pinned).
  Status Get(const ObjectID& id, const WorkerID& client, ObjectEntry* out);
  /// \brief Undoes one Get by `client`; frees a delete-pending object at its last pin.
  Status Release(const ObjectID& id, const WorkerID& client,
                 std::vector<uint64_t>* freed = nullptr);
  /// \brief Frees the object now if nothing pins it, else marks it delete-pending.
  Status Delete(const ObjectID& id, std::vector<uint64_t>* freed = nullptr);
  /// \brief Forgets `client`: drops its pins, deletes objects it owns, aborts
  /// the unsealed objects it created.
  void ClientDisconnected(const WorkerID& client, std::vector<uint64_t>* freed = nullptr);

  // ---- memory pressure (the server does the file I/O between these calls)
  /// \brief The object eviction would give up next (see EvictionPolicy).
  std::optional<EvictionPolicy::Candidate> NextVictim() const { return policy_.Next(); }
  /// \brief Erases an evictable cached copy (primary == false).
  Status Evict(const ObjectID& id, std::vector<uint64_t>* freed = nullptr);
  /// \brief An evictable primary object now has a complete copy in the spill
  /// file `path` (payload at `file_offset`) with checksum `crc`: frees its
  /// block (SEALED/RESTORED -> SPILLED).
  Status MarkSpilled(const ObjectID& id, const std::string& path, uint64_t file_offset,
                     uint32_t crc, std::vector<uint64_t>* freed = nullptr);
  /// \brief An evictable primary object without a spill file: SEALED ->
  /// SPILLING; returns its entry (offset and sizes of the block to write).
  /// The block stays allocated until FinishSpill.
  Result<ObjectEntry> BeginSpill(const ObjectID& id);
  /// \brief The write BeginSpill asked for is over. ok: the file holds the
  /// payload at `file_offset` with checksum `crc`; the object becomes SPILLED
  /// (block freed), or RESTORED if a reader pinned it meanwhile, or is erased
  /// (file queued for removal) if it was deleted meanwhile. Failed: back to
  /// SEALED and evictable (or erased if deleted meanwhile).
  Status FinishSpill(const ObjectID& id, bool ok, const std::string& path, uint64_t file_offset,
                     uint32_t crc, std::vector<uint64_t>* freed = nullptr);
  /// \brief SPILLED -> RESTORING: allocates its block and returns the offset the
  /// server must read the spill file into. OutOfMemory when it does not fit.
  Result<uint64_t> BeginRestore(const ObjectID& id);
  /// \brief RESTORING -> RESTORED (ok) or back to SPILLED (the block is freed).
  Status FinishRestore(const ObjectID& id, bool ok, std::vector<uint64_t>* freed = nullptr);
  /// \brief Spill and external files of erased objects, for the server to
  /// unlink; the queue is emptied.
  std::vector<std::string> TakeFilesToRemove();

  /// \brief Records the owner's endpoint (StoreCreateRequest.owner_endpoint).
  void SetOwnerEndpoint(const ObjectID& id, std::string endpoint);
  /// \brief A sealed cached copy (primary == false) becomes a primary one
  /// (a draining node handed its copy over): spilled, never evicted, from
  /// now on. False if absent, unsealed or delete-pending.
  bool Promote(const ObjectID& id);

  /// \brief True if Get would find the object (sealed, not delete-pending).
  bool Contains(const ObjectID& id) const;
  /// \brief The entry, or nullptr (for inspection and tests).
  const ObjectEntry* Find(const ObjectID& id) const;
  /// \brief Every object (for stats), delete-pending ones included.
  const std::unordered_map<ObjectID, ObjectEntry>& objects() const { return objects_; }
  /// \brief Objects in the table, delete-pending ones included.
  size_t num_objects() const { return objects_.size(); }
  uint64_t used() const { return allocator_.used(); }
  uint64_t capacity() const { return allocator_.capacity(); }
  /// \brief Bytes and count of objects whose only copy is on disk (SPILLED or external).
  uint64_t spilled_bytes() const { return spilled_bytes_; }
  uint64_t num_spilled() const { return num_spilled_; }
  /// \brief Bytes eviction could free right now.
  uint64_t evictable_bytes() const { return policy_.evictable_bytes(); }
  /// \brief Bytes of SPILLING objects (freed when their writes finish, unless pinned).
  uint64_t spilling_bytes() const { return spilling_bytes_; }
  const ArenaAllocator& allocator() const { return allocator_; }

 private:
  using Map = std::unordered_map<ObjectID, ObjectEntry>;
  // Frees the block and files and forgets the object.
  void Erase(Map::iterator it, std::vector<uint64_t>* freed);
  // Delete semantics on an existing entry.
  void DeleteEntry(Map::iterator it, std::vector<uint64_t>* freed);
  // Forgets that `client` relates to `id` unless it still owns, creates or pins it.
  void MaybeUnlink(const WorkerID& client, const ObjectID& id, const ObjectEntry& e);
  // Counts one more object living in the file / one less (at zero the file
  // is queued for removal).
  void RefFile(const std::string& path) { file_refs_[path]++; }
  void UnrefFile(const std::string& path);
  // Puts the object in (or takes it out of) the eviction policy per its state.
  void UpdateEvictable(const ObjectID& id, const ObjectEntry& e);
  void CountSpilled(const ObjectEntry& e, int sign);

  ArenaAllocator allocator_;
  EvictionPolicy policy_;
  Map objects_;
  // client -> objects it owns, creates or pins, so a disconnect touches only those.
  std::unordered_map<WorkerID, std::unordered_set<ObjectID>> by_client_;
  std::vector<std::string> files_to_remove_;
  std::unordered_map<std::string, uint32_t> file_refs_;  // file -> objects living in it
  uint64_t spilled_bytes_ = 0;
  uint64_t num_spilled_ = 0;
  uint64_t spilling_bytes_ = 0;
};

}  // namespace lumos::object_store
