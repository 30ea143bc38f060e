#pragma once
// ActorStateQuery: the state API's questions about the actor table
// (`lumos list actors -f ...`, `lumos summary actors`), answered in the GCS
// so that 10,000 actors are not shipped to answer "the first 100" or "how
// many per class and state".
//
// Filters compare an actor's field as `lumos list actors` shows it (ids in
// hex, states by name), case-insensitively, '=' or '!='; they run before
// the limit and `total` counts every match. Pure function, no state.
//
// The caller lends the table by pointer (under its lock): only the actors
// returned are copied, so "state=ALIVE" or a summary over 10,000 actors
// copies none it does not answer with; each filter is compiled once (state
// names to the enum, hex ids to bytes) and compared without building strings.
#include <cstdint>
#include <string>
#include <vector>

#include "common.pb.h"
#include "common/status.h"
#include "gcs_service.pb.h"

namespace lumos::gcs {

/// \brief Keys the GCS filters actors on (the others are filtered by the caller).
const std::vector<std::string>& ActorFilterKeys();

/// \brief Fills `reply` (actors, total, truncated, or with `summarize` the
/// counts per class and state) from `actors`, in their order. InvalidArgument
/// names an unknown key or predicate; `reply` is then left empty.
Status QueryActors(const std::vector<const rpc::ActorTableData*>& actors, const rpc::GetAllActorInfoRequest& req,
                   rpc::GetAllActorInfoReply* reply);

}  // namespace lumos::gcs
