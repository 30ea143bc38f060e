#pragma once
// GeneratorStreams: the owner's bookkeeping for its streaming generator tasks
// (num_returns="streaming"). Pure state, no I/O: CoreWorker stores the item
// values and sends the acks this class hands back.
//
// Per task: which item indexes were reported (attempts after a retry report
// again from 0; those duplicates are recognised here and ignored), how many the
// caller consumed, the total once the task finished, whether it failed, and
// the acks of reports waiting for consumption (backpressure: an executor pauses
// while N of its reports are unacknowledged, and a report is acknowledged when
// the caller has consumed that item). Dropping the generator hands back the
// unconsumed items to free and makes later items free on arrival.
//
// Thread safety: thread safe. Acks are returned, never run under the lock.
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "common/id.h"

namespace lumos::core {

class GeneratorStreams {
 public:
  using Ack = std::function<void()>;
  enum class ItemResult { kNew, kDuplicate, kDropped, kUnknown };
  enum class NextKind { kItem, kEnd, kError, kNotReady };

  /// \brief A streaming task was submitted.
  void Create(const TaskID& task);
  /// \brief Item `index` arrived. kNew: the caller stores and holds it. kDuplicate
  /// (re-reported by a retry) and kDropped (the generator is gone): discard it.
  /// `ack` (may be empty) is run now (into `run_now`) or once item `index` is consumed.
  ItemResult OnItem(const TaskID& task, int64_t index, Ack ack, std::vector<Ack>* run_now);
  /// \brief The task finished having reported `total` items.
  void OnFinished(const TaskID& task, int64_t total);
  /// \brief The task failed for good (worker died without retries, cancelled,
  /// ...): after the reported items the caller gets the failure once.
  void OnFailed(const TaskID& task);
  /// \brief What the caller's next() gets now: kItem with `*index` (the item
  /// counts as consumed; the caller must ack it with Consumed), kEnd, kError
  /// (once, then kEnd), or kNotReady (wait for item `*index` or the end).
  NextKind Next(const TaskID& task, int64_t* index);
  /// \brief What Next would return now, without taking anything (lumos.wait
  /// and next_ready() on a generator). kNotReady: `*index` is the item to wait for.
  NextKind Peek(const TaskID& task, int64_t* index) const;
  /// \brief The caller took item `index`: returns the acks that may now run.
  std::vector<Ack> Consumed(const TaskID& task, int64_t index);
  /// \brief The caller dropped the generator: returns the reported, unconsumed
  /// indexes (to release) and the acks to run; the stream is forgotten once the
  /// task has ended.
  std::vector<int64_t> Drop(const TaskID& task, std::vector<Ack>* run_now);
  /// \brief True when nothing more will come (ended and all taken).
  bool IsFinished(const TaskID& task) const;
  bool Has(const TaskID& task) const;
  size_t NumStreams() const;

 private:
  struct Stream {
    std::vector<bool> reported;          // by index
    int64_t consumed = 0;                // next index the caller takes
    int64_t total = -1;                  // set when the task finished
    bool failed = false;
    bool error_taken = false;
    bool dropped = false;
    std::multimap<int64_t, Ack> waiting;  // index -> ack sent when consumed
  };
  bool EndedLocked(const Stream& s) const { return s.total >= 0 || s.failed; }
  static NextKind KindLocked(const Stream& s);
  void MaybeEraseLocked(const TaskID& task);

  mutable std::mutex mu_;
  std::unordered_map<TaskID, Stream> streams_;
};

}  // namespace lumos::core
