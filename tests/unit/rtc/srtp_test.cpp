// SRTP/SRTCP sessions: round trips for both profiles in both directions with keys exported by a
// real DTLS handshake, size growth equal to the advertised overhead, an independent AES-GCM
// computation of one SRTP packet (RFC 3711 KDF + RFC 7714 IV/AAD) with OpenSSL EVP, tampering
// and wrong keys (auth_fail), replays (replay_fail / replay_old), reordering inside the window,
// repeat transmission, buffer-capacity checks, and garbage/truncated input.
#include <catch2/catch.hpp>

#include <openssl/evp.h>

#include <cstring>
#include <deque>
#include <optional>
#include <random>
#include <vector>

#include "lib/base/time.hpp"
#include "lib/rtc/certificate.hpp"
#include "lib/rtc/dtls.hpp"
#include "lib/rtc/srtp.hpp"

using namespace collab::rtc;
using collab::base::Error;

namespace {

constexpr SrtpProfile kProfiles[] = {SrtpProfile::kAeadAes128Gcm, SrtpProfile::kAes128CmHmacSha1_80};

std::vector<uint8_t> RandomBytes(size_t n, std::mt19937& rng) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// Two sessions that talk to each other: a's local key is b's remote key and vice versa.
struct SessionPair {
  std::unique_ptr<SrtpSession> a, b;
  SrtpKeys ka, kb;
  SessionPair(SrtpProfile profile, uint32_t seed = 7, SrtpSession::Options opt = {}) {
    std::mt19937 rng(seed);
    ka.profile = kb.profile = profile;
    ka.local_key_salt = RandomBytes(SrtpKeySaltLength(profile), rng);
    ka.remote_key_salt = RandomBytes(SrtpKeySaltLength(profile), rng);
    kb.local_key_salt = ka.remote_key_salt;
    kb.remote_key_salt = ka.local_key_salt;
    auto sa = SrtpSession::Create(ka, opt);
    auto sb = SrtpSession::Create(kb, opt);
    REQUIRE(sa.ok());
    REQUIRE(sb.ok());
    a = std::move(*sa);
    b = std::move(*sb);
  }
};

// An RTP packet: V=2, PT 96, the given seq/ssrc, payload of `payload` bytes, plus room.
std::vector<uint8_t> RtpPacket(uint16_t seq, uint32_t ssrc, size_t payload, size_t room = 64,
                               uint8_t fill = 0xAB) {
  std::vector<uint8_t> p(12 + payload + room, 0);
  p[0] = 0x80;
  p[1] = 96;
  p[2] = uint8_t(seq >> 8);
  p[3] = uint8_t(seq);
  p[4] = 0x12;
  p[5] = 0x34;
  p[6] = 0x56;
  p[7] = 0x78;  // timestamp
  p[8] = uint8_t(ssrc >> 24);
  p[9] = uint8_t(ssrc >> 16);
  p[10] = uint8_t(ssrc >> 8);
  p[11] = uint8_t(ssrc);
  for (size_t i = 0; i < payload; ++i) p[12 + i] = static_cast<uint8_t>(fill + i);
  return p;
}

// An RTCP receiver report with one report block (32 bytes) followed by room.
std::vector<uint8_t> RtcpRr(uint32_t ssrc, size_t room = 64) {
  std::vector<uint8_t> p(32 + room, 0);
  p[0] = 0x81;  // V=2, RC=1
  p[1] = 201;   // RR
  p[2] = 0;
  p[3] = 7;  // length in words - 1
  p[4] = uint8_t(ssrc >> 24);
  p[5] = uint8_t(ssrc >> 16);
  p[6] = uint8_t(ssrc >> 8);
  p[7] = uint8_t(ssrc);
  for (size_t i = 8; i < 32; ++i) p[i] = static_cast<uint8_t>(i);
  return p;
}

// ---- An independent SRTP AEAD_AES_128_GCM encryption (RFC 3711 4.3 KDF, RFC 7714 8) ----

std::vector<uint8_t> AesEcb(const std::vector<uint8_t>& key, const uint8_t block[16]) {
  std::vector<uint8_t> out(32);
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  int n = 0;
  REQUIRE(EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), nullptr, key.data(), nullptr) == 1);
  EVP_CIPHER_CTX_set_padding(c, 0);
  REQUIRE(EVP_EncryptUpdate(c, out.data(), &n, block, 16) == 1);
  EVP_CIPHER_CTX_free(c);
  out.resize(16);
  return out;
}

