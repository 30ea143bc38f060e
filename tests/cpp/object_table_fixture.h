// ObjectTableTest: an ObjectTable of 1 KiB with a helper that creates and
// seals objects, shared by the spill tests (spill_test.cc, spill_async_test.cc).
#pragma once

#include <gtest/gtest.h>

#include "object_store/object_table.h"

namespace lumos::object_store {

class ObjectTableTest : public ::testing::Test {
 protected:
  /// \brief A new sealed object of `size` bytes created by worker a_.
  ObjectID Sealed(uint64_t size, bool primary = true) {
    ObjectID id = ObjectID::ForPut(task_, ++n_);
    EXPECT_TRUE(table_.Create(id, size, 0, a_, a_, primary).ok());
    EXPECT_TRUE(table_.Seal(id).ok());
    return id;
  }
  ObjectTable table_{1024};
  TaskID task_ = TaskID::ForJob(JobID::FromInt(1));
  uint32_t n_ = 0;
  WorkerID a_ = WorkerID::FromRandom();
  WorkerID b_ = WorkerID::FromRandom();
};

}  // namespace lumos::object_store
