// CoreWorker, the owner's and handle holder's side of actors: registering an
// actor with the GCS, holding handles (subscribing to the actor's state), kill,
// and the GCS's state updates. Calls to actors: SubmitActorTask
// (core_worker.cc) and ActorTaskSubmitter. The rest of CoreWorker is in
// core_worker.cc.
#include "common/config.h"
#include "core_worker/core_worker.h"

namespace lumos::core {

namespace {
// Why calls to an actor the GCS no longer knows fail (see AddActorHandle).
constexpr const char* kForgottenActorCause =
    "the actor is dead, and the GCS no longer keeps its record (it keeps the latest "
    "maximum_gcs_destroyed_actor_cached_count dead actors)";
}  // namespace

Status CoreWorker::CreateActor(rpc::TaskSpec spec, rpc::ActorTableData* existing, ObjectID* handle_object) {
  TaskID task = FillCallerFields(&spec);
  // The GCS schedules actors: it reads the flag from the spec, since the
  // driver's _system_config may not have reached a cluster it joined.
  if (Config::Get().fail_on_infeasible() != 0) spec.set_fail_on_infeasible(true);
  const bool detached = spec.actor_creation().detached();
  // The creation task runs whenever the GCS places the actor, maybe again
  // after a restart: its argument refs stay held while the actor can run.
  std::vector<ObjectID> arg_refs = ArgRefsOf(spec);
  const std::string actor_id = spec.actor_creation().actor_id();
  actor_submitter_->AddActor(actor_id, 0);
  LUMOS_RETURN_NOT_OK(gcs_->RegisterActor(spec, existing));
  if (detached) {
    for (const auto& id : arg_refs) refs_.MarkEscaped(id);
    *handle_object = ObjectID::Nil();
    return Status::OK();
  }
  *handle_object = ObjectID::FromIndex(task, 0);  // index 0: never a task return
  refs_.AddOwnedObject(*handle_object, {}, false);
  refs_.AddSubmittedTaskRefs(arg_refs);
  std::lock_guard<std::mutex> lock(actor_scopes_mu_);
  actor_scopes_[*handle_object] = ActorScope{actor_id, std::move(arg_refs)};
  return Status::OK();
}

Status CoreWorker::AddActorHandle(const std::string& actor_id, int max_task_retries, bool owned) {
  if (!actor_submitter_->AddActor(actor_id, max_task_retries) || owned) return Status::OK();
  rpc::ActorTableData current;
  Status s = gcs_->SubscribeActor(actor_id, address_, &current);
  if (s.ok()) actor_submitter_->OnActorUpdate(current);
  if (s.code() != StatusCode::kNotFound) return s;
  // A handle exists only for a registered actor, and the GCS forgets one only
  // once it is DEAD, the longest-dead first (maximum_gcs_destroyed_actor_cached_count):
  // calls fail with ActorDiedError, as they would while the GCS still kept it.
  actor_submitter_->MarkKilled(actor_id, kForgottenActorCause);
  return Status::OK();
}

Status CoreWorker::KillActor(const std::string& actor_id, bool no_restart, const std::string& reason) {
  Status s = gcs_->KillActor(actor_id, no_restart, reason);
  if (s.code() == StatusCode::kNotFound) {  // dead and forgotten: killing it is a no-op, as for DEAD
    actor_submitter_->MarkKilled(actor_id, kForgottenActorCause);
    return Status::OK();
  }
  LUMOS_RETURN_NOT_OK(s);
  if (no_restart) {
    actor_submitter_->MarkKilled(actor_id, reason);
  } else {
    actor_submitter_->MarkRestarting(actor_id, reason);
  }
  return Status::OK();
}

void CoreWorker::HandleActorUpdate(const rpc::Frame& frame) {
  rpc::ActorTableData data;
  if (!data.ParseFromString(frame.payload)) return;
  if (data.state() == rpc::ActorTableData::PENDING_CREATION && !data.death_cause().empty() &&
      data.owner().worker_id() == worker_id_.Binary()) {
    WarnOnce(data.death_cause());
  }
  actor_submitter_->OnActorUpdate(data);
}

}  // namespace lumos::core
