// RTP view, extensions, mutation, builder, RTX and demux: hand-made vectors from the RFC 3550 /
// RFC 8285 diagrams, every truncation, bad headers, and round trips.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "lib/base/fs.hpp"

#include "lib/rtc/rtp.hpp"
#include "lib/rtc/rtp_ext.hpp"

using namespace collab::rtc;

namespace {

using Bytes = std::vector<uint8_t>;

// A Chromium-style video packet: one-byte extensions (abs-send-time, transport-cc, mid, rid).
const Bytes kVideo = {
    0x90, 0x60, 0x12, 0x34,  // V=2 P=0 X=1 CC=0 | M=0 PT=96 | seq 0x1234
    0x00, 0x01, 0xe2, 0x40,  // timestamp 123456
    0xde, 0xad, 0xbe, 0xef,  // SSRC
    0xbe, 0xde, 0x00, 0x03,  // one-byte extension profile, 3 words
    0x22, 0x12, 0x34, 0x56,  // id 2, L=2 (3 bytes): abs-send-time 0x123456
    0x31, 0x00, 0x2a,        // id 3, L=1 (2 bytes): transport-cc seq 42
    0x40, 0x30,              // id 4, L=0 (1 byte): mid "0"
    0xa0, 0x68,              // id 10, L=0: rid "h"
    0x00,                    // padding byte to the word boundary
    0x90, 0x80, 0x00, 0x01,  // payload (a VP8 descriptor, say)
};

// An audio packet with CSRCs, a two-byte extension block and RTP padding.
const Bytes kAudio = {
    0xb2, 0xef, 0x00, 0x07,  // V=2 P=1 X=1 CC=2 | M=1 PT=111 | seq 7
    0x00, 0x00, 0x03, 0xc0,  // timestamp 960
    0x11, 0x22, 0x33, 0x44,  // SSRC
    0x00, 0x00, 0x00, 0x01,  // CSRC 1
    0x00, 0x00, 0x00, 0x02,  // CSRC 2
    0x10, 0x00, 0x00, 0x02,  // two-byte profile 0x1000, 2 words
    0x01, 0x01, 0x8a,        // id 1, len 1: audio level V=1, 10 dBov below max
    0x00,                    // padding byte between elements
    0x05, 0x00,              // id 5, len 0: an empty element (legal in the two-byte form)
    0x00, 0x00,              // padding
    0xde, 0xad, 0xbe, 0xef, 0xca, 0xfe,  // payload
    0x00, 0x00, 0x03,                    // RTP padding, count 3
};

// Parses a heap copy of exactly `n` bytes so ASan notices any read past the end.
RtpError ParsePrefix(const Bytes& b, size_t n, RtpView* out, Bytes* storage) {
  *storage = Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
  return RtpView::TryParse(*storage, out);
}

std::vector<std::pair<uint8_t, Bytes>> Elements(const RtpView& v) {
  std::vector<std::pair<uint8_t, Bytes>> out;
  for (const RtpExtension& e : v.extensions()) out.emplace_back(e.id, Bytes(e.data.begin(), e.data.end()));
  return out;
}

}  // namespace

TEST_CASE("rtp: parses a one-byte-extension video packet", "[rtp]") {
  auto r = RtpView::Parse(kVideo);
  REQUIRE(r.ok());
  const RtpView& v = *r;
  CHECK(v.version() == 2);
  CHECK_FALSE(v.has_padding());
  CHECK(v.has_extension());
  CHECK(v.csrc_count() == 0);
  CHECK_FALSE(v.marker());
  CHECK(v.payload_type() == 96);
  CHECK(v.sequence_number() == 0x1234);
  CHECK(v.timestamp() == 123456);
  CHECK(v.ssrc() == 0xdeadbeef);
  CHECK(v.extension_form() == ExtensionForm::kOneByte);
  CHECK(v.extension_profile() == 0xBEDE);
  CHECK(v.extension_block().size() == 12);
  CHECK(v.header_size() == 28);
  CHECK(v.payload_size() == 4);
  CHECK(Bytes(v.payload().begin(), v.payload().end()) == Bytes{0x90, 0x80, 0x00, 0x01});
  CHECK(v.padding_size() == 0);
  CHECK(v.ExtensionsWellFormed());

  auto els = Elements(v);
  REQUIRE(els.size() == 4);
  CHECK(els[0] == std::pair<uint8_t, Bytes>{2, {0x12, 0x34, 0x56}});
  CHECK(els[1] == std::pair<uint8_t, Bytes>{3, {0x00, 0x2a}});
  CHECK(els[2] == std::pair<uint8_t, Bytes>{4, {'0'}});
  CHECK(els[3] == std::pair<uint8_t, Bytes>{10, {'h'}});
  REQUIRE(v.FindExtension(3));
  CHECK(v.FindExtension(3)->size() == 2);
  CHECK_FALSE(v.FindExtension(5));
  CHECK_FALSE(v.FindExtension(0));
}

