// ActorTaskSubmitter against fake actors: FastpathServers that record the
// PUSH_TASK requests they get and reply with one inline return value.
#include "core_worker/actor_task_submitter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common.pb.h"
#include "core_worker.pb.h"
#include "core_worker/connection_pool.h"
#include "core_worker/memory_store.h"
#include "core_worker/reference_counter.h"
#include "core_worker/task_manager.h"
#include "rpc/event_loop.h"
#include "rpc/server.h"
#include "test_util.h"

namespace lumos::core {
namespace {

using lumos::testing::TempDir;
using lumos::testing::WaitFor;
using State = rpc::ActorTableData;

struct Received {
  uint64_t seq;
  std::string task_id;
  int64_t incarnation;
};

// A fake actor process: a FastpathServer on its own loop thread. Shutdown()
// makes it go away like a dying process (listener and accepted sockets close).
// With hold = true it records calls but only replies on Release().
class FakeActor {
 public:
  FakeActor(const std::string& path, bool hold) : path_(path), hold_(hold) {
    loop_ = std::make_unique<rpc::EventLoop>();
    server_ = std::make_unique<rpc::FastpathServer>(
        loop_->io(), path, [this](const rpc::ConnectionPtr& c, rpc::Frame&& f) { OnFrame(c, std::move(f)); },
        [](const rpc::ConnectionPtr&, const Status&) {});
    listen_ = server_->Listen();
    loop_->Start("fake_actor");
  }
  ~FakeActor() { Shutdown(); }

  void Shutdown() {
    if (!loop_) return;
    std::promise<void> done;
    loop_->Post([&] {
      server_.reset();
      {
        std::lock_guard<std::mutex> l(mu_);
        held_.clear();
      }
      done.set_value();
    });
    done.get_future().wait();
    loop_.reset();  // joins; destroying the io_context closes accepted sockets
  }

  // Replies to every held call.
  void Release() {
    std::promise<void> done;
    loop_->Post([&] {
      std::vector<std::pair<rpc::ConnectionPtr, rpc::Frame>> held;
      {
        std::lock_guard<std::mutex> l(mu_);
        held.swap(held_);
        hold_ = false;
      }
      for (auto& [c, f] : held) Reply(c, f);
      done.set_value();
    });
    done.get_future().wait();
  }

  std::string endpoint() const { return "unix:" + path_; }
  const Status& listen_status() const { return listen_; }
  std::vector<Received> received() {
    std::lock_guard<std::mutex> l(mu_);
    return received_;
  }
  std::vector<uint64_t> seqs() {
    std::vector<uint64_t> out;
    for (const auto& r : received()) out.push_back(r.seq);
    return out;
  }
  size_t num_received() { return received().size(); }

 private:
  void OnFrame(const rpc::ConnectionPtr& c, rpc::Frame&& f) {
    if (f.header.method != rpc::PUSH_TASK) return;
    rpc::PushTaskRequest req;
    if (!req.ParseFromString(f.payload)) return;
    bool hold;
    {
      std::lock_guard<std::mutex> l(mu_);
      received_.push_back({req.task().actor_task().sequence_number(), req.task().task_id(),
                           req.task().actor_task().incarnation()});
      hold = hold_;
      if (hold) held_.emplace_back(c, std::move(f));
    }
    if (!hold) Reply(c, f);
  }

  static void Reply(const rpc::ConnectionPtr& c, const rpc::Frame& f) {
    rpc::PushTaskRequest req;
    req.ParseFromString(f.payload);
    rpc::PushTaskReply reply;
    auto* ret = reply.add_return_objects();
    TaskID task = TaskID::FromBinary(req.task().task_id());
    ret->set_object_id(ObjectID::FromIndex(task, 1).Binary());
    ret->mutable_value()->set_data("ret" + std::to_string(req.task().actor_task().sequence_number()));
    ret->mutable_value()->set_metadata(kMetaPickle);
    ret->set_size(ret->value().data().size());
    c->SendReply(f.header.request_id, f.header.method, reply);
  }

