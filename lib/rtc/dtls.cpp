#include "lib/rtc/dtls.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/srtp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <optional>

#include "lib/base/log.hpp"

namespace collab::rtc {

using base::Error;
using base::MakeError;
using base::Result;
using base::Status;

namespace {

// RFC 5764 section 4.2: both directions' keys and salts come from one export with this label.
constexpr char kSrtpExporterLabel[] = "EXTRACTOR-dtls_srtp";

// ECDHE only (forward secrecy), AEAD only. RSA suites only matter when we are the client of a
// peer with an RSA certificate; our own certificate is ECDSA, so as a server we pick ECDSA ones.
constexpr char kCipherList[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";
constexpr char kGroups[] = "X25519:P-256:P-384";

// OpenSSL refuses link MTUs below this (its smallest "probable" MTU).
constexpr size_t kMinMtu = 256;
// A bound on records per datagram for the read loop (a record is at least 13 bytes; 64 KiB max).
constexpr int kMaxReadsPerDatagram = 65536 / 13 + 1;

std::string TakeOpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return {};
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

const char* ProfileString(SrtpProfile p) {
  return p == SrtpProfile::kAeadAes128Gcm ? "SRTP_AEAD_AES_128_GCM" : "SRTP_AES128_CM_SHA1_80";
}

BIO_METHOD* DatagramBioMethod();

}  // namespace

const char* DtlsStateName(DtlsState state) {
  switch (state) {
    case DtlsState::kNew: return "new";
    case DtlsState::kConnecting: return "connecting";
    case DtlsState::kConnected: return "connected";
    case DtlsState::kClosed: return "closed";
    case DtlsState::kFailed: return "failed";
  }
  return "unknown";
}

struct DtlsImpl : std::enable_shared_from_this<DtlsImpl> {
  using Callbacks = DtlsTransport::Callbacks;
  using Options = DtlsTransport::Options;

  DtlsRole role = DtlsRole::kServer;
  DtlsState state = DtlsState::kNew;
  Callbacks cb;
  Options opt;
  CertificateFingerprint expected;
  std::string remote_fingerprint;

  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;

  // The datagram currently offered to OpenSSL: one BIO_read returns all of it, the next one
  // says "retry", so record boundaries never straddle two datagrams.
  std::span<const uint8_t> in;
  bool in_pending = false;

  // Records written by OpenSSL during one call, packed into datagrams afterwards.
  std::vector<uint8_t> out_buf;
  std::vector<size_t> out_ends;

  // Events waiting for Deliver().
  std::optional<SrtpKeys> ev_connected;
  std::deque<std::vector<uint8_t>> ev_app;
  std::optional<Error> ev_closed;
  bool delivering = false;
  bool destroyed = false;  // set by ~DtlsTransport while a callback may still be running

  int64_t handshake_deadline = -1;
  std::string verify_error;   // why the certificate check failed
  std::string alert_received; // last alert from the peer, for the close reason
  bool fingerprint_verified = false;
  std::array<uint8_t, 16> cookie{};
  std::vector<uint8_t> read_buf;
  std::vector<uint8_t> scrub_buf;

  ~DtlsImpl() {
    SSL_free(ssl);  // frees the BIO too
    SSL_CTX_free(ctx);
  }

