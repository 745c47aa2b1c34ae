// DTLS-SRTP transport and certificates: fingerprint parsing vectors and bad input, the generated
// certificate's properties, back-to-back handshakes in memory in both roles (profiles, MTU,
// ClientHello fragmented and reordered across datagrams, cookie exchange, loss recovered by the
// retransmission timer, fingerprint mismatch, garbage, alerts, timeouts, close_notify, app data,
// destruction from a callback), and interop with the openssl(1) s_client/s_server over loopback UDP.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "lib/base/time.hpp"
#include "lib/rtc/certificate.hpp"
#include "lib/rtc/dtls.hpp"

extern char** environ;

using namespace collab::rtc;
using collab::base::Error;
using collab::base::MonotonicMs;

namespace {

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

std::shared_ptr<const Certificate> NewCert() {
  auto c = Certificate::Generate();
  REQUIRE(c.ok());
  return *c;
}

// ---- An in-memory pair of transports ----

struct Side {
  std::unique_ptr<DtlsTransport> t;
  std::deque<std::vector<uint8_t>> out;
  std::optional<SrtpKeys> keys;
  std::optional<Error> closed;
  std::vector<std::string> app;
  size_t sent = 0;
  size_t max_datagram = 0;
  int connected_calls = 0;
  int closed_calls = 0;
};

using Filter = std::function<std::vector<std::vector<uint8_t>>(bool from_client, size_t index,
                                                               std::vector<uint8_t> datagram)>;

struct PairConfig {
  DtlsTransport::Options client_opt;
  DtlsTransport::Options server_opt;
  std::string client_expects;  // default: the server's real fingerprint
  std::string server_expects;
};

class Pair {
 public:
  explicit Pair(PairConfig cfg = {}) {
    client_cert = NewCert();
    server_cert = NewCert();
    Make(client, *client_cert, DtlsRole::kClient,
         cfg.client_expects.empty() ? server_cert->fingerprint() : cfg.client_expects,
         cfg.client_opt);
    Make(server, *server_cert, DtlsRole::kServer,
         cfg.server_expects.empty() ? client_cert->fingerprint() : cfg.server_expects,
         cfg.server_opt);
  }

  void Start() {
    int64_t now = MonotonicMs();
    // A server that already saw a datagram has started implicitly.
    if (server.t->state() == DtlsState::kNew) REQUIRE(server.t->Start(now).ok());
    REQUIRE(client.t->Start(now).ok());
  }

  bool Busy(const Side& s) const { return s.t && s.t->state() == DtlsState::kConnecting; }

  // Moves datagrams between the two sides (through the filter) and drives the timers with the
  // real clock, until neither side is handshaking and nothing is in flight, or max_ms passed.
  void Run(int64_t max_ms = 10000) {
    const int64_t start = MonotonicMs();
    for (int iter = 0; iter < 100000; ++iter) {
      bool moved = false;
      moved |= Carry(client, server, true, client_index);
      moved |= Carry(server, client, false, server_index);
      if (moved) continue;
      if (!Busy(client) && !Busy(server)) return;
      int64_t now = MonotonicMs();
      if (now - start > max_ms) return;
      int64_t next = -1;
      for (Side* s : {&client, &server}) {
        if (!s->t) continue;
        int64_t t = s->t->NextTimeoutMs(now);
        if (t >= 0 && (next < 0 || t < next)) next = t;
      }
      if (next < 0) return;  // nobody waits for anything: stuck
      next = std::min(next, start + max_ms + 1);
      if (next > now) std::this_thread::sleep_for(std::chrono::milliseconds(next - now));
      timer_fires++;
      if (client.t) client.t->HandleTimeout(MonotonicMs());
      if (server.t) server.t->HandleTimeout(MonotonicMs());
    }
  }

  std::shared_ptr<const Certificate> client_cert, server_cert;
  Side client, server;
  Filter filter;
  size_t client_index = 0, server_index = 0;
  int timer_fires = 0;

 private:
  void Make(Side& side, const Certificate& cert, DtlsRole role, const std::string& expects,
            const DtlsTransport::Options& opt) {
    DtlsTransport::Callbacks cb;
    cb.send = [&side](std::span<const uint8_t> d) {
      side.out.emplace_back(d.begin(), d.end());
      side.sent++;
      side.max_datagram = std::max(side.max_datagram, d.size());
    };
    cb.on_connected = [&side](const SrtpKeys& k) {
      side.keys = k;
      side.connected_calls++;
    };
    cb.on_closed = [&side](const Error& e) {
      side.closed = e;
      side.closed_calls++;
    };
    cb.on_app_data = [&side](std::span<const uint8_t> d) { side.app.emplace_back(d.begin(), d.end()); };
    auto t = DtlsTransport::Create(cert, role, expects, std::move(cb), opt);
    REQUIRE(t.ok());
    side.t = std::move(*t);
  }

  bool Carry(Side& from, Side& to, bool from_client, size_t& index) {
    bool moved = false;
    while (!from.out.empty()) {
      std::vector<uint8_t> d = std::move(from.out.front());
      from.out.pop_front();
      moved = true;
      std::vector<std::vector<uint8_t>> pieces;
      if (filter)
        pieces = filter(from_client, index, std::move(d));
      else
        pieces.push_back(std::move(d));
      index++;
      for (auto& p : pieces)
        if (to.t) to.t->HandleDatagram(p, MonotonicMs());
    }
    return moved;
  }
};

void RequireConnected(Pair& p) {
  REQUIRE(p.client.t->state() == DtlsState::kConnected);
  REQUIRE(p.server.t->state() == DtlsState::kConnected);
  REQUIRE(p.client.keys.has_value());
  REQUIRE(p.server.keys.has_value());
  CHECK(p.client.connected_calls == 1);
  CHECK(p.server.connected_calls == 1);
  CHECK(p.client.keys->profile == p.server.keys->profile);
  CHECK(p.client.keys->local_key_salt == p.server.keys->remote_key_salt);
  CHECK(p.client.keys->remote_key_salt == p.server.keys->local_key_salt);
  CHECK(p.client.keys->local_key_salt != p.client.keys->remote_key_salt);
  CHECK(p.client.keys->local_key_salt.size() == SrtpKeySaltLength(p.client.keys->profile));
  CHECK(p.client.t->remote_fingerprint() == p.server_cert->fingerprint());
  CHECK(p.server.t->remote_fingerprint() == p.client_cert->fingerprint());
  CHECK_FALSE(p.client.closed.has_value());
  CHECK_FALSE(p.server.closed.has_value());
}

uint64_t Get48(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 6; ++i) v = v << 8 | p[i];
  return v;
}
void Put48(uint8_t* p, uint64_t v) {
  for (int i = 5; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
void Put24(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 16);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v);
}
uint32_t Get24(const uint8_t* p) { return uint32_t(p[0]) << 16 | uint32_t(p[1]) << 8 | p[2]; }

