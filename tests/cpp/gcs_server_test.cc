// A real GcsServer on an OS-picked port, driven through GcsClient in-process.
#include "gcs/gcs_server.h"

#include <arpa/inet.h>
#include <grpcpp/test/server_context_test_spouse.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <limits>
#include <memory>
#include <thread>

#include "common/config.h"
#include "gcs/node_info_service.h"
#include "gcs/service_util.h"
#include "rpc/cluster_identity.h"
#include "rpc/gcs_client.h"

namespace lumos::gcs {
namespace {

class GcsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GcsServerOptions options;
    options.session_dir = "/tmp/lumos/session_test";
    options.deadline_check_period_ms = 50;
    server_ = std::make_unique<GcsServer>(options);
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_GT(server_->port(), 0);
    client_ = std::make_unique<rpc::GcsClient>(server_->address());
    ASSERT_TRUE(client_->Connect(5000).ok());
  }
  void TearDown() override {
    client_.reset();
    if (server_) server_->Shutdown();
  }

  static rpc::NodeInfo MakeNode(const NodeID& id) {
    rpc::NodeInfo node;
    node.set_node_id(id.Binary());
    node.set_node_ip("127.0.0.1");
    node.set_raylet_endpoint("unix:/tmp/raylet.sock");
    (*node.mutable_total_resources())["CPU"] = 2;
    return node;
  }

  std::unique_ptr<GcsServer> server_;
  std::unique_ptr<rpc::GcsClient> client_;
};

// A port on which nothing listens: bind, read the port, close.
int UnusedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// A drain deadline too far off for int64 milliseconds (found by
// fuzz/gcs_requests_fuzzer: the conversion was undefined and in practice gave
// a deadline in the past, forcing the drain at once) is capped instead.
TEST_F(GcsServerTest, HugeDrainDeadlineIsCappedNotWrapped) {
  NodeID id = NodeID::FromRandom();
  ASSERT_TRUE(client_->RegisterNode(MakeNode(id)).ok());
  grpc::ServerContext ctx;
  grpc::testing::ServerContextTestSpouse spouse(&ctx);
  spouse.AddClientMetadata("authorization", "Bearer " + rpc::ClusterToken());
  for (double seconds : {1e300, std::numeric_limits<double>::infinity()}) {
    rpc::DrainNodeRequest req;
    req.set_node_id(id.Binary());
    req.set_deadline_remaining_s(seconds);
    rpc::DrainNodeReply reply;
    ASSERT_TRUE(server_->services().node->DrainNode(&ctx, &req, &reply).ok());
    EXPECT_EQ(reply.status().code(), 0) << reply.status().message();
    std::vector<rpc::NodeInfo> nodes = server_->services().node->GetAllNodes();
    ASSERT_EQ(nodes.size(), 1u);
    EXPECT_TRUE(nodes[0].draining());
    EXPECT_GT(nodes[0].drain_deadline_ms(), WallClockMs() + int64_t{50} * 365 * 24 * 3600 * 1000) << seconds;
  }
}

TEST_F(GcsServerTest, RegisterReportUnregisterNode) {
  NodeID id = NodeID::FromRandom();
  ASSERT_TRUE(client_->RegisterNode(MakeNode(id)).ok());
  Status again = client_->RegisterNode(MakeNode(id));
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists) << again.ToString();

  bool dead = true;
  ASSERT_TRUE(client_->ReportResources(id, {{"CPU", 0.5}}, &dead).ok());
  EXPECT_FALSE(dead);

  std::vector<rpc::NodeInfo> nodes;
  ASSERT_TRUE(client_->GetAllNodeInfo(&nodes).ok());
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].node_id(), id.Binary());
  EXPECT_EQ(nodes[0].raylet_endpoint(), "unix:/tmp/raylet.sock");
  EXPECT_EQ(nodes[0].available_resources().at("CPU"), 0.5);
  EXPECT_EQ(nodes[0].total_resources().at("CPU"), 2);
  EXPECT_GT(nodes[0].last_report_ms(), 0);

  ASSERT_TRUE(client_->UnregisterNode(id, "test done").ok());
  ASSERT_TRUE(client_->ReportResources(id, {{"CPU", 2}}, &dead).ok());
  EXPECT_TRUE(dead);
  ASSERT_TRUE(client_->GetAllNodeInfo(&nodes).ok());
  EXPECT_EQ(nodes[0].state(), rpc::NodeInfo::DEAD);
  EXPECT_EQ(nodes[0].death_reason(), "test done");

  Status unknown = client_->ReportResources(NodeID::FromRandom(), {}, &dead);
  EXPECT_EQ(unknown.code(), StatusCode::kNotFound) << unknown.ToString();
}