  Status Init(const Certificate& certificate);
  void DriveHandshake();
  void OnHandshakeDone();
  void DrainAppData();
  void Fail(Error error);
  void PackDatagrams(std::vector<uint8_t>& buf, std::vector<size_t>& ends,
             std::vector<std::pair<size_t, size_t>>& groups) const;
  void Deliver();
  Error ProtocolError(const char* what);
  std::span<const uint8_t> Scrub(std::span<const uint8_t> datagram);
};

namespace {

DtlsImpl* ImplOf(const SSL* ssl) {
  return static_cast<DtlsImpl*>(SSL_get_app_data(ssl));
}

// ---- The datagram BIO: reads hand out the current datagram once, writes collect records ----

int BioWrite(BIO* bio, const char* data, int len) {
  auto* impl = static_cast<DtlsImpl*>(BIO_get_data(bio));
  if (impl == nullptr || len < 0) return -1;
  impl->out_buf.insert(impl->out_buf.end(), reinterpret_cast<const uint8_t*>(data),
                       reinterpret_cast<const uint8_t*>(data) + len);
  impl->out_ends.push_back(impl->out_buf.size());
  return len;
}

int BioRead(BIO* bio, char* out, int len) {
  auto* impl = static_cast<DtlsImpl*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (impl == nullptr || !impl->in_pending || len <= 0) {
    BIO_set_retry_read(bio);
    return -1;
  }
  // A datagram larger than OpenSSL's buffer is truncated; its last record then fails its
  // length check and is dropped, which is what a datagram socket would do too.
  size_t n = std::min(impl->in.size(), static_cast<size_t>(len));
  std::memcpy(out, impl->in.data(), n);
  impl->in_pending = false;
  return static_cast<int>(n);
}

long BioCtrl(BIO* bio, int cmd, long num, void* ptr) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_PENDING: {
      auto* impl = static_cast<DtlsImpl*>(BIO_get_data(bio));
      return impl != nullptr && impl->in_pending ? static_cast<long>(impl->in.size()) : 0;
    }
    case BIO_CTRL_WPENDING:
      return 0;
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
      // Our MTU is set explicitly and already means "datagram payload": no IP/UDP overhead.
      return 0;
    case BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT:
      return 1;
    default:
      return 0;
  }
}

int BioCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

int BioDestroy(BIO* bio) {
  BIO_set_data(bio, nullptr);
  return 1;
}

BIO_METHOD* DatagramBioMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "collab-dtls-datagram");
    if (m == nullptr) return m;
    BIO_meth_set_write(m, BioWrite);
    BIO_meth_set_read(m, BioRead);
    BIO_meth_set_ctrl(m, BioCtrl);
    BIO_meth_set_create(m, BioCreate);
    BIO_meth_set_destroy(m, BioDestroy);
    return m;
  }();
  return method;
}

// ---- OpenSSL callbacks ----

unsigned int TimerCallback(SSL* ssl, unsigned int previous_us) {
  const DtlsImpl* impl = ImplOf(ssl);
  const unsigned int initial = static_cast<unsigned int>(impl->opt.initial_retransmit_ms) * 1000u;
  const unsigned int max = static_cast<unsigned int>(impl->opt.max_retransmit_ms) * 1000u;
  if (previous_us == 0) return initial;
  return previous_us >= max / 2 ? max : previous_us * 2;
}

void InfoCallback(const SSL* ssl, int where, int ret) {
  if ((where & SSL_CB_ALERT) == 0) return;
  DtlsImpl* impl = ImplOf(ssl);
  if (impl == nullptr) return;
  if (where & SSL_CB_READ) {
    impl->alert_received = std::string(SSL_alert_type_string_long(ret)) + " " +
                           SSL_alert_desc_string_long(ret);
  }
}

// Replaces chain verification entirely: WebRTC certificates are self-signed and are trusted
// exactly when their digest equals the fingerprint the peer put in its SDP.
int CertVerifyCallback(X509_STORE_CTX* store, void* arg) {
  auto* impl = static_cast<DtlsImpl*>(arg);
  X509* cert = X509_STORE_CTX_get0_cert(store);
  if (cert == nullptr) {
    impl->verify_error = "peer sent no certificate";
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  int len = i2d_X509(cert, nullptr);
  if (len <= 0) {
    impl->verify_error = "peer certificate cannot be encoded";
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  std::vector<uint8_t> der(static_cast<size_t>(len));
  unsigned char* p = der.data();
  i2d_X509(cert, &p);
  if (!impl->expected.Matches(der)) {
    auto actual = CertificateFingerprint::Compute(impl->expected.hash, der);
    impl->verify_error = "peer certificate does not match the SDP fingerprint (got " +
                         (actual.ok() ? actual->ToString() : std::string("?")) + ")";
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);  // -> bad_certificate alert
    return 0;
  }
  auto sha256 = CertificateFingerprint::Compute(CertificateFingerprint::Hash::kSha256, der);
  impl->remote_fingerprint = sha256.ok() ? sha256->ToString() : std::string();
  impl->fingerprint_verified = true;
  X509_STORE_CTX_set_error(store, X509_V_OK);
  return 1;
}

int CookieGenerate(SSL* ssl, unsigned char* cookie, unsigned int* len) {
  const DtlsImpl* impl = ImplOf(ssl);
  std::memcpy(cookie, impl->cookie.data(), impl->cookie.size());
  *len = static_cast<unsigned int>(impl->cookie.size());
  return 1;
}

int CookieVerify(SSL* ssl, const unsigned char* cookie, unsigned int len) {
  const DtlsImpl* impl = ImplOf(ssl);
  return len == impl->cookie.size() && CRYPTO_memcmp(cookie, impl->cookie.data(), len) == 0;
}

}  // namespace

