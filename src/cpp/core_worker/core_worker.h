#pragma once
// CoreWorker: the C++ heart of a driver or worker process (one per process).
//
// It owns the event loop thread (all fastpath I/O), the memory store, the
// reference counter, the task manager and submitter, the object store client
// and the GCS client. Python reaches it through lumos._raylet (Cython), always
// with the GIL released around blocking calls.
//
// Drivers submit tasks and get objects. Workers additionally serve PushTask:
// tasks are queued by the loop thread and run on the thread that called
// RunTaskLoop() (the Python main thread) through the TaskExecutor callback.
//
// Thread safety: every public method is thread safe.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/id.h"
#include "common/status.h"
#include "core_worker.pb.h"
#include "core_worker/actor_task_submitter.h"
#include "core_worker/connection_pool.h"
#include "core_worker/driver_log_relay.h"
#include "core_worker/generator_streams.h"
#include "core_worker/memory_store.h"
#include "core_worker/normal_task_submitter.h"
#include "core_worker/reference_counter.h"
#include "core_worker/task_event_buffer.h"
#include "core_worker/task_manager.h"
#include "core_worker/task_replier.h"
#include "object_store/store_client.h"
#include "rpc/event_loop.h"
#include "rpc/gcs_client.h"
#include "rpc/server.h"

namespace lumos::core {

/// \brief Runs (or starts) one task and finishes it through `replier`, now or
/// later from another thread (concurrent actors). A non-OK status means a
/// system failure before the task could finish (the caller sees a
/// RaySystemError); user exceptions are error objects with is_application_error.
using TaskExecutor = std::function<Status(const rpc::TaskSpec& spec,
                                          const std::vector<std::shared_ptr<RayObject>>& args,
                                          std::shared_ptr<TaskReplier> replier)>;

struct CoreWorkerOptions {
  bool is_driver = true;
  std::string raylet_socket;
  std::string store_socket;
  std::string gcs_address;
  std::string session_dir;
  // IP of this node: the TCP listener binds it and peers on it are reached
  // over Unix sockets (rpc/dial.h). Empty: rpc::LocalNodeIp().
  std::string node_ip;
  // The cluster token presented to TCP peers (empty: keep what is set).
  std::string auth_token;
  JobID job_id;          // drivers: allocated by the caller through the GCS
  pid_t raylet_pid = 0;  // workers: exit when the raylet dies
  TaskExecutor executor;
  MemoryStore::InterruptCheck check_signals;
};

class CoreWorker {
 public:
  static Result<std::unique_ptr<CoreWorker>> Create(CoreWorkerOptions options);
  ~CoreWorker();

  // --- identity ---
  const WorkerID& worker_id() const { return worker_id_; }
  /// \brief The node store connection (stats for `lumos memory`).
  object_store::StoreClient* store_client() const { return store_.get(); }
  const NodeID& node_id() const { return node_id_; }
  const JobID& job_id() const { return job_id_; }
  TaskID current_task_id() const;
  const rpc::Address& address() const { return address_; }
  const std::map<std::string, double>& node_resources() const { return node_resources_; }

