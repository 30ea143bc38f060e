// The real gcs_server binary: --port-file, answering a client, clean exit on
// SIGTERM, and --lifeline-pid. Started with posix_spawn (never fork after
// gRPC has started in this process).
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "rpc/cluster_identity.h"
#include "rpc/gcs_client.h"

extern char** environ;

namespace lumos {
namespace {

pid_t Spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  return pid;
}

// Waits for `pid` to exit; returns its wait status, or -1 after timeout_ms.
int WaitExit(pid_t pid, int timeout_ms) {
  auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int status = 0;
  while (std::chrono::steady_clock::now() < give_up) {
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

int64_t RssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  return -1;
}

TEST(GcsServerProcessTest, PortFileAnswerAndCleanSigterm) {
  char dir_template[] = "/tmp/lumos_gcs_test_XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string port_file = dir + "/gcs_port";
  const std::string token_file = dir + "/auth_token";
  {
    std::ofstream out(token_file);
    out << "process-test-token\n";
  }
  pid_t pid = Spawn({GCS_SERVER_BIN, "--port=0", "--port-file=" + port_file, "--session-dir=" + dir,
                     "--lifeline-pid=" + std::to_string(getpid()), "--auth-token-file=" + token_file});
  ASSERT_GT(pid, 0);

  std::string port;
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((port = ReadFile(port_file)).empty() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(port.empty()) << "gcs_server wrote no port file";
  ASSERT_GT(std::stoi(port), 0);

  {
    // Every call needs the cluster token: a wrong one is refused, naming the fix.
    rpc::SetClusterToken("wrong-token");
    rpc::GcsClient intruder("127.0.0.1:" + port);
    Status s = intruder.Connect(5000);
    EXPECT_EQ(s.code(), StatusCode::kUnauthenticated) << s.ToString();
    EXPECT_NE(s.message().find("LUMOS_AUTH_TOKEN"), std::string::npos) << s.message();
  }
  rpc::SetClusterToken("process-test-token");
  rpc::GcsClient client("127.0.0.1:" + port);
  ASSERT_TRUE(client.Connect(5000).ok());
  bool added = false;
  ASSERT_TRUE(client.KVPut("ns", "k", "v", false, &added).ok());
  EXPECT_TRUE(added);

  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::cout << "gcs_server idle RSS: " << RssKb(pid) << " kB" << std::endl;

  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = WaitExit(pid, 5000);
  if (status == -1) kill(pid, SIGKILL), waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::remove(port_file.c_str());
  std::remove(token_file.c_str());
  rmdir(dir.c_str());
}

TEST(GcsServerProcessTest, RefusesToStartWithoutAToken) {
  unsetenv("LUMOS_AUTH_TOKEN");
  pid_t pid = Spawn({GCS_SERVER_BIN, "--port=0", "--lifeline-pid=" + std::to_string(getpid())});
  ASSERT_GT(pid, 0);
  int status = WaitExit(pid, 5000);
  if (status == -1) kill(pid, SIGKILL), waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
}

TEST(GcsServerProcessTest, ExitsAtOnceWhenLifelineParentIsGone) {
  // The child's parent is this test, never pid 1, so the lifeline is "gone".
  pid_t pid = Spawn({GCS_SERVER_BIN, "--lifeline-pid=1"});
  ASSERT_GT(pid, 0);
  int status = WaitExit(pid, 5000);
  if (status == -1) kill(pid, SIGKILL), waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
}

TEST(GcsServerProcessTest, UnknownFlagIsRejected) {
  pid_t pid = Spawn({GCS_SERVER_BIN, "--bogus=1"});
  ASSERT_GT(pid, 0);
  int status = WaitExit(pid, 5000);
  if (status == -1) kill(pid, SIGKILL), waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
}

}  // namespace
}  // namespace lumos