Status DtlsImpl::Init(const Certificate& certificate) {
  if (opt.mtu < kMinMtu || opt.mtu > 65507)
    return MakeError(base::kExitUsage, "dtls: mtu must be 256..65507");
  if (opt.initial_retransmit_ms <= 0 || opt.max_retransmit_ms < opt.initial_retransmit_ms ||
      opt.max_retransmit_ms > 60000)
    return MakeError(base::kExitUsage, "dtls: bad retransmission timeouts");
  if (opt.srtp_profiles.empty()) return MakeError(base::kExitUsage, "dtls: no SRTP profile");
  if (certificate.x509() == nullptr || certificate.private_key() == nullptr)
    return MakeError(base::kExitUsage, "dtls: certificate has no key");
  if (DatagramBioMethod() == nullptr)
    return MakeError(base::kExitSoftware, "dtls: BIO_meth_new: " + TakeOpenSslError());

  ERR_clear_error();
  // One context per transport: it costs ~0.25 ms, far less than the handshake's ECDHE and
  // ECDSA, and keeps the verify callback's argument and options per connection.
  ctx = SSL_CTX_new(DTLS_method());
  if (ctx == nullptr) return MakeError(base::kExitSoftware, "SSL_CTX_new: " + TakeOpenSslError());
  bool ok = SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) == 1 &&
            SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION) == 1 &&
            SSL_CTX_set_cipher_list(ctx, kCipherList) == 1 &&
            SSL_CTX_set1_groups_list(ctx, kGroups) == 1 &&
            SSL_CTX_use_certificate(ctx, certificate.x509()) == 1 &&
            SSL_CTX_use_PrivateKey(ctx, certificate.private_key()) == 1 &&
            SSL_CTX_check_private_key(ctx) == 1;
  if (!ok) return MakeError(base::kExitSoftware, "dtls: context setup: " + TakeOpenSslError());
  SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx, CertVerifyCallback, this);
  SSL_CTX_set_cookie_generate_cb(ctx, CookieGenerate);
  SSL_CTX_set_cookie_verify_cb(ctx, CookieVerify);

  ssl = SSL_new(ctx);
  if (ssl == nullptr) return MakeError(base::kExitSoftware, "SSL_new: " + TakeOpenSslError());
  SSL_set_app_data(ssl, this);
  SSL_set_info_callback(ssl, InfoCallback);
  DTLS_set_timer_cb(ssl, TimerCallback);

  std::string profiles;
  for (SrtpProfile p : opt.srtp_profiles) {
    if (p != SrtpProfile::kAeadAes128Gcm && p != SrtpProfile::kAes128CmHmacSha1_80)
      return MakeError(base::kExitUsage, "dtls: unsupported SRTP profile");
    if (!profiles.empty()) profiles += ':';
    profiles += ProfileString(p);
  }
  // Unlike most of OpenSSL, 0 means success here.
  if (SSL_set_tlsext_use_srtp(ssl, profiles.c_str()) != 0)
    return MakeError(base::kExitSoftware, "dtls: use_srtp: " + TakeOpenSslError());

  BIO* bio = BIO_new(DatagramBioMethod());
  if (bio == nullptr) return MakeError(base::kExitSoftware, "BIO_new: " + TakeOpenSslError());
  BIO_set_data(bio, this);
  SSL_set_bio(ssl, bio, bio);  // one reference, owned by ssl

  // SSL_OP_NO_QUERY_MTU + an explicit link MTU: the BIO reports zero overhead, so this is the
  // largest datagram OpenSSL will write.
  if (DTLS_set_link_mtu(ssl, static_cast<long>(opt.mtu)) != 1)
    return MakeError(base::kExitUsage, "dtls: mtu rejected: " + TakeOpenSslError());

  if (role == DtlsRole::kServer) {
    SSL_set_accept_state(ssl);
    if (opt.cookie_exchange) {
      if (RAND_bytes(cookie.data(), static_cast<int>(cookie.size())) != 1)
        return MakeError(base::kExitSoftware, "RAND_bytes: " + TakeOpenSslError());
      SSL_set_options(ssl, SSL_OP_COOKIE_EXCHANGE);
    }
  } else {
    SSL_set_connect_state(ssl);
  }
  return base::Ok();
}

