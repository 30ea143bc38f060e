#include "rpc/frame.h"

#include <cstring>

namespace lumos::rpc {
namespace {
template <typename T>
void Put(uint8_t* p, T v) {
  for (size_t i = 0; i < sizeof(T); i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
template <typename T>
T Take(const uint8_t* p) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); i++) v |= static_cast<T>(p[i]) << (8 * i);
  return v;
}
}  // namespace

void EncodeHeader(const FrameHeader& h, uint8_t out[kFrameHeaderSize]) {
  Put<uint32_t>(out, h.payload_len);
  Put<uint16_t>(out + 4, h.method);
  out[6] = static_cast<uint8_t>(h.kind);
  out[7] = h.flags;
  Put<uint64_t>(out + 8, h.request_id);
}

Status DecodeHeader(const uint8_t in[kFrameHeaderSize], uint64_t max_payload, FrameHeader* out) {
  FrameHeader h;
  h.payload_len = Take<uint32_t>(in);
  h.method = Take<uint16_t>(in + 4);
  uint8_t kind = in[6];
  h.flags = in[7];
  h.request_id = Take<uint64_t>(in + 8);
  if (kind < 1 || kind > 3) return Status::Invalid("bad frame kind " + std::to_string(kind));
  h.kind = static_cast<FrameKind>(kind);
  if (h.flags & ~(kFlagError | kFlagHasFd)) {
    return Status::Invalid("bad frame flags " + std::to_string(h.flags));
  }
  if (h.method == 0 || h.method > kMaxMethod) {
    return Status::Invalid("bad frame method " + std::to_string(h.method));
  }
  if (h.payload_len > max_payload) {
    return Status::Invalid("frame payload of " + std::to_string(h.payload_len) +
                           " bytes exceeds the limit of " + std::to_string(max_payload));
  }
  *out = h;
  return Status::OK();
}

std::string EncodeFrame(const FrameHeader& h, const std::string& payload) {
  std::string out(kFrameHeaderSize + payload.size(), '\0');
  EncodeHeader(h, reinterpret_cast<uint8_t*>(&out[0]));
  std::memcpy(&out[kFrameHeaderSize], payload.data(), payload.size());
  return out;
}

std::string EncodeFrame(FrameKind kind, uint16_t method, uint64_t request_id, uint8_t flags,
                        const std::string& payload) {
  FrameHeader h;
  h.method = method;
  h.kind = kind;
  h.flags = flags;
  h.request_id = request_id;
  h.payload_len = static_cast<uint32_t>(payload.size());
  return EncodeFrame(h, payload);
}

Status FrameDecoder::Feed(const char* data, size_t len) {
  if (!error_.ok()) return error_;
  while (len > 0) {
    if (!have_header_) {
      size_t take = std::min(len, kFrameHeaderSize - partial_.size());
      partial_.append(data, take);
      data += take;
      len -= take;
      if (partial_.size() < kFrameHeaderSize) break;
      error_ = DecodeHeader(reinterpret_cast<const uint8_t*>(partial_.data()), max_payload_, &header_);
      if (!error_.ok()) return error_;
      have_header_ = true;
      partial_.clear();
      // Grow with the data actually received: a bare header must not make us
      // allocate up to max_payload bytes.
      partial_.reserve(std::min<size_t>(header_.payload_len, 64 * 1024));
    }
    size_t take = std::min<size_t>(len, header_.payload_len - partial_.size());
    partial_.append(data, take);
    data += take;
    len -= take;
    if (partial_.size() == header_.payload_len) {
      frames_.push_back(Frame{header_, std::move(partial_)});
      partial_.clear();
      have_header_ = false;
    }
  }
  return Status::OK();
}

Frame FrameDecoder::Next() {
  Frame f = std::move(frames_.front());
  frames_.pop_front();
  return f;
}

size_t FrameDecoder::Wanted() const {
  return have_header_ ? header_.payload_len - partial_.size() : kFrameHeaderSize - partial_.size();
}

}  // namespace lumos::rpc
