// GcsJobManager as a pure state machine.
#include "gcs/job_manager.h"

#include <gtest/gtest.h>

namespace lumos::gcs {
namespace {

rpc::JobInfo MakeJob(const JobID& id) {
  rpc::JobInfo job;
  job.set_job_id(id.Binary());
  job.set_driver_pid(1234);
  job.set_namespace_("ns");
  return job;
}

TEST(GcsJobManagerTest, NextJobIdCountsFromOne) {
  GcsJobManager m;
  EXPECT_EQ(m.NextJobId(), JobID::FromInt(1));
  EXPECT_EQ(m.NextJobId(), JobID::FromInt(2));
  EXPECT_EQ(m.NextJobId(), JobID::FromInt(3));
}

TEST(GcsJobManagerTest, AddSetsStartTimeAndRejectsDuplicates) {
  GcsJobManager m;
  JobID id = m.NextJobId();
  ASSERT_TRUE(m.AddJob(MakeJob(id), 500).ok());
  EXPECT_EQ(m.AddJob(MakeJob(id), 600).code(), StatusCode::kAlreadyExists);
  auto jobs = m.GetAllJobs();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].start_time_ms(), 500);
  EXPECT_FALSE(jobs[0].is_dead());
  EXPECT_EQ(jobs[0].driver_pid(), 1234);
}

TEST(GcsJobManagerTest, GivenStartTimeIsKept) {
  GcsJobManager m;
  rpc::JobInfo job = MakeJob(m.NextJobId());
  job.set_start_time_ms(42);
  ASSERT_TRUE(m.AddJob(job, 500).ok());
  EXPECT_EQ(m.GetAllJobs()[0].start_time_ms(), 42);
}

TEST(GcsJobManagerTest, MalformedIdsAreRejected) {
  GcsJobManager m;
  rpc::JobInfo job;
  job.set_job_id("toolong");
  EXPECT_EQ(m.AddJob(job, 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(m.AddJob(MakeJob(JobID::Nil()), 0).code(), StatusCode::kInvalidArgument);
}

TEST(GcsJobManagerTest, MarkFinishedSetsEndTimeOnce) {
  GcsJobManager m;
  JobID id = m.NextJobId();
  ASSERT_TRUE(m.AddJob(MakeJob(id), 100).ok());
  ASSERT_TRUE(m.MarkJobFinished(id, 900).ok());
  ASSERT_TRUE(m.MarkJobFinished(id, 1900).ok());
  auto job = m.GetAllJobs()[0];
  EXPECT_TRUE(job.is_dead());
  EXPECT_EQ(job.end_time_ms(), 900);
  EXPECT_EQ(m.MarkJobFinished(JobID::FromInt(77), 0).code(), StatusCode::kNotFound);
}

TEST(GcsJobManagerTest, AddingAHigherIdMovesTheCounterPastIt) {
  GcsJobManager m;
  ASSERT_TRUE(m.AddJob(MakeJob(JobID::FromInt(10)), 0).ok());
  EXPECT_EQ(m.NextJobId(), JobID::FromInt(11));
}

TEST(GcsJobManagerTest, GetAllIsOrderedById) {
  GcsJobManager m;
  for (uint32_t i : {300u, 2u, 256u}) ASSERT_TRUE(m.AddJob(MakeJob(JobID::FromInt(i)), 0).ok());
  auto jobs = m.GetAllJobs();
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(JobID::FromBinary(jobs[0].job_id()).ToInt(), 2u);
  EXPECT_EQ(JobID::FromBinary(jobs[1].job_id()).ToInt(), 256u);
  EXPECT_EQ(JobID::FromBinary(jobs[2].job_id()).ToInt(), 300u);
}

}  // namespace
}  // namespace lumos::gcs
