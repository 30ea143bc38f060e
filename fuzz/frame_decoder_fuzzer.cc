// Fuzzes the fastpath frame parser (rpc/frame.h): DecodeHeader and the
// incremental FrameDecoder, with arbitrary bytes cut into arbitrary reads.
// Input: byte 0 picks the read sizes, byte 1 the payload limit, the rest is
// the byte stream a peer sent. Besides sanitizer errors it checks:
//  - the frames (and the error) do not depend on how the stream was cut;
//  - re-encoding the frames gives back exactly the bytes they came from;
//  - a header DecodeHeader accepts encodes back to the same 16 bytes and
//    respects the limits it promises (kind, flags, method, payload size);
//  - Wanted() never asks for nothing while a frame is unfinished.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "rpc/frame.h"

using lumos::rpc::DecodeHeader;
using lumos::rpc::EncodeFrame;
using lumos::rpc::EncodeHeader;
using lumos::rpc::Frame;
using lumos::rpc::FrameDecoder;
using lumos::rpc::FrameHeader;
using lumos::rpc::kFrameHeaderSize;

namespace {
void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "frame_decoder_fuzzer: %s\n", what);
  __builtin_trap();
}

struct Outcome {
  std::vector<Frame> frames;
  bool failed = false;
};

// Feeds `stream` in pieces whose sizes follow `seed` (0: all at once).
Outcome Decode(const std::string& stream, uint64_t max_payload, uint8_t seed) {
  FrameDecoder d(max_payload);
  Outcome out;
  uint32_t state = seed * 2654435761u + 1;
  size_t off = 0;
  while (off < stream.size()) {
    size_t n = stream.size() - off;
    if (seed != 0) {
      state = state * 1103515245u + 12345u;
      n = std::min<size_t>(n, 1 + (state >> 16) % 40);
    }
    if (!d.Feed(stream.data() + off, n).ok()) {
      out.failed = true;
      // Once failed, it stays failed and yields nothing new.
      Check(!d.Feed(stream.data(), stream.size()).ok(), "decoder recovered after an error");
    }
    while (d.HasFrame()) out.frames.push_back(d.Next());
    if (out.failed) break;
    Check(d.Wanted() > 0, "Wanted() is 0 while a frame is unfinished");
    off += n;
  }
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t seed = data[0];
  const uint64_t max_payload = uint64_t{1} << (data[1] % 33);  // 1 B .. 4 GiB
  std::string stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  if (stream.size() >= kFrameHeaderSize) {
    FrameHeader h;
    if (DecodeHeader(reinterpret_cast<const uint8_t*>(stream.data()), max_payload, &h).ok()) {
      uint8_t again[kFrameHeaderSize];
      EncodeHeader(h, again);
      Check(std::string(reinterpret_cast<char*>(again), kFrameHeaderSize) == stream.substr(0, kFrameHeaderSize),
            "an accepted header does not encode back to its bytes");
      Check(h.method >= 1 && h.method <= lumos::rpc::kMaxMethod, "accepted a method out of range");
      Check((h.flags & ~(lumos::rpc::kFlagError | lumos::rpc::kFlagHasFd)) == 0, "accepted unknown flags");
      Check(h.payload_len <= max_payload, "accepted a payload over the limit");
    }
  }

  Outcome whole = Decode(stream, max_payload, 0);
  Outcome pieces = Decode(stream, max_payload, seed);
  Check(whole.failed == pieces.failed, "the error depends on how the stream was cut");
  Check(whole.frames.size() == pieces.frames.size(), "the frames depend on how the stream was cut");
  std::string reencoded;
  for (size_t i = 0; i < whole.frames.size(); i++) {
    const Frame& a = whole.frames[i];
    const Frame& b = pieces.frames[i];
    Check(a.payload == b.payload && a.header.method == b.header.method && a.header.kind == b.header.kind &&
              a.header.flags == b.header.flags && a.header.request_id == b.header.request_id,
          "a frame depends on how the stream was cut");
    Check(a.header.payload_len == a.payload.size(), "payload_len differs from the payload's size");
    reencoded += EncodeFrame(a.header, a.payload);
  }
  Check(stream.compare(0, reencoded.size(), reencoded) == 0, "re-encoded frames differ from the input");
  return 0;
}
