// RFC 6544 framing: frames survive every way of splitting the stream, zero-length frames are
// skipped, oversized lengths fail the stream, and the encoder round-trips.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "lib/rtc/ice_tcp_framing.hpp"

using namespace collab::rtc;
using Bytes = std::vector<uint8_t>;

namespace {

Bytes Payload(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 7);
  return b;
}

Bytes Encode(const std::vector<Bytes>& frames) {
  Bytes out;
  for (const Bytes& f : frames) REQUIRE(AppendIceTcpFrame(f, &out).ok());
  return out;
}

// Feeds `stream` cut at the given offsets; returns the frames and whether every Feed succeeded.
std::vector<Bytes> FeedSplit(IceTcpFrameDecoder& d, const Bytes& stream, const std::vector<size_t>& cuts, bool* ok) {
  std::vector<Bytes> frames;
  *ok = true;
  size_t prev = 0;
  std::vector<size_t> all = cuts;
  all.push_back(stream.size());
  for (size_t cut : all) {
    std::span<const uint8_t> chunk(stream.data() + prev, cut - prev);
    auto st = d.Feed(chunk, [&](std::span<const uint8_t> f) { frames.emplace_back(f.begin(), f.end()); });
    if (!st.ok()) *ok = false;
    prev = cut;
  }
  return frames;
}

}  // namespace

TEST_CASE("ice-tcp: frames survive a split at every offset", "[ice-tcp]") {
  std::vector<Bytes> frames = {Payload(1, 1), Payload(20, 2),  Payload(0, 0),
                               Payload(3, 3), Payload(300, 4), Payload(2, 5)};
  std::vector<Bytes> want;
  for (const Bytes& f : frames) {
    if (!f.empty()) want.push_back(f);
  }
  Bytes stream = Encode(frames);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    IceTcpFrameDecoder d;
    bool ok;
    INFO("cut at " << cut);
    CHECK(FeedSplit(d, stream, {cut}, &ok) == want);
    CHECK(ok);
    CHECK(d.buffered() == 0);
  }
}

TEST_CASE("ice-tcp: frames survive every pair of split points and byte-at-a-time reads", "[ice-tcp]") {
  std::vector<Bytes> frames = {Payload(5, 9), Payload(0, 0), Payload(1, 8), Payload(17, 7)};
  std::vector<Bytes> want = {frames[0], frames[2], frames[3]};
  Bytes stream = Encode(frames);
  for (size_t a = 0; a <= stream.size(); ++a) {
    for (size_t b = a; b <= stream.size(); ++b) {
      IceTcpFrameDecoder d;
      bool ok;
      INFO("cuts at " << a << " and " << b);
      CHECK(FeedSplit(d, stream, {a, b}, &ok) == want);
      CHECK(ok);
    }
  }
  std::vector<size_t> every;
  for (size_t i = 1; i < stream.size(); ++i) every.push_back(i);
  IceTcpFrameDecoder d;
  bool ok;
  CHECK(FeedSplit(d, stream, every, &ok) == want);
  CHECK(ok);
}

TEST_CASE("ice-tcp: partial frames are buffered and reported", "[ice-tcp]") {
  IceTcpFrameDecoder d;
  Bytes stream = Encode({Payload(10, 1)});
  int n = 0;
  auto count = [&](std::span<const uint8_t>) { ++n; };
  REQUIRE(d.Feed(std::span<const uint8_t>(stream).first(1), count).ok());
  CHECK(d.buffered() == 1);
  REQUIRE(d.Feed(std::span<const uint8_t>(stream).subspan(1, 5), count).ok());
  CHECK(d.buffered() == 4);  // the payload so far; the complete length prefix is not kept
  CHECK(n == 0);
  REQUIRE(d.Feed(std::span<const uint8_t>(stream).subspan(6), count).ok());
  CHECK(n == 1);
  CHECK(d.buffered() == 0);
  REQUIRE(d.Feed({}, count).ok());
  CHECK(n == 1);
}

TEST_CASE("ice-tcp: whole frames inside one read are passed without copying", "[ice-tcp]") {
  IceTcpFrameDecoder d;
  Bytes stream = Encode({Payload(4, 1), Payload(8, 2)});
  std::vector<const uint8_t*> starts;
  REQUIRE(d.Feed(stream, [&](std::span<const uint8_t> f) { starts.push_back(f.data()); }).ok());
  REQUIRE(starts.size() == 2);
  CHECK(starts[0] == stream.data() + 2);
  CHECK(starts[1] == stream.data() + 8);
}

