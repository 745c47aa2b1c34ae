// RTCP reader, typed parsers and writers: packets written out by hand from the RFC 3550 / 4585 /
// 5104 diagrams, the REMB and transport-cc drafts, a Chromium-style compound RR+REMB; every
// truncation, bad lengths and versions; a write -> parse round trip for every writer.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "lib/base/fs.hpp"

#include "lib/rtc/rtcp.hpp"

using namespace collab::rtc;

namespace {

using Bytes = std::vector<uint8_t>;

// What Chromium sends as a receive-only peer with goog-remb: a compound RR + REMB.
const Bytes kRrRemb = {
    0x81, 0xc9, 0x00, 0x07,  // V=2 P=0 RC=1 | PT=201 RR | length 7 (32 bytes)
    0x00, 0x00, 0x00, 0x01,  // SSRC of packet sender
    0x2a, 0x3b, 0x4c, 0x5d,  // report block: SSRC of the source
    0x05,                    //   fraction lost 5/256
    0x00, 0x00, 0x0c,        //   cumulative lost 12
    0x00, 0x01, 0x13, 0x88,  //   extended highest sequence: 1 cycle, seq 5000
    0x00, 0x00, 0x00, 0x24,  //   interarrival jitter 36
    0xa1, 0xb2, 0xc3, 0xd4,  //   last SR (middle 32 bits of its NTP time)
    0x00, 0x00, 0x40, 0x00,  //   delay since last SR: 16384/65536 s
    0x8f, 0xce, 0x00, 0x05,  // V=2 P=0 FMT=15 | PT=206 PSFB | length 5 (24 bytes)
    0x00, 0x00, 0x00, 0x01,  // SSRC of packet sender
    0x00, 0x00, 0x00, 0x00,  // media source SSRC (unused by REMB)
    0x52, 0x45, 0x4d, 0x42,  // "REMB"
    0x01,                    // number of SSRCs
    0x0e, 0xf5, 0xe1,        // BR exp 3, mantissa 0x2f5e1 (194017): 1552136 bps
    0x2a, 0x3b, 0x4c, 0x5d,  // SSRC feedback
};

// A sender's compound SR + SDES CNAME.
const Bytes kSrSdes = {
    0x80, 0xc8, 0x00, 0x06,  // V=2 P=0 RC=0 | PT=200 SR | length 6 (28 bytes)
    0x12, 0x34, 0x56, 0x78,  // SSRC of sender
    0xe8, 0xd4, 0xa5, 0x10,  // NTP timestamp, seconds
    0x80, 0x00, 0x00, 0x00,  // NTP timestamp, fraction (0.5 s)
    0x00, 0x0f, 0x42, 0x40,  // RTP timestamp 1000000
    0x00, 0x00, 0x01, 0x2c,  // sender's packet count 300
    0x00, 0x04, 0x93, 0xe0,  // sender's octet count 300000
    0x81, 0xca, 0x00, 0x06,  // V=2 P=0 SC=1 | PT=202 SDES | length 6 (28 bytes)
    0x12, 0x34, 0x56, 0x78,  // chunk SSRC
    0x01, 0x10,              // CNAME, 16 bytes
    'k', '3', 'J', 'f', '8', 'v', 'Q', 'p', 'L', '2', 'm', 'Z', 'x', '7', 'Y', 'c',
    0x00, 0x00,  // end of items, then null padding to 32 bits
};

const Bytes kBye = {
    0x81, 0xcb, 0x00, 0x03,  // V=2 P=0 SC=1 | PT=203 BYE | length 3 (16 bytes)
    0x12, 0x34, 0x56, 0x78,  // SSRC
    0x04, 'g', 'o', 'n',     // reason: length 4, "gone"
    'e', 0x00, 0x00, 0x00,   //   padded to 32 bits
};

const Bytes kNack = {
    0x81, 0xcd, 0x00, 0x03,  // V=2 P=0 FMT=1 | PT=205 RTPFB | length 3 (16 bytes)
    0x00, 0x00, 0x00, 0x01,  // sender SSRC
    0x2a, 0x3b, 0x4c, 0x5d,  // media SSRC
    0x03, 0xe8, 0x00, 0x05,  // PID 1000, BLP 0b101: 1001 and 1003 lost too
};

const Bytes kPli = {
    0x81, 0xce, 0x00, 0x02,  // V=2 P=0 FMT=1 | PT=206 PSFB | length 2 (12 bytes)
    0x00, 0x00, 0x00, 0x01,  // sender SSRC
    0x2a, 0x3b, 0x4c, 0x5d,  // media SSRC
};

const Bytes kFir = {
    0x84, 0xce, 0x00, 0x04,  // V=2 P=0 FMT=4 | PT=206 PSFB | length 4 (20 bytes)
    0x00, 0x00, 0x00, 0x01,  // sender SSRC
    0x00, 0x00, 0x00, 0x00,  // media SSRC: always 0 for FIR (RFC 5104 4.3.1.2)
    0x2a, 0x3b, 0x4c, 0x5d,  // FCI: SSRC
    0x07, 0x00, 0x00, 0x00,  //   command sequence number 7, reserved
};

// Transport-wide CC feedback using all three chunk kinds and a large delta.
const Bytes kTwcc = {
    0x8f, 0xcd, 0x00, 0x0e,  // V=2 P=0 FMT=15 | PT=205 RTPFB | length 14 (60 bytes)
    0x00, 0x00, 0x00, 0x01,  // sender SSRC
    0x2a, 0x3b, 0x4c, 0x5d,  // media SSRC
    0x00, 0x64,              // base sequence number 100
    0x00, 0x29,              // packet status count 41
    0x00, 0x12, 0x34,        // reference time 0x1234 x 64 ms
    0x07,                    // feedback packet count 7
    0xd5, 0x25,  // 2-bit vector, seq 100-106: small small small lost large small small
    0x20, 0x14,  // run length: small x 20, seq 107-126
    0x8d, 0x01,  // 1-bit vector, seq 127-140: 0 0 1 1 0 1 0 0 0 0 0 0 0 1
    // receive deltas, 250 us ticks
    0x04, 0x04, 0x08,  // seq 100, 101, 102
    0x03, 0xe8,        // seq 104: large, +1000 ticks (250 ms)
    0x02, 0x03,        // seq 105, 106
    0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04,  // seq 107-116
    0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04,  // seq 117-126
    0x05, 0x00, 0xff, 0x01,  // seq 129, 130, 132, 140
    0x00, 0x00, 0x00,        // padding to 32 bits
};

std::vector<RtcpBlock> ReadAll(std::span<const uint8_t> bytes, const char** error = nullptr) {
  std::vector<RtcpBlock> out;
  RtcpReader r(bytes);
  RtcpBlock b;
  while (r.Next(&b)) out.push_back(b);
  if (error) *error = r.error();
  return out;
}

RtcpBlock OnlyBlock(const Bytes& bytes) {
  auto blocks = ReadAll(bytes);
  REQUIRE(blocks.size() == 1);
  return blocks[0];
}

// Feeds the parser every shorter body (heap copies of exactly that size, so ASan sees over-reads):
// shorter than `meaningful` must fail (except the lengths in `complete_shorter`, where the packet
// is complete without the optional tail), longer ones only lose padding and parse the same.
template <typename T>
void CheckBodyTruncations(const Bytes& packet, size_t meaningful,
                          const std::function<collab::base::Result<T>(const RtcpBlock&)>& parse,
                          std::vector<size_t> complete_shorter = {}) {
  RtcpBlock full = OnlyBlock(packet);
  auto want = parse(full);
  REQUIRE(want.ok());
  for (size_t n = 0; n < full.body.size(); ++n) {
    INFO("body bytes " << n);
    Bytes body(full.body.begin(), full.body.begin() + static_cast<std::ptrdiff_t>(n));
    RtcpBlock b = full;
    b.body = body;
    auto got = parse(b);
    if (std::find(complete_shorter.begin(), complete_shorter.end(), n) != complete_shorter.end()) {
      CHECK(got.ok());
    } else if (n < meaningful) {
      CHECK_FALSE(got.ok());
    } else {
      REQUIRE(got.ok());
      CHECK(*got == *want);
    }
  }
}

template <typename T>
Bytes Written(collab::base::Status (*write)(const T&, std::vector<uint8_t>*), const T& value) {
  Bytes out;
  auto s = write(value, &out);
  REQUIRE(s.ok());
  return out;
}

std::vector<TwccArrival> ExampleArrivals() {
  // The arrivals kTwcc describes: reference 0x1234 * 64 ms, then the running sum of its deltas.
  const int64_t ref = 0x1234 * 64000;
  std::vector<TwccArrival> a = {{100, ref + 1000}, {101, ref + 2000}, {102, ref + 4000},
                                {104, ref + 254000}, {105, ref + 254500}, {106, ref + 255250}};
  int64_t t = ref + 255250;
  for (uint16_t s = 107; s <= 126; ++s) a.push_back({s, t += 1000});
  a.push_back({129, t += 1250});
  a.push_back({130, t});
  a.push_back({132, t += 63750});
  a.push_back({140, t += 250});
  return a;
}

}  // namespace

