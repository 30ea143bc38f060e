#pragma once
// TaskEventBuffer: a core worker's outbox of task events for the GCS
// (gcs/task_event_manager.h). Owners record their tasks' state changes (with
// the task's description at the first state of an attempt); executors record
// when a task's code starts (RUNNING) and put its start and end times in the
// reply, which the owner reports with the attempt's end. A background thread
// sends what accumulated every task_events_report_interval_ms as one
// AddTaskEvents call, one message per attempt. An executor's RUNNING that is
// still unsent when the task ends is dropped (the owner's report has it), so
// a short task costs the executor no message at all.
//
// Cost on the hot path: one mutex, one clock read and one vector append per
// event; the protobuf work and the gRPC call happen on the flush thread
// (started at the first event). At most task_events_max_buffer_size events
// wait; more are dropped and counted (the GCS reports the count), as are
// batches the GCS could not take.
//
// Executors also record profile spans (lumos.util.profiling.profile inside a
// task): each is an event of the running attempt, sent in the same batches
// with this process's identity; a task that records none costs nothing more.
//
// Disabled (task_events_enabled=0, or no sender): every Record* returns at once.
//
// Thread safety: thread safe. Stop() flushes once more and joins the thread;
// after it, events are ignored.
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/id.h"
#include "common/status.h"
#include "core_worker.pb.h"
#include "gcs_service.pb.h"

namespace lumos::core {

class TaskEventBuffer {
 public:
  /// Sends one batch (the GCS client's AddTaskEvents); may block.
  using Sender = std::function<Status(const rpc::AddTaskEventsRequest&, int64_t timeout_ms)>;
  /// `sender` null: disabled. `node_id`/`worker_id` (binary) and `pid` identify
  /// this process in executor events.
  TaskEventBuffer(Sender sender, std::string node_id, std::string worker_id, int32_t pid);
  ~TaskEventBuffer();
  TaskEventBuffer(const TaskEventBuffer&) = delete;
  TaskEventBuffer& operator=(const TaskEventBuffer&) = delete;

  bool enabled() const { return enabled_; }
  /// \brief Owner: the attempt entered `state`; `spec` (optional) describes the
  /// task and is sent with the first state of an attempt.
  /// `executed` (optional): the executor's reply, whose start/end times and
  /// identity are reported with this state (RUNNING at its start time).
  void RecordState(const TaskID& task, int32_t attempt, rpc::TaskStatus state, const rpc::TaskSpec* spec = nullptr,
                   const std::string& error_type = "", const std::string& error_message = "",
                   const rpc::PushTaskReply* executed = nullptr);
  /// \brief Executor: the task's code starts now (RUNNING). Returns the time
  /// (µs since the epoch; 0 when disabled) for RecordExecutionEnd.
  int64_t RecordExecutionStart(const rpc::TaskSpec& spec);
  /// \brief Executor: the task's code ended now; writes the times and this
  /// process's identity into `reply` for the owner. An actor creation task
  /// (whose owner, the GCS, reports nothing) is reported from here instead.
  void RecordExecutionEnd(const rpc::TaskSpec& spec, int64_t start_us, rpc::PushTaskReply* reply);
  /// \brief Executor: code of attempt `attempt` of `task` (running here)
  /// recorded a span from `start_us` to `end_us` (µs since the epoch);
  /// `extra_json` is a JSON object of strings, or empty.
  void RecordProfileEvent(const TaskID& task, int32_t attempt, std::string name, int64_t start_us, int64_t end_us,
                          std::string extra_json);
  /// \brief Sends what is buffered now (blocking up to `timeout_ms`); used by Stop and tests.
  void Flush(int64_t timeout_ms = kPeriodicTimeoutMs);
  /// A batch waits this long for the GCS; the last one (at exit) less, so a
  /// process whose GCS is gone still exits promptly.
  static constexpr int64_t kPeriodicTimeoutMs = 2000, kFinalTimeoutMs = 500;
  /// \brief Final flush, then the thread ends. Idempotent.
  void Stop();
  /// \brief Events dropped so far (buffer full or a failed send).
  int64_t num_dropped() const;

  /// \brief The description the GCS keeps of a task (name, function, type, ...).
  static void DescribeTask(const rpc::TaskSpec& spec, rpc::TaskInfo* info);
  /// \brief DescribeTask, reusing this thread's previous description when
  /// every described field is the same (immutable once shared).
  static std::shared_ptr<rpc::TaskInfo> SharedDescription(const rpc::TaskSpec& spec);

 private:
  enum class Kind : uint8_t { kState, kStart, kEnd, kDropped, kProfile };
  struct Executed {  // from the executor's reply
    int64_t start_us = 0, end_us = 0;
    int32_t pid = 0;
    NodeID node;
    WorkerID worker;
  };
  struct Event {
    TaskID task;
    int32_t attempt;
    Kind kind;
    rpc::TaskStatus state;
    int64_t time_us;
    std::shared_ptr<rpc::TaskInfo> info;
    std::string error_type;
    std::string error_message;
    std::unique_ptr<Executed> executed;
    std::unique_ptr<rpc::ProfileEvent> span;  // kProfile
  };
  void Push(Event ev);
  void Run();
  static int64_t NowUs();

  const Sender sender_;
  const bool enabled_;
  const std::string node_id_, worker_id_;
  const int32_t pid_;
  const size_t max_events_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;      // GUARDED_BY(mu_)
  int64_t dropped_ = 0;            // GUARDED_BY(mu_): not yet reported
  int64_t dropped_total_ = 0;      // GUARDED_BY(mu_)
  bool stopping_ = false;          // GUARDED_BY(mu_)
  bool started_ = false;           // GUARDED_BY(mu_)
  std::thread thread_;
  std::mutex send_mu_;             // one batch on the wire at a time
};

}  // namespace lumos::core