struct Record {
  uint8_t type;
  uint16_t epoch;
  uint64_t seq;
  std::vector<uint8_t> body;
};

std::vector<Record> SplitRecords(const std::vector<uint8_t>& d) {
  std::vector<Record> out;
  size_t off = 0;
  while (off + 13 <= d.size()) {
    size_t len = size_t(d[off + 11]) << 8 | d[off + 12];
    REQUIRE(off + 13 + len <= d.size());
    out.push_back(Record{d[off], uint16_t(d[off + 3] << 8 | d[off + 4]), Get48(&d[off + 5]),
                         std::vector<uint8_t>(d.begin() + off + 13, d.begin() + off + 13 + len)});
    off += 13 + len;
  }
  REQUIRE(off == d.size());
  return out;
}

std::vector<uint8_t> MakeRecord(uint8_t type, uint16_t epoch, uint64_t seq,
                                const std::vector<uint8_t>& body) {
  std::vector<uint8_t> r(13);
  r[0] = type;
  r[1] = 0xFE;
  r[2] = 0xFD;  // DTLS 1.2
  r[3] = uint8_t(epoch >> 8);
  r[4] = uint8_t(epoch);
  Put48(&r[5], seq);
  r[11] = uint8_t(body.size() >> 8);
  r[12] = uint8_t(body.size());
  r.insert(r.end(), body.begin(), body.end());
  return r;
}

// Rewrites a peer's epoch-0 handshake messages into fragments of `chunk` bytes, one record per
// datagram, optionally in reverse order, renumbering epoch-0 record sequence numbers (those
// records are unauthenticated, so the receiver cannot tell). This is what a large ClientHello
// from a browser looks like on the wire, plus reordering.
struct Refragmenter {
  size_t chunk;
  bool reverse;
  uint64_t next_seq = 0;
  int fragments_made = 0;

  std::vector<std::vector<uint8_t>> operator()(const std::vector<uint8_t>& d) {
    std::vector<std::vector<uint8_t>> out;
    for (const Record& r : SplitRecords(d)) {
      if (r.epoch != 0) {
        out.push_back(MakeRecord(r.type, r.epoch, r.seq, r.body));
        continue;
      }
      if (r.type != 22 || r.body.size() < 12) {
        out.push_back(MakeRecord(r.type, 0, next_seq++, r.body));
        continue;
      }
      const uint32_t msg_len = Get24(&r.body[1]);
      const uint32_t frag_off = Get24(&r.body[6]);
      const uint32_t frag_len = Get24(&r.body[9]);
      REQUIRE(12 + frag_len == r.body.size());
      std::vector<std::vector<uint8_t>> frags;
      for (uint32_t o = 0; o < frag_len; o += static_cast<uint32_t>(chunk)) {
        uint32_t n = std::min<uint32_t>(static_cast<uint32_t>(chunk), frag_len - o);
        std::vector<uint8_t> body(r.body.begin(), r.body.begin() + 12);
        Put24(&body[1], msg_len);
        Put24(&body[6], frag_off + o);
        Put24(&body[9], n);
        body.insert(body.end(), r.body.begin() + 12 + o, r.body.begin() + 12 + o + n);
        frags.push_back(std::move(body));
      }
      if (reverse) std::reverse(frags.begin(), frags.end());
      for (auto& f : frags) {
        out.push_back(MakeRecord(22, 0, next_seq++, f));
        fragments_made++;
      }
    }
    return out;
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------

TEST_CASE("fingerprint: known SHA vectors and SDP formatting", "[dtls][fingerprint]") {
  auto abc = Bytes("abc");
  auto fp = CertificateFingerprint::Compute(CertificateFingerprint::Hash::kSha256, abc);
  REQUIRE(fp.ok());
  CHECK(fp->ToString() ==
        "sha-256 BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:"
        "FF:61:F2:00:15:AD");
  auto fp1 = CertificateFingerprint::Compute(CertificateFingerprint::Hash::kSha1, abc);
  REQUIRE(fp1.ok());
  CHECK(fp1->ToString() == "sha-1 A9:99:3E:36:47:06:81:6A:BA:3E:25:71:78:50:C2:6C:9C:D0:D8:9D");
  CHECK(fp->Matches(abc));
  CHECK_FALSE(fp->Matches(Bytes("abd")));
  for (auto h : {CertificateFingerprint::Hash::kSha1, CertificateFingerprint::Hash::kSha256,
                 CertificateFingerprint::Hash::kSha384, CertificateFingerprint::Hash::kSha512}) {
    auto c = CertificateFingerprint::Compute(h, abc);
    REQUIRE(c.ok());
    auto back = CertificateFingerprint::Parse(c->ToString());
    REQUIRE(back.ok());
    CHECK(*back == *c);
  }
}

TEST_CASE("fingerprint: parsing accepts SDP spellings", "[dtls][fingerprint]") {
  const std::string hex =
      "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:"
      "15:AD";
  std::string lower = hex;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  for (const std::string& s : {"sha-256 " + hex, "SHA-256 " + hex, "sha-256 " + lower,
                               "  sha-256\t " + hex + "\r\n", "Sha-256 " + lower}) {
    auto fp = CertificateFingerprint::Parse(s);
    INFO(s);
    REQUIRE(fp.ok());
    CHECK(fp->hash == CertificateFingerprint::Hash::kSha256);
    CHECK(fp->digest.size() == 32);
    CHECK(fp->digest[0] == 0xBA);
    CHECK(fp->digest[31] == 0xAD);
    CHECK(fp->Matches(Bytes("abc")));
  }
}

TEST_CASE("fingerprint: bad input is rejected with a reason", "[dtls][fingerprint]") {
  const std::string good =
      "sha-256 BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:"
      "61:F2:00:15:AD";
  REQUIRE(CertificateFingerprint::Parse(good).ok());
  const std::vector<std::string> bad = {
      "",
      "sha-256",
      "sha-256 ",
      "BA:78",
      "md5 BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23",
      "sha-257 " + good.substr(8),
      "sha256 " + good.substr(8),
      good + ":00",                                   // too long
      good.substr(0, good.size() - 3),                // one byte short
      good.substr(0, good.size() - 1),                // half a byte
      good + ":",                                     // trailing colon
      "sha-256 BA-78" + good.substr(13),              // wrong separator
      "sha-256 BG" + good.substr(10),                 // not hex
      "sha-1 " + good.substr(8),                      // length of the wrong hash
      "sha-256 " + std::string(95, 'A'),              // no colons
  };
  for (const auto& s : bad) {
    INFO("input: '" << s << "'");
    auto r = CertificateFingerprint::Parse(s);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == collab::base::kExitDataErr);
    CHECK(r.error().message.rfind("fingerprint:", 0) == 0);
  }
  // Every truncation of a valid value fails, never reads past the end.
  for (size_t n = 0; n < good.size(); ++n) CHECK_FALSE(CertificateFingerprint::Parse(good.substr(0, n)).ok());
}

TEST_CASE("certificate: self-signed ECDSA P-256, 30 days, random CN and serial", "[dtls][cert]") {
  auto a = NewCert();
  auto b = NewCert();
  CHECK(a->fingerprint() != b->fingerprint());
  CHECK(a->common_name() != b->common_name());
  CHECK(a->common_name().size() == 16);
  REQUIRE(a->fingerprint().size() == 8 + 32 * 3 - 1);
  CHECK(a->fingerprint().rfind("sha-256 ", 0) == 0);
  auto parsed = CertificateFingerprint::Parse(a->fingerprint());
  REQUIRE(parsed.ok());
  CHECK(parsed->Matches(a->der()));
  CHECK_FALSE(parsed->Matches(b->der()));

  const unsigned char* p = a->der().data();
  X509* x = d2i_X509(nullptr, &p, static_cast<long>(a->der().size()));
  REQUIRE(x != nullptr);
  EVP_PKEY* pub = X509_get0_pubkey(x);
  REQUIRE(pub != nullptr);
  CHECK(EVP_PKEY_is_a(pub, "EC"));
  char group[32] = {};
  size_t glen = 0;
  CHECK(EVP_PKEY_get_utf8_string_param(pub, "group", group, sizeof group, &glen) == 1);
  CHECK(std::string(group) == "prime256v1");
  CHECK(X509_verify(x, pub) == 1);  // self-signed
  CHECK(X509_check_issued(x, x) == X509_V_OK);
  int days = 0, secs = 0;
  CHECK(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)) == 1);
  CHECK(days == 31);  // backdated one day for clock skew, then 30 days
  int after_days = 0;
  CHECK(ASN1_TIME_diff(&after_days, &secs, nullptr, X509_get0_notAfter(x)) == 1);
  CHECK((after_days == 30 || after_days == 29));
  const ASN1_INTEGER* serial = X509_get0_serialNumber(x);
  BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr);
  CHECK(!BN_is_negative(bn));
  CHECK(!BN_is_zero(bn));
  BN_free(bn);
  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
  CHECK(std::string(cn) == a->common_name());
  CHECK(X509_get_signature_nid(x) == NID_ecdsa_with_SHA256);
  X509_free(x);

  auto p1 = Certificate::ForProcess();
  auto p2 = Certificate::ForProcess();
  REQUIRE(p1.ok());
  REQUIRE(p2.ok());
  CHECK(p1->get() == p2->get());
}

