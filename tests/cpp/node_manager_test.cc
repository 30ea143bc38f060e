// NodeManager against hostile and sloppy clients: a real NodeManager on its own
// loop thread, registered with an in-process GcsServer, driven over its raylet
// socket by raw clients. Workers are /bin/sleep, so no Python is needed.
#include "raylet/node_manager.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <dirent.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "common.pb.h"
#include "gcs/gcs_server.h"
#include "node_manager.pb.h"
#include "rpc/event_loop.h"
#include "rpc/frame.h"
#include "rpc/gcs_client.h"
#include "test_util.h"

namespace lumos::raylet {
namespace {

using lumos::testing::TempDir;
using lumos::testing::WaitFor;

// A blocking client on a plain Unix socket that can send anything, with a
// timeout on every read so that a misbehaving server fails the test instead of
// hanging it.
class RawClient {
 public:
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool Connect(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    return ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  bool SendRaw(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  uint64_t SendFrame(uint16_t method, const std::string& payload,
                     rpc::FrameKind kind = rpc::FrameKind::kRequest) {
    rpc::FrameHeader h;
    h.method = method;
    h.kind = kind;
    h.request_id = kind == rpc::FrameKind::kRequest ? next_id_++ : 0;
    h.payload_len = static_cast<uint32_t>(payload.size());
    SendRaw(rpc::EncodeFrame(h, payload));
    return h.request_id;
  }
  /// \brief Next frame from the server; Disconnected on EOF, TimedOut if none.
  Status ReadFrame(rpc::Frame* out, int timeout_ms = 5000) {
    int64_t deadline = rpc::NowMs() + timeout_ms;
    while (!decoder_.HasFrame()) {
      int left = static_cast<int>(std::max<int64_t>(0, deadline - rpc::NowMs()));
      pollfd p{fd_, POLLIN, 0};
      int r = ::poll(&p, 1, left);
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) return Status::TimedOut("no frame from the raylet");
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Status::Disconnected("raylet closed the connection");
      Status s = decoder_.Feed(buf, static_cast<size_t>(n));
      if (!s.ok()) return s;
    }
    *out = decoder_.Next();
    return Status::OK();
  }
  /// \brief True once the server closes the connection (frames are skipped).
  bool WaitClosed(int timeout_ms = 5000) {
    while (true) {
      rpc::Frame f;
      Status s = ReadFrame(&f, timeout_ms);
      if (s.code() == StatusCode::kDisconnected) return true;
      if (!s.ok()) return false;
    }
  }
  /// \brief A request with a raw payload; the reply frame's status, and its payload.
  Status CallRaw(uint16_t method, const std::string& payload, std::string* reply_payload,
                 rpc::Frame* skipped_oneway = nullptr) {
    uint64_t id = SendFrame(method, payload);
    while (true) {
      rpc::Frame f;
      LUMOS_RETURN_NOT_OK(ReadFrame(&f));
      if (f.header.kind == rpc::FrameKind::kOneway) {
        if (skipped_oneway) *skipped_oneway = f;
        continue;
      }
      if (f.header.kind != rpc::FrameKind::kReply || f.header.request_id != id) continue;
      LUMOS_RETURN_NOT_OK(rpc::StatusFromFrame(f));
      if (reply_payload) *reply_payload = f.payload;
      return Status::OK();
    }
  }
  Status Call(uint16_t method, const google::protobuf::Message& req, google::protobuf::Message* reply) {
    std::string payload;
    LUMOS_RETURN_NOT_OK(CallRaw(method, req.SerializeAsString(), &payload));
    if (reply && !reply->ParseFromString(payload)) return Status::Invalid("unparsable reply");
    return Status::OK();
  }

 private:
  int fd_ = -1;
  uint64_t next_id_ = 1;
  rpc::FrameDecoder decoder_{1 << 20};
};

// Children of this process running /bin/sleep: the raylet's stand-in workers.
std::vector<pid_t> SleepChildren() {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // "pid (comm) state ppid ..."
    size_t close = line.rfind(')');
    if (close == std::string::npos || line.find("(sleep)") == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid) != 2) continue;
    if (ppid == getpid() && state != 'Z') out.push_back(pid);
  }
  closedir(d);
  return out;
}

rpc::RegisterClientRequest DriverRegistration() {
  rpc::RegisterClientRequest req;
  req.set_worker_id(WorkerID::FromRandom().Binary());
  req.set_is_driver(true);
  req.set_pid(getpid());
  req.set_job_id(JobID::FromInt(1).Binary());
  req.set_endpoint("unix:/tmp/nowhere.sock");
  req.set_runtime("python");
  return req;
}

class NodeManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    gcs::GcsServerOptions gopts;
    gopts.session_dir = dir_.path();
    gcs_server_ = std::make_unique<gcs::GcsServer>(gopts);
    ASSERT_TRUE(gcs_server_->Start().ok());
    gcs_ = std::make_shared<rpc::GcsClient>(gcs_server_->address());
    ASSERT_TRUE(gcs_->Connect(5000).ok());