TEST_CASE("rtp: parses CSRCs, two-byte extensions and padding", "[rtp]") {
  auto r = RtpView::Parse(kAudio);
  REQUIRE(r.ok());
  const RtpView& v = *r;
  CHECK(v.has_padding());
  CHECK(v.marker());
  CHECK(v.payload_type() == 111);
  CHECK(v.sequence_number() == 7);
  CHECK(v.timestamp() == 960);
  CHECK(v.ssrc() == 0x11223344);
  REQUIRE(v.csrc_count() == 2);
  CHECK(v.csrc(0) == 1);
  CHECK(v.csrc(1) == 2);
  CHECK(v.extension_form() == ExtensionForm::kTwoByte);
  CHECK(v.header_size() == 32);
  CHECK(v.padding_size() == 3);
  CHECK(v.payload_size() == 6);
  CHECK(v.payload()[0] == 0xde);
  CHECK(v.payload()[5] == 0xfe);
  auto els = Elements(v);
  REQUIRE(els.size() == 2);
  CHECK(els[0] == std::pair<uint8_t, Bytes>{1, {0x8a}});
  CHECK(els[1] == std::pair<uint8_t, Bytes>{5, {}});
  auto empty = v.FindExtension(5);
  REQUIRE(empty);  // present but empty is not "absent"
  CHECK(empty->empty());
}

TEST_CASE("rtp: two-byte profile accepts any appbits and ids above 14", "[rtp]") {
  Bytes p = {0x90, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1,
             0x10, 0x07, 0x00, 0x01,   // 0x1007: appbits 7
             0xff, 0x01, 0x42, 0x00};  // id 255, len 1
  auto v = RtpView::Parse(p);
  REQUIRE(v.ok());
  CHECK(v->extension_form() == ExtensionForm::kTwoByte);
  REQUIRE(v->FindExtension(255));
  CHECK((*v->FindExtension(255))[0] == 0x42);
}

TEST_CASE("rtp: one-byte id 15 stops the walk; malformed elements stop it too", "[rtp]") {
  Bytes base = {0x90, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0x00, 0x01};
  SECTION("id 15") {
    Bytes p = base;
    p.insert(p.end(), {0x10, 0xaa, 0xf0, 0x20});  // id1 "aa", id15 (stop), a would-be id2
    auto v = RtpView::Parse(p);
    REQUIRE(v.ok());
    auto els = Elements(*v);
    REQUIRE(els.size() == 1);
    CHECK(els[0].first == 1);
    CHECK_FALSE(v->FindExtension(2));
    CHECK(v->ExtensionsWellFormed());
  }
  SECTION("element longer than the block") {
    Bytes p = base;
    p.insert(p.end(), {0x10, 0xaa, 0x23, 0x01});  // id2 claims 4 bytes, 1 left
    auto v = RtpView::Parse(p);
    REQUIRE(v.ok());  // the packet itself stays usable
    CHECK(Elements(*v).size() == 1);
    CHECK_FALSE(v->ExtensionsWellFormed());
  }
  SECTION("id 0 with a non-zero length") {
    Bytes p = base;
    p.insert(p.end(), {0x02, 0x10, 0xaa, 0x00});
    auto v = RtpView::Parse(p);
    REQUIRE(v.ok());
    CHECK(Elements(*v).empty());
    CHECK_FALSE(v->ExtensionsWellFormed());
  }
  SECTION("two-byte element header cut by the block end") {
    Bytes p = base;
    p[12] = 0x10;
    p[13] = 0x00;
    p.insert(p.end(), {0x00, 0x00, 0x00, 0x07});  // padding then a lone id byte
    auto v = RtpView::Parse(p);
    REQUIRE(v.ok());
    CHECK(Elements(*v).empty());
    CHECK_FALSE(v->ExtensionsWellFormed());
  }
  SECTION("unknown profile: block kept, no elements") {
    Bytes p = base;
    p[12] = 0x12;
    p[13] = 0x34;
    p.insert(p.end(), {0x10, 0xaa, 0x00, 0x00});
    auto v = RtpView::Parse(p);
    REQUIRE(v.ok());
    CHECK(v->extension_form() == ExtensionForm::kOther);
    CHECK(v->extension_profile() == 0x1234);
    CHECK(v->extension_block().size() == 4);
    CHECK(Elements(*v).empty());
    CHECK(v->ExtensionsWellFormed());
  }
}

TEST_CASE("rtp: every truncation is rejected or parses within bounds", "[rtp][bad]") {
  for (const Bytes* pkt : {&kVideo, &kAudio}) {
    RtpView full;
    REQUIRE(RtpView::TryParse(*pkt, &full) == RtpError::kNone);
    for (size_t n = 0; n < pkt->size(); ++n) {
      INFO("prefix " << n);
      RtpView v;
      Bytes storage;
      RtpError e = ParsePrefix(*pkt, n, &v, &storage);
      if (n < kRtpFixedHeaderSize) {
        CHECK(e == RtpError::kTooShort);
      } else if (n < full.header_size()) {
        CHECK((e == RtpError::kCsrcOverrun || e == RtpError::kExtensionOverrun));
      } else if (e == RtpError::kNone) {
        // Cut inside the payload: still a header, the rest is payload (+ whatever padding the
        // last byte now claims).
        CHECK(v.header_size() == full.header_size());
        CHECK(v.payload_size() + v.padding_size() == n - full.header_size());
        for (const RtpExtension& x : v.extensions()) (void)x;
      } else {
        CHECK(e == RtpError::kBadPadding);
      }
    }
  }
}