TEST_CASE("rtcp: Chromium-style compound RR + REMB", "[rtcp]") {
  auto blocks = ReadAll(kRrRemb);
  REQUIRE(blocks.size() == 2);
  CHECK(blocks[0].type == kRtcpRr);
  CHECK(blocks[0].count == 1);
  CHECK(blocks[0].packet.size() == 32);
  CHECK(blocks[0].body.size() == 28);
  CHECK(blocks[1].type == kRtcpPsfb);
  CHECK(blocks[1].count == kPsfbAfb);
  CHECK(ValidateRtcpCompound(kRrRemb).ok());

  auto rr = ParseRr(blocks[0]);
  REQUIRE(rr.ok());
  CHECK(rr->ssrc == 1);
  REQUIRE(rr->reports.size() == 1);
  const ReportBlock& rb = rr->reports[0];
  CHECK(rb.ssrc == 0x2a3b4c5d);
  CHECK(rb.fraction_lost == 5);
  CHECK(rb.cumulative_lost == 12);
  CHECK(rb.highest_sequence == 0x11388);
  CHECK(rb.jitter == 36);
  CHECK(rb.last_sr == 0xa1b2c3d4);
  CHECK(rb.delay_since_last_sr == 0x4000);

  REQUIRE(IsRemb(blocks[1]));
  CHECK_FALSE(IsRemb(blocks[0]));
  auto remb = ParseRemb(blocks[1]);
  REQUIRE(remb.ok());
  CHECK(remb->sender_ssrc == 1);
  CHECK(remb->bitrate_bps == 1552136);
  CHECK(remb->ssrcs == std::vector<uint32_t>{0x2a3b4c5d});

  // The writers produce the same bytes, packed into one compound.
  Bytes out;
  REQUIRE(WriteRr(*rr, &out).ok());
  REQUIRE(WriteRemb(*remb, &out).ok());
  CHECK(out == kRrRemb);
}

