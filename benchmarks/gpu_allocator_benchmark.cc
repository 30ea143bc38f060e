// GPU assignment cost in the raylet, no I/O.
//   BM_AllocateRelease/<gpus>/<units>  GpuAllocator::Allocate + Release of one
//                            request of <units> (1e-4 GPU) on a node of <gpus>
//                            GPUs, half of which are partly used.
//   BM_GpuLeaseGrantReturn/<gpus>  LeaseManager AddRequest + Schedule + ReturnLease
//                            of a 0.25-GPU lease on a node of <gpus> GPUs
//                            (compare with lease_manager_benchmark's CPU-only BM_GrantReturn).
#include <benchmark/benchmark.h>

#include "raylet/gpu_allocator.h"
#include "raylet/lease_manager.h"

namespace lumos::raylet {
namespace {

void BM_AllocateRelease(benchmark::State& state) {
  const int gpus = static_cast<int>(state.range(0));
  const int64_t units = state.range(1);
  GpuAllocator a(gpus);
  for (int i = 0; i < gpus / 2; i++) a.Allocate(GpuAllocator::kUnit / 3);  // spread partial use
  for (auto _ : state) {
    auto got = a.Allocate(units);
    if (!got) {
      state.SkipWithError("allocation failed");
      break;
    }
    a.Release(*got);
    benchmark::DoNotOptimize(got);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AllocateRelease)->Args({8, 2500})->Args({8, 10000})->Args({64, 2500})->Args({64, 40000});

void BM_GpuLeaseGrantReturn(benchmark::State& state) {
  const int gpus = static_cast<int>(state.range(0));
  LeaseManager lm(ResourceSet::FromMap({{"CPU", 8}, {"GPU", static_cast<double>(gpus)}}).value(), 8);
  for (int i = 0; i < 8; i++) lm.WorkerStarted(WorkerID::FromRandom());
  LeaseRequest proto;
  proto.requester = 1;
  proto.resources = ResourceSet::FromMap({{"CPU", 1}, {"GPU", 0.25}}).value();
  proto.task_name = "g";
  uint64_t tag = 0;
  for (auto _ : state) {
    LeaseRequest r = proto;
    r.reply_tag = ++tag;
    lm.AddRequest(std::move(r));
    auto actions = lm.Schedule();
    if (actions.size() != 1 || actions[0].kind != LeaseAction::kGrant || actions[0].gpu_ids.size() != 1) {
      state.SkipWithError("expected exactly one grant with one GPU");
      break;
    }
    lm.ReturnLease(actions[0].lease_id, false);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GpuLeaseGrantReturn)->Arg(1)->Arg(8);

}  // namespace
}  // namespace lumos::raylet

BENCHMARK_MAIN();