TEST_F(GcsServerTest, SilentNodeIsMarkedDead) {
  const int64_t old_timeout = Config::Get().node_death_timeout_ms();
  Config::Get().set_node_death_timeout_ms(200);
  NodeID id = NodeID::FromRandom(), chatty = NodeID::FromRandom();
  ASSERT_TRUE(client_->RegisterNode(MakeNode(id)).ok());
  ASSERT_TRUE(client_->RegisterNode(MakeNode(chatty)).ok());
  std::vector<rpc::NodeInfo> nodes;
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    bool chatty_dead = false;
    ASSERT_TRUE(client_->ReportResources(chatty, {}, &chatty_dead).ok());  // another node is heard
    ASSERT_TRUE(client_->GetAllNodeInfo(&nodes).ok());
  } while (nodes[0].state() == rpc::NodeInfo::ALIVE && std::chrono::steady_clock::now() < give_up);
  Config::Get().set_node_death_timeout_ms(old_timeout);
  EXPECT_EQ(nodes[1].state(), rpc::NodeInfo::ALIVE);
  EXPECT_EQ(nodes[0].state(), rpc::NodeInfo::DEAD);
  EXPECT_NE(nodes[0].death_reason().find("no resource report"), std::string::npos);
  bool dead = false;
  ASSERT_TRUE(client_->ReportResources(id, {}, &dead).ok());
  EXPECT_TRUE(dead);
}

TEST_F(GcsServerTest, KvPutGetDelKeys) {
  bool added = false, found = false, exists = true;
  std::string value;
  ASSERT_TRUE(client_->KVPut("ns", "fn:a", "1", false, &added).ok());
  EXPECT_TRUE(added);
  ASSERT_TRUE(client_->KVPut("ns", "fn:a", "2", false, &added).ok());
  EXPECT_FALSE(added);
  ASSERT_TRUE(client_->KVGet("ns", "fn:a", &value, &found).ok());
  EXPECT_TRUE(found);
  EXPECT_EQ(value, "1");
  ASSERT_TRUE(client_->KVPut("ns", "fn:a", "3", true, &added).ok());
  ASSERT_TRUE(client_->KVGet("ns", "fn:a", &value, &found).ok());
  EXPECT_EQ(value, "3");
  std::string binary("\0\1\2", 3);
  ASSERT_TRUE(client_->KVPut("ns", "fn:b", binary, false, &added).ok());
  ASSERT_TRUE(client_->KVPut("ns", "other", "x", false, &added).ok());
  ASSERT_TRUE(client_->KVGet("ns", "fn:b", &value, &found).ok());
  EXPECT_EQ(value, binary);

  std::vector<std::string> keys;
  ASSERT_TRUE(client_->KVKeys("ns", "fn:", &keys).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"fn:a", "fn:b"}));

  ASSERT_TRUE(client_->KVExists("ns", "other", &exists).ok());
  EXPECT_TRUE(exists);
  ASSERT_TRUE(client_->KVExists("other_ns", "other", &exists).ok());
  EXPECT_FALSE(exists);

  int64_t deleted = 0;
  ASSERT_TRUE(client_->KVDel("ns", "fn:", true, &deleted).ok());
  EXPECT_EQ(deleted, 2);
  ASSERT_TRUE(client_->KVGet("ns", "fn:a", &value, &found).ok());
  EXPECT_FALSE(found);
  ASSERT_TRUE(client_->KVDel("ns", "other", false, &deleted).ok());
  EXPECT_EQ(deleted, 1);
  ASSERT_TRUE(client_->KVKeys("ns", "", &keys).ok());
  EXPECT_TRUE(keys.empty());
}