TEST_CASE("rtcp: compound SR + SDES CNAME", "[rtcp]") {
  auto blocks = ReadAll(kSrSdes);
  REQUIRE(blocks.size() == 2);
  auto sr = ParseSr(blocks[0]);
  REQUIRE(sr.ok());
  CHECK(sr->ssrc == 0x12345678);
  CHECK(sr->ntp_timestamp == 0xe8d4a51080000000ULL);
  CHECK(sr->rtp_timestamp == 1000000);
  CHECK(sr->packet_count == 300);
  CHECK(sr->octet_count == 300000);
  CHECK(sr->reports.empty());
  auto sdes = ParseSdes(blocks[1]);
  REQUIRE(sdes.ok());
  REQUIRE(sdes->chunks.size() == 1);
  CHECK(sdes->chunks[0].ssrc == 0x12345678);
  CHECK(sdes->Cname(0x12345678) == std::string_view("k3Jf8vQpL2mZx7Yc"));
  CHECK_FALSE(sdes->Cname(1));

  Bytes out;
  REQUIRE(WriteSr(*sr, &out).ok());
  REQUIRE(WriteSdesCname(0x12345678, "k3Jf8vQpL2mZx7Yc", &out).ok());
  CHECK(out == kSrSdes);
}

TEST_CASE("rtcp: BYE, NACK, PLI, FIR known vectors", "[rtcp]") {
  auto bye = ParseBye(OnlyBlock(kBye));
  REQUIRE(bye.ok());
  CHECK(bye->ssrcs == std::vector<uint32_t>{0x12345678});
  CHECK(bye->reason == "gone");
  CHECK(Written(WriteBye, *bye) == kBye);

  auto nack = ParseNack(OnlyBlock(kNack));
  REQUIRE(nack.ok());
  CHECK(nack->sender_ssrc == 1);
  CHECK(nack->media_ssrc == 0x2a3b4c5d);
  CHECK(nack->lost == std::vector<uint16_t>{1000, 1001, 1003});
  CHECK(Written(WriteNack, *nack) == kNack);

  auto pli = ParsePli(OnlyBlock(kPli));
  REQUIRE(pli.ok());
  CHECK(*pli == Pli{1, 0x2a3b4c5d});
  CHECK(Written(WritePli, *pli) == kPli);

  auto fir = ParseFir(OnlyBlock(kFir));
  REQUIRE(fir.ok());
  CHECK(fir->sender_ssrc == 1);
  CHECK(fir->entries == std::vector<FirEntry>{{0x2a3b4c5d, 7}});
  CHECK(Written(WriteFir, *fir) == kFir);
}

TEST_CASE("rtcp: transport-cc feedback with mixed chunks and a large delta", "[rtcp][twcc]") {
  auto fb = ParseTransportCc(OnlyBlock(kTwcc));
  REQUIRE(fb.ok());
  CHECK(fb->sender_ssrc == 1);
  CHECK(fb->media_ssrc == 0x2a3b4c5d);
  CHECK(fb->base_seq == 100);
  CHECK(fb->reference_time == 0x1234);
  CHECK(fb->feedback_count == 7);
  REQUIRE(fb->packets.size() == 41);
  for (size_t i = 0; i < 41; ++i) CHECK(fb->packets[i].seq == 100 + i);
  CHECK(fb->packets[0] == TwccPacket{100, true, 4});
  CHECK(fb->packets[2] == TwccPacket{102, true, 8});
  CHECK(fb->packets[3] == TwccPacket{103, false, 0});
  CHECK(fb->packets[4] == TwccPacket{104, true, 1000});
  CHECK(fb->packets[6] == TwccPacket{106, true, 3});
  CHECK(fb->packets[26] == TwccPacket{126, true, 4});
  CHECK(fb->packets[27] == TwccPacket{127, false, 0});
  CHECK(fb->packets[29] == TwccPacket{129, true, 5});
  CHECK(fb->packets[30] == TwccPacket{130, true, 0});
  CHECK(fb->packets[32] == TwccPacket{132, true, 255});
  CHECK(fb->packets[39] == TwccPacket{139, false, 0});
  CHECK(fb->packets[40] == TwccPacket{140, true, 1});
  size_t received = 0;
  for (const TwccPacket& p : fb->packets) received += p.received;
  CHECK(received == 30);

  CHECK(TwccArrivals(*fb) == ExampleArrivals());

  // The writer picks the same chunks, so the bytes are identical.
  CHECK(Written(WriteTransportCc, *fb) == kTwcc);

  // And building from the arrivals gives the same feedback.
  auto built = BuildTransportCcFeedback(1, 0x2a3b4c5d, 7, 100, ExampleArrivals());
  REQUIRE(built.ok());
  CHECK(*built == *fb);
}