TEST_CASE("ice-tcp: a frame over the limit fails the stream", "[ice-tcp]") {
  IceTcpFrameDecoder d(100);
  CHECK(d.max_frame_size() == 100);
  Bytes stream = Encode({Payload(100, 1), Payload(101, 2), Payload(5, 3)});
  std::vector<Bytes> got;
  auto st = d.Feed(stream, [&](std::span<const uint8_t> f) { got.emplace_back(f.begin(), f.end()); });
  CHECK_FALSE(st.ok());
  CHECK(st.error().code == collab::base::kExitDataErr);
  CHECK(st.error().message.find("101") != std::string::npos);
  CHECK(got.size() == 1);  // the frame before the bad one was delivered
  CHECK(d.failed());
  // Stays failed.
  CHECK_FALSE(d.Feed(Encode({Payload(1, 1)}), [&](std::span<const uint8_t>) { FAIL("no frames after failure"); }).ok());

  // Also when the oversized length arrives split across reads.
  for (size_t cut = 0; cut <= 2; ++cut) {
    IceTcpFrameDecoder d2(100);
    bool ok;
    Bytes bad = {0x00, 0x65, 1, 2, 3};
    FeedSplit(d2, bad, {cut}, &ok);
    CHECK_FALSE(ok);
    CHECK(d2.failed());
  }
  // The maximum the field allows is accepted by a decoder configured for it; larger limits clamp.
  IceTcpFrameDecoder big(1 << 20);
  CHECK(big.max_frame_size() == kIceTcpMaxFrameField);
  Bytes max_stream = Encode({Payload(kIceTcpMaxFrameField, 1)});
  int n = 0;
  REQUIRE(big.Feed(max_stream, [&](std::span<const uint8_t> f) { n += f.size() == kIceTcpMaxFrameField; }).ok());
  CHECK(n == 1);
  // The default limit refuses a 64 KiB frame.
  IceTcpFrameDecoder def;
  CHECK_FALSE(def.Feed(max_stream, [](std::span<const uint8_t>) {}).ok());
  CHECK(kIceTcpDefaultMaxFrame < kIceTcpMaxFrameField);
}

TEST_CASE("ice-tcp: returning false from the callback stops, even if it destroyed the decoder", "[ice-tcp]") {
  Bytes stream = Encode({Payload(3, 1), Payload(3, 2), Payload(3, 3)});
  auto d = std::make_unique<IceTcpFrameDecoder>();
  int n = 0;
  auto st = d->Feed(stream, [&](std::span<const uint8_t>) {
    ++n;
    d.reset();  // the connection closes from inside the callback
    return false;
  });
  CHECK(st.ok());
  CHECK(n == 1);
  CHECK(d == nullptr);

  // Same for a frame completed from the internal buffer.
  auto d2 = std::make_unique<IceTcpFrameDecoder>();
  n = 0;
  auto cb = [&](std::span<const uint8_t>) {
    ++n;
    d2.reset();
    return false;
  };
  REQUIRE(d2->Feed(std::span<const uint8_t>(stream).first(3), cb).ok());
  CHECK(n == 0);
  CHECK(d2->Feed(std::span<const uint8_t>(stream).subspan(3), cb).ok());
  CHECK(n == 1);
  CHECK(d2 == nullptr);

  // Returning true keeps going.
  IceTcpFrameDecoder d3;
  n = 0;
  REQUIRE(d3.Feed(stream, [&](std::span<const uint8_t>) { return ++n > 0; }).ok());
  CHECK(n == 3);
}

TEST_CASE("ice-tcp: encoder limits and header bytes", "[ice-tcp]") {
  using H = std::array<uint8_t, 2>;
  REQUIRE(IceTcpFrameHeader(0).has_value());
  CHECK(*IceTcpFrameHeader(0) == H{0, 0});
  CHECK(*IceTcpFrameHeader(0x1234) == H{0x12, 0x34});
  CHECK(*IceTcpFrameHeader(65535) == H{0xFF, 0xFF});
  CHECK_FALSE(IceTcpFrameHeader(65536).has_value());
  Bytes out = {9};
  REQUIRE(AppendIceTcpFrame(Payload(3, 1), &out).ok());
  CHECK(out == Bytes{9, 0, 3, 1, 8, 15});
  Bytes big(65536);
  Bytes out2;
  CHECK_FALSE(AppendIceTcpFrame(big, &out2).ok());
  CHECK(out2.empty());
}
