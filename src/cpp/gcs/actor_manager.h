#pragma once
// GcsActorManager: the GCS's actor table, as a plain state machine with no I/O.
//
// An actor is created through the GCS: its owner registers the creation task,
// the I/O shell (GcsActorScheduler) leases a worker for it from a raylet and
// pushes the creation task there, and reports back what happened. The manager
// keeps each actor's ActorTableData, decides restarts and causes of death, and
// returns Actions for the shell to carry out:
//   kSchedule      find a node, lease a worker and run the creation task
//                  (`attempt` identifies this try; events about older tries
//                  are ignored, so the shell never has to cancel anything)
//   kReleaseLease  return `lease` to its raylet with disconnect_worker=true
//                  (the raylet kills the worker; harmless if already gone)
//   kPublish       send `data` to every endpoint in `endpoints`
//                  (one-way ACTOR_STATE_UPDATE frames)
//   kWatch         keep a fastpath connection to `endpoint` open; when it
//                  closes (or cannot be opened), call EndpointGone(endpoint)
//   kAdoptWorker   (after Restore) the actor is ALIVE on `lease`'s worker:
//                  connect to it and watch it as if the shell had created it;
//                  unreachable means WorkerDied
//
// Durability: with TrackChanges(true) every actor whose row changed (state,
// lease, subscribers) is remembered; TakeChanges() hands the rows to write
// (the shell writes them to GcsStorage), and Restore() rebuilds the table
// and its indexes from such rows when the GCS starts again.
//
// States: PENDING_CREATION -> ALIVE -> (RESTARTING -> ALIVE)* -> DEAD, where
// any state may go to DEAD. Every change bumps ActorTableData.version (the
// first version is 1) and is published to the actor's subscribers; the owner
// (TaskSpec.caller of the creation task) is subscribed at registration.
// death_cause says why an actor is DEAD or RESTARTING; while PENDING_CREATION
// or RESTARTING it may instead hold a scheduling warning (no node fits). It is
// cleared when the actor becomes ALIVE.
//
// Dead actors are kept for list_actors and for handles that look them up
// late, but not forever: beyond `max_dead_actors` (the knob
// maximum_gcs_destroyed_actor_cached_count, like Ray) the longest-dead actor
// is forgotten - its row is erased (and deleted from the store) and every
// index already dropped it when it died. Lookups then answer NotFound, which
// clients take as "dead" (a registered actor is only ever forgotten once
// DEAD). After Restore the restored dead actors count as older than any that
// die later; among themselves they go in the order the rows came (the time
// of death is not stored).
//
// Thread safety: none; the shell serializes every call with its own mutex.
// Ids: actors are keyed by their ActorID binary (TaskSpec.actor_creation.actor_id).
//
// What may fail: Register (InvalidArgument for a malformed creation task,
// AlreadyExists for a taken name), Kill / Subscribe / Get (NotFound for an
// unknown actor), GetNamed (NotFound). Every other event is a no-op when it
// does not apply (unknown actor, stale attempt, worker that hosts nothing).
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common.pb.h"
#include "gcs_service.pb.h"
#include "common/id.h"
#include "common/recent_set.h"
#include "common/status.h"

namespace lumos::gcs {

/// A worker lease held for an actor (from the raylet's RequestWorkerLease reply).
struct ActorLease {
  NodeID node_id;
  uint64_t lease_id = 0;
  rpc::Address worker_address;  // node_id, worker_id, endpoint of the leased worker
  WorkerID worker_id() const { return WorkerID::FromBinary(worker_address.worker_id()); }
};

struct ActorAction {
  enum Kind { kSchedule, kReleaseLease, kPublish, kWatch, kAdoptWorker };
  Kind kind;
  std::string actor_id;             // kSchedule, kReleaseLease, kPublish
  uint64_t attempt = 0;             // kSchedule
  rpc::TaskSpec creation_task;      // kSchedule
  ActorLease lease;                 // kReleaseLease, kAdoptWorker
  rpc::ActorTableData data;         // kPublish
  std::vector<std::string> endpoints;  // kPublish
  std::string endpoint;             // kWatch
};
using ActorActions = std::vector<ActorAction>;

class GcsActorManager {
 public:
  /// Keeps at most Config maximum_gcs_destroyed_actor_cached_count DEAD actors.
  GcsActorManager();
  /// Keeps at most `max_dead_actors` DEAD actors (0: none; negative counts as 0).
  explicit GcsActorManager(int64_t max_dead_actors);
  GcsActorManager(const GcsActorManager&) = delete;
  GcsActorManager& operator=(const GcsActorManager&) = delete;