TEST_CASE("rtcp: transport-cc chunk choice, wrap, negative and long deltas", "[rtcp][twcc]") {
  std::vector<TwccArrival> arrivals = {
      {65530, 1000},
      {65531, 500},    // arrived before its predecessor: a negative, hence large, delta
      {5, 10000},      // 65532..4 lost; sequence numbers wrap
  };
  int64_t t = 10000;
  for (uint16_t s = 6; s <= 40; ++s) arrivals.push_back({s, t += 250});
  arrivals.push_back({3000, t + 5000000});  // 5 s later: 20000 ticks, large
  std::vector<TwccArrival> shuffled(arrivals.rbegin(), arrivals.rend());  // order does not matter
  auto fb = BuildTransportCcFeedback(9, 10, 200, 65530, shuffled);
  REQUIRE(fb.ok());
  CHECK(fb->reference_time == 0);
  REQUIRE(fb->packets.size() == 3007);
  CHECK(fb->packets[1].delta_ticks == -2);
  CHECK(fb->packets[3006].delta_ticks == 20000);

  Bytes out = Written(WriteTransportCc, *fb);
  // Chunks start after the 4-byte header and 16 fixed bytes.
  auto chunk = [&](size_t i) { return static_cast<uint16_t>(out[20 + 2 * i] << 8 | out[21 + 2 * i]); };
  CHECK(chunk(0) == (0xc000 | 1 << 12 | 2 << 10));  // 2-bit vector: small, large, lost x5
  CHECK((chunk(1) & 0xc000) == 0x8000);             // 1-bit vector over offsets 7..20
  CHECK(chunk(1) == 0x83ff);                        // lost x4, then received x10
  CHECK(chunk(2) == (1 << 13 | 26));                // run: small x 26 (offsets 21..46)
  CHECK(chunk(3) == 2959);                          // run: lost x 2959
  CHECK(chunk(4) == (2 << 13 | 1));                 // run: large x 1
  CHECK(out.size() % 4 == 0);

  auto parsed = ParseTransportCc(OnlyBlock(out));
  REQUIRE(parsed.ok());
  CHECK(*parsed == *fb);
  CHECK(TwccArrivals(*parsed) == arrivals);

  SECTION("rounding to ticks does not drift") {
    std::vector<TwccArrival> odd;
    for (uint16_t s = 0; s < 200; ++s) odd.push_back({s, 123456789 + s * 333});
    auto f = BuildTransportCcFeedback(1, 2, 0, 0, odd);
    REQUIRE(f.ok());
    auto back = TwccArrivals(*f);
    REQUIRE(back.size() == odd.size());
    for (size_t i = 0; i < odd.size(); ++i) {
      CHECK(back[i].seq == odd[i].seq);
      CHECK(std::llabs(back[i].arrival_us - odd[i].arrival_us) <= 125);
    }
    auto p = ParseTransportCc(OnlyBlock(Written(WriteTransportCc, *f)));
    REQUIRE(p.ok());
    CHECK(*p == *f);
  }
  SECTION("one status, zero statuses") {
    auto one = BuildTransportCcFeedback(1, 2, 3, 77, std::vector<TwccArrival>{{77, 64000 * 5 + 250}});
    REQUIRE(one.ok());
    CHECK(one->reference_time == 5);
    CHECK(one->packets == std::vector<TwccPacket>{{77, true, 1}});
    auto p = ParseTransportCc(OnlyBlock(Written(WriteTransportCc, *one)));
    REQUIRE(p.ok());
    CHECK(*p == *one);
    TransportCcFeedback empty;
    empty.base_seq = 5;
    auto e = ParseTransportCc(OnlyBlock(Written(WriteTransportCc, empty)));
    REQUIRE(e.ok());
    CHECK(*e == empty);
  }
  SECTION("bad builder and writer input") {
    CHECK_FALSE(BuildTransportCcFeedback(1, 2, 0, 0, {}).ok());
    CHECK_FALSE(BuildTransportCcFeedback(1, 2, 0, 0, std::vector<TwccArrival>{{1, 0}, {1, 5}}).ok());
    CHECK_FALSE(BuildTransportCcFeedback(1, 2, 0, 0, std::vector<TwccArrival>{{0, 0}, {1, 8200000}}).ok());
    CHECK_FALSE(BuildTransportCcFeedback(1, 2, 0, 0, std::vector<TwccArrival>{{0, 8200000}, {1, 0}}).ok());
    Bytes sink = {0xaa};
    TransportCcFeedback gap;
    gap.packets = {{0, true, 1}, {2, true, 1}};
    CHECK_FALSE(WriteTransportCc(gap, &sink).ok());
    TransportCcFeedback far;
    far.packets = {{0, true, 40000}};
    CHECK_FALSE(WriteTransportCc(far, &sink).ok());
    TransportCcFeedback ref;
    ref.reference_time = 0x1000000;
    CHECK_FALSE(WriteTransportCc(ref, &sink).ok());
    CHECK(sink == Bytes{0xaa});  // failed writes leave the output alone
  }
}

TEST_CASE("rtcp: malformed transport-cc feedback", "[rtcp][twcc][bad]") {
  CheckBodyTruncations<TransportCcFeedback>(kTwcc, 53, ParseTransportCc);
  auto with_chunk = [](uint16_t count, std::initializer_list<uint8_t> rest) {
    Bytes p = {0x8f, 0xcd, 0x00, 0x00, 0, 0, 0, 1, 0, 0, 0, 2, 0x00, 0x00,
               static_cast<uint8_t>(count >> 8), static_cast<uint8_t>(count), 0, 0, 0, 0};
    p.insert(p.end(), rest);
    while (p.size() % 4) p.push_back(0);
    p[3] = static_cast<uint8_t>(p.size() / 4 - 1);
    return p;
  };
  // Reserved symbol 3 in a run and in a 2-bit vector.
  CHECK_FALSE(ParseTransportCc(OnlyBlock(with_chunk(1, {0x60, 0x01, 0x01}))).ok());
  CHECK_FALSE(ParseTransportCc(OnlyBlock(with_chunk(1, {0xf0, 0x00, 0x01}))).ok());
  // ... but a reserved symbol beyond the status count is never read.
  CHECK(ParseTransportCc(OnlyBlock(with_chunk(1, {0xc7, 0x00}))).ok());
  // A zero-length run consumes a chunk and nothing else.
  auto zero_run = ParseTransportCc(OnlyBlock(with_chunk(2, {0x20, 0x00, 0x20, 0x02, 0x01, 0x01})));
  REQUIRE(zero_run.ok());
  CHECK(zero_run->packets.size() == 2);
  // Status count larger than the chunks present.
  CHECK_FALSE(ParseTransportCc(OnlyBlock(with_chunk(100, {0x20, 0x0a}))).ok());
  // A huge count with no chunks must fail without trouble.
  CHECK_FALSE(ParseTransportCc(OnlyBlock(with_chunk(0xffff, {}))).ok());
  // 0xffff statuses in nine runs of "lost": legal.
  auto lots = ParseTransportCc(OnlyBlock(with_chunk(
      0xffff, {0x1f, 0xff, 0x1f, 0xff, 0x1f, 0xff, 0x1f, 0xff, 0x1f, 0xff, 0x1f, 0xff, 0x1f, 0xff, 0x1f, 0xff,
                   0x00, 0x07})));
  REQUIRE(lots.ok());
  CHECK(lots->packets.size() == 0xffff);
  // Two large deltas announced, one present.
  Bytes cut = with_chunk(2, {0x40, 0x02, 0x12, 0x34});
  CHECK_FALSE(ParseTransportCc(OnlyBlock(cut)).ok());
  // Wrong FMT.
  Bytes wrong = kTwcc;
  wrong[0] = 0x8e;
  CHECK_FALSE(ParseTransportCc(OnlyBlock(wrong)).ok());
}