// The AES-CM PRF with key derivation rate 0: x = label-at-byte-7 XOR salt (112 bits, a 96-bit
// GCM salt padded with zero bytes), keystream block i = AES(master_key, x || i).
std::vector<uint8_t> Derive(const std::vector<uint8_t>& master_key,
                            const std::vector<uint8_t>& master_salt, uint8_t label, size_t len) {
  uint8_t x[14] = {};
  std::memcpy(x, master_salt.data(), std::min<size_t>(14, master_salt.size()));
  x[7] ^= label;
  std::vector<uint8_t> out;
  for (uint16_t i = 0; out.size() < len; ++i) {
    uint8_t block[16] = {};
    std::memcpy(block, x, 14);
    block[14] = uint8_t(i >> 8);
    block[15] = uint8_t(i);
    auto ks = AesEcb(master_key, block);
    out.insert(out.end(), ks.begin(), ks.end());
  }
  out.resize(len);
  return out;
}

std::vector<uint8_t> ReferenceGcmProtect(const std::vector<uint8_t>& key_salt,
                                         const std::vector<uint8_t>& rtp, size_t header_len) {
  std::vector<uint8_t> mk(key_salt.begin(), key_salt.begin() + 16);
  std::vector<uint8_t> ms(key_salt.begin() + 16, key_salt.end());
  auto k = Derive(mk, ms, 0x00, 16);
  auto s = Derive(mk, ms, 0x02, 12);
  uint8_t iv[12] = {0, 0, rtp[8], rtp[9], rtp[10], rtp[11], 0, 0, 0, 0, rtp[2], rtp[3]};  // ROC 0
  for (int i = 0; i < 12; ++i) iv[i] ^= s[i];
  std::vector<uint8_t> out(rtp.begin(), rtp.begin() + header_len);
  out.resize(rtp.size() + 16);
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  int n = 0;
  REQUIRE(EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), nullptr, nullptr, nullptr) == 1);
  REQUIRE(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, nullptr) == 1);
  REQUIRE(EVP_EncryptInit_ex(c, nullptr, nullptr, k.data(), iv) == 1);
  REQUIRE(EVP_EncryptUpdate(c, nullptr, &n, rtp.data(), static_cast<int>(header_len)) == 1);
  REQUIRE(EVP_EncryptUpdate(c, out.data() + header_len, &n, rtp.data() + header_len,
                            static_cast<int>(rtp.size() - header_len)) == 1);
  REQUIRE(EVP_EncryptFinal_ex(c, out.data() + header_len + n, &n) == 1);
  REQUIRE(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out.data() + rtp.size()) == 1);
  EVP_CIPHER_CTX_free(c);
  return out;
}

// A DTLS handshake in memory, for keys that really come from the exporter.
std::pair<SrtpKeys, SrtpKeys> HandshakeKeys(SrtpProfile profile) {
  auto cc = Certificate::Generate();
  auto sc = Certificate::Generate();
  REQUIRE(cc.ok());
  REQUIRE(sc.ok());
  std::deque<std::vector<uint8_t>> to_server, to_client;
  std::optional<SrtpKeys> ck, sk;
  DtlsTransport::Options opt;
  opt.srtp_profiles = {profile};
  DtlsTransport::Callbacks ccb, scb;
  ccb.send = [&](std::span<const uint8_t> d) { to_server.emplace_back(d.begin(), d.end()); };
  ccb.on_connected = [&](const SrtpKeys& k) { ck = k; };
  scb.send = [&](std::span<const uint8_t> d) { to_client.emplace_back(d.begin(), d.end()); };
  scb.on_connected = [&](const SrtpKeys& k) { sk = k; };
  auto client = DtlsTransport::Create(**cc, DtlsRole::kClient, (*sc)->fingerprint(), ccb, opt);
  auto server = DtlsTransport::Create(**sc, DtlsRole::kServer, (*cc)->fingerprint(), scb, opt);
  REQUIRE(client.ok());
  REQUIRE(server.ok());
  const int64_t now = collab::base::MonotonicMs();
  REQUIRE((*client)->Start(now).ok());
  for (int i = 0; i < 100 && (!to_server.empty() || !to_client.empty()); ++i) {
    while (!to_server.empty()) {
      auto d = std::move(to_server.front());
      to_server.pop_front();
      (*server)->HandleDatagram(d, now);
    }
    while (!to_client.empty()) {
      auto d = std::move(to_client.front());
      to_client.pop_front();
      (*client)->HandleDatagram(d, now);
    }
  }
  REQUIRE(ck.has_value());
  REQUIRE(sk.has_value());
  REQUIRE(ck->profile == profile);
  return {*ck, *sk};
}

}  // namespace

