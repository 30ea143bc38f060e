#pragma once
// ActorTaskSubmitter: the caller's side of actor method calls.
//
// Per actor it keeps the GCS's latest ActorTableData (pushed to us as
// ACTOR_STATE_UPDATE), a queue of calls ordered by the sequence number they
// got at .remote() time, and the calls in flight. Calls are pushed straight to
// the actor's core worker, in sequence order, once their arguments are
// resolved and the actor is ALIVE. When the actor restarts, calls that were in
// flight are re-sent if they have retries left (max_task_retries), else they
// fail as unavailable (kMetaActorUnavailable); when it is DEAD every pending and later call fails with the cause.
// A call whose reply is a retryable application exception (retry_exceptions)
// is sent again while it has retries left; one count (the method's or call's
// max_task_retries, else the actor's) covers both kinds of retry.
//
// Thread safety: thread safe. Completions run on the event loop thread.
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common.pb.h"
#include "core_worker.pb.h"
#include "core_worker/connection_pool.h"
#include "core_worker/task_manager.h"

namespace lumos::core {

class ActorTaskSubmitter {
 public:
  /// \param on_out_of_scope called (off the loop thread) when an actor whose
  /// handles are gone has no pending calls left: the owner then kills it.
  ActorTaskSubmitter(ConnectionPool* pool, TaskManager* tasks,
                     std::function<void(const std::string& actor_id)> on_out_of_scope)
      : pool_(pool), tasks_(tasks), on_out_of_scope_(std::move(on_out_of_scope)) {}

  /// \brief Registers a known actor (idempotent). Returns true the first time.
  /// The largest max_task_retries of all handles is kept; -1 (no limit) wins.
  bool AddActor(const std::string& actor_id, int max_task_retries);
  /// \brief True when `task` is an actor call still queued or in flight here.
  bool IsActorCall(const TaskID& task) const;
  /// \brief Queues a call (unresolved); returns its sequence number.
  uint64_t Enqueue(const std::string& actor_id, const rpc::TaskSpec& spec);
  /// \brief The call's arguments are ready: it may be sent.
  void Resolved(const std::string& actor_id, uint64_t seq, rpc::TaskSpec spec);
  /// \brief Enqueue and Resolved at once, for a call with nothing to resolve
  /// (the common case: one lock, and no state step that is at once overtaken).
  void SubmitResolved(const std::string& actor_id, rpc::TaskSpec spec);
  void OnActorUpdate(const rpc::ActorTableData& data);
  /// \brief This process killed the actor (no restart): fail its calls now
  /// rather than racing the GCS's DEAD update.
  void MarkKilled(const std::string& actor_id, const std::string& reason);
  /// \brief Removes a call that has not been sent; `is_actor_call` tells whether
  /// the task is an actor call of ours at all.
  bool CancelQueued(const TaskID& task, bool* is_actor_call);
  /// \brief Asks the actor to cancel a call it is running (async actors).
  void CancelRunning(const TaskID& task, bool recursive);
  /// \brief This process killed the actor allowing a restart: stop sending to
  /// the old incarnation now; calls wait for the restarted one.
  void MarkRestarting(const std::string& actor_id, const std::string& reason);
  /// \brief Queued + in-flight calls of this caller to the actor.
  int64_t NumPending(const std::string& actor_id) const;
  /// \brief The owner's handles are all gone: kill once pending calls finish.
  void MarkOutOfScope(const std::string& actor_id);
  /// \brief Current state (PENDING_CREATION if unknown) and death cause.
  rpc::ActorTableData::ActorState State(const std::string& actor_id, std::string* cause) const;

 private:
  struct Call {
    TaskID task;
    rpc::TaskSpec spec;  // empty until resolved
    bool resolved = false;
    int retries_left = 0;
  };
  struct Actor {
    rpc::ActorTableData data;  // latest state from the GCS
    bool known = false;        // at least one update received
    rpc::ConnectionPtr conn;
    int64_t conn_incarnation = -1;
    uint64_t next_seq = 0;
    int max_task_retries = 0;
    std::map<uint64_t, Call> queue;      // not sent yet, by sequence number
    std::map<uint64_t, Call> in_flight;  // sent to conn_incarnation
    bool out_of_scope = false;
    bool kill_requested = false;
  };

  /// \brief Applies a state; `local` updates skip the version check.
  void Apply(const rpc::ActorTableData& data, bool local);
  // REQUIRES: mu_ held.
  void SendLocked(const std::string& actor_id, Actor& a);
  /// \brief A new call's sequence number, or a failure to report (the actor
  /// is DEAD: `*dead` is filled and the call is not queued).
  uint64_t AdmitLocked(Actor& a, const rpc::TaskSpec& spec, bool* queued, rpc::ActorTableData* dead);
  void FailDead(const TaskID& task, const rpc::ActorTableData& dead);
  /// \brief A reply whose application exception the call asked to retry
  /// (retry_exceptions) while it has retries left: the call goes back to the
  /// queue (the caller then sends it) and true is returned.
  bool RetryOnExceptionLocked(Actor& a, std::map<uint64_t, Call>::iterator f, const rpc::PushTaskReply& reply,
                              const TaskID& task);
  void FailLocked(Actor& a, std::vector<std::pair<TaskID, std::string>>* failed, const std::string& why);
  void MaybeOutOfScopeLocked(const std::string& actor_id, Actor& a, bool* kill);
  void OnReply(const std::string& actor_id, uint64_t seq, int64_t incarnation, const Status& s,
               const rpc::Frame& frame);

  ConnectionPool* pool_;
  TaskManager* tasks_;
  std::function<void(const std::string&)> on_out_of_scope_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Actor> actors_;
};

/// \brief Error metadata for a call to a dead actor (ActorDiedError with a message).
inline constexpr const char* kMetaActorDied = "EA";
/// \brief Error metadata whose data is the pickled error __init__ raised.
inline constexpr const char* kMetaActorInitFailed = "EAI";
/// \brief Error metadata for a call that was running when its actor's process
/// died and the actor is restarting (ActorUnavailableError, as in Ray: the
/// actor may come back; the call may or may not have run).
inline constexpr const char* kMetaActorUnavailable = "EAU";

}  // namespace lumos::core