  // --- objects ---
  /// \brief Stores a small value owned by this worker; returns its new id.
  ObjectID PutInline(std::string data, std::string metadata, std::vector<rpc::ObjectReference> nested);
  /// \brief Allocates `size` bytes in the object store for a new owned object
  /// (or for `id` when given, e.g. a task return owned by `owner`). Fill the
  /// buffer, then SealPlasma or AbortPlasma.
  /// `owner_endpoint` "" = this worker's own (kept by the store: a draining
  /// node tells the owner where its copy went).
  Status CreatePlasma(uint64_t size, const std::string& metadata, const ObjectID* id,
                      const WorkerID& owner, ObjectID* out_id, uint8_t** data,
                      const std::string& owner_endpoint = "");
  /// \brief Seals; when `owned` registers the object with the reference counter
  /// (with its contained refs) and makes it gettable.
  Status SealPlasma(const ObjectID& id, bool owned, const std::vector<rpc::ObjectReference>& nested);
  Status AbortPlasma(const ObjectID& id);
  /// \brief Blocks until every object is available (or timeout_ms passes, <0 =
  /// forever); values from the object store come back pinned, zero-copy.
  Status Get(const std::vector<ObjectID>& ids, const std::vector<rpc::Address>& owners, int64_t timeout_ms,
             std::vector<std::shared_ptr<RayObject>>* out);
  /// \brief lumos.wait: until num_returns of the entries are ready or the
  /// timeout passes (not an error: `ready` says which). Entry i is ids[i], or,
  /// when is_stream[i] (may be empty: no streams), the streaming generator whose
  /// return 1 is ids[i]: ready when its next() would not block (the next item
  /// arrived, or the task ended or failed).
  Status Wait(const std::vector<ObjectID>& ids, const std::vector<rpc::Address>& owners,
              const std::vector<bool>& is_stream, size_t num_returns, int64_t timeout_ms, std::vector<bool>* ready);
  void AddLocalRef(const ObjectID& id, const rpc::Address* owner);
  void RemoveLocalRef(const ObjectID& id);
  void MarkEscaped(const ObjectID& id) { refs_.MarkEscaped(id); }
  ReferenceCounter& reference_counter() { return refs_; }

  // --- borrower protocol (core_worker_borrowers.cc) ---
  /// \brief A ref out of deserialization on this thread. If this process must
  /// register as its borrower, the registration waits for the next
  /// FlushBorrowerRegistrations on this thread.
  void AddDeserializedRef(const ObjectID& id, const rpc::Address& owner);
  /// \brief Registers this process with the owners of the refs deserialized on
  /// this thread since the last flush, blocking (bounded) for their answers.
  /// Call after a deserialization, before the refs' carrier can go away.
  void FlushBorrowerRegistrations();
  /// \brief True when this thread has registrations waiting for a flush.
  static bool HasPendingRegistrations();
  /// \brief Size of a small object's value held in this process's memory
  /// store, or -1 (absent, not ready, or in the object store).
  int64_t InlineSize(const ObjectID& id) {
    auto obj = memory_store_.GetIfExists(id);
    return obj && !obj->in_plasma && obj->data ? static_cast<int64_t>(obj->data->size()) : -1;
  }
  /// \brief This process's reference table (memory tooling).
  rpc::ReferenceTableReply ReferenceTable();
  /// \brief The serialized ReferenceTableReply of every core worker on this
  /// node (this one included), asked through the raylet's client list; workers
  /// that do not answer within the timeout are left out.
  Status CollectReferenceTables(int64_t timeout_ms, std::vector<std::string>* out);

  /// \brief Nodes (NodeID binary) known to hold a copy of each object in an
  /// object store, and its size (-1 unknown); inline objects report none.
  void ObjectLocations(const std::vector<ObjectID>& ids, std::vector<std::vector<std::string>>* nodes,
                       std::vector<int64_t>* sizes);
  /// \brief Priority of the pulls this thread's gets make (0 get, 1 wait, 2 task args).
  static void SetPullPriority(int priority);

  // --- tasks ---
  /// \brief Fills ids and caller fields, registers returns, resolves arguments
  /// and submits. Returns the return object ids.
  std::vector<ObjectID> SubmitTask(rpc::TaskSpec spec);
  // --- actors ---
  /// \brief Registers an actor with the GCS (creation is asynchronous). The
  /// spec's actor_creation.actor_id is set by the caller. AlreadyExists (with
  /// `existing` filled) when the name is taken. A non-detached actor gets a
  /// handle object (*handle_object): an owned object that every handle refers
  /// to, so the reference counter (borrowers included) decides when the last
  /// handle anywhere is gone; the actor is then killed and its creation
  /// arguments released. Detached actors get Nil and pin their arguments.
  Status CreateActor(rpc::TaskSpec spec, rpc::ActorTableData* existing, ObjectID* handle_object);
  /// \brief Starts tracking an actor this process got a handle to; `owned`
  /// handles get updates without subscribing (the GCS subscribes the owner).
  Status AddActorHandle(const std::string& actor_id, int max_task_retries, bool owned);
  std::vector<ObjectID> SubmitActorTask(const std::string& actor_id, rpc::TaskSpec spec);
  int64_t ActorNumPending(const std::string& actor_id) const {
    return actor_submitter_->NumPending(actor_id);
  }
  Status KillActor(const std::string& actor_id, bool no_restart, const std::string& reason);