TEST_CASE("srtp: profile constants", "[srtp]") {
  CHECK(SrtpKeySaltLength(SrtpProfile::kAeadAes128Gcm) == 28);
  CHECK(SrtpKeySaltLength(SrtpProfile::kAes128CmHmacSha1_80) == 30);
  CHECK(SrtpRtpOverhead(SrtpProfile::kAeadAes128Gcm) == 16);
  CHECK(SrtpRtpOverhead(SrtpProfile::kAes128CmHmacSha1_80) == 10);
  CHECK(SrtpRtcpOverhead(SrtpProfile::kAeadAes128Gcm) == 20);
  CHECK(SrtpRtcpOverhead(SrtpProfile::kAes128CmHmacSha1_80) == 14);
  CHECK(kSrtpMaxRtpOverhead >= 16);
  CHECK(kSrtpMaxRtcpOverhead >= 20);
  CHECK(std::string(SrtpProfileName(SrtpProfile::kAeadAes128Gcm)) == "SRTP_AEAD_AES_128_GCM");
}

TEST_CASE("srtp: Create rejects bad keys and options", "[srtp]") {
  SrtpKeys k;
  k.profile = SrtpProfile::kAeadAes128Gcm;
  k.local_key_salt.assign(28, 1);
  k.remote_key_salt.assign(30, 2);  // CM length with the GCM profile
  CHECK_FALSE(SrtpSession::Create(k).ok());
  k.remote_key_salt.assign(28, 2);
  REQUIRE(SrtpSession::Create(k).ok());
  k.local_key_salt.clear();
  CHECK_FALSE(SrtpSession::Create(k).ok());
  k.local_key_salt.assign(28, 1);
  SrtpSession::Options opt;
  opt.replay_window = 10;
  CHECK_FALSE(SrtpSession::Create(k, opt).ok());
  k.profile = static_cast<SrtpProfile>(0x0002);
  CHECK_FALSE(SrtpSession::Create(k).ok());
}

TEST_CASE("srtp: RTP and RTCP round trips with DTLS-exported keys, both profiles", "[srtp]") {
  for (SrtpProfile profile : kProfiles) {
    INFO(SrtpProfileName(profile));
    auto [ck, sk] = HandshakeKeys(profile);
    auto client = SrtpSession::Create(ck);
    auto server = SrtpSession::Create(sk);
    REQUIRE(client.ok());
    REQUIRE(server.ok());
    for (int dir = 0; dir < 2; ++dir) {
      SrtpSession& tx = dir == 0 ? **client : **server;
      SrtpSession& rx = dir == 0 ? **server : **client;
      for (uint16_t seq = 100; seq < 110; ++seq) {
        auto pkt = RtpPacket(seq, 0xCAFE0000u + dir, 1188);
        const std::vector<uint8_t> plain(pkt.begin(), pkt.begin() + 1200);
        auto len = tx.ProtectRtp(pkt, 1200);
        REQUIRE(len.ok());
        CHECK(*len == 1200 + tx.rtp_overhead());
        CHECK(std::equal(plain.begin(), plain.begin() + 12, pkt.begin()));  // header in clear
        CHECK_FALSE(std::equal(plain.begin() + 12, plain.end(), pkt.begin() + 12));
        auto back = rx.UnprotectRtp(pkt, *len);
        REQUIRE(back.ok());
        REQUIRE(*back == 1200);
        CHECK(std::equal(plain.begin(), plain.end(), pkt.begin()));
      }
      auto rtcp = RtcpRr(0xBEEF0000u + dir);
      const std::vector<uint8_t> plain(rtcp.begin(), rtcp.begin() + 32);
      auto len = tx.ProtectRtcp(rtcp, 32);
      REQUIRE(len.ok());
      CHECK(*len == 32 + tx.rtcp_overhead());
      auto back = rx.UnprotectRtcp(rtcp, *len);
      REQUIRE(back.ok());
      REQUIRE(*back == 32);
      CHECK(std::equal(plain.begin(), plain.end(), rtcp.begin()));
    }
    // Each side decrypts nothing it sent itself: our own keys are not the peer's.
    auto pkt = RtpPacket(5, 1, 100);
    auto len = (*client)->ProtectRtp(pkt, 112);
    REQUIRE(len.ok());
    auto self = (*client)->UnprotectRtp(pkt, *len);
    REQUIRE_FALSE(self.ok());
    CHECK(IsSrtpAuthError(self.error()));
  }
}