TEST_CASE("dtls: Create validates its arguments", "[dtls]") {
  auto cert = NewCert();
  DtlsTransport::Callbacks cb;
  cb.send = [](std::span<const uint8_t>) {};
  CHECK_FALSE(DtlsTransport::Create(*cert, DtlsRole::kServer, "sha-256 00:11", cb).ok());
  CHECK_FALSE(DtlsTransport::Create(*cert, DtlsRole::kServer, "", cb).ok());
  CHECK_FALSE(DtlsTransport::Create(*cert, DtlsRole::kServer, cert->fingerprint(), {}).ok());
  DtlsTransport::Options small;
  small.mtu = 100;
  CHECK_FALSE(DtlsTransport::Create(*cert, DtlsRole::kServer, cert->fingerprint(), cb, small).ok());
  DtlsTransport::Options none;
  none.srtp_profiles.clear();
  CHECK_FALSE(DtlsTransport::Create(*cert, DtlsRole::kServer, cert->fingerprint(), cb, none).ok());
  DtlsTransport::Options timers;
  timers.initial_retransmit_ms = 0;
  CHECK_FALSE(DtlsTransport::Create(*cert, DtlsRole::kServer, cert->fingerprint(), cb, timers).ok());

  auto t = DtlsTransport::Create(*cert, DtlsRole::kClient, cert->fingerprint(), cb);
  REQUIRE(t.ok());
  CHECK((*t)->state() == DtlsState::kNew);
  CHECK((*t)->NextTimeoutMs(0) == -1);
  CHECK_FALSE((*t)->SendAppData(Bytes("x")).ok());
  CHECK((*t)->MaxAppDataSize() == 0);
  REQUIRE((*t)->Start(1000).ok());
  CHECK_FALSE((*t)->Start(1000).ok());
  CHECK((*t)->state() == DtlsState::kConnecting);
  // A ClientHello is out and both the retransmission timer and the handshake deadline run.
  int64_t next = (*t)->NextTimeoutMs(1000);
  CHECK(next > 1000);
  CHECK(next <= 1000 + 250 + 1);
}

TEST_CASE("dtls: back-to-back handshake negotiates AES-GCM and mirrored keys", "[dtls]") {
  Pair p;
  p.Start();
  p.Run();
  RequireConnected(p);
  CHECK(p.client.keys->profile == SrtpProfile::kAeadAes128Gcm);
  CHECK(p.client.keys->local_key_salt.size() == 28);
  CHECK(p.client.max_datagram <= 1200);
  CHECK(p.server.max_datagram <= 1200);
  // Flights are packed: the server's whole first flight fits one 1200-byte datagram.
  CHECK(p.server.sent <= 3);
  // Nothing left to retransmit once both sides are done... except the server, which keeps its
  // last flight until the client shows it arrived; no timer fired during the handshake.
  CHECK(p.timer_fires == 0);
  CHECK(p.client.t->NextTimeoutMs(MonotonicMs()) == -1);
}