  /// \brief Adds the actor in PENDING_CREATION and schedules it; subscribes
  /// (and watches) the owner's endpoint. AlreadyExists when a non-DEAD actor
  /// holds the (namespace, name): `*existing` is then that actor. Registering
  /// an actor id that is already known is OK and changes nothing (a retry).
  Status Register(const rpc::TaskSpec& creation_task, rpc::ActorTableData* existing,
                  ActorActions* actions);

  Result<rpc::ActorTableData> Get(const std::string& actor_id) const;
  /// \brief The non-DEAD actor with that name; NotFound names the name and namespace.
  Result<rpc::ActorTableData> GetNamed(const std::string& name, const std::string& ns) const;
  /// \brief Non-DEAD named actors of `ns` (or of all namespaces), by (namespace, name).
  std::vector<rpc::ActorTableData> ListNamed(const std::string& ns, bool all_namespaces) const;
  /// \brief Every actor's row, DEAD ones included, lent (state API queries
  /// copy only what they answer with); valid until the table next changes.
  std::vector<const rpc::ActorTableData*> AllRows() const;

  /// \brief Adds `endpoint` as a subscriber (no-op for a DEAD actor, which
  /// will not change again) and returns the current state in `*current`.
  Status Subscribe(const std::string& actor_id, const std::string& endpoint,
                   rpc::ActorTableData* current, ActorActions* actions);
  /// \brief The connection to `endpoint` closed: drops its subscriptions, and
  /// every owner reached at that endpoint is dead (OwnerDied).
  void EndpointGone(const std::string& endpoint, ActorActions* actions);
  /// \brief Every non-detached, non-DEAD actor owned by `owner` dies with
  /// cause "its owner (worker <hex>) died".
  void OwnerDied(const WorkerID& owner, ActorActions* actions);

  /// \brief True while `attempt` is the actor's current creation attempt and
  /// it has no lease yet (the shell drops stale pending work with this).
  bool WantsLease(const std::string& actor_id, uint64_t attempt) const;
  /// \brief The raylet granted a lease for `attempt`. Returns true when the
  /// shell should go on and push the creation task; otherwise the attempt is
  /// stale and a kReleaseLease for this lease is emitted.
  bool LeaseGranted(const std::string& actor_id, uint64_t attempt, const ActorLease& lease,
                    ActorActions* actions);
  /// \brief The creation task ran: ALIVE at the lease's worker address.
  void CreationSucceeded(const std::string& actor_id, uint64_t attempt, ActorActions* actions);
  /// \brief __init__ raised: DEAD (never restarted) with cause "the actor's
  /// __init__ raised: <message>", creation_error = the serialized error; the
  /// lease is released.
  void CreationFailed(const std::string& actor_id, uint64_t attempt,
                      const std::string& creation_error, const std::string& message,
                      ActorActions* actions);
  /// \brief The actor cannot be created at all (e.g. a raylet refused the
  /// lease as malformed): DEAD with `cause`.
  void SchedulingFailed(const std::string& actor_id, uint64_t attempt, const std::string& cause,
                        ActorActions* actions);
  /// \brief No node can fit the actor now: sets death_cause to `warning` while
  /// PENDING_CREATION / RESTARTING (published once per distinct warning).
  void SetSchedulingWarning(const std::string& actor_id, uint64_t attempt,
                            const std::string& warning, ActorActions* actions);

  /// \brief The worker hosting (or being leased for) an actor died: RESTARTING
  /// if restarts remain, else DEAD with cause "the actor's worker process died
  /// (<description>)". Returns false when the worker hosts no actor.
  bool WorkerDied(const WorkerID& worker, const std::string& description, ActorActions* actions);
  /// \brief DEAD with `reason` (default "killed by lumos.kill()"), or
  /// RESTARTING when !no_restart and restarts remain. Killing a DEAD actor is OK.
  Status Kill(const std::string& actor_id, bool no_restart, const std::string& reason,
              ActorActions* actions);
  /// \brief Actors with a lease on the node restart, or die with cause "its
  /// node died (<detail>)".
  void NodeDied(const NodeID& node, const std::string& detail, ActorActions* actions);
  /// \brief Placement group `pg_hex` was removed: every non-DEAD actor created
  /// in it (TaskSpec.placement_group_id) dies for good, detached or not, with
  /// cause "its placement group <hex> was removed" (its lease is released, so
  /// the raylet kills its worker); actors registered in it later die at once.
  void PlacementGroupRemoved(const std::string& pg_hex, ActorActions* actions);

