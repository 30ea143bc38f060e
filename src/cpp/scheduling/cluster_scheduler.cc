#include "scheduling/cluster_scheduler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace lumos::scheduling {

namespace {
// Interned first, in this order: the resources that define utilisation.
const char* const kPredefined[] = {"CPU", "GPU", "memory", "object_store_memory"};
constexpr ResourceId kNumPredefined = 4;

std::string FormatFixed(int64_t v) {
  std::ostringstream os;
  if (v % ResourceSet::kUnit == 0) {
    os << v / ResourceSet::kUnit << ".0";
  } else {
    os << static_cast<double>(v) / ResourceSet::kUnit;
  }
  return os.str();
}
}  // namespace

bool LabelExpression::Matches(const std::map<std::string, std::string>& labels) const {
  auto it = labels.find(key);
  bool has = it != labels.end();
  switch (op) {
    case kExists:
      return has;
    case kDoesNotExist:
      return !has;
    case kIn:
      return has && std::find(values.begin(), values.end(), it->second) != values.end();
    case kNotIn:
      return !has || std::find(values.begin(), values.end(), it->second) == values.end();
  }
  return false;
}

ClusterScheduler::ClusterScheduler(NodeID local_node, double spread_threshold)
    : local_(local_node), spread_threshold_(spread_threshold) {
  for (const char* n : kPredefined) Intern(n);
}

ResourceId ClusterScheduler::Intern(const std::string& name) {
  auto it = ids_.find(name);
  if (it != ids_.end()) return it->second;
  ResourceId id = static_cast<ResourceId>(names_.size());
  names_.push_back(name);
  ids_.emplace(name, id);
  for (auto& n : nodes_) {
    n.total.push_back(0);
    n.available.push_back(0);
  }
  return id;
}

ResourceRequest ClusterScheduler::MakeRequest(const ResourceSet& rs) {
  ResourceRequest req;
  for (const auto& [name, amount] : rs.ToMap()) {
    int64_t v = static_cast<int64_t>(std::llround(amount * ResourceSet::kUnit));
    if (v > 0) req.items.emplace_back(Intern(name), v);
  }
  return req;
}

void ClusterScheduler::Fill(const ResourceSet& rs, std::vector<int64_t>* out) {
  for (const auto& [name, amount] : rs.ToMap()) Intern(name);
  out->assign(names_.size(), 0);
  for (const auto& [name, amount] : rs.ToMap()) {
    (*out)[ids_[name]] = static_cast<int64_t>(std::llround(amount * ResourceSet::kUnit));
  }
}

void ClusterScheduler::UpsertNode(const NodeID& node, const ResourceSet& total,
                                  const ResourceSet& available,
                                  const std::map<std::string, std::string>& labels) {
  std::vector<int64_t> t, a;
  Fill(total, &t);
  Fill(available, &a);
  t.resize(names_.size(), 0);  // Fill(available) may have interned more names
  auto it = index_.find(node);
  if (it == index_.end()) {
    index_[node] = nodes_.size();
    nodes_.push_back(Node{node, std::move(t), std::move(a), labels});
    return;
  }
  Node& n = nodes_[it->second];
  n.total = std::move(t);
  n.available = std::move(a);
  n.labels = labels;
}

void ClusterScheduler::UpdateAvailable(const NodeID& node, const ResourceSet& available) {
  auto it = index_.find(node);
  if (it == index_.end()) return;
  std::vector<int64_t> a;
  Fill(available, &a);
  nodes_[it->second].available = std::move(a);
}

void ClusterScheduler::RemoveNode(const NodeID& node) {
  auto it = index_.find(node);
  if (it == index_.end()) return;
  size_t i = it->second;
  index_.erase(it);
  if (i != nodes_.size() - 1) {
    nodes_[i] = std::move(nodes_.back());
    index_[nodes_[i].id] = i;
  }
  nodes_.pop_back();
}

bool ClusterScheduler::Fits(const std::vector<int64_t>& have, const ResourceRequest& req) {
  for (const auto& [id, v] : req.items) {
    if (static_cast<size_t>(id) >= have.size() || have[id] < v) return false;
  }
  return true;
}

