#pragma once
// The wire form of a scheduling strategy (rpc::SchedulingStrategy, carried in
// TaskSpec and lease requests) as the ClusterScheduler's SchedulingStrategy,
// and the node-label check both the raylet and the GCS apply. Pure functions.
#include <map>
#include <string>

#include "common.pb.h"
#include "scheduling/cluster_scheduler.h"

namespace lumos::scheduling {

SchedulingStrategy FromProto(const rpc::SchedulingStrategy& s);

/// \brief A node's labels as strategies see them: its own plus Ray's default
/// "ray.io/node_id".
std::map<std::string, std::string> NodeLabels(const NodeID& node,
                                              const google::protobuf::Map<std::string, std::string>& labels);

/// \brief True when every expression matches `labels`.
bool AllMatch(const std::vector<LabelExpression>& exprs, const std::map<std::string, std::string>& labels);

}  // namespace lumos::scheduling
