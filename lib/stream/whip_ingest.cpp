#include "lib/stream/whip_ingest.hpp"

#include <algorithm>
#include <random>
#include <set>

#include "lib/base/ascii.hpp"
#include "lib/base/exit_codes.hpp"
#include "lib/base/log.hpp"
#include "lib/base/time.hpp"
#include "lib/http/server.hpp"
#include "lib/media/audio_transcode.hpp"
#include "lib/rtc/local_params.hpp"
#include "lib/rtc/rtcp.hpp"
#include "lib/rtc/rtp.hpp"
#include "lib/rtc/sdp.hpp"
#include "lib/rtc/sdp_answer.hpp"
#include "lib/stream/h264_depacketizer.hpp"
#include "lib/stream/ingest_tags.hpp"

namespace collab::stream {

namespace {

constexpr int kTickMs = 100;
// While a keyframe is missing, ask again this often (a PLI can be lost too).
constexpr int64_t kPliRetryMs = 500;
constexpr int64_t kReportMs = 1000;

bool ValidName(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::string RandomHex(size_t bytes) {
  static const char* kHex = "0123456789abcdef";
  std::random_device rd;  // /dev/urandom: session URLs are capabilities
  std::string s;
  for (size_t i = 0; i < bytes; ++i) {
    unsigned v = rd() & 0xFF;
    s.push_back(kHex[v >> 4]);
    s.push_back(kHex[v & 15]);
  }
  return s;
}


http::Response Problem(int status, std::string code, std::string message) {
  return http::Response::Error(status, std::move(code), std::move(message));
}

// The H.264 codec we would like the browser to send: constrained baseline 3.1 with
// packetization-mode 1 first (what every HLS player decodes), then other mode-1 entries.
void PreferH264(rtc::SdpMedia& m) {
  auto rank = [](const rtc::SdpCodec& c) {
    if (!c.Is("H264")) return 3;
    auto mode = c.FmtpParam("packetization-mode");
    if (!mode || *mode != "1") return 3;
    auto pli = c.FmtpParam("profile-level-id");
    return pli && base::LowerAscii(std::string(*pli)) == "42e01f" ? 0 : 1;
  };
  std::stable_sort(m.codecs.begin(), m.codecs.end(),
                   [&](const rtc::SdpCodec& a, const rtc::SdpCodec& b) { return rank(a) < rank(b); });
  std::vector<std::string> formats;
  for (const auto& c : m.codecs) formats.push_back(std::to_string(c.pt));
  for (const auto& f : m.formats)
    if (std::find(formats.begin(), formats.end(), f) == formats.end()) formats.push_back(f);
  m.formats = std::move(formats);
}

// RTP timestamps of one track mapped onto the session's millisecond timeline: unwrapped, and
// anchored at the local arrival time of the track's first packet.
struct TrackClock {
  int rate = 90000;
  bool started = false;
  uint32_t last = 0;
  int64_t ext = 0, first_ext = 0, first_ms = 0;

  // Returns the unwrapped timestamp relative to the anchor, in `rate` units, plus first_ms.
  int64_t Units(uint32_t ts, int64_t now_ms) {
    if (!started) {
      started = true;
      last = ts;
      ext = first_ext = ts;
      first_ms = now_ms;
    }
    ext += static_cast<int32_t>(ts - last);
    last = ts;
    return first_ms * rate / 1000 + (ext - first_ext);
  }
};

// What a receiver report says about one incoming SSRC (RFC 3550 6.4.1, A.3).
struct ReceiveStats {
  uint32_t ssrc = 0;
  bool started = false;
  uint16_t max_seq = 0;
  uint32_t cycles = 0, base_seq = 0;
  uint64_t received = 0, expected_prior = 0, received_prior = 0;
  uint32_t last_sr = 0;  // middle 32 bits of the NTP time of the sender's last SR
  int64_t last_sr_ms = 0;

  void Count(uint32_t s, uint16_t seq) {
    if (!started || s != ssrc) {
      *this = ReceiveStats{};
      ssrc = s;
      started = true;
      max_seq = seq;
      base_seq = seq;
    } else if (static_cast<int16_t>(seq - max_seq) > 0) {
      if (seq < max_seq) cycles += 65536;
      max_seq = seq;
    }
    ++received;
  }

  rtc::ReportBlock Block(int64_t now_ms) {
    rtc::ReportBlock b;
    b.ssrc = ssrc;
    uint64_t highest = cycles + max_seq;
    uint64_t expected = highest - base_seq + 1;
    int64_t lost = static_cast<int64_t>(expected) - static_cast<int64_t>(received);
    b.cumulative_lost = static_cast<int32_t>(std::clamp<int64_t>(lost, -0x800000, 0x7FFFFF));
    int64_t expected_interval = static_cast<int64_t>(expected - expected_prior);
    int64_t lost_interval = expected_interval - static_cast<int64_t>(received - received_prior);
    expected_prior = expected;
    received_prior = received;
    b.fraction_lost = expected_interval <= 0 || lost_interval <= 0
                          ? 0
                          : static_cast<uint8_t>(std::min<int64_t>(255, (lost_interval << 8) / expected_interval));
    b.highest_sequence = static_cast<uint32_t>(highest);
    if (last_sr_ms != 0) {
      b.last_sr = last_sr;
      b.delay_since_last_sr = static_cast<uint32_t>((now_ms - last_sr_ms) * 65536 / 1000);
    }
    return b;
  }
};

}  // namespace

struct WhipIngest::Session {
  uint64_t conn = 0;
  std::string name, id, peer_ip;
  std::unique_ptr<rtc::WebRtcTransport> transport;
  std::set<int> video_pts;
  int audio_pt = -1;
  uint32_t our_ssrc = rtc::RandomSsrc();
  uint32_t video_ssrc = 0;
  H264Depacketizer depacketizer;
  std::unique_ptr<media::OpusToAac> aac;
  IngestTagWriter tags;
  TrackClock video_clock{90000}, audio_clock{48000};
  int64_t created_ms = 0;  // monotonic; the session's media timeline starts here
  int64_t last_key_ms = 0, last_pli_ms = -1000000;
  bool connected = false, closed = false;
  std::string close_reason;
  uint64_t bytes_in = 0, plis = 0, audio_errors = 0;
  ReceiveStats video_stats, audio_stats;
  int64_t last_report_ms = 0;
  uint64_t remb_bps = 0;
  RtmpServer::Handlers* handlers = nullptr;
  // Scratch, kept to avoid allocating per packet.
  std::vector<H264AccessUnit> units;
  std::vector<media::AacFrame> frames;
  std::vector<IngestTag> out;
  std::vector<uint8_t> rtcp;

