#include "lib/sfu/echo.hpp"

#include <cstring>
#include <unordered_map>

#include "lib/base/exit_codes.hpp"
#include "lib/base/fs.hpp"
#include "lib/base/log.hpp"
#include "lib/http/server.hpp"
#include "lib/rtc/local_params.hpp"
#include "lib/rtc/rtcp.hpp"
#include "lib/rtc/rtp.hpp"
#include "lib/rtc/sdp.hpp"
#include "lib/rtc/sdp_answer.hpp"

namespace collab::sfu {

namespace {

using base::MakeError;


void Put32(uint8_t* p, uint32_t v) { rtc::rtp_detail::Put32(p, v); }
uint32_t Get32(const uint8_t* p) { return rtc::rtp_detail::Get32(p); }

base::Json Message(std::string_view type, std::string_view key, std::string_view value) {
  base::Json j = base::Json::MakeObject();
  j.Set("type", std::string(type));
  j.Set(key, std::string(value));
  return j;
}

}  // namespace

struct EchoService::Peer {
  struct Mid {
    std::string mid;
    uint32_t out_ssrc = 0;  // what we send back under
    uint32_t in_ssrc = 0;   // what the browser sends with (learned from its packets)
  };
  std::weak_ptr<http::WebSocket> ws;
  std::unique_ptr<rtc::WebRtcTransport> transport;
  std::vector<Mid> mids;
  uint8_t mid_ext_id = 0;  // 0: the offer had no mid extension
  std::unordered_map<uint32_t, size_t> ssrc_to_mid;
  std::unordered_map<int, size_t> pt_to_mid;  // only payload types used by exactly one section
  std::vector<uint8_t> rtcp_out;
  uint64_t echoed = 0;
  bool closed = false;

  Mid* MidFor(const rtc::MutableRtpView& v) {
    if (mid_ext_id != 0) {
      if (auto ext = v.FindExtension(mid_ext_id)) {
        std::string_view name(reinterpret_cast<const char*>(ext->data()), ext->size());
        for (size_t i = 0; i < mids.size(); ++i) {
          if (mids[i].mid == name) {
            ssrc_to_mid[v.ssrc()] = i;
            return &mids[i];
          }
        }
      }
    }
    if (auto it = ssrc_to_mid.find(v.ssrc()); it != ssrc_to_mid.end()) return &mids[it->second];
    if (auto it = pt_to_mid.find(v.payload_type()); it != pt_to_mid.end()) {
      ssrc_to_mid[v.ssrc()] = it->second;
      return &mids[it->second];
    }
    return nullptr;
  }

  void OnRtp(rtc::MutableRtpView& v) {
    Mid* m = MidFor(v);
    if (m == nullptr) return;
    m->in_ssrc = v.ssrc();
    v.SetSsrc(m->out_ssrc);
    if (transport->SendRtp(v.bytes())) ++echoed;
  }

