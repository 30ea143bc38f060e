#include "gcs/gcs_storage.h"

#include <sqlite3.h>

namespace lumos::gcs {
namespace {

const char* TableName(GcsStorage::Table t) {
  switch (t) {
    case GcsStorage::Table::kNodes:
      return "nodes";
    case GcsStorage::Table::kJobs:
      return "jobs";
    case GcsStorage::Table::kActors:
      return "actors";
    case GcsStorage::Table::kPlacementGroups:
      return "placement_groups";
    case GcsStorage::Table::kKv:
      return "kv";
    default:
      return "meta";
  }
}

constexpr const char* kVersionKey = "schema_version";
constexpr const char* kFixHint =
    "; move the file away (or pass another --gcs-storage) to start with an empty GCS";

}  // namespace

Result<std::unique_ptr<GcsStorage>> GcsStorage::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Status::IOError("cannot open the GCS storage " + path + ": " + msg +
                           " (check that its directory exists and is writable)");
  }
  std::unique_ptr<GcsStorage> s(new GcsStorage(path, db));
  LUMOS_RETURN_NOT_OK(s->Init());
  return s;
}

GcsStorage::~GcsStorage() {
  for (int i = 0; i < static_cast<int>(Table::kNumTables); i++) {
    sqlite3_finalize(put_[i]);
    sqlite3_finalize(del_[i]);
  }
  sqlite3_close(db_);
}

Status GcsStorage::Error(const std::string& what) const {
  return Status::IOError("GCS storage " + path_ + ": " + what + ": " + sqlite3_errmsg(db_));
}

Status GcsStorage::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) == SQLITE_OK) return Status::OK();
  std::string msg = err != nullptr ? err : "unknown error";
  sqlite3_free(err);
  return Status::IOError("GCS storage " + path_ + ": " + msg);
}

Status GcsStorage::Init() {
  std::lock_guard<std::mutex> lock(mu_);
  // One GCS per file: the first access takes an exclusive lock, held until
  // the process ends (the kernel drops it on SIGKILL), so a second gcs_server
  // on the same storage is refused; it also keeps the WAL index in memory
  // and saves the per-transaction locking.
  LUMOS_RETURN_NOT_OK(Exec("PRAGMA locking_mode=EXCLUSIVE"));
  // The first statement reads the header: a file that is not a database
  // (or is corrupt) fails here.
  Status s = Exec("PRAGMA journal_mode=WAL");
  if (!s.ok() && s.message().find("locked") != std::string::npos) {
    return Status::IOError("the GCS storage " + path_ + " is in use by another process (a gcs_server still "
                           "running on it?); stop it first or pass another --gcs-storage");
  }
  if (!s.ok()) {
    return Status::IOError("the GCS storage " + path_ + " is not a usable lumos GCS database (" +
                           s.message() + ")" + kFixHint);
  }
  LUMOS_RETURN_NOT_OK(Exec("PRAGMA synchronous=NORMAL"));
  std::string ddl = "BEGIN;";
  for (int i = 0; i < static_cast<int>(Table::kNumTables); i++) {
    ddl += std::string("CREATE TABLE IF NOT EXISTS ") + TableName(static_cast<Table>(i)) +
           " (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;";
  }
  ddl += "COMMIT;";
  s = Exec(ddl.c_str());
  if (!s.ok()) {
    Exec("ROLLBACK");
    return Status::IOError("the GCS storage " + path_ + " cannot be initialised (" + s.message() + ")" +
                           kFixHint);
  }
  for (int i = 0; i < static_cast<int>(Table::kNumTables); i++) {
    std::string name = TableName(static_cast<Table>(i));
    std::string put = "INSERT OR REPLACE INTO " + name + " (key, value) VALUES (?1, ?2)";
    std::string del = "DELETE FROM " + name + " WHERE key = ?1";
    if (sqlite3_prepare_v2(db_, put.c_str(), -1, &put_[i], nullptr) != SQLITE_OK ||
        sqlite3_prepare_v2(db_, del.c_str(), -1, &del_[i], nullptr) != SQLITE_OK) {
      return Error("preparing statements for table " + name);
    }
  }
  // The schema version: written when the file is new, checked otherwise.
  sqlite3_stmt* get = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT value FROM meta WHERE key = ?1", -1, &get, nullptr) != SQLITE_OK) {
    return Error("reading the schema version");
  }
  sqlite3_bind_blob(get, 1, kVersionKey, static_cast<int>(std::char_traits<char>::length(kVersionKey)),
                    SQLITE_STATIC);
  int rc = sqlite3_step(get);
  std::string version;
  if (rc == SQLITE_ROW) {
    version.assign(static_cast<const char*>(sqlite3_column_blob(get, 0)), sqlite3_column_bytes(get, 0));
  }
  sqlite3_finalize(get);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error("reading the schema version");
  if (rc == SQLITE_DONE) {
    return WriteLocked(Op{Table::kMeta, kVersionKey, std::to_string(kSchemaVersion)});
  }
  int found = 0;
  try {
    found = std::stoi(version);
  } catch (...) {
    return Status::Invalid("the GCS storage " + path_ + " has a malformed schema version '" + version + "'" +
                           kFixHint);
  }
  if (found > kSchemaVersion) {
    return Status::Invalid("the GCS storage " + path_ + " was written by a newer lumos (schema version " +
                           std::to_string(found) + ", this build reads up to " +
                           std::to_string(kSchemaVersion) + "); upgrade lumos" + kFixHint);
  }
  return Status::OK();
}