TEST_CASE("rtp: bad headers", "[rtp][bad]") {
  RtpView v;
  CHECK(RtpView::TryParse({}, &v) == RtpError::kTooShort);
  CHECK_FALSE(RtpView::Parse({}).ok());

  Bytes p = kVideo;
  for (uint8_t version : {0, 1, 3}) {
    p[0] = static_cast<uint8_t>((kVideo[0] & 0x3f) | version << 6);
    CHECK(RtpView::TryParse(p, &v) == RtpError::kBadVersion);
  }
  auto bad = RtpView::Parse(p);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == collab::base::kExitDataErr);
  CHECK(bad.error().message.find("version") != std::string::npos);

  SECTION("CSRC count past the end") {
    Bytes q = {0x8f, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1};  // CC=15, one CSRC present
    CHECK(RtpView::TryParse(q, &v) == RtpError::kCsrcOverrun);
  }
  SECTION("extension length past the end") {
    Bytes q = kVideo;
    q[15] = 0x09;  // 9 words declared, far fewer present
    CHECK(RtpView::TryParse(q, &v) == RtpError::kExtensionOverrun);
    q[15] = 0x04;  // 16 bytes declared; 12 + 4 bytes of payload exactly fit
    CHECK(RtpView::TryParse(q, &v) == RtpError::kNone);
    CHECK(v.payload_size() == 0);
    q[15] = 0x05;
    CHECK(RtpView::TryParse(q, &v) == RtpError::kExtensionOverrun);
    q[14] = 0xff;
    q[15] = 0xff;  // 65535 words: must not overflow the bounds arithmetic
    CHECK(RtpView::TryParse(q, &v) == RtpError::kExtensionOverrun);
  }
  SECTION("X bit without room for the extension header") {
    Bytes q = {0x90, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde};
    CHECK(RtpView::TryParse(q, &v) == RtpError::kExtensionOverrun);
  }
  SECTION("padding") {
    Bytes q = kAudio;
    q.back() = 0;  // count 0 is impossible: it counts itself
    CHECK(RtpView::TryParse(q, &v) == RtpError::kBadPadding);
    q.back() = 9;  // the whole payload plus padding: legal, empty payload
    CHECK(RtpView::TryParse(q, &v) == RtpError::kNone);
    CHECK(v.payload_size() == 0);
    q.back() = 10;  // would eat into the header
    CHECK(RtpView::TryParse(q, &v) == RtpError::kBadPadding);
    q.back() = 255;
    CHECK(RtpView::TryParse(q, &v) == RtpError::kBadPadding);
    Bytes header_only(kAudio.begin(), kAudio.begin() + 32);  // P set, nothing after the header
    CHECK(RtpView::TryParse(header_only, &v) == RtpError::kBadPadding);
  }
  for (RtpError e : {RtpError::kNone, RtpError::kTooShort, RtpError::kBadVersion, RtpError::kCsrcOverrun,
                     RtpError::kExtensionOverrun, RtpError::kBadPadding})
    CHECK(std::string(RtpErrorText(e)).size() > 1);
}

TEST_CASE("rtp: in-place rewrite of SSRC, sequence, timestamp, payload type, marker", "[rtp]") {
  Bytes p = kAudio;
  auto m = MutableRtpView::Parse(p);
  REQUIRE(m.ok());
  m->SetSsrc(0xcafebabe);
  m->SetSequenceNumber(0xfffe);
  m->SetTimestamp(0x80000001);
  m->SetPayloadType(0xff);  // only 7 bits land; the marker is kept
  CHECK(m->marker());
  CHECK(m->payload_type() == 127);
  m->SetPayloadType(109);
  m->SetMarker(false);

  auto v = RtpView::Parse(p);
  REQUIRE(v.ok());
  CHECK(v->ssrc() == 0xcafebabe);
  CHECK(v->sequence_number() == 0xfffe);
  CHECK(v->timestamp() == 0x80000001);
  CHECK(v->payload_type() == 109);
  CHECK_FALSE(v->marker());
  // Nothing else moved.
  CHECK(p[0] == kAudio[0]);
  CHECK(Bytes(p.begin() + 12, p.end()) == Bytes(kAudio.begin() + 12, kAudio.end()));
  m->SetMarker(true);
  CHECK(p[1] == (0x80 | 109));
}

TEST_CASE("rtp: set an extension element in place when the size matches", "[rtp]") {
  Bytes p = kVideo;
  auto m = MutableRtpView::Parse(p);
  REQUIRE(m.ok());
  const uint8_t seq[2] = {0xbe, 0xef};
  CHECK(m->SetExtension(3, seq));
  const uint8_t wrong[3] = {1, 2, 3};
  CHECK_FALSE(m->SetExtension(3, wrong));  // size differs: untouched
  CHECK_FALSE(m->SetExtension(7, seq));    // absent
  auto v = RtpView::Parse(p);
  REQUIRE(v.ok());
  CHECK(Bytes(v->FindExtension(3)->begin(), v->FindExtension(3)->end()) == Bytes{0xbe, 0xef});
  CHECK(Bytes(p.begin() + 23, p.end()) == Bytes(kVideo.begin() + 23, kVideo.end()));
  auto mid = m->MutableExtension(4);
  REQUIRE(mid);
  (*mid)[0] = '1';
  CHECK(p[24] == '1');
  m->mutable_payload()[0] = 0x10;
  CHECK(p[28] == 0x10);

  // Two-byte form, including the empty element.
  Bytes a = kAudio;
  auto ma = MutableRtpView::Parse(a);
  REQUIRE(ma.ok());
  const uint8_t level[1] = {0x05};
  CHECK(ma->SetExtension(1, level));
  CHECK(a[26] == 0x05);
  CHECK(ma->SetExtension(5, {}));
}

