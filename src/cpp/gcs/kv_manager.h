#pragma once
// GcsKvManager: the GCS's internal key-value store (bytes -> bytes, grouped by
// namespace), as a plain in-memory table with no I/O. Backs Ray's
// `_internal_kv_*` calls, function/actor class export and runtime metadata.
//
// Thread safety: none. The owner (InternalKVService) serializes every call
// with its own mutex. Namespaces and keys are arbitrary bytes; the empty
// namespace is a namespace like any other. Nothing here fails: a missing key
// is reported through the return value, never as an error.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lumos::gcs {

class GcsKvManager {
 public:
  GcsKvManager() = default;
  GcsKvManager(const GcsKvManager&) = delete;
  GcsKvManager& operator=(const GcsKvManager&) = delete;

  /// \brief Copies the value of `key` into `*value` and returns true; returns
  /// false and leaves `*value` untouched when the key is missing.
  bool Get(const std::string& ns, const std::string& key, std::string* value) const;

  /// \brief Stores `value` under `key`. An existing key is replaced only when
  /// `overwrite` is true. Returns true when the key did not exist before.
  bool Put(const std::string& ns, const std::string& key, std::string value, bool overwrite);

  /// \brief Deletes `key` (or, when `by_prefix`, every key starting with it).
  /// Returns how many keys were removed.
  int64_t Del(const std::string& ns, const std::string& key, bool by_prefix);

  /// \brief Whether `key` exists in `ns`.
  bool Exists(const std::string& ns, const std::string& key) const;

  /// \brief Every key of `ns` starting with `prefix`, in byte order.
  std::vector<std::string> Keys(const std::string& ns, const std::string& prefix) const;

  /// \brief Total number of keys across namespaces.
  size_t Size() const;

 private:
  using Table = std::map<std::string, std::string>;
  // Ordered maps make prefix scans a lower_bound plus a walk.
  std::map<std::string, Table> namespaces_;
};

}  // namespace lumos::gcs