  std::string path_;
  std::unique_ptr<rpc::EventLoop> loop_;
  std::unique_ptr<rpc::FastpathServer> server_;
  Status listen_;
  std::mutex mu_;
  bool hold_;
  std::vector<Received> received_;
  std::vector<std::pair<rpc::ConnectionPtr, rpc::Frame>> held_;
};

std::string Str(const std::shared_ptr<RayObject>& o) {
  if (!o || !o->data) return "";
  return std::string(reinterpret_cast<const char*>(o->data->data()), o->data->size());
}

class ActorTaskSubmitterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    store_ = std::make_unique<MemoryStore>();
    refs_ = std::make_unique<ReferenceCounter>();
    tasks_ = std::make_unique<TaskManager>(store_.get(), refs_.get(), [](const std::vector<DeletedObject>&) {});
    loop_ = std::make_unique<rpc::EventLoop>();
    loop_->Start("submitter_test");
    pool_ = std::make_unique<ConnectionPool>(loop_->io(), [](const rpc::ConnectionPtr&, rpc::Frame&&) {});
    submitter_ = std::make_unique<ActorTaskSubmitter>(pool_.get(), tasks_.get(), [this](const std::string& id) {
      std::lock_guard<std::mutex> l(mu_);
      out_of_scope_.push_back(id);
    });
    actor_ = WorkerID::FromRandom().Binary();
  }

  void TearDown() override {
    actors_.clear();  // servers go away first
    pool_->CloseAll();
    loop_->Join();
    submitter_.reset();
    pool_.reset();
    loop_.reset();
  }

  FakeActor* StartActor(bool hold = false) {
    std::string path = dir_.File("a" + std::to_string(actors_.size()) + ".sock");
    actors_.push_back(std::make_unique<FakeActor>(path, hold));
    EXPECT_TRUE(actors_.back()->listen_status().ok()) << actors_.back()->listen_status().ToString();
    return actors_.back().get();
  }

  rpc::ActorTableData Update(State::ActorState state, uint64_t version, const FakeActor* at = nullptr,
                             int64_t num_restarts = 0, const std::string& cause = "") {
    rpc::ActorTableData d;
    d.set_actor_id(actor_);
    d.set_class_name("Counter");
    d.set_state(state);
    d.set_version(version);
    d.set_num_restarts(num_restarts);
    d.set_death_cause(cause);
    if (at) d.mutable_address()->set_endpoint(at->endpoint());
    return d;
  }

  // A registered (AddPendingTask) actor call spec with a fresh task id.
  rpc::TaskSpec NewCall() {
    rpc::TaskSpec spec;
    spec.set_task_id(TaskID::FromRandom().Binary());
    spec.set_num_returns(1);
    spec.set_name("Counter.inc");
    spec.mutable_actor_task()->set_actor_id(actor_);
    tasks_->AddPendingTask(spec, {});
    return spec;
  }

  // Enqueues (and by default resolves) a call; returns its spec, seq in *seq.
  rpc::TaskSpec Call(bool resolve = true, uint64_t* seq_out = nullptr) {
    rpc::TaskSpec spec = NewCall();
    uint64_t seq = submitter_->Enqueue(actor_, spec);
    if (seq_out) *seq_out = seq;
    if (resolve) submitter_->Resolved(actor_, seq, spec);
    return spec;
  }

  std::shared_ptr<RayObject> Result(const rpc::TaskSpec& spec) {
    return store_->GetIfExists(ObjectID::FromIndex(TaskID::FromBinary(spec.task_id()), 1));
  }
  bool HasResult(const rpc::TaskSpec& spec) { return Result(spec) != nullptr; }
  bool WaitResult(const rpc::TaskSpec& spec) {
    return WaitFor([&] { return HasResult(spec); });
  }
  int OutOfScopeCalls() {
    std::lock_guard<std::mutex> l(mu_);
    return static_cast<int>(out_of_scope_.size());
  }

  TempDir dir_;
  std::unique_ptr<MemoryStore> store_;
  std::unique_ptr<ReferenceCounter> refs_;
  std::unique_ptr<TaskManager> tasks_;
  std::unique_ptr<rpc::EventLoop> loop_;
  std::unique_ptr<ConnectionPool> pool_;
  std::unique_ptr<ActorTaskSubmitter> submitter_;
  std::vector<std::unique_ptr<FakeActor>> actors_;
  std::string actor_;
  std::mutex mu_;
  std::vector<std::string> out_of_scope_;
};

