#pragma once
// GcsStorage: the GCS's tables on disk, in one embedded SQLite database
// (WAL journal, synchronous=NORMAL: a commit is durable against a crash of
// the GCS process at once, and against a crash of the machine at the next
// WAL checkpoint). The in-memory managers stay the read path; this class
// only writes their rows and, at start, loads them back.
//
// Layout: one SQL table per GCS table, each `(key BLOB PRIMARY KEY, value
// BLOB)`, values being serialized protobufs (see gcs_server_restore.cc for
// what each table holds), plus `meta` with the schema version and counters.
//
// Open() creates the file (and schema) when missing. It never resets an
// existing file: a file that is not a lumos GCS database, is corrupt, or has
// a newer schema version is an error naming the path and the fix.
//
// Writes commit on the caller's thread before they return (one commit per
// Apply, ~15-20 us here: WAL, no fsync), so whatever a GCS handler answered
// is on disk even if the GCS is SIGKILLed right after. A write-behind queue
// (a writer thread committing every 2 ms) was tried: it cost a thread
// wake-up per burst and, worse, lost acknowledged rows to a SIGKILL inside
// the window, so it was dropped.
//
// Thread safety: every method may be called from any thread; one mutex
// serialises access to the connection (SQLite writes are serial anyway).
// Apply() writes a batch in one transaction, so a batch lands whole or not
// at all.
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace lumos::gcs {

class GcsStorage {
 public:
  enum class Table { kNodes = 0, kJobs, kActors, kPlacementGroups, kKv, kMeta, kNumTables };
  /// The schema this build writes; a file with a larger one is refused.
  static constexpr int kSchemaVersion = 1;

  /// One write of a batch: `value` set = upsert, unset = delete.
  struct Op {
    Table table;
    std::string key;
    std::optional<std::string> value;
  };
  using Rows = std::vector<std::pair<std::string, std::string>>;

  /// \brief Opens (creating if missing) the database at `path`. Fails with
  /// IOError when the file cannot be opened or is not a database, and with
  /// Invalid for a newer schema version; never rewrites an existing file.
  static Result<std::unique_ptr<GcsStorage>> Open(const std::string& path);
  ~GcsStorage();
  GcsStorage(const GcsStorage&) = delete;
  GcsStorage& operator=(const GcsStorage&) = delete;

  /// \brief Upserts one row.
  Status Put(Table table, const std::string& key, const std::string& value);
  /// \brief Deletes one row (a missing key is OK).
  Status Delete(Table table, const std::string& key);
  /// \brief Applies `ops` in order, in one transaction.
  Status Apply(const std::vector<Op>& ops);
  /// \brief Every row of `table`, in key order.
  Result<Rows> LoadAll(Table table);
  /// \brief The row's value, or nullopt when missing.
  Result<std::optional<std::string>> Get(Table table, const std::string& key);

  const std::string& path() const { return path_; }

 private:
  GcsStorage(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  Status Init();
  Status Exec(const char* sql);
  Status WriteLocked(const Op& op);
  Status Error(const std::string& what) const;

  const std::string path_;
  std::mutex mu_;
  sqlite3* db_;  // guarded by mu_
  // Prepared upsert/delete per table, guarded by mu_.
  sqlite3_stmt* put_[static_cast<int>(Table::kNumTables)] = {};
  sqlite3_stmt* del_[static_cast<int>(Table::kNumTables)] = {};
};

}  // namespace lumos::gcs
