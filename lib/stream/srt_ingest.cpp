#include "lib/stream/srt_ingest.hpp"

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <thread>

#include "lib/base/log.hpp"
#include "lib/media/demux.hpp"
#include "lib/stream/ingest_tags.hpp"

namespace collab::stream {

namespace {

// Packets waiting for the loop; beyond this the loop is not keeping up and packets are dropped.
constexpr size_t kMaxQueuedBytes = 64u << 20;

struct Event {
  enum class Kind { kStart, kVideo, kAudio, kEnd } kind = Kind::kStart;
  uint64_t session = 0;
  int64_t dts_ms = 0;
  int32_t cts_ms = 0;
  bool key = false;
  std::string data;
};

}  // namespace

struct SrtIngest::Impl {
  uv_loop_t* loop = nullptr;
  SrtIngestOptions options;
  RtmpServer::Handlers handlers;
  uv_async_t* async = nullptr;
  std::thread worker;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> drop_session{0};  // the worker ends this session at its next packet

  std::mutex mu;
  std::deque<Event> queue;
  size_t queued_bytes = 0;
  bool overflow_logged = false;

  // Loop side, per session.
  uint64_t live_session = 0;  // accepted by the owner
  IngestTagWriter tags;
  std::vector<IngestTag> out;

  std::string Url() const {
    std::string h = options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host;
    return "srt://" + h + ":" + std::to_string(options.port);
  }

  void Post(Event e) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (queued_bytes + e.data.size() > kMaxQueuedBytes && e.kind != Event::Kind::kEnd &&
          e.kind != Event::Kind::kStart) {
        if (!overflow_logged) LOG_WARN("srt: the loop is not keeping up; dropping packets");
        overflow_logged = true;
        return;
      }
      queued_bytes += e.data.size();
      queue.push_back(std::move(e));
    }
    uv_async_send(async);
  }

  void Run() {
    uint64_t session = 0;
    bool logged_error = false;
    while (!stop) {
      std::vector<std::pair<std::string, std::string>> opts{{"mode", "listener"}};
      if (!options.passphrase.empty()) opts.emplace_back("passphrase", options.passphrase);
      auto dm = media::Demuxer::Open(Url(), "mpegts", opts, [this] { return stop.load(); });
      if (!dm.ok()) {
        if (stop) break;
        if (!logged_error) {
          LOG_WARN("srt: %s: %s", Url().c_str(), dm.error().message.c_str());
          logged_error = true;
        }
        for (int i = 0; i < 10 && !stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      logged_error = false;
      ++session;
      Post(Event{Event::Kind::kStart, session});
      media::Packet p;
      while (!stop && drop_session.load() != session && (*dm)->Read(&p)) {
        if (p.codec == media::Packet::Codec::kOther || p.data.empty() || !p.has_time) continue;
        Event e;
        e.kind = p.codec == media::Packet::Codec::kH264 ? Event::Kind::kVideo : Event::Kind::kAudio;
        e.session = session;
        e.dts_ms = p.dts_ms;
        e.cts_ms = p.cts_ms;
        e.key = p.key;
        e.data = std::move(p.data);
        Post(std::move(e));
      }
      dm->reset();
      Post(Event{Event::Kind::kEnd, session});
    }
  }

  // ---- loop side

  void Drain() {
    std::deque<Event> batch;
    {
      std::lock_guard<std::mutex> lock(mu);
      batch.swap(queue);
      queued_bytes = 0;
      overflow_logged = false;
    }
    for (Event& e : batch) Handle(e);
  }

  uint64_t Conn(uint64_t session) const { return kSrtConnectionBase + session; }

  void Media(uint8_t type, int64_t ts, std::string payload) {
    RtmpMedia m;
    m.type = type;
    m.timestamp_ms = static_cast<uint32_t>(ts);
    m.payload = payload;
    if (handlers.on_media) handlers.on_media(Conn(live_session), m);
  }

  void Handle(Event& e) {
    if (e.kind == Event::Kind::kStart) {
      RtmpPublishRequest req;
      req.app = "srt";
      req.name = options.stream_name;
      RtmpPublishDecision d = handlers.on_publish ? handlers.on_publish(Conn(e.session), "srt", req) : RtmpPublishDecision{};
      if (!d.ok) {
        LOG_NOTICE("srt: caller refused: %s", d.description.c_str());
        drop_session = e.session;
        return;
      }
      live_session = e.session;
      tags.Reset();
      return;
    }
    if (e.session != live_session || live_session == 0) return;
    if (e.kind == Event::Kind::kEnd) {
      live_session = 0;
      if (handlers.on_end) handlers.on_end(Conn(e.session));
      return;
    }
    out.clear();
    if (e.kind == Event::Kind::kVideo) {
      tags.VideoAnnexB(e.data, e.dts_ms, e.cts_ms, e.key, out);
    } else if (!tags.AudioAdts(e.data, e.dts_ms, out)) {
      LOG_DEBUG("srt: bad ADTS header");
    }
    for (IngestTag& t : out) Media(t.type, t.timestamp_ms, std::move(t.body));
  }
};

SrtIngest::SrtIngest(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

base::Result<std::unique_ptr<SrtIngest>> SrtIngest::Start(uv_loop_t* loop, const SrtIngestOptions& options,
                                                          RtmpServer::Handlers handlers) {
  if (options.port <= 0 || options.port > 65535)
    return base::MakeError(base::kExitConfig, "srt listen address needs a fixed port");
  auto impl = std::make_unique<Impl>();
  impl->loop = loop;
  impl->options = options;
  impl->handlers = std::move(handlers);
  impl->async = new uv_async_t;
  uv_async_init(loop, impl->async, [](uv_async_t* a) { static_cast<Impl*>(a->data)->Drain(); });
  impl->async->data = impl.get();
  Impl* raw = impl.get();
  impl->worker = std::thread([raw] { raw->Run(); });
  return std::unique_ptr<SrtIngest>(new SrtIngest(std::move(impl)));
}

SrtIngest::~SrtIngest() {
  impl_->stop = true;
  if (impl_->worker.joinable()) impl_->worker.join();
  // What the worker posted last (the end of a session) still reaches the owner.
  impl_->Drain();
  uv_close(reinterpret_cast<uv_handle_t*>(impl_->async), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
}

std::string SrtIngest::address() const {
  std::string h = impl_->options.host.find(':') != std::string::npos ? "[" + impl_->options.host + "]" : impl_->options.host;
  return h + ":" + std::to_string(impl_->options.port);
}

bool SrtIngest::Disconnect(uint64_t conn) {
  if (impl_->live_session == 0 || conn != impl_->Conn(impl_->live_session)) return false;
  impl_->drop_session = impl_->live_session;
  return true;
}

}  // namespace collab::stream