TEST_CASE("rtp: builder reproduces the hand-made vectors byte for byte", "[rtp][build]") {
  const uint8_t abs[] = {0x12, 0x34, 0x56}, tcc[] = {0x00, 0x2a}, mid[] = {'0'}, rid[] = {'h'};
  const RtpExtension exts[] = {{2, abs}, {3, tcc}, {4, mid}, {10, rid}};
  const uint8_t payload[] = {0x90, 0x80, 0x00, 0x01};
  RtpPacketSpec spec;
  spec.payload_type = 96;
  spec.sequence_number = 0x1234;
  spec.timestamp = 123456;
  spec.ssrc = 0xdeadbeef;
  spec.extensions = exts;
  spec.payload = payload;
  auto built = BuildRtpPacket(spec);
  REQUIRE(built.ok());
  CHECK(*built == kVideo);
  CHECK(*RtpPacketSize(spec) == kVideo.size());

  // The audio vector has a padding byte between elements, so compare parsed fields instead.
  const uint32_t csrcs[] = {1, 2};
  const uint8_t lvl[] = {0x8a};
  const RtpExtension aexts[] = {{1, lvl}, {5, {}}};
  const uint8_t apay[] = {0xde, 0xad, 0xbe, 0xef, 0xca, 0xfe};
  RtpPacketSpec a;
  a.marker = true;
  a.payload_type = 111;
  a.sequence_number = 7;
  a.timestamp = 960;
  a.ssrc = 0x11223344;
  a.csrcs = csrcs;
  a.extensions = aexts;  // the empty element forces the two-byte form
  a.payload = apay;
  a.padding = 3;
  auto ab = BuildRtpPacket(a);
  REQUIRE(ab.ok());
  CHECK(ab->size() == kAudio.size());
  auto v = RtpView::Parse(*ab);
  auto w = RtpView::Parse(kAudio);
  REQUIRE(v.ok());
  REQUIRE(w.ok());
  CHECK(v->extension_form() == ExtensionForm::kTwoByte);
  CHECK(Elements(*v) == Elements(*w));
  CHECK(Bytes(v->payload().begin(), v->payload().end()) == Bytes(w->payload().begin(), w->payload().end()));
  CHECK(v->padding_size() == 3);
  CHECK(Bytes(ab->begin(), ab->begin() + 20) == Bytes(kAudio.begin(), kAudio.begin() + 20));
}

TEST_CASE("rtp: builder round trips and picks the extension form", "[rtp][build]") {
  Bytes big(16, 0x77), bigger(17, 0x66);
  SECTION("one-byte when everything fits") {
    const RtpExtension e[] = {{1, big}, {14, big}};
    RtpPacketSpec s;
    s.extensions = e;
    auto b = BuildRtpPacket(s);
    REQUIRE(b.ok());
    auto v = RtpView::Parse(*b);
    REQUIRE(v.ok());
    CHECK(v->extension_form() == ExtensionForm::kOneByte);
    CHECK(Elements(*v) == std::vector<std::pair<uint8_t, Bytes>>{{1, big}, {14, big}});
    CHECK(v->payload_size() == 0);
  }
  SECTION("two-byte for id 15+, 17+ bytes, or when forced") {
    for (int variant = 0; variant < 3; ++variant) {
      const RtpExtension e1[] = {{15, big}};
      const RtpExtension e2[] = {{1, bigger}};
      const RtpExtension e3[] = {{1, big}};
      RtpPacketSpec s;
      s.extensions = variant == 0 ? std::span<const RtpExtension>(e1)
                                  : variant == 1 ? std::span<const RtpExtension>(e2) : e3;
      s.force_two_byte_extensions = variant == 2;
      auto b = BuildRtpPacket(s);
      REQUIRE(b.ok());
      auto v = RtpView::Parse(*b);
      REQUIRE(v.ok());
      CHECK(v->extension_form() == ExtensionForm::kTwoByte);
      CHECK(Elements(*v).size() == 1);
      CHECK(v->extension_block().size() % 4 == 0);
    }
  }
  SECTION("no extensions, no X bit") {
    const uint8_t pl[] = {1, 2, 3};
    RtpPacketSpec s;
    s.payload = pl;
    s.padding = 1;
    auto b = BuildRtpPacket(s);
    REQUIRE(b.ok());
    CHECK(b->size() == 16);
    CHECK((*b)[0] == 0xa0);
    auto v = RtpView::Parse(*b);
    REQUIRE(v.ok());
    CHECK(v->payload_size() == 3);
    CHECK(v->padding_size() == 1);
  }
  SECTION("invalid parts are refused") {
    const uint32_t many[16] = {};
    RtpPacketSpec s;
    s.csrcs = many;
    CHECK_FALSE(BuildRtpPacket(s).ok());
    RtpPacketSpec t;
    t.payload_type = 128;
    CHECK_FALSE(BuildRtpPacket(t).ok());
    const RtpExtension zero[] = {{0, big}};
    RtpPacketSpec u;
    u.extensions = zero;
    CHECK_FALSE(BuildRtpPacket(u).ok());
    Bytes huge(256, 1);
    const RtpExtension toolong[] = {{3, huge}};
    u.extensions = toolong;
    CHECK_FALSE(BuildRtpPacket(u).ok());
    RtpPacketSpec ok;
    Bytes small(11);
    CHECK_FALSE(WriteRtpPacket(ok, small).ok());  // buffer too small
    Bytes exact(12);
    CHECK(*WriteRtpPacket(ok, exact) == 12);
  }
}

