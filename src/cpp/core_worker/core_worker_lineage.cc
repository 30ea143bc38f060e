// CoreWorker, lineage reconstruction: when a get finds that an object this
// process owns lost its only copy (the store copy or its spill file is gone
// or corrupt), the task that made it runs again from the LineageCache, after
// its own lost arguments; objects made by put() cannot be made again. A lost
// item of a streaming generator runs the generator again: the new attempt's
// reports of the items still held replace their lost copies (see
// TaskManager::AddPendingTask), items already consumed and freed are freed
// again on arrival.
#include <algorithm>

#include "common/logging.h"
#include "core_worker/core_worker.h"

namespace lumos::core {

namespace {
constexpr int kMaxReconstructionDepth = 100;
}  // namespace

bool CoreWorker::ReconstructLostObjects(const std::vector<ObjectID>& ids,
                                        std::vector<std::shared_ptr<RayObject>>* objs) {
  bool started = false;
  for (size_t i = 0; i < ids.size() && i < objs->size(); i++) {
    const auto& obj = (*objs)[i];
    if (obj->metadata != kMetaObjectLost || !refs_.IsOwned(ids[i])) continue;
    std::string why = obj->data ? std::string(reinterpret_cast<const char*>(obj->data->data()), obj->data->size())
                                : std::string("lost");
    if (ids[i].IsPut()) {
      (*objs)[i] = RayObject::Inline(why + "; objects created by put() cannot be reconstructed", kMetaObjectLost);
      continue;
    }
    Status s = Reconstruct(ids[i], 0);
    if (s.ok()) {
      started = true;
      LUMOS_LOG(Info) << "object " << ids[i].Hex() << " was lost (" << why << "); re-executing its task";
    } else {
      (*objs)[i] = RayObject::Inline("object " + ids[i].Hex() + " was lost (" + why +
                                         ") and could not be reconstructed: " + s.message(),
                                     kMetaReconstructionFailed);
    }
  }
  return started;
}

Status CoreWorker::Reconstruct(const ObjectID& lost, int depth) {
  if (depth > kMaxReconstructionDepth) return Status::Invalid("the lineage is deeper than 100 tasks");
  TaskID task = lost.Task();
  if (tasks_->IsPending(task)) {
    // Already running again. A streamed item lost meanwhile (its node died
    // and the task is on a retry) is taken from the running attempt's report
    // instead of that report being ignored as a duplicate (else this get
    // would find the same lost copy until the task ends).
    if (lost.Index() >= 2 && tasks_->AwaitItem(task, lost)) {
      memory_store_.Delete(lost);
      (void)store_->Delete({lost});
    }
    return Status::OK();
  }
  rpc::TaskSpec spec;
  switch (lineage_.TakeForReconstruction(lost, &spec)) {
    case LineageCache::Outcome::kNoLineage:
      return Status::Invalid(
          "its task's lineage is not kept (max_retries=0, an actor task, dynamic returns, or a generator that raised)");
    case LineageCache::Outcome::kRetriesExhausted:
      return Status::Invalid("the task that made it used up its max_retries");
    case LineageCache::Outcome::kResubmit:
      break;
  }
  // Lost arguments are made again first (checked by reading them: a spill
  // file that fails its checksum only shows when read).
  for (const auto& a : spec.args()) {
    if (!a.has_ref()) continue;
    ObjectID arg = ObjectID::FromBinary(a.ref().object_id());
    if (!refs_.IsOwned(arg)) continue;
    auto held = memory_store_.GetIfExists(arg);
    if (!held) {
      if (tasks_->IsPending(arg.Task())) continue;  // being made: the resubmission waits for it
      return Status::Invalid("its argument " + arg.Hex() + " was freed");
    }
    if (!held->in_plasma) continue;
    std::vector<std::shared_ptr<RayObject>> fetched;
    Status fs = FetchFromPlasma({arg}, &fetched);
    if (fs.ok() && fetched[0]->metadata != kMetaObjectLost) continue;
    if (arg.IsPut()) return Status::Invalid("its argument " + arg.Hex() + " (a put object) was lost too");
    Status as = Reconstruct(arg, depth + 1);
    if (!as.ok()) return Status::Invalid("its argument " + arg.Hex() + " was lost too and " + as.message());
  }
  if (spec.streaming_returns()) {
    // Every held item of the stream is taken from the new attempt, not just
    // this one: its siblings sat on the same node, and a get of one of them
    // then waits for its report instead of finding it lost again.
    std::vector<ObjectID> items = lineage_.LiveReturns(task);
    if (std::find(items.begin(), items.end(), lost) == items.end()) items.push_back(lost);
    for (const auto& id : items) memory_store_.Delete(id);
    Status ds = store_->Delete(items);
    if (!ds.ok()) LUMOS_LOG(Debug) << "deleting lost copies: " << ds.ToString();
    tasks_->AddPendingTask(spec, ArgRefsOf(spec), items);
    ResolveDependencies(std::move(spec), [this](rpc::TaskSpec ready) { submitter_->Submit(std::move(ready)); });
    return Status::OK();
  }
  std::vector<ObjectID> returns;
  for (int i = 0; i < spec.num_returns(); i++) {
    returns.push_back(ObjectID::FromIndex(task, i + 1));
    memory_store_.Delete(returns.back());
  }
  Status ds = store_->Delete(returns);  // the broken copies, so the new attempt can create them
  if (!ds.ok()) LUMOS_LOG(Debug) << "deleting lost copies: " << ds.ToString();
  tasks_->AddPendingTask(spec, ArgRefsOf(spec));
  ResolveDependencies(std::move(spec), [this](rpc::TaskSpec ready) { submitter_->Submit(std::move(ready)); });
  return Status::OK();
}

}  // namespace lumos::core
