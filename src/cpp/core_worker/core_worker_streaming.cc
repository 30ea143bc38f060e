// CoreWorker, streaming generator tasks (num_returns="streaming"): the
// caller's side (items arriving, next(), release, drop) and the executor's
// report of one item. The bookkeeping is GeneratorStreams; object ids are
// return 1 (the task's end or failure) and ObjectID::FromIndex(task, i + 2)
// for item i.
#include "common/logging.h"
#include "core_worker/core_worker.h"

namespace lumos::core {

void CoreWorker::HandleGeneratorItem(const rpc::ConnectionPtr& conn, const rpc::Frame& frame) {
  rpc::ReportGeneratorItemRequest req;
  bool is_request = frame.header.kind == rpc::FrameKind::kRequest;
  uint64_t rid = frame.header.request_id;
  if (!req.ParseFromString(frame.payload) || req.task_id().size() != TaskID::kSize || req.index() < 0 ||
      req.index() > 0xFFFFFFF0LL) {
    if (is_request) {
      conn->SendError(rid, rpc::REPORT_GENERATOR_ITEM, Status::InvalidArgument("malformed generator item"));
    }
    return;
  }
  TaskID task = TaskID::FromBinary(req.task_id());
  GeneratorStreams::Ack ack;
  if (is_request) {
    ack = [conn, rid] { conn->SendReply(rid, rpc::REPORT_GENERATOR_ITEM, rpc::ReportGeneratorItemReply()); };
  }
  std::vector<GeneratorStreams::Ack> now;
  ObjectID oid = ObjectID::FromIndex(task, static_cast<uint32_t>(req.index() + 2));
  const rpc::ReturnObject& item = req.item();
  // StreamNext must not hand the item out before it is owned, held and in
  // the memory store: the caller's ref and release would otherwise race the
  // set-up below and free the item under its new ref.
  std::unique_lock<std::mutex> visible(stream_items_mu_);
  if (tasks_->TakeAwaitedItem(task, oid) && refs_.Has(oid)) {
    // Lineage reconstruction (or a retry) was asked for this item because its
    // copy was lost: this report is its new copy. The stream's bookkeeping
    // (consumed, acks) and the item's refs are as the first report left them.
    std::shared_ptr<RayObject> obj;
    if (item.in_plasma()) {
      refs_.SetInPlasma(oid);
      obj = RayObject::InPlasma(item.node_id());
      obj->nested_refs.assign(item.nested_refs().begin(), item.nested_refs().end());
    } else {
      obj = RayObject::FromInline(item.value());
    }
    memory_store_.Put(oid, std::move(obj));
    visible.unlock();
    if (ack) ack();
    return;
  }
  auto result = streams_.OnItem(task, req.index(), std::move(ack), &now);
  // A retry re-reports the items an earlier attempt did. Still held here: keep
  // the first (borrower registrations the retry made for refs inside it stay:
  // they pin, never free early). Already read and freed by the caller: a
  // store item was written again by the retry and nobody would free it, so
  // it is released below like an item of a dropped generator.
  bool orphan = result == GeneratorStreams::ItemResult::kDuplicate && item.in_plasma() && !refs_.Has(oid);
  if (result == GeneratorStreams::ItemResult::kDuplicate && !orphan) {
    visible.unlock();
    for (auto& a : now) a();
    return;
  }
  if (result == GeneratorStreams::ItemResult::kNew) tasks_->SetState(task, TaskState::kRunning);
  std::shared_ptr<RayObject> obj;
  if (item.in_plasma()) {
    obj = RayObject::InPlasma(item.node_id());
    obj->nested_refs.assign(item.nested_refs().begin(), item.nested_refs().end());
  } else {
    obj = RayObject::FromInline(item.value());
  }
  refs_.AddOwnedObject(oid, {}, item.in_plasma());
  if (!obj->nested_refs.empty()) refs_.AddContainedRefs(oid, obj->nested_refs);
  std::vector<DeletedObject> freed;
  if (req.preregistered_refs_size() > 0) {
    std::vector<ObjectID> pre;
    for (const auto& b : req.preregistered_refs()) {
      if (b.size() == ObjectID::kSize) pre.push_back(ObjectID::FromBinary(b));
    }
    refs_.ApplyPreregistered(pre, &freed);
  }
  // The stream's hold until next() hands the item out as a Python ref.
  refs_.AddLocalRef(oid, nullptr);
  if (result == GeneratorStreams::ItemResult::kNew) {
    memory_store_.Put(oid, std::move(obj));
  } else {
    // Nobody will read it (the generator was dropped, or the caller freed this
    // index already): releasing the hold frees it, the store copy the
    // executor made for us and the refs inside it.
    refs_.RemoveLocalRef(oid, &freed);
  }
  visible.unlock();
  if (!freed.empty()) FreeObjects(freed);
  for (auto& a : now) a();
}

Status CoreWorker::StreamNext(const TaskID& task, int64_t timeout_ms, int* kind, ObjectID* id, int64_t* out_index) {
  while (true) {
    int64_t index = 0;
    GeneratorStreams::NextKind next;
    {
      std::lock_guard<std::mutex> visible(stream_items_mu_);  // see HandleGeneratorItem
      next = streams_.Next(task, &index);
    }
    switch (next) {
      case GeneratorStreams::NextKind::kItem:
        *kind = kStreamItem;
        *out_index = index;
        *id = ObjectID::FromIndex(task, static_cast<uint32_t>(index + 2));
        return Status::OK();
      case GeneratorStreams::NextKind::kEnd:
        *kind = kStreamEnd;
        return Status::OK();
      case GeneratorStreams::NextKind::kError:
        *kind = kStreamError;
        *id = ObjectID::FromIndex(task, 1);
        return Status::OK();
      case GeneratorStreams::NextKind::kNotReady:
        break;
    }
    // Wake on the next item or on the task's end (return 1), then look again.
    std::vector<ObjectID> ids{ObjectID::FromIndex(task, static_cast<uint32_t>(index + 2)),
                              ObjectID::FromIndex(task, 1)};
    std::vector<bool> ready;
    LUMOS_RETURN_NOT_OK(WaitForObjects(ids, {}, 1, timeout_ms, &ready));
  }
}

Status CoreWorker::WaitWithStreams(const std::vector<ObjectID>& ids, const std::vector<rpc::Address>& owners,
                                   const std::vector<bool>& is_stream, size_t num_returns, int64_t timeout_ms,
                                   std::vector<bool>* ready) {
  // A generator entry waits for its next item or its return 1 (the task's end
  // or failure), whichever comes first; the memory store counts the entry once.
  std::vector<ObjectID> wait_ids;
  std::vector<size_t> entry_of;
  wait_ids.reserve(ids.size() + 1);
  entry_of.reserve(ids.size() + 1);
  for (size_t i = 0; i < ids.size(); i++) {
    if (i < is_stream.size() && is_stream[i]) {
      TaskID task = ids[i].Task();
      int64_t index = 0;
      auto kind = streams_.Peek(task, &index);
      if (kind == GeneratorStreams::NextKind::kItem || kind == GeneratorStreams::NextKind::kNotReady) {
        wait_ids.push_back(ObjectID::FromIndex(task, static_cast<uint32_t>(index + 2)));
        entry_of.push_back(i);
      }
    } else if (i < owners.size() && !memory_store_.Contains(ids[i]) && !refs_.IsOwned(ids[i])) {
      RequestFromOwner(ids[i], owners[i]);
    }
    wait_ids.push_back(ids[i]);
    entry_of.push_back(i);
  }
  return WaitLendingCpu(wait_ids, &entry_of, ids.size(), num_returns, timeout_ms, ready);
}

bool CoreWorker::StreamNextReady(const TaskID& task) const {
  int64_t index = 0;
  return streams_.Peek(task, &index) != GeneratorStreams::NextKind::kNotReady;
}

void CoreWorker::StreamRelease(const TaskID& task, int64_t index) {
  for (auto& ack : streams_.Consumed(task, index)) ack();
  RemoveLocalRef(ObjectID::FromIndex(task, static_cast<uint32_t>(index + 2)));
}

void CoreWorker::StreamDrop(const TaskID& task) {
  std::vector<GeneratorStreams::Ack> now;
  for (int64_t i : streams_.Drop(task, &now)) RemoveLocalRef(ObjectID::FromIndex(task, static_cast<uint32_t>(i + 2)));
  for (auto& a : now) a();
}

Status CoreWorker::ReportGeneratorItem(TaskReplier* replier, int64_t index, rpc::ReturnObject item) {
  const rpc::TaskSpec& spec = replier->spec();
  rpc::ReportGeneratorItemRequest req;
  req.set_task_id(spec.task_id());
  req.set_index(index);
  req.set_attempt_number(spec.attempt_number());
  // Refs inside the item: register the caller as their borrower before it can
  // see the item, exactly as for a task's returns.
  rpc::PushTaskReply as_reply;
  if (item.in_plasma()) item.set_node_id(node_id_.Binary());
  *as_reply.add_return_objects() = std::move(item);
  PreregisterCaller(spec, &as_reply);
  *req.mutable_item() = std::move(*as_reply.mutable_return_objects(0));
  *req.mutable_preregistered_refs() = std::move(*as_reply.mutable_preregistered_refs());
  return replier->ReportItem(req, options_.check_signals);
}

}  // namespace lumos::core