    node_id_ = NodeID::FromRandom();
    NodeManagerOptions opts;
    opts.node_id = node_id_;
    opts.socket_path = dir_.File("raylet.sock");
    opts.store_endpoint = "unix:" + dir_.File("store.sock");  // never dialed here
    opts.session_dir = dir_.path();
    opts.resources = ResourceSet::FromMap({{"CPU", 2}, {"custom", 1}}).value();
    opts.num_prestart_workers = 0;
    opts.worker_pool.worker_argv = {"/bin/sleep", "1000"};
    opts.worker_pool.log_dir = dir_.path();
    opts.verify_worker_peer_pid = verify_worker_peer_pid_;
    socket_path_ = opts.socket_path;
    ASSERT_LT(socket_path_.size(), 100u);

    loop_ = std::make_unique<rpc::EventLoop>();
    nm_ = std::make_unique<NodeManager>(loop_->io(), opts, gcs_);
    Status s = nm_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
    loop_thread_ = std::thread([this] { loop_->RunInThisThread(); });
  }

  void TearDown() override {
    if (loop_thread_.joinable()) {
      // Stop on the loop thread, then stop the loop from the same handler so
      // that nothing runs after the node manager is gone.
      std::promise<void> stopped;
      loop_->Post([&] {
        nm_->Stop("test done");
        loop_->Stop();
        stopped.set_value();
      });
      stopped.get_future().wait();
      loop_thread_.join();
    }
    nm_.reset();
    loop_.reset();
    gcs_.reset();
    if (gcs_server_) gcs_server_->Shutdown();
  }

  std::unique_ptr<RawClient> Connect() {
    auto c = std::make_unique<RawClient>();
    EXPECT_TRUE(c->Connect(socket_path_)) << socket_path_ << ": " << std::strerror(errno);
    return c;
  }
  std::unique_ptr<RawClient> ConnectDriver() {
    auto c = Connect();
    rpc::RegisterClientReply reply;
    Status s = c->Call(rpc::REGISTER_CLIENT, DriverRegistration(), &reply);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(reply.node_id(), node_id_.Binary());
    return c;
  }
  rpc::GetNodeStatsReply Stats(RawClient* c) {
    rpc::GetNodeStatsReply stats;
    Status s = c->Call(rpc::GET_NODE_STATS, rpc::GetNodeStatsRequest(), &stats);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return stats;
  }
  // The raylet still serves: a fresh well-behaved driver registers and gets stats.
  void ExpectHealthy() {
    auto c = ConnectDriver();
    rpc::GetNodeStatsReply stats = Stats(c.get());
    EXPECT_EQ(stats.total_resources().at("CPU"), 2);
  }

  TempDir dir_;
  std::unique_ptr<gcs::GcsServer> gcs_server_;
  std::shared_ptr<rpc::GcsClient> gcs_;
  NodeID node_id_;
  std::string socket_path_;
  std::unique_ptr<rpc::EventLoop> loop_;
  std::unique_ptr<NodeManager> nm_;
  std::thread loop_thread_;
  bool verify_worker_peer_pid_ = true;
};

TEST_F(NodeManagerTest, RegistersWithTheGcs) {
  std::vector<rpc::NodeInfo> nodes;
  ASSERT_TRUE(gcs_->GetAllNodeInfo(&nodes).ok());
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].node_id(), node_id_.Binary());
  // Its Unix socket for this host, its TCP port on the node IP for others.
  EXPECT_EQ(nodes[0].raylet_endpoint().rfind("unix:" + socket_path_ + ";tcp:127.0.0.1:", 0), 0u)
      << nodes[0].raylet_endpoint();
  EXPECT_EQ(nodes[0].total_resources().at("CPU"), 2);
  EXPECT_EQ(nodes[0].state(), rpc::NodeInfo::ALIVE);
}