Status GcsStorage::WriteLocked(const Op& op) {
  int t = static_cast<int>(op.table);
  sqlite3_stmt* st = op.value ? put_[t] : del_[t];
  sqlite3_reset(st);
  sqlite3_bind_blob(st, 1, op.key.data(), static_cast<int>(op.key.size()), SQLITE_STATIC);
  if (op.value) sqlite3_bind_blob(st, 2, op.value->data(), static_cast<int>(op.value->size()), SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (rc != SQLITE_DONE) return Error(std::string("writing table ") + TableName(op.table));
  return Status::OK();
}

Status GcsStorage::Put(Table table, const std::string& key, const std::string& value) {
  std::lock_guard<std::mutex> lock(mu_);
  return WriteLocked(Op{table, key, value});
}

Status GcsStorage::Delete(Table table, const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  return WriteLocked(Op{table, key, std::nullopt});
}

Status GcsStorage::Apply(const std::vector<Op>& ops) {
  if (ops.empty()) return Status::OK();
  std::lock_guard<std::mutex> lock(mu_);
  if (ops.size() == 1) return WriteLocked(ops[0]);
  LUMOS_RETURN_NOT_OK(Exec("BEGIN"));
  for (const auto& op : ops) {
    Status s = WriteLocked(op);
    if (!s.ok()) {
      Exec("ROLLBACK");
      return s;
    }
  }
  return Exec("COMMIT");
}

Result<GcsStorage::Rows> GcsStorage::LoadAll(Table table) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string sql = std::string("SELECT key, value FROM ") + TableName(table) + " ORDER BY key";
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    return Error(std::string("reading table ") + TableName(table));
  }
  Rows rows;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    auto blob = [&](int col) {
      const void* p = sqlite3_column_blob(st, col);
      int n = sqlite3_column_bytes(st, col);
      return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
    };
    rows.emplace_back(blob(0), blob(1));
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return Error(std::string("reading table ") + TableName(table));
  return rows;
}

Result<std::optional<std::string>> GcsStorage::Get(Table table, const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string sql = std::string("SELECT value FROM ") + TableName(table) + " WHERE key = ?1";
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    return Error(std::string("reading table ") + TableName(table));
  }
  sqlite3_bind_blob(st, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
  int rc = sqlite3_step(st);
  std::optional<std::string> out;
  if (rc == SQLITE_ROW) {
    const void* p = sqlite3_column_blob(st, 0);
    out = p == nullptr ? std::string()
                       : std::string(static_cast<const char*>(p), sqlite3_column_bytes(st, 0));
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error(std::string("reading table ") + TableName(table));
  return out;
}

}  // namespace lumos::gcs