TEST_CASE("rtcp: reader rejects every truncation and bad header", "[rtcp][bad]") {
  const char* err = nullptr;
  CHECK(ReadAll({}, &err).empty());
  CHECK(err != nullptr);
  CHECK_FALSE(ValidateRtcpCompound({}).ok());

  for (const Bytes* pkt : {&kRrRemb, &kSrSdes}) {
    auto full = ReadAll(*pkt);
    size_t first = full[0].packet.size();
    for (size_t n = 1; n < pkt->size(); ++n) {
      INFO("prefix " << n);
      Bytes prefix(pkt->begin(), pkt->begin() + static_cast<std::ptrdiff_t>(n));
      auto blocks = ReadAll(prefix, &err);
      if (n == first) {
        CHECK(err == nullptr);
        CHECK(blocks.size() == 1);
      } else {
        CHECK(err != nullptr);
        CHECK(blocks.size() == (n > first ? 1u : 0u));
        CHECK_FALSE(ValidateRtcpCompound(prefix).ok());
      }
    }
  }

  Bytes v1 = kPli;
  v1[0] = 0x41;  // version 1
  ReadAll(v1, &err);
  REQUIRE(err != nullptr);
  CHECK(std::string(err).find("version") != std::string::npos);
  auto status = ValidateRtcpCompound(v1);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code == collab::base::kExitDataErr);

  Bytes longer = kPli;
  longer[3] = 3;  // says 16 bytes, has 12
  CHECK(ReadAll(longer, &err).empty());
  CHECK(err != nullptr);
  longer[2] = 0xff;
  longer[3] = 0xff;
  CHECK(ReadAll(longer, &err).empty());
  CHECK(err != nullptr);

  Bytes odd = kPli;
  odd.push_back(0x80);  // trailing byte: a header cannot fit
  CHECK(ReadAll(odd, &err).size() == 1);
  CHECK(err != nullptr);

  // Padding: count 0, count larger than the body, count eating the header.
  Bytes pad = {0xa1, 0xce, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 4};
  CHECK(ReadAll(pad, &err).size() == 1);
  CHECK(err == nullptr);
  CHECK(ReadAll(pad)[0].body.size() == 8);
  pad.back() = 0;
  CHECK(ReadAll(pad, &err).empty());
  CHECK(err != nullptr);
  pad.back() = 12;  // the whole body: legal, empty
  CHECK(ReadAll(pad, &err).size() == 1);
  CHECK(err == nullptr);
  pad.back() = 13;
  CHECK(ReadAll(pad, &err).empty());
  CHECK(err != nullptr);
  Bytes bare = {0xa0, 0xc9, 0x00, 0x00};  // P set on a header-only packet
  CHECK(ReadAll(bare, &err).empty());
  CHECK(err != nullptr);
}

TEST_CASE("rtcp: unknown and skipped packet types", "[rtcp]") {
  Bytes c = kPli;
  // APP: subtype 3, name "abcd", 4 bytes of data.
  c.insert(c.end(), {0x83, 0xcc, 0x00, 0x03, 0, 0, 0, 9, 'a', 'b', 'c', 'd', 1, 2, 3, 4});
  // XR with one unknown block, and a type no one has defined.
  c.insert(c.end(), {0x80, 0xcf, 0x00, 0x02, 0, 0, 0, 9, 0x42, 0x00, 0x00, 0x00});
  c.insert(c.end(), {0x80, 0xd2, 0x00, 0x00});
  c.insert(c.end(), kNack.begin(), kNack.end());
  auto blocks = ReadAll(c);
  REQUIRE(blocks.size() == 5);
  CHECK(blocks[1].type == kRtcpApp);
  CHECK(blocks[1].count == 3);
  CHECK(blocks[2].type == kRtcpXr);
  CHECK(blocks[3].type == 210);
  CHECK(blocks[3].body.empty());
  CHECK(ParseNack(blocks[4]).ok());
  CHECK(ValidateRtcpCompound(c).ok());

  // Every typed parser refuses a block of another type.
  RtcpBlock app = blocks[1];
  CHECK_FALSE(ParseSr(app).ok());
  CHECK_FALSE(ParseRr(app).ok());
  CHECK_FALSE(ParseSdes(app).ok());
  CHECK_FALSE(ParseBye(app).ok());
  CHECK_FALSE(ParseNack(app).ok());
  CHECK_FALSE(ParseTransportCc(app).ok());
  CHECK_FALSE(ParsePli(app).ok());
  CHECK_FALSE(ParseFir(app).ok());
  CHECK_FALSE(ParseRemb(app).ok());
  CHECK_FALSE(ParsePli(blocks[4]).ok());  // right FMT number, wrong type
  CHECK_FALSE(ParseFir(blocks[0]).ok());  // right type, wrong FMT
  CHECK_FALSE(ParseNack(OnlyBlock(kTwcc)).ok());
}