TEST_F(GcsServerTest, JobIdsIncreaseAndJobsFinish) {
  JobID a, b;
  ASSERT_TRUE(client_->GetNextJobId(&a).ok());
  ASSERT_TRUE(client_->GetNextJobId(&b).ok());
  EXPECT_EQ(a, JobID::FromInt(1));
  EXPECT_EQ(b, JobID::FromInt(2));

  rpc::JobInfo job;
  job.set_job_id(a.Binary());
  job.set_driver_pid(getpid());
  job.set_entrypoint("python script.py");
  ASSERT_TRUE(client_->AddJob(job).ok());
  EXPECT_EQ(client_->AddJob(job).code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(client_->MarkJobFinished(a).ok());
  EXPECT_EQ(client_->MarkJobFinished(JobID::FromInt(99)).code(), StatusCode::kNotFound);

  std::vector<rpc::JobInfo> jobs;
  ASSERT_TRUE(client_->GetAllJobInfo(&jobs).ok());
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_TRUE(jobs[0].is_dead());
  EXPECT_GE(jobs[0].end_time_ms(), jobs[0].start_time_ms());
  EXPECT_EQ(jobs[0].entrypoint(), "python script.py");
}

TEST_F(GcsServerTest, ManyConcurrentClientsAreAllServed) {
  // More callers than the server's thread cap: none may be turned away.
  constexpr int kThreads = 32, kCalls = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([this, t, &failures] {
      rpc::GcsClient own(server_->address());  // separate connection per thread
      for (int i = 0; i < kCalls; i++) {
        bool added;
        rpc::GcsClient& client = (i % 2) ? own : *client_;
        std::string key = std::to_string(t) + ":" + std::to_string(i);
        Status s = client.KVPut("c", key, "v", false, &added);
        if (!s.ok()) {
          failures++;
          ADD_FAILURE() << s.ToString();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::vector<std::string> keys;
  ASSERT_TRUE(client_->KVKeys("c", "", &keys).ok());
  EXPECT_EQ(keys.size(), static_cast<size_t>(kThreads * kCalls));
}

TEST_F(GcsServerTest, CallsAfterShutdownAreDisconnected) {
  Config::Get().set_gcs_reconnect_timeout_s(0);  // no waiting for a GCS to come back
  server_->Shutdown();
  bool found;
  std::string value;
  Status s = client_->KVGet("ns", "k", &value, &found);
  EXPECT_EQ(s.code(), StatusCode::kDisconnected) << s.ToString();
  EXPECT_NE(s.message().find(server_->address()), std::string::npos) << s.ToString();
}

TEST_F(GcsServerTest, ShutdownWithIdleConnectedClientIsPrompt) {
  bool added;
  ASSERT_TRUE(client_->KVPut("ns", "k", "v", false, &added).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto start = std::chrono::steady_clock::now();
  server_->Shutdown();
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::milliseconds(250))
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
}

TEST(GcsClientTest, CallsWaitForAnUnreachableGcsUpToTheKnob) {
  Config::Get().set_gcs_reconnect_timeout_s(1);
  std::string address = "127.0.0.1:" + std::to_string(UnusedPort());
  rpc::GcsClient client(address);
  auto start = std::chrono::steady_clock::now();
  bool exists;
  Status call = client.KVExists("ns", "k", &exists);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(call.code(), StatusCode::kDisconnected) << call.ToString();
  EXPECT_NE(call.message().find("gcs_reconnect_timeout_s"), std::string::npos) << call.ToString();
  EXPECT_NE(call.message().find(address), std::string::npos) << call.ToString();
  EXPECT_GE(took, std::chrono::milliseconds(900));
  EXPECT_LT(took, std::chrono::seconds(5));
  Config::Get().set_gcs_reconnect_timeout_s(0);
}

TEST(GcsClientTest, ConnectToDeadPortTimesOutWithClearError) {
  Config::Get().set_gcs_reconnect_timeout_s(0);
  std::string address = "127.0.0.1:" + std::to_string(UnusedPort());
  rpc::GcsClient client(address);
  auto start = std::chrono::steady_clock::now();
  Status s = client.Connect(300);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(s.code(), StatusCode::kTimedOut) << s.ToString();
  EXPECT_NE(s.message().find(address), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("300 ms"), std::string::npos) << s.ToString();
  EXPECT_LT(took, std::chrono::seconds(2));

  bool exists;
  Status call = client.KVExists("ns", "k", &exists);
  EXPECT_EQ(call.code(), StatusCode::kDisconnected) << call.ToString();
  EXPECT_NE(call.message().find(address), std::string::npos) << call.ToString();
}

TEST(GcsServerStartTest, PortInUseFailsWithIOError) {
  GcsServer first(GcsServerOptions{});
  ASSERT_TRUE(first.Start().ok());
  GcsServerOptions options;
  options.port = first.port();
  GcsServer second(options);
  Status s = second.Start();
  EXPECT_EQ(s.code(), StatusCode::kIOError) << s.ToString();
}

}  // namespace
}  // namespace lumos::gcs
