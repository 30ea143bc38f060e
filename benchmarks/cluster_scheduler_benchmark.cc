// One scheduling decision of the ClusterScheduler over 1,000 simulated nodes
// (target: under 20 us). Nodes are busy above the spread threshold so the
// DEFAULT policy scans them all.
#include <benchmark/benchmark.h>

#include "scheduling/cluster_scheduler.h"

namespace lumos::scheduling {
namespace {

ResourceSet RS(const std::map<std::string, double>& m) { return ResourceSet::FromMap(m).value(); }

ClusterScheduler MakeCluster(int n, std::vector<NodeID>* ids) {
  ClusterScheduler s;
  for (int i = 0; i < n; i++) {
    NodeID id = NodeID::FromRandom();
    ids->push_back(id);
    if (i == 0) s = ClusterScheduler(id, 0.5);
    // 16 CPUs, 12 used: 75% busy; a custom resource on every 10th node.
    std::map<std::string, double> total = {{"CPU", 16}, {"memory", 64e9}, {"object_store_memory", 8e9}};
    if (i % 10 == 0) total["custom"] = 4;
    auto avail = total;
    avail["CPU"] = 4;
    s.UpsertNode(id, RS(total), RS(avail), {{"zone", i % 2 ? "a" : "b"}});
  }
  return s;
}

void BM_ScheduleDefault1000(benchmark::State& state) {
  std::vector<NodeID> ids;
  ClusterScheduler s = MakeCluster(1000, &ids);
  ResourceRequest req = s.MakeRequest(RS({{"CPU", 1}, {"memory", 1e9}}));
  for (auto _ : state) {
    Decision d = s.Schedule(req, SchedulingStrategy());
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_ScheduleDefault1000);

void BM_ScheduleCustomResource1000(benchmark::State& state) {
  std::vector<NodeID> ids;
  ClusterScheduler s = MakeCluster(1000, &ids);
  ResourceRequest req = s.MakeRequest(RS({{"CPU", 1}, {"custom", 1}}));
  for (auto _ : state) benchmark::DoNotOptimize(s.Schedule(req, SchedulingStrategy()));
}
BENCHMARK(BM_ScheduleCustomResource1000);

void BM_ScheduleSpread1000(benchmark::State& state) {
  std::vector<NodeID> ids;
  ClusterScheduler s = MakeCluster(1000, &ids);
  ResourceRequest req = s.MakeRequest(RS({{"CPU", 1}}));
  SchedulingStrategy spread;
  spread.kind = SchedulingStrategy::kSpread;
  for (auto _ : state) benchmark::DoNotOptimize(s.Schedule(req, spread));
}
BENCHMARK(BM_ScheduleSpread1000);

void BM_ScheduleNodeLabel1000(benchmark::State& state) {
  std::vector<NodeID> ids;
  ClusterScheduler s = MakeCluster(1000, &ids);
  ResourceRequest req = s.MakeRequest(RS({{"CPU", 1}}));
  SchedulingStrategy st;
  st.kind = SchedulingStrategy::kNodeLabel;
  st.hard_labels = {LabelExpression{"zone", LabelExpression::kIn, {"a"}}};
  for (auto _ : state) benchmark::DoNotOptimize(s.Schedule(req, st));
}
BENCHMARK(BM_ScheduleNodeLabel1000);

void BM_ScheduleBundlesStrictSpread1000(benchmark::State& state) {
  std::vector<NodeID> ids;
  ClusterScheduler s = MakeCluster(1000, &ids);
  std::vector<ResourceRequest> bundles(8, s.MakeRequest(RS({{"CPU", 2}})));
  for (auto _ : state) {
    benchmark::DoNotOptimize(s.ScheduleBundles(bundles, BundleStrategy::kStrictSpread));
  }
}
BENCHMARK(BM_ScheduleBundlesStrictSpread1000);

}  // namespace
}  // namespace lumos::scheduling

BENCHMARK_MAIN();
