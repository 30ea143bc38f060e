// LeaseManager throughput: the raylet's pure scheduling state machine, no I/O.
//   BM_GrantReturn/<idle>    one lease per iteration: AddRequest, Schedule
//                            (grants it), ReturnLease; <idle> workers sit in
//                            the idle pool. Reports ns per lease.
//   BM_GrantReturnBatch/<n>  <n> requests queued, one Schedule grants them all
//                            on <n> idle workers, then all are returned.
//   BM_ScheduleWithBacklog/<n>  one grant + return while <n> requests that do
//                            not fit wait in the queue (cost of scanning them).
#include <benchmark/benchmark.h>

#include <vector>

#include "raylet/lease_manager.h"

namespace lumos::raylet {
namespace {

ResourceSet RS(const std::map<std::string, double>& m) { return ResourceSet::FromMap(m).value(); }

LeaseRequest Req(uint64_t tag, double cpus) {
  LeaseRequest r;
  r.requester = 1;
  r.reply_tag = tag;
  r.resources = RS({{"CPU", cpus}});
  r.scheduling_class = 1;
  r.task_name = "f";
  return r;
}

// Seconds per lease (printed with an SI prefix, e.g. "85n" = 85 ns) and leases/s.
void ReportPerLease(benchmark::State& state, int64_t leases) {
  state.SetItemsProcessed(leases);
  state.counters["per_lease"] = benchmark::Counter(
      static_cast<double>(leases), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_GrantReturn(benchmark::State& state) {
  const int idle = static_cast<int>(state.range(0));
  LeaseManager lm(RS({{"CPU", 8}}), 8);
  for (int i = 0; i < idle; i++) lm.WorkerStarted(WorkerID::FromRandom());
  const LeaseRequest proto = Req(0, 1);
  uint64_t tag = 0;
  for (auto _ : state) {
    LeaseRequest r = proto;
    r.reply_tag = ++tag;
    lm.AddRequest(std::move(r));
    auto actions = lm.Schedule();
    if (actions.size() != 1 || actions[0].kind != LeaseAction::kGrant) {
      state.SkipWithError("expected exactly one grant");
      break;
    }
    lm.ReturnLease(actions[0].lease_id, /*worker_gone=*/false);
  }
  ReportPerLease(state, state.iterations());
}
BENCHMARK(BM_GrantReturn)->Arg(1)->Arg(4)->Arg(16);

void BM_GrantReturnBatch(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  LeaseManager lm(RS({{"CPU", static_cast<double>(n)}}), n);
  for (int i = 0; i < n; i++) lm.WorkerStarted(WorkerID::FromRandom());
  const LeaseRequest proto = Req(0, 1);
  uint64_t tag = 0;
  std::vector<uint64_t> lease_ids;
  lease_ids.reserve(n);
  for (auto _ : state) {
    for (int i = 0; i < n; i++) {
      LeaseRequest r = proto;
      r.reply_tag = ++tag;
      lm.AddRequest(std::move(r));
    }
    auto actions = lm.Schedule();
    if (actions.size() != static_cast<size_t>(n)) {
      state.SkipWithError("expected a grant per request");
      break;
    }
    lease_ids.clear();
    for (const auto& a : actions) lease_ids.push_back(a.lease_id);
    for (uint64_t id : lease_ids) lm.ReturnLease(id, false);
  }
  ReportPerLease(state, state.iterations() * n);
}
BENCHMARK(BM_GrantReturnBatch)->Arg(4)->Arg(64);

void BM_ScheduleWithBacklog(benchmark::State& state) {
  const int backlog = static_cast<int>(state.range(0));
  LeaseManager lm(RS({{"CPU", 4}}), 4);
  for (int i = 0; i < 4; i++) lm.WorkerStarted(WorkerID::FromRandom());
  // Requests for 3 CPUs queue behind one 2-CPU lease that is always held.
  lm.AddRequest(Req(0, 2));
  auto held = lm.Schedule();
  for (int i = 0; i < backlog; i++) lm.AddRequest(Req(1000000 + i, 3));
  lm.Schedule();
  const LeaseRequest proto = Req(0, 1);
  uint64_t tag = 0;
  for (auto _ : state) {
    LeaseRequest r = proto;
    r.reply_tag = ++tag;
    lm.AddRequest(std::move(r));
    auto actions = lm.Schedule();
    if (actions.size() != 1 || actions[0].kind != LeaseAction::kGrant) {
      state.SkipWithError("expected exactly one grant");
      break;
    }
    lm.ReturnLease(actions[0].lease_id, false);
  }
  ReportPerLease(state, state.iterations());
  (void)held;
}
BENCHMARK(BM_ScheduleWithBacklog)->Arg(0)->Arg(100)->Arg(1000);

}  // namespace
}  // namespace lumos::raylet

BENCHMARK_MAIN();
