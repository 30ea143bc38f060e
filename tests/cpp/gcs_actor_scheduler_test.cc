// Actors created through the GCS, end to end: a real GcsServer and a real
// raylet NodeManager in-process (workers are /bin/sleep), a fake worker that
// registers under the pid of a started /bin/sleep and serves PUSH_TASK on its
// own FastpathServer, and fake owner/subscriber endpoints recording the
// ACTOR_STATE_UPDATE frames they receive.
#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common.pb.h"
#include "common/config.h"
#include "core_worker.pb.h"
#include "gcs/gcs_server.h"
#include "node_manager.pb.h"
#include "raylet/node_manager.h"
#include "rpc/connection.h"
#include "rpc/event_loop.h"
#include "rpc/gcs_client.h"
#include "rpc/server.h"
#include "test_util.h"

namespace lumos::gcs {
namespace {

using lumos::testing::TempDir;
using lumos::testing::WaitFor;
using State = rpc::ActorTableData;

// Live (not zombie) /bin/sleep children of this process: the raylet's workers.
std::vector<pid_t> SleepChildren() {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line) || line.find("(sleep)") == std::string::npos) continue;
    size_t close = line.rfind(')');
    char state = 0;
    int ppid = 0;
    if (sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid) != 2) continue;
    if (ppid == getpid() && state != 'Z') out.push_back(pid);
  }
  closedir(d);
  return out;
}

// A fastpath endpoint that records what the GCS sends it (an owner or a subscriber).
class Recorder {
 public:
  Recorder(asio::io_context& io, const std::string& path)
      : server_(
            io, path,
            [this](const rpc::ConnectionPtr& c, rpc::Frame&& f) {
              std::lock_guard<std::mutex> lock(mu_);
              if (std::find(conns_.begin(), conns_.end(), c) == conns_.end()) conns_.push_back(c);
              if (f.header.method == rpc::ACTOR_STATE_UPDATE) {
                rpc::ActorTableData d;
                if (d.ParseFromString(f.payload)) updates_.push_back(d);
              } else if (f.header.method == rpc::FORWARD_LOGS) {
                rpc::ForwardLogsRequest logs;
                if (logs.ParseFromString(f.payload)) {
                  for (const auto& l : logs.lines()) log_lines_.push_back(l);
                }
              }
            },
            nullptr),
        endpoint_("unix:" + path) {}

  Status Listen() { return server_.Listen(); }
  const std::string& endpoint() const { return endpoint_; }
  std::vector<rpc::ActorTableData> updates() {
    std::lock_guard<std::mutex> lock(mu_);
    return updates_;
  }
  std::vector<std::string> log_lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_lines_;
  }
  bool Saw(State::ActorState state) {
    for (const auto& u : updates()) {
      if (u.state() == state) return true;
    }
    return false;
  }
  // The process "dies": stop listening and hang up every connection.
  void Die() {
    server_.Stop();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& c : conns_) c->Close();
  }

 private:
  rpc::FastpathServer server_;
  std::string endpoint_;
  std::mutex mu_;
  std::vector<rpc::ConnectionPtr> conns_;
  std::vector<rpc::ActorTableData> updates_;
  std::vector<std::string> log_lines_;
};

// Plays the worker process the raylet started: registers with the raylet under
// the pid of a /bin/sleep child, and serves PUSH_TASK on its own socket.
class FakeWorker {
 public:
  struct Push {
    rpc::ConnectionPtr conn;
    uint64_t request_id;
    rpc::TaskSpec task;
  };

  FakeWorker(asio::io_context& io, const std::string& path)
      : io_(io),
        path_(path),
        server_(io, path,
                [this](const rpc::ConnectionPtr& c, rpc::Frame&& f) {
                  if (f.header.method != rpc::PUSH_TASK) return;
                  rpc::PushTaskRequest req;
                  req.ParseFromString(f.payload);
                  std::lock_guard<std::mutex> lock(mu_);
                  pushes_.push_back(Push{c, f.header.request_id, req.task()});
                  cv_.notify_all();
                },
                nullptr) {}

