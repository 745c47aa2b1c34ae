// SRTP/SRTCP (RFC 3711, RFC 7714) for one DTLS-SRTP association, on top of libsrtp2: an
// outbound session keyed with our DTLS-exported key and an inbound one keyed with the peer's,
// each accepting any SSRC. Protect/unprotect work in place on the caller's buffer; failures
// that happen routinely on the network (replayed or forged packets) are cheap: no logging, and
// the error message is libsrtp's short status name (fits the small-string buffer, no allocation).
//
// Deliberately not here: key derivation (dtls.hpp exports the keys), MKI, encrypted header
// extensions, SSRC bookkeeping beyond RemoveStream, and any packet parsing beyond what libsrtp does.
// libsrtp headers stay in srtp.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "lib/base/result.hpp"

namespace collab::rtc {

// DTLS-SRTP protection profiles (RFC 5764 section 4.1.2, RFC 7714 section 14.2): the values are
// the use_srtp extension ids.
enum class SrtpProfile : uint16_t {
  kAes128CmHmacSha1_80 = 0x0001,
  kAeadAes128Gcm = 0x0007,
};

const char* SrtpProfileName(SrtpProfile profile);  // "SRTP_AEAD_AES_128_GCM", ...
// Master key + master salt length for the profile: 30 for AES-CM (16+14), 28 for GCM (16+12).
size_t SrtpKeySaltLength(SrtpProfile profile);
// Bytes ProtectRtp adds: the auth tag (10 for HMAC-SHA1-80, 16 for GCM).
size_t SrtpRtpOverhead(SrtpProfile profile);
// Bytes ProtectRtcp adds: the auth tag plus the 4-byte E flag + SRTCP index.
size_t SrtpRtcpOverhead(SrtpProfile profile);
// The largest overhead of any supported profile, for sizing buffers up front.
inline constexpr size_t kSrtpMaxRtpOverhead = 16;
inline constexpr size_t kSrtpMaxRtcpOverhead = 20;

// What a DTLS-SRTP handshake yields: the negotiated profile and two master key||salt strings,
// already assigned to directions for our role.
struct SrtpKeys {
  SrtpProfile profile = SrtpProfile::kAeadAes128Gcm;
  std::vector<uint8_t> local_key_salt;   // protects what we send
  std::vector<uint8_t> remote_key_salt;  // unprotects what we receive
};

class SrtpSession {
 public:
  struct Options {
    // Replay window in packets (libsrtp accepts 64..32767). Large because simulcast/RTX bursts
    // and path reordering would otherwise turn late packets into replay failures.
    uint16_t replay_window = 1024;
    // Lets us protect the same (SSRC, seq) twice; libsrtp would otherwise refuse a resend.
    bool allow_repeat_tx = true;
  };

  // Initializes libsrtp on first use (once per process, thread-safe).
  static base::Result<std::unique_ptr<SrtpSession>> Create(const SrtpKeys& keys);
  static base::Result<std::unique_ptr<SrtpSession>> Create(const SrtpKeys& keys, Options options);
  ~SrtpSession();
  SrtpSession(const SrtpSession&) = delete;
  SrtpSession& operator=(const SrtpSession&) = delete;

  // Each call works in place on buf[0, len); buf.size() is the capacity and must leave room for
  // the overhead when protecting. Returns the new length. Errors: code kExitDataErr with message
  // "replay_fail", "replay_old", "auth_fail", "bad_param" (malformed packet) etc. (libsrtp's
  // srtp_err_status names without the prefix) or "too_short" (under 12 bytes RTP / 8 RTCP);
  // kExitUsage "no_room" / "len_over_cap" when the buffer cannot hold the result.
  base::Result<size_t> ProtectRtp(std::span<uint8_t> buf, size_t len);
  base::Result<size_t> UnprotectRtp(std::span<uint8_t> buf, size_t len);
  base::Result<size_t> ProtectRtcp(std::span<uint8_t> buf, size_t len);
  base::Result<size_t> UnprotectRtcp(std::span<uint8_t> buf, size_t len);

  // Forgets an SSRC's crypto state (replay window, rollover counter) in both directions, so a
  // session with SSRC churn does not grow forever. Unknown SSRCs are fine.
  void RemoveStream(uint32_t ssrc);

  SrtpProfile profile() const { return profile_; }
  size_t rtp_overhead() const { return SrtpRtpOverhead(profile_); }
  size_t rtcp_overhead() const { return SrtpRtcpOverhead(profile_); }

 private:
  struct Impl;
  explicit SrtpSession(SrtpProfile profile);

  SrtpProfile profile_;
  std::unique_ptr<Impl> impl_;
};

// True for the two errors a receiver sees in normal operation (duplicates, late packets).
bool IsSrtpReplayError(const base::Error& error);
bool IsSrtpAuthError(const base::Error& error);

}  // namespace collab::rtc
