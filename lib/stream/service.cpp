#include "lib/stream/service.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <deque>
#include <iterator>
#include <list>
#include <map>
#include <set>

#include "lib/base/ip_prefix.hpp"
#include "lib/base/log.hpp"
#include "lib/base/time.hpp"
#include "lib/config/config.hpp"
#include "lib/daemon/listen_address.hpp"
#include "lib/http/server.hpp"
#include "lib/ipc/server.hpp"
#include "lib/stream/flv.hpp"
#include "lib/stream/ladder.hpp"
#include "lib/stream/packager.hpp"
#include "lib/stream/recorder.hpp"
#include "lib/stream/rtmp_server.hpp"
#include "lib/stream/slate.hpp"
#include "lib/stream/srt_ingest.hpp"
#include "lib/stream/viewer_auth.hpp"
#include "lib/stream/whip_ingest.hpp"

namespace collab::stream {

namespace {

using base::Json;

constexpr size_t kMaxWaiters = 10000;
constexpr size_t kMaxViewersTracked = 10000;
constexpr int kTickMs = 100;

bool ValidName(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// Which ingest a connection id belongs to, for log lines.
const char* Via(uint64_t conn) {
  return conn >= kSrtConnectionBase ? "srt" : conn >= kWhipConnectionBase ? "whip" : "rtmp";
}

bool IsLoopback(const std::string& ip) { return ip.rfind("127.", 0) == 0 || ip == "::1" || ip.rfind("::ffff:127.", 0) == 0; }

// Equal-time comparison, so a key cannot be guessed byte by byte from response times.
bool SameKey(const std::string& a, const std::string& b) {
  if (a.size() != b.size() || b.empty()) return false;
  unsigned diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]);
  return diff == 0;
}

std::string QueryValue(const std::string& query, const std::string& name) {
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    std::string part = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    size_t eq = part.find('=');
    if (part.substr(0, eq) == name) return eq == std::string::npos ? "" : part.substr(eq + 1);
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return "";
}

// Parses a non-negative decimal; false for anything else.
bool ParseCount(const std::string& s, int64_t& out) {
  if (s.empty() || s.size() > 18) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && out >= 0;
}

struct LiveStream {
  std::string name;
  std::unique_ptr<Packager> packager;
  // Shown while the publisher is away.
  std::unique_ptr<Slate> slate;
  uint64_t publisher = 0;  // RTMP connection id; 0 while nobody publishes
  std::string publisher_ip;
  int64_t created_wall_ms = 0;
  int64_t publish_started_wall_ms = 0;
  int64_t idle_since_ms = 0;  // monotonic
  uint64_t bytes_in = 0;
  // Ingest bitrate over the last few seconds, from bytes_in sampled once a second.
  std::deque<uint64_t> bytes_in_samples;
  uint64_t bitrate_bps = 0;
  uint64_t sessions = 0;
  uint64_t media_errors = 0;
  uint64_t parts_seen = 0;
  std::map<std::string, int64_t> viewers;  // peer ip + user agent -> last playlist request (monotonic)
  std::string recording;                   // id of the running recording, "" when none
  int64_t record_from_msn = 0;             // next segment the recording wants
  // The source's codecs and frame rate as the publisher sends them, for the multivariant playlist.
  std::string video_codec, audio_codec;
  int width = 0, height = 0;
  int64_t fps_first_ts = -1, fps_last_ts = 0, fps_frames = 0;
  // Extra renditions (stream.ladder when the stream was made); null without one.
  std::unique_ptr<Ladder> ladder;
  uint64_t rung_parts_seen = 0;
};

struct Waiter {
  std::string stream;
  int64_t msn = 0;
  int part = -1;
  bool playlist = true;  // else a part request
  bool skip = false;
  std::string origin;
  http::Responder respond;
  int64_t deadline_ms = 0;
  std::string vt;    // the viewer token the request carried (accepted), for the playlist's URIs
  int64_t vt_exp = 0;  // its exp; 0 for an open stream
  int64_t held_since_ms = 0;  // monotonic, set when the request is held
  std::string rendition;      // "" for the source, else a ladder rung ("r360")
};

// How long held requests waited for their part (Prometheus histogram, seconds): with blocking
// reload a player's next playlist or part arrives about one part time after it asked.
constexpr double kHoldBuckets[] = {0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5};
struct HoldHistogram {
  uint64_t buckets[std::size(kHoldBuckets)] = {};
  uint64_t count = 0;
  double sum = 0;
  void Observe(double s) {
    for (size_t i = 0; i < std::size(kHoldBuckets); ++i) buckets[i] += s <= kHoldBuckets[i];
    ++count;
    sum += s;
  }
};

class Service final : public daemon::Service {
 public:
  base::Status Start(daemon::Context& ctx) override {
    ctx_ = &ctx;
    auto viewers = LoadViewerPolicy(ViewerConfig(ctx.config()));
    if (!viewers) return viewers.error();
    viewer_auth_.Configure(std::move(*viewers));
    ApplyConfig(ctx.config());
    // Everything that can fail on configuration is checked before anything is bound: a
    // listener left open would keep the loop (and the failing daemon) alive.
    const std::string& srt_listen = ctx.config().GetString("stream.srt_listen");
    SrtIngestOptions so;
    if (!srt_listen.empty()) {
      auto sa = daemon::ParseListenAddress(srt_listen);
      if (!sa.ok()) return base::MakeError(base::kExitConfig, "stream.srt_listen: " + sa.error().message);
      so.host = sa->host;
      so.port = sa->port;
      so.stream_name = ctx.config().GetString("stream.srt_stream");
      so.passphrase = ctx.config().GetString("stream.srt_passphrase");
      if (so.passphrase.empty() && !IsLoopback(so.host))
        return base::MakeError(base::kExitConfig,
                               "stream.srt_passphrase must be set when stream.srt_listen is not a loopback address");
    }
    auto addr = daemon::ParseListenAddress(ctx.config().GetString("stream.rtmp_listen"));
    if (!addr.ok()) return base::MakeError(base::kExitConfig, "stream.rtmp_listen: " + addr.error().message);
    RtmpServerOptions ro;
    ro.host = addr->host;
    ro.port = addr->port;
    RtmpServer::Handlers h;
    h.on_publish = [this](uint64_t conn, const std::string& ip, const RtmpPublishRequest& req) {
      return OnPublish(conn, ip, req);
    };
    h.on_media = [this](uint64_t conn, const RtmpMedia& m) { OnMedia(conn, m); };
    h.on_end = [this](uint64_t conn) { OnPublishEnd(conn); };
    auto rtmp = RtmpServer::Listen(ctx.loop(), ro, std::move(h));
    if (!rtmp.ok()) return rtmp.error();
    rtmp_ = std::move(*rtmp);
    LOG_INFO("rtmp ingest on %s", rtmp_->address().c_str());
    if (!srt_listen.empty()) {
      RtmpServer::Handlers sh;
      sh.on_publish = [this](uint64_t conn, const std::string& ip, const RtmpPublishRequest& req) {
        return OnPublish(conn, ip, req);
      };
      sh.on_media = [this](uint64_t conn, const RtmpMedia& m) { OnMedia(conn, m); };
      sh.on_end = [this](uint64_t conn) { OnPublishEnd(conn); };
      auto srt = SrtIngest::Start(ctx.loop(), so, std::move(sh));
      if (!srt.ok()) {
        rtmp_.reset();
        return srt.error();
      }
      srt_ = std::move(*srt);
      LOG_INFO("srt ingest on %s for stream '%s'", srt_->address().c_str(), so.stream_name.c_str());
    }
    if (base::Status st = StartWhip(ctx); !st.ok()) {
      rtmp_.reset();
      srt_.reset();
      return st;
    }

    // After the listeners: nothing below fails, so a failed start never leaves a writer thread.
    RecorderOptions rec;
    rec.dir = ctx.config().GetPath("stream.record_dir");
    if (rec.dir.empty()) rec.dir = ctx.config().GetPath("paths.state_dir") + "/recordings";
    rec.keep_days = static_cast<int>(ctx.config().GetInt("stream.record_keep_days"));
    auto recorder = Recorder::Create(ctx.loop(), rec);
    if (!recorder.ok()) return recorder.error();
    recorder_ = std::move(*recorder);

    http::Server& http = ctx.http();
    http.Route("GET", "/live/{name}/{file}", [this](const http::Request& req, http::Responder respond) {
      ServeLive(req, std::move(respond));
    });
    http.Route("GET", "/live/{name}/{rung}/{file}",
               [this](const http::Request& req, http::Responder respond) { ServeLive(req, std::move(respond)); });
    http.Route("GET", "/api/v1/streams", [this](const http::Request& req, http::Responder respond) {
      http::Response r = http::Response::Json(200, ListJson());
      Cors(req.Header("origin"), r);
      respond(std::move(r));
    });
    http.Route("GET", "/metrics", [this](const http::Request& req, http::Responder respond) {
      if (!base::AnyIpPrefixContains(metrics_allow_, req.peer_ip))
        return respond(http::Response::Error(403, "forbidden",
                                             "/metrics is served only to the addresses in stream.metrics_allow"));
      respond(Metrics());
    });
    http.Route("GET", "/api/v1/recordings", [this](const http::Request& req, http::Responder respond) {
      http::Response r = http::Response::Json(200, recorder_->List());
      Cors(req.Header("origin"), r);
      respond(std::move(r));
    });
    http.Route("GET", "/recordings/{name}/{id}/{file}",
               [this](const http::Request& req, http::Responder respond) { ServeRecording(req, std::move(respond)); });

    ctx.control().Register("stream.list", "live streams with publisher, bytes in and playlist position",
                           [this](const ipc::Request&, ipc::Reply reply) { reply(ListJson()); });
    ctx.control().Register("stream.record",
                           "start or stop recording a stream: {\"name\": NAME, \"action\": \"start\"|\"stop\"}",
                           [this](const ipc::Request& req, ipc::Reply reply) { reply(Record(req.args)); });
    ctx.control().Register("stream.recordings", "recordings with state, duration, size and URLs",
                           [this](const ipc::Request&, ipc::Reply reply) { reply(recorder_->List()); });
    ctx.control().Register("stream.kick", "disconnect a stream's publisher: {\"name\": NAME}",
                           [this](const ipc::Request& req, ipc::Reply reply) { reply(Kick(req.args)); });

    timer_ = new uv_timer_t;
    uv_timer_init(ctx.loop(), timer_);
    timer_->data = this;
    uv_timer_start(timer_, [](uv_timer_t* t) { static_cast<Service*>(t->data)->OnTick(); }, kTickMs, kTickMs);
    return base::Ok();
  }

