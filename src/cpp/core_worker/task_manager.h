#pragma once
// TaskManager: the owner's table of tasks it submitted that have not finished.
// Completing a task stores its return values in the memory store and releases
// the argument refs the task held; failing it stores an error object for every
// return so that getters raise instead of hanging.
//
// A finished task whose returns went to the object store is handed to the
// LineageCache (when it has retries left) so lost returns can be made again;
// for a streaming task, its items still held and in the object store.
//
// It also keeps each task's state for tooling (lumos.util.state.list_tasks):
// one enum per pending task, set by the submitters as the task moves on, and a
// bounded ring of finished attempts (task_state_history_size). A retry ends
// the current attempt (FAILED) and starts the next one (attempt_number + 1).
// Each state change also goes to the TaskEventBuffer (when set), for the GCS;
// RUNNING is left to the executor, which knows when the task really starts.
// Streaming generator tasks report their end or failure to GeneratorStreams.
//
// Thread safety: thread safe.
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/id.h"
#include "core_worker.pb.h"
#include "core_worker/generator_streams.h"
#include "core_worker/lineage_cache.h"
#include "core_worker/memory_store.h"
#include "core_worker/reference_counter.h"
#include "core_worker/task_event_buffer.h"

namespace lumos::core {

/// Ray's task states (the subset an owner can know); RUNNING is inferred, see
/// docs/ARCHITECTURE.md.
enum class TaskState : uint8_t {
  kPendingArgsAvail,
  kPendingNodeAssignment,
  kSubmittedToWorker,
  kRunning,
  kFinished,
  kFailed,
};
const char* TaskStateName(TaskState s);

struct TaskStateRecord {
  TaskID task_id;
  std::string name;
  TaskState state;
  int attempt_number;
  std::string error_type;  // Ray's names: TASK_EXECUTION_EXCEPTION, WORKER_DIED, ...
  const char* state_name() const { return TaskStateName(state); }
};

class TaskManager {
 public:
  using FreeCallback = std::function<void(const std::vector<DeletedObject>&)>;
  TaskManager(MemoryStore* store, ReferenceCounter* refs, FreeCallback on_free, LineageCache* lineage = nullptr,
              GeneratorStreams* streams = nullptr)
      : store_(store), refs_(refs), on_free_(std::move(on_free)), lineage_(lineage), streams_(streams) {}

  /// \brief State changes are also recorded in `events` (not owned; set
  /// before the first task).
  void SetEventBuffer(TaskEventBuffer* events) { events_ = events; }
  /// \brief Registers a submitted task; `arg_refs` are the ids it holds until done.
  /// `rebuild_items` (a streaming task run again by lineage reconstruction):
  /// the lost items this attempt must yield again. Such an attempt leaves the
  /// caller's stream as it was (no new stream, no second end or failure) and
  /// stores no returns; an awaited item it does not yield gets an error.
  void AddPendingTask(const rpc::TaskSpec& spec, std::vector<ObjectID> arg_refs,
                      const std::vector<ObjectID>& rebuild_items = {});
  /// \brief The same for a spec the caller shares (kept, not copied, for
  /// retries: the submitter's queue holds the same one).
  void AddPendingTask(std::shared_ptr<const rpc::TaskSpec> spec, std::vector<ObjectID> arg_refs,
                      const std::vector<ObjectID>& rebuild_items = {});
  /// \brief A pending streaming task will be asked for `item` again (its
  /// copy was lost while the task runs again after a retry). False when the
  /// task is not pending or not streaming.
  bool AwaitItem(const TaskID& id, const ObjectID& item);
  /// \brief True (once) when `item` is awaited from the running attempt:
  /// its report then replaces the lost copy instead of being a duplicate.
  /// Lock-free false until anything was ever awaited (called per streamed item).
  bool TakeAwaitedItem(const TaskID& id, const ObjectID& item);
  void CompleteTask(const TaskID& id, const rpc::PushTaskReply& reply);
  /// \brief Stores an error object (metadata tag, utf-8 message) for every return.
  void FailTask(const TaskID& id, const std::string& error_meta, const std::string& message);
  /// \brief If the task may run again (retries left, not cancelled), counts the
  /// attempt and copies the spec to resubmit; the task stays pending.
  /// `error_type` names why the current attempt failed (for list_tasks).
  bool RetryTask(const TaskID& id, rpc::TaskSpec* spec, const char* error_type = "WORKER_DIED");
  /// \brief Moves a pending task to `state` (never backwards past RUNNING of the
  /// same attempt; unknown ids are ignored).
  void SetState(const TaskID& id, TaskState state);
  /// \brief Pending tasks, then finished attempts (oldest first).
  std::vector<TaskStateRecord> ListTasks() const;
  /// \brief Marks a pending task cancelled (never retried). False if unknown.
  bool MarkCancelled(const TaskID& id);
  bool IsCancelled(const TaskID& id) const;
  /// \brief Marks the task cancelled if it still waits for its arguments
  /// (PENDING_ARGS_AVAIL); true then, and the caller fails it at once.
  bool CancelIfResolving(const TaskID& id);
  /// \brief Arguments resolved: moves the task on to PENDING_NODE_ASSIGNMENT
  /// unless it was cancelled or already failed meanwhile (false: drop it).
  /// Atomic with CancelIfResolving, so a task is either cancelled or sent.
  bool StartIfNotCancelled(const TaskID& id);
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
    // Kept for retries (null without any), shared with the submitter's queue:
    // a million queued tasks hold one copy of their spec, not two.
    std::shared_ptr<const rpc::TaskSpec> spec;
    int retries_left = 0;  // -1: forever
    bool cancelled = false;
    bool dynamic = false;
    bool streaming = false;
    bool rebuilding = false;                 // a reconstruction attempt of a streaming task
    std::unordered_set<ObjectID> awaited;    // lost items this attempt must report again
    TaskState state = TaskState::kPendingArgsAvail;
    int attempt = 0;
    std::string name;
  };
  bool Take(const TaskID& id, Entry* out);
  /// \brief Hands a finished streaming task's held store items to the LineageCache
  /// (`with_awaited`: also the lost items it was asked for but did not report again).
  void RecordStreamLineage(const TaskID& id, const Entry& e, const rpc::PushTaskReply& reply,
                           bool with_awaited = false);
  /// \brief Items still awaited when the attempt ended get `message` as an error.
  void FailAwaited(const Entry& e, const std::string& message);
  void RecordFinished(const TaskID& id, const Entry& e, TaskState state, std::string error_type,
                      const std::string& error_message = "", const rpc::PushTaskReply* executed = nullptr);

  MemoryStore* store_;
  ReferenceCounter* refs_;
  FreeCallback on_free_;
  LineageCache* lineage_;
  GeneratorStreams* streams_;
  TaskEventBuffer* events_ = nullptr;
  mutable std::mutex mu_;
  std::unordered_map<TaskID, Entry> pending_;
  std::deque<TaskStateRecord> finished_;  // GUARDED_BY(mu_), bounded
  std::atomic<bool> awaited_ever_{false};  // set under mu_ with the first awaited item
};

}  // namespace lumos::core
