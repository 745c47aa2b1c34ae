// DTLS 1.2 for DTLS-SRTP (RFC 5763, RFC 5764, RFC 8827) as a socket-free state machine: the
// caller feeds received datagrams and timer expiries in, and gets datagrams to send, the SRTP
// keys, application data (for SCTP later) and the close reason out through callbacks. Because
// nothing here owns a socket or a timer, the same code runs over UDP, over ICE-TCP framing, and
// back-to-back in memory in the tests.
//
// Security model: the peer is authenticated only by its certificate's fingerprint from the SDP
// (a=fingerprint), checked during the handshake; a mismatch fails the handshake with a
// bad_certificate alert. DTLS 1.2 only, ECDHE with AES-GCM/ChaCha20 suites, use_srtp offering
// SRTP_AEAD_AES_128_GCM before SRTP_AES128_CM_SHA1_80.
//
// Deliberately not here: demultiplexing STUN/RTP from DTLS (rtp.hpp ClassifyPacket), DTLS 1.3,
// session resumption and renegotiation (both refused), SCTP, and the SDP a=setup negotiation
// (the caller picks the role: remote a=setup:active -> we are kServer; remote passive -> kClient).
//
// Timer contract. The transport never reads a clock itself for its own deadlines: every entry
// point takes now_ms, a monotonic millisecond clock that advances with real time (uv_now()).
// After EVERY call into the transport (Start, HandleDatagram, HandleTimeout, SendAppData, Close,
// and from inside callbacks too) the caller re-reads NextTimeoutMs(now_ms): a value >= 0 is the
// absolute time (same clock) at which HandleTimeout must be called; -1 means stop the timer.
// With libuv: `int64_t t = d.NextTimeoutMs(uv_now(loop)); if (t < 0) uv_timer_stop(&timer);
// else uv_timer_start(&timer, cb, t > now ? t - now : 0, 0);`. Calling HandleTimeout early or
// spuriously is harmless (OpenSSL keeps its own real-time retransmission clock and does nothing
// until it has expired; the caller then re-arms from NextTimeoutMs). Retransmission backs off
// from Options::initial_retransmit_ms, doubling up to max_retransmit_ms; a handshake still
// unfinished handshake_timeout_ms after Start fails with on_closed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.hpp"
#include "lib/rtc/certificate.hpp"
#include "lib/rtc/srtp.hpp"

namespace collab::rtc {

struct DtlsImpl;  // dtls.cpp

enum class DtlsRole : uint8_t {
  kServer,  // passive: waits for the ClientHello
  kClient,  // active: sends the ClientHello on Start
};

enum class DtlsState : uint8_t {
  kNew,         // created, Start not called yet
  kConnecting,  // handshake in progress
  kConnected,   // handshake done, fingerprint verified, keys delivered
  kClosed,      // close_notify sent or received
  kFailed,      // handshake or protocol failure, timeout; see on_closed's reason
};

const char* DtlsStateName(DtlsState state);

class DtlsTransport {
 public:
  // Callbacks run on the caller's thread, always outside OpenSSL, after the call that caused
  // them has done its work, in this order: datagrams, connected, app data, closed. A callback
  // may call back into the transport, and may destroy it (the remaining callbacks of that call
  // are then dropped).
  struct Callbacks {
    // One datagram to transmit (several records of a flight are packed up to the MTU). Required.
    std::function<void(std::span<const uint8_t> datagram)> send;
    // The handshake finished and the peer's certificate matched the SDP fingerprint.
    std::function<void(const SrtpKeys& keys)> on_connected;
    // Once, when the transport becomes kFailed or the peer closes it (kClosed). Not called for
    // our own Close(). Codes: kExitNoPerm fingerprint mismatch / no certificate, kExitTempFail
    // handshake timeout, kExitUnavailable peer close_notify, kExitDataErr protocol error or
    // fatal alert (the message names it).
    std::function<void(const base::Error& reason)> on_closed;
    // Decrypted application data records (optional; dropped when unset).
    std::function<void(std::span<const uint8_t> data)> on_app_data;
  };

  struct Options {
    // Largest datagram we send (UDP payload bytes). Flights are fragmented to fit; 256 minimum.
    size_t mtu = 1200;
    // First retransmission timeout; doubles per retransmission up to max_retransmit_ms. Shorter
    // than RFC 6347's 1 s because ICE has already proven the path before DTLS starts.
    int initial_retransmit_ms = 250;
    int max_retransmit_ms = 4000;
    // The whole handshake must finish within this time after Start.
    int64_t handshake_timeout_ms = 30000;
    // use_srtp profiles in preference order (as server, our order wins).
    std::vector<SrtpProfile> srtp_profiles = {SrtpProfile::kAeadAes128Gcm,
                                              SrtpProfile::kAes128CmHmacSha1_80};
    // Server only: answer the first ClientHello with a HelloVerifyRequest (RFC 6347 4.2.1).
    // Off by default: ICE consent already proved the peer's address, and browsers do not use it.
    bool cookie_exchange = false;
  };

  // expected_remote_fingerprint is the peer's a=fingerprint value ("sha-256 AB:CD:...");
  // an unparsable value is an error here, not at handshake time. The certificate's key and
  // X509 are referenced, so the Certificate object need not outlive the transport.
  static base::Result<std::unique_ptr<DtlsTransport>> Create(
      const Certificate& certificate, DtlsRole role, std::string_view expected_remote_fingerprint,
      Callbacks callbacks);
  static base::Result<std::unique_ptr<DtlsTransport>> Create(
      const Certificate& certificate, DtlsRole role, std::string_view expected_remote_fingerprint,
      Callbacks callbacks, Options options);
  // Destroying does not send close_notify: call Close() first for a graceful end.
  ~DtlsTransport();
  DtlsTransport(const DtlsTransport&) = delete;
  DtlsTransport& operator=(const DtlsTransport&) = delete;

  // Client: sends the ClientHello. Server: starts the handshake timeout (a server also starts
  // implicitly on its first datagram). Calling it twice is an error.
  base::Status Start(int64_t now_ms);
  // One received datagram (UDP payload or one RFC 4571 frame). Datagrams whose first byte is
  // not in DTLS's 20..63 range, records failing their MAC or replay check, encrypted records too
  // short to be genuine (which OpenSSL 3.0 would treat as fatal), and anything after
  // kClosed/kFailed are dropped. A well-formed but invalid handshake message fails the handshake.
  void HandleDatagram(std::span<const uint8_t> datagram, int64_t now_ms);
  // See the timer contract above.
  int64_t NextTimeoutMs(int64_t now_ms) const;
  void HandleTimeout(int64_t now_ms);

  // One application-data record; at most MaxAppDataSize() bytes; only when kConnected.
  base::Status SendAppData(std::span<const uint8_t> data);
  size_t MaxAppDataSize() const;

  // Sends close_notify when connected and moves to kClosed. Idempotent; no on_closed.
  void Close();

  DtlsState state() const;
  DtlsRole role() const;
  // The peer certificate's SHA-256 fingerprint in SDP form, once its certificate was checked.
  const std::string& remote_fingerprint() const;

 private:
  explicit DtlsTransport(std::shared_ptr<DtlsImpl> impl);
  // Shared so that a callback destroying the transport does not free the state (and the
  // std::function being run) under its own feet.
  std::shared_ptr<DtlsImpl> impl_;
};

}  // namespace collab::rtc