TEST_CASE("rtcp: typed parsers reject every truncated body", "[rtcp][bad]") {
  auto rr = ReadAll(kRrRemb);
  Bytes rr_only(kRrRemb.begin(), kRrRemb.begin() + 32), remb_only(kRrRemb.begin() + 32, kRrRemb.end());
  Bytes sr_only(kSrSdes.begin(), kSrSdes.begin() + 28), sdes_only(kSrSdes.begin() + 28, kSrSdes.end());
  CheckBodyTruncations<ReceiverReport>(rr_only, 28, ParseRr);
  CheckBodyTruncations<Remb>(remb_only, 20, ParseRemb);
  CheckBodyTruncations<SenderReport>(sr_only, 24, ParseSr);
  CheckBodyTruncations<Sdes>(sdes_only, 23, ParseSdes);
  CheckBodyTruncations<Bye>(kBye, 9, ParseBye, {4});  // 4: just the SSRC, no reason
  CheckBodyTruncations<Nack>(kNack, 12, ParseNack);
  CheckBodyTruncations<Pli>(kPli, 8, ParsePli);
  CheckBodyTruncations<Fir>(kFir, 16, ParseFir);

  SECTION("counts pointing past the end") {
    Bytes sr = sr_only;
    sr[0] = 0x81;  // RC=1 with no report block
    CHECK_FALSE(ParseSr(OnlyBlock(sr)).ok());
    Bytes r = rr_only;
    r[0] = 0x82;
    CHECK_FALSE(ParseRr(OnlyBlock(r)).ok());
    Bytes s = sdes_only;
    s[0] = 0x82;  // SC=2, one chunk
    CHECK_FALSE(ParseSdes(OnlyBlock(s)).ok());
    Bytes item = sdes_only;
    item[9] = 0x20;  // CNAME length 32 > what is left
    CHECK_FALSE(ParseSdes(OnlyBlock(item)).ok());
    Bytes noend = {0x81, 0xca, 0x00, 0x02, 0, 0, 0, 1, 0x01, 0x02, 'a', 'b'};  // no null item
    CHECK_FALSE(ParseSdes(OnlyBlock(noend)).ok());
    Bytes b = kBye;
    b[0] = 0x85;  // SC=5
    CHECK_FALSE(ParseBye(OnlyBlock(b)).ok());
    b = kBye;
    b[8] = 8;  // reason length 8, 7 bytes left
    CHECK_FALSE(ParseBye(OnlyBlock(b)).ok());
    b[8] = 7;
    CHECK(ParseBye(OnlyBlock(b)).ok());
    Bytes rm = remb_only;
    rm[16] = 2;  // two SSRCs, one present
    CHECK_FALSE(ParseRemb(OnlyBlock(rm)).ok());
    rm = remb_only;
    rm[17] = 0xfc;  // exponent 63 with a non-zero mantissa: overflows 64 bits
    CHECK_FALSE(ParseRemb(OnlyBlock(rm)).ok());
    rm[17] = 0xba;  // exponent 46: mantissa 0x2f5e1 (18 bits) << 46 fits exactly
    auto big = ParseRemb(OnlyBlock(rm));
    REQUIRE(big.ok());
    CHECK(big->bitrate_bps == uint64_t{0x2f5e1} << 46);
    rm[12] = 'X';  // not REMB: another AFB message
    CHECK_FALSE(IsRemb(OnlyBlock(rm)));
    CHECK_FALSE(ParseRemb(OnlyBlock(rm)).ok());
  }
}

