#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "lib/stream/h264_depacketizer.hpp"
#include "lib/stream/ingest_tags.hpp"

using namespace collab::stream;

namespace {

using Bytes = std::vector<uint8_t>;

const Bytes kSps{0x67, 0x42, 0xe0, 0x1f, 0x8c, 0x8d, 0x40, 0x50};
const Bytes kPps{0x68, 0xce, 0x3c, 0x80};

Bytes Idr(size_t n) {
  Bytes b{0x65};
  for (size_t i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(i * 7 + 1));
  return b;
}
Bytes Slice(size_t n) {
  Bytes b{0x41};
  for (size_t i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(i * 3 + 2));
  return b;
}

Bytes StapA(const std::vector<Bytes>& nals) {
  Bytes b{0x78};  // NRI 3, type 24
  for (const auto& n : nals) {
    b.push_back(static_cast<uint8_t>(n.size() >> 8));
    b.push_back(static_cast<uint8_t>(n.size()));
    b.insert(b.end(), n.begin(), n.end());
  }
  return b;
}

// Splits one NAL unit into FU-A payloads of at most `chunk` bytes each.
std::vector<Bytes> FuA(const Bytes& nal, size_t chunk) {
  std::vector<Bytes> out;
  uint8_t indicator = static_cast<uint8_t>((nal[0] & 0xE0) | 28);
  for (size_t pos = 1; pos < nal.size(); pos += chunk) {
    size_t n = std::min(chunk, nal.size() - pos);
    uint8_t header = nal[0] & 0x1F;
    if (pos == 1) header |= 0x80;
    if (pos + n == nal.size()) header |= 0x40;
    Bytes p{indicator, header};
    p.insert(p.end(), nal.begin() + static_cast<long>(pos), nal.begin() + static_cast<long>(pos + n));
    out.push_back(p);
  }
  return out;
}

std::string Str(const Bytes& b) { return std::string(b.begin(), b.end()); }

struct Packet {
  uint16_t seq;
  uint32_t ts;
  bool marker;
  Bytes payload;
};

// A keyframe (STAP-A with SPS/PPS, then the IDR in FU-A pieces) followed by `deltas` one-packet
// P frames, 3000 ticks (33 ms) apart.
std::vector<Packet> Stream(uint16_t first_seq, uint32_t first_ts, int deltas) {
  std::vector<Packet> p;
  uint16_t seq = first_seq;
  p.push_back({seq++, first_ts, false, StapA({kSps, kPps})});
  auto frags = FuA(Idr(3000), 1000);
  for (size_t i = 0; i < frags.size(); ++i) p.push_back({seq++, first_ts, i + 1 == frags.size(), frags[i]});
  for (int i = 1; i <= deltas; ++i) p.push_back({seq++, first_ts + 3000u * static_cast<uint32_t>(i), true, Slice(200)});
  return p;
}

std::vector<H264AccessUnit> Feed(H264Depacketizer& d, const std::vector<Packet>& ps) {
  std::vector<H264AccessUnit> out;
  for (const auto& p : ps) d.Push(p.seq, p.ts, p.marker, p.payload, out);
  return out;
}

}  // namespace

TEST_CASE("h264 depacketizer: STAP-A and FU-A make a keyframe, single NAL packets the rest") {
  H264Depacketizer d;
  CHECK(d.needs_keyframe());
  auto units = Feed(d, Stream(100, 90000, 3));
  REQUIRE(units.size() == 4);
  CHECK(units[0].idr);
  CHECK(units[0].rtp_timestamp == 90000);
  REQUIRE(units[0].nals.size() == 3);
  CHECK(units[0].nals[0] == Str(kSps));
  CHECK(units[0].nals[1] == Str(kPps));
  CHECK(units[0].nals[2] == Str(Idr(3000)));
  CHECK_FALSE(units[1].idr);
  CHECK(units[3].rtp_timestamp == 99000);
  CHECK_FALSE(d.needs_keyframe());
  CHECK(d.stats().lost == 0);
  CHECK(d.stats().units == 4);

  // The Annex B form converts to an FLV sequence header and a keyframe tag.
  IngestTagWriter w;
  std::vector<IngestTag> tags;
  w.VideoAnnexB(units[0].AnnexB(), 0, 0, units[0].idr, tags);
  w.VideoAnnexB(units[1].AnnexB(), 33, 0, units[1].idr, tags);
  REQUIRE(tags.size() == 3);
  CHECK(tags[0].body.substr(0, 2) == std::string("\x17\x00", 2));
  CHECK(tags[1].body.substr(0, 2) == std::string("\x17\x01", 2));
  CHECK(tags[2].body.substr(0, 2) == std::string("\x27\x01", 2));
}

TEST_CASE("h264 depacketizer: a unit ends at a timestamp change even without a marker") {
  H264Depacketizer d;
  auto ps = Stream(1, 0, 2);
  ps.back().marker = false;
  ps[ps.size() - 2].marker = false;
  auto units = Feed(d, ps);
  // The last P frame stays open until something with a later timestamp comes.
  REQUIRE(units.size() == 2);
  std::vector<H264AccessUnit> more;
  d.Push(static_cast<uint16_t>(ps.back().seq + 1), ps.back().ts + 3000, true, Slice(10), more);
  CHECK(more.size() == 2);
}