double ClusterScheduler::Utilization(const Node& n) const {
  double u = 0;
  for (ResourceId r = 0; r < kNumPredefined; r++) {
    if (n.total[r] <= 0) continue;
    u = std::max(u, static_cast<double>(n.total[r] - n.available[r]) / n.total[r]);
  }
  return u;
}

bool ClusterScheduler::FeasibleSomewhere(const ResourceRequest& req) const {
  for (const auto& n : nodes_) {
    if (Fits(n.total, req)) return true;
  }
  return false;
}

Decision ClusterScheduler::NotPlaced(const ResourceRequest& req) const {
  Decision d;
  if (FeasibleSomewhere(req)) {
    d.kind = Decision::kWait;
    d.reason = "no node has " + Describe(req) + " available now";
  } else {
    d.kind = Decision::kInfeasible;
    d.reason = nodes_.empty() ? "no node is alive in the cluster"
                              : "no node has " + Describe(req) +
                                    " in total; the largest node has " + DescribeLargestNode(req);
  }
  return d;
}

template <typename Pred>
Decision ClusterScheduler::Hybrid(const ResourceRequest& req, Pred eligible) const {
  const size_t count = nodes_.size();
  auto local = index_.find(local_);
  size_t start = local == index_.end() ? 0 : local->second;
  size_t best = count;
  double best_util = std::numeric_limits<double>::infinity();
  for (size_t k = 0; k < count; k++) {
    size_t i = start + k;
    if (i >= count) i -= count;
    const Node& n = nodes_[i];
    if (!eligible(i) || !Fits(n.available, req)) continue;
    double u = Utilization(n);
    if (u < spread_threshold_) {
      best = i;
      break;
    }
    if (u < best_util) {
      best_util = u;
      best = i;
    }
  }
  Decision d;
  if (best == count) {
    bool ever = false;
    for (size_t i = 0; i < count && !ever; i++) ever = eligible(i) && Fits(nodes_[i].total, req);
    if (ever) {
      d.kind = Decision::kWait;
      d.reason = "no eligible node has " + Describe(req) + " available now";
      return d;
    }
    d = NotPlaced(req);
    if (d.kind == Decision::kWait) {  // fits some node, but none that is eligible
      d.kind = Decision::kInfeasible;
      d.reason = "no eligible node can fit " + Describe(req);
    }
    return d;
  }
  d.kind = Decision::kNode;
  d.node = nodes_[best].id;
  return d;
}

Decision ClusterScheduler::Spread(const ResourceRequest& req) {
  const size_t count = nodes_.size();
  for (size_t k = 0; k < count; k++) {
    size_t i = (spread_next_ + k) % count;
    if (Fits(nodes_[i].available, req)) {
      spread_next_ = i + 1;
      Decision d;
      d.kind = Decision::kNode;
      d.node = nodes_[i].id;
      return d;
    }
  }
  return NotPlaced(req);
}

