#pragma once
// Blocking frame I/O on a raw socket descriptor, bounded by an absolute
// deadline (rpc::NowMs() milliseconds): for the TCP handshake and the object
// transfer port, which run on threads of their own rather than an event loop.
// Works on blocking and non-blocking descriptors. Thread safe (no state).
#include <cstdint>
#include <string>

#include "common/status.h"
#include "rpc/frame.h"

namespace lumos::rpc {

Status WriteAll(int fd, const char* data, size_t len, int64_t deadline_ms);
inline Status WriteAll(int fd, const std::string& bytes, int64_t deadline_ms) {
  return WriteAll(fd, bytes.data(), bytes.size(), deadline_ms);
}
/// \brief Reads exactly `len` bytes; Disconnected if the peer closes first.
Status ReadAll(int fd, char* out, size_t len, int64_t deadline_ms);
/// \brief Reads one frame whose payload is at most `max_payload` bytes.
Status ReadFrame(int fd, uint64_t max_payload, int64_t deadline_ms, Frame* out);
/// \brief Reads only a frame's header (the caller reads the payload itself).
Status ReadFrameHeader(int fd, uint64_t max_payload, int64_t deadline_ms, FrameHeader* out);
/// \brief Encodes and writes one frame.
Status WriteFrame(int fd, FrameKind kind, uint16_t method, uint64_t request_id, uint8_t flags,
                  const std::string& payload, int64_t deadline_ms);
/// \brief Writes an error reply frame carrying `status`.
Status WriteErrorFrame(int fd, uint16_t method, uint64_t request_id, const Status& status, int64_t deadline_ms);

}  // namespace lumos::rpc