TEST_CASE("rtx: wrap and unwrap (RFC 4588)", "[rtp][rtx]") {
  auto orig = RtpView::Parse(kVideo);
  REQUIRE(orig.ok());
  auto wrapped = RtxWrap(*orig, 97, 0x0badf00d, 500);
  REQUIRE(wrapped.ok());
  REQUIRE(wrapped->size() == kVideo.size() + 2);
  auto rtx = RtpView::Parse(*wrapped);
  REQUIRE(rtx.ok());
  CHECK(rtx->payload_type() == 97);
  CHECK(rtx->ssrc() == 0x0badf00d);
  CHECK(rtx->sequence_number() == 500);
  CHECK(rtx->timestamp() == orig->timestamp());
  CHECK(rtx->marker() == orig->marker());
  CHECK(Elements(*rtx) == Elements(*orig));
  CHECK(rtx->payload()[0] == 0x12);  // original sequence number, big-endian
  CHECK(rtx->payload()[1] == 0x34);
  CHECK(RtxOriginalSequenceNumber(*rtx) == 0x1234);

  auto back = RtxUnwrap(*rtx, 96, 0xdeadbeef);
  REQUIRE(back.ok());
  CHECK(*back == kVideo);

  SECTION("padded RTX and padded original lose their padding") {
    auto a = RtpView::Parse(kAudio);
    REQUIRE(a.ok());
    auto w = RtxWrap(*a, 100, 5, 9);
    REQUIRE(w.ok());
    CHECK(w->size() == kAudio.size() - 3 + 2);
    CHECK(((*w)[0] & 0x20) == 0);
    // Give the RTX packet padding of its own; unwrapping drops it.
    Bytes padded = *w;
    padded[0] |= 0x20;
    padded.insert(padded.end(), {0, 0, 0, 4});
    auto pr = RtpView::Parse(padded);
    REQUIRE(pr.ok());
    auto u = RtxUnwrap(*pr, 111, 0x11223344);
    REQUIRE(u.ok());
    auto uv = RtpView::Parse(*u);
    REQUIRE(uv.ok());
    CHECK_FALSE(uv->has_padding());
    CHECK(uv->sequence_number() == 7);
    CHECK(uv->payload_size() == 6);
    CHECK(Bytes(u->begin() + 1, u->begin() + 32) == Bytes(kAudio.begin() + 1, kAudio.begin() + 32));
  }
  SECTION("in place") {
    Bytes buf = kVideo;
    buf.resize(kVideo.size() + 2);
    auto v = RtpView::Parse(std::span<const uint8_t>(buf.data(), kVideo.size()));
    REQUIRE(v.ok());
    auto n = RtxWrap(*v, 97, 0x0badf00d, 500, buf);
    REQUIRE(n.ok());
    CHECK(buf == *wrapped);
    auto r = RtpView::Parse(buf);
    REQUIRE(r.ok());
    auto m = RtxUnwrap(*r, 96, 0xdeadbeef, buf);
    REQUIRE(m.ok());
    CHECK(Bytes(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*m)) == kVideo);
  }
  SECTION("bad input") {
    // A padding-only probe has no original sequence number.
    Bytes probe = {0xa0, 97, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4};
    auto pv = RtpView::Parse(probe);
    REQUIRE(pv.ok());
    CHECK_FALSE(RtxOriginalSequenceNumber(*pv));
    CHECK_FALSE(RtxUnwrap(*pv, 96, 1).ok());
    Bytes one = {0x80, 97, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x55};
    CHECK_FALSE(RtxUnwrap(*RtpView::Parse(one), 96, 1).ok());
    Bytes small(kVideo.size() + 1);
    CHECK_FALSE(RtxWrap(*orig, 97, 1, 1, small).ok());
    CHECK_FALSE(RtxWrap(*orig, 200, 1, 1).ok());
    CHECK_FALSE(RtxUnwrap(*rtx, 96, 1, std::span<uint8_t>(small.data(), kVideo.size() - 1)).ok());
  }
}

