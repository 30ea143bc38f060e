#pragma once
// PushTaskFrame: the PUSH_TASK request for one task spec, laid out as a whole
// fastpath frame (header room, then the serialized PushTaskRequest{task =
// spec}), for Connection::SendRequestFrame. Both submitters (tasks and actor
// calls) push through it: building a PushTaskRequest would copy the spec into
// it, and serializing it then copying the bytes behind a frame header would
// copy them twice more -- about a tenth of a small call's cost in the caller.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <cstdint>
#include <string>

#include "core_worker.pb.h"
#include "rpc/frame.h"

namespace lumos::core {

inline std::string PushTaskFrame(const rpc::TaskSpec& spec) {
  using Wire = google::protobuf::internal::WireFormatLite;
  const size_t size = spec.ByteSizeLong();
  uint8_t head[16];
  uint8_t* end = Wire::WriteTagToArray(rpc::PushTaskRequest::kTaskFieldNumber, Wire::WIRETYPE_LENGTH_DELIMITED, head);
  end = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(size, end);
  const size_t field_head = static_cast<size_t>(end - head);
  std::string frame;
  frame.reserve(rpc::kFrameHeaderSize + field_head + size);
  frame.assign(rpc::kFrameHeaderSize, '\0');  // the header, written when sent
  frame.append(reinterpret_cast<const char*>(head), field_head);
  spec.AppendToString(&frame);
  return frame;
}

}  // namespace lumos::core
