// OomKillDetector over a fake /proc, cgroup tree and kernel log; and the
// SIGKILL descriptions WorkerPool builds from its verdicts.
#include "raylet/oom_kill_detector.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "raylet/worker_pool.h"

namespace lumos::raylet {
namespace {

namespace fs = std::filesystem;
using Verdict = OomKillDetector::Verdict;

TEST(OomKillDetectorParse, CountFromCgroupV2AndV1Files) {
  EXPECT_EQ(OomKillDetector::ParseOomKillCount("low 0\nhigh 4\nmax 9\noom 2\noom_kill 1\noom_group_kill 0\n"), 1);
  EXPECT_EQ(OomKillDetector::ParseOomKillCount("oom_kill_disable 0\nunder_oom 0\noom_kill 57\n"), 57);
  EXPECT_EQ(OomKillDetector::ParseOomKillCount("oom_kill_disable 0\nunder_oom 1\n"), -1);  // kernels before 4.13
  EXPECT_EQ(OomKillDetector::ParseOomKillCount("oom_kill x\n"), -1);
  EXPECT_EQ(OomKillDetector::ParseOomKillCount(""), -1);
}

TEST(OomKillDetectorParse, CounterFilesOfProcCgroup) {
  auto v2 = OomKillDetector::CounterFiles("0::/user.slice/app\n", "/cg");
  EXPECT_EQ(v2, std::vector<std::string>({"/cg/user.slice/app/memory.events.local", "/cg/user.slice/app/memory.events",
                                          "/cg/unified/user.slice/app/memory.events.local",
                                          "/cg/unified/user.slice/app/memory.events"}));
  auto v1 = OomKillDetector::CounterFiles("9:name=systemd:/x\n5:cpu:/x\n4:memory:/box/1\n3:cpuacct,memory:/y\n", "/cg/");
  EXPECT_EQ(v1, std::vector<std::string>({"/cg/memory/box/1/memory.oom_control", "/cg/memory/y/memory.oom_control"}));
  // The root cgroup (all a cgroup v1 zombie shows) and malformed lines give nothing.
  EXPECT_TRUE(OomKillDetector::CounterFiles("4:memory:/\n0::/\nnonsense\n7:memory\n", "/cg").empty());
}

TEST(OomKillDetectorParse, KernelLogNamesThePidExactly) {
  std::string log =
      "6,100,5000000,-;some driver said hello\n"
      "3,101,7000000,-;Out of memory: Killed process 123 (python3) total-vm:1000kB, anon-rss:900kB\n"
      " SUBSYSTEM=memory\n"
      "3,102,9000000,-;Memory cgroup out of memory: Killed process 456 (lumos::f) total-vm:10kB\n";
  EXPECT_TRUE(OomKillDetector::LogNamesOomKill(log, 123, 0));
  EXPECT_TRUE(OomKillDetector::LogNamesOomKill(log, 456, 8000000));
  EXPECT_FALSE(OomKillDetector::LogNamesOomKill(log, 12, 0));      // not a prefix match of 123
  EXPECT_FALSE(OomKillDetector::LogNamesOomKill(log, 123, 8000000));  // before the worker started
  EXPECT_FALSE(OomKillDetector::LogNamesOomKill(log, 789, 0));
  EXPECT_FALSE(OomKillDetector::LogNamesOomKill("garbage;Killed process 5 (x)\n", 5, 0));
}

// A fake root: <root>/proc/<pid>/cgroup, <root>/cg/memory/<path>/memory.oom_control
// (cgroup v1) or <root>/cg/<path>/memory.events (v2), <root>/kmsg.
class OomKillDetectorTest : public ::testing::Test {
 protected:
  OomKillDetectorTest() {
    char tmpl[] = "/tmp/lumos_oom_XXXXXX";
    root_ = mkdtemp(tmpl);
  }
  ~OomKillDetectorTest() override { fs::remove_all(root_); }

