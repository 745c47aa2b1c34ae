// WHIP ingest (RFC 9725): a browser or OBS POSTs an SDP offer to /whip/{name} with the
// publisher key as a Bearer token, gets 201 with our answer (H.264 + Opus, recvonly, ICE-lite
// with every candidate in it) and a session URL to DELETE when done. Media arrives over a
// WebRtcTransport: H.264 is depacketized into access units, Opus is transcoded to AAC, and both
// reach the owner as FLV tag bodies through the same callbacks an RTMP publisher produces, with
// connection ids from their own range. Keyframes are requested (RTCP PLI) at the start, after
// loss, and whenever a segment's worth of video passed without one, since browsers' encoders
// otherwise send a single keyframe per session.
// Deliberately not here: the publish decision (key check, name in use: the owner's on_publish),
// trickle ICE and ICE restarts (PATCH answers 405: we are ICE-lite and our answer is complete),
// NACK/RTX, transport-wide congestion control (receiver reports and a fixed REMB ceiling let
// the browser's encoder ramp up), simulcast, codecs other than H.264/Opus, and A/V sync from
// RTCP sender reports (each track is anchored at its first packet's arrival, close enough on
// a LAN).
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/json.hpp"
#include "lib/base/result.hpp"
#include "lib/rtc/certificate.hpp"
#include "lib/rtc/transport.hpp"
#include "lib/stream/rtmp_server.hpp"

namespace collab::http {
class Server;
struct Request;
struct Response;
}  // namespace collab::http

namespace collab::stream {

// Connection ids of WHIP sessions: kWhipConnectionBase + session number (below SRT's range).
inline constexpr uint64_t kWhipConnectionBase = uint64_t{1} << 61;

struct WhipIngestOptions {
  std::vector<std::string> announced_addresses;  // candidate addresses; empty = the bound ones
  size_t max_sessions = 32;
  int keyframe_interval_ms = 2000;  // ask for a keyframe when none came for this long
  int aac_bitrate = 128000;
  // Announced to the browser in REMB: the video bitrate its encoder may climb to.
  uint64_t max_video_bitrate = 4000000;
  // A session whose media has not connected (ICE + DTLS) by then is ended.
  int connect_timeout_ms = 30000;
};

class WhipIngest {
 public:
  // Adds CORS headers for a request's Origin the way the owner's other routes do.
  using CorsFn = std::function<void(const std::string& origin, http::Response&)>;

  // `sockets` must outlive this object.
  WhipIngest(uv_loop_t* loop, rtc::RtcSockets& sockets, std::shared_ptr<const rtc::Certificate> certificate,
             WhipIngestOptions options, RtmpServer::Handlers handlers, CorsFn cors);
  // Ends every session (on_end for each) and stops the timer; run the loop afterwards.
  ~WhipIngest();
  WhipIngest(const WhipIngest&) = delete;
  WhipIngest& operator=(const WhipIngest&) = delete;

  // POST/OPTIONS /whip/{name}, DELETE/PATCH/OPTIONS /whip/{name}/{session}.
  void Register(http::Server& server);

  // The POST handler's work, public for tests.
  http::Response Offer(const std::string& name, const http::Request& request);
  // Ends a session by its URL; false when there is none.
  bool Delete(const std::string& name, const std::string& session_id);
  // Kick: ends the session with this connection id; false when unknown.
  bool Disconnect(uint64_t conn);
  void CloseAll();
  size_t session_count() const { return sessions_.size(); }
  void AddStatus(base::Json& status) const;

  struct Session;

 private:
  void End(uint64_t conn, const char* why);
  void OnTick();

  uv_loop_t* loop_;
  rtc::RtcSockets* sockets_;
  std::shared_ptr<const rtc::Certificate> certificate_;
  WhipIngestOptions options_;
  RtmpServer::Handlers handlers_;
  CorsFn cors_;
  uv_timer_t* timer_ = nullptr;
  uint64_t next_session_ = 1;
  std::map<uint64_t, std::unique_ptr<Session>> sessions_;  // by connection id
  uint64_t total_sessions_ = 0, refused_ = 0;
  // The HTTP server keeps our handlers after we are gone (drain): they check this first.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace collab::stream
