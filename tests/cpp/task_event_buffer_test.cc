// TaskEventBuffer: events of one attempt merged into one message per batch,
// executor identity filled in, profile spans, periodic flush, bound and
// failed sends counted.
#include "core_worker/task_event_buffer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/config.h"

namespace lumos::core {
namespace {

// No periodic flush during a test unless it asks for one.
class TaskEventBufferTest : public ::testing::Test {
 protected:
  void SetUp() override { Config::Get().set_task_events_report_interval_ms(1000000); }
  void TearDown() override { Config::Get().set_task_events_report_interval_ms(100); }
};

struct Sink {
  std::mutex mu;
  std::vector<rpc::AddTaskEventsRequest> batches;
  bool fail = false;
  TaskEventBuffer::Sender sender() {
    return [this](const rpc::AddTaskEventsRequest& r, int64_t) {
      std::lock_guard<std::mutex> lock(mu);
      if (fail) return Status::Disconnected("gcs gone");
      batches.push_back(r);
      return Status::OK();
    };
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return batches.size();
  }
};

rpc::TaskSpec Spec(const TaskID& id, int attempt) {
  rpc::TaskSpec spec;
  spec.set_task_id(id.Binary());
  spec.set_attempt_number(attempt);
  spec.set_name("f");
  spec.mutable_function()->set_function_name("mod.f");
  return spec;
}

const std::string kNode(16, 'n'), kWorker(16, 'w');

TEST_F(TaskEventBufferTest, MergesOneAttemptPerMessage) {
  Sink sink;
  TaskEventBuffer buf(sink.sender(), kNode, kWorker, 42);
  TaskID id = TaskID::ForJob(JobID::FromInt(1));
  rpc::TaskSpec spec = Spec(id, 0);
  buf.RecordState(id, 0, rpc::PENDING_ARGS_AVAIL, &spec);
  buf.RecordState(id, 0, rpc::SUBMITTED_TO_WORKER);
  // Executor and owner share one buffer here; the executor's unsent RUNNING
  // is dropped at the end, and the owner reports the times from the reply.
  int64_t start = buf.RecordExecutionStart(spec);
  rpc::PushTaskReply reply;
  buf.RecordExecutionEnd(spec, start, &reply);
  EXPECT_EQ(reply.exec_start_time_us(), start);
  EXPECT_GE(reply.exec_end_time_us(), start);
  EXPECT_EQ(reply.executor_pid(), 42);
  buf.RecordState(id, 0, rpc::FAILED, nullptr, "WORKER_DIED", "gone", &reply);
  buf.RecordState(id, 1, rpc::PENDING_NODE_ASSIGNMENT, &spec);
  buf.Flush();
  ASSERT_EQ(sink.size(), 1u);
  const auto& req = sink.batches[0];
  ASSERT_EQ(req.events_size(), 2);
  const auto& first = req.events(0);
  EXPECT_EQ(first.attempt_number(), 0);
  // The description goes once per batch; both attempts name it by index.
  EXPECT_FALSE(first.has_info());
  ASSERT_EQ(req.descriptions_size(), 1);
  EXPECT_EQ(first.description_index(), 1);
  EXPECT_EQ(req.events(1).description_index(), 1);
  const auto& info = req.descriptions(0);
  EXPECT_EQ(info.name(), "f");
  EXPECT_EQ(info.func_or_class_name(), "mod.f");
  EXPECT_EQ(info.type(), "NORMAL_TASK");
  const auto& times = first.state_times_us();
  EXPECT_EQ(std::count_if(times.begin(), times.end(), [](int64_t t) { return t != 0; }), 4);  // args, submitted, running, failed
  EXPECT_EQ(times.Get(rpc::PENDING_NODE_ASSIGNMENT), 0);
  EXPECT_EQ(first.worker_pid(), 42);
  EXPECT_EQ(first.node_id(), kNode);
  EXPECT_EQ(first.worker_id(), kWorker);
  EXPECT_EQ(times.Get(rpc::RUNNING), start);
  EXPECT_GT(first.start_time_us(), 0);
  EXPECT_GE(first.end_time_us(), first.start_time_us());
  EXPECT_EQ(first.error_type(), "WORKER_DIED");
  EXPECT_EQ(req.events(1).attempt_number(), 1);
  buf.Stop();
}

TEST_F(TaskEventBufferTest, RunningIsSentWhileTheTaskRuns) {
  Sink sink;
  TaskEventBuffer buf(sink.sender(), kNode, kWorker, 7);
  TaskID id = TaskID::ForJob(JobID::FromInt(1));
  rpc::TaskSpec spec = Spec(id, 0);
  int64_t start = buf.RecordExecutionStart(spec);
  buf.Flush();  // the task is still running at the flush
  ASSERT_EQ(sink.size(), 1u);
  EXPECT_EQ(sink.batches[0].events(0).state_times_us(rpc::RUNNING), start);
  EXPECT_EQ(sink.batches[0].events(0).worker_pid(), 7);
  rpc::PushTaskReply reply;
  buf.RecordExecutionEnd(spec, start, &reply);
  buf.Flush();
  EXPECT_EQ(sink.size(), 1u);  // nothing more from the executor: the owner reports the end
  // An actor's creation task has no owner to report it: its end is sent from here.
  rpc::TaskSpec creation = Spec(TaskID::ForJob(JobID::FromInt(1)), 0);
  creation.mutable_actor_creation()->set_actor_id(std::string(16, 'a'));
  start = buf.RecordExecutionStart(creation);
  buf.RecordExecutionEnd(creation, start, &reply);
  buf.Flush();
  ASSERT_EQ(sink.size(), 2u);
  const auto& ev = sink.batches[1].events(0);
  ASSERT_EQ(ev.description_index(), 1);
  EXPECT_EQ(sink.batches[1].descriptions(0).type(), "ACTOR_CREATION_TASK");
  EXPECT_NE(ev.state_times_us(rpc::FINISHED), 0);
  EXPECT_GE(ev.end_time_us(), ev.start_time_us());
  buf.Stop();
}

TEST_F(TaskEventBufferTest, SpansOfARunningTaskAreSentWithTheExecutorsIdentity) {
  Sink sink;
  TaskEventBuffer buf(sink.sender(), kNode, kWorker, 9);
  TaskID id = TaskID::ForJob(JobID::FromInt(1));
  rpc::TaskSpec spec = Spec(id, 2);
  int64_t start = buf.RecordExecutionStart(spec);
  buf.RecordProfileEvent(id, 2, "load", start + 1, start + 5, "{\"rows\": \"10\"}");
  buf.RecordProfileEvent(id, 2, "fit", start + 6, start + 9, "");
  rpc::PushTaskReply reply;
  buf.RecordExecutionEnd(spec, start, &reply);  // the unsent RUNNING goes; the spans stay
  buf.Flush();
  ASSERT_EQ(sink.size(), 1u);
  ASSERT_EQ(sink.batches[0].events_size(), 1);
  const auto& ev = sink.batches[0].events(0);
  EXPECT_EQ(ev.attempt_number(), 2);
  EXPECT_EQ(ev.worker_pid(), 9);
  EXPECT_EQ(ev.worker_id(), kWorker);
  EXPECT_EQ(ev.state_times_us_size(), 0);  // no state: the owner reports those
  ASSERT_EQ(ev.profile_events_size(), 2);
  EXPECT_EQ(ev.profile_events(0).event_name(), "load");
  EXPECT_EQ(ev.profile_events(0).start_time_us(), start + 1);
  EXPECT_EQ(ev.profile_events(0).end_time_us(), start + 5);
  EXPECT_EQ(ev.profile_events(0).extra_data(), "{\"rows\": \"10\"}");
  EXPECT_EQ(ev.profile_events(1).event_name(), "fit");
  buf.Stop();
}

TEST_F(TaskEventBufferTest, FlushesPeriodicallyAndAtStop) {
  Sink sink;
  Config::Get().set_task_events_report_interval_ms(20);
  TaskEventBuffer buf(sink.sender(), "n", "w", 1);
  TaskID id = TaskID::ForJob(JobID::FromInt(1));
  buf.RecordState(id, 0, rpc::PENDING_ARGS_AVAIL);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (sink.size() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(sink.size(), 1u);
  Config::Get().set_task_events_report_interval_ms(1000000);
  buf.RecordState(id, 0, rpc::FINISHED);
  buf.Stop();
  EXPECT_EQ(sink.size(), 2u);
  buf.RecordState(id, 0, rpc::FINISHED);  // after Stop: ignored
  buf.Flush();
  EXPECT_EQ(sink.size(), 2u);
}

TEST_F(TaskEventBufferTest, FailedSendsAndOverflowAreCountedAndReported) {
  Sink sink;
  Config::Get().set_task_events_max_buffer_size(2);
  TaskEventBuffer buf(sink.sender(), "n", "w", 1);
  Config::Get().set_task_events_max_buffer_size(100000);
  TaskID id = TaskID::ForJob(JobID::FromInt(1));
  for (int i = 0; i < 5; i++) buf.RecordState(id, 0, rpc::PENDING_ARGS_AVAIL);
  EXPECT_EQ(buf.num_dropped(), 3);
  sink.fail = true;
  buf.Flush();
  EXPECT_EQ(buf.num_dropped(), 5);
  sink.fail = false;
  buf.Flush();
  ASSERT_EQ(sink.size(), 1u);
  EXPECT_EQ(sink.batches[0].num_dropped_at_source(), 5);
  buf.Stop();
}

TEST_F(TaskEventBufferTest, DisabledRecordsNothing) {
  Sink sink;
  Config::Get().set_task_events_enabled(0);
  TaskEventBuffer buf(sink.sender(), "n", "w", 1);
  Config::Get().set_task_events_enabled(1);
  EXPECT_FALSE(buf.enabled());
  buf.RecordState(TaskID::ForJob(JobID::FromInt(1)), 0, rpc::PENDING_ARGS_AVAIL);
  buf.Stop();
  EXPECT_EQ(sink.size(), 0u);
}

}  // namespace
}  // namespace lumos::core
