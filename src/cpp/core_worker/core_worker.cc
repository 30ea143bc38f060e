#include "core_worker/core_worker.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "common/config.h"
#include "common/logging.h"
#include "common/process_util.h"
#include "core_worker/plasma_buffer.h"
#include "node_manager.pb.h"
#include "rpc/cluster_identity.h"
#include "rpc/endpoint.h"

namespace lumos::core {

namespace {
// Whether ResolveDependencies has work for `spec`: an argument passed by
// reference that this worker owns (it waits for it, or inlines it).
bool HasOwnedRefArg(const rpc::TaskSpec& spec, const std::string& self) {
  for (const auto& a : spec.args()) {
    if (a.has_ref() && a.ref().owner().worker_id() == self) return true;
  }
  return false;
}
}  // namespace

CoreWorker::CoreWorker(CoreWorkerOptions options)
    : options_(std::move(options)),
      worker_id_(WorkerID::FromRandom()),
      job_id_(options_.job_id),
      store_(std::make_shared<object_store::StoreClient>()) {}

Result<std::unique_ptr<CoreWorker>> CoreWorker::Create(CoreWorkerOptions options) {
  if (!options.is_driver && !TieLifetimeToParent(options.raylet_pid, SIGKILL)) {
    return Status::Disconnected("the raylet that started this worker is gone");
  }
  if (options.node_ip.empty()) options.node_ip = rpc::LocalNodeIp();
  rpc::SetLocalNodeIp(options.node_ip);
  if (!options.auth_token.empty()) rpc::SetClusterToken(options.auth_token);
  std::unique_ptr<CoreWorker> cw(new CoreWorker(std::move(options)));
  LUMOS_RETURN_NOT_OK(cw->Connect());
  return cw;
}

Status CoreWorker::Connect() {
  loop_ = std::make_unique<rpc::EventLoop>();
  auto on_frame = [this](const rpc::ConnectionPtr& c, rpc::Frame&& f) { OnFrame(c, std::move(f)); };
  std::string sock = options_.session_dir + "/sockets/w-" + worker_id_.Hex().substr(0, 12);
  server_ = std::make_unique<rpc::FastpathServer>(loop_->io(), sock, on_frame, nullptr);
  LUMOS_RETURN_NOT_OK(server_->Listen());
  // Peers on other hosts reach this process over TCP (tasks, actor calls, borrowers).
  int tcp_port = 0;
  LUMOS_RETURN_NOT_OK(server_->ListenTcp(options_.node_ip, 0, &tcp_port));
  const std::string endpoint = rpc::FormatEndpoint(sock, options_.node_ip, tcp_port);
  pool_ = std::make_unique<ConnectionPool>(loop_->io(), on_frame);
  pool_->SetPeerClosedHandler([this](const std::string& endpoint) { OnPeerGone(endpoint); });
  loop_->Start("lumos_io");

  auto raylet = rpc::Connection::Connect(loop_->io(), options_.raylet_socket,
                                         Config::Get().raylet_connect_timeout_ms());
  if (!raylet.ok()) return raylet.status();
  raylet_ = raylet.value();
  raylet_->Start(on_frame, [this](const rpc::ConnectionPtr&, const Status& why) {
    if (shut_down_) return;
    if (!options_.is_driver) {
      RequestExit("lost the connection to the raylet");
      return;
    }
    LUMOS_LOG(Error) << "lost the connection to the raylet (" << why.message()
                     << "); pending tasks fail. Was the cluster stopped?";
    tasks_->FailAll(kMetaSystemError, "the local raylet is gone (" + why.message() + ")");
  });

  rpc::RegisterClientRequest reg;
  reg.set_worker_id(worker_id_.Binary());
  reg.set_is_driver(options_.is_driver);
  reg.set_pid(getpid());
  reg.set_job_id(job_id_.Binary());
  reg.set_endpoint(endpoint);
  reg.set_runtime("python");
  rpc::RegisterClientReply reply;
  LUMOS_RETURN_NOT_OK(CallSync(raylet_, rpc::REGISTER_CLIENT, reg, &reply, 10000));
  node_id_ = NodeID::FromBinary(reply.node_id());
  node_resources_.insert(reply.resources().begin(), reply.resources().end());
  address_.set_node_id(node_id_.Binary());
  address_.set_worker_id(worker_id_.Binary());
  address_.set_endpoint(endpoint);
  refs_.SetSelf(worker_id_.Binary(), address_.endpoint());

  std::string store_socket = options_.store_socket;
  if (store_socket.empty()) {
    auto p = UnixPathOf(reply.store_endpoint());
    if (!p.ok()) return p.status();
    store_socket = p.value();
  }
  LUMOS_RETURN_NOT_OK(store_->Connect(store_socket, worker_id_, 10000));
  gcs_ = std::make_shared<rpc::GcsClient>(options_.gcs_address);
  LUMOS_RETURN_NOT_OK(gcs_->Connect(Config::Get().gcs_connect_timeout_ms()));

  tasks_ = std::make_unique<TaskManager>(
      &memory_store_, &refs_, [this](const std::vector<DeletedObject>& d) { FreeObjects(d); }, &lineage_,
      &streams_);
  {
    std::shared_ptr<rpc::GcsClient> gcs = gcs_;
    task_events_ = std::make_unique<TaskEventBuffer>(
        [gcs](const rpc::AddTaskEventsRequest& req, int64_t timeout_ms) { return gcs->AddTaskEvents(req, timeout_ms); },
        node_id_.Binary(), worker_id_.Binary(), static_cast<int32_t>(getpid()));
    tasks_->SetEventBuffer(task_events_.get());
  }
  submitter_ = std::make_unique<NormalTaskSubmitter>(
      raylet_, pool_.get(), tasks_.get(), address_,
      [this](const rpc::TaskSpec& spec) { return LargestArgumentNode(spec); }, &loop_->io());
  std::weak_ptr<rpc::GcsClient> weak_gcs = gcs_;
  actor_submitter_ = std::make_unique<ActorTaskSubmitter>(
      pool_.get(), tasks_.get(), [weak_gcs](const std::string& actor_id) {
        // Off the loop thread: a GCS call blocks for a round trip.
        std::thread([weak_gcs, actor_id] {
          if (auto gcs = weak_gcs.lock()) {
            Status s = gcs->KillActor(actor_id, true, "all handles to the actor went out of scope");
            if (!s.ok()) LUMOS_LOG(Debug) << "out-of-scope kill failed: " << s.ToString();
          }
        }).detach();
      });
  if (options_.is_driver) current_task_ = TaskID::ForDriver(job_id_);
  return Status::OK();
}

CoreWorker::~CoreWorker() {
  Shutdown();
  if (direct_fd_ >= 0) ::close(direct_fd_);
}

void CoreWorker::Shutdown() {
  if (shut_down_.exchange(true)) return;
  log_relay_.Close();  // the driver's progress thread stops waiting; later lines are written
  if (task_events_) task_events_->Stop();  // the last events, while the GCS is still there
  if (submitter_) submitter_->ReturnAllLeases();
  if (raylet_) {
    raylet_->SendOneway(rpc::DISCONNECT_CLIENT, rpc::DisconnectClientRequest());
    raylet_->Close(Status::OK());
  }
  if (pool_) pool_->CloseAll();
  if (server_ && loop_) {
    rpc::FastpathServer* s = server_.get();
    auto done = std::make_shared<std::promise<void>>();
    loop_->Post([s, done] { s->Stop(); done->set_value(); });
    done->get_future().wait_for(std::chrono::seconds(2));
  }
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    exit_requested_ = true;
    task_queue_.clear();
    direct_queue_.clear();
  }
  queue_cv_.notify_all();
  direct_cv_.notify_all();
  if (loop_) loop_->Join();
  // Everything holding sockets of the loop goes before the loop itself,
  // including borrowers' GET_OBJECT_STATUS replies still waiting for a value.
  memory_store_.DropCallbacks();
  submitter_.reset();
  pool_.reset();
  raylet_.reset();
  server_.reset();
  loop_.reset();
}

