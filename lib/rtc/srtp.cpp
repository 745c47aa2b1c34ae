#include "lib/rtc/srtp.hpp"

#include <arpa/inet.h>
#include <srtp2/srtp.h>

#include <climits>
#include <cstring>
#include <string>

#include "lib/base/log.hpp"

namespace collab::rtc {

using base::Error;
using base::kExitDataErr;
using base::kExitSoftware;
using base::kExitUsage;
using base::MakeError;
using base::Result;

namespace {

// Names without the "srtp_err_status_" prefix: each fits std::string's inline buffer, so an
// error on the hot path (replay, forged packet) costs no allocation.
const char* StatusName(srtp_err_status_t s) {
  switch (s) {
    case srtp_err_status_ok: return "ok";
    case srtp_err_status_fail: return "fail";
    case srtp_err_status_bad_param: return "bad_param";
    case srtp_err_status_alloc_fail: return "alloc_fail";
    case srtp_err_status_dealloc_fail: return "dealloc_fail";
    case srtp_err_status_init_fail: return "init_fail";
    case srtp_err_status_terminus: return "terminus";
    case srtp_err_status_auth_fail: return "auth_fail";
    case srtp_err_status_cipher_fail: return "cipher_fail";
    case srtp_err_status_replay_fail: return "replay_fail";
    case srtp_err_status_replay_old: return "replay_old";
    case srtp_err_status_algo_fail: return "algo_fail";
    case srtp_err_status_no_such_op: return "no_such_op";
    case srtp_err_status_no_ctx: return "no_ctx";
    case srtp_err_status_cant_check: return "cant_check";
    case srtp_err_status_key_expired: return "key_expired";
    case srtp_err_status_socket_err: return "socket_err";
    case srtp_err_status_signal_err: return "signal_err";
    case srtp_err_status_nonce_bad: return "nonce_bad";
    case srtp_err_status_read_fail: return "read_fail";
    case srtp_err_status_write_fail: return "write_fail";
    case srtp_err_status_parse_err: return "parse_err";
    case srtp_err_status_encode_err: return "encode_err";
    case srtp_err_status_semaphore_err: return "semaphore_err";
    case srtp_err_status_pfkey_err: return "pfkey_err";
    case srtp_err_status_bad_mki: return "bad_mki";
    case srtp_err_status_pkt_idx_old: return "pkt_idx_old";
    case srtp_err_status_pkt_idx_adv: return "pkt_idx_adv";
  }
  return "unknown";
}

Error StatusError(srtp_err_status_t s) {
  // Verdicts on a packet (auth, replay, framing, "cannot check this SRTCP") are bad data; only
  // failures of libsrtp itself mean our own state is broken.
  switch (s) {
    case srtp_err_status_alloc_fail:
    case srtp_err_status_dealloc_fail:
    case srtp_err_status_init_fail:
    case srtp_err_status_algo_fail:
    case srtp_err_status_no_ctx:
    case srtp_err_status_no_such_op:
      return Error{kExitSoftware, StatusName(s)};
    default:
      return Error{kExitDataErr, StatusName(s)};
  }
}

void SrtpLogHandler(srtp_log_level_t level, const char* msg, void*) {
  // libsrtp only talks when something is odd; never at warning level so a noisy peer cannot
  // flood the journal.
  LOG_DEBUG("libsrtp[%d]: %s", static_cast<int>(level), msg);
}

srtp_err_status_t InitOnce() {
  static const srtp_err_status_t status = [] {
    srtp_err_status_t s = srtp_init();
    if (s == srtp_err_status_ok) srtp_install_log_handler(SrtpLogHandler, nullptr);
    return s;
  }();
  return status;
}

constexpr size_t kRtpMinHeader = 12;
constexpr size_t kRtcpMinHeader = 8;

}  // namespace

const char* SrtpProfileName(SrtpProfile profile) {
  switch (profile) {
    case SrtpProfile::kAes128CmHmacSha1_80: return "SRTP_AES128_CM_SHA1_80";
    case SrtpProfile::kAeadAes128Gcm: return "SRTP_AEAD_AES_128_GCM";
  }
  return "unknown";
}

size_t SrtpKeySaltLength(SrtpProfile profile) {
  return profile == SrtpProfile::kAeadAes128Gcm ? 16 + 12 : 16 + 14;
}

size_t SrtpRtpOverhead(SrtpProfile profile) {
  return profile == SrtpProfile::kAeadAes128Gcm ? 16 : 10;
}

size_t SrtpRtcpOverhead(SrtpProfile profile) { return SrtpRtpOverhead(profile) + 4; }

bool IsSrtpReplayError(const Error& error) {
  return error.message == "replay_fail" || error.message == "replay_old";
}
bool IsSrtpAuthError(const Error& error) { return error.message == "auth_fail"; }

struct SrtpSession::Impl {
  srtp_t outbound = nullptr;
  srtp_t inbound = nullptr;
  ~Impl() {
    if (outbound != nullptr) srtp_dealloc(outbound);
    if (inbound != nullptr) srtp_dealloc(inbound);
  }
};

SrtpSession::SrtpSession(SrtpProfile profile) : profile_(profile), impl_(std::make_unique<Impl>()) {}
SrtpSession::~SrtpSession() = default;

Result<std::unique_ptr<SrtpSession>> SrtpSession::Create(const SrtpKeys& keys) {
  return Create(keys, Options{});
}

Result<std::unique_ptr<SrtpSession>> SrtpSession::Create(const SrtpKeys& keys, Options options) {
  if (keys.profile != SrtpProfile::kAeadAes128Gcm &&
      keys.profile != SrtpProfile::kAes128CmHmacSha1_80)
    return MakeError(kExitUsage, "srtp: unsupported profile");
  const size_t need = SrtpKeySaltLength(keys.profile);
  if (keys.local_key_salt.size() != need || keys.remote_key_salt.size() != need)
    return MakeError(kExitUsage, std::string("srtp: ") + SrtpProfileName(keys.profile) +
                                     " needs " + std::to_string(need) + "-byte key||salt");
  if (options.replay_window < 64 || options.replay_window > 0x7fff)
    return MakeError(kExitUsage, "srtp: replay window must be 64..32767");
  if (srtp_err_status_t s = InitOnce(); s != srtp_err_status_ok)
    return MakeError(kExitSoftware, std::string("srtp_init: ") + StatusName(s));

  std::unique_ptr<SrtpSession> session(new SrtpSession(keys.profile));
  auto make = [&](const std::vector<uint8_t>& key, srtp_ssrc_type_t type,
                  srtp_t* out) -> base::Status {
    srtp_policy_t policy;
    std::memset(&policy, 0, sizeof policy);
    if (keys.profile == SrtpProfile::kAeadAes128Gcm) {
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
    } else {
      srtp_crypto_policy_set_rtp_default(&policy.rtp);   // AES_CM_128_HMAC_SHA1_80
      srtp_crypto_policy_set_rtcp_default(&policy.rtcp);
    }
    policy.ssrc.type = type;
    // libsrtp copies the key material while creating the session; the cast is its API's.
    policy.key = const_cast<unsigned char*>(key.data());
    policy.window_size = options.replay_window;
    policy.allow_repeat_tx = options.allow_repeat_tx ? 1 : 0;
    policy.next = nullptr;
    srtp_err_status_t s = srtp_create(out, &policy);
    if (s != srtp_err_status_ok) {
      *out = nullptr;
      return MakeError(kExitSoftware, std::string("srtp_create: ") + StatusName(s));
    }
    return base::Ok();
  };
  COLLAB_TRY(make(keys.local_key_salt, ssrc_any_outbound, &session->impl_->outbound));
  COLLAB_TRY(make(keys.remote_key_salt, ssrc_any_inbound, &session->impl_->inbound));
  return session;
}

namespace {

using SrtpFn = srtp_err_status_t (*)(srtp_t, void*, int*);

// The shared shape of the four calls: the bounds checks libsrtp cannot do (it takes no
// capacity), the call, the status mapping.
inline Result<size_t> Run(SrtpFn fn, srtp_t session, std::span<uint8_t> buf, size_t len,
                          size_t min_len, size_t overhead) {
  if (len > buf.size()) return Error{kExitUsage, "len_over_cap"};
  if (len < min_len) return Error{kExitDataErr, "too_short"};
  if (buf.size() - len < overhead) return Error{kExitUsage, "no_room"};
  if (len > static_cast<size_t>(INT_MAX) - 64) return Error{kExitDataErr, "too_long"};
  int n = static_cast<int>(len);
  srtp_err_status_t s = fn(session, buf.data(), &n);
  if (s != srtp_err_status_ok) return StatusError(s);
  return static_cast<size_t>(n);
}

}  // namespace

Result<size_t> SrtpSession::ProtectRtp(std::span<uint8_t> buf, size_t len) {
  return Run(srtp_protect, impl_->outbound, buf, len, kRtpMinHeader, rtp_overhead());
}

Result<size_t> SrtpSession::UnprotectRtp(std::span<uint8_t> buf, size_t len) {
  return Run(srtp_unprotect, impl_->inbound, buf, len, kRtpMinHeader, 0);
}

Result<size_t> SrtpSession::ProtectRtcp(std::span<uint8_t> buf, size_t len) {
  return Run(srtp_protect_rtcp, impl_->outbound, buf, len, kRtcpMinHeader, rtcp_overhead());
}

Result<size_t> SrtpSession::UnprotectRtcp(std::span<uint8_t> buf, size_t len) {
  return Run(srtp_unprotect_rtcp, impl_->inbound, buf, len, kRtcpMinHeader, 0);
}

void SrtpSession::RemoveStream(uint32_t ssrc) {
  // libsrtp wants the SSRC as it appears on the wire; "no such stream" is not an error here.
  (void)srtp_remove_stream(impl_->outbound, htonl(ssrc));
  (void)srtp_remove_stream(impl_->inbound, htonl(ssrc));
}

}  // namespace collab::rtc