TEST_F(NodeManagerTest, GarbageBytesDisconnectTheClient) {
  auto c = Connect();
  std::string garbage(64, '\0');
  for (size_t i = 0; i < garbage.size(); i++) garbage[i] = static_cast<char>(0xa5 ^ (i * 37));
  garbage[6] = 9;  // an invalid frame kind, whatever the rest says
  c->SendRaw(garbage);
  EXPECT_TRUE(c->WaitClosed());
  ExpectHealthy();
}

TEST_F(NodeManagerTest, MalformedFrameHeadersDisconnectTheClient) {
  struct Case {
    const char* what;
    rpc::FrameHeader header;
  };
  std::vector<Case> cases;
  rpc::FrameHeader h;
  h.method = rpc::REGISTER_CLIENT;
  h.kind = rpc::FrameKind::kRequest;
  h.request_id = 1;
  rpc::FrameHeader bad = h;
  bad.method = 0;
  cases.push_back({"method 0", bad});
  bad = h;
  bad.method = rpc::kMaxMethod + 1;
  cases.push_back({"method beyond the limit", bad});
  bad = h;
  bad.flags = 0x80;
  cases.push_back({"unknown flags", bad});
  bad = h;
  bad.payload_len = 0xffffffffu;  // over max_frame_bytes
  cases.push_back({"payload too large", bad});
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.what);
    auto c = Connect();
    uint8_t raw[rpc::kFrameHeaderSize];
    rpc::EncodeHeader(tc.header, raw);
    c->SendRaw(std::string(reinterpret_cast<char*>(raw), sizeof(raw)));
    EXPECT_TRUE(c->WaitClosed());
  }
  // A bad kind byte (not expressible through FrameHeader).
  {
    auto c = Connect();
    uint8_t raw[rpc::kFrameHeaderSize];
    rpc::EncodeHeader(h, raw);
    raw[6] = 0;
    c->SendRaw(std::string(reinterpret_cast<char*>(raw), sizeof(raw)));
    EXPECT_TRUE(c->WaitClosed());
  }
  // A registered driver that later sends a bad header is dropped as well.
  {
    auto c = ConnectDriver();
    c->SendRaw(std::string(16, '\xff'));
    EXPECT_TRUE(c->WaitClosed());
  }
  ExpectHealthy();
}

TEST_F(NodeManagerTest, TruncatedFrameThenHangUpIsHarmless) {
  {
    auto c = Connect();
    std::string frame = rpc::EncodeFrame(
        [] {
          rpc::FrameHeader h;
          h.method = rpc::REGISTER_CLIENT;
          h.payload_len = 100;
          h.request_id = 1;
          return h;
        }(),
        std::string(100, 'x'));
    c->SendRaw(frame.substr(0, 40));  // header + part of the payload
  }  // hang up mid-frame
  {
    auto c = Connect();
    c->SendRaw(std::string(5, '\x01'));  // part of a header
  }
  ExpectHealthy();
}

TEST_F(NodeManagerTest, RequestBeforeRegisteringDisconnects) {
  for (uint16_t method : {rpc::GET_NODE_STATS, rpc::REQUEST_WORKER_LEASE, rpc::RETURN_WORKER,
                          rpc::NOTIFY_BLOCKED}) {
    SCOPED_TRACE(method);
    auto c = Connect();
    std::string ignored;
    Status s = c->CallRaw(method, "", &ignored);
    EXPECT_EQ(s.code(), StatusCode::kDisconnected) << s.ToString();
  }
  // One-way frames too.
  auto c = Connect();
  c->SendFrame(rpc::NOTIFY_UNBLOCKED, "", rpc::FrameKind::kOneway);
  EXPECT_TRUE(c->WaitClosed());
  ExpectHealthy();
}

TEST_F(NodeManagerTest, UnparsableRegistrationGetsAnErrorReply) {
  auto c = Connect();
  // 0xff... is not a valid protobuf encoding (field number 0 / bad varint).
  Status s = c->CallRaw(rpc::REGISTER_CLIENT, std::string(12, '\xff'), nullptr);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  // The connection stays usable: a proper registration on it now works.
  rpc::RegisterClientReply reply;
  s = c->Call(rpc::REGISTER_CLIENT, DriverRegistration(), &reply);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(reply.node_id(), node_id_.Binary());
  EXPECT_EQ(Stats(c.get()).total_resources().at("CPU"), 2);
}