Decision ClusterScheduler::Schedule(const ResourceRequest& req,
                                    const SchedulingStrategy& strategy) {
  auto all = [](size_t) { return true; };
  switch (strategy.kind) {
    case SchedulingStrategy::kDefault:
      return Hybrid(req, all);
    case SchedulingStrategy::kSpread:
      return Spread(req);
    case SchedulingStrategy::kNodeAffinity: {
      auto it = index_.find(strategy.affinity_node);
      bool usable = it != index_.end() && Fits(nodes_[it->second].total, req);
      if (usable) {
        const Node& n = nodes_[it->second];
        Decision d;
        d.kind = Decision::kNode;
        d.node = n.id;
        if (Fits(n.available, req) || !strategy.spill_on_unavailable) {
          // Like Ray: an alive node that can fit the request is waited for,
          // soft or hard; only _spill_on_unavailable lets a busy one be skipped.
          return d;
        }
        Decision other = Hybrid(req, all);
        return other.kind == Decision::kNode ? other : d;
      }
      if (strategy.soft) return Hybrid(req, all);
      Decision d;
      d.kind = Decision::kInfeasible;
      d.reason = it == index_.end()
                     ? "node " + strategy.affinity_node.Hex() +
                           " of the NodeAffinitySchedulingStrategy is not alive in the cluster "
                           "(use soft=True to fall back to other nodes)"
                     : "node " + strategy.affinity_node.Hex() + " cannot fit " + Describe(req) +
                           " (it has " + [&] {
                             ResourceSet have;
                             for (const auto& [id, v] : req.items) {
                               have.Set(names_[id], static_cast<double>(nodes_[it->second].total[id]) /
                                                        ResourceSet::kUnit);
                             }
                             return have.ToString();
                           }() + " in total)";
      return d;
    }
    case SchedulingStrategy::kNodeLabel: {
      auto hard_ok = [&](size_t i) {
        for (const auto& e : strategy.hard_labels) {
          if (!e.Matches(nodes_[i].labels)) return false;
        }
        return true;
      };
      if (!strategy.soft_labels.empty()) {
        Decision d = Hybrid(req, [&](size_t i) {
          if (!hard_ok(i)) return false;
          for (const auto& e : strategy.soft_labels) {
            if (!e.Matches(nodes_[i].labels)) return false;
          }
          return true;
        });
        if (d.kind == Decision::kNode) return d;
      }
      Decision d = Hybrid(req, hard_ok);
      if (d.kind == Decision::kInfeasible) {
        bool any = false;
        for (size_t i = 0; i < nodes_.size() && !any; i++) any = hard_ok(i);
        if (!any) d.reason = "no alive node matches the hard label expressions";
      }
      return d;
    }
  }
  return NotPlaced(req);
}

std::vector<NodeID> ClusterScheduler::FeasibleNodes(const ResourceRequest& req,
                                                    const SchedulingStrategy& strategy) const {
  auto allowed = [&](const Node& n) {
    if (!Fits(n.total, req)) return false;
    if (strategy.kind == SchedulingStrategy::kNodeAffinity && !strategy.soft) return n.id == strategy.affinity_node;
    if (strategy.kind == SchedulingStrategy::kNodeLabel) {
      for (const auto& e : strategy.hard_labels) {
        if (!e.Matches(n.labels)) return false;
      }
    }
    return true;
  };
  std::vector<NodeID> out;
  auto local = index_.find(local_);
  if (local != index_.end() && allowed(nodes_[local->second])) out.push_back(local_);
  for (const auto& n : nodes_) {
    if (n.id != local_ && allowed(n)) out.push_back(n.id);
  }
  return out;
}

