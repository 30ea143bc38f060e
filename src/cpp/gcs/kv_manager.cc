#include "gcs/kv_manager.h"

#include <utility>

namespace lumos::gcs {
namespace {
bool HasPrefix(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}
}  // namespace

bool GcsKvManager::Get(const std::string& ns, const std::string& key, std::string* value) const {
  auto table = namespaces_.find(ns);
  if (table == namespaces_.end()) return false;
  auto it = table->second.find(key);
  if (it == table->second.end()) return false;
  *value = it->second;
  return true;
}

bool GcsKvManager::Put(const std::string& ns, const std::string& key, std::string value,
                       bool overwrite) {
  Table& table = namespaces_[ns];
  auto [it, added] = table.try_emplace(key, std::move(value));
  if (!added && overwrite) it->second = std::move(value);  // try_emplace left value intact
  return added;
}

int64_t GcsKvManager::Del(const std::string& ns, const std::string& key, bool by_prefix) {
  auto table = namespaces_.find(ns);
  if (table == namespaces_.end()) return 0;
  Table& t = table->second;
  int64_t deleted = 0;
  if (!by_prefix) {
    deleted = static_cast<int64_t>(t.erase(key));
  } else {
    auto it = t.lower_bound(key);
    while (it != t.end() && HasPrefix(it->first, key)) {
      it = t.erase(it);
      deleted++;
    }
  }
  if (t.empty()) namespaces_.erase(table);
  return deleted;
}

bool GcsKvManager::Exists(const std::string& ns, const std::string& key) const {
  auto table = namespaces_.find(ns);
  return table != namespaces_.end() && table->second.count(key) > 0;
}

std::vector<std::string> GcsKvManager::Keys(const std::string& ns,
                                            const std::string& prefix) const {
  std::vector<std::string> keys;
  auto table = namespaces_.find(ns);
  if (table == namespaces_.end()) return keys;
  for (auto it = table->second.lower_bound(prefix);
       it != table->second.end() && HasPrefix(it->first, prefix); ++it) {
    keys.push_back(it->first);
  }
  return keys;
}

size_t GcsKvManager::Size() const {
  size_t n = 0;
  for (const auto& [ns, table] : namespaces_) n += table.size();
  return n;
}

}  // namespace lumos::gcs
