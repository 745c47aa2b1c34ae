// Fuzzes the untrusted inputs of the DTLS-SRTP layer. The first byte picks the target:
//   0: an SDP a=fingerprint value. Invariant: a parsed value prints back (upper-case hex) to a
//      string that parses to the same value.
//   1/2: a DtlsTransport (1 server, 2 started client) fed datagrams (2-byte big-endian length +
//      bytes, repeated). Invariants: no crash or leak; every datagram it sends fits the MTU;
//      on_closed fires at most once; no keys without a verified peer (the fuzzer cannot sign
//      with the expected certificate, so on_connected must never fire).
//   3: SRTP/SRTCP unprotect of the rest with fixed keys, both profiles. Invariants: success
//      never grows the packet; failures are kExitDataErr.
// Seeds in tests/fuzz/corpus/dtls/ are real ClientHello/ServerHello flights from our own
// transports, so mutations start from well-formed handshakes.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "lib/rtc/certificate.hpp"
#include "lib/rtc/dtls.hpp"
#include "lib/rtc/srtp.hpp"

using namespace collab::rtc;

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

const Certificate& Ours() {
  static std::shared_ptr<const Certificate> cert = [] {
    auto c = Certificate::Generate();
    Check(c.ok());
    return *c;
  }();
  return *cert;
}

// A fingerprint nobody in the input can match.
const std::string& PeerFingerprint() {
  static std::string fp = [] {
    auto c = Certificate::Generate();
    Check(c.ok());
    return (*c)->fingerprint();
  }();
  return fp;
}

void FuzzFingerprint(std::string_view in) {
  auto fp = CertificateFingerprint::Parse(in);
  if (!fp.ok()) return;
  const std::string printed = fp->ToString();
  auto again = CertificateFingerprint::Parse(printed);
  Check(again.ok());
  Check(*again == *fp);
  Check(again->ToString() == printed);
  Check(printed.size() == std::string_view(HashName(fp->hash)).size() + fp->digest.size() * 3);
}

void FuzzTransport(DtlsRole role, std::span<const uint8_t> in) {
  DtlsTransport::Options opt;
  opt.mtu = 400;
  int closed = 0;
  bool connected = false;
  DtlsTransport::Callbacks cb;
  cb.send = [&](std::span<const uint8_t> d) { Check(d.size() <= opt.mtu); };
  cb.on_connected = [&](const SrtpKeys&) { connected = true; };
  cb.on_closed = [&](const collab::base::Error&) { closed++; };
  cb.on_app_data = [&](std::span<const uint8_t>) {};
  auto t = DtlsTransport::Create(Ours(), role, PeerFingerprint(), cb, opt);
  Check(t.ok());
  int64_t now = 1000;
  if (role == DtlsRole::kClient) Check((*t)->Start(now).ok());
  size_t off = 0;
  for (int i = 0; i < 64 && off + 2 <= in.size(); ++i) {
    size_t len = size_t{in[off]} << 8 | in[off + 1];
    off += 2;
    len = std::min(len, in.size() - off);
    (*t)->HandleDatagram(in.subspan(off, len), now);
    off += len;
    now += 10;
    (*t)->HandleTimeout(now);
  }
  Check(closed <= 1);
  Check(!connected);
  (*t)->Close();
}

void FuzzSrtp(std::span<const uint8_t> in) {
  for (SrtpProfile profile : {SrtpProfile::kAeadAes128Gcm, SrtpProfile::kAes128CmHmacSha1_80}) {
    SrtpKeys keys;
    keys.profile = profile;
    keys.local_key_salt.assign(SrtpKeySaltLength(profile), 0x11);
    keys.remote_key_salt.assign(SrtpKeySaltLength(profile), 0x22);
    auto s = SrtpSession::Create(keys);
    Check(s.ok());
    for (bool rtcp : {false, true}) {
      std::vector<uint8_t> buf(in.begin(), in.end());
      auto r = rtcp ? (*s)->UnprotectRtcp(buf, buf.size()) : (*s)->UnprotectRtp(buf, buf.size());
      if (r.ok())
        Check(*r <= in.size());
      else
        Check(r.error().code == collab::base::kExitDataErr);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::span<const uint8_t> rest(data + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      FuzzFingerprint(std::string_view(reinterpret_cast<const char*>(rest.data()), rest.size()));
      break;
    case 1:
      FuzzTransport(DtlsRole::kServer, rest);
      break;
    case 2:
      FuzzTransport(DtlsRole::kClient, rest);
      break;
    case 3:
      FuzzSrtp(rest);
      break;
  }
  return 0;
}
