#pragma once
// LineageCache: the owner's memory of how to make an object again.
//
// When a task whose returns went to the object store finishes, its spec stays
// here (with the retry budget it has left) for as long as one of those returns
// is still referenced. If such an object's only copy is lost (its spill file
// or store copy is gone), the owner takes the spec back to re-execute the task
// as a new attempt, first reconstructing lost arguments the same way. Objects
// made by put() have no lineage: losing them is final.
//
// Entries hold no argument values (unlike the pending-task table), so lineage
// costs only the spec. Pure state, no I/O. Thread safety: thread safe.
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common.pb.h"
#include "common/id.h"

namespace lumos::core {

class LineageCache {
 public:
  enum class Outcome {
    kResubmit,          // *spec is the next attempt to submit
    kNoLineage,         // never recorded (put object, max_retries=0, dynamic returns) or evicted
    kRetriesExhausted,  // the task used its whole retry budget
  };

  /// \brief Remembers `spec` for reconstructing `plasma_returns` (ids of its
  /// returns stored in the object store) with `retries_left` (-1: unlimited).
  void Record(const rpc::TaskSpec& spec, int retries_left, const std::vector<ObjectID>& plasma_returns);
  /// \brief An owned object was freed: once a task has no live plasma return
  /// its lineage is dropped.
  void OnObjectFreed(const ObjectID& id);
  /// \brief Claims one more attempt of the task that made `lost`; on kResubmit
  /// *spec gets the spec with attempt_number bumped.
  Outcome TakeForReconstruction(const ObjectID& lost, rpc::TaskSpec* spec);
  /// \brief The recorded returns of `task` not freed yet (a streaming task's
  /// held items: a reconstruction takes them all from the new attempt).
  std::vector<ObjectID> LiveReturns(const TaskID& task) const;
  size_t size() const;

 private:
  struct Entry {
    rpc::TaskSpec spec;
    int retries_left = 0;
    std::unordered_set<ObjectID> live_returns;
  };
  mutable std::mutex mu_;
  std::unordered_map<TaskID, Entry> entries_;
};

}  // namespace lumos::core
