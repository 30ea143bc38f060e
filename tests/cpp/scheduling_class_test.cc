// NormalTaskSubmitter::SchedulingClassOf: tasks share leases only when the
// function, the resources and the fail_on_infeasible option all match.
#include <gtest/gtest.h>

#include "core_worker/normal_task_submitter.h"

namespace lumos::core {
namespace {

rpc::TaskSpec Spec(const std::string& fid, double cpus, bool fail_on_infeasible) {
  rpc::TaskSpec spec;
  spec.mutable_function()->set_function_id(fid);
  (*spec.mutable_required_resources())["CPU"] = cpus;
  spec.set_fail_on_infeasible(fail_on_infeasible);
  return spec;
}

TEST(SchedulingClassTest, SameShapeSameClass) {
  EXPECT_EQ(NormalTaskSubmitter::SchedulingClassOf(Spec("f", 1, false)),
            NormalTaskSubmitter::SchedulingClassOf(Spec("f", 1, false)));
  EXPECT_EQ(NormalTaskSubmitter::SchedulingClassOf(Spec("f", 1, true)),
            NormalTaskSubmitter::SchedulingClassOf(Spec("f", 1, true)));
}

TEST(SchedulingClassTest, FunctionAndResourcesSeparateClasses) {
  EXPECT_NE(NormalTaskSubmitter::SchedulingClassOf(Spec("f", 1, false)),
            NormalTaskSubmitter::SchedulingClassOf(Spec("g", 1, false)));
  EXPECT_NE(NormalTaskSubmitter::SchedulingClassOf(Spec("f", 1, false)),
            NormalTaskSubmitter::SchedulingClassOf(Spec("f", 2, false)));
}

TEST(SchedulingClassTest, FailOnInfeasibleSeparatesClasses) {
  // A waiting task must never ride on a lease request that fails on
  // infeasibility (nor the other way round).
  EXPECT_NE(NormalTaskSubmitter::SchedulingClassOf(Spec("f", 1, false)),
            NormalTaskSubmitter::SchedulingClassOf(Spec("f", 1, true)));
}

}  // namespace
}  // namespace lumos::core
