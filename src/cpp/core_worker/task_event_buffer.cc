#include "core_worker/task_event_buffer.h"

#include <chrono>
#include <unordered_map>

#include "common/config.h"
#include "common/string_util.h"
#include "common/logging.h"

namespace lumos::core {

namespace {
std::string TaskTypeOf(const rpc::TaskSpec& spec) {
  if (spec.has_actor_creation()) return "ACTOR_CREATION_TASK";
  if (spec.has_actor_task()) return "ACTOR_TASK";
  return "NORMAL_TASK";
}

}  // namespace

TaskEventBuffer::TaskEventBuffer(Sender sender, std::string node_id, std::string worker_id, int32_t pid)
    : sender_(std::move(sender)),
      enabled_(sender_ != nullptr && Config::Get().task_events_enabled() != 0),
      node_id_(std::move(node_id)),
      worker_id_(std::move(worker_id)),
      pid_(pid),
      max_events_(static_cast<size_t>(std::max<int64_t>(1, Config::Get().task_events_max_buffer_size()))) {}

TaskEventBuffer::~TaskEventBuffer() { Stop(); }

int64_t TaskEventBuffer::NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void TaskEventBuffer::DescribeTask(const rpc::TaskSpec& spec, rpc::TaskInfo* info) {
  info->set_name(spec.name());
  info->set_func_or_class_name(spec.function().function_name());
  info->set_job_id(spec.job_id());
  info->set_type(TaskTypeOf(spec));
  if (spec.has_actor_creation()) info->set_actor_id(spec.actor_creation().actor_id());
  if (spec.has_actor_task()) info->set_actor_id(spec.actor_task().actor_id());
  info->set_parent_task_id(spec.parent_task_id());
  info->mutable_required_resources()->insert(spec.required_resources().begin(), spec.required_resources().end());
  if (!spec.placement_group_id().empty()) info->set_placement_group_id(HexOfBytes(spec.placement_group_id()));
}

std::shared_ptr<rpc::TaskInfo> TaskEventBuffer::SharedDescription(const rpc::TaskSpec& spec) {
  // Consecutive tasks submitted by one thread usually share every described
  // field (an actor's calls, a loop over one function): they share one
  // immutable description instead of building a proto per task.
  thread_local std::shared_ptr<rpc::TaskInfo> last;
  const std::string& actor = spec.has_actor_task() ? spec.actor_task().actor_id()
                             : spec.has_actor_creation() ? spec.actor_creation().actor_id()
                                                          : spec.job_id();  // any non-actor marker
  if (last && last->name() == spec.name() && last->func_or_class_name() == spec.function().function_name() &&
      last->job_id() == spec.job_id() && last->parent_task_id() == spec.parent_task_id() &&
      last->type() == TaskTypeOf(spec) && (last->actor_id().empty() ? actor == spec.job_id() : last->actor_id() == actor) &&
      spec.placement_group_id().empty() && last->placement_group_id().empty() &&
      static_cast<size_t>(last->required_resources().size()) == static_cast<size_t>(spec.required_resources().size())) {
    bool same = true;
    for (const auto& [k, v] : spec.required_resources()) {
      auto it = last->required_resources().find(k);
      if (it == last->required_resources().end() || it->second != v) {
        same = false;
        break;
      }
    }
    if (same) return last;
  }
  auto info = std::make_shared<rpc::TaskInfo>();
  DescribeTask(spec, info.get());
  last = info;
  return info;
}

void TaskEventBuffer::RecordState(const TaskID& task, int32_t attempt, rpc::TaskStatus state,
                                  const rpc::TaskSpec* spec, const std::string& error_type,
                                  const std::string& error_message, const rpc::PushTaskReply* executed) {
  if (!enabled_) return;
  Event ev{task, attempt, Kind::kState, state, NowUs(), nullptr, error_type, error_message, nullptr};
  if (spec != nullptr) ev.info = SharedDescription(*spec);
  if (executed != nullptr && executed->exec_start_time_us() != 0) {
    ev.executed = std::make_unique<Executed>();
    ev.executed->start_us = executed->exec_start_time_us();
    ev.executed->end_us = executed->exec_end_time_us();
    ev.executed->pid = executed->executor_pid();
    if (executed->executor_node_id().size() == NodeID::kSize) {
      ev.executed->node = NodeID::FromBinary(executed->executor_node_id());
    }
    if (executed->executor_worker_id().size() == WorkerID::kSize) {
      ev.executed->worker = WorkerID::FromBinary(executed->executor_worker_id());
    }
  }
  Push(std::move(ev));
}

int64_t TaskEventBuffer::RecordExecutionStart(const rpc::TaskSpec& spec) {
  if (!enabled_) return 0;
  Event ev{TaskID::FromBinary(spec.task_id()), spec.attempt_number(), Kind::kStart, rpc::RUNNING, NowUs(),
           nullptr, "", "", nullptr};
  if (spec.has_actor_creation()) {  // its owner is the GCS, which reports nothing
    ev.info = std::make_shared<rpc::TaskInfo>();
    DescribeTask(spec, ev.info.get());
  }
  int64_t start = ev.time_us;
  Push(std::move(ev));
  return start;
}

void TaskEventBuffer::RecordExecutionEnd(const rpc::TaskSpec& spec, int64_t start_us, rpc::PushTaskReply* reply) {
  if (!enabled_ || start_us == 0) return;
  int64_t now = NowUs();
  reply->set_exec_start_time_us(start_us);
  reply->set_exec_end_time_us(now);
  reply->set_executor_pid(pid_);
  reply->set_executor_node_id(node_id_);
  reply->set_executor_worker_id(worker_id_);
  TaskID task = TaskID::FromBinary(spec.task_id());
  if (spec.has_actor_creation()) {  // no owner reports it
    Push(Event{task, spec.attempt_number(), Kind::kEnd, rpc::FINISHED, now, nullptr, "", "", nullptr});
    return;
  }
  // The owner reports start and end: an unsent RUNNING of ours is redundant.
  std::lock_guard<std::mutex> lock(mu_);
  size_t scanned = 0;
  for (auto it = events_.rbegin(); it != events_.rend() && scanned < 64; ++it, ++scanned) {
    if (it->kind == Kind::kStart && it->task == task && it->attempt == spec.attempt_number()) {
      it->kind = Kind::kDropped;
      break;
    }
  }
}

void TaskEventBuffer::RecordProfileEvent(const TaskID& task, int32_t attempt, std::string name, int64_t start_us,
                                         int64_t end_us, std::string extra_json) {
  if (!enabled_) return;
  Event ev{task, attempt, Kind::kProfile, rpc::TASK_STATUS_NIL, start_us, nullptr, "", "", nullptr};
  ev.span = std::make_unique<rpc::ProfileEvent>();
  ev.span->set_event_name(std::move(name));
  ev.span->set_start_time_us(start_us);
  ev.span->set_end_time_us(end_us);
  ev.span->set_extra_data(std::move(extra_json));
  Push(std::move(ev));
}

void TaskEventBuffer::Push(Event ev) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    if (events_.size() >= max_events_) {
      dropped_++;
      dropped_total_++;
      return;
    }
    events_.push_back(std::move(ev));
    if (!started_) {
      started_ = true;
      thread_ = std::thread([this] { Run(); });  // Run waits for mu_
    }
  }
}

