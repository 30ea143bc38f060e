// Fastpath frame header codec and the incremental FrameDecoder.
#include "rpc/frame.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lumos::rpc {
namespace {

std::string Frame_(uint16_t method, FrameKind kind, uint64_t id, const std::string& payload,
                   uint8_t flags = 0) {
  FrameHeader h;
  h.method = method;
  h.kind = kind;
  h.flags = flags;
  h.request_id = id;
  h.payload_len = static_cast<uint32_t>(payload.size());
  return EncodeFrame(h, payload);
}

// A header with arbitrary raw field bytes (to build malformed frames).
std::string RawHeader(uint32_t len, uint16_t method, uint8_t kind, uint8_t flags) {
  FrameHeader h;
  h.payload_len = len;
  h.method = method;
  h.request_id = 9;
  uint8_t buf[kFrameHeaderSize];
  EncodeHeader(h, buf);
  buf[6] = kind;
  buf[7] = flags;
  return std::string(reinterpret_cast<char*>(buf), kFrameHeaderSize);
}

TEST(FrameTest, HeaderRoundTrip) {
  const FrameHeader cases[] = {
      {0, 1, FrameKind::kRequest, 0, 1},
      {12345, 44, FrameKind::kOneway, 0, 0},
      {1u << 20, kMaxMethod, FrameKind::kReply, kFlagError | kFlagHasFd, 0xfedcba9876543210ull},
  };
  for (const FrameHeader& in : cases) {
    uint8_t buf[kFrameHeaderSize];
    EncodeHeader(in, buf);
    FrameHeader out;
    ASSERT_TRUE(DecodeHeader(buf, 1u << 30, &out).ok());
    EXPECT_EQ(out.payload_len, in.payload_len);
    EXPECT_EQ(out.method, in.method);
    EXPECT_EQ(out.kind, in.kind);
    EXPECT_EQ(out.flags, in.flags);
    EXPECT_EQ(out.request_id, in.request_id);
  }
}

TEST(FrameTest, HeaderIsLittleEndian) {
  FrameHeader h;
  h.payload_len = 0x04030201;
  h.method = 0x0201;
  h.kind = FrameKind::kReply;
  h.flags = kFlagError;
  h.request_id = 0x0807060504030201ull;
  uint8_t b[kFrameHeaderSize];
  EncodeHeader(h, b);
  const uint8_t want[kFrameHeaderSize] = {1, 2, 3, 4, 1, 2, 2, 1, 1, 2, 3, 4, 5, 6, 7, 8};
  for (size_t i = 0; i < kFrameHeaderSize; i++) EXPECT_EQ(b[i], want[i]) << "byte " << i;
}

std::vector<std::string> Payloads() {
  return {"", "x", std::string(1000, 'a'), std::string(70000, '\x7f'), "tail"};
}

std::string Stream() {
  std::string all;
  uint64_t id = 1;
  for (const auto& p : Payloads()) {
    all += Frame_(static_cast<uint16_t>(40 + id), FrameKind::kRequest, id, p);
    id++;
  }
  return all;
}

void ExpectFrames(FrameDecoder* d) {
  uint64_t id = 1;
  for (const auto& p : Payloads()) {
    ASSERT_TRUE(d->HasFrame()) << "frame " << id;
    Frame f = d->Next();
    EXPECT_EQ(f.header.request_id, id);
    EXPECT_EQ(f.header.method, 40 + id);
    EXPECT_EQ(f.payload, p);
    id++;
  }
  EXPECT_FALSE(d->HasFrame());
}

TEST(FrameTest, DecoderByteByByte) {
  std::string all = Stream();
  FrameDecoder d(1 << 20);
  EXPECT_EQ(d.Wanted(), kFrameHeaderSize);
  for (char c : all) ASSERT_TRUE(d.Feed(&c, 1).ok());
  ExpectFrames(&d);
  EXPECT_EQ(d.Wanted(), kFrameHeaderSize);
}

TEST(FrameTest, DecoderOneBigChunk) {
  std::string all = Stream();
  FrameDecoder d(1 << 20);
  ASSERT_TRUE(d.Feed(all.data(), all.size()).ok());
  ExpectFrames(&d);
}

TEST(FrameTest, DecoderOddChunks) {
  std::string all = Stream();
  FrameDecoder d(1 << 20);
  size_t off = 0, step = 1;
  while (off < all.size()) {
    size_t n = std::min(step, all.size() - off);
    ASSERT_TRUE(d.Feed(all.data() + off, n).ok());
    off += n;
    step = step * 3 + 7;  // crosses header/payload boundaries at varied places
  }
  ExpectFrames(&d);
}

TEST(FrameTest, WantedTracksPartialFrame) {
  std::string f = Frame_(3, FrameKind::kOneway, 0, std::string(100, 'z'));
  FrameDecoder d(1 << 20);
  ASSERT_TRUE(d.Feed(f.data(), 10).ok());
  EXPECT_EQ(d.Wanted(), kFrameHeaderSize - 10);
  ASSERT_TRUE(d.Feed(f.data() + 10, 6 + 30).ok());
  EXPECT_EQ(d.Wanted(), 70u);
  ASSERT_TRUE(d.Feed(f.data() + 46, f.size() - 46).ok());
  ASSERT_TRUE(d.HasFrame());
  EXPECT_EQ(d.Next().payload, std::string(100, 'z'));
}

struct Malformed {
  const char* name;
  std::string header;
};

TEST(FrameTest, MalformedHeadersFailAndStayFailed) {
  const Malformed cases[] = {
      {"kind 0", RawHeader(0, 1, 0, 0)},
      {"kind 4", RawHeader(0, 1, 4, 0)},
      {"unknown flag", RawHeader(0, 1, 1, 4)},
      {"method 0", RawHeader(0, 0, 1, 0)},
      {"method beyond max", RawHeader(0, kMaxMethod + 1, 1, 0)},
      {"payload over limit", RawHeader(1025, 1, 1, 0)},
  };
  const std::string good = Frame_(1, FrameKind::kRequest, 1, "ok");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    FrameHeader h;
    EXPECT_EQ(DecodeHeader(reinterpret_cast<const uint8_t*>(c.header.data()), 1024, &h).code(),
              StatusCode::kInvalid);
    FrameDecoder d(1024);
    // A good frame first, then the bad header: the good one is still delivered.
    std::string bytes = good + c.header;
    Status st = d.Feed(bytes.data(), bytes.size());
    EXPECT_EQ(st.code(), StatusCode::kInvalid);
    ASSERT_TRUE(d.HasFrame());
    EXPECT_EQ(d.Next().payload, "ok");
    // Once failed, valid input is refused too.
    EXPECT_EQ(d.Feed(good.data(), good.size()).code(), StatusCode::kInvalid);
    EXPECT_FALSE(d.HasFrame());
  }
}

TEST(FrameTest, PayloadAtTheLimitIsAccepted) {
  std::string f = Frame_(2, FrameKind::kReply, 5, std::string(1024, 'q'), kFlagError);
  FrameDecoder d(1024);
  ASSERT_TRUE(d.Feed(f.data(), f.size()).ok());
  ASSERT_TRUE(d.HasFrame());
  Frame got = d.Next();
  EXPECT_EQ(got.header.flags, kFlagError);
  EXPECT_EQ(got.payload.size(), 1024u);
}

}  // namespace
}  // namespace lumos::rpc