TEST_CASE("srtp: AEAD_AES_128_GCM output equals an independent RFC 7714 computation", "[srtp]") {
  SessionPair sp(SrtpProfile::kAeadAes128Gcm, 42);
  for (size_t payload : {0u, 1u, 15u, 16u, 17u, 160u, 1188u}) {
    INFO("payload " << payload);
    auto pkt = RtpPacket(static_cast<uint16_t>(1000 + payload), 0x01020304, payload);
    const std::vector<uint8_t> plain(pkt.begin(), pkt.begin() + 12 + payload);
    auto expected = ReferenceGcmProtect(sp.ka.local_key_salt, plain, 12);
    auto len = sp.a->ProtectRtp(pkt, plain.size());
    REQUIRE(len.ok());
    REQUIRE(*len == expected.size());
    CHECK(std::equal(expected.begin(), expected.end(), pkt.begin()));
  }
}

TEST_CASE("srtp: CSRCs and header extensions stay authenticated and in clear", "[srtp]") {
  for (SrtpProfile profile : kProfiles) {
    SessionPair sp(profile);
    // V=2, X=1, CC=2, then 2 CSRCs and a one-byte-header extension block of one word.
    std::vector<uint8_t> pkt = RtpPacket(7, 0xAABBCCDD, 0, 200);
    pkt[0] = 0x80 | 0x10 | 0x02;
    std::vector<uint8_t> extra = {0, 0, 0, 1, 0, 0, 0, 2, 0xBE, 0xDE, 0, 1, 0x10, 0x42, 0, 0};
    pkt.insert(pkt.begin() + 12, extra.begin(), extra.end());
    for (int i = 0; i < 50; ++i) pkt[12 + extra.size() + i] = static_cast<uint8_t>(i);
    const size_t len0 = 12 + extra.size() + 50;
    const std::vector<uint8_t> plain(pkt.begin(), pkt.begin() + len0);
    auto len = sp.a->ProtectRtp(pkt, len0);
    REQUIRE(len.ok());
    CHECK(std::equal(plain.begin(), plain.begin() + 28, pkt.begin()));
    auto tampered = pkt;
    tampered[13] ^= 1;  // a CSRC byte: authenticated
    CHECK_FALSE(sp.b->UnprotectRtp(tampered, *len).ok());
    auto back = sp.b->UnprotectRtp(pkt, *len);
    REQUIRE(back.ok());
    CHECK(*back == len0);
    CHECK(std::equal(plain.begin(), plain.end(), pkt.begin()));
  }
}