  /// \brief lumos.cancel: a queued task fails with TaskCancelledError; a running
  /// one is interrupted (KeyboardInterrupt in its worker) or, with force, its
  /// worker is killed. A finished task is left alone. InvalidArgument for
  /// force on an actor call.
  Status CancelTask(const ObjectID& ref, bool force, bool recursive);
  /// \brief Worker: the task a CANCEL_TASK asked to interrupt, if it is the one
  /// running now (consumed). Called by the Python signal handler.
  std::string TakeCancelTarget();
  /// \brief Writes out replies batched while tasks were queued (before the
  /// process leaves on purpose, e.g. exit_actor).
  void FlushReplies();

  /// \brief Worker only: runs tasks until the worker should exit.
  Status RunTaskLoop();
  /// \brief Worker, event loop thread: queues a pushed task for RunTaskLoop.
  void EnqueueTask(const rpc::ConnectionPtr& conn, rpc::Frame&& frame);
  /// \brief Worker only: ask RunTaskLoop to return after the current task.
  void RequestExit(const std::string& reason);
  /// \brief Worker of an async or threaded actor without named concurrency
  /// groups, once it is created: from now on its calls are taken by the
  /// threads that run them instead of the main thread, so a call is not handed
  /// from one Python thread to another (a GIL hand-over and a wake-up per
  /// call). Async (`threads` false): the default asyncio loop's thread runs
  /// the calls without ObjectRef arguments (RunDirectCalls) when the eventfd
  /// returned in `*fd` is readable; calls with ObjectRef arguments still go to
  /// RunTaskLoop, as their fetch would stall every coroutine of the loop.
  /// Threaded (`threads` true): every call goes to the pool threads blocked in
  /// ServeDirectCalls (a fetch blocks only its own thread). With named groups
  /// the main thread keeps handing calls out: one group must not wait for
  /// another's busy thread. (core_worker_direct_calls.cc)
  Status EnableDirectCalls(bool threads, int* fd);
  /// \brief The async loop thread: hands every waiting direct call to the
  /// executor, in arrival order; returns how many. Replies of a batch are
  /// corked until FlushReplies.
  int RunDirectCalls();
  /// \brief A threaded actor's pool thread: runs direct calls one at a time
  /// until the worker exits.
  void ServeDirectCalls();
  /// \brief Sends printed lines to the caller of the current (or last) task;
  /// a driver writes them to its own stdout/stderr.
  void ForwardLogs(const std::vector<std::string>& lines, bool is_err);
  /// \brief Worker: a profile span recorded by code of attempt `attempt` of
  /// `task` running here (lumos.util.profiling), reported with the task
  /// events (see TaskEventBuffer::RecordProfileEvent); nothing when they are off.
  void RecordProfileEvent(const TaskID& task, int32_t attempt, std::string name, int64_t start_us,
                          int64_t end_us, std::string extra_json);
  /// \brief Driver: its forwarded lines and progress updates (see DriverLogRelay).
  DriverLogRelay& log_relay() { return log_relay_; }

  // --- streaming generators (core_worker_streaming.cc) ---
  static constexpr int kStreamItem = 0, kStreamEnd = 1, kStreamError = 2;
  /// \brief Caller: waits up to timeout_ms (<0 forever) for the next item of a
  /// streaming task. kStreamItem: `*id` is item `*index` (the stream still holds
  /// it until StreamRelease); kStreamError: `*id` is return 1 holding the task's
  /// failure; kStreamEnd: no more items.
  Status StreamNext(const TaskID& task, int64_t timeout_ms, int* kind, ObjectID* id, int64_t* index);
  /// \brief Caller: item `index` was handed out as a Python ref; drops the
  /// stream's hold and acknowledges it (backpressure).
  void StreamRelease(const TaskID& task, int64_t index);
  /// \brief Caller: the generator was dropped; unconsumed items are freed.
  void StreamDrop(const TaskID& task);
  /// \brief Caller: true when StreamNext would answer without waiting (an item
  /// arrived, or the task ended or failed).
  bool StreamNextReady(const TaskID& task) const;
  bool StreamIsFinished(const TaskID& task) const { return streams_.IsFinished(task); }
  size_t NumStreams() const { return streams_.NumStreams(); }
  /// \brief Executor: sends one item of the streaming task `replier` runs
  /// (blocks under backpressure; interruptible by signals).
  Status ReportGeneratorItem(TaskReplier* replier, int64_t index, rpc::ReturnObject item);
  std::vector<TaskStateRecord> ListTasks() const { return tasks_->ListTasks(); }