// OpenSSL 3.0 turns an encrypted record too short to hold its AEAD nonce and tag into a fatal
// internal error instead of discarding it as RFC 6347 4.1.2.7 asks, so one forged 14-byte
// datagram would kill an established association. Such records are removed here; everything
// else (bad MACs, replays, malformed framing) OpenSSL already drops by itself.
std::span<const uint8_t> DtlsImpl::Scrub(std::span<const uint8_t> d) {
  size_t min_len = 24;  // AES-GCM: 8-byte explicit nonce + 16-byte tag
  if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl);
      c != nullptr && SSL_CIPHER_get_cipher_nid(c) == NID_chacha20_poly1305)
    min_len = 16;  // tag only
  auto is_short = [&](size_t off) {
    const size_t len = size_t{d[off + 11]} << 8 | d[off + 12];
    const bool encrypted = d[off + 3] != 0 || d[off + 4] != 0;  // epoch > 0
    return encrypted && len < min_len;
  };
  bool any = false;
  for (size_t off = 0; off + 13 <= d.size(); off += 13 + (size_t{d[off + 11]} << 8 | d[off + 12]))
    any |= is_short(off);
  if (!any) return d;
  scrub_buf.clear();
  size_t off = 0;
  for (; off + 13 <= d.size(); off += 13 + (size_t{d[off + 11]} << 8 | d[off + 12])) {
    const size_t end = std::min(d.size(), off + 13 + (size_t{d[off + 11]} << 8 | d[off + 12]));
    if (!is_short(off)) scrub_buf.insert(scrub_buf.end(), d.begin() + off, d.begin() + end);
  }
  if (off < d.size()) scrub_buf.insert(scrub_buf.end(), d.begin() + off, d.end());
  return scrub_buf;
}

Error DtlsImpl::ProtocolError(const char* what) {
  std::string detail = TakeOpenSslError();
  if (!verify_error.empty())
    return Error{base::kExitNoPerm, "dtls: " + verify_error};
  std::string msg = std::string("dtls: ") + what;
  if (!alert_received.empty()) msg += ": received " + alert_received + " alert";
  if (!detail.empty()) msg += ": " + detail;
  return Error{base::kExitDataErr, msg};
}

void DtlsImpl::Fail(Error error) {
  if (state == DtlsState::kFailed || state == DtlsState::kClosed) return;
  LOG_DEBUG("dtls %s: failed: %s", role == DtlsRole::kServer ? "server" : "client",
            error.message.c_str());
  state = DtlsState::kFailed;
  handshake_deadline = -1;
  ev_closed = std::move(error);
}

void DtlsImpl::DriveHandshake() {
  ERR_clear_error();
  int r = SSL_do_handshake(ssl);
  if (r == 1) {
    OnHandshakeDone();
    if (state == DtlsState::kConnected) DrainAppData();
    return;
  }
  int err = SSL_get_error(ssl, r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    ERR_clear_error();
    return;
  }
  Fail(ProtocolError("handshake failed"));
}