  // Keeps the feedback blocks of the browser's compound, pointed at its own sending SSRCs.
  void OnRtcp(std::span<uint8_t> compound) {
    rtcp_out.clear();
    rtc::RtcpReader reader(compound);
    rtc::RtcpBlock b;
    uint32_t sender = mids.empty() ? 1 : mids.front().out_ssrc;
    while (reader.Next(&b)) {
      if (b.type != rtc::kRtcpRtpfb && b.type != rtc::kRtcpPsfb) continue;
      if (b.packet.size() < 12) continue;
      size_t at = rtcp_out.size();
      rtcp_out.insert(rtcp_out.end(), b.packet.begin(), b.packet.end());
      uint8_t* p = rtcp_out.data() + at;
      Put32(p + 4, sender);
      auto map = [this](uint8_t* field) {
        uint32_t s = Get32(field);
        for (const Mid& m : mids)
          if (m.out_ssrc == s && m.in_ssrc != 0) Put32(field, m.in_ssrc);
      };
      map(p + 8);
      if (b.type == rtc::kRtcpPsfb && b.count == rtc::kPsfbFir)
        for (size_t off = 12; off + 8 <= b.packet.size(); off += 8) map(p + off);
    }
    if (!rtcp_out.empty()) (void)transport->SendRtcp(rtcp_out);
  }
};

EchoService::EchoService(rtc::RtcSockets& sockets, std::shared_ptr<const rtc::Certificate> certificate,
                         EchoOptions options)
    : sockets_(&sockets), certificate_(std::move(certificate)), options_(std::move(options)) {}

EchoService::~EchoService() {
  alive_.reset();
  CloseAll();
}

void EchoService::CloseAll() {
  for (auto& [id, p] : peers_) {
    if (auto ws = p->ws.lock()) ws->Close(1001, "going away");
  }
  peers_.clear();
}

void EchoService::Remove(uint64_t peer_id) { peers_.erase(peer_id); }

base::Result<std::string> EchoService::HandleOffer(uint64_t peer_id, std::string_view sdp_offer,
                                                   std::shared_ptr<http::WebSocket> ws) {
  if (peers_.count(peer_id)) return MakeError(base::kExitUsage, "one offer per connection (no renegotiation)");
  if (peers_.size() >= options_.max_peers) return MakeError(base::kExitTempFail, "too many echo peers");
  COLLAB_ASSIGN_OR_RETURN(rtc::SdpSession offer, rtc::ParseSdp(sdp_offer));
  const rtc::SdpMedia* first = nullptr;
  for (const auto& m : offer.media)
    if (!m.IsRejected()) {
      first = &m;
      break;
    }
  if (first == nullptr) return MakeError(base::kExitDataErr, "offer has no media");
  if (offer.Fingerprints(*first).empty()) return MakeError(base::kExitDataErr, "offer has no a=fingerprint");

  auto peer = std::make_unique<Peer>();
  peer->ws = ws;
  rtc::WebRtcTransportOptions to;
  to.remote_ufrag = std::string(offer.IceUfrag(*first));
  to.remote_pwd = std::string(offer.IcePwd(*first));
  to.remote_fingerprint = offer.Fingerprints(*first).front().ToString();

  COLLAB_ASSIGN_OR_RETURN(rtc::SdpLocalParams local, rtc::LocalParamsFor(to, *sockets_, certificate_->fingerprint(),
                                                                        options_.announced_addresses));

  rtc::SdpAnswerOptions opts;
  opts.rtx = false;  // echo forwards retransmissions as they come; no RTX SSRC to translate
  for (const auto& m : offer.media) {
    if (m.IsRejected() || (m.kind != rtc::SdpMediaKind::kAudio && m.kind != rtc::SdpMediaKind::kVideo)) continue;
    if (offer.Direction(m) != rtc::SdpDirection::kSendRecv) continue;
    rtc::SdpSendStream s;
    s.mid = m.mid;
    s.ssrc = rtc::RandomSsrc();
    s.cname = "collab-echo";
    s.stream_id = "echo";
    s.track_id = "echo-" + m.mid;
    opts.send_streams.push_back(s);
    peer->mids.push_back({m.mid, s.ssrc, 0});
  }
  COLLAB_ASSIGN_OR_RETURN(rtc::SdpSession answer, rtc::BuildSdpAnswer(offer, local, opts));

  // Payload types -> section, for packets that carry no mid extension.
  std::unordered_map<int, int> pt_count;
  for (const auto& m : answer.media) {
    if (m.IsRejected()) continue;
    if (const auto* e = m.FindExtmap(rtc::kExtMid); e && e->id > 0 && e->id < 256) peer->mid_ext_id = static_cast<uint8_t>(e->id);
    for (const auto& c : m.codecs) ++pt_count[c.pt];
  }
  for (const auto& m : answer.media) {
    if (m.IsRejected()) continue;
    for (size_t i = 0; i < peer->mids.size(); ++i)
      if (peer->mids[i].mid == m.mid)
        for (const auto& c : m.codecs)
          if (pt_count[c.pt] == 1) peer->pt_to_mid[c.pt] = i;
  }

  Peer* p = peer.get();
  rtc::WebRtcTransport::Callbacks cb;
  cb.on_connected = [peer_id] { LOG_INFO("echo peer %llu: media connected", static_cast<unsigned long long>(peer_id)); };
  cb.on_rtp = [p](rtc::MutableRtpView& v) { p->OnRtp(v); };
  cb.on_rtcp = [p](std::span<uint8_t> c) { p->OnRtcp(c); };
  cb.on_closed = [p, peer_id](const base::Error& e) {
    // The transport is inert now; the WebSocket's close removes the peer (not from inside a
    // transport callback).
    LOG_INFO("echo peer %llu: transport closed: %s", static_cast<unsigned long long>(peer_id), e.message.c_str());
    p->closed = true;
    if (auto w = p->ws.lock()) {
      w->Send(Message("closed", "reason", e.message).Dump());
      w->Close(1000, "transport closed");
    }
  };
  COLLAB_ASSIGN_OR_RETURN(peer->transport,
                          rtc::WebRtcTransport::Create(*sockets_, certificate_, std::move(to), std::move(cb)));
  peers_[peer_id] = std::move(peer);
  ++total_peers_;
  return rtc::WriteSdp(answer);
}

void EchoService::Register(http::Server& server) {
  std::string page = base::JoinPath(options_.web_dir, "echo.html");
  server.Route("GET", "/echo", [page](const http::Request&, http::Responder respond) {
    auto body = base::ReadFile(page);
    if (!body) {
      respond(http::Response::Error(404, "not_found", "echo.html is not installed"));
      return;
    }
    http::Response r;
    r.content_type = "text/html; charset=utf-8";
    r.body = std::move(*body);
    r.AddHeader("cache-control", "no-store");
    respond(std::move(r));
  });
  http::WebSocketHandlers h;
  std::weak_ptr<bool> alive = alive_;
  h.on_open = [this, alive](std::shared_ptr<http::WebSocket> ws) {
    if (alive.expired()) {
      ws->Close(1001, "going away");
      return;
    }
    if (options_.max_peers == 0 || peers_.size() >= options_.max_peers) {
      ws->Send(Message("error", "message", "too many echo peers").Dump());
      ws->Close(1013, "try again later");
    }
  };
  h.on_message = [this, alive](std::shared_ptr<http::WebSocket> ws, std::string_view msg, bool binary) {
    if (alive.expired()) return;
    auto fail = [&ws](std::string_view why) { ws->Send(Message("error", "message", why).Dump()); };
    if (binary) return fail("text messages only");
    auto j = base::Json::Parse(msg);
    if (!j) return fail("bad JSON: " + j.error().message);
    if (!j->is_object() || j->GetString("type") != "offer") return fail("expected {\"type\":\"offer\",\"sdp\":...}");
    auto answer = HandleOffer(ws->id(), j->GetString("sdp"), ws);
    if (!answer) {
      LOG_INFO("echo: refused an offer from %s: %s", ws->peer_ip().c_str(), answer.error().message.c_str());
      return fail(answer.error().message);
    }
    ws->Send(Message("answer", "sdp", *answer).Dump());
  };
  h.on_close = [this, alive](std::shared_ptr<http::WebSocket> ws) {
    if (!alive.expired()) Remove(ws->id());
  };
  server.WebSocketRoute("/echo/ws", std::move(h));
}

void EchoService::AddStatus(base::Json& status) const {
  base::Json e = base::Json::MakeObject();
  e.Set("peers", static_cast<int64_t>(peers_.size()));
  e.Set("max_peers", static_cast<int64_t>(options_.max_peers));
  e.Set("total_peers", static_cast<int64_t>(total_peers_));
  uint64_t echoed = 0;
  for (const auto& [id, p] : peers_) echoed += p->echoed;
  e.Set("packets_echoed", static_cast<int64_t>(echoed));
  status.Set("echo", std::move(e));
}

}  // namespace collab::sfu