TEST_CASE("dtls: SRTP profile selection follows the server's preference", "[dtls]") {
  SECTION("client offers only AES-CM") {
    PairConfig cfg;
    cfg.client_opt.srtp_profiles = {SrtpProfile::kAes128CmHmacSha1_80};
    Pair p(cfg);
    p.Start();
    p.Run();
    RequireConnected(p);
    CHECK(p.server.keys->profile == SrtpProfile::kAes128CmHmacSha1_80);
    CHECK(p.server.keys->local_key_salt.size() == 30);
  }
  SECTION("client prefers AES-CM, server prefers GCM: GCM") {
    PairConfig cfg;
    cfg.client_opt.srtp_profiles = {SrtpProfile::kAes128CmHmacSha1_80, SrtpProfile::kAeadAes128Gcm};
    Pair p(cfg);
    p.Start();
    p.Run();
    RequireConnected(p);
    CHECK(p.server.keys->profile == SrtpProfile::kAeadAes128Gcm);
  }
  SECTION("no common profile fails on both sides") {
    PairConfig cfg;
    cfg.client_opt.srtp_profiles = {SrtpProfile::kAes128CmHmacSha1_80};
    cfg.server_opt.srtp_profiles = {SrtpProfile::kAeadAes128Gcm};
    Pair p(cfg);
    p.Start();
    p.Run();
    CHECK(p.server.t->state() == DtlsState::kFailed);
    CHECK(p.client.t->state() == DtlsState::kFailed);
    REQUIRE(p.server.closed.has_value());
    CHECK(p.server.closed->message.find("use_srtp") != std::string::npos);
    CHECK_FALSE(p.server.keys.has_value());
    CHECK_FALSE(p.client.keys.has_value());
  }
}

TEST_CASE("dtls: small MTU fragments flights, datagrams never exceed it", "[dtls]") {
  PairConfig cfg;
  cfg.client_opt.mtu = 300;
  cfg.server_opt.mtu = 256;
  Pair p(cfg);
  p.Start();
  p.Run();
  RequireConnected(p);
  CHECK(p.client.max_datagram <= 300);
  CHECK(p.server.max_datagram <= 256);
  CHECK(p.server.sent >= 3);  // the certificate alone needs more than one 256-byte datagram
}

TEST_CASE("dtls: ClientHello split over many datagrams and reordered is reassembled", "[dtls]") {
  for (bool reverse : {false, true}) {
    INFO("reverse " << reverse);
    Pair p;
    Refragmenter frag{48, reverse};
    size_t datagrams_to_server = 0;
    p.filter = [&](bool from_client, size_t, std::vector<uint8_t> d) {
      if (!from_client) return std::vector<std::vector<uint8_t>>{std::move(d)};
      auto pieces = frag(d);
      datagrams_to_server += pieces.size();
      return pieces;
    };
    p.Start();
    p.Run();
    RequireConnected(p);
    CHECK(frag.fragments_made >= 8);  // ClientHello + certificate + key exchange + verify
    CHECK(datagrams_to_server > p.client.sent);
    CHECK(p.timer_fires == 0);  // reassembly, not retransmission, made it work
  }
}

TEST_CASE("dtls: cookie exchange (HelloVerifyRequest) as server, handled as client", "[dtls]") {
  PairConfig cfg;
  cfg.server_opt.cookie_exchange = true;
  Pair p(cfg);
  int client_hellos = 0;
  p.filter = [&](bool from_client, size_t, std::vector<uint8_t> d) {
    // An epoch-0 handshake record whose message type is 1 (ClientHello).
    if (from_client && d.size() > 25 && d[0] == 22 && d[3] == 0 && d[4] == 0 && d[13] == 1)
      client_hellos++;
    return std::vector<std::vector<uint8_t>>{std::move(d)};
  };
  p.Start();
  p.Run();
  RequireConnected(p);
  CHECK(client_hellos == 2);
}

TEST_CASE("dtls: lost flights are recovered by the retransmission timer", "[dtls]") {
  PairConfig cfg;
  cfg.client_opt.initial_retransmit_ms = 40;
  cfg.server_opt.initial_retransmit_ms = 40;
  SECTION("the client's first flight (ClientHello) is lost") {
    Pair p(cfg);
    p.filter = [&](bool from_client, size_t index, std::vector<uint8_t> d) {
      if (from_client && index == 0) return std::vector<std::vector<uint8_t>>{};
      return std::vector<std::vector<uint8_t>>{std::move(d)};
    };
    const int64_t t0 = MonotonicMs();
    p.Start();
    p.Run();
    RequireConnected(p);
    CHECK(MonotonicMs() - t0 >= 40);
    CHECK(p.timer_fires >= 1);
  }
  SECTION("the server's first flight is lost") {
    Pair p(cfg);
    p.filter = [&](bool from_client, size_t index, std::vector<uint8_t> d) {
      if (!from_client && index == 0) return std::vector<std::vector<uint8_t>>{};
      return std::vector<std::vector<uint8_t>>{std::move(d)};
    };
    p.Start();
    p.Run();
    RequireConnected(p);
    CHECK(p.timer_fires >= 1);
  }
  SECTION("the server's last flight (Finished) is lost: the client retransmits, the server repeats") {
    Pair p(cfg);
    size_t server_datagrams = 0;
    bool dropped = false;
    p.filter = [&](bool from_client, size_t, std::vector<uint8_t> d) {
      if (!from_client) {
        server_datagrams++;
        // The final flight is the first server datagram carrying an epoch-1 record.
        bool epoch1 = false;
        for (const Record& r : SplitRecords(d)) epoch1 |= r.epoch == 1;
        if (epoch1 && !dropped) {
          dropped = true;
          return std::vector<std::vector<uint8_t>>{};
        }
      }
      return std::vector<std::vector<uint8_t>>{std::move(d)};
    };
    p.Start();
    p.Run();
    CHECK(dropped);
    RequireConnected(p);
    CHECK(p.timer_fires >= 1);
  }
  SECTION("30% random loss in both directions") {
    Pair p(cfg);
    std::mt19937 rng(77);
    p.filter = [&](bool, size_t, std::vector<uint8_t> d) {
      if (rng() % 10 < 3) return std::vector<std::vector<uint8_t>>{};
      return std::vector<std::vector<uint8_t>>{std::move(d)};
    };
    p.Start();
    p.Run(20000);
    RequireConnected(p);
  }
}