TaskID CoreWorker::current_task_id() const {
  std::lock_guard<std::mutex> lock(task_mu_);
  return current_task_;
}

// ---------------------------------------------------------------- objects

ObjectID CoreWorker::PutInline(std::string data, std::string metadata, std::vector<rpc::ObjectReference> nested) {
  ObjectID id = ObjectID::ForPut(current_task_id(), ++put_index_);
  std::vector<ObjectID> inner;
  for (const auto& r : nested) inner.push_back(ObjectID::FromBinary(r.object_id()));
  refs_.AddOwnedObject(id, inner, false);
  auto obj = RayObject::Inline(std::move(data), std::move(metadata));
  obj->nested_refs = std::move(nested);
  memory_store_.Put(id, std::move(obj));
  return id;
}

Status CoreWorker::CreatePlasma(uint64_t size, const std::string& metadata, const ObjectID* id,
                                const WorkerID& owner, ObjectID* out_id, uint8_t** data,
                                const std::string& owner_endpoint) {
  *out_id = id ? *id : ObjectID::ForPut(current_task_id(), ++put_index_);
  LUMOS_RETURN_NOT_OK(store_->Create(*out_id, size, metadata.size(), owner, data, /*secondary=*/false,
                                     owner_endpoint.empty() ? address_.endpoint() : owner_endpoint));
  if (!metadata.empty()) std::memcpy(*data + size, metadata.data(), metadata.size());
  std::lock_guard<std::mutex> lock(plasma_sizes_mu_);
  plasma_sizes_[*out_id] = static_cast<int64_t>(size + metadata.size());
  return Status::OK();
}

