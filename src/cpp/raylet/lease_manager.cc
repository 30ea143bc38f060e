#include "raylet/lease_manager.h"

#include <algorithm>
#include <cmath>

#include "raylet/bundle_book.h"

namespace lumos::raylet {

LeaseManager::LeaseManager(ResourceSet total, int max_starting)
    : total_(total),
      available_(total),
      gpus_(static_cast<int>(std::floor(total.Get("GPU")))),
      max_starting_(std::max(1, max_starting)) {}

void LeaseManager::AddRequest(LeaseRequest req) {
  Pending p{std::move(req)};
  if (gpus_.num_gpus() > 0) p.gpu_units = GpuUnitsOf(p.req.resources);
  pending_.push_back(std::move(p));
}

int64_t LeaseManager::GpuUnitsOf(const ResourceSet& resources) {
  static const std::string kGroupPrefix = "GPU_group_";
  int64_t units = GpuAllocator::ToUnits(resources.Get("GPU"));
  for (const auto& [name, amount] : resources.ToMap()) {
    // GPU_group_<id> (the group-wide name) only: GPU_group_<i>_<id> repeats it.
    if (name.compare(0, kGroupPrefix.size(), kGroupPrefix) == 0 &&
        name.find('_', kGroupPrefix.size()) == std::string::npos) {
      units += GpuAllocator::ToUnits(amount);
    }
  }
  return units;
}

void LeaseManager::WorkerStarted(const WorkerID& worker, uint64_t env_hash) {
  DoneStarting(env_hash);
  if (env_hash != 0) env_of_worker_[worker] = env_hash;
  idle_.push_back(worker);
}

void LeaseManager::WorkerStartFailed(uint64_t env_hash) { DoneStarting(env_hash); }

void LeaseManager::DoneStarting(uint64_t env_hash) {
  if (starting_ > 0) starting_--;
  if (env_hash == 0) return;
  auto it = starting_of_env_.find(env_hash);
  if (it != starting_of_env_.end() && --it->second <= 0) starting_of_env_.erase(it);
}

uint64_t LeaseManager::EnvOfWorker(const WorkerID& worker) const {
  auto it = env_of_worker_.find(worker);
  return it == env_of_worker_.end() ? 0 : it->second;
}

std::optional<WorkerID> LeaseManager::TakeIdleFor(uint64_t env_hash) {
  if (idle_.empty()) return std::nullopt;
  if (env_of_worker_.empty()) {  // every worker has the default environment
    if (env_hash != 0) return std::nullopt;
    WorkerID w = idle_.back();
    idle_.pop_back();
    return w;
  }
  for (auto it = idle_.end(); it != idle_.begin();) {
    --it;
    if (EnvOfWorker(*it) != env_hash) continue;
    WorkerID w = *it;
    idle_.erase(it);
    return w;
  }
  return std::nullopt;
}

std::optional<LeaseInfo> LeaseManager::ReturnLease(uint64_t lease_id, bool worker_gone) {
  auto it = leases_.find(lease_id);
  if (it == leases_.end()) return std::nullopt;
  LeaseInfo info = it->second;
  leases_.erase(it);
  lease_of_worker_.erase(info.worker);
  if (!info.gpus.empty()) gpus_.Release(info.gpus);
  if (!info.blocked) available_.Add(info.resources);
  else {
    ResourceSet non_cpu = info.resources;
    ResourceSet cpu;
    cpu.Set("CPU", info.resources.Get("CPU"));
    non_cpu.Subtract(cpu);
    available_.Add(non_cpu);
  }
  if (!worker_gone && !info.is_actor) idle_.push_back(info.worker);
  return info;
}

std::optional<LeaseInfo> LeaseManager::WorkerDied(const WorkerID& worker) {
  idle_.erase(std::remove(idle_.begin(), idle_.end(), worker), idle_.end());
  env_of_worker_.erase(worker);
  auto it = lease_of_worker_.find(worker);
  if (it == lease_of_worker_.end()) return std::nullopt;
  return ReturnLease(it->second, /*worker_gone=*/true);
}

bool LeaseManager::TakeIdleWorker(const WorkerID& worker) {
  auto it = std::find(idle_.begin(), idle_.end(), worker);
  if (it == idle_.end()) return false;
  idle_.erase(it);
  return true;
}

void LeaseManager::WorkerBlocked(const WorkerID& worker) {
  auto it = lease_of_worker_.find(worker);
  if (it == lease_of_worker_.end()) return;
  LeaseInfo& info = leases_[it->second];
  if (info.blocked) return;
  info.blocked = true;
  ResourceSet cpu;
  cpu.Set("CPU", info.resources.Get("CPU"));
  available_.Add(cpu);
}

void LeaseManager::WorkerUnblocked(const WorkerID& worker) {
  auto it = lease_of_worker_.find(worker);
  if (it == lease_of_worker_.end()) return;
  LeaseInfo& info = leases_[it->second];
  if (!info.blocked) return;
  info.blocked = false;
  ResourceSet cpu;
  cpu.Set("CPU", info.resources.Get("CPU"));
  available_.Subtract(cpu);
}

std::vector<LeaseInfo> LeaseManager::RequesterGone(uint64_t requester) {
  pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                [&](const Pending& p) { return p.req.requester == requester; }),
                 pending_.end());
  std::vector<LeaseInfo> held;
  for (const auto& [id, info] : leases_) {
    if (info.requester == requester) held.push_back(info);
  }
  return held;
}