TEST_CASE("dtls: a handshake that never completes times out with on_closed", "[dtls]") {
  PairConfig cfg;
  cfg.client_opt.initial_retransmit_ms = 20;
  cfg.client_opt.max_retransmit_ms = 40;
  cfg.client_opt.handshake_timeout_ms = 300;
  cfg.server_opt.handshake_timeout_ms = 300;
  Pair p(cfg);
  size_t client_hellos = 0;
  p.filter = [&](bool from_client, size_t, std::vector<uint8_t>) {
    if (from_client) client_hellos++;
    return std::vector<std::vector<uint8_t>>{};  // a black hole
  };
  const int64_t t0 = MonotonicMs();
  p.Start();
  p.Run(5000);
  const int64_t took = MonotonicMs() - t0;
  CHECK(took >= 300);
  CHECK(took < 3000);
  REQUIRE(p.client.closed.has_value());
  CHECK(p.client.closed->code == collab::base::kExitTempFail);
  CHECK(p.client.closed->message.find("timed out") != std::string::npos);
  CHECK(p.client.closed_calls == 1);
  CHECK(p.client.t->state() == DtlsState::kFailed);
  // The server was started, so its own deadline fires too.
  CHECK(p.server.t->state() == DtlsState::kFailed);
  CHECK(client_hellos >= 4);  // 20, 40, 40, ... ms backoff within 300 ms
  CHECK(p.client.t->NextTimeoutMs(MonotonicMs()) == -1);
  // Later input is ignored.
  p.client.t->HandleTimeout(MonotonicMs());
  CHECK(p.client.closed_calls == 1);
}

TEST_CASE("dtls: fingerprint mismatch fails the handshake on the checking side", "[dtls]") {
  auto other = NewCert();
  SECTION("server rejects the client's certificate") {
    PairConfig cfg;
    cfg.server_expects = other->fingerprint();
    Pair p(cfg);
    p.Start();
    p.Run();
    REQUIRE(p.server.t->state() == DtlsState::kFailed);
    REQUIRE(p.server.closed.has_value());
    CHECK(p.server.closed->code == collab::base::kExitNoPerm);
    CHECK(p.server.closed->message.find("does not match the SDP fingerprint") != std::string::npos);
    CHECK_FALSE(p.server.keys.has_value());
    // The client learns it through a bad_certificate alert.
    REQUIRE(p.client.t->state() == DtlsState::kFailed);
    REQUIRE(p.client.closed.has_value());
    CHECK(p.client.closed->message.find("bad certificate") != std::string::npos);
    CHECK_FALSE(p.client.keys.has_value());
  }
  SECTION("client rejects the server's certificate") {
    PairConfig cfg;
    cfg.client_expects = other->fingerprint();
    Pair p(cfg);
    p.Start();
    p.Run();
    REQUIRE(p.client.t->state() == DtlsState::kFailed);
    CHECK(p.client.closed->code == collab::base::kExitNoPerm);
    CHECK_FALSE(p.client.keys.has_value());
    CHECK(p.server.t->state() == DtlsState::kFailed);
    CHECK_FALSE(p.server.keys.has_value());
  }
  SECTION("a sha-1 fingerprint of the right certificate is accepted") {
    // Build the pair first, then recreate the server with a sha-1 expectation of the client.
    Pair p;
    auto sha1 = CertificateFingerprint::Compute(CertificateFingerprint::Hash::kSha1, p.client_cert->der());
    REQUIRE(sha1.ok());
    DtlsTransport::Callbacks cb;
    Side& s = p.server;
    cb.send = [&s](std::span<const uint8_t> d) { s.out.emplace_back(d.begin(), d.end()); };
    cb.on_connected = [&s](const SrtpKeys& k) { s.keys = k; s.connected_calls++; };
    cb.on_closed = [&s](const Error& e) { s.closed = e; };
    auto t = DtlsTransport::Create(*p.server_cert, DtlsRole::kServer, sha1->ToString(), cb);
    REQUIRE(t.ok());
    p.server.t = std::move(*t);
    p.Start();
    p.Run();
    RequireConnected(p);
  }
}