void DtlsImpl::OnHandshakeDone() {
  // The verify callback ran during the handshake; this re-check guards against any path (a
  // future OpenSSL, a resumed session) that would complete without it.
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (peer == nullptr || !fingerprint_verified) {
    Fail(Error{base::kExitNoPerm, "dtls: peer certificate was not verified against the SDP"});
    return;
  }
  const SRTP_PROTECTION_PROFILE* sp = SSL_get_selected_srtp_profile(ssl);
  if (sp == nullptr) {
    Fail(Error{base::kExitDataErr, "dtls: peer did not negotiate use_srtp"});
    return;
  }
  SrtpProfile profile;
  if (sp->id == static_cast<unsigned long>(SrtpProfile::kAeadAes128Gcm)) {
    profile = SrtpProfile::kAeadAes128Gcm;
  } else if (sp->id == static_cast<unsigned long>(SrtpProfile::kAes128CmHmacSha1_80)) {
    profile = SrtpProfile::kAes128CmHmacSha1_80;
  } else {
    Fail(Error{base::kExitDataErr, std::string("dtls: unexpected SRTP profile ") + sp->name});
    return;
  }

  // RFC 5764 4.2: client key | server key | client salt | server salt.
  const size_t key_len = 16;
  const size_t salt_len = SrtpKeySaltLength(profile) - key_len;
  uint8_t material[2 * (16 + 14)];
  const size_t total = 2 * (key_len + salt_len);
  if (SSL_export_keying_material(ssl, material, total, kSrtpExporterLabel,
                                 sizeof kSrtpExporterLabel - 1, nullptr, 0, 0) != 1) {
    Fail(Error{base::kExitSoftware, "dtls: keying material export: " + TakeOpenSslError()});
    return;
  }
  const uint8_t* client_key = material;
  const uint8_t* server_key = material + key_len;
  const uint8_t* client_salt = material + 2 * key_len;
  const uint8_t* server_salt = material + 2 * key_len + salt_len;
  auto join = [&](const uint8_t* key, const uint8_t* salt) {
    std::vector<uint8_t> v(key, key + key_len);
    v.insert(v.end(), salt, salt + salt_len);
    return v;
  };
  SrtpKeys keys;
  keys.profile = profile;
  if (role == DtlsRole::kClient) {
    keys.local_key_salt = join(client_key, client_salt);
    keys.remote_key_salt = join(server_key, server_salt);
  } else {
    keys.local_key_salt = join(server_key, server_salt);
    keys.remote_key_salt = join(client_key, client_salt);
  }
  OPENSSL_cleanse(material, sizeof material);

  state = DtlsState::kConnected;
  handshake_deadline = -1;
  LOG_DEBUG("dtls %s: connected, %s, %s", role == DtlsRole::kServer ? "server" : "client",
            SSL_get_cipher_name(ssl), sp->name);
  ev_connected = std::move(keys);
}

void DtlsImpl::DrainAppData() {
  if (read_buf.empty()) read_buf.resize(16384);
  for (int i = 0; i < kMaxReadsPerDatagram; ++i) {
    ERR_clear_error();
    int n = SSL_read(ssl, read_buf.data(), static_cast<int>(read_buf.size()));
    if (n > 0) {
      if (cb.on_app_data) ev_app.emplace_back(read_buf.begin(), read_buf.begin() + n);
      continue;
    }
    int err = SSL_get_error(ssl, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      ERR_clear_error();
      return;
    }
    if (err == SSL_ERROR_ZERO_RETURN) {
      // Answer the close_notify so the peer's shutdown completes too (best effort).
      ERR_clear_error();
      (void)SSL_shutdown(ssl);
      ERR_clear_error();
      state = DtlsState::kClosed;
      ev_closed = Error{base::kExitUnavailable, "dtls: peer closed the association (close_notify)"};
      return;
    }
    Fail(ProtocolError(err == SSL_ERROR_SYSCALL ? "read failed (syscall)" : "read failed"));
    return;
  }
}

// Packs the records written during one call into datagrams of at most opt.mtu bytes.
// Records are never split: OpenSSL already fragmented handshake messages to fit the MTU.
void DtlsImpl::PackDatagrams(std::vector<uint8_t>& buf, std::vector<size_t>& ends,
                                std::vector<std::pair<size_t, size_t>>& groups) const {
  groups.clear();
  size_t begin = 0, group_begin = 0;
  for (size_t end : ends) {
    if (end - group_begin > opt.mtu && begin > group_begin) {
      groups.emplace_back(group_begin, begin);
      group_begin = begin;
    }
    begin = end;
  }
  if (begin > group_begin) groups.emplace_back(group_begin, begin);
}