  base::Status Reload(daemon::Context&, const config::Config& next) override {
    for (const char* key : {"stream.rtmp_listen", "stream.srt_listen", "stream.srt_stream", "stream.srt_passphrase"})
      if (next.GetString(key) != ctx_->config().GetString(key)) LOG_WARN("%s changed: it takes effect on restart", key);
    for (const char* key : {"stream.webrtc_udp_listen", "stream.webrtc_tcp_listen"})
      if (next.GetString(key) != ctx_->config().GetString(key)) LOG_WARN("%s changed: it takes effect on restart", key);
    auto viewers = LoadViewerPolicy(ViewerConfig(next));
    if (!viewers) return viewers.error();
    viewer_auth_.Configure(std::move(*viewers));
    ApplyConfig(next);
    return base::Ok();
  }

  void Drain(daemon::Context&, std::function<void()> done) override {
    draining_ = true;  // no slates for publishers that the shutdown disconnects
    for (auto& [n, s] : streams_) s->slate->Stop(*s->packager, "shutting down");
    // Recordings ended by the drain get their MP4 at the next start: no remux holds up a stop.
    if (recorder_) recorder_->DeferRemux();
    if (rtmp_) rtmp_->Close();  // ends every publish; the packagers flush their last part
    for (auto& [n, s] : streams_) s->ladder.reset();  // joins the encoder threads while the loop runs
    srt_.reset();
    whip_.reset();  // ends every WHIP session
    whip_sockets_.reset();
    for (auto& w : waiters_) w.respond(http::Response::Error(503, "unavailable", "server shutting down"));
    waiters_.clear();
    if (timer_) {
      uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
      timer_ = nullptr;
    }
    rtmp_.reset();
    if (recorder_) recorder_->Shutdown();
    done();
  }

  void AddStatus(const daemon::Context&, Json& status) const override {
    Json rtmp = Json::MakeObject();
    if (rtmp_) {
      rtmp.Set("address", rtmp_->address());
      rtmp.Set("connections", static_cast<int64_t>(rtmp_->connection_count()));
    }
    status.Set("rtmp", std::move(rtmp));
    if (srt_) status.Set("srt", Json::Obj({{"address", srt_->address()}}));
    if (whip_) whip_->AddStatus(status);
    int64_t live = 0;
    for (const auto& [n, s] : streams_) live += s->publisher != 0;
    status.Set("streams", static_cast<int64_t>(streams_.size()));
    status.Set("live_streams", live);
    status.Set("blocked_requests", static_cast<int64_t>(waiters_.size()));
    if (recorder_) status.Set("recordings_dir", recorder_->dir());
  }

 private:
  static ViewerPolicyConfig ViewerConfig(const config::Config& cfg) {
    return ViewerPolicyConfig{cfg.GetString("stream.viewers"), cfg.GetStringList("stream.open_streams"),
                              cfg.GetPath("auth.key_file")};
  }

  void ApplyConfig(const config::Config& cfg) {
    PackagerOptions po;
    po.part_ms = static_cast<int>(cfg.GetInt("stream.part_ms"));
    po.segment_ms = static_cast<int>(cfg.GetInt("stream.segment_ms"));
    po.window_segments = static_cast<int>(cfg.GetInt("stream.window_segments"));
    po.dvr_ms = static_cast<int>(cfg.GetInt("stream.dvr_s") * 1000);
    record_ = cfg.GetStringList("stream.record");
    metrics_allow_.clear();
    for (const std::string& a : cfg.GetStringList("stream.metrics_allow"))
      if (auto p = base::ParseIpPrefix(a)) metrics_allow_.push_back(*p);  // validated with the config
    if (recorder_) recorder_->SetKeepDays(static_cast<int>(cfg.GetInt("stream.record_keep_days")));
    packager_options_ = po;  // new streams only: a running playlist must not change its targets
    keys_.clear();
    for (const std::string& e : cfg.GetStringList("stream.publish_keys")) {
      size_t colon = e.find(':');
      if (colon != std::string::npos) keys_.emplace_back(e.substr(0, colon), e.substr(colon + 1));
    }
    cors_ = cfg.GetStringList("stream.cors_origins");
    idle_keep_ms_ = cfg.GetInt("stream.idle_keep_s") * 1000;
    max_streams_ = static_cast<size_t>(cfg.GetInt("stream.max_streams"));
    slate_ = cfg.GetBool("stream.slate");
    slate_options_.max_ms = cfg.GetInt("stream.slate_max_s") * 1000;
    // New streams only, like the packager options: a player's variants must not change under it.
    auto ladder = ParseLadder(cfg.GetStringList("stream.ladder"));
    if (ladder.ok())
      ladder_ = std::move(*ladder);
    else
      LOG_WARN("%s", ladder.error().message.c_str());
  }