Status CoreWorker::SealPlasma(const ObjectID& id, bool owned, const std::vector<rpc::ObjectReference>& nested) {
  int64_t size = -1;
  {
    std::lock_guard<std::mutex> lock(plasma_sizes_mu_);
    if (auto it = plasma_sizes_.find(id); it != plasma_sizes_.end()) {
      size = it->second;
      plasma_sizes_.erase(it);
    }
  }
  LUMOS_RETURN_NOT_OK(store_->Seal(id));
  if (owned) {
    std::vector<ObjectID> inner;
    for (const auto& r : nested) inner.push_back(ObjectID::FromBinary(r.object_id()));
    refs_.AddOwnedObject(id, inner, true);
    auto obj = RayObject::InPlasma(node_id_.Binary());
    obj->nested_refs = nested;
    obj->size = size;
    memory_store_.Put(id, obj);
  }
  return Status::OK();
}

Status CoreWorker::AbortPlasma(const ObjectID& id) {
  {
    std::lock_guard<std::mutex> lock(plasma_sizes_mu_);
    plasma_sizes_.erase(id);
  }
  return store_->Abort(id);
}

void CoreWorker::AddLocalRef(const ObjectID& id, const rpc::Address* owner) { refs_.AddLocalRef(id, owner); }

void CoreWorker::RemoveLocalRef(const ObjectID& id) {
  std::vector<DeletedObject> deleted;
  refs_.RemoveLocalRef(id, &deleted);
  if (!deleted.empty()) FreeObjects(deleted);
}

void CoreWorker::FreeObjects(const std::vector<DeletedObject>& deleted) {
  std::vector<ObjectID> plasma;
  bool has_registrations = false;
  std::vector<ActorScope> out_of_scope;
  {
    std::lock_guard<std::mutex> lock(actor_scopes_mu_);
    for (const auto& d : deleted) {
      if (actor_scopes_.empty()) break;
      auto it = actor_scopes_.find(d.id);
      if (it == actor_scopes_.end()) continue;
      out_of_scope.push_back(std::move(it->second));
      actor_scopes_.erase(it);
    }
  }
  for (const auto& scope : out_of_scope) {
    // The last handle anywhere is gone: the actor ends after its pending calls.
    actor_submitter_->MarkOutOfScope(scope.actor_id);
    std::vector<DeletedObject> args;
    refs_.RemoveSubmittedTaskRefs(scope.creation_arg_refs, &args);
    if (!args.empty()) FreeObjects(args);
  }
  std::vector<ObjectID> remote_ids;
  std::vector<std::string> remote_primaries;
  for (const auto& d : deleted) {
    if (d.owned && d.in_plasma) {
      auto obj = memory_store_.GetIfExists(d.id);
      remote_ids.push_back(d.id);
      remote_primaries.push_back(obj && obj->node_id != node_id_.Binary() ? obj->node_id : "");
    }
    memory_store_.Delete(d.id);
    if (d.owned && d.in_plasma) {
      plasma.push_back(d.id);
      lineage_.OnObjectFreed(d.id);
    }
    if (!d.owned) {
      std::lock_guard<std::mutex> lock(owner_mu_);
      requested_from_owner_.erase(d.id);
    }
    if (d.registrations > 0) has_registrations = true;
  }
  if (has_registrations && !shut_down_) SendRemoveBorrowers(deleted);
  if (!remote_ids.empty() && !shut_down_) FreeRemoteCopies(remote_ids, remote_primaries);
  if (!plasma.empty() && !shut_down_) {
    Status s = store_->Delete(plasma);
    if (!s.ok()) LUMOS_LOG(Debug) << "object store delete failed: " << s.ToString();
  }
}