  /// Registers with the raylet for the sleep child `pid`.
  Status Register(const std::string& raylet_path, pid_t pid) {
    LUMOS_RETURN_NOT_OK(server_.Listen());
    auto conn = rpc::Connection::Connect(io_, raylet_path, 2000);
    LUMOS_RETURN_NOT_OK(conn.status());
    raylet_ = conn.value();
    raylet_->Start([](const rpc::ConnectionPtr&, rpc::Frame&&) {}, nullptr);
    rpc::RegisterClientRequest reg;
    reg.set_worker_id(id_.Binary());
    reg.set_is_driver(false);
    reg.set_pid(pid);
    reg.set_endpoint(endpoint());
    std::promise<Status> done;
    raylet_->SendRequest(rpc::REGISTER_CLIENT, reg,
                         [&done](const Status& s, rpc::Frame&&) { done.set_value(s); });
    auto fut = done.get_future();
    if (fut.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
      return Status::TimedOut("no registration reply");
    }
    pid_ = pid;
    return fut.get();
  }

  /// Waits for the next PUSH_TASK.
  bool NextPush(Push* out, int timeout_ms = 5000) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return !pushes_.empty(); })) {
      return false;
    }
    *out = pushes_.front();
    pushes_.pop_front();
    return true;
  }

  std::string endpoint() const { return "unix:" + path_; }
  const WorkerID& id() const { return id_; }
  pid_t pid() const { return pid_; }

 private:
  asio::io_context& io_;
  std::string path_;
  rpc::FastpathServer server_;
  WorkerID id_ = WorkerID::FromRandom();
  pid_t pid_ = 0;
  rpc::ConnectionPtr raylet_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Push> pushes_;
};

// A real raylet NodeManager on its own loop thread.
struct RayletHandle {
  std::unique_ptr<rpc::EventLoop> loop;
  std::unique_ptr<raylet::NodeManager> nm;
  std::thread thread;
  std::string socket_path;

  Status Start(const NodeID& id, const std::string& socket, const TempDir& dir,
               std::map<std::string, double> resources, std::shared_ptr<rpc::GcsClient> gcs) {
    raylet::NodeManagerOptions opts;
    opts.node_id = id;
    opts.socket_path = socket;
    opts.store_endpoint = "unix:" + dir.File("store.sock");  // never dialed here
    opts.session_dir = dir.path();
    opts.resources = ResourceSet::FromMap(resources).value();
    opts.worker_pool.worker_argv = {"/bin/sleep", "1000"};
    opts.worker_pool.log_dir = dir.path();
    opts.verify_worker_peer_pid = false;  // this test's process registers for the raylet's children
    socket_path = socket;
    loop = std::make_unique<rpc::EventLoop>();
    nm = std::make_unique<raylet::NodeManager>(loop->io(), opts, std::move(gcs));
    LUMOS_RETURN_NOT_OK(nm->Start());
    thread = std::thread([this] { loop->RunInThisThread(); });
    return Status::OK();
  }
  // Stops it on its loop thread (kills its workers, unregisters the node).
  void Stop(const std::string& reason) {
    if (!thread.joinable()) return;
    std::promise<void> stopped;
    loop->Post([&] {
      nm->Stop(reason);
      loop->Stop();
      stopped.set_value();
    });
    stopped.get_future().wait();
    thread.join();
  }
  ~RayletHandle() {
    Stop("test done");
    nm.reset();
    loop.reset();
  }
};

class ActorSchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    GcsServerOptions gopts;
    gopts.session_dir = dir_.path();
    gcs_server_ = std::make_unique<GcsServer>(gopts);
    ASSERT_TRUE(gcs_server_->Start().ok());
    gcs_ = std::make_shared<rpc::GcsClient>(gcs_server_->address());
    ASSERT_TRUE(gcs_->Connect(5000).ok());

    node_id_ = NodeID::FromRandom();
    raylet_path_ = dir_.File("raylet.sock");
    Status s = raylet_.Start(node_id_, raylet_path_, dir_, {{"CPU", 2}}, gcs_);
    ASSERT_TRUE(s.ok()) << s.ToString();

    test_loop_ = std::make_unique<rpc::EventLoop>();
    test_loop_->Start("test_io");
    owner_ = std::make_unique<Recorder>(test_loop_->io(), dir_.File("owner.sock"));
    ASSERT_TRUE(owner_->Listen().ok());
    subscriber_ = std::make_unique<Recorder>(test_loop_->io(), dir_.File("sub.sock"));
    ASSERT_TRUE(subscriber_->Listen().ok());
  }

  void TearDown() override {
    extra_raylet_.reset();
    raylet_.Stop("test done");
    if (gcs_server_) gcs_server_->Shutdown();
    // Objects bound to the test loop go before it.
    std::promise<void> cleared;
    test_loop_->Post([&] {
      workers_.clear();
      owner_.reset();
      subscriber_.reset();
      cleared.set_value();
    });
    cleared.get_future().wait();
    test_loop_.reset();
    gcs_.reset();
  }

  rpc::TaskSpec Creation(int max_restarts = 0, double cpus = 1, const std::string& name = "") {
    rpc::TaskSpec t;
    t.set_task_id(TaskID::ForJob(JobID::FromInt(1)).Binary());
    t.set_job_id(JobID::FromInt(1).Binary());
    t.set_name("Counter.__init__");
    t.mutable_caller()->set_worker_id(owner_id_.Binary());
    t.mutable_caller()->set_endpoint(owner_->endpoint());
    t.set_num_returns(1);
    (*t.mutable_required_resources())["CPU"] = cpus;
    (*t.mutable_placement_resources())["CPU"] = cpus;
    auto* c = t.mutable_actor_creation();
    c->set_actor_id(WorkerID::FromRandom().Binary());
    c->set_max_restarts(max_restarts);
    c->set_class_name("Counter");
    c->set_name(name);
    c->set_ray_namespace("ns");
    return t;
  }

  // A fake worker for the next /bin/sleep child the raylet starts (not one of `taken`).
  FakeWorker* AttachWorker(const std::vector<pid_t>& taken = {}, const std::string& raylet = "") {
    std::vector<pid_t> kids;
    pid_t pid = 0;
    bool found = WaitFor([&] {
      for (pid_t k : SleepChildren()) {
        if (std::find(taken.begin(), taken.end(), k) == taken.end()) {
          pid = k;
          return true;
        }
      }
      return false;
    });
    EXPECT_TRUE(found) << "the raylet started no worker process";
    if (!found) return nullptr;
    auto w = std::make_unique<FakeWorker>(test_loop_->io(),
                                          dir_.File("w" + std::to_string(workers_.size()) + ".sock"));
    Status s = w->Register(raylet.empty() ? raylet_path_ : raylet, pid);
    EXPECT_TRUE(s.ok()) << s.ToString();
    workers_.push_back(std::move(w));
    return workers_.back().get();
  }

  rpc::ActorTableData Info(const std::string& id) {
    rpc::ActorTableData d;
    Status s = gcs_->GetActorInfo(id, &d);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return d;
  }
  bool WaitForState(const std::string& id, State::ActorState state, int64_t timeout_ms = 5000) {
    return WaitFor([&] { return Info(id).state() == state; }, timeout_ms);
  }
  bool ProcessGone(pid_t pid) {
    return WaitFor([&] {
      auto kids = SleepChildren();
      return std::find(kids.begin(), kids.end(), pid) == kids.end();
    });
  }

  // Registers an actor, plays its worker and answers the creation task OK.
  std::string CreateAlive(const rpc::TaskSpec& t, FakeWorker** worker_out,
                          FakeWorker::Push* push_out = nullptr) {
    std::string id = t.actor_creation().actor_id();
    Status s = gcs_->RegisterActor(t, nullptr);
    EXPECT_TRUE(s.ok()) << s.ToString();
    FakeWorker* w = AttachWorker();
    if (w == nullptr) return id;
    FakeWorker::Push push;
    EXPECT_TRUE(w->NextPush(&push)) << "the creation task never reached the worker";
    EXPECT_EQ(push.task.actor_creation().actor_id(), id);
    EXPECT_EQ(push.task.task_id(), t.task_id());
    push.conn->SendReply(push.request_id, rpc::PUSH_TASK, rpc::PushTaskReply());
    EXPECT_TRUE(WaitForState(id, State::ALIVE));
    if (worker_out) *worker_out = w;
    if (push_out) *push_out = push;
    return id;
  }

  TempDir dir_;
  std::unique_ptr<GcsServer> gcs_server_;
  std::shared_ptr<rpc::GcsClient> gcs_;
  NodeID node_id_;
  std::string raylet_path_;
  RayletHandle raylet_;
  std::unique_ptr<RayletHandle> extra_raylet_;
  std::unique_ptr<rpc::EventLoop> test_loop_;
  std::unique_ptr<Recorder> owner_;
  std::unique_ptr<Recorder> subscriber_;
  std::vector<std::unique_ptr<FakeWorker>> workers_;
  WorkerID owner_id_ = WorkerID::FromRandom();
};

