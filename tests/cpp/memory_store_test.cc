// MemoryStore: values, blocking waits, async callbacks, interrupts.
#include "core_worker/memory_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace lumos::core {
namespace {

using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

class MemoryStoreTest : public ::testing::Test {
 protected:
  ObjectID NewId() { return ObjectID::FromIndex(task_, ++n_); }
  static std::string Str(const std::shared_ptr<RayObject>& o) {
    auto* b = dynamic_cast<StringBuffer*>(o->data.get());
    return b ? b->str() : std::string("<not a string buffer>");
  }

  MemoryStore store_;
  TaskID task_ = TaskID::ForJob(JobID::FromInt(1));
  uint32_t n_ = 0;
};

TEST_F(MemoryStoreTest, PutAndGetIfExists) {
  ObjectID id = NewId();
  EXPECT_EQ(store_.GetIfExists(id), nullptr);
  EXPECT_FALSE(store_.Contains(id));
  store_.Put(id, RayObject::Inline("hello", kMetaPickle));
  auto got = store_.GetIfExists(id);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(Str(got), "hello");
  EXPECT_EQ(got->metadata, kMetaPickle);
  EXPECT_FALSE(got->IsError());
  EXPECT_TRUE(store_.Contains(id));
  EXPECT_EQ(store_.size(), 1u);

  // Put replaces.
  store_.Put(id, RayObject::Inline("again", kMetaPickle));
  EXPECT_EQ(Str(store_.GetIfExists(id)), "again");
  EXPECT_EQ(store_.size(), 1u);

  store_.Put(NewId(), RayObject::InPlasma());
  EXPECT_EQ(store_.size(), 2u);
  store_.Delete(id);
  EXPECT_FALSE(store_.Contains(id));
  EXPECT_EQ(store_.size(), 1u);
  store_.Delete(id);  // idempotent
}

TEST_F(MemoryStoreTest, WaitForAllAlreadyThere) {
  std::vector<ObjectID> ids{NewId(), NewId(), NewId()};
  for (const auto& id : ids) store_.Put(id, RayObject::Inline("x", kMetaPickle));
  std::vector<bool> ready;
  Status s = store_.Wait(ids, ids.size(), -1, &ready, nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ready, std::vector<bool>({true, true, true}));
  // Also with a zero timeout (a poll).
  s = store_.Wait(ids, ids.size(), 0, &ready, nullptr);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_F(MemoryStoreTest, WaitForNumRequired) {
  std::vector<ObjectID> ids{NewId(), NewId(), NewId(), NewId()};
  store_.Put(ids[1], RayObject::Inline("a", kMetaPickle));
  store_.Put(ids[3], RayObject::Inline("b", kMetaPickle));
  std::vector<bool> ready;
  ASSERT_TRUE(store_.Wait(ids, 2, 1000, &ready, nullptr).ok());
  EXPECT_EQ(ready, std::vector<bool>({false, true, false, true}));
  ASSERT_TRUE(store_.Wait(ids, 1, 1000, &ready, nullptr).ok());
  // The scan stops at the first num_required ready ids (wait() returns those).
  EXPECT_EQ(ready, std::vector<bool>({false, true, false, false}));
  // A longer list whose first id is ready: flags after it are cleared, not
  // left from the scan above.
  ready.assign(ids.size(), true);
  store_.Put(ids[0], RayObject::Inline("c", kMetaPickle));
  ASSERT_TRUE(store_.Wait(ids, 1, 0, &ready, nullptr).ok());
  EXPECT_EQ(ready, std::vector<bool>({true, false, false, false}));
  ASSERT_TRUE(store_.Wait(ids, 3, 0, &ready, nullptr).ok());
  EXPECT_EQ(ready, std::vector<bool>({true, true, false, true}));
  ASSERT_TRUE(store_.Wait(ids, 0, 0, &ready, nullptr).ok());
  ASSERT_TRUE(store_.Wait({}, 0, 0, &ready, nullptr).ok());
  EXPECT_TRUE(ready.empty());
}

TEST_F(MemoryStoreTest, TimeoutReturnsTimedOutWithReadyFlags) {
  std::vector<ObjectID> ids{NewId(), NewId(), NewId()};
  store_.Put(ids[0], RayObject::Inline("a", kMetaPickle));
  std::vector<bool> ready;
  auto start = Clock::now();
  Status s = store_.Wait(ids, 2, 150, &ready, nullptr);
  int64_t took = MsSince(start);
  EXPECT_EQ(s.code(), StatusCode::kTimedOut) << s.ToString();
  EXPECT_EQ(ready, std::vector<bool>({true, false, false}));
  EXPECT_GE(took, 140);
  EXPECT_LT(took, 2000);

  // Zero timeout: an immediate answer.
  start = Clock::now();
  s = store_.Wait(ids, 3, 0, &ready, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kTimedOut);
  EXPECT_EQ(ready, std::vector<bool>({true, false, false}));
  EXPECT_LT(MsSince(start), 100);
}

TEST_F(MemoryStoreTest, WaitAnyCountsAnEntryOnceWhenAnyOfItsIdsExists) {
  // Entry 0: {a, b}; entry 1: {c}; entry 2: {d, e}.
  std::vector<ObjectID> ids{NewId(), NewId(), NewId(), NewId(), NewId()};
  std::vector<size_t> entry_of{0, 0, 1, 2, 2};
  std::vector<bool> ready;
  EXPECT_EQ(store_.WaitAny(ids, entry_of, 3, 1, 0, &ready, nullptr).code(), StatusCode::kTimedOut);
  EXPECT_EQ(ready, std::vector<bool>({false, false, false}));
  store_.Put(ids[0], RayObject::Inline("a", kMetaPickle));
  store_.Put(ids[1], RayObject::Inline("b", kMetaPickle));
  // Both ids of entry 0 exist, but that is one entry: two are not ready.
  EXPECT_EQ(store_.WaitAny(ids, entry_of, 3, 2, 50, &ready, nullptr).code(), StatusCode::kTimedOut);
  EXPECT_EQ(ready, std::vector<bool>({true, false, false}));
  std::thread putter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    store_.Put(ids[4], RayObject::Inline("e", kMetaPickle));
  });
  Status s = store_.WaitAny(ids, entry_of, 3, 2, 10000, &ready, nullptr);
  putter.join();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ready, std::vector<bool>({true, false, true}));
  EXPECT_EQ(store_.WaitAny(ids, {0, 0}, 3, 1, 0, &ready, nullptr).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_.WaitAny(ids, {0, 0, 1, 2, 3}, 3, 1, 0, &ready, nullptr).code(), StatusCode::kInvalidArgument);
}

