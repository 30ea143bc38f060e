#pragma once
// GcsClient: synchronous C++ client of the GCS's gRPC services, used by the
// raylet and the core worker.
//
// Thread safety: every method may be called from any thread concurrently (the
// gRPC channel and stubs are thread safe; the client keeps no other mutable
// state). Each call blocks for at most Config::Get().gcs_rpc_timeout_ms().
//
// A GCS that cannot be reached (restarting) is waited for, up to
// Config::Get().gcs_reconnect_timeout_s() per call, except by the calls made
// on the way out (UnregisterNode, MarkJobFinished, ReportWorkerFailure,
// AddTaskEvents), which fail at once.
//
// Errors: a GCS that cannot be reached gives Disconnected naming the address;
// a call past its deadline gives TimedOut; a GCS that refuses a request
// returns the GcsStatus it sent (e.g. AlreadyExists, NotFound) as a Status.
// Outputs are written only when the returned Status is OK.
//
// gRPC headers stay out of this file (pimpl): many files include it. The
// protobuf messages (rpc::NodeInfo, rpc::JobInfo) come with it.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/id.h"
#include "common/status.h"
#include "gcs_service.pb.h"

namespace lumos::rpc {

class GcsClient {
 public:
  /// \brief Prepares a channel to `address` ("host:port"); no I/O happens yet.
  explicit GcsClient(std::string address);
  ~GcsClient();
  GcsClient(const GcsClient&) = delete;
  GcsClient& operator=(const GcsClient&) = delete;

  /// \brief Retries CheckAlive until the GCS answers or `timeout_ms` passes.
  /// The error names the address and the timeout.
  Status Connect(int64_t timeout_ms);

  const std::string& address() const { return address_; }

  /// \brief Calls stop waiting for an unreachable GCS (within ~0.5 s) and
  /// fail instead; for a process on its way out. Thread safe.
  void CancelWaits();

  // Node table.
  Status RegisterNode(const NodeInfo& node);
  Status UnregisterNode(const NodeID& node_id, const std::string& reason);
  Status GetAllNodeInfo(std::vector<NodeInfo>* nodes);
  /// \brief Heartbeat + available resources. `*node_is_dead` is true when the
  /// GCS has declared this node dead (the raylet should exit).
  /// `total` (optional): the node's totals when they changed.
  /// `*drain_deadline_ms` (optional): -1 unless the node is to drain; then
  /// the deadline in ms since the epoch (0 = none).
  Status ReportResources(const NodeID& node_id, const std::map<std::string, double>& available,
                         bool* node_is_dead,
                         const std::map<std::string, double>* total = nullptr,
                         const std::vector<std::string>* infeasible_demands = nullptr,
                         int64_t* drain_deadline_ms = nullptr);

  // Job table.
  Status GetNextJobId(JobID* job_id);
  Status AddJob(const JobInfo& job);
  Status MarkJobFinished(const JobID& job_id);
  Status GetAllJobInfo(std::vector<JobInfo>* jobs);

  // Internal KV. A missing key is not an error: see `found` / `exists`.
  Status KVGet(const std::string& ns, const std::string& key, std::string* value, bool* found);
  Status KVPut(const std::string& ns, const std::string& key, const std::string& value,
               bool overwrite, bool* added);
  Status KVDel(const std::string& ns, const std::string& key, bool by_prefix, int64_t* deleted);
  Status KVExists(const std::string& ns, const std::string& key, bool* exists);
  Status KVKeys(const std::string& ns, const std::string& prefix, std::vector<std::string>* keys);

  // Actor table. Actor, worker and node ids are binary strings (ActorID,
  // WorkerID, NodeID bytes).
  /// \brief Registers the actor its creation task describes; the GCS creates
  /// it asynchronously (watch it with SubscribeActor). AlreadyExists when the
  /// (namespace, name) is taken by a live actor: then `*existing_if_taken`
  /// (if not null) is that actor, even though the Status is not OK.
  /// Registering the same actor id again is OK (idempotent retry).
  Status RegisterActor(const TaskSpec& creation_task, ActorTableData* existing_if_taken);
  /// \brief The actor's current entry (DEAD actors stay). NotFound if unknown.
  Status GetActorInfo(const std::string& actor_id, ActorTableData* actor);
  /// \brief The live (not DEAD) actor named `name` in namespace `ns`, or NotFound.
  Status GetNamedActorInfo(const std::string& name, const std::string& ns, ActorTableData* actor);
  /// \brief Live named actors of `ns`, or of every namespace.
  Status ListNamedActors(const std::string& ns, bool all_namespaces,
                         std::vector<ActorTableData>* actors);
  /// \brief Kills the actor (restarts it instead when !no_restart and restarts
  /// remain). `reason` becomes the death cause. Killing a dead actor is OK.
  Status KillActor(const std::string& actor_id, bool no_restart, const std::string& reason);
  /// \brief From now on `subscriber.endpoint` receives one-way ACTOR_STATE_UPDATE
  /// frames (payload ActorTableData) for the actor; `*current` is its state now.
  Status SubscribeActor(const std::string& actor_id, const Address& subscriber,
                        ActorTableData* current);
  /// \brief Raylet -> GCS: a worker process exited; `description` says how.
  Status ReportWorkerFailure(const std::string& worker_id, const std::string& node_id,
                             const std::string& description);

  // Placement groups (ids are 32 hex characters).
  /// \brief Registers the group; the GCS reserves it asynchronously.
  /// AlreadyExists when the name is taken in the namespace.
  Status CreatePlacementGroup(const PlacementGroupTableData& pg);
  /// \brief Registers every group (non-empty) in one call; the first error, after trying all.
  Status CreatePlacementGroups(const std::vector<PlacementGroupTableData>& pgs);
  /// \brief Removes every group in one call; the first error, after trying all.
  Status RemovePlacementGroups(const std::vector<std::string>& pg_ids);
  /// \brief Returns its bundles' resources. NotFound if unknown; twice is OK.
  Status RemovePlacementGroup(const std::string& pg_id);
  /// \brief By id, or (pg_id empty) by name in namespace `ns`. NotFound if unknown.
  Status GetPlacementGroup(const std::string& pg_id, const std::string& name,
                           const std::string& ns, PlacementGroupTableData* pg);
  Status GetAllPlacementGroup(std::vector<PlacementGroupTableData>* pgs);
  /// \brief Waits up to `timeout_ms` (at most 10 s per call) for the group to
  /// be created. Invalid if it was removed.
  Status WaitPlacementGroupUntilReady(const std::string& pg_id, int64_t timeout_ms, bool* ready);
  /// \brief Same, and fills `ready_ids` with those of `also_report` that
  /// were created when the GCS answered (they are not waited for).
  Status WaitPlacementGroupUntilReady(const std::string& pg_id, int64_t timeout_ms,
                                      const std::vector<std::string>& also_report, bool* ready,
                                      std::vector<std::string>* ready_ids);

  // Task events (gcs/task_event_manager.h).
  /// \brief Core worker -> GCS: one batch of task state transitions, within
  /// `timeout_ms` (0: gcs_rpc_timeout_ms).
  Status AddTaskEvents(const AddTaskEventsRequest& events, int64_t timeout_ms = 0);
  /// \brief The task attempts matching the request's filters (InvalidArgument
  /// naming the valid keys for an unknown one).
  Status GetTaskEvents(const GetTaskEventsRequest& request, GetTaskEventsReply* reply);

 private:
  struct Impl;
  const std::string address_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lumos::rpc