TEST_CASE("rtcp: every writer round-trips", "[rtcp][roundtrip]") {
  SenderReport sr{0xabcdef01, 0x0123456789abcdefULL, 90000, 12, 3456, {}};
  for (int i = 0; i < 31; ++i)
    sr.reports.push_back(ReportBlock{static_cast<uint32_t>(i), static_cast<uint8_t>(i * 8), -i * 1000,
                                     static_cast<uint32_t>(65536 + i), 17, 0x12345678, 0x9abc});
  CHECK(*ParseSr(OnlyBlock(Written(WriteSr, sr))) == sr);
  sr.reports.emplace_back();
  Bytes sink;
  CHECK_FALSE(WriteSr(sr, &sink).ok());
  CHECK(sink.empty());

  ReceiverReport rr{7, {ReportBlock{1, 255, -8388608, 1, 2, 3, 4}, ReportBlock{2, 0, 8388607, 5, 6, 7, 8}}};
  CHECK(*ParseRr(OnlyBlock(Written(WriteRr, rr))) == rr);
  ReceiverReport empty_rr{9, {}};
  CHECK(Written(WriteRr, empty_rr).size() == 8);
  CHECK(*ParseRr(OnlyBlock(Written(WriteRr, empty_rr))) == empty_rr);
  // Out-of-range cumulative loss is clamped to 24 bits.
  ReceiverReport clamp{1, {ReportBlock{1, 0, -9000000, 0, 0, 0, 0}, ReportBlock{1, 0, 9000000, 0, 0, 0, 0}}};
  auto clamped = ParseRr(OnlyBlock(Written(WriteRr, clamp)));
  REQUIRE(clamped.ok());
  CHECK(clamped->reports[0].cumulative_lost == -8388608);
  CHECK(clamped->reports[1].cumulative_lost == 8388607);

  for (size_t len : {0u, 1u, 2u, 3u, 4u, 5u, 254u, 255u}) {
    INFO("text length " << len);
    Sdes sdes;
    sdes.chunks.push_back(SdesChunk{1, {SdesItem{kSdesCname, std::string(len, 'c')}, SdesItem{6, "tool"}}});
    sdes.chunks.push_back(SdesChunk{2, {}});
    sdes.chunks.push_back(SdesChunk{3, {SdesItem{2, std::string(len, 'n')}}});
    Bytes out = Written(WriteSdes, sdes);
    CHECK(out.size() % 4 == 0);
    CHECK(*ParseSdes(OnlyBlock(out)) == sdes);
  }
  Sdes bad_sdes;
  bad_sdes.chunks.push_back(SdesChunk{1, {SdesItem{0, "x"}}});
  CHECK_FALSE(WriteSdes(bad_sdes, &sink).ok());
  bad_sdes.chunks[0].items[0] = SdesItem{1, std::string(256, 'x')};
  CHECK_FALSE(WriteSdes(bad_sdes, &sink).ok());
  CHECK_FALSE(WriteSdes(Sdes{std::vector<SdesChunk>(32)}, &sink).ok());

  for (size_t len : {0u, 1u, 2u, 3u, 4u, 255u}) {
    Bye bye{{1, 2, 3}, std::string(len, 'r')};
    Bytes out = Written(WriteBye, bye);
    CHECK(out.size() % 4 == 0);
    CHECK(*ParseBye(OnlyBlock(out)) == bye);
  }
  CHECK(*ParseBye(OnlyBlock(Written(WriteBye, Bye{}))) == Bye{});
  CHECK_FALSE(WriteBye(Bye{{}, std::string(256, 'r')}, &sink).ok());
  CHECK_FALSE(WriteBye(Bye{std::vector<uint32_t>(32), ""}, &sink).ok());

  Pli pli{0xffffffff, 0};
  CHECK(*ParsePli(OnlyBlock(Written(WritePli, pli))) == pli);

  Fir fir{5, {{1, 0}, {2, 255}, {3, 9}}};
  CHECK(*ParseFir(OnlyBlock(Written(WriteFir, fir))) == fir);
  CHECK_FALSE(WriteFir(Fir{5, {}}, &sink).ok());

  for (uint64_t bps : std::initializer_list<uint64_t>{0, 1, 262143, 262144, 1000000, 2500000000,
                                                     uint64_t{0x3ffff} << 46}) {
    Remb remb{3, bps, {1, 2}};
    auto got = ParseRemb(OnlyBlock(Written(WriteRemb, remb)));
    REQUIRE(got.ok());
    CHECK(got->ssrcs == remb.ssrcs);
    CHECK(got->bitrate_bps <= bps);  // rounded down to 18 significant bits
    CHECK(got->bitrate_bps >= bps - (bps >> 17));
    // What came back is representable, so it round-trips exactly.
    CHECK(*ParseRemb(OnlyBlock(Written(WriteRemb, *got))) == *got);
  }
  Remb max_remb{3, UINT64_MAX, {}};
  auto max_back = ParseRemb(OnlyBlock(Written(WriteRemb, max_remb)));
  REQUIRE(max_back.ok());
  CHECK(max_back->bitrate_bps == uint64_t{0x3ffff} << 46);
  CHECK_FALSE(WriteRemb(Remb{1, 1, std::vector<uint32_t>(256)}, &sink).ok());
  CHECK(sink.empty());
}

TEST_CASE("rtcp: NACK packing into PID/BLP pairs", "[rtcp][nack]") {
  auto entries = [](const std::vector<uint16_t>& lost) {
    Bytes out;
    REQUIRE(WriteNack(Nack{1, 2, lost}, &out).ok());
    auto back = ParseNack(OnlyBlock(out));
    REQUIRE(back.ok());
    CHECK(back->lost == lost);  // exactly the same list, order and duplicates included
    return (out.size() - 12) / 4;
  };
  std::vector<uint16_t> seventeen;
  for (uint16_t s = 1000; s <= 1016; ++s) seventeen.push_back(s);
  CHECK(entries(seventeen) == 1);
  seventeen.push_back(1017);
  CHECK(entries(seventeen) == 2);
  CHECK(entries({65535, 0, 2}) == 1);  // wraps within one pair
  CHECK(entries({5}) == 1);
  CHECK(entries({5, 3}) == 2);  // out of order: a new pair keeps the order
  CHECK(entries({5, 5}) == 2);
  CHECK(entries({100, 105, 103}) == 2);
  CHECK(entries({100, 116, 117, 133}) == 2);  // 116 joins 100's pair, 133 joins 117's

  Bytes out;
  REQUIRE(WriteNack(Nack{1, 2, {65535, 0, 2}}, &out).ok());
  CHECK(Bytes(out.end() - 4, out.end()) == Bytes{0xff, 0xff, 0x00, 0x05});
  Bytes sink;
  CHECK_FALSE(WriteNack(Nack{1, 2, {}}, &sink).ok());
  CHECK(sink.empty());
}