TEST_F(ActorSchedulerTest, CreatePublishAndDieWithTheWorker) {
  rpc::TaskSpec t = Creation(/*max_restarts=*/0);
  std::string id = t.actor_creation().actor_id();
  ASSERT_TRUE(gcs_->RegisterActor(t, nullptr).ok());
  rpc::Address sub;
  sub.set_endpoint(subscriber_->endpoint());
  rpc::ActorTableData current;
  ASSERT_TRUE(gcs_->SubscribeActor(id, sub, &current).ok());
  EXPECT_EQ(current.actor_id(), id);
  EXPECT_NE(current.state(), State::DEAD);

  FakeWorker* w = AttachWorker();
  ASSERT_NE(w, nullptr);
  FakeWorker::Push push;
  ASSERT_TRUE(w->NextPush(&push));
  EXPECT_EQ(push.task.actor_creation().actor_id(), id);
  EXPECT_EQ(push.task.actor_creation().class_name(), "Counter");
  // Lines printed by __init__ reach the owner.
  rpc::ForwardLogsRequest logs;
  logs.add_lines("(Counter pid=1) hello from __init__");
  push.conn->SendOneway(rpc::FORWARD_LOGS, logs);
  push.conn->SendReply(push.request_id, rpc::PUSH_TASK, rpc::PushTaskReply());

  ASSERT_TRUE(WaitForState(id, State::ALIVE));
  rpc::ActorTableData d = Info(id);
  EXPECT_EQ(d.address().endpoint(), w->endpoint());
  EXPECT_EQ(d.address().worker_id(), w->id().Binary());
  EXPECT_EQ(d.address().node_id(), node_id_.Binary());
  EXPECT_TRUE(d.death_cause().empty());
  EXPECT_TRUE(WaitFor([&] { return subscriber_->Saw(State::ALIVE) && owner_->Saw(State::ALIVE); }));
  EXPECT_TRUE(WaitFor([&] { return !owner_->log_lines().empty(); }));
  EXPECT_EQ(owner_->log_lines()[0], "(Counter pid=1) hello from __init__");

  // The worker hangs up: the actor dies (no restarts), and its lease goes back
  // with disconnect, so the raylet kills the worker process.
  push.conn->Close();
  ASSERT_TRUE(WaitForState(id, State::DEAD));
  d = Info(id);
  EXPECT_NE(d.death_cause().find("the actor's worker process died ("), std::string::npos)
      << d.death_cause();
  EXPECT_TRUE(ProcessGone(w->pid()));
  EXPECT_TRUE(WaitFor([&] { return subscriber_->Saw(State::DEAD); }));
  // Versions only go up.
  auto updates = subscriber_->updates();
  for (size_t i = 1; i < updates.size(); i++) {
    EXPECT_GT(updates[i].version(), updates[i - 1].version());
  }
}

TEST_F(ActorSchedulerTest, KillReturnsTheLeaseWithDisconnect) {
  FakeWorker* w = nullptr;
  std::string id = CreateAlive(Creation(), &w);
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(gcs_->KillActor(id, /*no_restart=*/true, "killed by the test").ok());
  rpc::ActorTableData d = Info(id);
  EXPECT_EQ(d.state(), State::DEAD);
  EXPECT_EQ(d.death_cause(), "killed by the test");
  // RETURN_WORKER with disconnect_worker reached the raylet: it killed the process.
  EXPECT_TRUE(ProcessGone(w->pid()));
  EXPECT_TRUE(WaitFor([&] { return owner_->Saw(State::DEAD); }));
  // Killing again is fine; an unknown actor is NotFound.
  EXPECT_TRUE(gcs_->KillActor(id, true, "again").ok());
  EXPECT_EQ(gcs_->KillActor("no-such-actor", true, "").code(), StatusCode::kNotFound);
}

TEST_F(ActorSchedulerTest, InitErrorIsDeathWithTheCreationError) {
  rpc::TaskSpec t = Creation(/*max_restarts=*/3);
  std::string id = t.actor_creation().actor_id();
  ASSERT_TRUE(gcs_->RegisterActor(t, nullptr).ok());
  FakeWorker* w = AttachWorker();
  ASSERT_NE(w, nullptr);
  FakeWorker::Push push;
  ASSERT_TRUE(w->NextPush(&push));
  rpc::PushTaskReply reply;
  reply.set_is_application_error(true);
  reply.set_error_message("ValueError: boom");
  auto* r = reply.add_return_objects();
  r->set_object_id(ObjectID::FromIndex(TaskID::FromBinary(t.task_id()), 1).Binary());
  r->mutable_value()->set_data("pickled-error");
  r->mutable_value()->set_metadata("E");
  push.conn->SendReply(push.request_id, rpc::PUSH_TASK, reply);
  ASSERT_TRUE(WaitForState(id, State::DEAD));
  rpc::ActorTableData d = Info(id);
  EXPECT_EQ(d.creation_error(), "pickled-error");
  EXPECT_EQ(d.death_cause(), "the actor's __init__ raised: ValueError: boom");
  EXPECT_EQ(d.num_restarts(), 0);  // never restarted
  EXPECT_TRUE(ProcessGone(w->pid()));
  EXPECT_TRUE(WaitFor([&] { return owner_->Saw(State::DEAD); }));
}