  // ---- ingest

  // WHIP: WebRTC sockets of our own (collab-sfu's are another process) and the /whip routes.
  base::Status StartWhip(daemon::Context& ctx) {
    const config::Config& cfg = ctx.config();
    rtc::RtcSocketsConfig sc;
    sc.udp_listen = cfg.GetString("stream.webrtc_udp_listen");
    sc.tcp_listen = cfg.GetString("stream.webrtc_tcp_listen");
    if (sc.udp_listen.empty()) return base::Ok();  // WHIP turned off
    auto sockets = rtc::RtcSockets::Start(ctx.loop(), sc);
    if (!sockets) return base::MakeError(base::kExitConfig, "stream.webrtc_udp_listen: " + sockets.error().message);
    auto cert = rtc::Certificate::ForProcess();
    if (!cert) return cert.error();
    whip_sockets_ = std::move(*sockets);
    WhipIngestOptions wo;
    wo.announced_addresses = cfg.GetStringList("stream.webrtc_announced_addresses");
    wo.keyframe_interval_ms = static_cast<int>(cfg.GetInt("stream.segment_ms"));
    RtmpServer::Handlers h;
    h.on_publish = [this](uint64_t conn, const std::string& ip, const RtmpPublishRequest& req) {
      return OnPublish(conn, ip, req);
    };
    h.on_media = [this](uint64_t conn, const RtmpMedia& m) { OnMedia(conn, m); };
    h.on_end = [this](uint64_t conn) { OnPublishEnd(conn); };
    whip_ = std::make_unique<WhipIngest>(ctx.loop(), *whip_sockets_, *cert, wo, std::move(h),
                                         [this](const std::string& origin, http::Response& r) { Cors(origin, r); });
    whip_->Register(ctx.http());
    LOG_INFO("whip ingest at /whip/NAME, media on udp %s, ice-tcp %s", whip_sockets_->udp_address().ToString().c_str(),
             whip_sockets_->tcp_address() ? whip_sockets_->tcp_address()->ToString().c_str() : "off");
    return base::Ok();
  }

  RtmpPublishDecision Refuse(const std::string& name, const std::string& ip, std::string code, std::string why) {
    LOG_WARN("refused publish of '%s' from %s: %s", name.substr(0, 64).c_str(), ip.c_str(), why.c_str());
    ++refused_total_;
    return RtmpPublishDecision{false, std::move(code), std::move(why)};
  }

  RtmpPublishDecision OnPublish(uint64_t conn, const std::string& ip, const RtmpPublishRequest& req) {
    if (!ValidName(req.name))
      return Refuse(req.name, ip, "NetStream.Publish.BadName", "invalid stream name (letters, digits, _ and -, up to 64)");
    std::string key = QueryValue(req.query, "key");
    bool allowed = false;
    if (conn >= kSrtConnectionBase) {
      allowed = true;  // SRT callers were checked by the passphrase of the listener
    } else if (keys_.empty()) {
      allowed = IsLoopback(ip);
    } else {
      for (const auto& [n, k] : keys_)
        if ((n == "*" || n == req.name) && SameKey(key, k)) allowed = true;
    }
    if (!allowed)
      return Refuse(req.name, ip, "NetStream.Publish.Unauthorized",
                    keys_.empty() ? "publishing is allowed from this host only" : "wrong publisher key");
    auto it = streams_.find(req.name);
    if (it != streams_.end() && it->second->publisher != 0)
      return Refuse(req.name, ip, "NetStream.Publish.BadName", "stream name in use");
    if (it == streams_.end()) {
      if (streams_.size() >= max_streams_) return Refuse(req.name, ip, "NetStream.Publish.Rejected", "too many streams");
      auto s = std::make_unique<LiveStream>();
      s->name = req.name;
      PackagerOptions po = packager_options_;
      // Numbering from the clock keeps URLs of a re-created stream apart from the old one's in
      // HTTP caches (segments advance slower than seconds).
      po.first_sequence = base::WallClockMs() / 1000;
      s->packager = std::make_unique<Packager>(po);
      // Same numbering and cut targets as the source, so a player switching rungs finds the
      // same sequence numbers near the same times.
      if (!ladder_.empty())
        s->ladder =
            std::make_unique<Ladder>(ctx_->loop(), req.name, ladder_, po, [this, sp = s.get()] { CheckProgress(*sp); });
      s->slate = std::make_unique<Slate>(req.name);
      s->created_wall_ms = base::WallClockMs();
      it = streams_.emplace(req.name, std::move(s)).first;
    }
    LiveStream& s = *it->second;
    s.publisher = conn;
    s.publisher_ip = ip;
    s.publish_started_wall_ms = base::WallClockMs();
    ++s.sessions;
    s.slate->Stop(*s.packager, "the publisher is back");
    s.packager->BeginSession();
    if (s.ladder) s.ladder->BeginSession();
    s.fps_first_ts = -1;
    s.fps_frames = 0;
    conn_stream_[conn] = req.name;
    if (ShouldRecord(s.name)) StartRecording(s);
    LOG_NOTICE("%s: %s publishes '%s'%s", Via(conn), ip.c_str(), req.name.c_str(),
               s.sessions > 1 ? " (continuing)" : "");
    return RtmpPublishDecision{true, "", ""};
  }

  LiveStream* StreamOf(uint64_t conn) {
    auto c = conn_stream_.find(conn);
    if (c == conn_stream_.end()) return nullptr;
    auto s = streams_.find(c->second);
    return s == streams_.end() || s->second->publisher != conn ? nullptr : s->second.get();
  }

  void OnMedia(uint64_t conn, const RtmpMedia& m) {
    LiveStream* s = StreamOf(conn);
    if (!s) return;
    s->bytes_in += m.payload.size();
    bytes_in_total_ += m.payload.size();
    int64_t wall = base::WallClockMs();
    base::Status st = base::Ok();
    if (m.type == 9) {
      auto v = ParseFlvVideo(m.payload);
      if (v.ok()) {
        s->slate->ObserveVideo(*v);
        ObserveSource(*s, m.timestamp_ms, *v);
        if (s->ladder) s->ladder->Video(m.timestamp_ms, *v);
      }
      st = v.ok() ? s->packager->AddVideo(m.timestamp_ms, *v, wall) : base::Status(v.error());
    } else {
      auto a = ParseFlvAudio(m.payload);
      if (a.ok()) {
        s->slate->ObserveAudio(*a);
        if (a->kind == FlvAudio::Kind::kConfig)
          if (auto cfg = ParseAacConfig(a->data); cfg.ok()) s->audio_codec = cfg->Codec();
        if (s->ladder) s->ladder->Audio(m.timestamp_ms, *a);
      }
      st = a.ok() ? s->packager->AddAudio(m.timestamp_ms, *a, wall) : base::Status(a.error());
    }
    if (!st.ok()) {
      // Log the first few per stream; a broken encoder would otherwise flood the log.
      if (s->media_errors++ < 5) LOG_WARN("stream '%s': %s", s->name.c_str(), st.error().message.c_str());
    }
    CheckProgress(*s);
  }