void CoreWorker::RequestFromOwner(const ObjectID& id, const rpc::Address& owner) {
  if (owner.worker_id() == worker_id_.Binary()) return;  // ours: it arrives by itself
  {
    std::lock_guard<std::mutex> lock(owner_mu_);
    if (!requested_from_owner_.emplace(id, true).second) return;
  }
  auto lost = [this, id](const std::string& why) {
    memory_store_.Put(id, RayObject::Inline("object " + id.Hex() + " is lost: " + why, kMetaObjectLost));
  };
  if (owner.endpoint().empty()) {
    lost("its owner is unknown (the ref was not created by lumos)");
    return;
  }
  auto conn = pool_->Get(owner.endpoint());
  if (!conn.ok()) {
    lost("its owner (worker " + WorkerID::FromBinary(owner.worker_id()).Hex() + ") cannot be reached; it has "
         "probably exited (" + conn.status().message() + ")");
    return;
  }
  rpc::GetObjectStatusRequest req;
  req.set_object_id(id.Binary());
  conn.value()->SendRequest(rpc::GET_OBJECT_STATUS, req, [this, id, lost, owner](const Status& s, rpc::Frame&& f) {
    rpc::GetObjectStatusReply reply;
    if (!s.ok() || !reply.ParseFromString(f.payload)) {
      lost("its owner (worker " + WorkerID::FromBinary(owner.worker_id()).Hex() + ") died (" + s.message() + ")");
      return;
    }
    if (reply.status() == rpc::GetObjectStatusReply::OUT_OF_SCOPE) {
      lost("its owner has already freed it");
      return;
    }
    if (reply.in_plasma()) {
      memory_store_.Put(id, RayObject::InPlasma(reply.node_id()));
    } else {
      memory_store_.Put(id, RayObject::FromInline(reply.value()));
    }
  });
}

Status CoreWorker::FetchFromPlasma(const std::vector<ObjectID>& ids, std::vector<std::shared_ptr<RayObject>>* out) {
  std::vector<object_store::StoreClient::ObjectBuffer> bufs;
  LUMOS_RETURN_NOT_OK(store_->Get(ids, &bufs));
  out->clear();
  for (size_t i = 0; i < ids.size(); i++) {
    const auto& b = bufs[i];
    if (!b.found) {
      out->push_back(RayObject::Inline(
          b.error.empty() ? "object " + ids[i].Hex() + " is not in the object store (freed or lost)" : b.error,
          kMetaObjectLost));
      continue;
    }
    auto obj = std::make_shared<RayObject>();
    obj->data = std::make_shared<PlasmaBuffer>(store_, ids[i], b.data, b.data_size);
    obj->metadata.assign(reinterpret_cast<const char*>(b.metadata), b.metadata_size);
    out->push_back(std::move(obj));
  }
  return Status::OK();
}

void CoreWorker::SetBlocked(bool blocked) {
  if (options_.is_driver) return;
  if (blocked_.exchange(blocked) == blocked) return;
  if (blocked) {
    raylet_->SendOneway(rpc::NOTIFY_BLOCKED, rpc::NotifyBlockedRequest());
  } else {
    raylet_->SendOneway(rpc::NOTIFY_UNBLOCKED, rpc::NotifyUnblockedRequest());
  }
}

Status CoreWorker::WaitForObjects(const std::vector<ObjectID>& ids, const std::vector<rpc::Address>& owners,
                                  size_t num_required, int64_t timeout_ms, std::vector<bool>* ready) {
  for (size_t i = 0; i < ids.size(); i++) {
    if (i < owners.size() && !memory_store_.Contains(ids[i]) && !refs_.IsOwned(ids[i])) {
      RequestFromOwner(ids[i], owners[i]);
    }
  }
  return WaitLendingCpu(ids, nullptr, ids.size(), num_required, timeout_ms, ready);
}

