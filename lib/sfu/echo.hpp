// The /echo test page's server side: a browser sends an SDP offer over the WebSocket /echo/ws,
// gets an answer from a fresh WebRtcTransport, and every RTP packet it sends on a media section
// comes back on the same section under our own SSRC (payload type, sequence number, timestamp
// and header extensions unchanged); its feedback about our SSRCs (PLI, FIR, NACK, transport-cc)
// is pointed back at its own sending SSRCs so its encoder reacts. It proves the whole WebRTC
// stack against a real browser without any room logic.
//
// Deliberately not here: rooms, authentication (the page is meant for loopback and admin use;
// max_peers bounds what a client can cost), RTX (the answer omits it), simulcast, our own RTCP
// sender reports, and renegotiation (one offer per WebSocket).
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lib/base/json.hpp"
#include "lib/base/result.hpp"
#include "lib/rtc/certificate.hpp"
#include "lib/rtc/transport.hpp"

namespace collab::http {
class Server;
class WebSocket;
}  // namespace collab::http

namespace collab::sfu {

struct EchoOptions {
  size_t max_peers = 16;                       // 0 disables the page
  std::vector<std::string> announced_addresses;  // candidate addresses; empty = the bound ones
  std::string web_dir;                           // where echo.html lives
};

class EchoService {
 public:
  EchoService(rtc::RtcSockets& sockets, std::shared_ptr<const rtc::Certificate> certificate, EchoOptions options);
  ~EchoService();
  EchoService(const EchoService&) = delete;
  EchoService& operator=(const EchoService&) = delete;

  // GET /echo (the page) and the WebSocket /echo/ws.
  void Register(http::Server& server);
  // Answers one offer: what the WebSocket handler does with {"type":"offer"}. Public for tests.
  // On success the peer is kept under `peer_id` until Remove(peer_id).
  base::Result<std::string> HandleOffer(uint64_t peer_id, std::string_view sdp_offer,
                                        std::shared_ptr<http::WebSocket> ws);
  void Remove(uint64_t peer_id);
  void CloseAll();
  size_t peer_count() const { return peers_.size(); }
  void AddStatus(base::Json& status) const;

  struct Peer;

 private:

  rtc::RtcSockets* sockets_;
  std::shared_ptr<const rtc::Certificate> certificate_;
  EchoOptions options_;
  std::map<uint64_t, std::unique_ptr<Peer>> peers_;
  uint64_t total_peers_ = 0;
  // The HTTP server keeps our handlers after we are gone (drain): they check this first.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace collab::sfu