  /// \brief Disconnects from the raylet, returns leases, stops the loop.
  void Shutdown();

 private:
  explicit CoreWorker(CoreWorkerOptions options);
  Status Connect();
  void OnFrame(const rpc::ConnectionPtr& conn, rpc::Frame&& frame);
  void HandleGetObjectStatus(const rpc::ConnectionPtr& conn, const rpc::Frame& frame);
  void HandleForwardLogs(const rpc::Frame& frame);
  void HandleGeneratorItem(const rpc::ConnectionPtr& conn, const rpc::Frame& frame);
  void RequestFromOwner(const ObjectID& id, const rpc::Address& owner);
  void ResolveDependencies(rpc::TaskSpec spec, std::function<void(rpc::TaskSpec)> on_ready);
  /// \brief New task id, job, parent and caller of a spec this worker submits.
  TaskID FillCallerFields(rpc::TaskSpec* spec);
  void PrepareSpec(rpc::TaskSpec* spec, std::vector<ObjectID>* returns);
  /// \brief The refs a spec's arguments hold (top-level refs and refs nested in inline values).
  static std::vector<ObjectID> ArgRefsOf(const rpc::TaskSpec& spec);
  /// \brief Wait with streaming generators among the entries (core_worker_streaming.cc).
  Status WaitWithStreams(const std::vector<ObjectID>& ids, const std::vector<rpc::Address>& owners,
                         const std::vector<bool>& is_stream, size_t num_returns, int64_t timeout_ms,
                         std::vector<bool>* ready);
  /// \brief Asks owners for borrowed objects, then waits until num_required are
  /// local (telling the raylet this worker is blocked while it waits).
  Status WaitForObjects(const std::vector<ObjectID>& ids, const std::vector<rpc::Address>& owners,
                        size_t num_required, int64_t timeout_ms, std::vector<bool>* ready);
  /// \brief The memory store wait both use: a non-blocking check first, then,
  /// if it must block, the blocking wait with this worker's CPU lent back.
  /// `entry_of` (or null: one entry per id) maps ids onto `num_entries` entries.
  Status WaitLendingCpu(const std::vector<ObjectID>& ids, const std::vector<size_t>* entry_of,
                        size_t num_entries, size_t num_required, int64_t timeout_ms, std::vector<bool>* ready);
  void BeforeReply(const rpc::TaskSpec& spec, rpc::PushTaskReply* reply);
  // Borrower protocol (core_worker_borrowers.cc).
  /// \brief Executor: registers the caller as a borrower of the refs nested in
  /// the returns before the reply leaves (listed in preregistered_refs).
  void PreregisterCaller(const rpc::TaskSpec& spec, rpc::PushTaskReply* reply);
  /// \brief Registers `borrower` with the owner at `owner_endpoint`; blocks.
  Status AddBorrowersAt(const std::string& owner_endpoint, const rpc::Address& borrower,
                        const std::vector<ObjectID>& ids, std::vector<bool>* accepted);
  void HandleAddBorrowers(const rpc::ConnectionPtr& conn, const rpc::Frame& frame);
  void HandleRemoveBorrowers(const rpc::Frame& frame);
  void HandleGetReferenceTable(const rpc::ConnectionPtr& conn, const rpc::Frame& frame);
  /// \brief Keeps a connection to a borrower so its death drops its registrations.
  void WatchBorrower(const std::string& endpoint);
  /// \brief The process at `endpoint` is gone: drops its borrower registrations and marks the
  /// objects we borrowed from it lost (OwnerDiedError), cached copies included.
  void OnPeerGone(const std::string& endpoint);
  /// \brief Tells owners that this process dropped its registrations.
  void SendRemoveBorrowers(const std::vector<DeletedObject>& deleted);
  void HandleActorUpdate(const rpc::Frame& frame);
  void HandleCancelTask(const rpc::Frame& frame);
  void FreeObjects(const std::vector<DeletedObject>& deleted);
  // Lineage reconstruction (core_worker_lineage.cc).
  /// \brief Replaces lost owned objects in `objs` (parallel to `ids`) by
  /// starting the re-execution of their tasks; true if any was started, so the
  /// caller waits again. Objects that cannot be made again get an error object.
  bool ReconstructLostObjects(const std::vector<ObjectID>& ids, std::vector<std::shared_ptr<RayObject>>* objs);
  /// \brief Re-executes the task that made `lost` (after its lost arguments).
  Status Reconstruct(const ObjectID& lost, int depth);
  Status GetOnce(const std::vector<ObjectID>& ids, const std::vector<rpc::Address>& owners, int64_t timeout_ms,
                 std::vector<std::shared_ptr<RayObject>>* out);
  Status FetchFromPlasma(const std::vector<ObjectID>& ids, std::vector<std::shared_ptr<RayObject>>* out);
  // Objects on other nodes (core_worker_transfer.cc).
  /// \brief Has the local raylet pull the entries of `objs` (parallel to
  /// `ids`) that live in another node's store; those that fail become error
  /// objects naming why. Tells the owners where the new copies are.
  Status PullRemoteObjects(const std::vector<ObjectID>& ids, const std::vector<rpc::Address>& owners,
                           int64_t timeout_ms, std::vector<std::shared_ptr<RayObject>>* objs);
  void HandleAddObjectLocation(const rpc::Frame& frame);
  /// \brief Locality: the node holding the most bytes of the spec's arguments
  /// that live in object stores (NodeID binary), or "" when none does.
  std::string LargestArgumentNode(const rpc::TaskSpec& spec) const;
  /// \brief Owner: records a copy of `id` on `node` (NodeID binary).
  void AddObjectCopy(const ObjectID& id, const std::string& node);
  /// \brief Owner: asks the local raylet to free the copies on other nodes of
  /// freed objects (`primary_nodes` parallel to `ids`, "" = local).
  void FreeRemoteCopies(const std::vector<ObjectID>& ids, const std::vector<std::string>& primary_nodes);
  void SetBlocked(bool blocked);
  void ExecuteTask(const rpc::ConnectionPtr& conn, const rpc::Frame& frame);

