// GcsTaskEventManager: merging reports of one attempt, retries, the bound
// (oldest finished dropped first, counted), filters before the limit, and
// profile spans kept with their attempt within their bounds, and the kept
// counts (summaries, totals, early stops) agreeing with a full walk.
#include "gcs/task_event_manager.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include <algorithm>
#include <string>

namespace lumos::gcs {
namespace {

std::string TaskId(int i) {
  std::string id(24, '\0');
  for (int b = 0; b < 4; b++) id[b] = static_cast<char>((i >> (8 * b)) & 0xff);
  return id;
}

rpc::TaskEventData Event(int task, int attempt, rpc::TaskStatus state, int64_t t, const std::string& name = "") {
  rpc::TaskEventData ev;
  ev.set_task_id(TaskId(task));
  ev.set_attempt_number(attempt);
  for (int s = 0; s <= state; s++) ev.add_state_times_us(s == state ? t : 0);
  if (!name.empty()) {
    ev.mutable_info()->set_name(name);
    ev.mutable_info()->set_func_or_class_name(name);
    ev.mutable_info()->set_type("NORMAL_TASK");
  }
  return ev;
}

void Add(GcsTaskEventManager* m, const rpc::TaskEventData& ev) {
  rpc::AddTaskEventsRequest req;
  *req.add_events() = ev;
  m->AddEvents(req, 1);
}

rpc::StateFilter Filter(const std::string& key, const std::string& pred, const std::string& value) {
  rpc::StateFilter f;
  f.set_key(key);
  f.set_predicate(pred);
  f.set_value(value);
  return f;
}

rpc::GetTaskEventsReply Query(const GcsTaskEventManager& m, std::vector<rpc::StateFilter> filters, int64_t limit = 0) {
  rpc::GetTaskEventsReply reply;
  EXPECT_TRUE(m.Query(filters, limit, &reply).ok());
  return reply;
}

TEST(GcsTaskEventManagerTest, DescriptionsSharedByIndexWithinABatch) {
  GcsTaskEventManager m(100);
  rpc::AddTaskEventsRequest req;
  rpc::TaskInfo* shared = req.add_descriptions();
  shared->set_name("Actor.ping");
  shared->set_type("ACTOR_TASK");
  shared->set_actor_id(std::string(16, '\x07'));
  for (int i = 0; i < 3; i++) {
    rpc::TaskEventData ev = Event(10 + i, 0, rpc::FINISHED, 5);
    ev.set_description_index(1);
    *req.add_events() = ev;
  }
  rpc::TaskEventData own = Event(20, 0, rpc::FINISHED, 5, "own");  // its own info still works
  *req.add_events() = own;
  rpc::TaskEventData bad = Event(21, 0, rpc::FINISHED, 5);
  bad.set_description_index(2);  // out of range: no description, not a crash
  *req.add_events() = bad;
  m.AddEvents(req, 1);
  auto r = Query(m, {Filter("name", "=", "Actor.ping")});
  ASSERT_EQ(r.events_size(), 3);
  for (const auto& e : r.events()) {
    EXPECT_EQ(e.info().type(), "ACTOR_TASK");
    EXPECT_EQ(e.info().actor_id(), std::string(16, '\x07'));
  }
  EXPECT_EQ(Query(m, {Filter("name", "=", "own")}).events_size(), 1);
  EXPECT_EQ(Query(m, {}).events_size(), 5);
}

TEST(GcsTaskEventManagerTest, ReportsOfOneAttemptMergeInAnyOrder) {
  GcsTaskEventManager m(100);
  // The executor's RUNNING arrives before the owner's earlier states.
  rpc::TaskEventData exec = Event(1, 0, rpc::RUNNING, 30);
  exec.set_start_time_us(30);
  exec.set_worker_pid(77);
  exec.set_node_id(std::string(16, '\x01'));
  Add(&m, exec);
  Add(&m, Event(1, 0, rpc::PENDING_ARGS_AVAIL, 10, "f"));
  Add(&m, Event(1, 0, rpc::SUBMITTED_TO_WORKER, 20));
  auto r = Query(m, {});
  ASSERT_EQ(r.events_size(), 1);
  EXPECT_EQ(r.events(0).state(), rpc::RUNNING);
  EXPECT_EQ(r.events(0).info().name(), "f");
  EXPECT_EQ(r.events(0).worker_pid(), 77);
  const auto& times = r.events(0).state_times_us();
  EXPECT_EQ(std::count_if(times.begin(), times.end(), [](int64_t t) { return t != 0; }), 3);
  EXPECT_EQ(times.Get(rpc::PENDING_ARGS_AVAIL), 10);
  EXPECT_EQ(times.Get(rpc::RUNNING), 30);
  rpc::TaskEventData end;
  end.set_task_id(TaskId(1));
  end.set_end_time_us(45);
  Add(&m, end);
  Add(&m, Event(1, 0, rpc::FINISHED, 50));
  r = Query(m, {});
  EXPECT_EQ(r.events(0).state(), rpc::FINISHED);
  EXPECT_EQ(r.events(0).start_time_us(), 30);
  EXPECT_EQ(r.events(0).end_time_us(), 45);
}

TEST(GcsTaskEventManagerTest, RetryIsANewAttemptThatInheritsTheDescription) {
  GcsTaskEventManager m(100);
  Add(&m, Event(1, 0, rpc::PENDING_ARGS_AVAIL, 10, "flaky"));
  rpc::TaskEventData failed = Event(1, 0, rpc::FAILED, 20);
  failed.set_error_type("WORKER_DIED");
  Add(&m, failed);
  Add(&m, Event(1, 1, rpc::PENDING_NODE_ASSIGNMENT, 30));
  auto r = Query(m, {});
  ASSERT_EQ(r.events_size(), 2);
  EXPECT_EQ(r.events(0).state(), rpc::FAILED);
  EXPECT_EQ(r.events(0).error_type(), "WORKER_DIED");
  EXPECT_EQ(r.events(1).attempt_number(), 1);
  EXPECT_EQ(r.events(1).state(), rpc::PENDING_NODE_ASSIGNMENT);
  EXPECT_EQ(r.events(1).info().name(), "flaky");
  EXPECT_EQ(Query(m, {Filter("attempt_number", "=", "1")}).total(), 1);
}

TEST(GcsTaskEventManagerTest, BoundDropsOldestFinishedFirstAndCounts) {
  GcsTaskEventManager m(3);
  Add(&m, Event(1, 0, rpc::RUNNING, 1, "running"));
  Add(&m, Event(2, 0, rpc::FINISHED, 2, "done_first"));
  Add(&m, Event(3, 0, rpc::FINISHED, 3, "done_second"));
  Add(&m, Event(4, 0, rpc::PENDING_ARGS_AVAIL, 4, "new"));
  auto r = Query(m, {});
  ASSERT_EQ(r.events_size(), 3);
  EXPECT_EQ(r.events(0).info().name(), "running");  // older, but not finished: kept
  EXPECT_EQ(r.events(1).info().name(), "done_second");
  EXPECT_EQ(r.events(2).info().name(), "new");
  EXPECT_EQ(r.num_dropped(), 1);
  // With nothing finished, the oldest goes.
  Add(&m, Event(3, 0, rpc::FINISHED, 5));  // already finished: no change
  Add(&m, Event(5, 0, rpc::RUNNING, 6, "a"));
  Add(&m, Event(6, 0, rpc::RUNNING, 7, "b"));
  r = Query(m, {});
  ASSERT_EQ(r.events_size(), 3);
  EXPECT_EQ(r.events(0).info().name(), "new");
  EXPECT_EQ(r.num_dropped(), 3);
  EXPECT_EQ(m.num_attempts(), 3u);
}

TEST(GcsTaskEventManagerTest, ChurnAtTheBoundKeepsTheOrdersCompactAndInOrder) {
  // A full table with attempts coming and going (a soak): the insertion and
  // finish orders gain a stale entry per eviction and are compacted in place
  // past 1.5x the table + 1024, and queries still walk the live ones in order.
  constexpr int kCap = 4000, kTasks = 40000;
  GcsTaskEventManager m(kCap);
  size_t most = 0;
  for (int i = 0; i < kTasks; i++) {
    Add(&m, Event(i, 0, rpc::RUNNING, 2 * i, "t"));
    Add(&m, Event(i, 0, rpc::FINISHED, 2 * i + 1));
    most = std::max(most, m.num_order_entries());
  }
  EXPECT_EQ(m.num_attempts(), static_cast<size_t>(kCap));
  // The insertion order at most 1.5x + 1024 (+1 before the check), the finish
  // order at most the table (its head is popped as attempts are evicted).
  EXPECT_LE(most, (kCap + kCap / 2 + 1024 + 1) + kCap + 1u);
  auto r = Query(m, {}, 3);
  EXPECT_EQ(r.total(), kCap);
  ASSERT_EQ(r.events_size(), 3);
  EXPECT_EQ(r.events(0).task_id(), TaskId(kTasks - kCap));  // oldest kept first
  EXPECT_EQ(r.events(2).task_id(), TaskId(kTasks - kCap + 2));
  rpc::GetTaskEventsReply newest;
  ASSERT_TRUE(m.Query({}, 1, &newest, false, /*newest_first=*/true).ok());
  ASSERT_EQ(newest.events_size(), 1);
  EXPECT_EQ(newest.events(0).task_id(), TaskId(kTasks - 1));
  EXPECT_EQ(r.num_dropped(), kTasks - kCap);
}

TEST(GcsTaskEventManagerTest, LateReportsOfADroppedAttemptAreIgnored) {
  GcsTaskEventManager m(2);
  Add(&m, Event(1, 0, rpc::FINISHED, 1, "a"));  // the owner's report comes first
  Add(&m, Event(2, 0, rpc::FINISHED, 2, "b"));
  Add(&m, Event(3, 0, rpc::FINISHED, 3, "c"));  // drops task 1
  rpc::TaskEventData exec = Event(1, 0, rpc::RUNNING, 1);  // then its executor's
  exec.set_end_time_us(5);
  Add(&m, exec);
  auto r = Query(m, {});
  ASSERT_EQ(r.events_size(), 2);
  EXPECT_EQ(Query(m, {Filter("state", "=", "RUNNING")}).total(), 0);
  EXPECT_EQ(r.num_dropped(), 1);
}

TEST(GcsTaskEventManagerTest, DropsAtTheSourceAreCounted) {
  GcsTaskEventManager m(10);
  rpc::AddTaskEventsRequest req;
  req.set_num_dropped_at_source(5);
  m.AddEvents(req, 1);
  EXPECT_EQ(Query(m, {}).num_dropped(), 5);
}

TEST(GcsTaskEventManagerTest, FiltersBeforeLimitWithExactTotal) {
  GcsTaskEventManager m(1000);
  for (int i = 0; i < 500; i++) Add(&m, Event(i, 0, i % 50 == 0 ? rpc::RUNNING : rpc::FINISHED, i + 1, "f"));
  auto r = Query(m, {Filter("state", "=", "running")}, 3);
  EXPECT_EQ(r.total(), 10);
  EXPECT_EQ(r.events_size(), 3);
  EXPECT_TRUE(r.truncated());
  r = Query(m, {Filter("state", "!=", "FINISHED"), Filter("name", "=", "F")}, 100);
  EXPECT_EQ(r.total(), 10);
  EXPECT_FALSE(r.truncated());
  r = Query(m, {Filter("task_id", "=", "0a000000000000000000000000000000000000000000000")});
  EXPECT_EQ(r.total(), 0);
  std::string hex10 = "0a" + std::string(46, '0');
  EXPECT_EQ(Query(m, {Filter("task_id", "=", hex10)}).total(), 1);
  EXPECT_EQ(Query(m, {Filter("task_id", "=", "0A" + std::string(46, '0'))}).total(), 1);
}

TEST(GcsTaskEventManagerTest, NewestFirstKeepsTheNewestUnderTheLimit) {
  GcsTaskEventManager m(1000);
  for (int i = 0; i < 100; i++) Add(&m, Event(i, 0, i % 10 == 0 ? rpc::FAILED : rpc::FINISHED, i + 1, "f"));
  rpc::GetTaskEventsReply r;
  ASSERT_TRUE(m.Query({}, 3, &r, false, true).ok());
  ASSERT_EQ(r.events_size(), 3);
  EXPECT_EQ(r.events(0).task_id(), TaskId(99));
  EXPECT_EQ(r.events(2).task_id(), TaskId(97));
  EXPECT_EQ(r.total(), 100);
  r.Clear();
  ASSERT_TRUE(m.Query({Filter("state", "=", "FAILED")}, 2, &r, false, true).ok());
  ASSERT_EQ(r.events_size(), 2);
  EXPECT_EQ(r.events(0).task_id(), TaskId(90));
  EXPECT_EQ(r.events(1).task_id(), TaskId(80));
  EXPECT_EQ(r.total(), 10);
  EXPECT_EQ(Query(m, {}, 1).events(0).task_id(), TaskId(0));  // oldest first by default
}

TEST(GcsTaskEventManagerTest, BadFiltersNameTheValidKeys) {
  GcsTaskEventManager m(10);
  rpc::GetTaskEventsReply reply;
  Status s = m.Query({Filter("colour", "=", "x")}, 0, &reply);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("colour"), std::string::npos);
  EXPECT_NE(s.message().find("func_or_class_name"), std::string::npos);
  s = m.Query({Filter("state", ">", "x")}, 0, &reply);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'='"), std::string::npos);
}

// The case: 100k finished tasks plus 10 running, in a GCS bounded at
// 100k: a filter on RUNNING finds exactly those 10 (Ray truncates first and finds none).
TEST(GcsTaskEventManagerTest, HundredThousandFinishedPlusTenRunning) {
  GcsTaskEventManager m(100000);
  rpc::AddTaskEventsRequest batch;
  for (int i = 0; i < 100000; i++) {
    *batch.add_events() = Event(i, 0, rpc::FINISHED, i + 1, "done");
    if (batch.events_size() == 1000) {
      m.AddEvents(batch, 1);
      batch.Clear();
    }
  }
  for (int i = 0; i < 10; i++) *batch.add_events() = Event(200000 + i, 0, rpc::RUNNING, 1, "busy");
  m.AddEvents(batch, 1);
  EXPECT_EQ(m.num_attempts(), 100000u);
  auto r = Query(m, {Filter("state", "=", "RUNNING")}, 100);
  EXPECT_EQ(r.total(), 10);
  ASSERT_EQ(r.events_size(), 10);
  for (const auto& e : r.events()) EXPECT_EQ(e.info().name(), "busy");
  EXPECT_EQ(r.num_dropped(), 10);  // ten finished ones made room
  r = Query(m, {Filter("state", "=", "FINISHED")}, 100);
  EXPECT_EQ(r.total(), 99990);
  EXPECT_TRUE(r.truncated());
}

TEST(GcsTaskEventManagerTest, CompiledFiltersMatchLikeTheShownFields) {
  GcsTaskEventManager m(100);
  rpc::AddTaskEventsRequest batch;
  for (int i = 0; i < 6; i++) *batch.add_events() = Event(i, 0, i < 2 ? rpc::RUNNING : rpc::FINISHED, 5, i % 2 ? "odd" : "even");
  batch.mutable_events(0)->set_node_id(std::string(16, '\xab'));
  m.AddEvents(batch, 1);
  EXPECT_EQ(Query(m, {Filter("state", "=", "running")}).total(), 2);
  EXPECT_EQ(Query(m, {Filter("state", "!=", "RUNNING")}).total(), 4);
  EXPECT_EQ(Query(m, {Filter("state", "=", "NO_SUCH_STATE")}).total(), 0);
  EXPECT_EQ(Query(m, {Filter("name", "=", "ODD")}).total(), 3);
  EXPECT_EQ(Query(m, {Filter("name", "=", "odd"), Filter("state", "=", "FINISHED")}).total(), 2);
  EXPECT_EQ(Query(m, {Filter("type", "=", "normal_task")}).total(), 6);
  std::string upper_hex;
  for (int i = 0; i < 16; i++) upper_hex += "AB";  // case-insensitive, like the shown hex
  EXPECT_EQ(Query(m, {Filter("node_id", "=", upper_hex)}).total(), 1);
  EXPECT_EQ(Query(m, {Filter("node_id", "=", "")}).total(), 5);
  EXPECT_EQ(Query(m, {Filter("node_id", "!=", "zz")}).total(), 6);  // not hex: equals nothing
  std::string hex;
  for (unsigned char c : TaskId(3)) hex += "0123456789abcdef"[c >> 4], hex += "0123456789abcdef"[c & 15];
  auto r = Query(m, {Filter("task_id", "=", hex)});
  ASSERT_EQ(r.events_size(), 1);
  EXPECT_EQ(r.events(0).task_id(), TaskId(3));
}

TEST(GcsTaskEventManagerTest, SummarizeCountsPerFunctionAndState) {
  GcsTaskEventManager m(100);
  rpc::AddTaskEventsRequest batch;
  for (int i = 0; i < 7; i++) *batch.add_events() = Event(i, 0, i < 3 ? rpc::RUNNING : rpc::FINISHED, 5, i % 2 ? "f" : "g");
  m.AddEvents(batch, 1);
  rpc::GetTaskEventsReply r;
  ASSERT_TRUE(m.Query({}, 0, &r, /*summarize=*/true).ok());
  EXPECT_EQ(r.events_size(), 0);
  EXPECT_EQ(r.total(), 7);
  std::map<std::string, int64_t> got;
  for (const auto& c : r.state_counts()) {
    EXPECT_EQ(c.type(), "NORMAL_TASK");
    got[c.func_or_class_name() + "/" + c.state()] = c.count();
  }
  EXPECT_EQ(got, (std::map<std::string, int64_t>{{"f/RUNNING", 1}, {"f/FINISHED", 2}, {"g/RUNNING", 2}, {"g/FINISHED", 2}}));
  rpc::GetTaskEventsReply filtered;
  ASSERT_TRUE(m.Query({Filter("state", "=", "RUNNING")}, 0, &filtered, true).ok());
  EXPECT_EQ(filtered.total(), 3);
  EXPECT_EQ(filtered.state_counts_size(), 2);
}

TEST(GcsTaskEventManagerTest, FilterKeysListStateAndIds) {
  const auto& keys = GcsTaskEventManager::FilterKeys();
  for (const char* k : {"task_id", "state", "name", "job_id", "node_id", "worker_id", "actor_id", "error_type"}) {
    EXPECT_NE(std::find(keys.begin(), keys.end(), k), keys.end()) << k;
  }
}

rpc::TaskEventData WithSpans(int task, int attempt, int n, int64_t t0) {
  rpc::TaskEventData ev;  // an executor's batch: spans, its identity, no state
  ev.set_task_id(TaskId(task));
  ev.set_attempt_number(attempt);
  ev.set_worker_pid(42);
  for (int i = 0; i < n; i++) {
    auto* span = ev.add_profile_events();
    span->set_event_name("step" + std::to_string(i));
    span->set_start_time_us(t0 + 10 * i);
    span->set_end_time_us(t0 + 10 * i + 5);
    span->set_extra_data("{\"k\": \"v\"}");
  }
  return ev;
}

rpc::GetTaskEventsReply WithProfile(const GcsTaskEventManager& m) {
  rpc::GetTaskEventsReply reply;
  EXPECT_TRUE(m.Query({}, 0, &reply, false, false, /*include_profile_events=*/true).ok());
  return reply;
}

TEST(GcsTaskEventManagerTest, SpansStayWithTheirAttemptAndOnlyTheTimelineGetsThem) {
  GcsTaskEventManager m(100);
  Add(&m, WithSpans(1, 0, 2, 100));  // the executor's batch may come first
  Add(&m, Event(1, 0, rpc::FINISHED, 200, "f"));
  Add(&m, WithSpans(1, 0, 1, 300));  // and more after the owner's
  Add(&m, Event(2, 0, rpc::FINISHED, 400, "g"));
  auto plain = Query(m, {});
  ASSERT_EQ(plain.events_size(), 2);
  EXPECT_EQ(plain.events(0).profile_events_size(), 0);  // lists stay small
  auto r = WithProfile(m);
  ASSERT_EQ(r.events_size(), 2);
  const auto& a = r.events(0);
  EXPECT_EQ(a.info().name(), "f");
  EXPECT_EQ(a.state(), rpc::FINISHED);
  EXPECT_EQ(a.worker_pid(), 42);
  ASSERT_EQ(a.profile_events_size(), 3);
  EXPECT_EQ(a.profile_events(0).event_name(), "step0");
  EXPECT_EQ(a.profile_events(1).start_time_us(), 110);
  EXPECT_EQ(a.profile_events(1).end_time_us(), 115);
  EXPECT_EQ(a.profile_events(2).start_time_us(), 300);
  EXPECT_EQ(a.profile_events(0).extra_data(), "{\"k\": \"v\"}");
  EXPECT_EQ(r.events(1).profile_events_size(), 0);
  EXPECT_EQ(m.num_spans(), 3);
  EXPECT_EQ(r.num_profile_events_dropped(), 0);
}

TEST(GcsTaskEventManagerTest, SpanBoundsPerAttemptAndInAllDropAndCount) {
  GcsTaskEventManager m(2, /*max_spans_per_attempt=*/3, /*max_spans=*/5);
  Add(&m, WithSpans(1, 0, 4, 0));  // one over the attempt's bound
  auto r = WithProfile(m);
  EXPECT_EQ(r.events(0).profile_events_size(), 3);
  EXPECT_EQ(r.events(0).num_profile_events_dropped(), 1);
  Add(&m, WithSpans(2, 0, 3, 0));  // two fit in the total of 5
  EXPECT_EQ(m.num_spans(), 5);
  EXPECT_EQ(m.num_spans_dropped(), 2);
  // Task 1 finishes and a third attempt evicts it: its room is freed.
  Add(&m, Event(1, 0, rpc::FINISHED, 10, "a"));
  Add(&m, Event(3, 0, rpc::RUNNING, 20, "c"));
  EXPECT_EQ(m.num_attempts(), 2u);
  EXPECT_EQ(m.num_spans(), 2);
  Add(&m, WithSpans(3, 0, 3, 0));
  EXPECT_EQ(m.num_spans(), 5);
  // Late spans of the evicted attempt are counted, not kept.
  Add(&m, WithSpans(1, 0, 2, 0));
  EXPECT_EQ(m.num_spans_dropped(), 4);
  EXPECT_EQ(m.num_attempts(), 2u);
  r = WithProfile(m);
  EXPECT_EQ(r.num_profile_events_dropped(), 4);
}

// The same question answered from the kept counts (no filter, one state
// filter) and by a full walk (an extra filter that matches every attempt:
// no task id equals "zz", which is not hex) must agree, through merges in
// any order, retries, descriptions arriving late and evictions.
TEST(GcsTaskEventManagerTest, KeptCountsAgreeWithAFullWalk) {
  GcsTaskEventManager m(150);
  std::mt19937 rng(7);
  const rpc::StateFilter everything = Filter("task_id", "!=", "zz");
  auto ids = [](const rpc::GetTaskEventsReply& r) {
    std::vector<std::pair<std::string, int>> out;
    for (const auto& e : r.events()) out.emplace_back(e.task_id(), e.attempt_number());
    return out;
  };
  auto summary = [](const rpc::GetTaskEventsReply& r) {
    std::set<std::tuple<std::string, std::string, std::string, int64_t>> out;
    for (const auto& c : r.state_counts()) out.emplace(c.func_or_class_name(), c.type(), c.state(), c.count());
    return out;
  };
  for (int round = 0; round < 40; round++) {
    for (int i = 0; i < 25; i++) {
      int task = static_cast<int>(rng() % 300), attempt = static_cast<int>(rng() % 2);
      auto state = static_cast<rpc::TaskStatus>(1 + rng() % 6);
      std::string name = rng() % 3 == 0 ? "" : "f" + std::to_string(rng() % 4);  // "" = no description yet
      Add(&m, Event(task, attempt, state, 1 + static_cast<int64_t>(rng() % 1000), name));
    }
    for (bool newest : {false, true}) {
      for (int64_t limit : {0, 1, 7}) {
        std::vector<std::vector<rpc::StateFilter>> questions = {{}};
        for (const char* st : {"RUNNING", "FINISHED", "PENDING_ARGS_AVAIL", "no-such-state"}) {
          questions.push_back({Filter("state", "=", st)});
          questions.push_back({Filter("state", "!=", st)});
          questions.push_back({Filter("name", "=", "F1"), Filter("state", "!=", st)});
        }
        questions.push_back({Filter("func_or_class_name", "!=", "f2")});
        questions.push_back({Filter("name", "=", "")});  // attempts with no description yet
        questions.push_back({Filter("type", "=", "normal_task"), Filter("state", "=", "FAILED")});
        for (const auto& q : questions) {
          rpc::GetTaskEventsReply fast, walked;
          ASSERT_TRUE(m.Query(q, limit, &fast, false, newest).ok());
          auto q2 = q;
          q2.push_back(everything);
          ASSERT_TRUE(m.Query(q2, limit, &walked, false, newest).ok());
          ASSERT_EQ(fast.total(), walked.total()) << "round " << round;
          ASSERT_EQ(fast.truncated(), walked.truncated());
          ASSERT_EQ(ids(fast), ids(walked));
        }
      }
    }
    rpc::GetTaskEventsReply fast, walked;
    ASSERT_TRUE(m.Query({}, 0, &fast, true).ok());
    ASSERT_TRUE(m.Query({everything}, 0, &walked, true).ok());
    ASSERT_EQ(fast.total(), walked.total());
    ASSERT_EQ(fast.total(), static_cast<int64_t>(m.num_attempts()));
    ASSERT_EQ(summary(fast), summary(walked)) << "round " << round;
  }
}

}  // namespace
}  // namespace lumos::gcs
