#pragma once
// GcsTaskEventManager: the GCS's table of task attempts, built from the task
// events that owners and executors report in batches (AddTaskEvents), read by
// the state API (`lumos list tasks`, `lumos timeline`) through Query.
//
// One entry per (task id, attempt number). Reports about an attempt merge:
// the first time each state was entered is kept, and the attempt's state is
// the furthest one it reached (PENDING_ARGS_AVAIL < PENDING_NODE_ASSIGNMENT <
// SUBMITTED_TO_WORKER < RUNNING < FINISHED | FAILED), so reports that arrive
// out of order (executor before owner) give the same answer.
//
// Bound: at most `max_attempts` entries. When a new attempt would exceed it,
// the attempt that finished (FINISHED or FAILED) longest ago is dropped; if
// none has finished, the oldest entry. Drops are counted (num_dropped), as
// are the events reporters dropped at the source. The keys of the last
// `max_attempts` dropped attempts are remembered, and late reports about
// them (an executor's batch after the owner's FINISHED) are ignored instead
// of bringing back a half-known attempt.
//
// Profile spans (ProfileEvent: what code inside a task recorded with
// lumos.util.profiling.profile) are kept with their attempt, at most
// `max_spans_per_attempt` per attempt and `max_spans` in all; more are
// dropped and counted (per attempt and in total), and an evicted attempt's
// spans free their room. An attempt without spans pays one null pointer.
// Query returns them only when asked (the timeline), so lists stay small.
//
// Counts per (description, state) are kept as reports merge and attempts
// leave, so the common questions do not scan 100,000 entries: a summary
// without filters is read from them, and a list without filters or with one
// filters only on the state and the shared description (name, function,
// type, job) knows its exact total and stops walking once it has `limit`
// rows (or every match).
//
// Query applies the filters to every entry, then the limit: `total` is exact
// and `truncated` says whether the limit cut the answer. Filters are compiled
// once per query (Matcher) so that 100k entries are scanned without building
// a string per entry: states and ids compare in binary, and fields of the
// shared description are decided once per description.
//
// Pure state, no I/O, no clock: times come in the events. Not thread safe
// (the gRPC shell, TaskEventService, holds a lock around every call).
#include <array>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/status.h"
#include "gcs_service.pb.h"

namespace lumos::gcs {

class GcsTaskEventManager {
 public:
  static constexpr int64_t kMaxSpansPerAttempt = 1000, kMaxSpans = 100000;
  explicit GcsTaskEventManager(int64_t max_attempts, int64_t max_spans_per_attempt = kMaxSpansPerAttempt,
                               int64_t max_spans = kMaxSpans)
      : max_attempts_(max_attempts < 1 ? 1 : max_attempts),
        max_spans_per_attempt_(std::max<int64_t>(0, max_spans_per_attempt)),
        max_spans_(std::max<int64_t>(0, max_spans)) {
    attempts_.reserve(static_cast<size_t>(std::min<int64_t>(max_attempts_, 1 << 17)));  // no rehash at the bound
  }

  /// \brief Merges one batch. `now_us` stamps attempts heard of for the first time.
  void AddEvents(const rpc::AddTaskEventsRequest& request, int64_t now_us);

  /// \brief Entries matching every filter (oldest first), at most `limit`
  /// (0 = all) of them, with the exact number that matched. InvalidArgument
  /// (naming the valid keys, or the valid predicates) for a bad filter; then
  /// `reply` is left empty.
  /// With `summarize` the reply holds no events, only the number of matching
  /// attempts per (function, type, state) in `state_counts`. With
  /// `newest_first` the walk starts at the attempt first heard of last (the
  /// limit keeps the newest; the dashboard's task list and stream). With
  /// `include_profile_events` each attempt carries its spans (the timeline).
  Status Query(const std::vector<rpc::StateFilter>& filters, int64_t limit, rpc::GetTaskEventsReply* reply,
               bool summarize = false, bool newest_first = false, bool include_profile_events = false) const;

  /// \brief Keys Query can filter on, in `lumos list tasks` column order.
  static const std::vector<std::string>& FilterKeys();

  size_t num_attempts() const { return attempts_.size(); }
  int64_t num_dropped() const { return num_dropped_ + num_dropped_at_source_; }
  int64_t num_spans() const { return num_spans_; }
  int64_t num_spans_dropped() const { return num_spans_dropped_; }
  /// \brief Entries of the insertion and finish orders, stale ones included
  /// (each is compacted in place once it exceeds 1.5x the table + 1024).
  size_t num_order_entries() const { return order_.size() + finished_.size(); }

