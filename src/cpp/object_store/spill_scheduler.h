#pragma once
// SpillScheduler: the object store's memory-pressure machinery, with the
// file I/O off the store's loop thread.
//
// The store server asks it for room (RequestRoom, for a Create or a restore)
// and to bring spilled objects back (Load). It frees memory in LRU order
// (ObjectTable::NextVictim): cached copies are dropped and objects that
// already have a spill file (RESTORED) give up their block at once, on the
// loop; the others are written to spill files by a small I/O thread pool
// (SpillIoPool) while the loop keeps serving other requests. Small victims
// are batched: the following small LRU victims join the write, one file for
// all (each object records its payload's offset; the table deletes the file
// with its last object). A spilling
// object's block stays allocated (and readable: a Get of it is served from
// memory) until its write completes; then, back on the loop, the table frees
// it (FinishSpill) and the waiters are retried.
//
// Waiters: a request that does not fit waits in FIFO order; it is granted
// (its callback runs on the loop with OK, at which point the block fits and
// the caller allocates it before anything else runs) as soon as a block of its
// size is free, and only ever waits while writes it needs are in flight (when
// nothing is in flight and nothing is left to spill it fails with
// OutOfMemory naming the cause, so no wait is unbounded by the disk). A
// failed write (ENOSPC, EFBIG, unwritable directory) fails every request
// waiting at that moment with OutOfMemory "spilling failed: <cause>"; no
// retry loop, and the victim stays in memory unchanged.
//
// Load of a SPILLED object: an unpinned one is restored (room made as above,
// the file read into its new block on an I/O thread, checksum verified:
// SPILLED -> RESTORING -> RESTORED); one that is pinned (already served from
// its file) or that cannot fit is only checked (read and checksummed on an
// I/O thread) so the client can map the file. Concurrent Loads of one id
// share the one I/O.
//
// Threading: every method runs on the store's loop thread, except that the
// I/O jobs run on the pool's threads (they touch only the arena block they
// were given, which the table keeps allocated, and the file). Completions
// are posted to the loop and dropped after Stop().
// Ownership: the pool's threads; the files of writes whose completion never
// ran (removed by Join()).
#include <asio.hpp>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/id.h"
#include "common/status.h"
#include "object_store/object_table.h"
#include "object_store/spill_file.h"

namespace lumos::object_store {

struct SpillOptions {
  bool enabled = false;
  // Created if missing; spill files are named lumos-<pid>-<object hex>.spill so
  // several stores may share one directory.
  std::string directory;
  // Where the arena goes when memfd_create is unavailable (a file, unlinked at once).
  std::string arena_fallback_directory;
  // fdatasync each spill file before its object counts as spilled.
  bool fsync = false;
  // Threads writing and reading spill files.
  int io_threads = 2;
  // Objects smaller than batch_object_max_bytes are spilled together: the
  // next LRU victims that are small too go into one file of up to
  // batch_max_bytes / batch_max_objects (0: one file per object; the raylet
  // sets it from object_spilling_batch_object_bytes, 1 MiB by default).
  uint64_t batch_object_max_bytes = 0;
  uint64_t batch_max_bytes = 16 << 20;
  uint64_t batch_max_objects = 2000;
  // Runs on an I/O thread before each spill write or read (tests hold I/O
  // back with it to observe the in-flight states).
  std::function<void()> before_io;
};

/// A fixed set of threads running jobs in FIFO order. Shutdown() lets the
/// running jobs finish, drops the queued ones and joins. Thread safe.
class SpillIoPool {
 public:
  explicit SpillIoPool(int threads);
  ~SpillIoPool() { Shutdown(); }
  SpillIoPool(const SpillIoPool&) = delete;
  SpillIoPool& operator=(const SpillIoPool&) = delete;
  void Submit(std::function<void()> job);
  void Shutdown();