TEST_F(NodeManagerTest, BadRegistrationsAreRefused) {
  {
    auto c = Connect();
    rpc::RegisterClientRequest req = DriverRegistration();
    req.set_worker_id("short");
    Status s = c->Call(rpc::REGISTER_CLIENT, req, nullptr);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    // Still unregistered: the next request drops it.
    s = c->Call(rpc::GET_NODE_STATS, rpc::GetNodeStatsRequest(), nullptr);
    EXPECT_EQ(s.code(), StatusCode::kDisconnected) << s.ToString();
  }
  {
    // A "worker" the raylet never started.
    auto c = Connect();
    rpc::RegisterClientRequest req = DriverRegistration();
    req.set_is_driver(false);
    req.set_pid(getpid());
    Status s = c->Call(rpc::REGISTER_CLIENT, req, nullptr);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    EXPECT_NE(s.message().find("not a worker"), std::string::npos) << s.message();
  }
  {
    // Claiming another process's pid: the kernel's peer credentials say who
    // is really connected.
    auto c = Connect();
    rpc::RegisterClientRequest req = DriverRegistration();
    req.set_is_driver(false);
    req.set_pid(1);
    Status s = c->Call(rpc::REGISTER_CLIENT, req, nullptr);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    EXPECT_NE(s.message().find("comes from pid " + std::to_string(getpid())), std::string::npos)
        << s.message();
  }
  {
    // Registering twice.
    auto c = ConnectDriver();
    Status s = c->Call(rpc::REGISTER_CLIENT, DriverRegistration(), nullptr);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    EXPECT_EQ(Stats(c.get()).num_workers(), 0);  // still registered as a driver
  }
  ExpectHealthy();
}

TEST_F(NodeManagerTest, DriverGetsNodeStats) {
  auto c = ConnectDriver();
  rpc::GetNodeStatsReply stats = Stats(c.get());
  EXPECT_EQ(stats.total_resources().at("CPU"), 2);
  EXPECT_EQ(stats.total_resources().at("custom"), 1);
  EXPECT_EQ(stats.available_resources().at("CPU"), 2);
  EXPECT_EQ(stats.num_workers(), 0);
  EXPECT_EQ(stats.num_idle_workers(), 0);
  EXPECT_EQ(stats.num_pending_leases(), 0);
  // An unparsable stats request is fine too: it has no fields to read.
  std::string payload;
  EXPECT_TRUE(c->CallRaw(rpc::GET_NODE_STATS, "\xff\xff", &payload).ok());
}