 private:
  /// Up to 24 id bytes inline (ids here are 16 bytes: a std::string would
  /// allocate each one); the GCS keeps up to 100k attempts, each touched by
  /// two reports, so the table avoids heap allocations per key.
  struct Bytes {
    std::array<char, 24> data{};
    uint8_t size = 0;
    static bool Fits(const std::string& s) { return s.size() <= 24; }
    void Assign(const std::string& s) {
      size = static_cast<uint8_t>(std::min<size_t>(s.size(), data.size()));
      std::memcpy(data.data(), s.data(), size);
    }
    std::string str() const { return std::string(data.data(), size); }
    bool empty() const { return size == 0; }
  };
  struct Key {
    Bytes task_id;
    int32_t attempt = 0;
    bool operator==(const Key& o) const {
      return attempt == o.attempt && task_id.size == o.task_id.size && task_id.data == o.task_id.data;
    }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<std::string_view>()(std::string_view(k.task_id.data.data(), k.task_id.size)) ^
             (static_cast<size_t>(k.attempt) * 0x9e3779b97f4a7c15ULL);
    }
  };
  struct Attempt {
    int32_t attempt_number = 0;
    // What many attempts share (name, function, type, job, resources) is
    // interned; the ids that differ per task are kept inline.
    std::shared_ptr<const rpc::TaskInfo> info;
    Bytes actor_id, parent_task_id;
    int64_t state_us[7] = {0, 0, 0, 0, 0, 0, 0};  // indexed by rpc::TaskStatus
    Bytes node_id, worker_id;
    int32_t worker_pid = 0;
    int64_t start_us = 0, end_us = 0, creation_us = 0;
    std::string error_type, error_message;
    std::unique_ptr<std::vector<rpc::ProfileEvent>> spans;  // null until the first span
    int64_t spans_dropped = 0;
    uint64_t seq = 0;  // insertion number: tells live order_ entries from stale ones
    rpc::TaskStatus State() const;
    bool Finished() const { return state_us[rpc::FINISHED] != 0 || state_us[rpc::FAILED] != 0; }
  };
  static Key KeyOf(const std::string& task_id, int32_t attempt);
  /// One filter, compiled for one query.
  struct Matcher {
    enum Kind { kState, kId, kInfo, kOther } kind = kOther;
    const rpc::StateFilter* filter = nullptr;
    bool equal = true;                       // "=" (else "!=")
    int state = -1;                          // kState: the TaskStatus named (-1: none)
    Bytes Attempt::*id = nullptr;            // kId: which id (task_id is the key's)
    bool id_valid = false;                   // kId: the value is hex that fits
    Bytes id_value;                          // kId: the value in binary
    mutable std::unordered_map<const rpc::TaskInfo*, bool> memo;  // kInfo: per description
  };
  static Matcher Compile(const rpc::StateFilter& f);
  static bool Matches(const Key& k, const Attempt& a, const Matcher& m);
  /// \brief The attempt's field `key` as `lumos list tasks` shows it; false if unknown key.
  static bool FieldOf(const Key& k, const Attempt& a, const std::string& key, std::string* out);
  // `info`: the report's description (its own, or the batch's it names by
  // index; null when none); `interned`: the batch's interned slot for it
  // (null for a description of its own), filled at first use.
  void Merge(const rpc::TaskEventData& ev, const rpc::TaskInfo* info, std::shared_ptr<const rpc::TaskInfo>* interned,
             int64_t now_us);
  /// \brief `info` without its per-task ids, shared with equal ones.
  std::shared_ptr<const rpc::TaskInfo> Intern(const rpc::TaskInfo& info);
  void EvictIfNeeded();
  /// \brief Moves one attempt between (description, state) counts; `sign`
  /// +1 counts it in, -1 out.
  void Count(const Attempt& a, int sign);
  /// \brief The exact number of matches known without a walk, or -1.
  int64_t KnownTotal(const std::vector<Matcher>& matchers) const;
  void AddSpans(const rpc::TaskEventData& ev, Attempt* a);
  /// \brief Erases the entry, its spans' room freed, and remembers the key.
  void Drop(std::unordered_map<Key, Attempt, KeyHash>::iterator it);
  void Forget(const Key& key);
  void CompactOrder();
  static void Fill(const Key& k, const Attempt& a, bool spans, rpc::TaskEventData* out);

  const int64_t max_attempts_;
  const int64_t max_spans_per_attempt_, max_spans_;
  // Attempts per description (null: none yet) and state; an entry lives
  // while some attempt holds the description, so its key stays valid.
  std::unordered_map<const rpc::TaskInfo*, std::array<int64_t, 7>> count_by_info_;
  int64_t num_spans_ = 0, num_spans_dropped_ = 0;
  uint64_t next_seq_ = 1;
  std::unordered_map<Key, Attempt, KeyHash> attempts_;
  // (key, seq) in insertion order; entries whose seq no longer matches are stale.
  std::deque<std::pair<Key, uint64_t>> order_;
  // (key, seq) of attempts in the order they finished (eviction candidates first).
  std::deque<std::pair<Key, uint64_t>> finished_;
  std::unordered_set<Key, KeyHash> evicted_;  // bounded by evicted_order_
  // Interned TaskInfos by their shared fields (cleared when it grows past
  // kMaxInterned; attempts keep theirs).
  static constexpr size_t kMaxInterned = 4096;
  std::unordered_map<std::string, std::shared_ptr<const rpc::TaskInfo>> interned_;
  std::deque<Key> evicted_order_;
  int64_t num_dropped_ = 0;
  int64_t num_dropped_at_source_ = 0;
};

}  // namespace lumos::gcs