TEST_CASE("demux: first-byte classes (RFC 7983) and RTCP vs RTP (RFC 5761)", "[rtp][demux]") {
  CHECK(ClassifyFirstByte(0) == PacketClass::kStun);
  CHECK(ClassifyFirstByte(3) == PacketClass::kStun);
  CHECK(ClassifyFirstByte(4) == PacketClass::kUnknown);
  CHECK(ClassifyFirstByte(15) == PacketClass::kUnknown);
  CHECK(ClassifyFirstByte(16) == PacketClass::kZrtp);
  CHECK(ClassifyFirstByte(19) == PacketClass::kZrtp);
  CHECK(ClassifyFirstByte(20) == PacketClass::kDtls);
  CHECK(ClassifyFirstByte(22) == PacketClass::kDtls);  // handshake
  CHECK(ClassifyFirstByte(63) == PacketClass::kDtls);
  CHECK(ClassifyFirstByte(64) == PacketClass::kTurnChannel);
  CHECK(ClassifyFirstByte(79) == PacketClass::kTurnChannel);
  CHECK(ClassifyFirstByte(80) == PacketClass::kUnknown);
  CHECK(ClassifyFirstByte(127) == PacketClass::kUnknown);
  CHECK(ClassifyFirstByte(128) == PacketClass::kRtpOrRtcp);
  CHECK(ClassifyFirstByte(191) == PacketClass::kRtpOrRtcp);
  CHECK(ClassifyFirstByte(192) == PacketClass::kUnknown);
  CHECK(ClassifyFirstByte(255) == PacketClass::kUnknown);
  CHECK(ClassifyPacket({}) == PacketClass::kUnknown);
  CHECK(ClassifyPacket(kVideo) == PacketClass::kRtpOrRtcp);

  CHECK_FALSE(IsRtcp(kVideo));  // PT 96
  CHECK_FALSE(IsRtcp(kAudio));  // marker + PT 111 = 0xef = 239
  const uint8_t rr[] = {0x81, 201, 0, 1};
  const uint8_t low[] = {0x80, 192};
  const uint8_t high[] = {0x80, 223};
  const uint8_t above[] = {0x80, 224};
  const uint8_t below[] = {0x80, 191};
  const uint8_t stun[] = {0x00, 200};
  const uint8_t one[] = {0x80};
  CHECK(IsRtcp(rr));
  CHECK(IsRtcp(low));
  CHECK(IsRtcp(high));
  CHECK_FALSE(IsRtcp(above));
  CHECK_FALSE(IsRtcp(below));  // marker set, PT 63
  CHECK_FALSE(IsRtcp(stun));
  CHECK_FALSE(IsRtcp(one));
  CHECK_FALSE(IsRtcp({}));
}

// ---- rtp_ext ----

TEST_CASE("rtp_ext: URIs and the extension map", "[rtp][ext]") {
  for (int k = 1; k < static_cast<int>(RtpExtensionKind::kCount); ++k) {
    auto kind = static_cast<RtpExtensionKind>(k);
    INFO(k);
    CHECK_FALSE(RtpExtensionUri(kind).empty());
    CHECK(RtpExtensionKindFromUri(RtpExtensionUri(kind)) == kind);
  }
  CHECK(RtpExtensionKindFromUri("urn:ietf:params:rtp-hdrext:sdes:mid") == RtpExtensionKind::kMid);
  CHECK(RtpExtensionKindFromUri("http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01") ==
        RtpExtensionKind::kTransportWideCc);
  CHECK(RtpExtensionKindFromUri("urn:example:nope") == RtpExtensionKind::kUnknown);
  CHECK(RtpExtensionUri(RtpExtensionKind::kUnknown).empty());

  ExtensionMap map;
  CHECK(map.empty());
  CHECK_FALSE(map.Set(0, RtpExtensionKind::kMid));
  CHECK_FALSE(map.Set(1, RtpExtensionKind::kCount));
  CHECK(map.Set(4, RtpExtensionKind::kMid));
  CHECK(map.Set(200, RtpExtensionKind::kRid));
  CHECK_FALSE(map.empty());
  CHECK(map.Lookup(4) == RtpExtensionKind::kMid);
  CHECK(map.Lookup(200) == RtpExtensionKind::kRid);
  CHECK(map.Lookup(5) == RtpExtensionKind::kUnknown);
  CHECK(map.IdOf(RtpExtensionKind::kMid) == 4);
  CHECK(map.IdOf(RtpExtensionKind::kAudioLevel) == 0);
  CHECK(map.IdOf(RtpExtensionKind::kCount) == 0);
  // Remapping a kind moves it; remapping an id forgets its old kind.
  CHECK(map.Set(9, RtpExtensionKind::kMid));
  CHECK(map.Lookup(4) == RtpExtensionKind::kUnknown);
  CHECK(map.IdOf(RtpExtensionKind::kMid) == 9);
  CHECK(map.Set(9, RtpExtensionKind::kAudioLevel));
  CHECK(map.IdOf(RtpExtensionKind::kMid) == 0);
  CHECK(map.IdOf(RtpExtensionKind::kAudioLevel) == 9);
  map.Erase(9);
  CHECK(map.IdOf(RtpExtensionKind::kAudioLevel) == 0);
  map.Clear();
  CHECK(map.empty());
  CHECK(map.Lookup(200) == RtpExtensionKind::kUnknown);
}

