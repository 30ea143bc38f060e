#include "gcs/task_event_manager.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <tuple>

#include "common/string_util.h"

namespace lumos::gcs {
namespace {

// The function a summary line is about, as `lumos list tasks` shows it
// (rows.task_row): an actor method as Class.method (its name carries the
// class), the task's name when no function is known.
std::string SummaryName(const rpc::TaskInfo* info) {
  if (info == nullptr) return "";
  const std::string& func = info->func_or_class_name();
  if (func.empty()) return info->name();
  const std::string& name = info->name();
  if (info->type() == "ACTOR_TASK" && func.find('.') == std::string::npos) {
    size_t dot = name.rfind('.');
    if (dot != std::string::npos) return name.substr(0, dot) + "." + func;
  }
  return func;
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

GcsTaskEventManager::Key GcsTaskEventManager::KeyOf(const std::string& task_id, int32_t attempt) {
  Key key;
  key.task_id.Assign(task_id);
  key.attempt = attempt;
  return key;
}

const std::vector<std::string>& GcsTaskEventManager::FilterKeys() {
  static const std::vector<std::string> kKeys = {
      "task_id",   "attempt_number", "name",      "state",      "job_id",     "actor_id",
      "type",      "func_or_class_name", "parent_task_id", "node_id", "worker_id", "worker_pid",
      "error_type", "language",      "placement_group_id"};
  return kKeys;
}

bool GcsTaskEventManager::FieldOf(const Key& k, const Attempt& a, const std::string& key, std::string* out) {
  static const rpc::TaskInfo kNoInfo;
  const rpc::TaskInfo& info = a.info ? *a.info : kNoInfo;
  if (key == "task_id") *out = HexOfBytes(k.task_id.str());
  else if (key == "attempt_number") *out = std::to_string(a.attempt_number);
  else if (key == "name") *out = info.name();
  else if (key == "state") *out = rpc::TaskStatus_Name(a.State());
  else if (key == "job_id") *out = HexOfBytes(info.job_id());
  else if (key == "actor_id") *out = HexOfBytes(a.actor_id.str());
  else if (key == "type") *out = info.type();
  else if (key == "func_or_class_name") *out = info.func_or_class_name();
  else if (key == "parent_task_id") *out = HexOfBytes(a.parent_task_id.str());
  else if (key == "node_id") *out = HexOfBytes(a.node_id.str());
  else if (key == "worker_id") *out = HexOfBytes(a.worker_id.str());
  else if (key == "worker_pid") *out = a.worker_pid ? std::to_string(a.worker_pid) : "";
  else if (key == "error_type") *out = a.error_type;
  else if (key == "language") *out = "PYTHON";
  else if (key == "placement_group_id") *out = info.placement_group_id();
  else return false;
  return true;
}

void GcsTaskEventManager::AddEvents(const rpc::AddTaskEventsRequest& request, int64_t now_us) {
  num_dropped_at_source_ += std::max<int64_t>(0, request.num_dropped_at_source());
  // Descriptions the events name by index, each interned at its first use.
  std::vector<std::shared_ptr<const rpc::TaskInfo>> interned(request.descriptions_size());
  for (const auto& ev : request.events()) {
    const rpc::TaskInfo* info = ev.has_info() ? &ev.info() : nullptr;
    std::shared_ptr<const rpc::TaskInfo>* shared = nullptr;
    int d = ev.description_index();
    if (info == nullptr && d > 0 && d <= request.descriptions_size()) {
      info = &request.descriptions(d - 1);
      shared = &interned[d - 1];
    }
    Merge(ev, info, shared, now_us);
  }
  EvictIfNeeded();
}

void GcsTaskEventManager::Merge(const rpc::TaskEventData& ev, const rpc::TaskInfo* info,
                                std::shared_ptr<const rpc::TaskInfo>* interned, int64_t now_us) {
  if (!Bytes::Fits(ev.task_id()) || !Bytes::Fits(ev.node_id()) || !Bytes::Fits(ev.worker_id())) return;
  Key key = KeyOf(ev.task_id(), ev.attempt_number());
  if (!evicted_.empty() && evicted_.count(key) > 0) {  // late news of a dropped attempt
    num_spans_dropped_ += ev.profile_events_size();
    return;
  }
  auto [it, added] = attempts_.try_emplace(key);
  Attempt& a = it->second;
  if (added) {
    a.attempt_number = ev.attempt_number();
    a.creation_us = now_us;
    a.seq = next_seq_++;
    order_.emplace_back(key, a.seq);
  } else {
    Count(a, -1);  // counted in again below, with what this report changes
  }
  const bool was_finished = a.Finished();
  if (info != nullptr && Bytes::Fits(info->actor_id()) && Bytes::Fits(info->parent_task_id())) {
    if (interned == nullptr) {
      a.info = Intern(*info);
    } else {
      if (*interned == nullptr) *interned = Intern(*info);
      a.info = *interned;
    }
    a.actor_id.Assign(info->actor_id());
    a.parent_task_id.Assign(info->parent_task_id());
  } else if (added && ev.attempt_number() > 0) {
    // A retry whose first report came without a description: the previous attempt's.
    auto prev = attempts_.find(KeyOf(ev.task_id(), ev.attempt_number() - 1));
    if (prev != attempts_.end()) {
      a.info = prev->second.info;
      a.actor_id = prev->second.actor_id;
      a.parent_task_id = prev->second.parent_task_id;
    }
  }
  const auto& times = ev.state_times_us();
  for (int s = rpc::PENDING_ARGS_AVAIL; s <= rpc::FAILED && s < times.size(); s++) {
    int64_t t = times.Get(s);
    if (t > 0 && (a.state_us[s] == 0 || t < a.state_us[s])) a.state_us[s] = t;
  }
  if (!ev.node_id().empty()) a.node_id.Assign(ev.node_id());
  if (!ev.worker_id().empty()) a.worker_id.Assign(ev.worker_id());
  if (ev.worker_pid() != 0) a.worker_pid = ev.worker_pid();
  if (ev.start_time_us() != 0) a.start_us = ev.start_time_us();
  if (ev.end_time_us() != 0) a.end_us = ev.end_time_us();
  if (!ev.error_type().empty()) a.error_type = ev.error_type();
  if (!ev.error_message().empty()) a.error_message = ev.error_message();
  if (ev.profile_events_size() > 0) AddSpans(ev, &a);
  if (!was_finished && a.Finished()) finished_.emplace_back(key, a.seq);
  Count(a, +1);
}

void GcsTaskEventManager::Count(const Attempt& a, int sign) {
  const int state = a.State();
  auto& counts = count_by_info_[a.info.get()];
  counts[state] += sign;
  if (sign < 0 && std::all_of(counts.begin(), counts.end(), [](int64_t n) { return n == 0; })) {
    count_by_info_.erase(a.info.get());  // no attempt holds it: the pointer may be reused
  }
}

int64_t GcsTaskEventManager::KnownTotal(const std::vector<Matcher>& matchers) const {
  if (matchers.empty()) return static_cast<int64_t>(attempts_.size());
  // Filters on the state and on fields of the description only: the kept
  // counts answer (each description decided once, as Matches does).
  for (const auto& m : matchers) {
    if (m.kind != Matcher::kState && m.kind != Matcher::kInfo) return -1;
  }
  int64_t total = 0;  // count_by_info_ is small: one entry per distinct description
  for (const auto& [info, by_state] : count_by_info_) {
    bool info_ok = true;
    for (const auto& m : matchers) {
      if (m.kind != Matcher::kInfo) continue;
      Attempt probe;  // FieldOf reads only the description for these keys
      probe.info = std::shared_ptr<const rpc::TaskInfo>(std::shared_ptr<const rpc::TaskInfo>(), info);
      std::string field;
      FieldOf(Key(), probe, m.filter->key(), &field);
      if (EqualsIgnoreCase(field, m.filter->value()) != m.equal) {
        info_ok = false;
        break;
      }
    }
    if (!info_ok) continue;
    for (int st = 0; st < 7; st++) {
      bool state_ok = true;
      for (const auto& m : matchers) {
        if (m.kind == Matcher::kState && (st == m.state) != m.equal) state_ok = false;
      }
      if (state_ok) total += by_state[st];
    }
  }
  return total;
}

void GcsTaskEventManager::AddSpans(const rpc::TaskEventData& ev, Attempt* a) {
  for (const auto& span : ev.profile_events()) {
    const int64_t kept = a->spans ? static_cast<int64_t>(a->spans->size()) : 0;
    if (kept >= max_spans_per_attempt_ || num_spans_ >= max_spans_) {
      a->spans_dropped++;
      num_spans_dropped_++;
      continue;
    }
    if (!a->spans) a->spans = std::make_unique<std::vector<rpc::ProfileEvent>>();
    a->spans->push_back(span);
    num_spans_++;
  }
}

std::shared_ptr<const rpc::TaskInfo> GcsTaskEventManager::Intern(const rpc::TaskInfo& info) {
  std::string key;
  key.reserve(info.name().size() + info.func_or_class_name().size() + 64);
  for (const std::string* part : {&info.name(), &info.func_or_class_name(), &info.type(), &info.job_id(),
                                  &info.placement_group_id()}) {
    key += *part;
    key += '\x1f';
  }
  for (const auto& [name, amount] : info.required_resources()) {
    key += name;
    key.append(reinterpret_cast<const char*>(&amount), sizeof(amount));
  }
  auto it = interned_.find(key);
  if (it != interned_.end()) return it->second;
  if (interned_.size() >= kMaxInterned) interned_.clear();
  auto shared = std::make_shared<rpc::TaskInfo>(info);
  shared->clear_actor_id();
  shared->clear_parent_task_id();
  interned_.emplace(std::move(key), shared);
  return shared;
}

void GcsTaskEventManager::EvictIfNeeded() {
  while (static_cast<int64_t>(attempts_.size()) > max_attempts_) {
    bool dropped = false;
    while (!finished_.empty() && !dropped) {
      auto [key, seq] = std::move(finished_.front());
      finished_.pop_front();
      auto it = attempts_.find(key);
      if (it != attempts_.end() && it->second.seq == seq) {
        Drop(it);
        dropped = true;
      }
    }
    while (!dropped && !order_.empty()) {
      auto [key, seq] = std::move(order_.front());
      order_.pop_front();
      auto it = attempts_.find(key);
      if (it != attempts_.end() && it->second.seq == seq) {
        Drop(it);
        dropped = true;
      }
    }
    if (!dropped) break;  // cannot happen: every entry is in order_
    num_dropped_++;
  }
  CompactOrder();
}

void GcsTaskEventManager::Drop(std::unordered_map<Key, Attempt, KeyHash>::iterator it) {
  Count(it->second, -1);
  if (it->second.spans) num_spans_ -= static_cast<int64_t>(it->second.spans->size());
  Key key = it->first;
  attempts_.erase(it);
  Forget(key);
}

void GcsTaskEventManager::Forget(const Key& key) {
  if (evicted_.insert(key).second) evicted_order_.push_back(key);
  while (static_cast<int64_t>(evicted_order_.size()) > max_attempts_) {
    evicted_.erase(evicted_order_.front());
    evicted_order_.pop_front();
  }
}

void GcsTaskEventManager::CompactOrder() {
  auto stale = [this](const std::pair<Key, uint64_t>& e) {
    auto it = attempts_.find(e.first);
    return it == attempts_.end() || it->second.seq != e.second;
  };
  // In place, once the stale entries reach half the table: copying the live
  // ones into a new deque held old and new at once (12 MB for 100k
  // attempts) and freed 8 MB in one go, whose holes other allocations then
  // took, so the next compaction grew the heap again (the soak's GCS RSS
  // rose in steps of 3-5 MB). In place, only the emptied tail is freed and
  // the deque grows back into it.
  const size_t bound = attempts_.size() + attempts_.size() / 2 + 1024;
  if (order_.size() > bound) order_.erase(std::remove_if(order_.begin(), order_.end(), stale), order_.end());
  if (finished_.size() > bound) {
    finished_.erase(std::remove_if(finished_.begin(), finished_.end(), stale), finished_.end());
  }
}

void GcsTaskEventManager::Fill(const Key& k, const Attempt& a, bool spans, rpc::TaskEventData* out) {
  out->set_task_id(k.task_id.str());
  out->set_attempt_number(a.attempt_number);
  if (a.info) *out->mutable_info() = *a.info;
  out->mutable_info()->set_actor_id(a.actor_id.str());
  out->mutable_info()->set_parent_task_id(a.parent_task_id.str());
  for (int s = rpc::TASK_STATUS_NIL; s <= rpc::FAILED; s++) out->add_state_times_us(a.state_us[s]);
  out->set_node_id(a.node_id.str());
  out->set_worker_id(a.worker_id.str());
  out->set_worker_pid(a.worker_pid);
  out->set_start_time_us(a.start_us);
  out->set_end_time_us(a.end_us);
  out->set_error_type(a.error_type);
  out->set_error_message(a.error_message);
  out->set_state(a.State());
  out->set_creation_time_us(a.creation_us);
  if (spans && a.spans) {
    out->mutable_profile_events()->Reserve(static_cast<int>(a.spans->size()));
    for (const auto& span : *a.spans) *out->add_profile_events() = span;
  }
  if (spans) out->set_num_profile_events_dropped(a.spans_dropped);
}

GcsTaskEventManager::Matcher GcsTaskEventManager::Compile(const rpc::StateFilter& f) {
  Matcher m;
  m.filter = &f;
  m.equal = f.predicate() == "=";
  const std::string& key = f.key();
  if (key == "state") {
    m.kind = Matcher::kState;
    for (int st = rpc::TASK_STATUS_NIL; st <= rpc::FAILED; st++) {
      if (EqualsIgnoreCase(rpc::TaskStatus_Name(static_cast<rpc::TaskStatus>(st)), f.value())) m.state = st;
    }
  } else if (key == "task_id" || key == "actor_id" || key == "parent_task_id" || key == "node_id" ||
             key == "worker_id") {
    m.kind = Matcher::kId;
    m.id = key == "actor_id"         ? &Attempt::actor_id
           : key == "parent_task_id" ? &Attempt::parent_task_id
           : key == "node_id"        ? &Attempt::node_id
           : key == "worker_id"      ? &Attempt::worker_id
                                     : nullptr;  // task_id: the key's
    std::string bin;
    m.id_valid = f.value().size() / 2 <= 24 && BytesOfHex(f.value(), &bin);
    if (m.id_valid) m.id_value.Assign(bin);
  } else if (key == "name" || key == "job_id" || key == "type" || key == "func_or_class_name" ||
             key == "placement_group_id") {
    m.kind = Matcher::kInfo;
  }
  return m;
}

bool GcsTaskEventManager::Matches(const Key& k, const Attempt& a, const Matcher& m) {
  bool eq;
  switch (m.kind) {
    case Matcher::kState:
      eq = static_cast<int>(a.State()) == m.state;
      break;
    case Matcher::kId: {
      const Bytes& id = m.id ? a.*(m.id) : k.task_id;
      eq = m.id_valid && id.size == m.id_value.size &&
           std::memcmp(id.data.data(), m.id_value.data.data(), id.size) == 0;
      break;
    }
    case Matcher::kInfo: {
      auto [it, added] = m.memo.try_emplace(a.info.get(), false);
      if (added) {
        std::string field;
        FieldOf(k, a, m.filter->key(), &field);
        it->second = EqualsIgnoreCase(field, m.filter->value());
      }
      eq = it->second;
      break;
    }
    default: {
      std::string field;
      FieldOf(k, a, m.filter->key(), &field);
      eq = EqualsIgnoreCase(field, m.filter->value());
    }
  }
  return eq == m.equal;
}

Status GcsTaskEventManager::Query(const std::vector<rpc::StateFilter>& filters, int64_t limit,
                                  rpc::GetTaskEventsReply* reply, bool summarize, bool newest_first,
                                  bool include_profile_events) const {
  for (const auto& f : filters) {
    const auto& keys = FilterKeys();
    if (std::find(keys.begin(), keys.end(), f.key()) == keys.end()) {
      return Status::InvalidArgument("cannot filter tasks on '" + f.key() + "'; valid keys are: " + Join(keys));
    }
    if (f.predicate() != "=" && f.predicate() != "!=") {
      return Status::InvalidArgument("filter predicate must be '=' or '!=', got '" + f.predicate() + "'");
    }
  }
  std::vector<Matcher> matchers;
  matchers.reserve(filters.size());
  for (const auto& f : filters) matchers.push_back(Compile(f));
  int64_t total = 0;
  // summarize: (function, type) group of each description, then counts per state.
  std::unordered_map<const rpc::TaskInfo*, size_t> group_of;
  std::vector<std::pair<std::string, std::string>> groups;
  std::vector<std::array<int64_t, 7>> counts;
  // Known without a walk: the total (then the walk stops at the limit, or
  // once every match was seen) and, unfiltered, the summary's counts.
  const int64_t known_total = KnownTotal(matchers);
  if (summarize && matchers.empty()) {
    for (const auto& [info, by_state] : count_by_info_) {
      group_of.emplace(info, groups.size());
      groups.emplace_back(SummaryName(info), info ? info->type() : "");
      counts.push_back(by_state);
    }
  }
  const size_t n = summarize && matchers.empty() ? 0 : order_.size();
  for (size_t i = 0; i < n; i++) {
    if (known_total >= 0 && !summarize &&
        (total == known_total || (limit > 0 && reply->events_size() >= limit))) {
      break;
    }
    const auto& [key, seq] = order_[newest_first ? n - 1 - i : i];
    auto it = attempts_.find(key);
    if (it == attempts_.end() || it->second.seq != seq) continue;
    const Attempt& a = it->second;
    bool match = true;
    for (const auto& m : matchers) {
      if (!Matches(key, a, m)) {
        match = false;
        break;
      }
    }
    if (!match) continue;
    total++;
    if (summarize) {
      auto [g, added] = group_of.try_emplace(a.info.get(), groups.size());
      if (added) {
        groups.emplace_back(SummaryName(a.info.get()), a.info ? a.info->type() : "");
        counts.push_back({});
      }
      counts[g->second][a.State()]++;
    } else if (limit <= 0 || reply->events_size() < limit) {
      Fill(key, a, include_profile_events, reply->add_events());
    }
  }
  if (summarize) {
    // Descriptions differing only in fields not shown (resources, job) share a line.
    std::map<std::tuple<std::string, std::string, int>, int64_t> merged;
    for (size_t g = 0; g < groups.size(); g++) {
      for (int st = 0; st < 7; st++) {
        if (counts[g][st]) merged[{groups[g].first, groups[g].second, st}] += counts[g][st];
      }
    }
    for (const auto& [k, n] : merged) {
      auto* c = reply->add_state_counts();
      c->set_func_or_class_name(std::get<0>(k));
      c->set_type(std::get<1>(k));
      c->set_state(rpc::TaskStatus_Name(static_cast<rpc::TaskStatus>(std::get<2>(k))));
      c->set_count(n);
    }
  }
  if (known_total >= 0) total = known_total;
  reply->set_total(total);
  reply->set_truncated(total > reply->events_size());
  reply->set_num_dropped(num_dropped());
  reply->set_num_profile_events_dropped(num_spans_dropped_);
  return Status::OK();
}

}  // namespace lumos::gcs