void DtlsImpl::Deliver() {
  if (delivering) return;  // a callback re-entered us: the outer loop picks up new events
  delivering = true;
  std::shared_ptr<DtlsImpl> keep = shared_from_this();  // callbacks may destroy the transport
  std::vector<uint8_t> buf;
  std::vector<size_t> ends;
  std::vector<std::pair<size_t, size_t>> groups;
  for (;;) {
    if (!out_ends.empty()) {
      buf.swap(out_buf);
      ends.swap(out_ends);
      out_buf.clear();
      out_ends.clear();
      PackDatagrams(buf, ends, groups);
      for (const auto& [b, e] : groups) {
        if (cb.send) cb.send(std::span<const uint8_t>(buf.data() + b, e - b));
        if (destroyed) return;
      }
      buf.clear();
      ends.clear();
      continue;
    }
    if (ev_connected) {
      SrtpKeys keys = std::move(*ev_connected);
      ev_connected.reset();
      if (cb.on_connected) cb.on_connected(keys);
      OPENSSL_cleanse(keys.local_key_salt.data(), keys.local_key_salt.size());
      OPENSSL_cleanse(keys.remote_key_salt.data(), keys.remote_key_salt.size());
      if (destroyed) return;
      continue;
    }
    if (!ev_app.empty()) {
      std::vector<uint8_t> data = std::move(ev_app.front());
      ev_app.pop_front();
      if (cb.on_app_data) cb.on_app_data(data);
      if (destroyed) return;
      continue;
    }
    if (ev_closed) {
      Error reason = std::move(*ev_closed);
      ev_closed.reset();
      if (cb.on_closed) cb.on_closed(reason);
      if (destroyed) return;
      continue;
    }
    break;
  }
  delivering = false;
}

// ---- DtlsTransport ----

DtlsTransport::DtlsTransport(std::shared_ptr<DtlsImpl> impl) : impl_(std::move(impl)) {}

DtlsTransport::~DtlsTransport() {
  // A Deliver() running a callback keeps *impl_ alive; the flag tells it to stop.
  impl_->destroyed = true;
}

Result<std::unique_ptr<DtlsTransport>> DtlsTransport::Create(const Certificate& certificate,
                                                             DtlsRole role,
                                                             std::string_view expected_remote_fingerprint,
                                                             Callbacks callbacks) {
  return Create(certificate, role, expected_remote_fingerprint, std::move(callbacks), Options{});
}

Result<std::unique_ptr<DtlsTransport>> DtlsTransport::Create(const Certificate& certificate,
                                                             DtlsRole role,
                                                             std::string_view expected_remote_fingerprint,
                                                             Callbacks callbacks, Options options) {
  if (!callbacks.send) return MakeError(base::kExitUsage, "dtls: send callback is required");
  auto fp = CertificateFingerprint::Parse(expected_remote_fingerprint);
  if (!fp.ok()) return fp.error().Wrap("dtls: remote fingerprint");
  auto impl = std::make_shared<DtlsImpl>();
  impl->role = role;
  impl->cb = std::move(callbacks);
  impl->opt = std::move(options);
  impl->expected = std::move(*fp);
  COLLAB_TRY(impl->Init(certificate));
  return std::unique_ptr<DtlsTransport>(new DtlsTransport(std::move(impl)));
}

Status DtlsTransport::Start(int64_t now_ms) {
  DtlsImpl& d = *impl_;
  if (d.state != DtlsState::kNew) return MakeError(base::kExitUsage, "dtls: already started");
  d.state = DtlsState::kConnecting;
  d.handshake_deadline = now_ms + d.opt.handshake_timeout_ms;
  if (d.role == DtlsRole::kClient) d.DriveHandshake();  // writes the ClientHello
  d.Deliver();
  return base::Ok();
}

