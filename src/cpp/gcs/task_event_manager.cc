#include "gcs/task_event_manager.h"

#include <algorithm>
#include <cctype>

namespace lumos::gcs {
namespace {

std::string ToHex(const std::string& bin) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(bin.size() * 2);
  for (unsigned char c : bin) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

bool EqualsIgnoreCase(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

rpc::TaskStatus GcsTaskEventManager::Attempt::State() const {
  if (state_us[rpc::FINISHED] != 0 || state_us[rpc::FAILED] != 0) {
    // Both can only come from conflicting reports; the later one wins.
    return state_us[rpc::FAILED] >= state_us[rpc::FINISHED] ? rpc::FAILED : rpc::FINISHED;
  }
  for (int s = rpc::RUNNING; s > rpc::TASK_STATUS_NIL; s--) {
    if (state_us[s] != 0) return static_cast<rpc::TaskStatus>(s);
  }
  return rpc::TASK_STATUS_NIL;
}

std::string GcsTaskEventManager::KeyOf(const std::string& task_id, int32_t attempt) {
  std::string key = task_id;
  key.append(reinterpret_cast<const char*>(&attempt), sizeof(attempt));
  return key;
}

const std::vector<std::string>& GcsTaskEventManager::FilterKeys() {
  static const std::vector<std::string> kKeys = {
      "task_id",   "attempt_number", "name",      "state",      "job_id",     "actor_id",
      "type",      "func_or_class_name", "parent_task_id", "node_id", "worker_id", "worker_pid",
      "error_type", "language",      "placement_group_id"};
  return kKeys;
}

bool GcsTaskEventManager::FieldOf(const Attempt& a, const std::string& key, std::string* out) {
  if (key == "task_id") *out = ToHex(a.task_id);
  else if (key == "attempt_number") *out = std::to_string(a.attempt_number);
  else if (key == "name") *out = a.info.name();
  else if (key == "state") *out = rpc::TaskStatus_Name(a.State());
  else if (key == "job_id") *out = ToHex(a.info.job_id());
  else if (key == "actor_id") *out = ToHex(a.info.actor_id());
  else if (key == "type") *out = a.info.type();
  else if (key == "func_or_class_name") *out = a.info.func_or_class_name();
  else if (key == "parent_task_id") *out = ToHex(a.info.parent_task_id());
  else if (key == "node_id") *out = ToHex(a.node_id);
  else if (key == "worker_id") *out = ToHex(a.worker_id);
  else if (key == "worker_pid") *out = a.worker_pid ? std::to_string(a.worker_pid) : "";
  else if (key == "error_type") *out = a.error_type;
  else if (key == "language") *out = "PYTHON";
  else if (key == "placement_group_id") *out = a.info.placement_group_id();
  else return false;
  return true;
}

void GcsTaskEventManager::AddEvents(const rpc::AddTaskEventsRequest& request, int64_t now_us) {
  num_dropped_at_source_ += std::max<int64_t>(0, request.num_dropped_at_source());
  for (const auto& ev : request.events()) Merge(ev, now_us);
  EvictIfNeeded();
}

void GcsTaskEventManager::Merge(const rpc::TaskEventData& ev, int64_t now_us) {
  std::string key = KeyOf(ev.task_id(), ev.attempt_number());
  if (!evicted_.empty() && evicted_.count(key) > 0) return;  // late news of a dropped attempt
  auto [it, added] = attempts_.try_emplace(key);
  Attempt& a = it->second;
  if (added) {
    a.task_id = ev.task_id();
    a.attempt_number = ev.attempt_number();
    a.creation_us = now_us;
    a.seq = next_seq_++;
    order_.emplace_back(key, a.seq);
  }
  const bool was_finished = a.Finished();
  if (ev.has_info()) {
    // Attempts after the first carry no info from the owner: copy the first's.
    a.info = ev.info();
  } else if (added && ev.attempt_number() > 0) {
    auto prev = attempts_.find(KeyOf(ev.task_id(), ev.attempt_number() - 1));
    if (prev != attempts_.end()) a.info = prev->second.info;
  }
  for (const auto& st : ev.states()) {
    int s = st.state();
    if (s <= rpc::TASK_STATUS_NIL || s > rpc::FAILED || st.time_us() <= 0) continue;
    if (a.state_us[s] == 0 || st.time_us() < a.state_us[s]) a.state_us[s] = st.time_us();
  }
  if (!ev.node_id().empty()) a.node_id = ev.node_id();
  if (!ev.worker_id().empty()) a.worker_id = ev.worker_id();
  if (ev.worker_pid() != 0) a.worker_pid = ev.worker_pid();
  if (ev.start_time_us() != 0) a.start_us = ev.start_time_us();
  if (ev.end_time_us() != 0) a.end_us = ev.end_time_us();
  if (!ev.error_type().empty()) a.error_type = ev.error_type();
  if (!ev.error_message().empty()) a.error_message = ev.error_message();
  if (!was_finished && a.Finished()) finished_.emplace_back(key, a.seq);
}

void GcsTaskEventManager::EvictIfNeeded() {
  while (static_cast<int64_t>(attempts_.size()) > max_attempts_) {
    bool dropped = false;
    while (!finished_.empty() && !dropped) {
      auto [key, seq] = std::move(finished_.front());
      finished_.pop_front();
      auto it = attempts_.find(key);
      if (it != attempts_.end() && it->second.seq == seq) {
        attempts_.erase(it);
        Forget(std::move(key));
        dropped = true;
      }
    }
    while (!dropped && !order_.empty()) {
      auto [key, seq] = std::move(order_.front());
      order_.pop_front();
      auto it = attempts_.find(key);
      if (it != attempts_.end() && it->second.seq == seq) {
        attempts_.erase(it);
        Forget(std::move(key));
        dropped = true;
      }
    }
    if (!dropped) break;  // cannot happen: every entry is in order_
    num_dropped_++;
  }
  CompactOrder();
}

void GcsTaskEventManager::Forget(std::string key) {
  if (evicted_.insert(key).second) evicted_order_.push_back(std::move(key));
  while (static_cast<int64_t>(evicted_order_.size()) > max_attempts_) {
    evicted_.erase(evicted_order_.front());
    evicted_order_.pop_front();
  }
}

void GcsTaskEventManager::CompactOrder() {
  auto live = [this](const std::pair<std::string, uint64_t>& e) {
    auto it = attempts_.find(e.first);
    return it != attempts_.end() && it->second.seq == e.second;
  };
  if (order_.size() > 2 * attempts_.size() + 1024) {
    std::deque<std::pair<std::string, uint64_t>> kept;
    for (auto& e : order_) {
      if (live(e)) kept.push_back(std::move(e));
    }
    order_.swap(kept);
  }
  if (finished_.size() > 2 * attempts_.size() + 1024) {
    std::deque<std::pair<std::string, uint64_t>> kept;
    for (auto& e : finished_) {
      if (live(e)) kept.push_back(std::move(e));
    }
    finished_.swap(kept);
  }
}

void GcsTaskEventManager::Fill(const Attempt& a, rpc::TaskEventData* out) {
  out->set_task_id(a.task_id);
  out->set_attempt_number(a.attempt_number);
  *out->mutable_info() = a.info;
  for (int s = rpc::PENDING_ARGS_AVAIL; s <= rpc::FAILED; s++) {
    if (a.state_us[s] == 0) continue;
    auto* st = out->add_states();
    st->set_state(static_cast<rpc::TaskStatus>(s));
    st->set_time_us(a.state_us[s]);
  }
  out->set_node_id(a.node_id);
  out->set_worker_id(a.worker_id);
  out->set_worker_pid(a.worker_pid);
  out->set_start_time_us(a.start_us);
  out->set_end_time_us(a.end_us);
  out->set_error_type(a.error_type);
  out->set_error_message(a.error_message);
  out->set_state(a.State());
  out->set_creation_time_us(a.creation_us);
}

Status GcsTaskEventManager::Query(const std::vector<rpc::StateFilter>& filters, int64_t limit,
                                  rpc::GetTaskEventsReply* reply) const {
  for (const auto& f : filters) {
    const auto& keys = FilterKeys();
    if (std::find(keys.begin(), keys.end(), f.key()) == keys.end()) {
      return Status::InvalidArgument("cannot filter tasks on '" + f.key() + "'; valid keys are: " + Join(keys));
    }
    if (f.predicate() != "=" && f.predicate() != "!=") {
      return Status::InvalidArgument("filter predicate must be '=' or '!=', got '" + f.predicate() + "'");
    }
  }
  int64_t total = 0;
  std::string field;
  for (const auto& [key, seq] : order_) {
    auto it = attempts_.find(key);
    if (it == attempts_.end() || it->second.seq != seq) continue;
    const Attempt& a = it->second;
    bool match = true;
    for (const auto& f : filters) {
      FieldOf(a, f.key(), &field);
      if (EqualsIgnoreCase(field, f.value()) != (f.predicate() == "=")) {
        match = false;
        break;
      }
    }
    if (!match) continue;
    total++;
    if (limit <= 0 || reply->events_size() < limit) Fill(a, reply->add_events());
  }
  reply->set_total(total);
  reply->set_truncated(total > reply->events_size());
  reply->set_num_dropped(num_dropped());
  return Status::OK();
}

}  // namespace lumos::gcs