void TaskEventBuffer::Run() {
  const auto period = std::chrono::milliseconds(std::max<int64_t>(1, Config::Get().task_events_report_interval_ms()));
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, period, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    Flush(kPeriodicTimeoutMs);
    lock.lock();
  }
}

void TaskEventBuffer::Flush(int64_t timeout_ms) {
  std::lock_guard<std::mutex> send_lock(send_mu_);
  std::vector<Event> batch;
  int64_t dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(events_);
    events_.reserve(batch.size());  // the next batch is likely as big: no regrowth on the hot path
    dropped = dropped_;
    dropped_ = 0;
  }
  if (batch.empty() && dropped == 0) return;
  rpc::AddTaskEventsRequest req;
  req.set_num_dropped_at_source(dropped);
  // One message per attempt: task -> index in req.events of its latest
  // attempt's message (a process records an attempt's events in order, and a
  // retry's after the failed attempt's).
  std::unordered_map<TaskID, int> index;
  index.reserve(batch.size());
  // Each shared description once per batch (req.descriptions), by pointer:
  // SharedDescription hands every task of one kind the same TaskInfo.
  std::unordered_map<const rpc::TaskInfo*, int> description_index;
  req.mutable_events()->Reserve(static_cast<int>(batch.size()));
  for (auto& ev : batch) {
    if (ev.kind == Kind::kDropped) continue;
    auto [slot, added] = index.try_emplace(ev.task, req.events_size());
    rpc::TaskEventData* out = added ? nullptr : req.mutable_events(slot->second);
    if (out == nullptr || out->attempt_number() != ev.attempt) {
      slot->second = req.events_size();
      out = req.add_events();
      out->set_task_id(ev.task.Binary());
      out->set_attempt_number(ev.attempt);
    }
    if (ev.info) {
      auto [d, fresh] = description_index.try_emplace(ev.info.get(), req.descriptions_size() + 1);
      if (fresh) *req.add_descriptions() = *ev.info;
      out->set_description_index(d->second);
    }
    if (ev.state != rpc::TASK_STATUS_NIL) {
      auto* times = out->mutable_state_times_us();
      while (times->size() <= ev.state) times->Add(0);
      if (times->Get(ev.state) == 0) times->Set(ev.state, ev.time_us);
    }
    if (ev.executed) {
      const Executed& x = *ev.executed;
      auto* times = out->mutable_state_times_us();
      while (times->size() <= rpc::RUNNING) times->Add(0);
      if (times->Get(rpc::RUNNING) == 0) times->Set(rpc::RUNNING, x.start_us);
      out->set_start_time_us(x.start_us);
      out->set_end_time_us(x.end_us);
      out->set_worker_pid(x.pid);
      if (!x.node.IsNil()) out->set_node_id(x.node.Binary());
      if (!x.worker.IsNil()) out->set_worker_id(x.worker.Binary());
    }
    if (ev.kind != Kind::kState) {
      out->set_node_id(node_id_);
      out->set_worker_id(worker_id_);
      out->set_worker_pid(pid_);
      if (ev.kind == Kind::kStart) out->set_start_time_us(ev.time_us);
      if (ev.kind == Kind::kEnd) out->set_end_time_us(ev.time_us);
    }
    if (ev.span) out->mutable_profile_events()->Add(std::move(*ev.span));
    if (!ev.error_type.empty()) out->set_error_type(ev.error_type);
    if (!ev.error_message.empty()) out->set_error_message(ev.error_message);
  }
  Status s = sender_(req, timeout_ms);
  if (!s.ok()) {
    LUMOS_LOG(Debug) << "dropped " << req.events_size() << " task events: " << s.ToString();
    std::lock_guard<std::mutex> lock(mu_);
    dropped_ += static_cast<int64_t>(batch.size()) + dropped;  // reported with the next batch
    dropped_total_ += static_cast<int64_t>(batch.size());
  }
}

void TaskEventBuffer::Stop() {
  bool join;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    join = started_;
  }
  cv_.notify_all();
  if (join && thread_.joinable()) thread_.join();
  if (enabled_) Flush(kFinalTimeoutMs);
}

int64_t TaskEventBuffer::num_dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_total_;
}

}  // namespace lumos::core