TEST_CASE("rtcp: compound packing and padding", "[rtcp]") {
  Bytes c;
  REQUIRE(WriteRr(ReceiverReport{1, {ReportBlock{2, 1, 1, 1, 1, 1, 1}}}, &c).ok());
  REQUIRE(WriteSdesCname(1, "abc", &c).ok());
  REQUIRE(WriteRemb(Remb{1, 300000, {2}}, &c).ok());
  REQUIRE(WriteNack(Nack{1, 2, {10, 12}}, &c).ok());
  REQUIRE(WritePli(Pli{1, 2}, &c).ok());
  auto blocks = ReadAll(c);
  REQUIRE(blocks.size() == 5);
  for (const RtcpBlock& b : blocks) {
    CHECK(b.packet.size() % 4 == 0);
    CHECK(b.packet.size() == 4 * (static_cast<size_t>(b.packet[2] << 8 | b.packet[3]) + 1));
  }
  size_t before = c.size();
  REQUIRE(before % 16 != 0);
  REQUIRE(PadRtcpCompound(&c, 16).ok());
  CHECK(c.size() % 16 == 0);
  CHECK(c.back() == c.size() - before);
  auto padded = ReadAll(c);
  REQUIRE(padded.size() == 5);
  CHECK((padded[4].packet[0] & 0x20) != 0);
  CHECK(*ParsePli(padded[4]) == Pli{1, 2});
  CHECK(padded[4].body.size() == 8);
  CHECK(ParseRr(padded[0])->reports.size() == 1);
  // Already aligned: no change. Padding twice is refused rather than nested.
  Bytes again = c;
  CHECK(PadRtcpCompound(&again, 16).ok());
  CHECK(again == c);
  REQUIRE(again.size() % 32 != 0);
  CHECK_FALSE(PadRtcpCompound(&again, 32).ok());
  CHECK(again == c);
  Bytes sink;
  CHECK_FALSE(PadRtcpCompound(&sink, 16).ok());
  Bytes one = kPli;
  CHECK_FALSE(PadRtcpCompound(&one, 6).ok());
  CHECK_FALSE(PadRtcpCompound(&one, 0).ok());
  CHECK_FALSE(PadRtcpCompound(&one, 260).ok());
  Bytes broken = {0x80, 0xc9, 0x00, 0x05};
  CHECK_FALSE(PadRtcpCompound(&broken, 8).ok());
}

// ---- Real packets captured from Chromium (tests/data/rtc/rtp/capture-packets.mjs) ----

TEST_CASE("rtcp: real Chromium compound packets parse and re-encode", "[rtcp][capture]") {
  auto dir = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "data" / "rtc" / "rtcp";
  std::vector<std::filesystem::path> paths;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".bin") paths.push_back(entry.path());
  std::sort(paths.begin(), paths.end());
  REQUIRE(paths.size() >= 10);
  std::map<std::string, int> seen;
  // Re-encodes a parsed block and expects Chromium's exact bytes back.
  auto same_bytes = [](const RtcpBlock& b, auto write, const auto& value) {
    Bytes out;
    REQUIRE(write(value, &out).ok());
    CHECK(out == Bytes(b.packet.begin(), b.packet.end()));
  };
  for (const auto& path : paths) {
    INFO(path.filename().string());
    auto text = collab::base::ReadFile(path.string());
    REQUIRE(text.ok());
    Bytes pkt(text->begin(), text->end());
    REQUIRE(ValidateRtcpCompound(pkt).ok());
    for (const RtcpBlock& b : ReadAll(pkt)) {
      switch (b.type) {
        case kRtcpSr: {
          auto v = ParseSr(b);
          REQUIRE(v.ok());
          same_bytes(b, WriteSr, *v);
          ++seen["sr"];
          break;
        }
        case kRtcpRr: {
          auto v = ParseRr(b);
          REQUIRE(v.ok());
          same_bytes(b, WriteRr, *v);
          ++seen["rr"];
          break;
        }
        case kRtcpSdes: {
          auto v = ParseSdes(b);
          REQUIRE(v.ok());
          REQUIRE(v->chunks.size() == 1);
          auto cname = v->Cname(v->chunks[0].ssrc);
          REQUIRE(cname);
          CHECK(cname->size() == 16);  // Chromium's random CNAME
          same_bytes(b, WriteSdes, *v);
          ++seen["sdes"];
          break;
        }
        case kRtcpRtpfb:
          if (b.count == kRtpfbNack) {
            auto v = ParseNack(b);
            REQUIRE(v.ok());
            CHECK_FALSE(v->lost.empty());
            same_bytes(b, WriteNack, *v);
            ++seen["nack"];
          } else if (b.count == kRtpfbTransportCc) {
            auto v = ParseTransportCc(b);
            REQUIRE(v.ok());
            CHECK_FALSE(v->packets.empty());
            Bytes out;
            REQUIRE(WriteTransportCc(*v, &out).ok());
            auto again = ParseTransportCc(OnlyBlock(out));
            REQUIRE(again.ok());
            CHECK(*again == *v);
            // Chunk choices may differ from Chromium's, but never cost more bytes.
            CHECK(out.size() <= b.packet.size());
            auto arrivals = TwccArrivals(*v);
            auto rebuilt = BuildTransportCcFeedback(v->sender_ssrc, v->media_ssrc, v->feedback_count,
                                                    v->base_seq, arrivals);
            REQUIRE(rebuilt.ok());
            CHECK(TwccArrivals(*rebuilt) == arrivals);
            ++seen["twcc"];
          }
          break;
        case kRtcpPsfb:
          if (IsRemb(b)) {
            auto v = ParseRemb(b);
            REQUIRE(v.ok());
            CHECK(v->bitrate_bps > 10000);
            CHECK_FALSE(v->ssrcs.empty());
            same_bytes(b, WriteRemb, *v);
            ++seen["remb"];
          } else if (b.count == kPsfbPli) {
            auto v = ParsePli(b);
            REQUIRE(v.ok());
            same_bytes(b, WritePli, *v);
            ++seen["pli"];
          }
          break;
        default:
          ++seen["other"];  // XR here: skipped
          break;
      }
    }
  }
  for (const char* kind : {"sr", "rr", "sdes", "nack", "twcc", "remb"}) {
    INFO(kind);
    CHECK(seen[kind] > 0);
  }
}