BundleDecision ClusterScheduler::ScheduleBundles(const std::vector<ResourceRequest>& bundles,
                                                 BundleStrategy strategy) {
  BundleDecision out;
  const size_t count = nodes_.size();
  // Feasibility against totals first: decides kInfeasible vs kWait.
  ResourceRequest sum;
  {
    std::map<ResourceId, int64_t> s;
    for (const auto& b : bundles) {
      for (const auto& [id, v] : b.items) s[id] += v;
    }
    for (const auto& [id, v] : s) sum.items.emplace_back(id, v);
  }
  bool feasible = true;
  if (strategy == BundleStrategy::kStrictPack) {
    feasible = FeasibleSomewhere(sum);
    if (!feasible) out.reason = "STRICT_PACK needs one node with " + Describe(sum) +
                                " in total; the largest node has " + DescribeLargestNode(sum);
  } else {
    for (size_t b = 0; b < bundles.size() && feasible; b++) {
      if (!FeasibleSomewhere(bundles[b])) {
        feasible = false;
        out.reason = "bundle " + std::to_string(b) + " " + Describe(bundles[b]) +
                     " fits no node; the largest node has " + DescribeLargestNode(bundles[b]);
      }
    }
    if (feasible && strategy == BundleStrategy::kStrictSpread && bundles.size() > count) {
      feasible = false;
      out.reason = "STRICT_SPREAD needs " + std::to_string(bundles.size()) +
                   " distinct nodes but the cluster has " + std::to_string(count);
    }
  }
  if (!feasible) {
    out.kind = Decision::kInfeasible;
    return out;
  }
  auto local = index_.find(local_);
  size_t start = local == index_.end() ? 0 : local->second;
  if (strategy == BundleStrategy::kStrictPack || strategy == BundleStrategy::kPack) {
    Decision d = Hybrid(sum, [](size_t) { return true; });
    if (d.kind == Decision::kNode) {
      out.kind = Decision::kNode;
      out.nodes.assign(bundles.size(), d.node);
      return out;
    }
    if (strategy == BundleStrategy::kStrictPack) {
      out.kind = Decision::kWait;
      out.reason = "no node has " + Describe(sum) + " available now for STRICT_PACK";
      return out;
    }
  }
  // Greedy placement on a scratch copy of availability.
  std::vector<std::vector<int64_t>> avail(count);
  for (size_t i = 0; i < count; i++) avail[i] = nodes_[i].available;
  std::vector<bool> used(count, false);
  std::vector<size_t> chosen;
  size_t last = count;
  for (size_t b = 0; b < bundles.size(); b++) {
    const ResourceRequest& req = bundles[b];
    size_t pick = count;
    if (strategy == BundleStrategy::kPack && last < count && Fits(avail[last], req)) pick = last;
    bool want_fresh = strategy == BundleStrategy::kSpread || strategy == BundleStrategy::kStrictSpread;
    for (int pass = 0; pass < 2 && pick == count; pass++) {
      for (size_t k = 0; k < count; k++) {
        size_t i = (start + k) % count;
        if (want_fresh && pass == 0 && used[i]) continue;
        if (Fits(avail[i], req)) {
          pick = i;
          break;
        }
      }
      if (strategy == BundleStrategy::kStrictSpread) break;  // never reuse a node
    }
    if (pick == count) {
      out.kind = Decision::kWait;
      out.reason = "bundle " + std::to_string(b) + " " + Describe(req) +
                   " has no node with room now";
      return out;
    }
    for (const auto& [id, v] : req.items) avail[pick][id] -= v;
    used[pick] = true;
    last = pick;
    chosen.push_back(pick);
  }
  out.kind = Decision::kNode;
  for (size_t i : chosen) out.nodes.push_back(nodes_[i].id);
  return out;
}

bool ClusterScheduler::Allocate(const NodeID& node, const ResourceRequest& req) {
  auto it = index_.find(node);
  if (it == index_.end()) return false;
  Node& n = nodes_[it->second];
  if (!Fits(n.available, req)) return false;
  for (const auto& [id, v] : req.items) n.available[id] -= v;
  return true;
}

void ClusterScheduler::Free(const NodeID& node, const ResourceRequest& req) {
  auto it = index_.find(node);
  if (it == index_.end()) return;
  Node& n = nodes_[it->second];
  for (const auto& [id, v] : req.items) {
    if (static_cast<size_t>(id) < n.available.size()) n.available[id] += v;
  }
}

ResourceSet ClusterScheduler::Available(const NodeID& node) const {
  ResourceSet rs;
  auto it = index_.find(node);
  if (it == index_.end()) return rs;
  const Node& n = nodes_[it->second];
  for (size_t i = 0; i < n.available.size(); i++) {
    if (n.available[i] != 0) rs.Set(names_[i], static_cast<double>(n.available[i]) / ResourceSet::kUnit);
  }
  return rs;
}

std::string ClusterScheduler::Describe(const ResourceRequest& req) const {
  std::string out = "{";
  for (const auto& [id, v] : req.items) {
    if (out.size() > 1) out += ", ";
    out += "'" + names_[id] + "': " + FormatFixed(v);
  }
  return out + "}";
}

std::string ClusterScheduler::DescribeLargestNode(const ResourceRequest& req) const {
  const Node* largest = nullptr;
  for (const auto& n : nodes_) {
    if (largest == nullptr || n.total[0] > largest->total[0]) largest = &n;
  }
  if (largest == nullptr) return "{} (no node is alive)";
  std::string out = "{";
  for (const auto& [id, v] : req.items) {
    if (out.size() > 1) out += ", ";
    out += "'" + names_[id] + "': " + FormatFixed(largest->total[id]);
  }
  return out + "}";
}

}  // namespace lumos::scheduling