TEST_F(ActorSchedulerTest, WorkerDeathRestartsTheActorOnANewWorker) {
  FakeWorker* w1 = nullptr;
  rpc::TaskSpec t = Creation(/*max_restarts=*/1);
  std::string id = CreateAlive(t, &w1);
  ASSERT_NE(w1, nullptr);
  // The raylet says how the worker ended.
  ASSERT_TRUE(gcs_->ReportWorkerFailure(w1->id().Binary(), node_id_.Binary(), "exit code 3").ok());
  EXPECT_TRUE(WaitFor([&] { return Info(id).state() != State::ALIVE; }));
  rpc::ActorTableData d = Info(id);
  EXPECT_EQ(d.state(), State::RESTARTING);
  EXPECT_EQ(d.num_restarts(), 1);
  EXPECT_EQ(d.death_cause(), "the actor's worker process died (exit code 3)");
  EXPECT_TRUE(ProcessGone(w1->pid()));

  FakeWorker* w2 = AttachWorker({w1->pid()});
  ASSERT_NE(w2, nullptr);
  FakeWorker::Push push;
  ASSERT_TRUE(w2->NextPush(&push));
  EXPECT_EQ(push.task.task_id(), t.task_id());
  push.conn->SendReply(push.request_id, rpc::PUSH_TASK, rpc::PushTaskReply());
  ASSERT_TRUE(WaitForState(id, State::ALIVE));
  d = Info(id);
  EXPECT_EQ(d.address().worker_id(), w2->id().Binary());
  EXPECT_TRUE(d.death_cause().empty());
  EXPECT_TRUE(WaitFor([&] { return owner_->Saw(State::RESTARTING); }));
}

TEST_F(ActorSchedulerTest, InfeasibleActorWarnsAndStaysPending) {
  rpc::TaskSpec t = Creation(0, /*cpus=*/64);
  std::string id = t.actor_creation().actor_id();
  ASSERT_TRUE(gcs_->RegisterActor(t, nullptr).ok());
  ASSERT_TRUE(WaitFor([&] { return !Info(id).death_cause().empty(); }));
  rpc::ActorTableData d = Info(id);
  EXPECT_EQ(d.state(), State::PENDING_CREATION);
  EXPECT_NE(d.death_cause().find("Counter"), std::string::npos) << d.death_cause();
  EXPECT_NE(d.death_cause().find("{CPU: 64}"), std::string::npos) << d.death_cause();
  EXPECT_NE(d.death_cause().find("{CPU: 2}"), std::string::npos) << d.death_cause();
  // The owner is told (it prints the warning).
  EXPECT_TRUE(WaitFor([&] {
    for (const auto& u : owner_->updates()) {
      if (u.state() == State::PENDING_CREATION && !u.death_cause().empty()) return true;
    }
    return false;
  }));
  EXPECT_TRUE(SleepChildren().empty());  // nothing was leased
  ASSERT_TRUE(gcs_->KillActor(id, true, "").ok());
  EXPECT_EQ(Info(id).death_cause(), "killed by lumos.kill()");
}

TEST_F(ActorSchedulerTest, OwnerDeathKillsTheActor) {
  FakeWorker* w = nullptr;
  std::string id = CreateAlive(Creation(/*max_restarts=*/-1), &w);
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(WaitFor([&] { return owner_->Saw(State::ALIVE); }));
  owner_->Die();
  ASSERT_TRUE(WaitForState(id, State::DEAD));
  EXPECT_EQ(Info(id).death_cause(), "its owner (worker " + owner_id_.Hex() + ") died");
  EXPECT_TRUE(ProcessGone(w->pid()));
}