TEST_F(ActorTaskSubmitterTest, CallsBeforeAliveAreSentInOrderAfterAlive) {
  ASSERT_TRUE(submitter_->AddActor(actor_, 0));
  EXPECT_FALSE(submitter_->AddActor(actor_, 0));
  FakeActor* a = StartActor();
  std::vector<rpc::TaskSpec> calls;
  for (int i = 0; i < 5; i++) {
    uint64_t seq;
    calls.push_back(Call(true, &seq));
    EXPECT_EQ(seq, static_cast<uint64_t>(i));
  }
  EXPECT_EQ(submitter_->State(actor_, nullptr), State::PENDING_CREATION);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(a->num_received(), 0u);  // not alive yet: nothing sent
  EXPECT_EQ(submitter_->NumPending(actor_), 5);

  submitter_->OnActorUpdate(Update(State::ALIVE, 1, a));
  ASSERT_TRUE(WaitFor([&] { return a->num_received() == 5; }));
  EXPECT_EQ(a->seqs(), (std::vector<uint64_t>{0, 1, 2, 3, 4}));
  for (size_t i = 0; i < calls.size(); i++) {
    EXPECT_EQ(a->received()[i].task_id, calls[i].task_id());
    ASSERT_TRUE(WaitResult(calls[i])) << i;
    EXPECT_EQ(Str(Result(calls[i])), "ret" + std::to_string(i));
    EXPECT_EQ(Result(calls[i])->metadata, kMetaPickle);
  }
  EXPECT_TRUE(WaitFor([&] { return submitter_->NumPending(actor_) == 0; }));
  EXPECT_EQ(tasks_->NumPending(), 0u);

  // Calls made while alive go straight out.
  auto later = Call();
  ASSERT_TRUE(WaitResult(later));
  EXPECT_EQ(Str(Result(later)), "ret5");
}