Status CoreWorker::WaitLendingCpu(const std::vector<ObjectID>& ids, const std::vector<size_t>* entry_of,
                                  size_t num_entries, size_t num_required, int64_t timeout_ms,
                                  std::vector<bool>* ready) {
  auto wait = [&](int64_t timeout, const MemoryStore::InterruptCheck& interrupted) {
    return entry_of == nullptr
               ? memory_store_.Wait(ids, num_required, timeout, ready, interrupted)
               : memory_store_.WaitAny(ids, *entry_of, num_entries, num_required, timeout, ready, interrupted);
  };
  Status s = wait(0, nullptr);
  if (s.ok() || timeout_ms == 0) return s;
  // About to block: a worker lends its CPU back meanwhile.
  SetBlocked(true);
  s = wait(timeout_ms, options_.check_signals);
  SetBlocked(false);
  return s;
}

Status CoreWorker::Get(const std::vector<ObjectID>& ids, const std::vector<rpc::Address>& owners, int64_t timeout_ms,
                       std::vector<std::shared_ptr<RayObject>>* out) {
  // Each round that starts re-executions of lost objects waits again; the
  // retry budgets bound the rounds.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    LUMOS_RETURN_NOT_OK(GetOnce(ids, owners, timeout_ms, out));
    if (!ReconstructLostObjects(ids, out)) return Status::OK();
    if (timeout_ms >= 0) {
      timeout_ms = std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                            deadline - std::chrono::steady_clock::now()).count());
    }
  }
}

Status CoreWorker::GetOnce(const std::vector<ObjectID>& ids, const std::vector<rpc::Address>& owners,
                           int64_t timeout_ms, std::vector<std::shared_ptr<RayObject>>* out) {
  std::vector<bool> ready;
  Status s = WaitForObjects(ids, owners, ids.size(), timeout_ms, &ready);
  if (!s.ok()) {
    if (s.code() == StatusCode::kTimedOut) {
      size_t missing = 0;
      for (bool r : ready) missing += !r;
      return Status::TimedOut("get timed out after " + std::to_string(timeout_ms / 1000.0) + " s: " +
                              std::to_string(missing) + " of " + std::to_string(ids.size()) +
                              " objects were not ready");
    }
    return s;
  }
  out->clear();
  std::vector<ObjectID> plasma_ids;
  std::vector<size_t> plasma_pos;
  for (size_t i = 0; i < ids.size(); i++) {
    auto obj = memory_store_.GetIfExists(ids[i]);
    if (!obj) obj = RayObject::Inline("object " + ids[i].Hex() + " was freed while being read", kMetaObjectLost);
    if (obj->in_plasma) {
      plasma_ids.push_back(ids[i]);
      plasma_pos.push_back(i);
    }
    out->push_back(std::move(obj));
  }
  if (!plasma_ids.empty()) {
    LUMOS_RETURN_NOT_OK(PullRemoteObjects(ids, owners, timeout_ms, out));
    // Pulled copies are local now; failed pulls became error objects.
    std::vector<ObjectID> local_ids;
    std::vector<size_t> local_pos;
    for (size_t j = 0; j < plasma_pos.size(); j++) {
      if (!(*out)[plasma_pos[j]]->in_plasma) continue;
      local_ids.push_back(plasma_ids[j]);
      local_pos.push_back(plasma_pos[j]);
    }
    std::vector<std::shared_ptr<RayObject>> fetched;
    if (!local_ids.empty()) LUMOS_RETURN_NOT_OK(FetchFromPlasma(local_ids, &fetched));
    for (size_t j = 0; j < local_pos.size(); j++) (*out)[local_pos[j]] = fetched[j];
  }
  return Status::OK();
}

Status CoreWorker::Wait(const std::vector<ObjectID>& ids, const std::vector<rpc::Address>& owners,
                        const std::vector<bool>& is_stream, size_t num_returns, int64_t timeout_ms,
                        std::vector<bool>* ready) {
  bool any_stream = std::find(is_stream.begin(), is_stream.end(), true) != is_stream.end();
  Status s = any_stream ? WaitWithStreams(ids, owners, is_stream, num_returns, timeout_ms, ready)
                        : WaitForObjects(ids, owners, num_returns, timeout_ms, ready);
  return s.code() == StatusCode::kTimedOut ? Status::OK() : s;
}

// ---------------------------------------------------------------- tasks