 private:
  void Run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

class SpillScheduler {
 public:
  using Done = std::function<void(Status)>;
  /// `on_change` runs on the loop after every completion that changed the
  /// table (the server publishes stats and removes deleted files there).
  SpillScheduler(asio::io_context& io, ObjectTable& table, const SpillOptions& options,
                 std::function<void()> on_change);
  ~SpillScheduler() { Join(); }
  SpillScheduler(const SpillScheduler&) = delete;
  SpillScheduler& operator=(const SpillScheduler&) = delete;

  /// \brief The arena the table's offsets point into (set once, before use).
  void SetArena(uint8_t* arena) { arena_ = arena; }
  /// \brief done(OK) once a block of `size` bytes fits (synchronously when it
  /// does after freeing what needs no I/O), or done(OutOfMemory) naming why not.
  void RequestRoom(uint64_t size, Done done);
  /// \brief For a SPILLED object: restores it, or checks its file when it is
  /// pinned or cannot fit; done(OK) then, or done(IOError naming the object)
  /// for a bad file. done(NotFound) if it went away meanwhile.
  void Load(const ObjectID& id, Done done);
  /// \brief Retries the waiters; call after anything freed memory.
  void Pump() {
    if (!waiters_.empty()) PumpWaiters();
  }
  /// \brief Completions arriving from now on are dropped. Loop thread.
  void Stop();
  /// \brief Stops the I/O threads (a running write finishes) and removes the
  /// files of writes whose completion never ran. Any thread, after Stop().
  void Join();

  /// \brief The spill or external file of `id`: <dir>/lumos-<pid>-<hex><suffix>.
  std::string FilePath(const ObjectID& id, const char* suffix) const;

  uint64_t bytes_spilled_total() const { return bytes_spilled_total_; }
  uint64_t bytes_restored_total() const { return bytes_restored_total_; }
  uint64_t num_evicted_total() const { return num_evicted_total_; }
  uint64_t num_spill_files_total() const { return num_spill_files_total_; }
  uint64_t num_spill_fsyncs_total() const { return num_spill_fsyncs_total_; }
  /// \brief Writes (spills) and reads (restores, checks) in flight.
  uint64_t num_writes_in_flight() const { return writes_in_flight_; }
  uint64_t num_reads_in_flight() const { return reads_.size(); }
  size_t num_waiters() const { return waiters_.size(); }

 private:
  struct Waiter {
    uint64_t size;
    Done done;
  };
  bool Fits(uint64_t size) const;
  // Frees the next victim without I/O (drop a cached copy, release the block
  // of an object with a spill file), or starts its write. False when there is
  // no victim or it would need a write and spilling is disabled (*why set).
  bool FreeOne(bool allow_io, std::string* why);
  void PumpWaiters();
  void FailWaiters(const Status& st);
  void StartSpill(const ObjectID& id);
  void OnSpillDone(const std::vector<SpillItem>& items, const std::string& path, const Status& st);
  void StartRead(const ObjectID& id, bool restore);
  void FinishLoad(const ObjectID& id, const Status& st);
  // Runs `job` on the pool, then `then` on the loop (unless stopped).
  void Submit(std::function<void()> job, std::function<void()> then);

  asio::io_context& io_;
  ObjectTable& table_;
  const SpillOptions options_;
  std::function<void()> on_change_;
  uint8_t* arena_ = nullptr;
  SpillIoPool pool_;
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);

  // Loop-thread state.
  std::deque<Waiter> waiters_;
  bool pumping_ = false;
  uint64_t writes_in_flight_ = 0;
  std::unordered_set<std::string> paths_in_flight_;  // removed by Join if never completed
  std::unordered_map<ObjectID, std::vector<Done>> reads_;  // Loads in progress per id
  uint64_t bytes_spilled_total_ = 0;
  uint64_t bytes_restored_total_ = 0;
  uint64_t num_evicted_total_ = 0;
  uint64_t num_spill_files_total_ = 0;
  uint64_t num_spill_fsyncs_total_ = 0;
  uint64_t batch_files_ = 0;  // names batch files
};

}  // namespace lumos::object_store
