#pragma once
// StoreClient: a worker's connection to its node's object store.
//
// Connect() receives the arena's memfd and maps it whole (MAP_SHARED, read +
// write) until the client is destroyed, so object bytes are read and written
// in place: Create hands out a pointer into the arena, Get returns pointers
// into it (zero copy). Object data is 64-byte aligned; metadata directly
// follows the data.
//
// Every call is one blocking round trip on a rpc::SyncClient (no event loop,
// no thread wake-ups), except Release, which is a one-way frame.
// Pins: each found entry of a Get pins that object for this client until a
// matching Release; the store frees a deleted object only when no client pins
// it. Pointers stay valid while the object is pinned (or, for its creator,
// until Seal/Abort); reading an unpinned object's bytes is a use-after-free.
//
// Objects the store serves from files (too big for the arena, or spilled and
// not restorable right now) are mapped per object id: the first Get maps the
// file, every later Get of that id shares the mapping, and it is unmapped when
// as many Releases came back (the store never serves one id from the arena and
// from a file to pinned readers at once). A large object's creator maps its
// file read-write from Create until Seal/Abort.
//
// Thread safety: thread safe (calls are serialized by the connection's mutex).
// Connect must complete before any other call; those fail with
// NotInitialized when not connected.
// What may fail: Connect (IOError, Disconnected, Invalid), Create
// (AlreadyExists, OutOfMemory), Seal/Abort (NotFound, Invalid); any call with
// Disconnected when the store has gone away.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/id.h"
#include "common/status.h"
#include "rpc/sync_client.h"

namespace lumos::object_store {

class StoreClient {
 public:
  struct ObjectBuffer {
    bool found = false;
    const uint8_t* data = nullptr;
    uint64_t data_size = 0;
    const uint8_t* metadata = nullptr;  // == data + data_size
    uint64_t metadata_size = 0;
    // When !found: why, if the store knows (e.g. a corrupted spill file).
    std::string error;
  };


  StoreClient() = default;
  /// \brief Closes the connection (the store drops this client's pins and
  /// deletes the objects it owns) and unmaps the arena.
  ~StoreClient();
  StoreClient(const StoreClient&) = delete;
  StoreClient& operator=(const StoreClient&) = delete;

  /// \brief Connects (retrying for up to timeout_ms while the store starts),
  /// registers as `client_id` and maps the arena. Call once.
  Status Connect(const std::string& socket_path, const WorkerID& client_id, int64_t timeout_ms);
  /// \brief Allocates an unsealed object of data_size + metadata_size bytes owned
  /// by `owner` and sets *data to its writable bytes (metadata at
  /// *data + data_size). Nobody else sees it until Seal.
  /// `owner_endpoint`: the owner's core worker, kept with the object.
  Status Create(const ObjectID& id, uint64_t data_size, uint64_t metadata_size,
                const WorkerID& owner, uint8_t** data, bool secondary = false,
                const std::string& owner_endpoint = "");
  /// \brief Makes the object immutable and visible to Get.
  Status Seal(const ObjectID& id);
  /// \brief Drops an object this client created and has not sealed.
  Status Abort(const ObjectID& id);
  /// \brief One entry per id, in order; found entries are pinned until Release.
  /// Does not wait: an absent or unsealed object is reported as not found.
  Status Get(const std::vector<ObjectID>& ids, std::vector<ObjectBuffer>* out);
  /// \brief Unpins one Get of the object. One-way and cheap; errors are ignored.
  void Release(const ObjectID& id);
  /// \brief Deletes the objects (freed once unpinned); unknown ids are ignored.
  Status Delete(const std::vector<ObjectID>& ids);
  Status Contains(const ObjectID& id, bool* found);
  Status Stats(uint64_t* capacity, uint64_t* used, uint64_t* num_objects);
  /// \brief Everything STORE_STATS reports (see StoreStatsReply), with one
  /// entry per object when include_objects.
  struct ObjectInfo {
    std::string object_id;  // binary
    std::string owner_id;   // binary
    uint64_t size = 0;
    std::string state;      // ObjectStateName
    bool in_memory = false;
    bool external = false;
    bool primary = true;
    uint64_t pins = 0;
    std::string owner_endpoint;
  };
  struct DetailedStats {
    uint64_t capacity = 0, used = 0, num_objects = 0, spilled_bytes = 0, num_spilled = 0;
    uint64_t bytes_spilled_total = 0, bytes_restored_total = 0, num_evicted_total = 0;
    uint64_t num_spill_files_total = 0, num_spill_fsyncs_total = 0;
    uint64_t num_spill_writes_in_flight = 0, num_spill_reads_in_flight = 0;
    bool spilling_enabled = false, spill_fsync = false;
    std::string spill_directory;
    std::vector<ObjectInfo> objects;
  };
  Status GetDetailedStats(bool include_objects, DetailedStats* out);
  /// \brief Bytes of the mapped arena (0 before Connect).
  uint64_t arena_size() const { return arena_size_.load(std::memory_order_acquire); }

 private:
  Status CheckConnected() const;
  // Null when [offset, offset + size) is not inside the arena.
  uint8_t* Locate(uint64_t offset, uint64_t size) const;

  struct FileMapping {
    uint8_t* base = nullptr;
    uint64_t length = 0;
    uint64_t refs = 0;
  };
  // Maps (or shares) the file of `id`; null on failure.
  uint8_t* MapFile(const ObjectID& id, const std::string& path, uint64_t offset, uint64_t size,
                   bool writable, std::string* error);
  // Drops one reference to the file mapping of `id`, if any.
  void UnmapFile(const ObjectID& id);

  rpc::SyncClient rpc_;
  std::mutex files_mu_;
  std::unordered_map<ObjectID, FileMapping> files_;
  std::mutex connect_mu_;
  std::atomic<uint8_t*> base_{nullptr};
  std::atomic<uint64_t> arena_size_{0};
};

}  // namespace lumos::object_store