TaskID CoreWorker::FillCallerFields(rpc::TaskSpec* spec) {
  TaskID parent = current_task_id();
  JobID job = options_.is_driver ? job_id_ : parent.Job();
  TaskID task = TaskID::ForJob(job);
  spec->set_task_id(task.Binary());
  spec->set_job_id(job.Binary());
  spec->set_parent_task_id(parent.Binary());
  *spec->mutable_caller() = address_;
  return task;
}

void CoreWorker::PrepareSpec(rpc::TaskSpec* spec, std::vector<ObjectID>* returns) {
  TaskID task = FillCallerFields(spec);
  for (int i = 0; i < spec->num_returns(); i++) {
    returns->push_back(ObjectID::FromIndex(task, i + 1));
    refs_.AddOwnedObject(returns->back(), {}, false);
  }
  tasks_->AddPendingTask(*spec, ArgRefsOf(*spec));
}

std::vector<ObjectID> CoreWorker::ArgRefsOf(const rpc::TaskSpec& spec) {
  std::vector<ObjectID> arg_refs;
  for (const auto& a : spec.args()) {
    if (a.has_ref()) {
      arg_refs.push_back(ObjectID::FromBinary(a.ref().object_id()));
    } else {
      for (const auto& r : a.value().nested_refs()) arg_refs.push_back(ObjectID::FromBinary(r.object_id()));
    }
  }
  return arg_refs;
}

std::vector<ObjectID> CoreWorker::SubmitTask(rpc::TaskSpec spec) {
  std::vector<ObjectID> returns;
  TaskID task = FillCallerFields(&spec);
  for (int i = 0; i < spec.num_returns(); i++) {
    returns.push_back(ObjectID::FromIndex(task, i + 1));
    refs_.AddOwnedObject(returns.back(), {}, false);
  }
  // One spec shared by the TaskManager (retries) and the submitter's queue.
  auto shared = std::make_shared<const rpc::TaskSpec>(std::move(spec));
  tasks_->AddPendingTask(shared, ArgRefsOf(*shared));
  auto submit = [this](std::shared_ptr<const rpc::TaskSpec> ready) {
    TaskID id = TaskID::FromBinary(ready->task_id());
    if (!tasks_->StartIfNotCancelled(id)) {  // cancelled while its arguments were pending
      tasks_->FailTask(id, kMetaTaskCancelled, "task '" + ready->name() + "' was cancelled before it ran");
      return;
    }
    submitter_->Submit(std::move(ready));
  };
  if (!HasOwnedRefArg(*shared, worker_id_.Binary())) {
    submit(std::move(shared));  // nothing to resolve: no copy
    return returns;
  }
  ResolveDependencies(rpc::TaskSpec(*shared), [submit](rpc::TaskSpec ready) {
    submit(std::make_shared<const rpc::TaskSpec>(std::move(ready)));
  });
  return returns;
}

Status CoreWorker::CancelTask(const ObjectID& ref, bool force, bool recursive) {
  TaskID task = ref.Task();
  if (!tasks_->IsPending(task)) return Status::OK();  // finished (or not ours): nothing to do
  const bool actor_call = actor_submitter_->IsActorCall(task);
  if (force && actor_call) {
    return Status::InvalidArgument(
        "force=True is not supported for actor calls (queued, running, sync or async); cancel without force, "
        "or end the actor with lumos.kill()");
  }
  if (!actor_call && tasks_->CancelIfResolving(task)) {
    // Still waiting for an argument: fail it now; when the argument arrives
    // the resolved spec is dropped (StartIfNotCancelled).
    tasks_->FailTask(task, kMetaTaskCancelled, "the task was cancelled while it waited for its arguments");
    return Status::OK();
  }
  bool is_actor_call = false;
  if (actor_submitter_->CancelQueued(task, &is_actor_call)) {
    tasks_->MarkCancelled(task);
    tasks_->FailTask(task, kMetaTaskCancelled, "the actor call was cancelled before it ran");
    return Status::OK();
  }
  if (is_actor_call) {
    if (force) {
      return Status::InvalidArgument("force=True is not allowed for actor calls; use lumos.kill() on the actor");
    }
    tasks_->MarkCancelled(task);
    actor_submitter_->CancelRunning(task, recursive);
    return Status::OK();
  }
  tasks_->MarkCancelled(task);
  if (submitter_->CancelQueued(task)) {
    tasks_->FailTask(task, kMetaTaskCancelled, "the task was cancelled before it ran");
    return Status::OK();
  }
  // Running (or still resolving its arguments: then it fails when they resolve).
  submitter_->CancelRunning(task, force, recursive);
  return Status::OK();
}