TEST_CASE("dtls: garbage datagrams are dropped without harming the handshake", "[dtls]") {
  std::mt19937 rng(1234);
  auto random_datagram = [&](size_t max) {
    std::vector<uint8_t> d(rng() % max);
    for (auto& b : d) b = static_cast<uint8_t>(rng());
    return d;
  };
  {
    // Random bytes at a fresh server: dropped (the version/epoch/length fields rarely make
    // sense), never a crash.
    Pair fresh;
    for (int i = 0; i < 300; ++i) {
      auto d = random_datagram(1500);
      if (!d.empty() && (i % 2)) d[0] = static_cast<uint8_t>(20 + rng() % 4);  // looks like DTLS
      fresh.client.t->HandleDatagram(d, MonotonicMs());
      fresh.server.t->HandleDatagram(d, MonotonicMs());
    }
    fresh.client.t->HandleDatagram({}, MonotonicMs());
    fresh.server.t->HandleDatagram({}, MonotonicMs());
    // A truncated record header and a record claiming more bytes than the datagram has.
    fresh.server.t->HandleDatagram(std::vector<uint8_t>{22, 0xFE, 0xFD, 0}, MonotonicMs());
    auto lying = MakeRecord(22, 0, 100, std::vector<uint8_t>(10, 1));
    lying[11] = 0x40;
    fresh.server.t->HandleDatagram(lying, MonotonicMs());
    CHECK(fresh.server.t->state() == DtlsState::kConnecting);
    CHECK_FALSE(fresh.server.closed.has_value());
    CHECK(fresh.client.t->state() == DtlsState::kNew);  // a client ignores input before Start
    // And then the real handshake still succeeds.
    fresh.Start();
    fresh.Run();
    RequireConnected(fresh);
  }
  {
    // A well-formed record carrying a malformed handshake message is fatal (as in any TLS
    // stack): the server fails once, with a reason, and ignores everything afterwards.
    Pair bad;
    bad.server.t->HandleDatagram(MakeRecord(22, 0, 99, std::vector<uint8_t>(40, 0xEE)),
                                 MonotonicMs());
    CHECK(bad.server.t->state() == DtlsState::kFailed);
    REQUIRE(bad.server.closed.has_value());
    CHECK(bad.server.closed->code == collab::base::kExitDataErr);
    CHECK(bad.server.closed->message.find("handshake failed") != std::string::npos);
    bad.server.t->HandleDatagram(MakeRecord(22, 0, 100, std::vector<uint8_t>(40, 0xEE)),
                                 MonotonicMs());
    bad.server.t->HandleTimeout(MonotonicMs());
    CHECK(bad.server.closed_calls == 1);
    CHECK(bad.server.t->NextTimeoutMs(MonotonicMs()) == -1);
  }

  Pair p;
  // Interleave garbage with the real handshake traffic.
  p.filter = [&](bool, size_t, std::vector<uint8_t> d) {
    std::vector<std::vector<uint8_t>> out;
    auto g = random_datagram(300);
    if (!g.empty()) g[0] = 23;  // application data content type
    out.push_back(g);
    out.push_back(std::move(d));
    out.push_back(random_datagram(64));
    return out;
  };
  p.Start();
  p.Run();
  RequireConnected(p);

  // After the handshake: garbage, including well-formed epoch-1 records with bad MACs.
  p.filter = nullptr;
  for (int i = 0; i < 200; ++i) {
    auto body = random_datagram(200);
    p.server.t->HandleDatagram(MakeRecord(23, 1, 1000 + i, body), MonotonicMs());
    p.client.t->HandleDatagram(random_datagram(1500), MonotonicMs());
  }
  // Encrypted records of every short length (OpenSSL would treat some as fatal), several in one
  // datagram, and plaintext epoch-0 alerts, which must not count once the epoch moved on.
  for (size_t len = 0; len < 64; ++len) {
    auto rec = MakeRecord(23, 1, 5000 + len, std::vector<uint8_t>(len, 0x42));
    auto alert = MakeRecord(21, 1, 6000 + len, std::vector<uint8_t>(len, 0x02));
    p.server.t->HandleDatagram(rec, MonotonicMs());
    p.client.t->HandleDatagram(alert, MonotonicMs());
    auto two = rec;
    two.insert(two.end(), alert.begin(), alert.end());
    p.server.t->HandleDatagram(two, MonotonicMs());
  }
  p.server.t->HandleDatagram(MakeRecord(21, 0, 7000, {2, 40}), MonotonicMs());
  p.client.t->HandleDatagram(MakeRecord(21, 0, 7000, {2, 40}), MonotonicMs());
  CHECK(p.server.t->state() == DtlsState::kConnected);
  CHECK(p.client.t->state() == DtlsState::kConnected);
  CHECK(p.server.app.empty());
  // And the association still works.
  REQUIRE(p.client.t->SendAppData(Bytes("still here")).ok());
  p.Run();
  REQUIRE(p.server.app.size() == 1);
  CHECK(p.server.app[0] == "still here");
}

TEST_CASE("dtls: a fatal alert during the handshake fails with its name", "[dtls]") {
  Pair p;
  p.filter = [&](bool from_client, size_t index, std::vector<uint8_t> d) {
    std::vector<std::vector<uint8_t>> out{std::move(d)};
    // After the ClientHello, an unauthenticated epoch-0 fatal handshake_failure alert.
    if (from_client && index == 0) out.push_back(MakeRecord(21, 0, 50, {2, 40}));
    return out;
  };
  p.Start();
  p.Run(300);  // the client, told nothing, would retransmit until its own timeout
  REQUIRE(p.server.t->state() == DtlsState::kFailed);
  REQUIRE(p.server.closed.has_value());
  CHECK(p.server.closed->code == collab::base::kExitDataErr);
  CHECK(p.server.closed->message.find("handshake failure") != std::string::npos);
}

TEST_CASE("dtls: application data both ways, size limit, close_notify", "[dtls]") {
  Pair p;
  p.Start();
  p.Run();
  RequireConnected(p);
  const size_t max = p.client.t->MaxAppDataSize();
  CHECK(max > 1100);
  CHECK(max < 1200);
  REQUIRE(p.client.t->SendAppData(Bytes("hello from client")).ok());
  REQUIRE(p.server.t->SendAppData(Bytes("hello from server")).ok());
  std::vector<uint8_t> big(max, 0x5A);
  REQUIRE(p.client.t->SendAppData(big).ok());
  big.push_back(0);
  CHECK_FALSE(p.client.t->SendAppData(big).ok());
  p.Run();
  REQUIRE(p.server.app.size() == 2);
  CHECK(p.server.app[0] == "hello from client");
  CHECK(p.server.app[1].size() == max);
  REQUIRE(p.client.app.size() == 1);
  CHECK(p.client.app[0] == "hello from server");
  CHECK(p.client.max_datagram <= 1200);

  p.client.t->Close();
  CHECK(p.client.t->state() == DtlsState::kClosed);
  CHECK_FALSE(p.client.closed.has_value());  // no on_closed for our own Close
  p.Run();
  CHECK(p.server.t->state() == DtlsState::kClosed);
  REQUIRE(p.server.closed.has_value());
  CHECK(p.server.closed->code == collab::base::kExitUnavailable);
  CHECK(p.server.closed->message.find("close_notify") != std::string::npos);
  CHECK(p.server.closed_calls == 1);
  // After close: sends fail, input is ignored, no timers.
  CHECK_FALSE(p.server.t->SendAppData(Bytes("late")).ok());
  const size_t sent = p.server.sent;
  p.server.t->HandleDatagram(MakeRecord(23, 1, 5000, std::vector<uint8_t>(40, 1)), MonotonicMs());
  p.server.t->HandleTimeout(MonotonicMs());
  CHECK(p.server.sent == sent);
  CHECK(p.server.closed_calls == 1);
  CHECK(p.server.t->NextTimeoutMs(MonotonicMs()) == -1);
  p.client.t->Close();  // idempotent
}