  // The source's codec, size and frame rate, as the multivariant playlist announces them.
  static void ObserveSource(LiveStream& s, uint32_t ts_ms, const FlvVideo& v) {
    if (v.kind == FlvVideo::Kind::kConfig) {
      if (auto cfg = ParseAvcConfig(v.data); cfg.ok()) {
        s.video_codec = cfg->Codec();
        s.width = cfg->width;
        s.height = cfg->height;
      }
      return;
    }
    if (v.kind != FlvVideo::Kind::kFrame) return;
    if (s.fps_first_ts < 0) s.fps_first_ts = ts_ms;
    s.fps_last_ts = ts_ms;
    ++s.fps_frames;
  }

  void OnPublishEnd(uint64_t conn) {
    auto c = conn_stream_.find(conn);
    if (c == conn_stream_.end()) return;
    std::string name = c->second;
    conn_stream_.erase(c);
    auto it = streams_.find(name);
    if (it == streams_.end() || it->second->publisher != conn) return;
    LiveStream& s = *it->second;
    s.packager->EndSession();
    if (s.ladder) s.ladder->EndSession();  // rungs pause while the publisher is away (no slate)
    s.publisher = 0;
    s.idle_since_ms = base::MonotonicMs();
    // Kicked or dropped alike: viewers see the slate until a publisher (the same or another) comes.
    if (slate_ && !draining_) s.slate->Begin(ctx_->loop(), *s.packager, slate_options_, s.idle_since_ms);
    LOG_NOTICE("%s: '%s' stopped publishing (%llu bytes in)", Via(conn), name.c_str(),
               static_cast<unsigned long long>(s.bytes_in));
    CheckProgress(s);
    FeedRecorder(s);   // the last segment EndSession closed, even when it made no new part
    StopRecording(s);  // one recording per publisher session
  }