void DtlsTransport::HandleDatagram(std::span<const uint8_t> datagram, int64_t now_ms) {
  DtlsImpl& d = *impl_;
  if (d.state == DtlsState::kNew && d.role == DtlsRole::kServer) {
    d.state = DtlsState::kConnecting;
    d.handshake_deadline = now_ms + d.opt.handshake_timeout_ms;
  }
  if (d.state != DtlsState::kConnecting && d.state != DtlsState::kConnected) return;
  // RFC 7983: DTLS records start with a content type in 20..63; anything else is not ours.
  if (datagram.empty() || datagram[0] < 20 || datagram[0] > 63) return;
  d.in = d.Scrub(datagram);
  if (d.in.empty()) return;
  d.in_pending = true;
  if (d.state == DtlsState::kConnecting)
    d.DriveHandshake();
  else
    d.DrainAppData();
  d.in = {};
  d.in_pending = false;
  d.Deliver();
}

int64_t DtlsTransport::NextTimeoutMs(int64_t now_ms) const {
  const DtlsImpl& d = *impl_;
  if (d.state != DtlsState::kConnecting && d.state != DtlsState::kConnected) return -1;
  int64_t next = -1;
  timeval tv{};
  if (DTLSv1_get_timeout(d.ssl, &tv) == 1) {
    // Round up: firing before OpenSSL's own clock has expired would only cost a re-arm.
    next = now_ms + static_cast<int64_t>(tv.tv_sec) * 1000 + (tv.tv_usec + 999) / 1000;
  }
  if (d.state == DtlsState::kConnecting && d.handshake_deadline >= 0)
    next = next < 0 ? d.handshake_deadline : std::min(next, d.handshake_deadline);
  return next;
}

void DtlsTransport::HandleTimeout(int64_t now_ms) {
  DtlsImpl& d = *impl_;
  if (d.state == DtlsState::kConnecting && d.handshake_deadline >= 0 &&
      now_ms >= d.handshake_deadline) {
    d.Fail(Error{base::kExitTempFail, "dtls: handshake timed out after " +
                                          std::to_string(d.opt.handshake_timeout_ms) + " ms"});
  } else if (d.state == DtlsState::kConnecting || d.state == DtlsState::kConnected) {
    ERR_clear_error();
    // 1: retransmitted, 0: OpenSSL's timer has not expired yet, -1: too many retransmissions.
    if (DTLSv1_handle_timeout(d.ssl) < 0) d.Fail(d.ProtocolError("retransmission limit reached"));
    ERR_clear_error();
  }
  d.Deliver();
}

Status DtlsTransport::SendAppData(std::span<const uint8_t> data) {
  DtlsImpl& d = *impl_;
  if (d.state != DtlsState::kConnected) return MakeError(base::kExitUnavailable, "dtls: not connected");
  if (data.empty()) return base::Ok();
  if (data.size() > MaxAppDataSize())
    return MakeError(base::kExitUsage, "dtls: application data larger than one datagram");
  ERR_clear_error();
  int n = SSL_write(d.ssl, data.data(), static_cast<int>(data.size()));
  Status result;
  if (n <= 0) {
    int err = SSL_get_error(d.ssl, n);
    result = MakeError(base::kExitIoErr, std::string("dtls: write failed (") + std::to_string(err) +
                                             "): " + TakeOpenSslError());
  }
  d.Deliver();
  return result;
}

size_t DtlsTransport::MaxAppDataSize() const {
  if (impl_->state != DtlsState::kConnected) return 0;
  return DTLS_get_data_mtu(impl_->ssl);
}

void DtlsTransport::Close() {
  DtlsImpl& d = *impl_;
  if (d.state == DtlsState::kClosed || d.state == DtlsState::kFailed) return;
  if (d.state == DtlsState::kConnected) {
    ERR_clear_error();
    (void)SSL_shutdown(d.ssl);  // writes close_notify; we do not wait for the peer's
    ERR_clear_error();
  }
  d.state = DtlsState::kClosed;
  d.handshake_deadline = -1;
  d.ev_connected.reset();
  d.ev_closed.reset();
  d.Deliver();
}

DtlsState DtlsTransport::state() const { return impl_->state; }
DtlsRole DtlsTransport::role() const { return impl_->role; }
const std::string& DtlsTransport::remote_fingerprint() const { return impl_->remote_fingerprint; }

}  // namespace collab::rtc