TEST_F(ActorSchedulerTest, NamedActorsThroughTheClient) {
  // Infeasible, so they stay pending and need no worker.
  rpc::TaskSpec a = Creation(0, 64, "counter");
  ASSERT_TRUE(gcs_->RegisterActor(a, nullptr).ok());
  rpc::ActorTableData existing;
  rpc::TaskSpec b = Creation(0, 64, "counter");
  Status s = gcs_->RegisterActor(b, &existing);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();
  EXPECT_EQ(existing.actor_id(), a.actor_creation().actor_id());
  // A retried registration of the same actor is fine.
  EXPECT_TRUE(gcs_->RegisterActor(a, nullptr).ok());

  rpc::ActorTableData found;
  ASSERT_TRUE(gcs_->GetNamedActorInfo("counter", "ns", &found).ok());
  EXPECT_EQ(found.actor_id(), a.actor_creation().actor_id());
  EXPECT_EQ(found.class_name(), "Counter");
  s = gcs_->GetNamedActorInfo("counter", "other", &found);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("'counter'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("'other'"), std::string::npos) << s.message();

  std::vector<rpc::ActorTableData> list;
  ASSERT_TRUE(gcs_->ListNamedActors("ns", false, &list).ok());
  ASSERT_EQ(list.size(), 1u);
  ASSERT_TRUE(gcs_->ListNamedActors("other", false, &list).ok());
  EXPECT_TRUE(list.empty());
  ASSERT_TRUE(gcs_->ListNamedActors("", true, &list).ok());
  EXPECT_EQ(list.size(), 1u);

  ASSERT_TRUE(gcs_->KillActor(a.actor_creation().actor_id(), true, "").ok());
  EXPECT_EQ(gcs_->GetNamedActorInfo("counter", "ns", &found).code(), StatusCode::kNotFound);
  EXPECT_TRUE(gcs_->RegisterActor(b, nullptr).ok());  // the name is free again

  rpc::ActorTableData info;
  EXPECT_EQ(gcs_->GetActorInfo("unknown", &info).code(), StatusCode::kNotFound);
  rpc::Address sub;
  sub.set_endpoint(subscriber_->endpoint());
  EXPECT_EQ(gcs_->SubscribeActor("unknown", sub, &info).code(), StatusCode::kNotFound);
  EXPECT_EQ(gcs_->ReportWorkerFailure("short", "", "x").code(), StatusCode::kInvalidArgument);
}

TEST_F(ActorSchedulerTest, NodeDeathKillsItsActors) {
  FakeWorker* w = nullptr;
  std::string id = CreateAlive(Creation(), &w);
  ASSERT_NE(w, nullptr);
  // The raylet stops: it kills its workers and unregisters its node (marking a
  // node dead under a running raylet would make it SIGTERM this process).
  raylet_.Stop("the test pulled the plug");
  ASSERT_TRUE(WaitForState(id, State::DEAD));
  std::string cause = Info(id).death_cause();
  EXPECT_EQ(cause.rfind("its node died (", 0), 0u) << cause;
  EXPECT_NE(cause.find("the test pulled the plug"), std::string::npos) << cause;
}

TEST_F(ActorSchedulerTest, PendingActorIsPlacedWhenAFittingNodeJoins) {
  rpc::TaskSpec t = Creation();
  (*t.mutable_required_resources())["custom"] = 1;
  std::string id = t.actor_creation().actor_id();
  ASSERT_TRUE(gcs_->RegisterActor(t, nullptr).ok());
  ASSERT_TRUE(WaitFor([&] { return !Info(id).death_cause().empty(); }));
  EXPECT_NE(Info(id).death_cause().find("custom: 1"), std::string::npos) << Info(id).death_cause();
  EXPECT_NE(Info(id).death_cause().find("custom: 0"), std::string::npos) << Info(id).death_cause();

  NodeID second = NodeID::FromRandom();
  extra_raylet_ = std::make_unique<RayletHandle>();
  Status s = extra_raylet_->Start(second, dir_.File("raylet2.sock"), dir_, {{"CPU", 1}, {"custom", 1}},
                                  gcs_);
  ASSERT_TRUE(s.ok()) << s.ToString();
  FakeWorker* w = AttachWorker({}, extra_raylet_->socket_path);
  ASSERT_NE(w, nullptr);
  FakeWorker::Push push;
  ASSERT_TRUE(w->NextPush(&push));
  push.conn->SendReply(push.request_id, rpc::PUSH_TASK, rpc::PushTaskReply());
  ASSERT_TRUE(WaitForState(id, State::ALIVE));
  rpc::ActorTableData d = Info(id);
  EXPECT_EQ(d.address().node_id(), second.Binary());
  EXPECT_TRUE(d.death_cause().empty());
}

}  // namespace
}  // namespace lumos::gcs