  CoreWorkerOptions options_;
  WorkerID worker_id_;
  NodeID node_id_;
  JobID job_id_;
  rpc::Address address_;
  std::map<std::string, double> node_resources_;
  std::unique_ptr<rpc::EventLoop> loop_;
  std::unique_ptr<rpc::FastpathServer> server_;
  rpc::ConnectionPtr raylet_;
  std::unique_ptr<ConnectionPool> pool_;
  std::shared_ptr<rpc::GcsClient> gcs_;
  std::shared_ptr<object_store::StoreClient> store_;
  MemoryStore memory_store_;
  ReferenceCounter refs_;
  GeneratorStreams streams_;
  LineageCache lineage_;
  std::unique_ptr<TaskEventBuffer> task_events_;  // before tasks_: outlives it
  std::unique_ptr<TaskManager> tasks_;
  std::unique_ptr<NormalTaskSubmitter> submitter_;
  std::unique_ptr<ActorTaskSubmitter> actor_submitter_;
  // Handle objects of the non-detached actors this process owns (see CreateActor).
  struct ActorScope {
    std::string actor_id;
    std::vector<ObjectID> creation_arg_refs;
  };
  std::mutex actor_scopes_mu_;
  std::unordered_map<ObjectID, ActorScope> actor_scopes_;  // GUARDED_BY(actor_scopes_mu_)
  // Bytes (data + metadata) of objects created in the store and not sealed
  // yet: an owned put() knows its size in the reference table (list_objects).
  std::mutex plasma_sizes_mu_;
  std::unordered_map<ObjectID, int64_t> plasma_sizes_;  // GUARDED_BY(plasma_sizes_mu_)
  // Prints "lumos: Warning: <message>" unless this process printed the same
  // message before: the infeasible warnings of tasks (LEASE_INFEASIBLE) and of
  // pending actors then show once per name and shape, not once per request.
  void WarnOnce(const std::string& message);
  std::mutex warned_mu_;
  std::unordered_set<std::string> warned_;  // GUARDED_BY(warned_mu_); bounded