TEST_F(MemoryStoreTest, PutFromAnotherThreadWakesWaiter) {
  std::vector<ObjectID> ids{NewId(), NewId()};
  std::thread putter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    store_.Put(ids[0], RayObject::Inline("a", kMetaPickle));
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    store_.Put(ids[1], RayObject::Inline("b", kMetaPickle));
  });
  std::vector<bool> ready;
  auto start = Clock::now();
  Status s = store_.Wait(ids, 2, 10000, &ready, nullptr);
  int64_t took = MsSince(start);
  putter.join();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ready, std::vector<bool>({true, true}));
  EXPECT_LT(took, 5000);  // woken, not timed out
}

TEST_F(MemoryStoreTest, PutWakesAForeverWaiterPromptly) {
  ObjectID id = NewId();
  std::atomic<bool> done{false};
  Status result;
  std::thread waiter([&] {
    std::vector<bool> ready;
    result = store_.Wait({id}, 1, -1, &ready, nullptr);
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(done.load());
  auto put_at = Clock::now();
  store_.Put(id, RayObject::Inline("v", kMetaPickle));
  waiter.join();
  EXPECT_TRUE(result.ok()) << result.ToString();
  EXPECT_LT(MsSince(put_at), 1000);
}

TEST_F(MemoryStoreTest, GetAsyncFiresImmediatelyWhenPresent) {
  ObjectID id = NewId();
  store_.Put(id, RayObject::Inline("now", kMetaPickle));
  int calls = 0;
  std::string seen;
  store_.GetAsync(id, [&](std::shared_ptr<RayObject> o) {
    calls++;
    seen = Str(o);
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen, "now");
}

TEST_F(MemoryStoreTest, GetAsyncFiresOnPutOnce) {
  ObjectID id = NewId(), other = NewId();
  std::atomic<int> calls{0};
  std::string seen;
  std::thread::id cb_thread;
  for (int i = 0; i < 2; i++) {
    store_.GetAsync(id, [&](std::shared_ptr<RayObject> o) {
      calls++;
      seen = Str(o);
      cb_thread = std::this_thread::get_id();
    });
  }
  store_.Put(other, RayObject::Inline("other", kMetaPickle));
  EXPECT_EQ(calls.load(), 0);
  std::thread putter([&] { store_.Put(id, RayObject::Inline("later", kMetaPickle)); });
  std::thread::id putter_id = putter.get_id();
  putter.join();
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(seen, "later");
  EXPECT_EQ(cb_thread, putter_id);  // callbacks run on the putting thread
  // A second Put does not re-fire consumed callbacks.
  store_.Put(id, RayObject::Inline("again", kMetaPickle));
  EXPECT_EQ(calls.load(), 2);
}

TEST_F(MemoryStoreTest, GetAsyncCallbackMayUseTheStore) {
  // Callbacks run without the lock held, so they may call back in.
  ObjectID a = NewId(), b = NewId();
  bool ok = false;
  store_.GetAsync(a, [&](std::shared_ptr<RayObject>) {
    store_.Put(b, RayObject::Inline("b", kMetaPickle));
    ok = store_.Contains(a);
  });
  store_.Put(a, RayObject::Inline("a", kMetaPickle));
  EXPECT_TRUE(ok);
  EXPECT_TRUE(store_.Contains(b));
}

TEST_F(MemoryStoreTest, InterruptCheckStopsALongWait) {
  ObjectID id = NewId();
  std::atomic<bool> stop{false};
  std::atomic<int> checks{0};
  std::thread interrupter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    stop = true;
  });
  std::vector<bool> ready;
  auto start = Clock::now();
  Status s = store_.Wait({id}, 1, /*timeout_ms=*/-1, &ready, [&] {
    checks++;
    return stop.load();
  });
  int64_t took = MsSince(start);
  interrupter.join();
  EXPECT_EQ(s.code(), StatusCode::kInterrupted) << s.ToString();
  EXPECT_GE(checks.load(), 1);
  EXPECT_GE(took, 140);
  EXPECT_LT(took, 2000);  // checked every ~100 ms
  EXPECT_EQ(ready, std::vector<bool>({false}));
}

// A stream of unrelated Puts wakes the waiter often; the interrupt check must
// still run about every 100 ms.
TEST_F(MemoryStoreTest, InterruptCheckRunsWhileOtherObjectsArrive) {
  ObjectID id = NewId();
  std::atomic<bool> stop{false}, quit{false};
  std::thread noise([&] {
    uint32_t i = 1000;
    while (!quit) {
      store_.Put(ObjectID::FromIndex(task_, i++), RayObject::Inline("n", kMetaPickle));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  std::thread interrupter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop = true;
  });
  std::vector<bool> ready;
  auto start = Clock::now();
  Status s = store_.Wait({id}, 1, /*timeout_ms=*/3000, &ready, [&] { return stop.load(); });
  int64_t took = MsSince(start);
  quit = true;
  noise.join();
  interrupter.join();
  EXPECT_EQ(s.code(), StatusCode::kInterrupted) << s.ToString() << " after " << took << " ms";
  EXPECT_LT(took, 1000);
}

TEST_F(MemoryStoreTest, ManyWaitersManyPutters) {
  constexpr int kObjects = 200;
  std::vector<ObjectID> ids;
  for (int i = 0; i < kObjects; i++) ids.push_back(NewId());
  std::atomic<int> ok{0};
  std::vector<std::thread> waiters;
  for (int w = 0; w < 4; w++) {
    waiters.emplace_back([&] {
      std::vector<bool> ready;
      if (store_.Wait(ids, ids.size(), 10000, &ready, nullptr).ok()) ok++;
    });
  }
  std::vector<std::thread> putters;
  for (int p = 0; p < 2; p++) {
    putters.emplace_back([&, p] {
      for (int i = p; i < kObjects; i += 2) store_.Put(ids[i], RayObject::Inline("v", kMetaPickle));
    });
  }
  for (auto& t : putters) t.join();
  for (auto& t : waiters) t.join();
  EXPECT_EQ(ok.load(), 4);
}

// A blocked wait registers on its missing ids: it wakes once enough of them
// arrived (in any order), overlapping waits with different counts each see
// theirs, and a wait that gave up leaves no registration behind (later Puts
// of its ids must not touch it).
TEST_F(MemoryStoreTest, RegisteredWaitersWakeOnTheirOwnIds) {
  constexpr int kObjects = 20000;
  std::vector<ObjectID> ids;
  for (int i = 0; i < kObjects; i++) ids.push_back(NewId());
  std::vector<bool> ready;
  ASSERT_EQ(store_.Wait({ids[0], ids[1]}, 2, 10, &ready, nullptr).code(), StatusCode::kTimedOut);
  std::atomic<int> all_ok{0}, half_ok{0};
  std::thread all([&] {
    std::vector<bool> r;
    if (store_.Wait(ids, ids.size(), 20000, &r, nullptr).ok() &&
        std::count(r.begin(), r.end(), true) == kObjects) {
      all_ok++;
    }
  });
  std::thread half([&] {
    std::vector<bool> r;
    std::vector<ObjectID> evens;
    for (int i = 0; i < kObjects; i += 2) evens.push_back(ids[i]);
    if (store_.Wait(evens, evens.size() / 2, 20000, &r, nullptr).ok()) half_ok++;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto start = Clock::now();
  for (int i = kObjects - 1; i >= 0; i--) store_.Put(ids[i], RayObject::Inline("v", kMetaPickle));
  all.join();
  half.join();
  EXPECT_EQ(all_ok.load(), 1);
  EXPECT_EQ(half_ok.load(), 1);
  // Linear, not a rescan of 20,000 ids per Put (that took seconds).
  EXPECT_LT(MsSince(start), 2000);
  // The same id twice in one list, and the timed-out wait's ids put later.
  auto dup = NewId();
  ASSERT_EQ(store_.Wait({dup, dup}, 2, 10, &ready, nullptr).code(), StatusCode::kTimedOut);
  store_.Put(dup, RayObject::Inline("d", kMetaPickle));
  ASSERT_TRUE(store_.Wait({dup, dup}, 2, 0, &ready, nullptr).ok());
}

TEST_F(MemoryStoreTest, DropCallbacksReleasesWithoutRunning) {
  ObjectID id = NewId();
  auto held = std::make_shared<int>(1);
  int runs = 0;
  store_.GetAsync(id, [held, &runs](std::shared_ptr<RayObject>) { runs++; });
  EXPECT_EQ(held.use_count(), 2);
  store_.DropCallbacks();
  EXPECT_EQ(held.use_count(), 1);  // the capture is released now, not at ~MemoryStore
  store_.Put(id, RayObject::Inline("x", kMetaPickle));
  EXPECT_EQ(runs, 0);
}

}  // namespace
}  // namespace lumos::core
