#pragma once
// Small helpers shared by the GCS's gRPC service shells: Status -> GcsStatus
// for replies, and the wall clock the managers are driven with. Header only,
// stateless, thread safe.
#include <chrono>
#include <cstdint>

#include "common/status.h"
#include "gcs_service.pb.h"

namespace lumos::gcs {

/// \brief Writes `status` into a reply's GcsStatus (code 0 = OK).
inline void FillGcsStatus(const Status& status, rpc::GcsStatus* out) {
  out->set_code(status.code_int());
  if (!status.ok()) out->set_message(status.message());
}

/// \brief Milliseconds since the epoch (the unit of NodeInfo.last_report_ms).
inline int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace lumos::gcs
