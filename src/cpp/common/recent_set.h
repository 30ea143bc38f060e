#pragma once
#include <cstddef>
#include <deque>
#include <string>
#include <unordered_set>

namespace lumos {

/// \brief A set that remembers at most `capacity` keys, forgetting the oldest
/// first: for "this id is gone for good" records (removed placement groups)
/// that must not grow without bound on a long-lived server.
class RecentSet {
 public:
  explicit RecentSet(size_t capacity) : capacity_(capacity) {}

  /// \brief Adds `key`; false if it was already there.
  bool Insert(const std::string& key) {
    if (!keys_.insert(key).second) return false;
    order_.push_back(key);
    if (order_.size() > capacity_) {
      keys_.erase(order_.front());
      order_.pop_front();
    }
    return true;
  }
  bool Contains(const std::string& key) const { return keys_.count(key) > 0; }
  bool empty() const { return keys_.empty(); }
  size_t size() const { return keys_.size(); }

 private:
  size_t capacity_;
  std::unordered_set<std::string> keys_;
  std::deque<std::string> order_;  // oldest first
};

}  // namespace lumos
