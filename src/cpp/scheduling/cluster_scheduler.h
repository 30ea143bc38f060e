#pragma once
// ClusterScheduler: picks a node for a resource request, or nodes for the
// bundles of a placement group, over a table of node resource views. Pure
// state machine, no I/O: the owner (GCS, raylet) feeds it node views
// (UpsertNode / UpdateAvailable / RemoveNode) and asks for decisions; tests
// drive it with simulated nodes.
//
// Representation: resource names are interned to small ints (CPU, GPU,
// memory, object_store_memory first), amounts are ResourceSet fixed point
// (1/10000) in dense per-node vectors, so one decision over 1,000 nodes is a
// few array reads per node.
//
// Policies (see Schedule):
// * DEFAULT (hybrid, like Ray): walk the nodes starting with the local node;
//   take the first available node whose utilisation (the largest used
//   fraction of CPU/GPU/memory/object_store_memory) is below
//   `spread_threshold`; if none, the available node with the lowest
//   utilisation; if none is available now, wait (kWait) when some node could
//   ever fit the request, else kInfeasible.
// * SPREAD: round-robin over the available nodes.
// * NODE_AFFINITY: the named node; when it is dead, unknown or cannot fit the
//   request, soft falls back to DEFAULT and hard is kInfeasible. A busy node
//   is waited for (soft or hard, like Ray) unless spill_on_unavailable.
// * NODE_LABEL: hard expressions filter the nodes, soft ones are preferred.
// Bundles (ScheduleBundles): PACK, SPREAD, STRICT_PACK, STRICT_SPREAD over
// available resources; the decision is all-or-nothing and allocates nothing.
//
// Thread safety: none.
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/id.h"
#include "common/resource_set.h"

namespace lumos::scheduling {

using ResourceId = int32_t;

/// A resource request in interned form: (resource id, fixed-point amount > 0).
struct ResourceRequest {
  std::vector<std::pair<ResourceId, int64_t>> items;
  bool empty() const { return items.empty(); }
};

/// One label expression of NodeLabelSchedulingStrategy.
struct LabelExpression {
  enum Op { kIn, kNotIn, kExists, kDoesNotExist };
  std::string key;
  Op op = kIn;
  std::vector<std::string> values;
  bool Matches(const std::map<std::string, std::string>& labels) const;
};

struct SchedulingStrategy {
  enum Kind { kDefault, kSpread, kNodeAffinity, kNodeLabel };
  Kind kind = kDefault;
  NodeID affinity_node;  // kNodeAffinity
  bool soft = false;     // kNodeAffinity: may run elsewhere when the node is dead or too small
  bool spill_on_unavailable = false;  // kNodeAffinity: may also run elsewhere while the node is busy
  std::vector<LabelExpression> hard_labels;  // kNodeLabel
  std::vector<LabelExpression> soft_labels;  // kNodeLabel
};

enum class BundleStrategy { kPack, kSpread, kStrictPack, kStrictSpread };

struct Decision {
  enum Kind { kNode, kWait, kInfeasible };
  Kind kind = kWait;
  NodeID node;         // kNode
  std::string reason;  // kWait, kInfeasible: what is missing
};

struct BundleDecision {
  Decision::Kind kind = Decision::kWait;
  std::vector<NodeID> nodes;  // kNode: one per bundle, in bundle order
  std::string reason;
};

class ClusterScheduler {
 public:
  explicit ClusterScheduler(NodeID local_node = NodeID(), double spread_threshold = 0.5);

  /// \brief Interns the names of `rs` (adding new resources to every node at 0).
  ResourceRequest MakeRequest(const ResourceSet& rs);

  /// \brief Adds a node or replaces its totals, availability and labels.
  void UpsertNode(const NodeID& node, const ResourceSet& total, const ResourceSet& available,
                  const std::map<std::string, std::string>& labels = {});
  /// \brief New availability of a known node (unknown nodes are ignored).
  void UpdateAvailable(const NodeID& node, const ResourceSet& available);
  void RemoveNode(const NodeID& node);
  bool HasNode(const NodeID& node) const { return index_.count(node) > 0; }
  size_t num_nodes() const { return nodes_.size(); }

  /// \brief Picks a node for one request (does not allocate).
  Decision Schedule(const ResourceRequest& req, const SchedulingStrategy& strategy);
  /// \brief Picks a node for every bundle, all or nothing (does not allocate).
  BundleDecision ScheduleBundles(const std::vector<ResourceRequest>& bundles,
                                 BundleStrategy strategy);

  /// \brief Subtracts `req` from the node's availability (so that following
  /// decisions see it before the node's next report); false if it does not fit.
  bool Allocate(const NodeID& node, const ResourceRequest& req);
  void Free(const NodeID& node, const ResourceRequest& req);

  /// \brief Nodes whose totals fit `req` (could run it once idle) and that
  /// the strategy's hard constraints allow, the local node first.
  std::vector<NodeID> FeasibleNodes(const ResourceRequest& req, const SchedulingStrategy& strategy) const;
  /// \brief The node's availability as a ResourceSet (empty if unknown).
  ResourceSet Available(const NodeID& node) const;
  /// \brief "{'CPU': 4.0, ...}" of the node with the most CPU, for messages.
  std::string DescribeLargestNode(const ResourceRequest& req) const;
  std::string Describe(const ResourceRequest& req) const;

 private:
  struct Node {
    NodeID id;
    std::vector<int64_t> total;
    std::vector<int64_t> available;
    std::map<std::string, std::string> labels;
  };
  ResourceId Intern(const std::string& name);
  void Fill(const ResourceSet& rs, std::vector<int64_t>* out);
  static bool Fits(const std::vector<int64_t>& have, const ResourceRequest& req);
  double Utilization(const Node& n) const;
  // Hybrid choice among the nodes for which `eligible(i)` is true.
  template <typename Pred>
  Decision Hybrid(const ResourceRequest& req, Pred eligible) const;
  Decision Spread(const ResourceRequest& req);
  bool FeasibleSomewhere(const ResourceRequest& req) const;
  Decision NotPlaced(const ResourceRequest& req) const;

  NodeID local_;
  double spread_threshold_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, ResourceId> ids_;
  std::vector<Node> nodes_;
  std::unordered_map<NodeID, size_t> index_;
  size_t spread_next_ = 0;
};

}  // namespace lumos::scheduling