TEST_CASE("h264 depacketizer: reordering inside the window is repaired") {
  H264Depacketizer d(8);
  auto ps = Stream(65530, 4294960000u, 6);  // sequence numbers and timestamps wrap
  std::swap(ps[1], ps[3]);
  std::swap(ps[6], ps[7]);
  auto units = Feed(d, ps);
  REQUIRE(units.size() == 7);
  CHECK(units[0].idr);
  CHECK(units[0].nals[2] == Str(Idr(3000)));
  CHECK(d.stats().lost == 0);
  CHECK(d.stats().late_or_duplicate == 0);
}

TEST_CASE("h264 depacketizer: duplicates and late packets are dropped") {
  H264Depacketizer d;
  auto ps = Stream(10, 0, 3);
  auto dup = ps;
  dup.insert(dup.begin() + 2, ps[1]);
  dup.push_back(ps[0]);
  auto units = Feed(d, dup);
  CHECK(units.size() == 4);
  CHECK(d.stats().late_or_duplicate == 2);
}

TEST_CASE("h264 depacketizer: loss drops units until the next keyframe") {
  H264Depacketizer d(4);
  auto first = Stream(0, 0, 5);
  // Lose a middle piece of the P frames: packet index 6 is the second P frame.
  first.erase(first.begin() + 6);
  auto second = Stream(static_cast<uint16_t>(first.back().seq + 1), 90000, 2);
  auto units = Feed(d, first);
  // The keyframe and two P frames pass; the next two wait for the missing packet.
  CHECK(units.size() == 3);
  CHECK(d.stats().lost == 0);
  // Once the window overflows the packet counts as lost: the P frames after the gap are
  // dropped and the next keyframe starts the stream again.
  auto after = Feed(d, second);
  CHECK(d.stats().lost == 1);
  CHECK(d.stats().dropped_units == 2);
  REQUIRE(after.size() == 3);
  CHECK(after[0].idr);
  CHECK(after[0].rtp_timestamp == 90000);
  CHECK_FALSE(d.needs_keyframe());
}

TEST_CASE("h264 depacketizer: a lost FU-A piece drops the whole unit") {
  H264Depacketizer d(2);
  auto ps = Stream(500, 0, 0);
  ps.erase(ps.begin() + 2);  // the second fragment of the IDR
  auto next = Stream(static_cast<uint16_t>(ps.back().seq + 1), 3000, 1);
  auto units = Feed(d, ps);
  units = Feed(d, next);
  // The broken keyframe never appears; the next complete one does.
  REQUIRE(units.size() == 2);
  CHECK(units[0].rtp_timestamp == 3000);
  CHECK(units[0].idr);
  CHECK(d.stats().dropped_units >= 1);
}

TEST_CASE("h264 depacketizer: before the first keyframe nothing is released") {
  H264Depacketizer d;
  std::vector<H264AccessUnit> out;
  for (uint16_t i = 0; i < 5; ++i) d.Push(i, i * 3000u, true, Slice(50), out);
  CHECK(out.empty());
  CHECK(d.needs_keyframe());
  CHECK(d.stats().dropped_units == 5);
}

TEST_CASE("h264 depacketizer: garbage and unsupported packet types are counted, not crashed on") {
  H264Depacketizer d;
  std::vector<H264AccessUnit> out;
  const std::vector<Bytes> bad{
      {0x78},                          // STAP-A with nothing in it
      {0x78, 0x00, 0x09, 0x65},        // STAP-A size past the end
      {0x78, 0x00, 0x00},              // STAP-A with a zero size
      {0x7c},                          // FU-A without its header
      {0x7c, 0xc5, 0x01},              // FU-A with start and end at once
      {0x7c, 0x45, 0x01},              // FU-A end without a start
      {0x79, 0x00, 0x01},              // STAP-B (interleaved mode)
      {0x7a, 0x00},                    // MTAP16
      {0x00, 0x01},                    // type 0
      {0x9f},                          // forbidden bit set
  };
  uint16_t seq = 0;
  uint32_t ts = 0;
  for (const auto& b : bad) d.Push(seq++, ts += 3000, true, b, out);
  CHECK(out.empty());
  CHECK(d.stats().malformed >= 8);
  // An empty payload (a padding-only probe) keeps the sequence and is ignored.
  d.Push(seq++, ts, false, {}, out);
  // And a good keyframe still gets through afterwards.
  auto units = Feed(d, Stream(seq, ts + 3000, 1));
  REQUIRE(units.size() == 2);
  CHECK(units[0].idr);
}

TEST_CASE("h264 depacketizer: a far jump restarts instead of waiting") {
  H264Depacketizer d(4);
  auto a = Feed(d, Stream(0, 0, 1));
  CHECK(a.size() == 2);
  auto b = Feed(d, Stream(30000, 900000, 1));
  REQUIRE(b.size() == 2);
  CHECK(b[0].idr);
}