TEST_F(NodeManagerTest, BadLeaseRequestsGetErrorReplies) {
  auto c = ConnectDriver();
  rpc::RequestWorkerLeaseRequest neg;
  (*neg.mutable_resources())["CPU"] = -1;
  Status s = c->Call(rpc::REQUEST_WORKER_LEASE, neg, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  s = c->CallRaw(rpc::REQUEST_WORKER_LEASE, std::string(8, '\xff'), nullptr);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  s = c->CallRaw(rpc::RETURN_WORKER, std::string(8, '\xff'), nullptr);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  // Returning a lease that does not exist is answered and changes nothing.
  rpc::ReturnWorkerRequest ret;
  ret.set_lease_id(424242);
  EXPECT_TRUE(c->Call(rpc::RETURN_WORKER, ret, nullptr).ok());
  EXPECT_EQ(Stats(c.get()).available_resources().at("CPU"), 2);
  // Blocked/unblocked notices from a driver are ignored.
  c->SendFrame(rpc::NOTIFY_BLOCKED, "", rpc::FrameKind::kOneway);
  c->SendFrame(rpc::NOTIFY_UNBLOCKED, "", rpc::FrameKind::kOneway);
  EXPECT_EQ(Stats(c.get()).available_resources().at("CPU"), 2);
}

TEST_F(NodeManagerTest, InfeasibleLeaseIsReportedAndDroppedWithItsRequester) {
  auto c = ConnectDriver();
  rpc::RequestWorkerLeaseRequest req;
  (*req.mutable_resources())["CPU"] = 64;
  req.set_task_name("huge");
  c->SendFrame(rpc::REQUEST_WORKER_LEASE, req.SerializeAsString());
  rpc::Frame notice_frame;
  ASSERT_TRUE(c->ReadFrame(&notice_frame).ok());
  EXPECT_EQ(notice_frame.header.kind, rpc::FrameKind::kOneway);
  EXPECT_EQ(notice_frame.header.method, rpc::LEASE_INFEASIBLE);
  rpc::LeaseInfeasibleNotice notice;
  ASSERT_TRUE(notice.ParseFromString(notice_frame.payload));
  EXPECT_NE(notice.message().find("huge"), std::string::npos) << notice.message();

  auto observer = ConnectDriver();
  EXPECT_EQ(Stats(observer.get()).num_pending_leases(), 1);
  c.reset();  // the requester hangs up: its pending request goes away
  EXPECT_TRUE(WaitFor([&] { return Stats(observer.get()).num_pending_leases() == 0; }));
}

TEST_F(NodeManagerTest, PendingLeaseStartsAWorkerAndDisconnectDropsIt) {
  auto c = ConnectDriver();
  rpc::RequestWorkerLeaseRequest req;
  (*req.mutable_resources())["CPU"] = 1;
  req.set_task_name("f");
  c->SendFrame(rpc::REQUEST_WORKER_LEASE, req.SerializeAsString());
  auto observer = ConnectDriver();
  // The request waits for a worker (the /bin/sleep "worker" never registers).
  EXPECT_TRUE(WaitFor([&] { return Stats(observer.get()).num_pending_leases() == 1; }));
  EXPECT_EQ(Stats(observer.get()).available_resources().at("CPU"), 2);
  c.reset();
  EXPECT_TRUE(WaitFor([&] { return Stats(observer.get()).num_pending_leases() == 0; }));
}

TEST_F(NodeManagerTest, RemovedGroupRefusesItsQueuedAndLaterLeaseRequests) {
  auto gcs = ConnectDriver();  // plays the GCS's placement group scheduler
  rpc::PrepareBundlesRequest prep;
  prep.set_placement_group_id("pg1");
  prep.set_commit(true);
  auto* b = prep.add_bundles();
  b->set_index(0);
  (*b->mutable_unit_resources())["CPU"] = 1;
  rpc::PrepareBundlesReply prep_reply;
  ASSERT_TRUE(gcs->Call(rpc::PREPARE_BUNDLES, prep, &prep_reply).ok());
  ASSERT_TRUE(prep_reply.success()) << prep_reply.message();

  auto c = ConnectDriver();
  rpc::RequestWorkerLeaseRequest req;
  (*req.mutable_resources())["CPU_group_0_pg1"] = 1;
  (*req.mutable_resources())["CPU_group_pg1"] = 1;
  req.set_task_name("in_group");
  uint64_t queued = c->SendFrame(rpc::REQUEST_WORKER_LEASE, req.SerializeAsString());
  rpc::RequestWorkerLeaseRequest other;
  (*other.mutable_resources())["CPU_group_pg2"] = 1;  // another group: not committed yet, waits
  other.set_task_name("other_group");
  c->SendFrame(rpc::REQUEST_WORKER_LEASE, other.SerializeAsString());
  auto observer = ConnectDriver();
  ASSERT_TRUE(WaitFor([&] { return Stats(observer.get()).num_pending_leases() == 2; }));

  rpc::CancelBundlesRequest cancel;
  cancel.set_placement_group_id("pg1");
  cancel.set_removed(true);
  rpc::CancelBundlesReply cancel_reply;
  ASSERT_TRUE(gcs->Call(rpc::CANCEL_BUNDLES, cancel, &cancel_reply).ok());
  rpc::Frame f;
  ASSERT_TRUE(c->ReadFrame(&f).ok());
  EXPECT_EQ(f.header.request_id, queued);
  rpc::RequestWorkerLeaseReply reply;
  ASSERT_TRUE(reply.ParseFromString(f.payload));
  EXPECT_TRUE(reply.placement_group_removed());
  EXPECT_EQ(reply.lease_id(), 0u);
  EXPECT_NE(reply.rejected_reason().find("task 'in_group'"), std::string::npos) << reply.rejected_reason();
  EXPECT_NE(reply.rejected_reason().find("placement group pg1 was removed"), std::string::npos);
  EXPECT_EQ(Stats(observer.get()).num_pending_leases(), 1);  // the other group's request waits on
  EXPECT_EQ(Stats(observer.get()).available_resources().at("CPU"), 2);

  // A request naming the removed group later is refused at once, and so is
  // an actor that only needs to be placed in it.
  rpc::RequestWorkerLeaseRequest late;
  (*late.mutable_resources())["bundle_group_pg1"] = 0.001;
  (*late.mutable_placement_resources())["CPU_group_pg1"] = 1;
  late.set_is_actor(true);
  late.set_task_name("Late");
  rpc::RequestWorkerLeaseReply late_reply;
  ASSERT_TRUE(c->Call(rpc::REQUEST_WORKER_LEASE, late, &late_reply).ok());
  EXPECT_TRUE(late_reply.placement_group_removed());
  EXPECT_NE(late_reply.rejected_reason().find("actor 'Late'"), std::string::npos);
}

// Plays a worker: registers with the pid of a /bin/sleep process the raylet
// started (the raylet only accepts workers it started).
class FakeWorkerTest : public NodeManagerTest {
 protected:
  FakeWorkerTest() { verify_worker_peer_pid_ = false; }  // this process registers for its child

  // Driver `driver` asks for a 1-CPU lease; a fake worker registers for the
  // process the raylet starts; returns the lease id granted to the driver.
  uint64_t LeaseThroughFakeWorker(RawClient* driver) {
    rpc::RequestWorkerLeaseRequest req;
    (*req.mutable_resources())["CPU"] = 1;
    req.set_task_name("f");
    uint64_t tag = driver->SendFrame(rpc::REQUEST_WORKER_LEASE, req.SerializeAsString());
    std::vector<pid_t> kids;
    EXPECT_TRUE(WaitFor([&] { return (kids = SleepChildren()).size() == 1; }));
    if (kids.size() != 1) return 0;
    worker_pid_ = kids[0];
    worker_ = Connect();
    rpc::RegisterClientRequest reg;
    worker_id_ = WorkerID::FromRandom();
    reg.set_worker_id(worker_id_.Binary());
    reg.set_is_driver(false);
    reg.set_pid(worker_pid_);
    reg.set_endpoint("unix:/tmp/fake_worker.sock");
    Status s = worker_->Call(rpc::REGISTER_CLIENT, reg, nullptr);
    EXPECT_TRUE(s.ok()) << s.ToString();
    rpc::Frame f;
    s = driver->ReadFrame(&f);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(f.header.kind, rpc::FrameKind::kReply);
    EXPECT_EQ(f.header.request_id, tag);
    rpc::RequestWorkerLeaseReply reply;
    EXPECT_TRUE(reply.ParseFromString(f.payload));
    EXPECT_EQ(reply.worker_address().worker_id(), worker_id_.Binary());
    EXPECT_EQ(reply.worker_address().endpoint(), "unix:/tmp/fake_worker.sock");
    EXPECT_EQ(reply.worker_address().node_id(), node_id_.Binary());
    EXPECT_GT(reply.lease_id(), 0u);
    return reply.lease_id();
  }
  bool WorkerAlive() const { return ::kill(worker_pid_, 0) == 0 && !SleepChildren().empty(); }

  std::unique_ptr<RawClient> worker_;
  WorkerID worker_id_;
  pid_t worker_pid_ = 0;
};

TEST_F(FakeWorkerTest, GrantReturnAndReuse) {
  auto driver = ConnectDriver();
  uint64_t lease = LeaseThroughFakeWorker(driver.get());
  ASSERT_GT(lease, 0u);
  auto observer = ConnectDriver();
  auto stats = Stats(observer.get());
  EXPECT_EQ(stats.available_resources().at("CPU"), 1);
  EXPECT_EQ(stats.num_workers(), 1);
  EXPECT_EQ(stats.num_idle_workers(), 0);

  rpc::ReturnWorkerRequest ret;
  ret.set_lease_id(lease);
  ASSERT_TRUE(driver->Call(rpc::RETURN_WORKER, ret, nullptr).ok());
  stats = Stats(observer.get());
  EXPECT_EQ(stats.available_resources().at("CPU"), 2);
  EXPECT_EQ(stats.num_idle_workers(), 1);
  // Returning it again is a no-op.
  ASSERT_TRUE(driver->Call(rpc::RETURN_WORKER, ret, nullptr).ok());
  EXPECT_EQ(Stats(observer.get()).available_resources().at("CPU"), 2);
}

TEST_F(FakeWorkerTest, BlockedWorkerLendsItsCpu) {
  auto driver = ConnectDriver();
  ASSERT_GT(LeaseThroughFakeWorker(driver.get()), 0u);
  auto observer = ConnectDriver();
  worker_->SendFrame(rpc::NOTIFY_BLOCKED, "", rpc::FrameKind::kOneway);
  EXPECT_TRUE(WaitFor([&] { return Stats(observer.get()).available_resources().at("CPU") == 2; }));
  worker_->SendFrame(rpc::NOTIFY_UNBLOCKED, "", rpc::FrameKind::kOneway);
  EXPECT_TRUE(WaitFor([&] { return Stats(observer.get()).available_resources().at("CPU") == 1; }));
}

TEST_F(FakeWorkerTest, WorkerHangingUpEndsItsLease) {
  auto driver = ConnectDriver();
  ASSERT_GT(LeaseThroughFakeWorker(driver.get()), 0u);
  auto observer = ConnectDriver();
  worker_.reset();
  EXPECT_TRUE(WaitFor([&] {
    auto st = Stats(observer.get());
    return st.available_resources().at("CPU") == 2 && st.num_workers() == 0;
  }));
  // The raylet kills the process behind a worker that hung up.
  EXPECT_TRUE(WaitFor([&] { return SleepChildren().empty(); }));
}

TEST_F(FakeWorkerTest, ReturningSomeoneElsesLeaseIsRefused) {
  auto driver = ConnectDriver();
  uint64_t lease = LeaseThroughFakeWorker(driver.get());
  ASSERT_GT(lease, 0u);
  auto intruder = ConnectDriver();
  rpc::ReturnWorkerRequest ret;
  ret.set_lease_id(lease);
  ret.set_disconnect_worker(true);
  Status s = intruder->Call(rpc::RETURN_WORKER, ret, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  intruder->SendFrame(rpc::RETURN_WORKER, ret.SerializeAsString(), rpc::FrameKind::kOneway);
  // The lease and its worker are untouched.
  auto stats = Stats(intruder.get());
  EXPECT_EQ(stats.available_resources().at("CPU"), 1);
  EXPECT_EQ(stats.num_workers(), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(WorkerAlive());
  // The holder can still return it.
  ret.set_disconnect_worker(false);
  ASSERT_TRUE(driver->Call(rpc::RETURN_WORKER, ret, nullptr).ok());
  EXPECT_EQ(Stats(intruder.get()).available_resources().at("CPU"), 2);
  EXPECT_EQ(Stats(intruder.get()).num_idle_workers(), 1);
}

TEST_F(FakeWorkerTest, LeaseHolderHangingUpReleasesTheLease) {
  auto driver = ConnectDriver();
  ASSERT_GT(LeaseThroughFakeWorker(driver.get()), 0u);
  auto observer = ConnectDriver();
  driver.reset();
  // The worker may be running the gone driver's tasks: it is killed, and the
  // CPU comes back.
  EXPECT_TRUE(WaitFor([&] {
    auto st = Stats(observer.get());
    return st.available_resources().at("CPU") == 2 && st.num_workers() == 0;
  }));
  EXPECT_TRUE(worker_->WaitClosed());
}

TEST_F(NodeManagerTest, UnknownMethodAfterRegisteringDisconnects) {
  auto c = ConnectDriver();
  std::string ignored;
  Status s = c->CallRaw(500, "", &ignored);
  EXPECT_EQ(s.code(), StatusCode::kDisconnected) << s.ToString();
  ExpectHealthy();
}

TEST_F(NodeManagerTest, SurvivesAStreamOfAbuse) {
  for (int round = 0; round < 20; round++) {
    {
      auto c = Connect();
      c->SendRaw(std::string(16 + round, static_cast<char>(round * 13 + 7)));
    }
    {
      auto c = Connect();
      c->CallRaw(rpc::REGISTER_CLIENT, std::string(round + 1, '\xff'), nullptr);
    }
    {
      auto c = Connect();
      c->CallRaw(rpc::GET_NODE_STATS, "", nullptr);
    }
  }
  // After all of that a fresh well-behaved driver still registers, and the
  // node is still alive in the GCS.
  ExpectHealthy();
  std::vector<rpc::NodeInfo> nodes;
  ASSERT_TRUE(gcs_->GetAllNodeInfo(&nodes).ok());
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].state(), rpc::NodeInfo::ALIVE);
}

}  // namespace
}  // namespace lumos::raylet