TEST_CASE("rtp_ext: value codecs", "[rtp][ext]") {
  // abs-send-time: 6.18 fixed point seconds.
  CHECK(AbsSendTimeFromMicros(0) == 0);
  CHECK(AbsSendTimeFromMicros(1000000) == 1u << 18);
  CHECK(AbsSendTimeFromMicros(1500000) == 3u << 17);
  CHECK(AbsSendTimeFromMicros(64000000) == 0);                  // wraps every 64 s
  CHECK(AbsSendTimeFromMicros(65000000) == 1u << 18);
  CHECK(AbsSendTimeFromMicros(-1000000) == (63u << 18));        // negative clocks wrap too
  CHECK(AbsSendTimeFromMicros(INT64_MAX) <= kAbsSendTimeMask);  // no overflow
  CHECK(AbsSendTimeToMicros(1u << 18) == 1000000);
  CHECK(AbsSendTimeToMicros(0xFFFFFF) == 63999996);
  for (int64_t us : {0LL, 1LL, 3814LL, 999999LL, 12345678LL, 63999999LL}) {
    int64_t back = AbsSendTimeToMicros(AbsSendTimeFromMicros(us));
    CHECK(back <= us);
    CHECK(us - back < 5);  // one step is 3.8 us, plus truncation
  }
  auto enc = EncodeAbsSendTime(0xab123456);  // only 24 bits are kept
  CHECK(enc == std::array<uint8_t, 3>{0x12, 0x34, 0x56});
  CHECK(ParseAbsSendTime(enc) == 0x123456u);
  CHECK_FALSE(ParseAbsSendTime(std::span<const uint8_t>(enc.data(), 2)));

  auto ts = EncodeTransportSequence(0xfedc);
  CHECK(ts == std::array<uint8_t, 2>{0xfe, 0xdc});
  CHECK(ParseTransportSequence(ts) == 0xfedc);
  CHECK_FALSE(ParseTransportSequence(std::span<const uint8_t>(enc.data(), 3)));
  CHECK_FALSE(ParseTransportSequence({}));

  const uint8_t lv[] = {0x8a};
  CHECK(ParseAudioLevel(lv) == AudioLevel{true, 10});
  const uint8_t lv2[] = {0x7f, 0x00, 0x00};  // two-byte form with padding after it
  CHECK(ParseAudioLevel(lv2) == AudioLevel{false, 127});
  CHECK_FALSE(ParseAudioLevel({}));
  CHECK(EncodeAudioLevel({true, 10}) == 0x8a);
  CHECK(EncodeAudioLevel({false, 200}) == 0x7f);  // clamped

  const uint8_t text[] = {'q', 0, 0};
  CHECK(ParseSdesText(text) == std::string_view("q"));
  const uint8_t nulls[] = {0, 0};
  CHECK_FALSE(ParseSdesText(nulls));
  CHECK_FALSE(ParseSdesText({}));
}

TEST_CASE("rtp_ext: typed lookups and rewrites over a packet", "[rtp][ext]") {
  ExtensionMap map;
  REQUIRE(map.Set(2, RtpExtensionKind::kAbsSendTime));
  REQUIRE(map.Set(3, RtpExtensionKind::kTransportWideCc));
  REQUIRE(map.Set(4, RtpExtensionKind::kMid));
  REQUIRE(map.Set(10, RtpExtensionKind::kRid));
  REQUIRE(map.Set(11, RtpExtensionKind::kRepairedRid));
  REQUIRE(map.Set(1, RtpExtensionKind::kAudioLevel));

  auto v = RtpView::Parse(kVideo);
  REQUIRE(v.ok());
  CHECK(GetMid(*v, map) == std::string_view("0"));
  CHECK(GetRid(*v, map) == std::string_view("h"));
  CHECK_FALSE(GetRepairedRid(*v, map));
  CHECK(GetAbsSendTime(*v, map) == 0x123456u);
  CHECK(GetTransportSequence(*v, map) == 42);
  CHECK_FALSE(GetAudioLevel(*v, map));

  ExtensionIndex index = IndexExtensions(*v, map);
  CHECK(index.Get(RtpExtensionKind::kMid)->size() == 1);
  CHECK(index.Get(RtpExtensionKind::kTransportWideCc)->size() == 2);
  CHECK_FALSE(index.Get(RtpExtensionKind::kAudioLevel));
  CHECK_FALSE(index.Get(RtpExtensionKind::kUnknown));
  CHECK_FALSE(index.Get(RtpExtensionKind::kCount));

  auto a = RtpView::Parse(kAudio);
  REQUIRE(a.ok());
  CHECK(GetAudioLevel(*a, map) == AudioLevel{true, 10});
  CHECK_FALSE(GetMid(*a, map));

  Bytes p = kVideo;
  auto m = MutableRtpView::Parse(p);
  REQUIRE(m.ok());
  CHECK(SetTransportSequence(*m, map, 0x0102));
  CHECK(SetAbsSendTime(*m, map, 0xabcdef));
  CHECK(GetTransportSequence(*m, map) == 0x0102);
  CHECK(GetAbsSendTime(*m, map) == 0xabcdefu);
  ExtensionMap none;
  CHECK_FALSE(SetTransportSequence(*m, none, 1));
  CHECK_FALSE(SetAbsSendTime(*m, none, 1));
  CHECK_FALSE(GetMid(*m, none));
  // Mapped but absent.
  Bytes q = kAudio;
  auto mq = MutableRtpView::Parse(q);
  REQUIRE(mq.ok());
  CHECK_FALSE(SetTransportSequence(*mq, map, 1));
}

// ---- Real packets captured from Chromium (tests/data/rtc/rtp/capture-packets.mjs) ----

namespace {

std::filesystem::path CaptureDir() {
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "data" / "rtc" / "rtp";
}

Bytes ReadBytes(const std::filesystem::path& p) {
  auto r = collab::base::ReadFile(p.string());
  REQUIRE(r.ok());
  return Bytes(r->begin(), r->end());
}

struct Negotiated {
  ExtensionMap map;
  std::set<int> ids;
  std::map<int, int> rtx_apt;  // RTX payload type -> the payload type it repairs
};

// Just the a=extmap and a=fmtp:N apt=M lines of the captured answer.
Negotiated ReadAnswer(const std::string& scenario) {
  auto text = collab::base::ReadFile((CaptureDir() / (scenario + "-answer.sdp")).string());
  REQUIRE(text.ok());
  Negotiated n;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    int id = 0, pt = 0, apt = 0;
    char uri[256] = {};
    if (std::sscanf(line.c_str(), "a=extmap:%d %255s", &id, uri) == 2) {
      n.ids.insert(id);
      n.map.Set(static_cast<uint8_t>(id), RtpExtensionKindFromUri(uri));
    } else if (std::sscanf(line.c_str(), "a=fmtp:%d apt=%d", &pt, &apt) == 2) {
      n.rtx_apt[pt] = apt;
    }
  }
  return n;
}

}  // namespace