TEST_CASE("dtls: a callback may destroy its transport", "[dtls]") {
  Pair p;
  // Replace the server with one that deletes itself when connected, and send app data in the
  // same flight so more events are pending at that moment.
  DtlsTransport::Callbacks cb;
  Side& s = p.server;
  bool connected = false;
  cb.send = [&s](std::span<const uint8_t> d) { s.out.emplace_back(d.begin(), d.end()); };
  cb.on_connected = [&](const SrtpKeys&) {
    connected = true;
    s.t.reset();
  };
  cb.on_closed = [&s](const Error& e) { s.closed = e; };
  auto t = DtlsTransport::Create(*p.server_cert, DtlsRole::kServer, p.client_cert->fingerprint(), cb);
  REQUIRE(t.ok());
  s.t = std::move(*t);
  p.Start();
  p.Run();
  CHECK(connected);
  CHECK_FALSE(p.server.t);
}

TEST_CASE("dtls: the server starts implicitly on its first datagram", "[dtls]") {
  Pair p;
  REQUIRE(p.client.t->Start(MonotonicMs()).ok());
  p.Run();
  RequireConnected(p);
}

// ---- Interop with openssl(1) over loopback UDP ----

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/collab-dtls-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::string RunCapture(const std::string& cmd) {
  std::string out;
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) return out;
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  pclose(f);
  return out;
}

bool HaveOpenSslCli() { return RunCapture("openssl version 2>/dev/null").rfind("OpenSSL 3", 0) == 0; }

// A child process with its stdin and (stdout+stderr) on pipes.
struct Child {
  pid_t pid = -1;
  int in_fd = -1, out_fd = -1;
  std::string output;