TEST_CASE("srtp: tampering and wrong keys fail authentication", "[srtp]") {
  for (SrtpProfile profile : kProfiles) {
    INFO(SrtpProfileName(profile));
    SessionPair sp(profile);
    auto pkt = RtpPacket(1, 0x11111111, 300);
    auto len = sp.a->ProtectRtp(pkt, 312);
    REQUIRE(len.ok());
    // One flipped bit anywhere - header, payload, tag - is caught.
    for (size_t pos : {size_t{1}, size_t{4}, size_t{12}, size_t{200}, *len - 1}) {
      auto t = pkt;
      t[pos] ^= 0x01;
      auto r = sp.b->UnprotectRtp(t, *len);
      INFO("pos " << pos);
      REQUIRE_FALSE(r.ok());
      CHECK(IsSrtpAuthError(r.error()));
      CHECK(r.error().code == collab::base::kExitDataErr);
      CHECK(r.error().message == "auth_fail");
    }
    // Tag cut short.
    auto t = pkt;
    CHECK_FALSE(sp.b->UnprotectRtp(t, *len - 1).ok());
    // A session with other keys.
    SessionPair other(profile, 99);
    t = pkt;
    auto r = other.b->UnprotectRtp(t, *len);
    REQUIRE_FALSE(r.ok());
    CHECK(IsSrtpAuthError(r.error()));
    // The genuine packet still passes after all that.
    REQUIRE(sp.b->UnprotectRtp(pkt, *len).ok());

    auto rtcp = RtcpRr(0x2222);
    auto rlen = sp.a->ProtectRtcp(rtcp, 32);
    REQUIRE(rlen.ok());
    auto rt = rtcp;
    rt[10] ^= 0x80;
    auto rr = sp.b->UnprotectRtcp(rt, *rlen);
    REQUIRE_FALSE(rr.ok());
    CHECK(IsSrtpAuthError(rr.error()));
    REQUIRE(sp.b->UnprotectRtcp(rtcp, *rlen).ok());
  }
}

TEST_CASE("srtp: replays are rejected, reordering within the window is not", "[srtp]") {
  for (SrtpProfile profile : kProfiles) {
    INFO(SrtpProfileName(profile));
    SessionPair sp(profile);
    std::vector<std::vector<uint8_t>> wire;
    std::vector<size_t> lens;
    for (uint16_t seq = 0; seq < 1100; ++seq) {
      auto pkt = RtpPacket(seq, 0x33333333, 40);
      auto len = sp.a->ProtectRtp(pkt, 52);
      REQUIRE(len.ok());
      wire.push_back(pkt);
      lens.push_back(*len);
    }
    auto deliver = [&](size_t i) {
      auto copy = wire[i];
      return sp.b->UnprotectRtp(copy, lens[i]);
    };
    REQUIRE(deliver(10).ok());
    REQUIRE(deliver(5).ok());  // late but inside the window
    auto again = deliver(10);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().message == "replay_fail");
    CHECK(IsSrtpReplayError(again.error()));
    CHECK_FALSE(IsSrtpAuthError(again.error()));
    REQUIRE(deliver(1099).ok());
    auto old = deliver(6);  // 1093 behind: outside the 1024 window
    REQUIRE_FALSE(old.ok());
    CHECK(old.error().message == "replay_old");
    CHECK(IsSrtpReplayError(old.error()));
    REQUIRE(deliver(200).ok());  // 899 behind: inside the window
    // RTCP replay.
    auto rtcp = RtcpRr(0x4444);
    auto rlen = sp.a->ProtectRtcp(rtcp, 32);
    REQUIRE(rlen.ok());
    auto c1 = rtcp, c2 = rtcp;
    REQUIRE(sp.b->UnprotectRtcp(c1, *rlen).ok());
    auto r2 = sp.b->UnprotectRtcp(c2, *rlen);
    REQUIRE_FALSE(r2.ok());
    CHECK(IsSrtpReplayError(r2.error()));
    // RemoveStream forgets the replay state (the SSRC could now be reused).
    sp.b->RemoveStream(0x33333333);
    sp.b->RemoveStream(0x99999999);  // unknown: fine
    REQUIRE(deliver(10).ok());
  }
}

TEST_CASE("srtp: repeat transmission of a sequence number", "[srtp]") {
  SessionPair allowed(SrtpProfile::kAeadAes128Gcm);
  auto p1 = RtpPacket(9, 5, 20);
  auto p2 = RtpPacket(9, 5, 20);
  REQUIRE(allowed.a->ProtectRtp(p1, 32).ok());
  REQUIRE(allowed.a->ProtectRtp(p2, 32).ok());
  CHECK(p1 == p2);  // same input, same keys, same index: same output

  SrtpSession::Options strict;
  strict.allow_repeat_tx = false;
  SessionPair refused(SrtpProfile::kAeadAes128Gcm, 7, strict);
  auto q1 = RtpPacket(9, 5, 20);
  auto q2 = RtpPacket(9, 5, 20);
  REQUIRE(refused.a->ProtectRtp(q1, 32).ok());
  auto r = refused.a->ProtectRtp(q2, 32);
  REQUIRE_FALSE(r.ok());
  CHECK(IsSrtpReplayError(r.error()));
}