std::vector<ObjectID> CoreWorker::SubmitActorTask(const std::string& actor_id, rpc::TaskSpec spec) {
  std::vector<ObjectID> returns;
  spec.mutable_actor_task()->set_actor_id(actor_id);
  PrepareSpec(&spec, &returns);
  if (!HasOwnedRefArg(spec, worker_id_.Binary())) {
    actor_submitter_->SubmitResolved(actor_id, std::move(spec));
    return returns;
  }
  uint64_t seq = actor_submitter_->Enqueue(actor_id, spec);
  ResolveDependencies(std::move(spec), [this, actor_id, seq](rpc::TaskSpec ready) {
    actor_submitter_->Resolved(actor_id, seq, std::move(ready));
  });
  return returns;
}

void CoreWorker::WarnOnce(const std::string& message) {
  {
    std::lock_guard<std::mutex> lock(warned_mu_);
    if (warned_.size() >= 4096) warned_.clear();  // bounded; a repeat after that is harmless
    if (!warned_.insert(message).second) return;
  }
  ForwardLogs({"lumos: Warning: " + message}, true);
}

void CoreWorker::ResolveDependencies(rpc::TaskSpec spec, std::function<void(rpc::TaskSpec)> on_ready) {
  // Arguments owned here that are not ready yet: wait for them, then inline the
  // small ones so the executor needs no round trip back to us.
  std::vector<int> waiting;
  for (int i = 0; i < spec.args_size(); i++) {
    const auto& a = spec.args(i);
    if (!a.has_ref() || a.ref().owner().worker_id() != worker_id_.Binary()) continue;
    ObjectID id = ObjectID::FromBinary(a.ref().object_id());
    if (!memory_store_.Contains(id) && !refs_.Has(id)) {
      // Freed before the task was submitted: the task fails instead of waiting forever.
      auto* v = spec.mutable_args(i)->mutable_value();
      v->set_metadata(kMetaObjectLost);
      v->set_data("argument object " + id.Hex() + " was freed before the task was submitted");
      continue;
    }
    waiting.push_back(i);
  }
  if (waiting.empty()) {
    on_ready(std::move(spec));
    return;
  }
  struct State {
    rpc::TaskSpec spec;
    std::atomic<int> remaining;
    std::vector<int> positions;
    std::function<void(rpc::TaskSpec)> on_ready;
  };
  auto st = std::make_shared<State>();
  st->spec = std::move(spec);
  st->on_ready = std::move(on_ready);
  st->remaining = static_cast<int>(waiting.size());
  st->positions = waiting;
  for (int pos : waiting) {
    ObjectID id = ObjectID::FromBinary(st->spec.args(pos).ref().object_id());
    memory_store_.GetAsync(id, [this, st](std::shared_ptr<RayObject>) {
      if (st->remaining.fetch_sub(1) != 1) return;
      for (int p : st->positions) {
        ObjectID oid = ObjectID::FromBinary(st->spec.args(p).ref().object_id());
        auto obj = memory_store_.GetIfExists(oid);
        if (!obj || obj->in_plasma) continue;
        auto* v = st->spec.mutable_args(p)->mutable_value();  // replaces the ref
        auto* sb = static_cast<StringBuffer*>(obj->data.get());
        v->set_data(sb->str());
        v->set_metadata(obj->metadata);
        for (const auto& r : obj->nested_refs) *v->add_nested_refs() = r;
      }
      st->on_ready(std::move(st->spec));
    });
  }
}