void LeaseManager::ReassignRequester(uint64_t from, uint64_t to) {
  RequesterGone(from);  // its queued requests go
  for (auto& [id, info] : leases_) {
    if (info.requester == from) info.requester = to;
  }
}

namespace {
bool NamesGroup(const ResourceSet& rs, const std::string& pg) {
  for (const auto& name : rs.Names()) {
    if (BundleBook::GroupOf(name) == pg) return true;
  }
  return false;
}
}  // namespace

std::vector<LeaseRequest> LeaseManager::DropGroupRequests(const std::string& pg) {
  std::vector<LeaseRequest> dropped;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (NamesGroup(it->req.resources, pg) || NamesGroup(it->req.placement, pg)) {
      dropped.push_back(std::move(it->req));
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  return dropped;
}

std::vector<LeaseRequest> LeaseManager::TakeRequestsIf(const std::function<bool(const LeaseRequest&)>& pred) {
  std::vector<LeaseRequest> taken;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (pred(it->req)) {
      taken.push_back(std::move(it->req));
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  return taken;
}

std::vector<LeaseInfo> LeaseManager::GroupLeases(const std::string& pg) const {
  std::vector<LeaseInfo> out;
  for (const auto& [id, info] : leases_) {
    if (NamesGroup(info.resources, pg)) out.push_back(info);
  }
  return out;
}

std::optional<uint64_t> LeaseManager::LeaseOfWorker(const WorkerID& worker) const {
  auto it = lease_of_worker_.find(worker);
  if (it == lease_of_worker_.end()) return std::nullopt;
  return it->second;
}

const LeaseInfo* LeaseManager::GetLease(uint64_t lease_id) const {
  auto it = leases_.find(lease_id);
  return it == leases_.end() ? nullptr : &it->second;
}

std::vector<std::string> LeaseManager::InfeasibleDemands() const {
  std::map<std::string, int> count;  // "task 'f': {...}" -> how many
  for (const auto& p : pending_) {
    if (!p.warned) continue;  // only infeasible requests are warned about
    ResourceSet asked = p.req.resources;
    asked.RaiseTo(p.req.placement);
    count[std::string(p.req.is_actor ? "actor '" : "task '") + p.req.task_name + "': " +
          asked.ToString()]++;
  }
  std::vector<std::string> out;
  for (const auto& [what, n] : count) out.push_back(what + (n > 1 ? " x" + std::to_string(n) : ""));
  return out;
}

bool LeaseManager::TryReserve(const ResourceSet& rs) {
  if (!available_.Contains(rs)) return false;
  available_.Subtract(rs);
  return true;
}

void LeaseManager::AddResources(const ResourceSet& rs) {
  total_.Add(rs);
  available_.Add(rs);
}

void LeaseManager::RemoveResources(const ResourceSet& rs) {
  total_.Subtract(rs);
  available_.Subtract(rs);
}

namespace {
// Placement group resources (CPU_group_...) appear when a bundle is
// committed: asking for one that does not exist yet is not infeasible.
bool OnlyGroupResourcesMissing(const ResourceSet& total, const LeaseRequest& req) {
  bool any = false;
  for (const auto* rs : {&req.resources, &req.placement}) {
    for (const auto& [name, amount] : rs->ToMap()) {
      if (total.Get(name) >= amount) continue;
      if (name.find("_group_") == std::string::npos) return false;
      any = true;
    }
  }
  return any;
}
}  // namespace

std::vector<WorkerID> LeaseManager::TaskLeaseWorkers() const {
  std::vector<WorkerID> out;
  for (const auto& [id, lease] : leases_) {
    if (!lease.is_actor) out.push_back(lease.worker);
  }
  return out;
}

std::vector<LeaseAction> LeaseManager::Schedule() {
  std::vector<LeaseAction> actions;
  // Nothing waits: skip copying the resource map (large with placement groups).
  if (pending_.empty()) return actions;
  int waiting_for_worker = 0;  // default environment
  // Non-default environments: requests waiting for a worker, and one of them
  // (its runtime_env string is what a started worker is given).
  std::map<uint64_t, std::pair<int, std::string>> waiting_of_env;
  // Resources left after this pass's grants and the grants that wait for a
  // starting worker, so that we start only as many workers as can be used.
  ResourceSet tentative = available_;
  const bool has_gpus = gpus_.num_gpus() > 0;
  GpuAllocator tentative_gpus = gpus_;
  for (auto it = pending_.begin(); it != pending_.end();) {
    const LeaseRequest& req = it->req;
    // GPU instances only matter on a node with GPUs (elsewhere the totals
    // check below already refuses GPU requests); skip the lookups otherwise.
    int64_t gpu_units = has_gpus ? it->gpu_units : 0;
    if (!total_.Contains(req.resources) || !total_.Contains(req.placement) ||
        !gpus_.Feasible(gpu_units)) {
      bool reject = req.fail_on_infeasible && !OnlyGroupResourcesMissing(total_, req);
      if (reject || (!it->warned && !OnlyGroupResourcesMissing(total_, req))) {
        it->warned = true;
        LeaseAction a;
        a.kind = LeaseAction::kInfeasible;
        a.request = req;
        ResourceSet have;  // the node's totals of just the resources asked for
        ResourceSet asked = req.resources;
        asked.RaiseTo(req.placement);
        for (const auto& [name, amount] : asked.ToMap()) have.Set(name, total_.Get(name));
        a.message = std::string(req.is_actor ? "actor '" : "task '") + req.task_name + "' asks for " +
                    asked.ToString() +
                    " but this node has only " + (have.IsEmpty() ? "{}" : have.ToString()) +
                    " in total; it will stay pending until a node with enough resources joins "
                    "(lower the request with .options(num_cpus=..., resources=...))";
        if (reject) {
          a.reject = true;
          a.message = std::string(req.is_actor ? "actor '" : "task '") + req.task_name +
                      "' is infeasible: it asks for " + asked.ToString() + " but this node has only " +
                      (have.IsEmpty() ? "{}" : have.ToString()) +
                      " in total (fail_on_infeasible is set, so it fails instead of waiting)";
        }
        actions.push_back(std::move(a));
      }
      if (reject) {
        it = pending_.erase(it);
        continue;
      }
      ++it;
      continue;
    }
    if ((actors_only_ && !req.is_actor) || !tentative.Contains(req.resources) ||
        !tentative.Contains(req.placement) || (gpu_units > 0 && !tentative_gpus.Find(gpu_units))) {
      ++it;
      continue;
    }
    tentative.Subtract(req.resources);
    if (gpu_units > 0) tentative_gpus.Allocate(gpu_units);
    std::optional<WorkerID> taken = TakeIdleFor(req.env_hash);  // the warmest worker
    if (!taken) {
      if (req.env_hash == 0) {
        waiting_for_worker++;
      } else {
        auto& w = waiting_of_env[req.env_hash];
        if (w.first++ == 0) w.second = req.runtime_env;  // a copy: erasing from pending_ moves requests
      }
      ++it;
      continue;
    }
    WorkerID worker = *taken;
    LeaseInfo info{next_lease_id_++, req.requester, worker, req.resources, false, req.is_actor};
    // Fits: tentative_gpus holds at least the grants made so far in this pass.
    if (gpu_units > 0) info.gpus = gpus_.Allocate(gpu_units).value_or(GpuAllocator::Assignment{});
    available_.Subtract(req.resources);
    leases_[info.lease_id] = info;
    lease_of_worker_[worker] = info.lease_id;
    LeaseAction a;
    a.kind = LeaseAction::kGrant;
    a.request = req;
    a.worker = worker;
    a.lease_id = info.lease_id;
    if (!info.gpus.empty()) a.gpu_ids = GpuAllocator::Ids(info.gpus);
    actions.push_back(std::move(a));
    it = pending_.erase(it);
  }
  int starting_env_total = 0;
  for (const auto& [env, n] : starting_of_env_) starting_env_total += n;
  int to_start = std::min(waiting_for_worker - (starting_ - starting_env_total), max_starting_ - starting_);
  if (to_start > 0) {
    starting_ += to_start;
    LeaseAction a;
    a.kind = LeaseAction::kStartWorkers;
    a.num_workers = to_start;
    actions.push_back(std::move(a));
  }
  for (const auto& [env, waiting] : waiting_of_env) {
    auto sit = starting_of_env_.find(env);
    int already = sit == starting_of_env_.end() ? 0 : sit->second;
    int n = std::min(waiting.first - already, max_starting_ - starting_);
    if (n <= 0) continue;
    starting_ += n;
    starting_of_env_[env] = already + n;
    LeaseAction a;
    a.kind = LeaseAction::kStartWorkers;
    a.num_workers = n;
    a.request.env_hash = env;
    a.request.runtime_env = waiting.second;
    actions.push_back(std::move(a));
  }
  return actions;
}

}  // namespace lumos::raylet