TEST_CASE("rtp: real Chromium packets parse, rebuild byte for byte, and RTX-unwrap", "[rtp][capture]") {
  size_t files = 0, rtx_unwrapped = 0, probes = 0, with_level = 0;
  for (std::string scenario : {"twcc", "remb"}) {
    Negotiated neg = ReadAnswer(scenario);
    REQUIRE(neg.map.IdOf(RtpExtensionKind::kMid) != 0);
    std::vector<std::filesystem::path> paths;
    for (const auto& entry : std::filesystem::directory_iterator(CaptureDir())) {
      std::string name = entry.path().filename().string();
      if (name.rfind(scenario + "-pt", 0) == 0 && entry.path().extension() == ".bin") paths.push_back(entry.path());
    }
    std::sort(paths.begin(), paths.end());
    REQUIRE(paths.size() >= 5);
    for (const auto& path : paths) {
      INFO(path.filename().string());
      ++files;
      Bytes pkt = ReadBytes(path);
      auto v = RtpView::Parse(pkt);
      REQUIRE(v.ok());
      CHECK(v->ExtensionsWellFormed());
      CHECK(v->extension_form() == ExtensionForm::kOneByte);
      for (const RtpExtension& e : v->extensions()) CHECK(neg.ids.count(e.id) == 1);
      if (scenario == "twcc") {
        CHECK(GetTransportSequence(*v, neg.map).has_value());
      } else {
        CHECK_FALSE(GetTransportSequence(*v, neg.map).has_value());
        CHECK(GetAbsSendTime(*v, neg.map).has_value());
      }
      if (auto mid = FindExtension(*v, neg.map, RtpExtensionKind::kMid)) CHECK(ParseSdesText(*mid));
      if (v->payload_type() == 111 && v->payload_size() > 0) {  // audio padding probes carry none
        REQUIRE(GetAudioLevel(*v, neg.map).has_value());
        CHECK(GetAudioLevel(*v, neg.map)->level <= 127);
        ++with_level;
      }

      // The builder lays out what Chromium laid out.
      std::vector<uint32_t> csrcs;
      for (size_t i = 0; i < v->csrc_count(); ++i) csrcs.push_back(v->csrc(i));
      std::vector<RtpExtension> exts;
      for (const RtpExtension& e : v->extensions()) exts.push_back(e);
      RtpPacketSpec spec;
      spec.marker = v->marker();
      spec.payload_type = v->payload_type();
      spec.sequence_number = v->sequence_number();
      spec.timestamp = v->timestamp();
      spec.ssrc = v->ssrc();
      spec.csrcs = csrcs;
      spec.extensions = exts;
      spec.payload = v->payload();
      spec.padding = static_cast<uint8_t>(v->padding_size());
      auto rebuilt = BuildRtpPacket(spec);
      REQUIRE(rebuilt.ok());
      if (v->padding_size() == 0) {
        CHECK(*rebuilt == pkt);
      } else {
        // Padding content is the sender's business; everything before it must match.
        size_t n = pkt.size() - v->padding_size();
        CHECK(Bytes(rebuilt->begin(), rebuilt->begin() + static_cast<std::ptrdiff_t>(n)) ==
              Bytes(pkt.begin(), pkt.begin() + static_cast<std::ptrdiff_t>(n)));
        CHECK(rebuilt->back() == pkt.back());
      }

      auto apt = neg.rtx_apt.find(v->payload_type());
      if (apt == neg.rtx_apt.end()) continue;
      if (v->payload_size() == 0) {
        CHECK(v->padding_size() > 0);  // a bandwidth probe: padding only, nothing to unwrap
        CHECK_FALSE(RtxUnwrap(*v, static_cast<uint8_t>(apt->second), 1).ok());
        ++probes;
        continue;
      }
      auto original = RtxUnwrap(*v, static_cast<uint8_t>(apt->second), 0x55667788);
      REQUIRE(original.ok());
      auto o = RtpView::Parse(*original);
      REQUIRE(o.ok());
      CHECK(o->payload_type() == apt->second);
      CHECK(o->sequence_number() == *RtxOriginalSequenceNumber(*v));
      CHECK(o->payload_size() == v->payload_size() - 2);
      auto again = RtxWrap(*o, v->payload_type(), v->ssrc(), v->sequence_number());
      REQUIRE(again.ok());
      // Identical but for the padding (and the P bit saying so).
      REQUIRE(again->size() == pkt.size() - v->padding_size());
      CHECK(Bytes(again->begin() + 1, again->end()) ==
            Bytes(pkt.begin() + 1, pkt.begin() + static_cast<std::ptrdiff_t>(again->size())));
      CHECK(((*again)[0] | 0x20) == (pkt[0] | 0x20));
      ++rtx_unwrapped;
    }
  }
  CHECK(files >= 10);
  CHECK(with_level > 0);
  CHECK(probes > 0);
  CHECK(rtx_unwrapped > 0);
}