  // Identity of the running task (worker) or the driver's pseudo task.
  mutable std::mutex task_mu_;
  TaskID current_task_;
  std::atomic<uint32_t> put_index_{0};
  rpc::ConnectionPtr log_sink_;  // caller of the current/last task
  DriverLogRelay log_relay_;     // driver: where forwarded lines go
  std::atomic<bool> blocked_{false};

  // Makes a reported stream item visible to StreamNext only once it is fully
  // set up (owned, held by the stream, in the memory store).
  std::mutex stream_items_mu_;
  // Owner: copies of owned objects pulled to other nodes (NodeID binaries).
  std::mutex copies_mu_;
  std::unordered_map<ObjectID, std::vector<std::string>> copies_;  // GUARDED_BY(copies_mu_)

  // Borrowed objects requested from their owners (GUARDED_BY(owner_mu_)).
  std::mutex owner_mu_;
  std::unordered_map<ObjectID, bool> requested_from_owner_;

  // Worker: incoming tasks for RunTaskLoop.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::pair<rpc::ConnectionPtr, rpc::Frame>> task_queue_;
  std::atomic<uint64_t> queue_version_{0};
  std::atomic<bool> exit_requested_{false};
  // EXIT_WORKER when_idle: finish queued tasks, tell owners, then exit.
  std::atomic<bool> retiring_{false};
  std::string exit_reason_;
  std::unordered_map<std::string, int> calls_per_function_;
  std::mutex cork_mu_;
  std::set<rpc::ConnectionPtr> corked_;  // GUARDED_BY(cork_mu_)
  // Pipelined normal tasks (see NormalTaskSubmitter): when the running one
  // has run queued_task_return_ms, the tasks queued behind it go back to
  // their owners unrun. The timer lives on the event loop thread.
  void ArmQueuedTaskReturn();
  void ReturnQueuedTasks(uint64_t seq);
  // Answers queued normal tasks `not_started` (their owners push them
  // elsewhere); actor calls (exiting) fail with WorkerDied as before.
  void ReturnUnrun(std::deque<std::pair<rpc::ConnectionPtr, rpc::Frame>> items, bool exiting);
  static bool IsNormalTaskPush(const rpc::Frame& frame);
  // Direct calls (EnableDirectCalls): which pushes qualify, and answering the
  // waiting ones WorkerDied when the worker leaves.
  bool IsDirectCall(const rpc::Frame& frame) const;
  bool DirectCallsOn() const { return direct_threads_ || direct_fd_ >= 0; }
  void EnqueueDirect(const rpc::ConnectionPtr& conn, rpc::Frame&& frame);
  void ReturnDirectQueue();
  std::atomic<int> direct_fd_{-1};  // eventfd (async actors); -1 until EnableDirectCalls
  std::atomic<bool> direct_threads_{false};  // a threaded actor's pool serves the calls
  std::condition_variable direct_cv_;        // ServeDirectCalls waits on it (queue_mu_)
  std::deque<std::pair<rpc::ConnectionPtr, rpc::Frame>> direct_queue_;  // GUARDED_BY(queue_mu_)
  bool direct_signalled_ = false;  // GUARDED_BY(queue_mu_): the eventfd is readable
  std::atomic<int64_t> normal_task_start_us_{0};  // steady clock; 0: no normal task running
  std::atomic<uint64_t> normal_task_seq_{0};      // counts normal tasks started
  std::unique_ptr<asio::steady_timer> return_timer_;
  bool return_timer_armed_ = false;  // event loop thread only
  std::string cancel_target_;            // GUARDED_BY(task_mu_): task to interrupt
  std::atomic<bool> shut_down_{false};
};

}  // namespace lumos::core
