#pragma once
// Fastpath wire format: a 16-byte little-endian header followed by a protobuf
// payload.
//   u32 payload_len | u16 method | u8 kind | u8 flags | u64 request_id
// kind: 1 request, 2 reply, 3 one-way. flags: bit0 error (payload is RpcError),
// bit1 carries a file descriptor (SCM_RIGHTS, on UDS only).
// FrameDecoder is a pure incremental parser: bytes in, frames out; any malformed
// header makes it fail permanently so the connection can be dropped.
#include <cstdint>
#include <deque>
#include <string>

#include "common/status.h"

namespace lumos::rpc {

enum class FrameKind : uint8_t { kRequest = 1, kReply = 2, kOneway = 3 };
constexpr uint8_t kFlagError = 1;
constexpr uint8_t kFlagHasFd = 2;
constexpr size_t kFrameHeaderSize = 16;
constexpr uint16_t kMaxMethod = 1024;

struct FrameHeader {
  uint32_t payload_len = 0;
  uint16_t method = 0;
  FrameKind kind = FrameKind::kRequest;
  uint8_t flags = 0;
  uint64_t request_id = 0;
};

struct Frame {
  FrameHeader header;
  std::string payload;
};

void EncodeHeader(const FrameHeader& h, uint8_t out[kFrameHeaderSize]);
/// \brief Parses and validates a header. Fails (Invalid) on an unknown kind,
/// unknown flags, a method beyond kMaxMethod or a payload over max_payload.
Status DecodeHeader(const uint8_t in[kFrameHeaderSize], uint64_t max_payload, FrameHeader* out);
/// \brief Header + payload as one contiguous string, ready to write.
std::string EncodeFrame(const FrameHeader& h, const std::string& payload);
/// \brief The same, with the header built from its fields (payload_len from `payload`).
std::string EncodeFrame(FrameKind kind, uint16_t method, uint64_t request_id, uint8_t flags,
                        const std::string& payload);

/// \brief Incremental decoder. Not thread safe.
class FrameDecoder {
 public:
  explicit FrameDecoder(uint64_t max_payload) : max_payload_(max_payload) {}
  /// \brief Consumes bytes; complete frames become available through Next().
  Status Feed(const char* data, size_t len);
  bool HasFrame() const { return !frames_.empty(); }
  Frame Next();
  /// \brief Changes the largest payload accepted for headers decoded from now on.
  void set_max_payload(uint64_t max_payload) { max_payload_ = max_payload; }
  /// \brief Bytes still needed to finish the current frame (a read-size hint).
  size_t Wanted() const;
  /// \brief True while part of a frame has arrived but not all of it (a peer
  /// that hangs up now sent a truncated frame).
  bool MidFrame() const { return have_header_ || !partial_.empty(); }

 private:
  uint64_t max_payload_;
  bool have_header_ = false;
  FrameHeader header_;
  std::string partial_;  // header bytes, then payload bytes, of the current frame
  std::deque<Frame> frames_;
  Status error_;
};

}  // namespace lumos::rpc
