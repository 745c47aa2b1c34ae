#include "lib/stream/ladder.hpp"

#include <algorithm>

#include "lib/base/exit_codes.hpp"
#include "lib/base/log.hpp"
#include "lib/base/time.hpp"
#include "lib/config/registry.hpp"
#include "lib/media/video_ladder.hpp"
#include "lib/stream/ingest_tags.hpp"

namespace collab::stream {

namespace {

// About four seconds of 30 fps video: past that the encoder is not keeping up, and waiting
// longer only makes the rungs later than the source.
constexpr size_t kMaxQueuedVideo = 120;
constexpr size_t kMaxQueuedBytes = 32u << 20;

}  // namespace

base::Result<std::vector<LadderRungSpec>> ParseLadder(const std::vector<std::string>& entries) {
  std::vector<LadderRungSpec> out;
  for (const std::string& e : entries) {
    auto bad = [&](const char* why) {
      return base::MakeError(base::kExitConfig, "stream.ladder entry '" + e.substr(0, 40) + "': " + why);
    };
    int64_t h = 0, rate = 0;
    if (std::string why = config::ParseLadderEntry(e, h, rate); !why.empty()) return bad(why.c_str());
    for (const auto& r : out)
      if (r.height == h) return bad("height listed twice");
    out.push_back({static_cast<int>(h), static_cast<int>(rate / 1000)});
  }
  if (out.size() > 6)
    return base::MakeError(base::kExitConfig, "stream.ladder has more than 6 rungs (each one costs an encoder per stream)");
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.height > b.height; });
  return out;
}

Ladder::Ladder(uv_loop_t* loop, std::string stream_name, std::vector<LadderRungSpec> rungs,
               const PackagerOptions& options, std::function<void()> on_output)
    : loop_(loop), name_(std::move(stream_name)), specs_(std::move(rungs)), on_output_(std::move(on_output)) {
  for (const auto& s : specs_) {
    auto r = std::make_unique<Rung>();
    r->spec = s;
    r->name = s.Name();
    r->packager = std::make_unique<Packager>(options);
    rungs_.push_back(std::move(r));
  }
  async_ = new uv_async_t;
  uv_async_init(loop_, async_, [](uv_async_t* a) {
    if (a->data) static_cast<Ladder*>(a->data)->Drain();
  });
  async_->data = this;
  try {
    worker_ = std::thread([this] { Run(); });
  } catch (const std::exception& e) {
    LOG_ERROR("stream '%s': no ladder (cannot start its thread: %s)", name_.c_str(), e.what());
  }
}

Ladder::~Ladder() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  // Results not yet drained die with the ladder; the handle outlives it until libuv closes it.
  async_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(async_), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
}

bool Ladder::Push(Item item, bool droppable) {
  if (!worker_.joinable()) return false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    bool video = item.kind == Item::Kind::kVideo;
    if (droppable &&
        ((video && queued_video_ >= kMaxQueuedVideo) || queued_bytes_ + item.data.size() > kMaxQueuedBytes))
      return false;
    queued_video_ += video;
    queued_bytes_ += item.data.size();
    in_.push_back(std::move(item));
  }
  cv_.notify_one();
  return true;
}

void Ladder::BeginSession() {
  skip_to_key_ = false;
  Push(Item{Item::Kind::kBegin}, false);
}

void Ladder::EndSession() { Push(Item{Item::Kind::kEnd}, false); }

void Ladder::Video(uint32_t ts_ms, const FlvVideo& v) {
  if (v.kind == FlvVideo::Kind::kEndOfSequence) return;
  Item it;
  it.ts_ms = ts_ms;
  it.data.assign(v.data);
  if (v.kind == FlvVideo::Kind::kConfig) {
    it.kind = Item::Kind::kVideoConfig;
    Push(std::move(it), false);
    return;
  }
  // After a drop the decoder would only show broken pictures until the next keyframe.
  if (skip_to_key_ && !v.keyframe) {
    ++dropped_;
    return;
  }
  it.kind = Item::Kind::kVideo;
  it.cts_ms = v.composition_ms;
  it.key = v.keyframe;
  if (Push(std::move(it), true)) {
    skip_to_key_ = false;
    return;
  }
  if (!skip_to_key_ && (dropped_ == 0 || dropped_ % 100 == 0))
    LOG_WARN(
        "stream '%s': the ladder encoder falls behind, source frames dropped up to the next keyframe (%llu so far)",
        name_.c_str(), static_cast<unsigned long long>(dropped_ + 1));
  skip_to_key_ = true;
  ++dropped_;
}

void Ladder::Audio(uint32_t ts_ms, const FlvAudio& a) {
  Item it;
  it.kind = Item::Kind::kAudio;
  it.ts_ms = ts_ms;
  it.audio_config = a.kind == FlvAudio::Kind::kConfig;
  it.data.assign(a.data);
  bool droppable = !it.audio_config;  // a configuration is needed by everything after it
  Push(std::move(it), droppable);
}