TEST_CASE("srtp: buffer capacity and length checks", "[srtp]") {
  for (SrtpProfile profile : kProfiles) {
    SessionPair sp(profile);
    const size_t ov = sp.a->rtp_overhead();
    auto pkt = RtpPacket(1, 1, 100, 0);
    std::vector<uint8_t> exact(112 + ov);
    std::copy(pkt.begin(), pkt.end(), exact.begin());
    auto small = std::span<uint8_t>(exact).first(112 + ov - 1);
    auto r = sp.a->ProtectRtp(small, 112);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == collab::base::kExitUsage);
    CHECK(r.error().message == "no_room");
    REQUIRE(sp.a->ProtectRtp(exact, 112).ok());  // exactly enough
    CHECK(sp.a->ProtectRtp(exact, exact.size() + 1).error().message == "len_over_cap");
    CHECK(sp.a->ProtectRtp(exact, 11).error().message == "too_short");
    CHECK(sp.b->UnprotectRtp(exact, 0).error().message == "too_short");
    std::vector<uint8_t> rtcp(40);
    CHECK(sp.a->ProtectRtcp(std::span<uint8_t>(rtcp).first(32 + sp.a->rtcp_overhead() - 1), 32)
              .error()
              .message == "no_room");
    CHECK(sp.a->ProtectRtcp(rtcp, 7).error().message == "too_short");
  }
}

TEST_CASE("srtp: garbage and truncated packets fail cleanly", "[srtp]") {
  std::mt19937 rng(5);
  for (SrtpProfile profile : kProfiles) {
    SessionPair sp(profile);
    auto pkt = RtpPacket(77, 0x55555555, 500);
    // Header claims CSRCs and an extension longer than the packet after protection.
    auto len = sp.a->ProtectRtp(pkt, 512);
    REQUIRE(len.ok());
    for (size_t n = 0; n < *len; ++n) {
      std::vector<uint8_t> t(pkt.begin(), pkt.begin() + n);
      t.resize(n + 32);  // capacity beyond, contents after n irrelevant
      CHECK_FALSE(sp.b->UnprotectRtp(t, n).ok());
      CHECK_FALSE(sp.b->UnprotectRtcp(t, n).ok());
    }
    for (int i = 0; i < 2000; ++i) {
      auto g = RandomBytes(rng() % 300, rng);
      if (!g.empty() && (i & 1)) g[0] = static_cast<uint8_t>(0x80 | (g[0] & 0x3F));
      g.resize(g.size() + 32);
      size_t glen = g.size() - 32;
      auto g2 = g;
      auto r1 = sp.b->UnprotectRtp(g, glen);
      auto r2 = sp.b->UnprotectRtcp(g2, glen);
      REQUIRE_FALSE(r1.ok());
      REQUIRE_FALSE(r2.ok());
      // Whatever libsrtp says about a bad packet (auth_fail, cant_check, ...) is bad data.
      CHECK(r1.error().code == collab::base::kExitDataErr);
      CHECK(r2.error().code == collab::base::kExitDataErr);
    }
    // Headers whose CSRC count / extension length point past the end.
    auto bad = RtpPacket(1, 2, 4, 64);
    bad[0] = 0x8F;  // 15 CSRCs in a 16-byte packet
    CHECK_FALSE(sp.b->UnprotectRtp(bad, 16).ok());
    CHECK_FALSE(sp.a->ProtectRtp(bad, 16).ok());
    bad = RtpPacket(1, 2, 4, 64);
    bad[0] = 0x90;  // extension present, header says 0xFFFF words
    bad[12] = 0xBE;
    bad[13] = 0xDE;
    bad[14] = 0xFF;
    bad[15] = 0xFF;
    CHECK_FALSE(sp.b->UnprotectRtp(bad, 16).ok());
    CHECK_FALSE(sp.a->ProtectRtp(bad, 16).ok());
    // The genuine packet still works afterwards.
    REQUIRE(sp.b->UnprotectRtp(pkt, *len).ok());
  }
}