  static void Write(const std::string& path, const std::string& text) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << text;
  }
  void SetCgroup(pid_t pid, const std::string& text) { Write(root_ + "/proc/" + std::to_string(pid) + "/cgroup", text); }
  void SetV1Count(const std::string& cg, int n) {
    Write(root_ + "/cg/memory" + cg + "/memory.oom_control",
          "oom_kill_disable 0\nunder_oom 0\noom_kill " + std::to_string(n) + "\n");
  }
  void SetV2Count(const std::string& cg, int n) {
    Write(root_ + "/cg" + cg + "/memory.events",
          "low 0\nhigh 0\nmax 0\noom 0\noom_kill " + std::to_string(n) + "\noom_group_kill 0\n");
  }
  OomKillDetector Detector(bool with_log) {
    OomKillDetector::Options o;
    o.proc_root = root_ + "/proc";
    o.cgroup_root = root_ + "/cg";
    o.kmsg_path = with_log ? root_ + "/kmsg" : "";
    return OomKillDetector(o);
  }

  std::string root_;
};

TEST_F(OomKillDetectorTest, CgroupV1CounterGrowthMeansOomKill) {
  SetV1Count("/box", 3);
  for (pid_t pid : {10, 11, 12}) SetCgroup(pid, "4:memory:/box\n");
  auto d = Detector(false);
  for (pid_t pid : {10, 11, 12}) d.Track(pid, 0);
  SetV1Count("/box", 4);
  SetCgroup(10, "4:memory:/\n");  // a v1 zombie shows the root: the cgroup it started in counts
  EXPECT_EQ(d.OnExit(10, true), Verdict::kOomKilled);
  // The growth was used up. Without growth, a zombie showing the root may have
  // been moved to a cgroup never seen: unknown...
  SetCgroup(11, "4:memory:/\n");
  EXPECT_EQ(d.OnExit(11, true), Verdict::kUnknown);
  // ...while one seen dying in its known cgroup was killed by someone else.
  EXPECT_EQ(d.OnExit(12, true), Verdict::kNotOomKilled);
  EXPECT_EQ(d.OnExit(12, true), Verdict::kUnknown);  // forgotten
  EXPECT_EQ(d.OnExit(99, true), Verdict::kUnknown);  // never tracked
}

TEST_F(OomKillDetectorTest, CgroupV2CounterAndAWorkerMovedToAnotherCgroup) {
  SetV2Count("/svc", 0);
  SetV2Count("/svc/small", 0);
  SetCgroup(20, "0::/svc\n");
  auto d = Detector(false);
  d.Track(20, 0);
  d.Track(21, 0);                 // no /proc entry: nothing to watch
  SetCgroup(20, "0::/svc/small\n");  // moved after it started (v2 zombies keep their cgroup)
  SetV2Count("/svc/small", 1);
  SetV2Count("/svc", 1);  // memory.events counts the cgroup's descendants too
  EXPECT_EQ(d.OnExit(20, true), Verdict::kOomKilled);
  EXPECT_EQ(d.OnExit(21, true), Verdict::kUnknown);
  // A cgroup first seen at the exit has no baseline: on its own it cannot tell.
  SetCgroup(23, "0::/other\n");
  d.Track(23, 0);
  SetCgroup(23, "0::/other/new\n");
  SetV2Count("/other/new", 5);
  EXPECT_EQ(d.OnExit(23, true), Verdict::kUnknown);

  // Now /svc/small has a baseline (1); a worker started in it and killed there.
  SetCgroup(22, "0::/svc/small\n");
  d.Track(22, 0);
  SetV2Count("/svc/small", 2);
  EXPECT_EQ(d.OnExit(22, true), Verdict::kOomKilled);
}

TEST_F(OomKillDetectorTest, AnExitThatIsNotASigkillConsumesGrowth) {
  SetV1Count("/box", 0);
  SetCgroup(30, "4:memory:/box\n");
  SetCgroup(31, "4:memory:/box\n");
  auto d = Detector(false);
  d.Track(30, 0);
  d.Track(31, 0);
  SetV1Count("/box", 1);  // some process in the cgroup was OOM-killed...
  EXPECT_EQ(d.OnExit(30, false), Verdict::kUnknown);   // ...and a worker exited normally meanwhile
  EXPECT_EQ(d.OnExit(31, true), Verdict::kNotOomKilled);  // so a later SIGKILL is not blamed on it
}

TEST_F(OomKillDetectorTest, KernelLogIsPidExactAndOverridesCounters) {
  SetV1Count("/box", 0);
  SetCgroup(40, "4:memory:/box\n");
  SetCgroup(41, "4:memory:/box\n");
  auto d = Detector(true);
  d.Track(40, 10'000'000);
  d.Track(41, 10'000'000);
  Write(root_ + "/kmsg",
        "3,1,1000000,-;Out of memory: Killed process 41 (old) total-vm:1kB\n"  // an earlier process, same pid
        "3,2,12000000,-;Out of memory: Killed process 40 (python3) total-vm:1kB\n");
  SetV1Count("/box", 1);
  EXPECT_EQ(d.OnExit(41, true), Verdict::kNotOomKilled);  // the counter grew, but the log names 40
  EXPECT_EQ(d.OnExit(40, true), Verdict::kOomKilled);
}

TEST_F(OomKillDetectorTest, NothingReadableIsUnknown) {
  SetCgroup(50, "4:memory:/nowhere\n");
  OomKillDetector::Options o;
  o.proc_root = root_ + "/proc";
  o.cgroup_root = root_ + "/cg";
  o.kmsg_path = root_ + "/no-such-kmsg";
  OomKillDetector d(o);
  d.Track(50, 0);
  EXPECT_EQ(d.OnExit(50, true), Verdict::kUnknown);
}

TEST(WorkerPoolDescribeExit, SigkillSaysWhoSentItWhenKnown) {
  const int kSigkilled = 9;  // wait status of a process killed by signal 9
  EXPECT_EQ(WorkerPool::DescribeExit(7 << 8), "exit code 7");
  EXPECT_NE(WorkerPool::DescribeExit(kSigkilled, Verdict::kOomKilled).find("killed by the kernel's OOM killer"),
            std::string::npos);
  std::string hedge = WorkerPool::DescribeExit(kSigkilled);
  EXPECT_NE(hedge.find("signal 9"), std::string::npos);
  EXPECT_NE(hedge.find("often means the kernel's OOM killer"), std::string::npos);
  EXPECT_NE(WorkerPool::DescribeExit(kSigkilled, Verdict::kNotOomKilled).find("not the OOM killer"),
            std::string::npos);
  EXPECT_NE(WorkerPool::DescribeExit(kSigkilled, Verdict::kUnknown, true).find("sent by the raylet"),
            std::string::npos);
  // The OOM verdict wins over the raylet's own kill (it may have come after the death).
  EXPECT_NE(WorkerPool::DescribeExit(kSigkilled, Verdict::kOomKilled, true).find("OOM killer"), std::string::npos);
  // Other signals are never blamed on the OOM killer.
  EXPECT_EQ(WorkerPool::DescribeExit(15, Verdict::kOomKilled).find("OOM"), std::string::npos);
}

TEST(WorkerPoolStat, ExitingFlag) {
  // flags (field 9) 0x404044 has PF_EXITING (0x4); 0x400040 does not.
  EXPECT_TRUE(WorkerPool::StatSaysExiting("77 (python3) R 1 77 77 0 -1 4210756 120 0 0 0"));
  EXPECT_FALSE(WorkerPool::StatSaysExiting("77 (python3) S 1 77 77 0 -1 4194368 120 0 0 0"));
  // A comm with spaces and parentheses.
  EXPECT_TRUE(WorkerPool::StatSaysExiting("78 (lumos::f (x) y) Z 1 78 78 0 -1 4 0"));
  EXPECT_FALSE(WorkerPool::StatSaysExiting(""));
  EXPECT_FALSE(WorkerPool::StatSaysExiting("79 (short) S 1"));
}

}  // namespace
}  // namespace lumos::raylet