  /// \brief True when `worker` hosts (or is being leased for) a non-DEAD actor.
  bool HasWorker(const WorkerID& worker) const { return by_worker_.count(worker) > 0; }
  /// \brief The lease the actor holds now, if any.
  std::optional<ActorLease> LeaseOf(const std::string& actor_id) const;
  size_t num_actors() const { return actors_.size(); }
  /// \brief DEAD actors still kept (never more than the cap).
  size_t num_dead_actors() const { return dead_order_.size(); }
  /// \brief Sizes of the per-actor indexes, summed (tests check eviction leaves none behind).
  size_t num_index_entries() const;

  /// \brief Remember the actors whose stored row changed (off by default).
  void TrackChanges(bool on) { track_changes_ = on; }
  /// \brief The rows changed since the last call, by actor id, and forgets
  /// them; a row without a value was forgotten (evicted): delete it.
  std::vector<std::pair<std::string, std::optional<rpc::StoredActor>>> TakeChanges();
  /// \brief Rebuilds the table from stored rows (REQUIRES: an empty table).
  /// ALIVE actors are adopted (kAdoptWorker), PENDING_CREATION / RESTARTING
  /// ones scheduled again (a lease they held is released: its creation task
  /// may not have run), DEAD ones kept for the record; every subscriber and
  /// owner endpoint is watched again (an owner gone meanwhile kills its
  /// non-detached actors, as it would have).
  void Restore(const std::vector<rpc::StoredActor>& rows, ActorActions* actions);
  size_t num_subscriptions(const std::string& endpoint) const;

 private:
  // A DEAD actor may be kept for a long time (up to the cap: 100,000 by
  // default), so what only a live one needs is not inline: the creation task
  // (a TaskSpec object is ~460 B even when empty) is null once DEAD.
  struct Entry {
    rpc::ActorTableData data;
    std::unique_ptr<rpc::TaskSpec> creation_task;  // null once DEAD
    uint64_t attempt = 0;  // current creation attempt; 0 = none in flight
    std::optional<ActorLease> lease;
    std::set<std::string> subscribers;  // endpoints
  };

  Entry* Find(const std::string& actor_id);
  const Entry* Find(const std::string& actor_id) const;
  // Bumps the version and publishes to the subscribers.
  void Publish(const std::string& actor_id, Entry* e, ActorActions* actions);
  // Starts a new creation attempt (the state is set by the caller).
  void Schedule(const std::string& actor_id, Entry* e, ActorActions* actions);
  // Releases and forgets the lease, if any.
  void DropLease(const std::string& actor_id, Entry* e, ActorActions* actions);
  // RESTARTING if restarts remain (and `may_restart`), else DEAD; then publishes.
  void Fail(const std::string& actor_id, Entry* e, const std::string& cause, bool may_restart,
            ActorActions* actions);
  void MarkDead(const std::string& actor_id, Entry* e, const std::string& cause,
                ActorActions* actions);
  // Remembers a newly DEAD actor and forgets the longest-dead beyond the cap.
  void KeepDead(const std::string& actor_id);
  // Forgets the longest-dead actors beyond the cap.
  void TrimDead();
  static bool RestartsLeft(const rpc::ActorTableData& d);
  void Touch(const std::string& actor_id) {
    if (track_changes_) changed_.insert(actor_id);
  }

  bool track_changes_ = false;
  std::set<std::string> changed_;  // actor ids whose row changed

  uint64_t next_attempt_ = 0;
  size_t max_dead_actors_;
  std::unordered_map<std::string, Entry> actors_;
  std::deque<std::string> dead_order_;  // DEAD actors kept, longest-dead first
  std::map<std::pair<std::string, std::string>, std::string> named_;  // (ns, name) -> actor
  std::unordered_map<WorkerID, std::set<std::string>> by_owner_;     // non-DEAD actors
  std::unordered_map<std::string, std::set<WorkerID>> owners_at_;    // endpoint -> owners
  std::unordered_map<WorkerID, std::string> by_worker_;              // leased worker -> actor
  std::unordered_map<NodeID, std::set<std::string>> by_node_;        // lease's node -> actors
  std::unordered_map<std::string, std::set<std::string>> subs_of_;   // endpoint -> actors
  std::unordered_map<std::string, std::set<std::string>> by_group_;  // pg hex -> non-DEAD actors
  RecentSet removed_groups_{16384};                                  // pg hex, the latest removals
};

}  // namespace lumos::gcs