void CoreWorker::OnFrame(const rpc::ConnectionPtr& conn, rpc::Frame&& frame) {
  switch (frame.header.method) {
    case rpc::PUSH_TASK:
      if (options_.is_driver) {
        conn->SendError(frame.header.request_id, rpc::PUSH_TASK, Status::Invalid("drivers do not run tasks"));
        return;
      }
      EnqueueTask(conn, std::move(frame));
      return;
    case rpc::GET_OBJECT_STATUS:
      HandleGetObjectStatus(conn, frame);
      return;
    case rpc::FORWARD_LOGS:
      HandleForwardLogs(frame);
      return;
    case rpc::LEASE_INFEASIBLE: {
      rpc::LeaseInfeasibleNotice n;
      if (n.ParseFromString(frame.payload)) WarnOnce(n.message());
      return;
    }
    case rpc::EXIT_WORKER: {
      rpc::ExitWorkerRequest req;
      if (req.ParseFromString(frame.payload) && req.when_idle()) {
        retiring_ = true;  // RunTaskLoop exits once idle; replies say so meanwhile
        queue_cv_.notify_all();
      } else {
        RequestExit("the raylet asked this idle worker to exit");
      }
      return;
    }
    case rpc::ACTOR_STATE_UPDATE:
      HandleActorUpdate(frame);
      return;
    case rpc::CANCEL_TASK:
      HandleCancelTask(frame);
      return;
    case rpc::REPORT_GENERATOR_ITEM:
      HandleGeneratorItem(conn, frame);
      return;
    case rpc::ADD_BORROWERS:
      HandleAddBorrowers(conn, frame);
      return;
    case rpc::REMOVE_BORROWERS:
      HandleRemoveBorrowers(frame);
      return;
    case rpc::GET_REFERENCE_TABLE:
      HandleGetReferenceTable(conn, frame);
      return;
    case rpc::ADD_OBJECT_LOCATION:
      HandleAddObjectLocation(frame);
      return;
    default:
      // Never drop the connection: the GCS watches the owner through it.
      LUMOS_LOG(Warning) << "ignoring unexpected fastpath method " << frame.header.method;
      if (frame.header.kind == rpc::FrameKind::kRequest) {
        conn->SendError(frame.header.request_id, frame.header.method, Status::Invalid("unexpected method"));
      }
  }
}

void CoreWorker::HandleGetObjectStatus(const rpc::ConnectionPtr& conn, const rpc::Frame& frame) {
  rpc::GetObjectStatusRequest req;
  uint64_t rid = frame.header.request_id;
  if (!req.ParseFromString(frame.payload) || req.object_id().size() != ObjectID::kSize) {
    conn->SendError(rid, rpc::GET_OBJECT_STATUS, Status::InvalidArgument("bad object id"));
    return;
  }
  ObjectID id = ObjectID::FromBinary(req.object_id());
  if (!refs_.Has(id) && !memory_store_.Contains(id)) {
    rpc::GetObjectStatusReply reply;
    reply.set_status(rpc::GetObjectStatusReply::OUT_OF_SCOPE);
    conn->SendReply(rid, rpc::GET_OBJECT_STATUS, reply);
    return;
  }
  std::string node = node_id_.Binary();
  memory_store_.GetAsync(id, [conn, rid, node](std::shared_ptr<RayObject> obj) {
    rpc::GetObjectStatusReply reply;
    reply.set_status(rpc::GetObjectStatusReply::READY);
    if (obj->in_plasma) {
      reply.set_in_plasma(true);
      reply.set_node_id(obj->node_id.empty() ? node : obj->node_id);
    } else {
      auto* v = reply.mutable_value();
      v->set_data(reinterpret_cast<const char*>(obj->data->data()), obj->data->size());
      v->set_metadata(obj->metadata);
      for (const auto& r : obj->nested_refs) *v->add_nested_refs() = r;
    }
    conn->SendReply(rid, rpc::GET_OBJECT_STATUS, reply);
  });
}

void CoreWorker::HandleForwardLogs(const rpc::Frame& frame) {
  rpc::ForwardLogsRequest req;
  if (!req.ParseFromString(frame.payload)) return;
  ForwardLogs(std::vector<std::string>(req.lines().begin(), req.lines().end()), req.is_err());
}

void CoreWorker::ForwardLogs(const std::vector<std::string>& lines, bool is_err) {
  rpc::ConnectionPtr sink;
  if (!options_.is_driver) {
    std::lock_guard<std::mutex> lock(task_mu_);
    sink = log_sink_;
  }
  if (sink && !sink->closed()) {
    rpc::ForwardLogsRequest req;
    for (const auto& l : lines) req.add_lines(l);
    req.set_is_err(is_err);
    sink->SendOneway(rpc::FORWARD_LOGS, req);
    return;
  }
  log_relay_.Deliver(lines, is_err);
}

}  // namespace lumos::core
