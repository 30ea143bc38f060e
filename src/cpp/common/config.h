#pragma once
// Every tunable knob of lumos, in one table. Each knob NAME can be overridden by
// the environment variable LUMOS_<NAME> (upper case) or, from Python, by
// lumos.init(_system_config={"name": value}) which sets those variables for the
// processes it starts. Read once per process; thread safe after Load().
#include <cstdint>
#include <string>

namespace lumos {

// X(type, name, default, description)
#define LUMOS_CONFIG_TABLE(X)                                                                   \
  X(int64_t, max_direct_call_object_size, 100 * 1024,                                          \
    "Objects up to this many bytes stay in the owner's memory store and travel inline.")      \
  X(int64_t, max_frame_bytes, 1024LL * 1024 * 1024, "Largest fastpath frame accepted.")        \
  X(int64_t, spin_wait_us, 0, "How long hot-path waits spin before they sleep (0: measured fastest on 2 vCPUs).")             \
  X(int64_t, max_tasks_in_flight_per_worker, 8,                                                \
    "Tasks an owner pipelines to a leased worker at once (tasks without retries: 1).")        \
  X(int64_t, idle_lease_hold_us, 2000,                                                         \
    "An owner keeps a worker lease this long after its class's queue empties, so a task "      \
    "submitted right after the last one finished (a get/submit loop) skips the raylet.")      \
  X(int64_t, queued_task_return_ms, 5,                                                         \
    "A worker returns the tasks queued behind one that has run this long, so other workers "  \
    "run them; their scheduling class is then pushed one task at a time.")                   \
  X(int64_t, max_pending_lease_requests, 10, "Lease requests in flight per scheduling class.") \
  X(int64_t, worker_register_timeout_ms, 30000, "A started worker must register within this.") \
  X(int64_t, runtime_env_setup_timeout_ms, 600000,                                              \
    "A worker started for a runtime_env (pip install) must register within this.")           \
  X(int64_t, idle_worker_killing_time_ms, 1000,                                                \
    "Idle workers beyond the soft limit (num_cpus) exit after this long.")                     \
  X(int64_t, maximum_startup_concurrency, 0, "Workers starting at once (0 = num_cpus).")       \
  X(int64_t, resource_report_period_ms, 250, "How often a raylet reports resources to the GCS.") \
  X(int64_t, node_death_timeout_ms, 3000,                                                     \
    "The GCS marks a node dead after this long without a report (the health-check budget: "   \
    "raylets report every resource_report_period_ms from a thread of their own).")            \
  X(int64_t, gcs_rpc_timeout_ms, 10000, "Deadline of a GCS gRPC call.")                        \
  X(int64_t, gcs_reconnect_timeout_s, 60,                                                        \
    "How long GCS calls (and raylets) wait for an unreachable GCS to come back before failing "  \
    "(a raylet then exits).")                                                                    \
  X(int64_t, actor_worker_failure_wait_ms, 500,                                                \
    "After an actor's worker hangs up, how long the GCS waits for the raylet's exit report.") \
  X(int64_t, gcs_connect_timeout_ms, 10000, "How long a client waits for the GCS to answer.")  \
  X(int64_t, raylet_connect_timeout_ms, 10000, "How long a core worker waits for its raylet.") \
  X(int64_t, auth_timeout_ms, 10000,                                                           \
    "A TCP fastpath peer that has not sent AUTHENTICATE within this is dropped (a silent "    \
    "client must not hold a descriptor forever).")                                             \
  X(int64_t, object_store_memory, 0, "Bytes of the node's shared-memory arena (0 = auto).") \
  X(int64_t, object_spilling_enabled, 1,                                                       \
    "1: a full object store spills objects to disk (and keeps objects bigger than it in "      \
    "files); 0: a put that does not fit raises ObjectStoreFullError.")                           \
  X(int64_t, object_spilling_fsync, 0,                                                         \
    "1: each spill file is fdatasynced before its object counts as spilled (slower; spilling " \
    "is not durability, so off by default).")                                                   \
  X(int64_t, object_spilling_batch_object_bytes, 1 << 20,                                      \
    "Objects smaller than this are spilled together, several to a file (0: one file each).")  \
  X(int64_t, object_spilling_batch_bytes, 16 << 20, "Largest batch spill file.")               \
  X(int64_t, max_fused_object_count, 2000, "Most objects in one batch spill file (Ray's name).") \
  X(int64_t, task_state_history_size, 10000, "Finished task attempts an owner remembers for list_tasks().") \
  X(int64_t, task_events_enabled, 1,                                                          \
    "1: core workers report task state transitions to the GCS (list_tasks, lumos timeline); "  \
    "0: they report nothing.")                                                                 \
  X(int64_t, task_events_report_interval_ms, 100, "How often a core worker sends its task events.") \
  X(int64_t, task_events_max_buffer_size, 100000,                                              \
    "Task events a core worker holds while the GCS cannot take them (older ones are dropped).") \
  X(int64_t, task_events_max_num_task_in_gcs, 100000,                                          \
    "Task attempts the GCS keeps (the oldest finished ones go first).")                        \
  X(int64_t, maximum_gcs_destroyed_actor_cached_count, 100000,                                 \
    "DEAD actors the GCS keeps, in memory and in its store (Ray's name and default); beyond "  \
    "it the longest-dead go first. A handle to a forgotten actor still fails calls with "      \
    "ActorDiedError.")                                                                          \
  X(int64_t, fail_on_infeasible, 0,                                                            \
    "1: a task no node can ever fit fails at once (get raises) instead of staying pending.")

class Config {
 public:
  /// \brief The process-wide configuration (loads the environment on first use).
  static Config& Get();
#define LUMOS_CONFIG_GETTER(type, name, def, doc) \
  type name() const { return name##_; }           \
  void set_##name(type v) { name##_ = v; }
  LUMOS_CONFIG_TABLE(LUMOS_CONFIG_GETTER)
#undef LUMOS_CONFIG_GETTER

  /// \brief Sets a knob by name from its string form; false if the name is unknown
  /// or the value does not parse.
  bool Set(const std::string& name, const std::string& value);
  /// \brief "name=value" lines of every knob, for logs and `lumos status -v`.
  std::string Dump() const;

 private:
  Config();
#define LUMOS_CONFIG_FIELD(type, name, def, doc) type name##_ = def;
  LUMOS_CONFIG_TABLE(LUMOS_CONFIG_FIELD)
#undef LUMOS_CONFIG_FIELD
};

}  // namespace lumos