Ladder::Rung* Ladder::Find(const std::string& name) {
  for (auto& r : rungs_)
    if (r->name == name) return r.get();
  return nullptr;
}

uint64_t Ladder::parts_produced() const {
  uint64_t n = 0;
  for (const auto& r : rungs_) n += r->packager->parts_produced();
  return n;
}

// The worker: decode, scale, encode; the rung's Annex B becomes FLV tags like an ingest's.
void Ladder::Run() {
  std::vector<media::LadderRung> mr;
  for (const auto& s : specs_) mr.push_back({s.height, s.bitrate_kbps});
  auto created = media::VideoLadder::Create(mr);
  if (!created.ok()) LOG_ERROR("stream '%s': no ladder: %s", name_.c_str(), created.error().message.c_str());
  std::unique_ptr<media::VideoLadder> ladder = created.ok() ? std::move(*created) : nullptr;
  std::vector<IngestTagWriter> writers(specs_.size());
  std::vector<media::LadderPacket> packets;
  std::vector<IngestTag> tags;
  uint64_t errors = 0;
  while (true) {
    Item item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !in_.empty(); });
      if (stop_) return;
      item = std::move(in_.front());
      in_.pop_front();
      queued_video_ -= item.kind == Item::Kind::kVideo;
      queued_bytes_ -= item.data.size();
    }
    // Without an encoder the rungs get nothing, not even audio: no audio-only renditions.
    if (!ladder) continue;
    std::vector<Item> results;
    packets.clear();
    base::Status st = base::Ok();
    switch (item.kind) {
      case Item::Kind::kBegin:
        for (auto& w : writers) w.Reset();
        results.push_back(std::move(item));
        break;
      case Item::Kind::kEnd:
        if (ladder) ladder->Flush(packets);
        break;
      case Item::Kind::kVideoConfig:
        if (ladder) st = ladder->Configure(item.data, packets);
        break;
      case Item::Kind::kVideo:
        if (ladder) st = ladder->Add(item.data, item.ts_ms, item.ts_ms + item.cts_ms, item.key, packets);
        break;
      case Item::Kind::kAudio:
        results.push_back(std::move(item));
        break;
    }
    if (!st.ok() && errors++ < 5) LOG_WARN("stream '%s': ladder: %s", name_.c_str(), st.error().message.c_str());
    for (const auto& p : packets) {
      tags.clear();
      std::string au = p.key ? ladder->parameter_sets(p.rung) + p.annexb : p.annexb;
      writers[p.rung].VideoAnnexB(au, p.dts_ms, static_cast<int32_t>(p.pts_ms - p.dts_ms), p.key, tags);
      for (auto& t : tags) {
        Item o;
        o.kind = Item::Kind::kVideo;
        o.rung = p.rung;
        o.ts_ms = t.timestamp_ms;
        o.data = std::move(t.body);
        results.push_back(std::move(o));
      }
    }
    if (item.kind == Item::Kind::kEnd) results.push_back(Item{Item::Kind::kEnd});
    if (results.empty()) continue;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& r : results) out_.push_back(std::move(r));
    }
    uv_async_send(async_);
  }
}

void Ladder::Drain() {
  std::deque<Item> items;
  {
    std::lock_guard<std::mutex> lock(mu_);
    items.swap(out_);
  }
  if (items.empty()) return;
  int64_t wall = base::WallClockMs();
  for (Item& it : items) {
    switch (it.kind) {
      case Item::Kind::kBegin:
        for (auto& r : rungs_) r->packager->BeginSession();
        break;
      case Item::Kind::kEnd:
        for (auto& r : rungs_) r->packager->EndSession();
        break;
      case Item::Kind::kAudio: {
        FlvAudio a;
        a.kind = it.audio_config ? FlvAudio::Kind::kConfig : FlvAudio::Kind::kFrame;
        a.data = it.data;
        for (auto& r : rungs_) (void)r->packager->AddAudio(static_cast<uint32_t>(it.ts_ms), a, wall);
        break;
      }
      case Item::Kind::kVideo: {
        if (it.rung >= rungs_.size()) break;
        Rung& r = *rungs_[it.rung];
        auto v = ParseFlvVideo(it.data);
        if (!v.ok()) break;
        if (v->kind == FlvVideo::Kind::kConfig) {
          if (auto cfg = ParseAvcConfig(v->data); cfg.ok()) {
            r.codec = cfg->Codec();
            r.width = cfg->width;
            r.height = cfg->height;
          }
        }
        base::Status st = r.packager->AddVideo(static_cast<uint32_t>(it.ts_ms), *v, wall);
        if (!st.ok()) LOG_DEBUG("stream '%s' %s: %s", name_.c_str(), r.name.c_str(), st.error().message.c_str());
        break;
      }
      case Item::Kind::kVideoConfig:
        break;
    }
  }
  if (on_output_) on_output_();
}

}  // namespace collab::stream
