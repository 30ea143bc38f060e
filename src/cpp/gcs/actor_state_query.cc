#include "gcs/actor_state_query.h"

#include <algorithm>
#include <map>
#include <utility>

#include "common/string_util.h"

namespace lumos::gcs {
namespace {

// One filter, compiled once per query. Fields are compared as
// python/lumos/util/state/rows.py ACTOR_FIELDS shows them: ids as hex (so
// the value is decoded once and compared as bytes), states by name (the
// value is resolved to the enum once), the other fields case-insensitively.
struct ActorMatcher {
  enum Kind { kActorId, kState, kClassName, kName, kJobId, kNamespace, kNodeId } kind;
  bool equal;
  std::string value;  // the filter's text
  std::string bytes;  // ids: the decoded value
  bool hex_ok = false;
  int state = -1;  // kState: the named state; -1 = no such state

  bool Matches(const rpc::ActorTableData& a) const {
    bool eq = false;
    switch (kind) {
      case kActorId:
        eq = hex_ok && a.actor_id() == bytes;
        break;
      case kJobId:
        eq = hex_ok && a.job_id() == bytes;
        break;
      case kNodeId:  // shown only for an ALIVE actor
        eq = hex_ok && (a.state() == rpc::ActorTableData::ALIVE ? a.address().node_id() : std::string()) == bytes;
        break;
      case kState:
        eq = static_cast<int>(a.state()) == state;
        break;
      case kClassName:
        eq = EqualsIgnoreCase(a.class_name(), value);
        break;
      case kName:
        eq = EqualsIgnoreCase(a.name(), value);
        break;
      case kNamespace:
        eq = EqualsIgnoreCase(a.ray_namespace(), value);
        break;
    }
    return eq == equal;
  }
};

ActorMatcher Compile(const rpc::StateFilter& f, size_t key_index) {
  static const ActorMatcher::Kind kKinds[] = {ActorMatcher::kActorId,   ActorMatcher::kState,
                                              ActorMatcher::kClassName, ActorMatcher::kName,
                                              ActorMatcher::kJobId,     ActorMatcher::kNamespace,
                                              ActorMatcher::kNodeId};
  ActorMatcher m;
  m.kind = kKinds[key_index];
  m.equal = f.predicate() == "=";
  m.value = f.value();
  m.hex_ok = BytesOfHex(f.value(), &m.bytes);
  if (m.kind == ActorMatcher::kState) {
    const auto* desc = rpc::ActorTableData::ActorState_descriptor();
    for (int i = 0; i < desc->value_count(); i++) {
      if (EqualsIgnoreCase(desc->value(i)->name(), f.value())) m.state = desc->value(i)->number();
    }
  }
  return m;
}

}  // namespace

const std::vector<std::string>& ActorFilterKeys() {
  // The order is Compile's kKinds'.
  static const std::vector<std::string> kKeys = {"actor_id", "state",         "class_name", "name",
                                                 "job_id",   "ray_namespace", "node_id"};
  return kKeys;
}

Status QueryActors(const std::vector<const rpc::ActorTableData*>& actors, const rpc::GetAllActorInfoRequest& req,
                   rpc::GetAllActorInfoReply* reply) {
  const auto& keys = ActorFilterKeys();
  std::vector<ActorMatcher> matchers;
  for (const auto& f : req.filters()) {
    auto it = std::find(keys.begin(), keys.end(), f.key());
    if (it == keys.end()) {
      std::string valid;
      for (const auto& k : keys) valid += (valid.empty() ? "" : ", ") + k;
      return Status::InvalidArgument("the GCS cannot filter actors on '" + f.key() + "'; it filters on: " + valid);
    }
    if (f.predicate() != "=" && f.predicate() != "!=") {
      return Status::InvalidArgument("filter predicate must be '=' or '!=', got '" + f.predicate() + "'");
    }
    matchers.push_back(Compile(f, static_cast<size_t>(it - keys.begin())));
  }
  int64_t total = 0;
  std::map<std::pair<std::string, int>, int64_t> counts;
  for (const rpc::ActorTableData* a : actors) {
    bool match = true;
    for (const auto& m : matchers) {
      if (!m.Matches(*a)) {
        match = false;
        break;
      }
    }
    if (!match) continue;
    total++;
    if (req.summarize()) {
      counts[{a->class_name(), a->state()}]++;
    } else if (req.limit() <= 0 || reply->actors_size() < req.limit()) {
      *reply->add_actors() = *a;
    }
  }
  for (const auto& [k, n] : counts) {
    auto* c = reply->add_state_counts();
    c->set_class_name(k.first);
    c->set_state(rpc::ActorTableData::ActorState_Name(static_cast<rpc::ActorTableData::ActorState>(k.second)));
    c->set_count(n);
  }
  reply->set_total(total);
  reply->set_truncated(!req.summarize() && total > reply->actors_size());
  return Status::OK();
}

}  // namespace lumos::gcs
