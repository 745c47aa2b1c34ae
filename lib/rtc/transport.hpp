// The socket layer of WebRTC on libuv: one UDP socket and one passive ICE-TCP listener shared
// by every peer (RtcSockets), and one WebRtcTransport per peer that glues the socket-free state
// machines together: STUN -> IceLiteAgent (responses go back on the path they came from), DTLS
// -> DtlsTransport (flights go to the selected pair), SRTP/SRTCP -> SrtpSession, decrypted in
// place once per packet and handed to callbacks; what the caller sends is protected and written
// to the selected pair (a UDP datagram, or an RFC 4571 frame on the pair's TCP connection).
//
// Demultiplexing (DESIGN: one UDP port for all peers): a packet from a known remote address
// (one that has passed a valid ICE check for that peer) goes to that peer; a STUN Binding
// request from an unknown address is routed by the local ufrag of its USERNAME, and its address
// is remembered once the owning agent accepted the check. Everything else from unknown
// addresses is dropped without a reply. A TCP connection belongs to nobody until its first
// valid check, and then to that peer for its whole life.
//
// Everything runs on the loop thread. Deliberately not here: rooms, subscriptions, SDP (the
// caller builds the answer from local_credentials(), the certificate fingerprint and
// candidates()), TURN, host-name resolution of listen addresses (IP literals only), and SCTP.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lib/base/result.hpp"
#include "lib/rtc/certificate.hpp"
#include "lib/rtc/dtls.hpp"
#include "lib/rtc/ice.hpp"
#include "lib/rtc/rtp.hpp"
#include "lib/rtc/stun.hpp"

namespace collab::rtc {

class WebRtcTransport;
struct RtcSocketsImpl;

struct RtcSocketsConfig {
  // HOST:PORT with an IP literal ("127.0.0.1:10000", "[::]:10000", "*:10000"); port 0 takes a
  // free port. An empty tcp_listen means no ICE-TCP.
  std::string udp_listen = "127.0.0.1:0";
  std::string tcp_listen = "127.0.0.1:0";
  // TCP connections not yet owned by a peer (no valid check yet) beyond this are refused, and
  // owned ones count against it too: a client must not exhaust file descriptors.
  size_t max_tcp_connections = 512;
  // A TCP connection whose unsent bytes exceed this drops further packets (media is late anyway).
  size_t max_tcp_queue_bytes = 2u << 20;
  // A TCP connection that has not sent a valid ICE check for any peer by then is closed.
  uint64_t unclaimed_tcp_timeout_ms = 10000;
};

struct WebRtcTransportOptions {
  IceCredentials local_ice = IceCredentials::Generate();
  std::string remote_ufrag, remote_pwd;  // from the peer's SDP; may be empty
  // The peer's a=fingerprint value, "sha-256 AB:CD:...".
  std::string remote_fingerprint;
  DtlsRole dtls_role = DtlsRole::kServer;  // our answer says a=setup:passive
  IceLiteConfig ice;
  DtlsTransport::Options dtls;
};

// Owns the shared sockets. Destroy it after every WebRtcTransport made from it; then run the
// loop so the handles close (the destructor only starts closing them).
class RtcSockets {
 public:
  [[nodiscard]] static base::Result<std::unique_ptr<RtcSockets>> Start(uv_loop_t* loop, const RtcSocketsConfig& config);
  ~RtcSockets();
  RtcSockets(const RtcSockets&) = delete;
  RtcSockets& operator=(const RtcSockets&) = delete;

  // The bound addresses (with the real port when 0 was asked); tcp nullopt when disabled.
  const TransportAddress& udp_address() const;
  const std::optional<TransportAddress>& tcp_address() const;
  uv_loop_t* loop() const;
  size_t transport_count() const;
  size_t tcp_connection_count() const;
  // Packets dropped because no peer claimed them (unknown address, unknown ufrag, garbage).
  uint64_t dropped_unrouted() const;

  RtcSocketsImpl* impl() const { return impl_.get(); }

