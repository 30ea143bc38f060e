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
  auto result = streams_.OnItem(task, req.index(), std::move(ack), &now);
  if (result == GeneratorStreams::ItemResult::kNew) {
    tasks_->SetState(task, TaskState::kRunning);
    std::shared_ptr<RayObject> obj;
    std::vector<ObjectID> inner;
    if (item.in_plasma()) {
      obj = RayObject::InPlasma();
    } else {
      obj = RayObject::FromInline(item.value());
      for (const auto& r : obj->nested_refs) inner.push_back(ObjectID::FromBinary(r.object_id()));
    }
    refs_.AddOwnedObject(oid, inner, item.in_plasma());
    refs_.AddLocalRef(oid, nullptr);  // the stream's hold until next() hands it out
    memory_store_.Put(oid, std::move(obj));
  } else if (result != GeneratorStreams::ItemResult::kDuplicate && item.in_plasma()) {
    // Nobody will read it (the generator was dropped): free the store copy
    // the executor made on our behalf.
    FreeObjects({DeletedObject{oid, true, true}});
  }
  for (auto& a : now) a();
}

Status CoreWorker::StreamNext(const TaskID& task, int64_t timeout_ms, int* kind, ObjectID* id, int64_t* out_index) {
  while (true) {
    int64_t index = 0;
    switch (streams_.Next(task, &index)) {
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
  return replier->ReportItem(index, std::move(item), options_.check_signals);
}

}  // namespace lumos::core