  explicit Child(const std::vector<std::string>& argv) {
    int in[2], out[2];
    REQUIRE(pipe2(in, O_CLOEXEC) == 0);
    REQUIRE(pipe2(out, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    in_fd = in[1];
    out_fd = out[0];
    REQUIRE(rc == 0);
    fcntl(out_fd, F_SETFL, O_NONBLOCK);
  }
  void ReadAvailable() {
    char buf[4096];
    for (;;) {
      ssize_t n = read(out_fd, buf, sizeof buf);
      if (n <= 0) break;
      output.append(buf, static_cast<size_t>(n));
    }
  }
  void CloseStdin() {
    if (in_fd >= 0) close(in_fd);
    in_fd = -1;
  }
  ~Child() {
    CloseStdin();
    if (pid > 0) {
      // Give it a moment to exit on stdin EOF, then make sure.
      for (int i = 0; i < 100; ++i) {
        if (waitpid(pid, nullptr, WNOHANG) == pid) {
          pid = -1;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      }
    }
    if (out_fd >= 0) close(out_fd);
  }
};

std::vector<uint8_t> FromHex(std::string_view hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

// "Keying material: HEX" as printed by s_client/s_server -keymatexport.
std::optional<std::vector<uint8_t>> KeyingMaterial(const std::string& output) {
  auto pos = output.find("Keying material: ");
  if (pos == std::string::npos) return std::nullopt;
  auto eol = output.find('\n', pos);
  if (eol == std::string::npos) return std::nullopt;
  std::string hex = output.substr(pos + 17, eol - pos - 17);
  while (!hex.empty() && (hex.back() == '\r' || hex.back() == ' ')) hex.pop_back();
  return FromHex(hex);
}

struct PeerFiles {
  std::string cert, key, fingerprint;
};

PeerFiles MakeOpenSslPeerCert(const TempDir& dir) {
  PeerFiles f{(dir.path / "peer.pem").string(), (dir.path / "peer.key").string(), ""};
  std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "
                    "/CN=peer -days 1 -keyout " + f.key + " -out " + f.cert + " 2>/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  // openssl prints "sha256 Fingerprint=AB:CD:..." - an independent check of our formatting.
  std::string out = RunCapture("openssl x509 -in " + f.cert + " -noout -fingerprint -sha256");
  auto eq = out.find('=');
  REQUIRE(eq != std::string::npos);
  std::string hex = out.substr(eq + 1);
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r')) hex.pop_back();
  f.fingerprint = "sha-256 " + hex;
  // Our own computation over the DER agrees.
  FILE* fp = fopen(f.cert.c_str(), "r");
  REQUIRE(fp != nullptr);
  X509* x = PEM_read_X509(fp, nullptr, nullptr, nullptr);
  fclose(fp);
  REQUIRE(x != nullptr);
  unsigned char* der = nullptr;
  int len = i2d_X509(x, &der);
  X509_free(x);
  REQUIRE(len > 0);
  auto ours = CertificateFingerprint::Compute(CertificateFingerprint::Hash::kSha256,
                                              std::span<const uint8_t>(der, static_cast<size_t>(len)));
  OPENSSL_free(der);
  REQUIRE(ours.ok());
  CHECK(ours->ToString() == f.fingerprint);
  return f;
}

struct UdpSocket {
  int fd = -1;
  UdpSocket() {
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~UdpSocket() { close(fd); }
  uint16_t port() const {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
  }
};

// Drives one transport over a UDP socket and a child's output until done() or the deadline.
void PumpUdp(DtlsTransport& t, UdpSocket& sock, sockaddr_in& peer, bool& have_peer, Child& child,
             const std::function<bool()>& done, int64_t max_ms) {
  const int64_t start = MonotonicMs();
  while (!done() && MonotonicMs() - start < max_ms) {
    int64_t now = MonotonicMs();
    int64_t next = t.NextTimeoutMs(now);
    int wait = 50;
    if (next >= 0) wait = static_cast<int>(std::clamp<int64_t>(next - now, 0, 50));
    pollfd fds[2] = {{sock.fd, POLLIN, 0}, {child.out_fd, POLLIN, 0}};
    poll(fds, 2, wait);
    child.ReadAvailable();
    for (int i = 0; i < 64; ++i) {
      uint8_t buf[65536];
      sockaddr_in from{};
      socklen_t flen = sizeof from;
      ssize_t n = recvfrom(sock.fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
      if (n < 0) break;
      peer = from;
      have_peer = true;
      t.HandleDatagram(std::span<const uint8_t>(buf, static_cast<size_t>(n)), MonotonicMs());
    }
    now = MonotonicMs();
    next = t.NextTimeoutMs(now);
    if (next >= 0 && next <= now) t.HandleTimeout(now);
  }
}

}  // namespace

TEST_CASE("dtls interop: openssl s_client -use_srtp against our server", "[dtls][interop]") {
  if (!HaveOpenSslCli()) {
    WARN("openssl(1) not installed: interop not tested");
    return;
  }
  TempDir dir;
  PeerFiles peer_files = MakeOpenSslPeerCert(dir);
  auto cert = NewCert();
  UdpSocket sock;
  sockaddr_in peer{};
  bool have_peer = false;
  std::optional<SrtpKeys> keys;
  std::optional<Error> closed;
  DtlsTransport::Callbacks cb;
  cb.send = [&](std::span<const uint8_t> d) {
    if (have_peer)
      sendto(sock.fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&peer), sizeof peer);
  };
  cb.on_connected = [&](const SrtpKeys& k) { keys = k; };
  cb.on_closed = [&](const Error& e) { closed = e; };
  auto t = DtlsTransport::Create(*cert, DtlsRole::kServer, peer_files.fingerprint, cb);
  REQUIRE(t.ok());
  REQUIRE((*t)->Start(MonotonicMs()).ok());

  Child child({"openssl", "s_client", "-dtls1_2", "-connect",
               "127.0.0.1:" + std::to_string(sock.port()), "-use_srtp", "SRTP_AEAD_AES_128_GCM",
               "-cert", peer_files.cert, "-key", peer_files.key, "-keymatexport",
               "EXTRACTOR-dtls_srtp", "-keymatexportlen", "56", "-mtu", "1200"});
  PumpUdp(**t, sock, peer, have_peer, child,
          [&] { return keys.has_value() && KeyingMaterial(child.output).has_value(); }, 15000);
  INFO(child.output);
  REQUIRE(keys.has_value());
  CHECK(keys->profile == SrtpProfile::kAeadAes128Gcm);
  CHECK(child.output.find("SRTP Extension negotiated, profile=SRTP_AEAD_AES_128_GCM") !=
        std::string::npos);
  auto km = KeyingMaterial(child.output);
  REQUIRE(km.has_value());
  REQUIRE(km->size() == 56);
  // client key | server key | client salt | server salt; we are the server.
  std::vector<uint8_t> server_ks(km->begin() + 16, km->begin() + 32);
  server_ks.insert(server_ks.end(), km->begin() + 44, km->begin() + 56);
  std::vector<uint8_t> client_ks(km->begin(), km->begin() + 16);
  client_ks.insert(client_ks.end(), km->begin() + 32, km->begin() + 44);
  CHECK(keys->local_key_salt == server_ks);
  CHECK(keys->remote_key_salt == client_ks);
  CHECK((*t)->remote_fingerprint() == peer_files.fingerprint);

  // EOF on its stdin makes s_client send close_notify.
  child.CloseStdin();
  PumpUdp(**t, sock, peer, have_peer, child, [&] { return closed.has_value(); }, 10000);
  REQUIRE(closed.has_value());
  CHECK(closed->code == collab::base::kExitUnavailable);
}

TEST_CASE("dtls interop: our client against openssl s_server -use_srtp", "[dtls][interop]") {
  if (!HaveOpenSslCli()) {
    WARN("openssl(1) not installed: interop not tested");
    return;
  }
  TempDir dir;
  PeerFiles peer_files = MakeOpenSslPeerCert(dir);
  auto cert = NewCert();
  Child child({"openssl", "s_server", "-dtls1_2", "-accept", "127.0.0.1:0", "-cert",
               peer_files.cert, "-key", peer_files.key, "-Verify", "1", "-use_srtp",
               "SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM", "-keymatexport",
               "EXTRACTOR-dtls_srtp", "-keymatexportlen", "60"});
  // s_server prints "ACCEPT 127.0.0.1:PORT" once listening.
  uint16_t port = 0;
  for (int i = 0; i < 500 && port == 0; ++i) {
    pollfd pfd{child.out_fd, POLLIN, 0};
    poll(&pfd, 1, 20);
    child.ReadAvailable();
    auto pos = child.output.find("ACCEPT 127.0.0.1:");
    auto eol = pos == std::string::npos ? pos : child.output.find('\n', pos);
    if (eol != std::string::npos) port = static_cast<uint16_t>(std::stoi(child.output.substr(pos + 17)));
  }
  INFO(child.output);
  REQUIRE(port != 0);

  UdpSocket sock;
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  peer.sin_port = htons(port);
  bool have_peer = true;
  std::optional<SrtpKeys> keys;
  std::optional<Error> closed;
  DtlsTransport::Callbacks cb;
  cb.send = [&](std::span<const uint8_t> d) {
    sendto(sock.fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&peer), sizeof peer);
  };
  cb.on_connected = [&](const SrtpKeys& k) { keys = k; };
  cb.on_closed = [&](const Error& e) { closed = e; };
  auto t = DtlsTransport::Create(*cert, DtlsRole::kClient, peer_files.fingerprint, cb);
  REQUIRE(t.ok());
  REQUIRE((*t)->Start(MonotonicMs()).ok());
  PumpUdp(**t, sock, peer, have_peer, child,
          [&] { return keys.has_value() && KeyingMaterial(child.output).has_value(); }, 15000);
  INFO(child.output);
  REQUIRE(keys.has_value());
  // s_server's own preference list puts AES-CM first, and the server chooses.
  CHECK(keys->profile == SrtpProfile::kAes128CmHmacSha1_80);
  auto km = KeyingMaterial(child.output);
  REQUIRE(km.has_value());
  REQUIRE(km->size() == 60);
  std::vector<uint8_t> client_ks(km->begin(), km->begin() + 16);
  client_ks.insert(client_ks.end(), km->begin() + 32, km->begin() + 46);
  std::vector<uint8_t> server_ks(km->begin() + 16, km->begin() + 32);
  server_ks.insert(server_ks.end(), km->begin() + 46, km->begin() + 60);
  CHECK(keys->local_key_salt == client_ks);
  CHECK(keys->remote_key_salt == server_ks);
  (*t)->Close();
  CHECK((*t)->state() == DtlsState::kClosed);
}
