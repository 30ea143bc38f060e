#include "gcs/actor_state_query.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <utility>

#include "common/string_util.h"

namespace lumos::gcs {
namespace {

// The field as python/lumos/util/state/rows.py ACTOR_FIELDS shows it.
std::string FieldOf(const rpc::ActorTableData& a, const std::string& key) {
  if (key == "actor_id") return HexOfBytes(a.actor_id());
  if (key == "state") return rpc::ActorTableData::ActorState_Name(a.state());
  if (key == "class_name") return a.class_name();
  if (key == "name") return a.name();
  if (key == "job_id") return HexOfBytes(a.job_id());
  if (key == "ray_namespace") return a.ray_namespace();
  if (key == "node_id") return a.state() == rpc::ActorTableData::ALIVE ? HexOfBytes(a.address().node_id()) : "";
  return "";
}

}  // namespace

const std::vector<std::string>& ActorFilterKeys() {
  static const std::vector<std::string> kKeys = {"actor_id", "state",         "class_name", "name",
                                                 "job_id",   "ray_namespace", "node_id"};
  return kKeys;
}

Status QueryActors(std::vector<rpc::ActorTableData> actors, const rpc::GetAllActorInfoRequest& req,
                   rpc::GetAllActorInfoReply* reply) {
  const auto& keys = ActorFilterKeys();
  for (const auto& f : req.filters()) {
    if (std::find(keys.begin(), keys.end(), f.key()) == keys.end()) {
      std::string valid;
      for (const auto& k : keys) valid += (valid.empty() ? "" : ", ") + k;
      return Status::InvalidArgument("the GCS cannot filter actors on '" + f.key() + "'; it filters on: " + valid);
    }
    if (f.predicate() != "=" && f.predicate() != "!=") {
      return Status::InvalidArgument("filter predicate must be '=' or '!=', got '" + f.predicate() + "'");
    }
  }
  int64_t total = 0;
  std::map<std::pair<std::string, int>, int64_t> counts;
  for (auto& a : actors) {
    bool match = true;
    for (const auto& f : req.filters()) {
      if (EqualsIgnoreCase(FieldOf(a, f.key()), f.value()) != (f.predicate() == "=")) {
        match = false;
        break;
      }
    }
    if (!match) continue;
    total++;
    if (req.summarize()) {
      counts[{a.class_name(), a.state()}]++;
    } else if (req.limit() <= 0 || reply->actors_size() < req.limit()) {
      *reply->add_actors() = std::move(a);
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