  void Emit() {
    for (IngestTag& t : out) {
      RtmpMedia m;
      m.type = t.type;
      m.timestamp_ms = static_cast<uint32_t>(std::max<int64_t>(0, t.timestamp_ms));
      m.payload = t.body;
      if (handlers->on_media) handlers->on_media(conn, m);
    }
    out.clear();
  }

  void SendPli(int64_t now) {
    if (!transport || !transport->connected() || video_ssrc == 0) return;
    rtcp.clear();
    // A compound starts with a report (RFC 3550 6.1); an empty RR costs 8 bytes.
    (void)rtc::WriteRr(rtc::ReceiverReport{our_ssrc, {}}, &rtcp);
    (void)rtc::WritePli(rtc::Pli{our_ssrc, video_ssrc}, &rtcp);
    if (transport->SendRtcp(rtcp).ok()) ++plis;
    last_pli_ms = now;
  }

  // The sender's reports: their time stamps come back in our receiver reports (round trip).
  void OnRtcp(std::span<const uint8_t> compound) {
    rtc::RtcpReader reader(compound);
    rtc::RtcpBlock b;
    int64_t now = base::MonotonicMs();
    while (reader.Next(&b)) {
      if (b.type != 200 || b.packet.size() < 28) continue;  // SR
      uint32_t ssrc = rtc::rtp_detail::Get32(b.packet.data() + 4);
      uint32_t mid = rtc::rtp_detail::Get32(b.packet.data() + 10);
      for (ReceiveStats* r : {&video_stats, &audio_stats}) {
        if (r->started && r->ssrc == ssrc) {
          r->last_sr = mid;
          r->last_sr_ms = now;
        }
      }
    }
  }