 private:
  explicit RtcSockets(std::unique_ptr<RtcSocketsImpl> impl);
  std::unique_ptr<RtcSocketsImpl> impl_;
};

// One peer connection's transport (everything bundled on one ICE component, rtcp-mux).
class WebRtcTransport {
 public:
  // Callbacks run on the loop thread. Any of them may destroy the transport.
  struct Callbacks {
    // DTLS finished and SRTP keys are installed: media may flow.
    std::function<void()> on_connected;
    // One decrypted RTP packet, rewritable in place; the view is valid only during the call.
    std::function<void(MutableRtpView& packet)> on_rtp;
    // One decrypted RTCP compound packet, rewritable in place; valid only during the call.
    std::function<void(std::span<uint8_t> compound)> on_rtcp;
    // Once: ICE consent expired or never came, or DTLS failed or was closed by the peer. The
    // transport is then inert (sends fail); destroy it. Not called for Close()/destruction.
    std::function<void(const base::Error& reason)> on_closed;
  };

  // Registers the local ufrag with `sockets` (which must outlive the transport). Errors: the
  // ufrag is already in use, a bad fingerprint, or OpenSSL failures.
  [[nodiscard]] static base::Result<std::unique_ptr<WebRtcTransport>> Create(
      RtcSockets& sockets, std::shared_ptr<const Certificate> certificate, WebRtcTransportOptions options,
      Callbacks callbacks);
  // Closes as Close() does.
  ~WebRtcTransport();
  WebRtcTransport(const WebRtcTransport&) = delete;
  WebRtcTransport& operator=(const WebRtcTransport&) = delete;

  // Protects one RTP packet / RTCP compound (copied into a scratch buffer; the input is not
  // changed) and sends it on the selected pair. Errors: not connected yet or closed
  // (kExitUnavailable), SRTP failures (kExitDataErr), socket congestion (kExitTempFail).
  base::Status SendRtp(std::span<const uint8_t> packet);
  base::Status SendRtcp(std::span<const uint8_t> compound);

  // Sends close_notify if connected, unregisters from the sockets, stops timers, drops the TCP
  // connections it owns. Idempotent; no on_closed.
  void Close();

  const IceCredentials& local_credentials() const;
  const IceLiteAgent& ice() const;
  DtlsState dtls_state() const;
  bool connected() const;  // SRTP keys installed and not closed
  bool closed() const;
  // Packets that failed SRTP/SRTCP authentication or replay checks (dropped).
  uint64_t srtp_errors() const { return srtp_errors_; }
  uint64_t rtp_received() const { return rtp_received_; }
  uint64_t rtp_sent() const { return rtp_sent_; }

  // Called by RtcSockets: one packet on `path`. `data` is a scratch buffer owned by the
  // caller that may be decrypted in place.
  void HandlePacket(std::span<uint8_t> data, const TransportAddress& from, IceProtocol protocol, void* tcp_conn);

 private:
  struct TimerBox;
  WebRtcTransport(RtcSockets& sockets, WebRtcTransportOptions options, Callbacks callbacks);
  void HandleStun(std::span<const uint8_t> data, const TransportAddress& from, IceProtocol protocol, void* tcp_conn);
  void SendOnPair(std::span<const uint8_t> data);
  base::Status SendProtected(std::span<const uint8_t> data, bool rtcp);
  void OnDtlsConnected(const SrtpKeys& keys);
  void Fail(const base::Error& reason);
  void OnTimer();
  void ArmTimer();

  RtcSockets* sockets_;
  Callbacks callbacks_;
  size_t max_pairs_;
  IceLiteAgent agent_;
  std::unique_ptr<DtlsTransport> dtls_;
  std::unique_ptr<SrtpSession> srtp_;
  TimerBox* timer_ = nullptr;  // freed by its close callback
  std::vector<uint8_t> send_buf_;
  bool closed_ = false;
  // Reset (expired) when the object dies, so code after a callback can tell.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  uint64_t srtp_errors_ = 0, rtp_received_ = 0, rtp_sent_ = 0;
};

}  // namespace collab::rtc