TEST_F(ActorTaskSubmitterTest, OutOfOrderResolutionKeepsSequenceOrder) {
  submitter_->AddActor(actor_, 0);
  FakeActor* a = StartActor();
  submitter_->OnActorUpdate(Update(State::ALIVE, 1, a));
  std::vector<rpc::TaskSpec> calls;
  std::vector<uint64_t> seqs(3);
  for (int i = 0; i < 3; i++) calls.push_back(Call(false, &seqs[i]));
  ASSERT_EQ(seqs, (std::vector<uint64_t>{0, 1, 2}));

  submitter_->Resolved(actor_, 2, calls[2]);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(a->num_received(), 0u) << "sent past unresolved seq 0";
  submitter_->Resolved(actor_, 0, calls[0]);
  ASSERT_TRUE(WaitFor([&] { return a->num_received() >= 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(a->seqs(), (std::vector<uint64_t>{0})) << "sent past unresolved seq 1";
  submitter_->Resolved(actor_, 1, calls[1]);
  ASSERT_TRUE(WaitFor([&] { return a->num_received() == 3; }));
  EXPECT_EQ(a->seqs(), (std::vector<uint64_t>{0, 1, 2}));
  for (int i = 0; i < 3; i++) {
    EXPECT_EQ(a->received()[i].task_id, calls[i].task_id());
    ASSERT_TRUE(WaitResult(calls[i]));
    EXPECT_EQ(Str(Result(calls[i])), "ret" + std::to_string(i));
  }
}

TEST_F(ActorTaskSubmitterTest, StaleUpdateIsIgnored) {
  submitter_->AddActor(actor_, 0);
  FakeActor* a = StartActor();
  FakeActor* b = StartActor();
  submitter_->OnActorUpdate(Update(State::ALIVE, 5, a));
  // Older and equal versions change nothing: not DEAD, not moved to b.
  submitter_->OnActorUpdate(Update(State::DEAD, 4, nullptr, 0, "stale death"));
  submitter_->OnActorUpdate(Update(State::ALIVE, 3, b, 1));
  submitter_->OnActorUpdate(Update(State::RESTARTING, 5, nullptr, 1, "same version"));
  std::string cause;
  EXPECT_EQ(submitter_->State(actor_, &cause), State::ALIVE);
  EXPECT_EQ(cause, "");
  auto c = Call();
  ASSERT_TRUE(WaitResult(c));
  EXPECT_FALSE(Result(c)->IsError());
  EXPECT_EQ(a->num_received(), 1u);
  EXPECT_EQ(b->num_received(), 0u);
  EXPECT_EQ(a->received()[0].incarnation, 0);

  // A newer one applies.
  submitter_->OnActorUpdate(Update(State::DEAD, 6, nullptr, 0, "real death"));
  EXPECT_EQ(submitter_->State(actor_, &cause), State::DEAD);
  EXPECT_EQ(cause, "real death");
}

TEST_F(ActorTaskSubmitterTest, DeadFailsQueuedAndLaterCalls) {
  submitter_->AddActor(actor_, 3);
  auto resolved = Call(true);
  auto unresolved = Call(false);
  submitter_->OnActorUpdate(Update(State::DEAD, 1, nullptr, 0, "its node died"));
  for (const auto* c : {&resolved, &unresolved}) {
    ASSERT_TRUE(HasResult(*c));
    EXPECT_EQ(Result(*c)->metadata, kMetaActorDied);
    EXPECT_NE(Str(Result(*c)).find("its node died"), std::string::npos) << Str(Result(*c));
    EXPECT_NE(Str(Result(*c)).find("Counter"), std::string::npos) << Str(Result(*c));
  }
  EXPECT_EQ(submitter_->NumPending(actor_), 0);
  auto later = Call();
  ASSERT_TRUE(HasResult(later));
  EXPECT_EQ(Result(later)->metadata, kMetaActorDied);
  EXPECT_NE(Str(Result(later)).find("its node died"), std::string::npos);
  EXPECT_EQ(tasks_->NumPending(), 0u);
  // Resolving a call that already failed is harmless.
  submitter_->Resolved(actor_, 1, unresolved);

  // __init__ raised: callers get the creation error itself.
  actor_ = WorkerID::FromRandom().Binary();
  submitter_->AddActor(actor_, 0);
  auto queued = Call(false);
  auto dead = Update(State::DEAD, 1, nullptr, 0, "__init__ raised");
  dead.set_creation_error("pickled-error");
  submitter_->OnActorUpdate(dead);
  ASSERT_TRUE(HasResult(queued));
  EXPECT_EQ(Result(queued)->metadata, kMetaActorInitFailed);
  EXPECT_EQ(Str(Result(queued)), "pickled-error");
  auto after = Call();
  ASSERT_TRUE(HasResult(after));
  EXPECT_EQ(Result(after)->metadata, kMetaActorInitFailed);
  EXPECT_EQ(Str(Result(after)), "pickled-error");
}

TEST_F(ActorTaskSubmitterTest, DeadFailsInFlightCalls) {
  submitter_->AddActor(actor_, 0);
  FakeActor* a = StartActor(/*hold=*/true);
  submitter_->OnActorUpdate(Update(State::ALIVE, 1, a));
  auto c = Call();
  ASSERT_TRUE(WaitFor([&] { return a->num_received() == 1; }));
  submitter_->OnActorUpdate(Update(State::DEAD, 2, nullptr, 0, "killed"));
  ASSERT_TRUE(HasResult(c));
  EXPECT_EQ(Result(c)->metadata, kMetaActorDied);
  // A late reply from the dead incarnation does not overwrite the error.
  a->Release();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(Result(c)->metadata, kMetaActorDied);
}

TEST_F(ActorTaskSubmitterTest, RestartResendsInFlightCallWithRetries) {
  submitter_->AddActor(actor_, 1);
  FakeActor* a = StartActor(/*hold=*/true);
  submitter_->OnActorUpdate(Update(State::ALIVE, 1, a));
  auto c = Call();
  ASSERT_TRUE(WaitFor([&] { return a->num_received() == 1; }));
  EXPECT_EQ(a->received()[0].incarnation, 0);
  a->Shutdown();  // the process dies holding the call
  submitter_->OnActorUpdate(Update(State::RESTARTING, 2, nullptr, 0, "crashed"));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(HasResult(c));
  EXPECT_EQ(submitter_->NumPending(actor_), 1);
  auto queued_during_restart = Call();

  FakeActor* b = StartActor();
  submitter_->OnActorUpdate(Update(State::ALIVE, 3, b, 1));
  ASSERT_TRUE(WaitFor([&] { return b->num_received() == 2; }));
  EXPECT_EQ(b->seqs(), (std::vector<uint64_t>{0, 1}));
  EXPECT_EQ(b->received()[0].task_id, c.task_id());
  EXPECT_EQ(b->received()[0].incarnation, 1);
  ASSERT_TRUE(WaitResult(c));
  EXPECT_EQ(Str(Result(c)), "ret0");
  ASSERT_TRUE(WaitResult(queued_during_restart));
  EXPECT_EQ(Str(Result(queued_during_restart)), "ret1");
  EXPECT_TRUE(WaitFor([&] { return submitter_->NumPending(actor_) == 0; }));
}

TEST_F(ActorTaskSubmitterTest, RestartFailsInFlightCallWithoutRetries) {
  submitter_->AddActor(actor_, 0);
  FakeActor* a = StartActor(/*hold=*/true);
  submitter_->OnActorUpdate(Update(State::ALIVE, 1, a));
  auto c = Call();
  ASSERT_TRUE(WaitFor([&] { return a->num_received() == 1; }));
  a->Shutdown();
  submitter_->OnActorUpdate(Update(State::RESTARTING, 2, nullptr, 0, "crashed"));
  ASSERT_TRUE(HasResult(c));
  // Like Ray: the actor restarts, so the call fails as unavailable, not dead.
  EXPECT_EQ(Result(c)->metadata, kMetaActorUnavailable);
  EXPECT_NE(Str(Result(c)).find("crashed"), std::string::npos) << Str(Result(c));
  EXPECT_EQ(submitter_->NumPending(actor_), 0);

  // The restarted actor still serves new calls.
  FakeActor* b = StartActor();
  submitter_->OnActorUpdate(Update(State::ALIVE, 3, b, 1));
  auto next = Call();
  ASSERT_TRUE(WaitResult(next));
  EXPECT_EQ(Str(Result(next)), "ret1");
  EXPECT_EQ(b->seqs(), (std::vector<uint64_t>{1}));
}

TEST_F(ActorTaskSubmitterTest, NumPendingOutOfScopeAndCancelQueued) {
  submitter_->AddActor(actor_, 0);
  FakeActor* a = StartActor(/*hold=*/true);
  submitter_->OnActorUpdate(Update(State::ALIVE, 1, a));
  auto c0 = Call(true);
  uint64_t seq1, seq2;
  auto c1 = Call(false, &seq1);
  auto c2 = Call(false, &seq2);
  ASSERT_TRUE(WaitFor([&] { return a->num_received() == 1; }));
  EXPECT_EQ(submitter_->NumPending(actor_), 3);  // 1 in flight + 2 queued

  bool is_actor_call = false;
  EXPECT_TRUE(submitter_->CancelQueued(TaskID::FromBinary(c2.task_id()), &is_actor_call));
  EXPECT_TRUE(is_actor_call);
  EXPECT_EQ(submitter_->NumPending(actor_), 2);
  EXPECT_FALSE(submitter_->CancelQueued(TaskID::FromBinary(c0.task_id()), &is_actor_call));
  EXPECT_TRUE(is_actor_call) << "in-flight call is an actor call";
  EXPECT_FALSE(submitter_->CancelQueued(TaskID::FromRandom(), &is_actor_call));
  EXPECT_FALSE(is_actor_call);
  submitter_->Resolved(actor_, seq2, c2);  // cancelled: never sent

  submitter_->MarkOutOfScope(actor_);
  EXPECT_EQ(OutOfScopeCalls(), 0);
  submitter_->Resolved(actor_, seq1, c1);
  ASSERT_TRUE(WaitFor([&] { return a->num_received() == 2; }));
  EXPECT_EQ(OutOfScopeCalls(), 0);
  a->Release();
  ASSERT_TRUE(WaitResult(c0));
  ASSERT_TRUE(WaitResult(c1));
  ASSERT_TRUE(WaitFor([&] { return OutOfScopeCalls() == 1; }));
  EXPECT_EQ(submitter_->NumPending(actor_), 0);
  EXPECT_EQ(a->seqs(), (std::vector<uint64_t>{0, 1}));
  EXPECT_FALSE(HasResult(c2));
  submitter_->MarkOutOfScope(actor_);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(OutOfScopeCalls(), 1) << "out-of-scope callback ran twice";
}

TEST_F(ActorTaskSubmitterTest, OutOfScopeWithNothingPendingFiresAtOnce) {
  submitter_->AddActor(actor_, 0);
  submitter_->MarkOutOfScope(actor_);
  EXPECT_EQ(OutOfScopeCalls(), 1);
}

TEST_F(ActorTaskSubmitterTest, MarkKilledFailsPendingCallsAtOnce) {
  submitter_->AddActor(actor_, 2);
  FakeActor* a = StartActor(/*hold=*/true);
  submitter_->OnActorUpdate(Update(State::ALIVE, 1, a));
  auto in_flight = Call(true);
  auto queued = Call(false);
  ASSERT_TRUE(WaitFor([&] { return a->num_received() == 1; }));
  submitter_->MarkKilled(actor_, "killed by lumos.kill");
  for (const auto* c : {&in_flight, &queued}) {
    ASSERT_TRUE(HasResult(*c));
    EXPECT_EQ(Result(*c)->metadata, kMetaActorDied);
    EXPECT_NE(Str(Result(*c)).find("killed by lumos.kill"), std::string::npos);
  }
  EXPECT_EQ(submitter_->NumPending(actor_), 0);
  // Later GCS updates (even newer versions) cannot revive it.
  submitter_->OnActorUpdate(Update(State::ALIVE, 2, a));
  EXPECT_EQ(submitter_->State(actor_, nullptr), State::DEAD);
  auto later = Call();
  ASSERT_TRUE(HasResult(later));
  EXPECT_EQ(Result(later)->metadata, kMetaActorDied);
}

}  // namespace
}  // namespace lumos::core
