#include "core_worker/generator_streams.h"

namespace lumos::core {

void GeneratorStreams::Create(const TaskID& task) {
  std::lock_guard<std::mutex> lock(mu_);
  streams_.emplace(task, Stream());
}

GeneratorStreams::ItemResult GeneratorStreams::OnItem(const TaskID& task, int64_t index, Ack ack,
                                                      std::vector<Ack>* run_now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(task);
  if (it == streams_.end() || index < 0) {
    if (ack) run_now->push_back(std::move(ack));
    return ItemResult::kUnknown;
  }
  Stream& s = it->second;
  if (s.dropped) {
    if (ack) run_now->push_back(std::move(ack));
    return ItemResult::kDropped;
  }
  bool dup = index < static_cast<int64_t>(s.reported.size()) && s.reported[index];
  if (!dup) {
    if (index >= static_cast<int64_t>(s.reported.size())) s.reported.resize(index + 1, false);
    s.reported[index] = true;
  }
  if (ack) {
    if (index < s.consumed) {
      run_now->push_back(std::move(ack));
    } else {
      s.waiting.emplace(index, std::move(ack));
    }
  }
  return dup ? ItemResult::kDuplicate : ItemResult::kNew;
}

void GeneratorStreams::OnFinished(const TaskID& task, int64_t total) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(task);
  if (it == streams_.end()) return;
  it->second.total = total;
  MaybeEraseLocked(task);
}

void GeneratorStreams::OnFailed(const TaskID& task) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(task);
  if (it == streams_.end()) return;
  it->second.failed = true;
  MaybeEraseLocked(task);
}

GeneratorStreams::NextKind GeneratorStreams::KindLocked(const Stream& s) {
  if (s.consumed < static_cast<int64_t>(s.reported.size()) && s.reported[s.consumed]) return NextKind::kItem;
  if (s.failed) return s.error_taken ? NextKind::kEnd : NextKind::kError;
  if (s.total >= 0) return NextKind::kEnd;
  return NextKind::kNotReady;
}

GeneratorStreams::NextKind GeneratorStreams::Next(const TaskID& task, int64_t* index) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(task);
  if (it == streams_.end()) return NextKind::kEnd;
  Stream& s = it->second;
  *index = s.consumed;
  NextKind kind = KindLocked(s);
  if (kind == NextKind::kItem) s.consumed++;
  if (kind == NextKind::kError) s.error_taken = true;
  return kind;
}

GeneratorStreams::NextKind GeneratorStreams::Peek(const TaskID& task, int64_t* index) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(task);
  if (it == streams_.end()) return NextKind::kEnd;
  *index = it->second.consumed;
  return KindLocked(it->second);
}

std::vector<GeneratorStreams::Ack> GeneratorStreams::Consumed(const TaskID& task, int64_t index) {
  std::vector<Ack> out;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(task);
  if (it == streams_.end()) return out;
  auto& waiting = it->second.waiting;
  auto end = waiting.upper_bound(index);
  for (auto w = waiting.begin(); w != end; ++w) out.push_back(std::move(w->second));
  waiting.erase(waiting.begin(), end);
  return out;
}

std::vector<int64_t> GeneratorStreams::Drop(const TaskID& task, std::vector<Ack>* run_now) {
  std::vector<int64_t> unconsumed;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(task);
  if (it == streams_.end()) return unconsumed;
  Stream& s = it->second;
  s.dropped = true;
  for (int64_t i = s.consumed; i < static_cast<int64_t>(s.reported.size()); i++) {
    if (s.reported[i]) unconsumed.push_back(i);
  }
  s.consumed = static_cast<int64_t>(s.reported.size());
  for (auto& [idx, ack] : s.waiting) run_now->push_back(std::move(ack));
  s.waiting.clear();
  MaybeEraseLocked(task);
  return unconsumed;
}

bool GeneratorStreams::IsFinished(const TaskID& task) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(task);
  if (it == streams_.end()) return true;
  const Stream& s = it->second;
  if (s.failed) return s.error_taken && s.consumed >= static_cast<int64_t>(s.reported.size());
  return s.total >= 0 && s.consumed >= s.total;
}

bool GeneratorStreams::Has(const TaskID& task) const {
  std::lock_guard<std::mutex> lock(mu_);
  return streams_.count(task) > 0;
}

size_t GeneratorStreams::NumStreams() const {
  std::lock_guard<std::mutex> lock(mu_);
  return streams_.size();
}

void GeneratorStreams::MaybeEraseLocked(const TaskID& task) {
  auto it = streams_.find(task);
  if (it != streams_.end() && it->second.dropped && EndedLocked(it->second)) streams_.erase(it);
}

}  // namespace lumos::core
