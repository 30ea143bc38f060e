#include "scheduling/strategy_proto.h"

namespace lumos::scheduling {
namespace {

void AddLabels(const google::protobuf::RepeatedPtrField<rpc::LabelMatch>& in, std::vector<LabelExpression>* out) {
  for (const auto& m : in) {
    LabelExpression e;
    e.key = m.key();
    e.op = static_cast<LabelExpression::Op>(m.op());
    e.values.assign(m.values().begin(), m.values().end());
    out->push_back(std::move(e));
  }
}

}  // namespace

SchedulingStrategy FromProto(const rpc::SchedulingStrategy& s) {
  SchedulingStrategy out;
  switch (s.kind()) {
    case rpc::SchedulingStrategy::SPREAD:
      out.kind = SchedulingStrategy::kSpread;
      break;
    case rpc::SchedulingStrategy::NODE_AFFINITY:
      out.kind = SchedulingStrategy::kNodeAffinity;
      if (s.node_id().size() == NodeID::kSize) out.affinity_node = NodeID::FromBinary(s.node_id());
      out.soft = s.soft();
      out.spill_on_unavailable = s.spill_on_unavailable();
      break;
    case rpc::SchedulingStrategy::NODE_LABEL:
      out.kind = SchedulingStrategy::kNodeLabel;
      AddLabels(s.hard(), &out.hard_labels);
      AddLabels(s.soft_labels(), &out.soft_labels);
      break;
    default:
      break;
  }
  return out;
}

std::map<std::string, std::string> NodeLabels(const NodeID& node,
                                              const google::protobuf::Map<std::string, std::string>& labels) {
  std::map<std::string, std::string> out(labels.begin(), labels.end());
  out["ray.io/node_id"] = node.Hex();
  return out;
}

bool AllMatch(const std::vector<LabelExpression>& exprs, const std::map<std::string, std::string>& labels) {
  for (const auto& e : exprs) {
    if (!e.Matches(labels)) return false;
  }
  return true;
}

}  // namespace lumos::scheduling