  // Receiver reports (without them the browser's loss-based estimate never rises) and REMB,
  // which lets its encoder climb to remb_bps instead of staying near its start bitrate.
  void SendReports(int64_t now) {
    if (!transport || !transport->connected()) return;
    last_report_ms = now;
    rtc::ReceiverReport rr{our_ssrc, {}};
    if (video_stats.started) rr.reports.push_back(video_stats.Block(now));
    if (audio_stats.started) rr.reports.push_back(audio_stats.Block(now));
    rtcp.clear();
    (void)rtc::WriteRr(rr, &rtcp);
    if (video_ssrc != 0 && remb_bps > 0) (void)rtc::WriteRemb(rtc::Remb{our_ssrc, remb_bps, {video_ssrc}}, &rtcp);
    (void)transport->SendRtcp(rtcp);
  }

  void OnRtp(rtc::MutableRtpView& v) {
    int64_t now = base::MonotonicMs();
    bytes_in += v.payload_size();
    int pt = v.payload_type();
    if (video_pts.count(pt)) {
      video_ssrc = v.ssrc();
      video_stats.Count(v.ssrc(), v.sequence_number());
      units.clear();
      depacketizer.Push(v.sequence_number(), v.timestamp(), v.marker(), v.payload(), units);
      for (const H264AccessUnit& u : units) {
        int64_t ms = video_clock.Units(u.rtp_timestamp, now - created_ms) / 90;
        if (u.idr) last_key_ms = now;
        tags.VideoAnnexB(u.AnnexB(), ms, 0, u.idr, out);
      }
      Emit();
      if (depacketizer.needs_keyframe() && now - last_pli_ms >= kPliRetryMs) SendPli(now);
      return;
    }
    if (pt == audio_pt && aac) {
      audio_stats.Count(v.ssrc(), v.sequence_number());
      frames.clear();
      int64_t pts = audio_clock.Units(v.timestamp(), now - created_ms);
      if (!aac->Push(v.payload(), pts, frames).ok()) ++audio_errors;
      for (const media::AacFrame& f : frames)
        tags.AudioRaw(aac->audio_specific_config(), f.data, f.pts / 48, out);
      Emit();
    }
  }
};

WhipIngest::WhipIngest(uv_loop_t* loop, rtc::RtcSockets& sockets, std::shared_ptr<const rtc::Certificate> certificate,
                       WhipIngestOptions options, RtmpServer::Handlers handlers, CorsFn cors)
    : loop_(loop),
      sockets_(&sockets),
      certificate_(std::move(certificate)),
      options_(std::move(options)),
      handlers_(std::move(handlers)),
      cors_(std::move(cors)) {
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  uv_timer_start(timer_, [](uv_timer_t* t) { static_cast<WhipIngest*>(t->data)->OnTick(); }, kTickMs, kTickMs);
}

WhipIngest::~WhipIngest() {
  alive_.reset();
  CloseAll();
  uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

void WhipIngest::CloseAll() {
  while (!sessions_.empty()) End(sessions_.begin()->first, "server shutting down");
}

void WhipIngest::End(uint64_t conn, const char* why) {
  auto it = sessions_.find(conn);
  if (it == sessions_.end()) return;
  std::unique_ptr<Session> s = std::move(it->second);
  sessions_.erase(it);
  if (s->transport) s->transport->Close();
  LOG_NOTICE("whip: session of '%s' from %s ended: %s", s->name.c_str(), s->peer_ip.c_str(), why);
  if (handlers_.on_end) handlers_.on_end(conn);
}

bool WhipIngest::Disconnect(uint64_t conn) {
  if (!sessions_.count(conn)) return false;
  End(conn, "kicked by the operator");
  return true;
}

bool WhipIngest::Delete(const std::string& name, const std::string& session_id) {
  for (auto& [conn, s] : sessions_) {
    if (s->name == name && s->id == session_id) {
      End(conn, "DELETE by the publisher");
      return true;
    }
  }
  return false;
}

void WhipIngest::OnTick() {
  int64_t now = base::MonotonicMs();
  std::vector<std::pair<uint64_t, std::string>> dead;
  for (auto& [conn, s] : sessions_) {
    if (s->closed) {
      dead.emplace_back(conn, s->close_reason);
      continue;
    }
    if (!s->connected && now - s->created_ms > options_.connect_timeout_ms) {
      dead.emplace_back(conn, "media never connected");
      continue;
    }
    if (!s->connected) continue;
    if (now - s->last_report_ms >= kReportMs) s->SendReports(now);
    if (s->video_ssrc == 0) continue;
    bool want = s->depacketizer.needs_keyframe() || now - s->last_key_ms >= options_.keyframe_interval_ms;
    if (want && now - s->last_pli_ms >= kPliRetryMs) s->SendPli(now);
  }
  for (const auto& [conn, why] : dead) End(conn, why.c_str());
}

http::Response WhipIngest::Offer(const std::string& name, const http::Request& req) {
  if (!ValidName(name)) return Problem(400, "bad_request", "invalid stream name (letters, digits, _ and -, up to 64)");
  std::string type = base::LowerAscii(req.Header("content-type"));
  if (type.rfind("application/sdp", 0) != 0)
    return Problem(415, "unsupported_media_type", "the offer must be sent as application/sdp");
  if (sessions_.size() >= options_.max_sessions) return Problem(503, "unavailable", "too many WHIP sessions");

  auto parsed = rtc::ParseSdp(req.body);
  if (!parsed) return Problem(400, "bad_request", "bad SDP offer: " + parsed.error().message);
  rtc::SdpSession offer = std::move(*parsed);
  const rtc::SdpMedia* first = nullptr;
  bool has_h264 = false;
  for (auto& m : offer.media) {
    if (m.IsRejected() || !m.IsRtp()) continue;
    if (!first) first = &m;
    if (m.kind == rtc::SdpMediaKind::kVideo) {
      PreferH264(m);
      for (const auto& c : m.codecs) {
        auto mode = c.FmtpParam("packetization-mode");
        if (c.Is("H264") && mode && *mode == "1") has_h264 = true;
      }
    }
  }
  if (!first) return Problem(400, "bad_request", "the offer has no audio or video section");
  if (!has_h264) return Problem(400, "bad_request", "the offer has no H.264 with packetization-mode=1 (HLS needs H.264)");
  if (offer.Fingerprints(*first).empty()) return Problem(400, "bad_request", "the offer has no a=fingerprint");
  if (offer.IceUfrag(*first).empty() || offer.IcePwd(*first).empty())
    return Problem(400, "bad_request", "the offer has no ICE credentials");

  rtc::WebRtcTransportOptions to;
  to.remote_ufrag = std::string(offer.IceUfrag(*first));
  to.remote_pwd = std::string(offer.IcePwd(*first));
  to.remote_fingerprint = offer.Fingerprints(*first).front().ToString();
  to.ice.initial_timeout_ms = options_.connect_timeout_ms;

  auto local = rtc::LocalParamsFor(to, *sockets_, certificate_->fingerprint(), options_.announced_addresses);
  if (!local) return Problem(500, "internal", "internal error");

  rtc::SdpAnswerOptions opts;
  opts.audio_codecs = {"opus"};
  opts.video_codecs = {"H264"};
  opts.max_codecs = 1;
  opts.rtx = false;  // no NACK: loss is handled by asking for a keyframe
  opts.header_extensions = {rtc::kExtMid};
  opts.rtcp_feedback = {"nack pli", "ccm fir", "goog-remb"};
  for (const auto& m : offer.media)
    if (!m.IsRejected()) opts.direction_limits.push_back({m.mid, false, true});
  auto answer = rtc::BuildSdpAnswer(offer, *local, opts);
  if (!answer) return Problem(400, "bad_request", "cannot answer the offer: " + answer.error().message);

  auto s = std::make_unique<Session>();
  for (const auto& m : answer->media) {
    if (m.IsRejected()) continue;
    for (const auto& c : m.codecs) {
      if (m.kind == rtc::SdpMediaKind::kVideo && c.Is("H264")) s->video_pts.insert(c.pt);
      if (m.kind == rtc::SdpMediaKind::kAudio && c.Is("opus") && s->audio_pt < 0) s->audio_pt = c.pt;
    }
  }
  if (s->video_pts.empty()) return Problem(400, "bad_request", "no H.264 video section could be accepted");
  if (s->audio_pt >= 0) {
    media::OpusToAacOptions ao;
    ao.bitrate = options_.aac_bitrate;
    auto t = media::OpusToAac::Create(ao);
    if (!t) {
      LOG_ERROR("whip: %s", t.error().message.c_str());
      return Problem(500, "internal", "internal error");
    }
    s->aac = std::move(*t);
  }

  // The publish decision: keys, name in use and stream limits are the owner's.
  std::string auth = req.Header("authorization");
  std::string key;
  if (auth.size() > 7 && base::LowerAscii(auth.substr(0, 7)) == "bearer ") key = auth.substr(7);
  uint64_t conn = kWhipConnectionBase + next_session_++;
  RtmpPublishRequest pr;
  pr.app = "whip";
  pr.name = name;
  pr.query = key.empty() || key.find('&') != std::string::npos ? "" : "key=" + key;
  RtmpPublishDecision d = handlers_.on_publish ? handlers_.on_publish(conn, req.peer_ip, pr) : RtmpPublishDecision{};
  if (!d.ok) {
    ++refused_;
    if (d.code == "NetStream.Publish.Unauthorized") {
      if (auth.empty()) {
        http::Response r = Problem(401, "unauthorized", d.description);
        r.AddHeader("WWW-Authenticate", "Bearer realm=\"collab-stream\"");
        return r;
      }
      return Problem(403, "forbidden", d.description);
    }
    if (d.code == "NetStream.Publish.BadName") return Problem(409, "conflict", d.description);
    return Problem(503, "unavailable", d.description);
  }

  Session* raw = s.get();
  s->conn = conn;
  s->name = name;
  s->id = RandomHex(16);
  s->peer_ip = req.peer_ip;
  s->created_ms = base::MonotonicMs();
  s->last_key_ms = s->created_ms;
  s->handlers = &handlers_;
  s->remb_bps = options_.max_video_bitrate;
  rtc::WebRtcTransport::Callbacks cb;
  cb.on_connected = [raw] {
    raw->connected = true;
    LOG_INFO("whip: '%s' from %s: media connected", raw->name.c_str(), raw->peer_ip.c_str());
    raw->SendPli(base::MonotonicMs());
  };
  cb.on_rtp = [raw](rtc::MutableRtpView& v) { raw->OnRtp(v); };
  cb.on_rtcp = [raw](std::span<uint8_t> c) { raw->OnRtcp(c); };
  cb.on_closed = [raw](const base::Error& e) {
    // Reaped by the timer: the transport must not be destroyed from inside its own callback.
    raw->closed = true;
    raw->close_reason = e.message;
  };
  auto transport = rtc::WebRtcTransport::Create(*sockets_, certificate_, std::move(to), std::move(cb));
  if (!transport) {
    LOG_WARN("whip: transport for '%s': %s", name.c_str(), transport.error().message.c_str());
    if (handlers_.on_end) handlers_.on_end(conn);
    return Problem(500, "internal", "internal error");
  }
  s->transport = std::move(*transport);
  std::string location = "/whip/" + name + "/" + s->id;
  sessions_[conn] = std::move(s);
  ++total_sessions_;
  LOG_INFO("whip: session %s for '%s' from %s", location.c_str(), name.c_str(), req.peer_ip.c_str());

  http::Response r;
  r.status = 201;
  r.content_type = "application/sdp";
  r.body = rtc::WriteSdp(*answer);
  r.AddHeader("Location", location);
  r.AddHeader("Cache-Control", "no-store");
  return r;
}

void WhipIngest::Register(http::Server& server) {
  std::weak_ptr<bool> alive = alive_;
  auto finish = [this](const http::Request& req, http::Response r, http::Responder& respond) {
    r.AddHeader("Access-Control-Expose-Headers", "Location, Link, ETag, Accept-Post");
    if (cors_) cors_(req.Header("origin"), r);
    respond(std::move(r));
  };
  auto gone = [](http::Responder& respond) {
    respond(http::Response::Error(503, "unavailable", "server shutting down"));
  };
  server.Route("POST", "/whip/{name}", [this, alive, finish, gone](const http::Request& req, http::Responder respond) {
    if (alive.expired()) return gone(respond);
    finish(req, Offer(req.params.at("name"), req), respond);
  });
  auto preflight = [this, alive, finish, gone](const http::Request& req, http::Responder respond, bool session) {
    if (alive.expired()) return gone(respond);
    http::Response r;
    r.status = 204;
    r.AddHeader("Access-Control-Allow-Methods", session ? "DELETE, PATCH, OPTIONS" : "POST, OPTIONS");
    r.AddHeader("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match");
    r.AddHeader("Access-Control-Max-Age", "600");
    r.AddHeader("Allow", session ? "DELETE, PATCH, OPTIONS" : "POST, OPTIONS");
    if (!session) r.AddHeader("Accept-Post", "application/sdp");
    finish(req, std::move(r), respond);
  };
  server.Route("OPTIONS", "/whip/{name}", [preflight](const http::Request& req, http::Responder respond) {
    preflight(req, std::move(respond), false);
  });
  server.Route("OPTIONS", "/whip/{name}/{session}", [preflight](const http::Request& req, http::Responder respond) {
    preflight(req, std::move(respond), true);
  });
  server.Route("DELETE", "/whip/{name}/{session}",
               [this, alive, finish, gone](const http::Request& req, http::Responder respond) {
                 if (alive.expired()) return gone(respond);
                 if (!Delete(req.params.at("name"), req.params.at("session")))
                   return finish(req, Problem(404, "not_found", "no such WHIP session"), respond);
                 http::Response r;
                 r.status = 200;
                 finish(req, std::move(r), respond);
               });
  server.Route("PATCH", "/whip/{name}/{session}", [alive, finish, gone](const http::Request& req, http::Responder respond) {
    if (alive.expired()) return gone(respond);
    // ICE-lite with every candidate in the answer: nothing to trickle, no ICE restart.
    http::Response r = Problem(405, "method_not_allowed", "trickle ICE and ICE restarts are not supported");
    r.AddHeader("Allow", "DELETE, OPTIONS");
    finish(req, std::move(r), respond);
  });
}

void WhipIngest::AddStatus(base::Json& status) const {
  base::Json w = base::Json::MakeObject();
  w.Set("sessions", static_cast<int64_t>(sessions_.size()));
  w.Set("total_sessions", static_cast<int64_t>(total_sessions_));
  w.Set("refused", static_cast<int64_t>(refused_));
  w.Set("udp", sockets_->udp_address().ToString());
  if (sockets_->tcp_address()) w.Set("tcp", sockets_->tcp_address()->ToString());
  base::Json arr = base::Json::MakeArray();
  for (const auto& [conn, s] : sessions_) {
    const auto& st = s->depacketizer.stats();
    arr.Push(base::Json::Obj({{"name", s->name},
                              {"peer", s->peer_ip},
                              {"connected", s->connected},
                              {"bytes_in", static_cast<int64_t>(s->bytes_in)},
                              {"video_units", static_cast<int64_t>(st.units)},
                              {"video_dropped_units", static_cast<int64_t>(st.dropped_units)},
                              {"video_lost_packets", static_cast<int64_t>(st.lost)},
                              {"keyframe_requests", static_cast<int64_t>(s->plis)},
                              {"audio", s->aac != nullptr}}));
  }
  w.Set("list", std::move(arr));
  status.Set("whip", std::move(w));
}

}  // namespace collab::stream
