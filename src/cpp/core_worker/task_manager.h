#pragma once
// TaskManager: the owner's table of tasks it submitted that have not finished.
// Completing a task stores its return values in the memory store and releases
// the argument refs the task held; failing it stores an error object for every
// return so that getters raise instead of hanging.
//
// A finished task whose returns went to the object store is handed to the
// LineageCache (when it has retries left) so lost returns can be made again.
//
// Thread safety: thread safe.
#include <mutex>
#include <unordered_map>
#include <vector>

#include "common/id.h"
#include "core_worker.pb.h"
#include "core_worker/lineage_cache.h"
#include "core_worker/memory_store.h"
#include "core_worker/reference_counter.h"

namespace lumos::core {

class TaskManager {
 public:
  using FreeCallback = std::function<void(const std::vector<DeletedObject>&)>;
  TaskManager(MemoryStore* store, ReferenceCounter* refs, FreeCallback on_free, LineageCache* lineage = nullptr)
      : store_(store), refs_(refs), on_free_(std::move(on_free)), lineage_(lineage) {}

  /// \brief Registers a submitted task; `arg_refs` are the ids it holds until done.
  void AddPendingTask(const rpc::TaskSpec& spec, std::vector<ObjectID> arg_refs);
  void CompleteTask(const TaskID& id, const rpc::PushTaskReply& reply);
  /// \brief Stores an error object (metadata tag, utf-8 message) for every return.
  void FailTask(const TaskID& id, const std::string& error_meta, const std::string& message);
  /// \brief If the task may run again (retries left, not cancelled), counts the
  /// attempt and copies the spec to resubmit; the task stays pending.
  bool RetryTask(const TaskID& id, rpc::TaskSpec* spec);
  /// \brief Marks a pending task cancelled (never retried). False if unknown.
  bool MarkCancelled(const TaskID& id);
  bool IsCancelled(const TaskID& id) const;
  /// \brief Pending tasks submitted by this worker (for recursive cancel).
  std::vector<TaskID> PendingTaskIds() const;
  /// \brief Fails every pending task (e.g. the raylet connection was lost).
  void FailAll(const std::string& error_meta, const std::string& message);
  bool IsPending(const TaskID& id) const;
  size_t NumPending() const;

 private:
  struct Entry {
    int num_returns = 0;
    std::vector<ObjectID> arg_refs;
    rpc::TaskSpec spec;  // kept for retries
    int retries_left = 0;  // -1: forever
    bool cancelled = false;
    bool dynamic = false;
  };
  bool Take(const TaskID& id, Entry* out);

  MemoryStore* store_;
  ReferenceCounter* refs_;
  FreeCallback on_free_;
  LineageCache* lineage_;
  mutable std::mutex mu_;
  std::unordered_map<TaskID, Entry> pending_;
};

}  // namespace lumos::core