  void CheckProgress(LiveStream& s) {
    uint64_t parts = s.packager->parts_produced();
    uint64_t rung_parts = s.ladder ? s.ladder->parts_produced() : 0;
    if (parts == s.parts_seen && rung_parts == s.rung_parts_seen) return;
    s.rung_parts_seen = rung_parts;
    if (parts != s.parts_seen) {
      parts_total_ += parts - s.parts_seen;
      s.parts_seen = parts;
      FeedRecorder(s);
    }
    int64_t now = base::MonotonicMs();
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->stream == s.name && TryAnswer(s, *it)) {
        (it->playlist ? held_playlists_ : held_parts_).Observe(static_cast<double>(now - it->held_since_ms) / 1000.0);
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // ---- recording (the work is in recorder.cpp; these only connect streams to it)

  bool ShouldRecord(const std::string& name) const {
    auto o = record_override_.find(name);
    if (o != record_override_.end()) return o->second;
    return std::any_of(record_.begin(), record_.end(), [&](const std::string& r) { return r == "*" || r == name; });
  }

  void StartRecording(LiveStream& s) {
    if (!recorder_ || !s.recording.empty()) return;
    // From the segment being made now: it began at a keyframe, so the recording starts cleanly.
    s.record_from_msn = s.packager->next_msn();
    s.recording = recorder_->Start(s.name, base::WallClockMs(), s.packager->target_duration_s());
  }

  void FeedRecorder(LiveStream& s) {
    if (s.recording.empty()) return;
    if (!recorder_->IsRecording(s.name, s.recording)) {
      s.recording.clear();  // stopped by a disk error
      return;
    }
    for (auto& seg : s.packager->CompleteSegmentsFrom(s.record_from_msn)) {
      RecorderSegment rs;
      rs.init_generation = seg.init_generation;
      if (auto init = s.packager->Init(seg.init_generation))
        rs.init = std::make_shared<const std::string>(std::move(*init));
      rs.bytes = std::move(seg.bytes);
      rs.duration_s = seg.duration_s;
      rs.discontinuity = seg.discontinuity;
      rs.pdt_ms = seg.pdt_ms;
      recorder_->AddSegment(s.name, s.recording, std::move(rs));
      s.record_from_msn = seg.msn + 1;
    }
  }

  void StopRecording(LiveStream& s) {
    if (s.recording.empty()) return;
    FeedRecorder(s);
    recorder_->Stop(s.name, s.recording);
    s.recording.clear();
  }

  base::Result<Json> Record(const Json& args) {
    const Json* n = args.Find("name");
    const Json* a = args.Find("action");
    if (!n || !n->is_string() || !a || !a->is_string() || (a->as_string() != "start" && a->as_string() != "stop"))
      return base::MakeError(base::kExitUsage, "stream.record needs {\"name\": NAME, \"action\": \"start\"|\"stop\"}");
    const std::string& name = n->as_string();
    if (!ValidName(name))
      return base::MakeError(base::kExitDataErr, "invalid stream name (letters, digits, _ and -, up to 64)");
    bool start = a->as_string() == "start";
    // The operator's choice holds for later sessions of the stream too, until the daemon restarts.
    record_override_[name] = start;
    auto it = streams_.find(name);
    Json out = Json::Obj({{"name", name}, {"recording", start}});
    if (it == streams_.end() || it->second->publisher == 0) {
      std::string prev;
      if (!start && it != streams_.end() && !it->second->recording.empty()) {
        prev = it->second->recording;
        StopRecording(*it->second);
      }
      out.Set("live", false);
      out.Set("id", prev.empty() ? Json() : Json(prev));
      return out;
    }
    LiveStream& s = *it->second;
    out.Set("live", true);
    if (start) {
      StartRecording(s);
      LOG_NOTICE("stream '%s': recording %s started by the operator", name.c_str(), s.recording.c_str());
      out.Set("id", s.recording);
    } else {
      std::string id = s.recording;
      StopRecording(s);
      if (!id.empty()) LOG_NOTICE("stream '%s': recording %s stopped by the operator", name.c_str(), id.c_str());
      out.Set("id", id.empty() ? Json() : Json(id));
    }
    return out;
  }

  // Parses "bytes=A-B", "bytes=A-" and "bytes=-N"; false for anything else (several ranges
  // included), which is then served whole as RFC 9110 allows.
  static bool ParseRange(const std::string& h, int64_t& first, int64_t& last) {
    if (h.rfind("bytes=", 0) != 0 || h.find(',') != std::string::npos) return false;
    std::string spec = h.substr(6);
    size_t dash = spec.find('-');
    if (dash == std::string::npos) return false;
    std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
    first = -1;
    last = -1;
    if (a.empty()) {
      if (!ParseCount(b, last) || last == 0) return false;
      first = -1;  // suffix: the last `last` bytes
      return true;
    }
    if (!ParseCount(a, first)) return false;
    if (!b.empty() && (!ParseCount(b, last) || last < first)) return false;
    return true;
  }

  // The viewer-token check of /live/NAME/* and /recordings/NAME/*: nullopt when the request may
  // go on (vt then holds the token to carry along, "" for an open stream; exp its expiry), else
  // the 401/403 to send.
  std::optional<http::Response> AuthorizeViewer(const http::Request& req, const std::string& name, std::string& vt,
                                                int64_t& exp) {
    vt = req.QueryParam("vt");
    ViewerAuth::Verdict verdict = viewer_auth_.Check(name, vt, base::WallClockMs() / 1000);
    if (!verdict.ok()) {
      ++viewer_rejected_[static_cast<size_t>(verdict.reason)];
      http::Response r = http::Response::Error(verdict.status, verdict.status == 401 ? "unauthorized" : "forbidden",
                                               verdict.message);
      if (verdict.status == 401) r.AddHeader("WWW-Authenticate", "Bearer realm=\"collab-stream\"");
      return r;
    }
    if (viewer_auth_.IsOpen(name)) vt.clear();  // open: nothing to carry along
    exp = verdict.exp;
    return std::nullopt;
  }

  void ServeRecording(const http::Request& req, http::Responder respond) {
    const std::string& name = req.params.at("name");
    const std::string& id = req.params.at("id");
    const std::string& file = req.params.at("file");
    std::string origin = req.Header("origin");
    // Recordings are watched by the same people as the live stream: the same token.
    std::string vt;
    int64_t vt_exp = 0;
    if (auto refused = AuthorizeViewer(req, name, vt, vt_exp)) {
      Cors(origin, *refused);
      return respond(std::move(*refused));
    }
    // Only names the recorder made reach the filesystem: no dots, no slashes, nothing else.
    if (!ValidRecordingStream(name) || !ValidRecordingId(id) || !ValidRecordingFile(file) ||
        !recorder_->Exists(name, id)) {
      http::Response r = http::Response::Error(404, "not_found", "no such recording");
      Cors(origin, r);
      return respond(std::move(r));
    }
    bool mp4 = file == kRecordingMp4;
    int64_t first = 0, last = -1;
    bool ranged = mp4 && ParseRange(req.Header("range"), first, last);
    // An open range is answered with a bounded piece (players ask for more as they go).
    constexpr int64_t kOpenRangeBytes = 8 << 20;
    int64_t offset = ranged ? first : 0;
    uint64_t length = 0;
    if (ranged && first >= 0) length = static_cast<uint64_t>(last >= 0 ? last - first + 1 : kOpenRangeBytes);
    if (ranged && first < 0) offset = -last;  // suffix
    bool live = recorder_->IsRecording(name, id);
    bool download = mp4 && req.QueryParam("download") == "1";
    recorder_->ReadFile(
        name, id, file, offset, length,
        [this, respond, origin, file, ranged, live, download, name, id, vt, vt_exp](Recorder::FileSlice f) {
          http::Response r;
          if (f.status == ENOENT || f.status == ENOTDIR) {
            r = http::Response::Error(404, "not_found", "no such file");
          } else if (f.status != 0) {
            r = http::Response::Error(503, "unavailable", "recording cannot be read now");
          } else if (ranged && f.offset >= f.file_size) {
            r = http::Response::Error(416, "range_not_satisfiable", "range starts past the end");
            r.AddHeader("Content-Range", "bytes */" + std::to_string(f.file_size));
          } else {
            r.status = ranged ? 206 : 200;
            bool playlist = file == kRecordingPlaylist;
            r.content_type = playlist ? "application/vnd.apple.mpegurl" : "video/mp4";
            size_t n = f.data.size();
            r.body_view = f.data;
            r.body_owner = std::move(f.owner);
            if (playlist && !vt.empty()) {
              // As for live playlists: every URI the player fetches next must carry the token.
              auto rewritten = RewritePlaylist(f.data, vt);
              if (rewritten) {
                r.body = std::move(*rewritten);
                r.body_view = {};
                r.body_owner.reset();
              }
            }
            if (ranged)
              r.AddHeader("Content-Range", "bytes " + std::to_string(f.offset) + "-" +
                                               std::to_string(f.offset + n - 1) + "/" + std::to_string(f.file_size));
            if (file == kRecordingMp4) r.AddHeader("Accept-Ranges", "bytes");
            // Segments and the MP4 never change under their name; the playlist of a running
            // recording grows, and a finished one may still be deleted by retention.
            int64_t max_age = ViewerAuth::CacheSeconds(playlist ? 60 : 86400, vt_exp, base::WallClockMs() / 1000);
            r.AddHeader("Cache-Control", playlist && live ? std::string("no-cache")
                                         : playlist       ? "public, max-age=" + std::to_string(max_age)
                                                          : "public, max-age=" + std::to_string(max_age) + ", immutable");
            if (download) r.AddHeader("Content-Disposition", "attachment; filename=\"" + name + "-" + id + ".mp4\"");
          }
          Cors(origin, r);
          if (ranged) r.AddHeader("Access-Control-Expose-Headers", "Content-Range, Accept-Ranges, Content-Length");
          respond(std::move(r));
        });
  }

  // ---- serving

  // CORS for the web app's player. Responses are shared by HTTP caches (nginx edges): with "*"
  // every response carries the header, whoever asked first; with a list of origins every
  // response says it varies by Origin, so a copy cached for a player that sent no Origin (ffmpeg,
  // a native player) is never replayed to a browser without its header.
  void Cors(const std::string& origin, http::Response& r) const {
    if (cors_.empty()) return;
    for (const auto& o : cors_) {
      if (o == "*") {
        r.AddHeader("Access-Control-Allow-Origin", "*");
        return;
      }
    }
    r.AddHeader("Vary", "Origin");
    for (const auto& o : cors_) {
      if (!origin.empty() && o == origin) {
        r.AddHeader("Access-Control-Allow-Origin", origin);
        return;
      }
    }
  }


  http::Response Media(Packager::Bytes b, const char* type, int64_t vt_exp) const {
    http::Response r = Media(std::string(), type, vt_exp);
    r.body_owner = std::move(b.owner);
    r.body_view = b.bytes;
    r.body_fd = b.fd;  // sendfile from the packager's sealed memfd when the connection allows it
    r.body_fd_offset = b.fd_offset;
    return r;
  }

  http::Response Media(std::string body, const char* type, int64_t vt_exp) const {
    http::Response r;
    r.status = 200;
    r.content_type = type;
    r.body = std::move(body);
    // Parts, segments and init segments never change under their name: caches may keep them,
    // but not past the exp of the token in their URL (an edge does not check tokens).
    int64_t max_age = ViewerAuth::CacheSeconds(3600, vt_exp, base::WallClockMs() / 1000);
    r.AddHeader("Cache-Control", "public, max-age=" + std::to_string(max_age) + ", immutable");
    return r;
  }

  http::Response PlaylistResponse(const Packager& p, bool skip, bool blocking, const std::string& vt,
                                  int64_t vt_exp) const {
    http::Response r;
    r.status = 200;
    r.content_type = "application/vnd.apple.mpegurl";
    r.body = p.Playlist(skip);
    if (!vt.empty()) {
      // The player knows only this URL: every URI it is sent to next must carry the token too.
      auto rewritten = RewritePlaylist(r.body, vt);
      if (rewritten) r.body = std::move(*rewritten);
    }
    // A plain live playlist changes with every part; a blocking one answers a request that names
    // the part it waited for, so an edge cache may share it for a little while.
    int64_t max_age = ViewerAuth::CacheSeconds(p.target_duration_s(), vt_exp, base::WallClockMs() / 1000);
    r.AddHeader("Cache-Control", blocking ? "public, max-age=" + std::to_string(max_age) : std::string("no-cache"));
    return r;
  }

  // Answers w if its condition holds; false when it must keep waiting.
  // The packager of a rendition of s: the source's for "", a rung's, or null for an unknown one.
  static Packager* PackagerOf(LiveStream& s, const std::string& rendition) {
    if (rendition.empty()) return s.packager.get();
    Ladder::Rung* r = s.ladder ? s.ladder->Find(rendition) : nullptr;
    return r ? r->packager.get() : nullptr;
  }

  bool TryAnswer(LiveStream& s, Waiter& w) {
    Packager* pp = PackagerOf(s, w.rendition);
    if (!pp) return false;
    Packager& p = *pp;
    if (w.playlist) {
      if (p.CheckBlocking(w.msn, w.part) != Packager::Blocking::kReady) return false;
      http::Response r = PlaylistResponse(p, w.skip, true, w.vt, w.vt_exp);
      Cors(w.origin, r);
      w.respond(std::move(r));
      return true;
    }
    auto data = p.PartBytes(w.msn, w.part);
    if (!data) {
      // The hinted part can only be skipped over if the stream restarted elsewhere; stop waiting.
      if (p.next_msn() > w.msn) {
        http::Response r = http::Response::Error(404, "not_found", "no such part");
        Cors(w.origin, r);
        w.respond(std::move(r));
        return true;
      }
      return false;
    }
    http::Response r = Media(std::move(*data), "video/mp4", w.vt_exp);
    Cors(w.origin, r);
    w.respond(std::move(r));
    return true;
  }

  void Hold(Waiter w) {
    if (waiters_.size() >= kMaxWaiters) {
      w.respond(http::Response::Error(503, "unavailable", "too many blocked requests"));
      return;
    }
    ++blocked_total_;
    w.held_since_ms = base::MonotonicMs();
    waiters_.push_back(std::move(w));
  }

  // /live/NAME/FILE for the source and the multivariant playlist, /live/NAME/RUNG/FILE for a
  // ladder rung: the same blocking, hints, caching and tokens for every rendition.
  void ServeLive(const http::Request& req, http::Responder respond) {
    const std::string& name = req.params.at("name");
    const std::string& file = req.params.at("file");
    auto rung_param = req.params.find("rung");
    std::string rendition = rung_param == req.params.end() ? "" : rung_param->second;
    std::string origin = req.Header("origin");
    auto reply = [&](http::Response r) {
      Cors(origin, r);
      respond(std::move(r));
    };
    // Before anything about the stream is looked at: without a token a request learns nothing.
    std::string vt;
    int64_t vt_exp = 0;
    if (auto refused = AuthorizeViewer(req, name, vt, vt_exp)) return reply(std::move(*refused));
    auto it = streams_.find(name);
    if (it == streams_.end()) return reply(http::Response::Error(404, "not_found", "no such stream"));
    LiveStream& s = *it->second;
    if (rendition.empty() && file == "master.m3u8") return reply(MasterPlaylist(s, vt));
    Packager* pp = PackagerOf(s, rendition);
    if (!pp) return reply(http::Response::Error(404, "not_found", "no such rendition"));
    Packager& p = *pp;
    int64_t now = base::MonotonicMs();
    int64_t wait_ms = 3LL * p.target_duration_s() * 1000;
    if (file == "index.m3u8") {
      std::string viewer = req.peer_ip + " " + req.Header("user-agent").substr(0, 200);
      // Bounded: made-up user agents must not grow the map without limit (the count is an estimate).
      if (s.viewers.size() < kMaxViewersTracked || s.viewers.count(viewer)) s.viewers[viewer] = now;
      std::string msn_text = req.QueryParam("_HLS_msn");
      std::string part_text = req.QueryParam("_HLS_part");
      bool skip = req.QueryParam("_HLS_skip") == "YES" || req.QueryParam("_HLS_skip") == "v2";
      if (msn_text.empty()) {
        if (!part_text.empty()) return reply(http::Response::Error(400, "bad_request", "_HLS_part needs _HLS_msn"));
        if (!p.has_media()) return reply(http::Response::Error(404, "not_found", "stream has not started yet"));
        return reply(PlaylistResponse(p, skip, false, vt, vt_exp));
      }
      int64_t msn = 0, part = -1;
      if (!ParseCount(msn_text, msn) || (!part_text.empty() && (!ParseCount(part_text, part) || part > 100000)))
        return reply(http::Response::Error(400, "bad_request", "_HLS_msn and _HLS_part must be non-negative integers"));
      if (p.CheckBlocking(msn, static_cast<int>(part)) == Packager::Blocking::kTooFar)
        return reply(http::Response::Error(400, "bad_request", "_HLS_msn is more than two segments ahead"));
      Waiter w{
          name, msn,      static_cast<int>(part), true, skip, origin, std::move(respond), now + wait_ms, vt, vt_exp,
          0,    rendition};
      if (TryAnswer(s, w)) return;
      return Hold(std::move(w));
    }
    int64_t a = 0, b = 0;
    if (file.size() >= 9 && file.rfind("init", 0) == 0 && file.compare(file.size() - 4, 4, ".mp4") == 0 &&
        ParseCount(file.substr(4, file.size() - 8), a)) {
      auto data = p.Init(a);
      if (!data) return reply(http::Response::Error(404, "not_found", "no such init segment"));
      return reply(Media(std::move(*data), "video/mp4", vt_exp));
    }
    if (file.size() > 7 && file.rfind("seg", 0) == 0 && file.compare(file.size() - 4, 4, ".m4s") == 0 &&
        ParseCount(file.substr(3, file.size() - 7), a)) {
      auto data = p.SegmentBytes(a);
      if (!data) return reply(http::Response::Error(404, "not_found", "no such segment"));
      return reply(Media(std::move(*data), "video/mp4", vt_exp));
    }
    if (file.size() > 8 && file.rfind("part", 0) == 0 && file.compare(file.size() - 4, 4, ".m4s") == 0) {
      std::string mid = file.substr(4, file.size() - 8);
      size_t dot = mid.find('.');
      if (dot != std::string::npos && ParseCount(mid.substr(0, dot), a) && ParseCount(mid.substr(dot + 1), b) &&
          b <= 100000) {
        auto data = p.PartBytes(a, static_cast<int>(b));
        if (data) return reply(Media(std::move(*data), "video/mp4", vt_exp));
        // The preload hint names the part being made: hold the request until it exists.
        if (p.IsNextPart(a, static_cast<int>(b))) {
          Waiter w{
              name, a,        static_cast<int>(b), false, false, origin, std::move(respond), now + wait_ms, vt, vt_exp,
              0,    rendition};
          return Hold(std::move(w));
        }
        return reply(http::Response::Error(404, "not_found", "no such part"));
      }
    }
    reply(http::Response::Error(404, "not_found", "no such resource"));
  }

  // Bits per second of the complete segments in memory: the peak segment and the average.
  static void MeasuredBitrate(const Packager& p, uint64_t& peak, uint64_t& average) {
    double bits = 0, seconds = 0;
    peak = average = 0;
    for (const auto& seg : p.CompleteSegmentsFrom(0)) {
      if (seg.duration_s < 0.1 || !seg.bytes) continue;
      double b = static_cast<double>(seg.bytes->size()) * 8;
      bits += b;
      seconds += seg.duration_s;
      peak = std::max(peak, static_cast<uint64_t>(b / seg.duration_s));
    }
    if (seconds > 0) average = static_cast<uint64_t>(bits / seconds);
  }

  // The multivariant playlist of a stream with a ladder: the source first, then each rung that
  // has media. BANDWIDTH is the peak segment bitrate measured in the window (an estimate from
  // the configuration or the ingest rate before the first segments are complete).
  http::Response MasterPlaylist(LiveStream& s, const std::string& vt) {
    if (!s.ladder) return http::Response::Error(404, "not_found", "this stream has no ladder (stream.ladder)");
    if (!s.packager->has_media() || s.video_codec.empty())
      return http::Response::Error(404, "not_found", "stream has not started yet");
    std::string fps;
    if (s.fps_frames >= 5 && s.fps_last_ts > s.fps_first_ts) {
      char buf[32];
      std::snprintf(
          buf, sizeof buf, "%.3f",
          static_cast<double>(s.fps_frames - 1) * 1000.0 / static_cast<double>(s.fps_last_ts - s.fps_first_ts));
      fps = buf;
    }
    std::string audio = s.audio_codec.empty() ? "" : "," + s.audio_codec;
    std::string body = "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n";
    auto variant = [&](uint64_t bandwidth, uint64_t average, int w, int h, const std::string& codec,
                       const std::string& uri) {
      body += "#EXT-X-STREAM-INF:BANDWIDTH=" + std::to_string(std::max<uint64_t>(bandwidth, 1));
      if (average) body += ",AVERAGE-BANDWIDTH=" + std::to_string(average);
      if (w > 0 && h > 0) body += ",RESOLUTION=" + std::to_string(w) + "x" + std::to_string(h);
      body += ",CODECS=\"" + codec + audio + "\"";
      if (!fps.empty()) body += ",FRAME-RATE=" + fps;
      body += "\n" + uri + "\n";
    };
    uint64_t peak = 0, average = 0;
    MeasuredBitrate(*s.packager, peak, average);
    variant(peak ? peak : (s.bitrate_bps ? s.bitrate_bps : 2000000), average, s.width, s.height, s.video_codec,
            "index.m3u8");
    for (const auto& r : s.ladder->rungs()) {
      if (!r->packager->has_media() || r->codec.empty()) continue;
      MeasuredBitrate(*r->packager, peak, average);
      // Before a measurement: the rung's video budget plus room for the source's audio.
      uint64_t guess = static_cast<uint64_t>(r->spec.bitrate_kbps) * 1100 + 160000;
      variant(peak ? peak : guess, average, r->width, r->height, r->codec, r->name + "/index.m3u8");
    }
    http::Response resp;
    resp.status = 200;
    resp.content_type = "application/vnd.apple.mpegurl";
    resp.body = std::move(body);
    if (!vt.empty()) {
      auto rewritten = RewritePlaylist(resp.body, vt);
      if (rewritten) resp.body = std::move(*rewritten);
    }
    // Rungs appear as they start and bandwidths get measured: players re-read it, caches do not keep it.
    resp.AddHeader("Cache-Control", "no-cache");
    return resp;
  }

  void OnTick() {
    int64_t now = base::MonotonicMs();
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (now >= it->deadline_ms) {
        http::Response r = http::Response::Error(503, "unavailable", "not produced in time");
        Cors(it->origin, r);
        it->respond(std::move(r));
        ++timed_out_total_;
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [n, s] : streams_)
      if (s->slate->Feed(*s->packager, now)) CheckProgress(*s);
    if (++ticks_ % 10 != 0) return;
    if (ticks_ % (3600 * 1000 / kTickMs) == 0 && recorder_) recorder_->ApplyRetention(base::WallClockMs());
    // Once a second: forget idle streams and stale viewers.
    for (auto it = streams_.begin(); it != streams_.end();) {
      LiveStream& s = *it->second;
      s.bytes_in_samples.push_back(s.bytes_in);
      if (s.bytes_in_samples.size() > 6) s.bytes_in_samples.pop_front();
      size_t spans = s.bytes_in_samples.size() - 1;
      s.bitrate_bps = spans ? (s.bytes_in_samples.back() - s.bytes_in_samples.front()) * 8 / spans : 0;
      int64_t window = 3LL * s.packager->target_duration_s() * 1000 + 2000;
      for (auto v = s.viewers.begin(); v != s.viewers.end();) v = now - v->second > window ? s.viewers.erase(v) : std::next(v);
      if (s.publisher == 0 && now - s.idle_since_ms > idle_keep_ms_) {
        LOG_NOTICE("stream '%s' removed after %lld s without a publisher", s.name.c_str(),
                   static_cast<long long>(idle_keep_ms_ / 1000));
        for (auto w = waiters_.begin(); w != waiters_.end();) {
          if (w->stream == s.name) {
            w->respond(http::Response::Error(404, "not_found", "stream ended"));
            w = waiters_.erase(w);
          } else {
            ++w;
          }
        }
        it = streams_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // ---- admin

  Json ListJson() const {
    Json arr = Json::MakeArray();
    int64_t now = base::MonotonicMs();
    for (const auto& [name, sp] : streams_) {
      const LiveStream& s = *sp;
      Json o = Json::MakeObject();
      o.Set("name", name);
      o.Set("live", s.publisher != 0);
      o.Set("slate", s.slate->active());
      o.Set("publisher", s.publisher != 0 ? Json(s.publisher_ip) : Json());
      o.Set("created_at", base::FormatRfc3339(s.created_wall_ms));
      o.Set("publish_started_at", base::FormatRfc3339(s.publish_started_wall_ms));
      if (s.publisher == 0) o.Set("idle_s", (now - s.idle_since_ms) / 1000);
      o.Set("sessions", static_cast<int64_t>(s.sessions));
      o.Set("bytes_in", static_cast<int64_t>(s.bytes_in));
      o.Set("parts", static_cast<int64_t>(s.packager->parts_produced()));
      o.Set("media_sequence", s.packager->next_msn());
      o.Set("viewers", static_cast<int64_t>(s.viewers.size()));
      o.Set("playlist", "/live/" + name + "/index.m3u8");
      if (s.ladder) {
        // The player uses the multivariant playlist when there are renditions and lets hls.js pick.
        o.Set("master", "/live/" + name + "/master.m3u8");
        Json renditions = Json::MakeArray();
        for (const auto& r : s.ladder->rungs()) {
          Json ro = Json::MakeObject();
          ro.Set("name", r->name);
          ro.Set("height", static_cast<int64_t>(r->spec.height));
          ro.Set("bitrate", static_cast<int64_t>(r->spec.bitrate_kbps) * 1000);
          ro.Set("live", r->packager->has_media());
          ro.Set("playlist", "/live/" + name + "/" + r->name + "/index.m3u8");
          renditions.Push(std::move(ro));
        }
        o.Set("renditions", std::move(renditions));
        o.Set("ladder_dropped_frames", static_cast<int64_t>(s.ladder->dropped_frames()));
      }
      arr.Push(std::move(o));
    }
    return Json::Obj({{"streams", std::move(arr)}});
  }

  base::Result<Json> Kick(const Json& args) {
    const Json* n = args.Find("name");
    if (!n || !n->is_string()) return base::MakeError(base::kExitUsage, "stream.kick needs {\"name\": NAME}");
    auto it = streams_.find(n->as_string());
    if (it == streams_.end()) return base::MakeError(base::kExitNoUser, "no stream named '" + n->as_string() + "'");
    uint64_t conn = it->second->publisher;
    bool kicked = false;
    if (conn >= kSrtConnectionBase) kicked = srt_ && srt_->Disconnect(conn);
    else if (conn >= kWhipConnectionBase) kicked = whip_ && whip_->Disconnect(conn);
    else if (conn != 0) kicked = rtmp_ && rtmp_->Disconnect(conn);
    if (kicked) LOG_NOTICE("stream '%s': publisher kicked by the operator", n->as_string().c_str());
    return Json::Obj({{"name", n->as_string()}, {"kicked", kicked}});
  }

  http::Response Metrics() const {
    int64_t live = 0, viewers = 0, slates = 0;
    for (const auto& [n, s] : streams_) {
      live += s->publisher != 0;
      slates += s->slate->active();
      viewers += static_cast<int64_t>(s->viewers.size());
    }
    std::string o;
    auto metric = [&o](const char* name, const char* type, const char* help, uint64_t v) {
      o += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " +
           std::to_string(v) + "\n";
    };
    metric("collab_stream_streams", "gauge", "Streams with a playlist in memory.", streams_.size());
    metric("collab_stream_live_streams", "gauge", "Streams with a publisher connected.", static_cast<uint64_t>(live));
    metric("collab_stream_viewers", "gauge", "Distinct players that fetched a playlist recently (estimate).",
           static_cast<uint64_t>(viewers));
    metric("collab_stream_slate_active", "gauge", "Streams showing a slate while their publisher is away.",
           static_cast<uint64_t>(slates));
    metric("collab_stream_ingest_bytes_total", "counter", "Audio and video payload bytes received.", bytes_in_total_);
    metric("collab_stream_parts_total", "counter", "LL-HLS parts produced.", parts_total_);
    metric("collab_stream_blocked_requests", "gauge", "Requests held for a part not yet produced.", waiters_.size());
    metric("collab_stream_blocked_requests_total", "counter", "Requests that were held.", blocked_total_);
    metric("collab_stream_blocked_timeouts_total", "counter", "Held requests answered 503.", timed_out_total_);
    metric("collab_stream_publish_refused_total", "counter", "Publish attempts refused.", refused_total_);
    // Per stream: what an operator watches during an event. Names are [A-Za-z0-9_-]: no escaping.
    o += "# HELP collab_stream_stream_ingest_bitrate_bps Publisher's audio+video bitrate over the last seconds.\n"
         "# TYPE collab_stream_stream_ingest_bitrate_bps gauge\n";
    for (const auto& [n, s] : streams_)
      o += "collab_stream_stream_ingest_bitrate_bps{stream=\"" + n + "\"} " + std::to_string(s->bitrate_bps) + "\n";
    o += "# HELP collab_stream_stream_viewers Players of one stream that fetched its playlist recently (estimate).\n"
         "# TYPE collab_stream_stream_viewers gauge\n";
    for (const auto& [n, s] : streams_)
      o += "collab_stream_stream_viewers{stream=\"" + n + "\"} " + std::to_string(s->viewers.size()) + "\n";
    // Only streams with a ladder: the others have no encoder that could fall behind.
    o += "# HELP collab_stream_stream_ladder_dropped_frames_total Source frames the ABR ladder skipped because its "
         "encoder fell behind.\n# TYPE collab_stream_stream_ladder_dropped_frames_total counter\n";
    for (const auto& [n, s] : streams_)
      if (s->ladder)
        o += "collab_stream_stream_ladder_dropped_frames_total{stream=\"" + n + "\"} " +
             std::to_string(s->ladder->dropped_frames()) + "\n";
    o += "# HELP collab_stream_held_seconds How long held requests (blocking playlist reloads, preload-hinted parts) "
         "waited for their part.\n# TYPE collab_stream_held_seconds histogram\n";
    for (auto [kind, h] : {std::pair<const char*, const HoldHistogram*>{"playlist", &held_playlists_}, {"part", &held_parts_}}) {
      for (size_t i = 0; i < std::size(kHoldBuckets); ++i) {
        char le[16];
        std::snprintf(le, sizeof le, "%g", kHoldBuckets[i]);
        o += std::string("collab_stream_held_seconds_bucket{kind=\"") + kind + "\",le=\"" + le + "\"} " +
             std::to_string(h->buckets[i]) + "\n";
      }
      o += std::string("collab_stream_held_seconds_bucket{kind=\"") + kind + "\",le=\"+Inf\"} " +
           std::to_string(h->count) + "\n";
      char sum[32];
      std::snprintf(sum, sizeof sum, "%.6f", h->sum);
      o += std::string("collab_stream_held_seconds_sum{kind=\"") + kind + "\"} " + sum + "\n";
      o += std::string("collab_stream_held_seconds_count{kind=\"") + kind + "\"} " + std::to_string(h->count) + "\n";
    }
    o += "# HELP collab_stream_viewer_rejected_total Requests for /live/ refused for a missing, invalid, expired or "
         "other stream's viewer token.\n# TYPE collab_stream_viewer_rejected_total counter\n";
    for (auto reason : {ViewerAuth::Reason::kMissing, ViewerAuth::Reason::kInvalid, ViewerAuth::Reason::kExpired,
                        ViewerAuth::Reason::kWrongStream})
      o += std::string("collab_stream_viewer_rejected_total{reason=\"") + ViewerAuth::ReasonName(reason) + "\"} " +
           std::to_string(viewer_rejected_[static_cast<size_t>(reason)]) + "\n";
    if (recorder_) {
      const Recorder::Counters& c = recorder_->counters();
      int64_t active = 0;
      for (const auto& [n, s] : streams_) active += !s->recording.empty();
      metric("collab_stream_recordings_active", "gauge", "Recordings being written.", static_cast<uint64_t>(active));
      metric("collab_stream_recordings_started_total", "counter", "Recordings started.", c.started);
      metric("collab_stream_recordings_failed_total", "counter", "Recordings stopped by a write error.", c.failed);
      metric("collab_stream_recording_segments_total", "counter", "Segments written to recordings.", c.segments);
      metric("collab_stream_recording_bytes_total", "counter", "Bytes written to recordings.", c.bytes);
      metric("collab_stream_recording_write_errors_total", "counter",
             "Failed recording writes (disk full, unwritable).", c.write_errors);
      metric("collab_stream_recordings_deleted_total", "counter", "Recordings deleted by retention.", c.deleted);
    }
    http::Response r;
    r.status = 200;
    r.content_type = "text/plain; version=0.0.4";
    r.body = std::move(o);
    r.AddHeader("Cache-Control", "no-store");
    return r;
  }

  daemon::Context* ctx_ = nullptr;
  std::unique_ptr<RtmpServer> rtmp_;
  std::unique_ptr<SrtIngest> srt_;
  std::unique_ptr<rtc::RtcSockets> whip_sockets_;  // declared before whip_: destroyed after it
  std::unique_ptr<WhipIngest> whip_;
  uv_timer_t* timer_ = nullptr;
  uint64_t ticks_ = 0;
  PackagerOptions packager_options_;
  std::vector<std::pair<std::string, std::string>> keys_;
  std::vector<std::string> cors_;
  int64_t idle_keep_ms_ = 60000;
  size_t max_streams_ = 32;
  bool slate_ = true, draining_ = false;
  SlateOptions slate_options_;
  std::vector<LadderRungSpec> ladder_;
  std::map<std::string, std::unique_ptr<LiveStream>> streams_;
  std::map<uint64_t, std::string> conn_stream_;
  std::unique_ptr<Recorder> recorder_;
  std::vector<std::string> record_;
  std::vector<base::IpPrefix> metrics_allow_;  // who may fetch /metrics (stream.metrics_allow)
  std::map<std::string, bool> record_override_;  // collab-admin stream record NAME start|stop
  std::list<Waiter> waiters_;
  ViewerAuth viewer_auth_;
  std::array<uint64_t, 5> viewer_rejected_{};  // by ViewerAuth::Reason
  uint64_t bytes_in_total_ = 0, parts_total_ = 0, blocked_total_ = 0, timed_out_total_ = 0, refused_total_ = 0;
  HoldHistogram held_playlists_, held_parts_;
};

}  // namespace

std::unique_ptr<daemon::Service> MakeService() { return std::make_unique<Service>(); }

}  // namespace collab::stream
