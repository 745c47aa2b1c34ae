#include "lib/stream/slate.hpp"

#include <algorithm>
#include <climits>

#include "lib/base/exit_codes.hpp"
#include "lib/base/log.hpp"
#include "lib/base/time.hpp"
#include "lib/media/slate.hpp"
#include "lib/stream/annexb.hpp"
#include "lib/stream/packager.hpp"

namespace collab::stream {

namespace {

constexpr int64_t kAacFrameSamples = 1024;
// Frames fed per timer tick at most: after a long stall of the loop the slate catches up over a
// few ticks instead of blocking the loop with one burst.
constexpr int kMaxFramesPerFeed = 200;

}  // namespace

SlateCadence CadenceFor(int part_target_ms, int segment_ms) {
  SlateCadence c;
  int part = std::max(1, part_target_ms);
  // About 10 frames a second: a still picture needs no more, and whole parts keep the parts
  // full length (a part of 3 x 111 ms frames fills a 334 ms target exactly).
  c.frames_per_part = std::max(1, part / 100);
  c.frame_us = static_cast<int>(static_cast<int64_t>(part) * 1000 / c.frames_per_part);
  int parts_per_gop = std::max(1, (std::max(1, segment_ms) + part - 1) / part);
  c.gop_frames = c.frames_per_part * parts_per_gop;
  return c;
}

base::Result<SlateLoop> MakeSlateLoop(const media::SlateMedia& media, const SlateCadence& cadence, int part_target_ms) {
  SlateLoop loop;
  loop.part_ms = std::max(1, part_target_ms);
  loop.frames_per_part = cadence.frames_per_part;
  loop.from_keyframe = media.from_keyframe;
  if (!media.video_frames.empty()) {
    AnnexBAccessUnit headers = ConvertAnnexB(media.video_headers);
    if (headers.sps.empty() || headers.pps.empty())
      return base::MakeError(base::kExitDataErr, "slate: the encoder gave no SPS/PPS");
    auto avcc = MakeAvcC(headers.sps, headers.pps);
    if (!avcc.ok()) return avcc.error();
    loop.avcc = std::move(*avcc);
    for (const std::string& f : media.video_frames) {
      std::string sample;
      bool idr = false;
      for (std::string_view nal : SplitAnnexB(f)) {
        int type = static_cast<uint8_t>(nal[0]) & 0x1f;
        // Parameter sets live in the init segment; the encoder's SEI and delimiters add nothing.
        if (type == 6 || type == 7 || type == 8 || type == 9) continue;
        idr = idr || type == 5;
        uint32_t n = static_cast<uint32_t>(nal.size());
        for (int s = 24; s >= 0; s -= 8) sample.push_back(static_cast<char>(n >> s));
        sample.append(nal);
      }
      if (sample.empty()) return base::MakeError(base::kExitDataErr, "slate: an encoded frame has no slice");
      if (loop.frames.empty() != idr)
        return base::MakeError(base::kExitDataErr, "slate: the GOP is not one IDR and P-frames");
      loop.frames.push_back(std::move(sample));
    }
  }
  if (!media.audio_config.empty()) {
    auto aac = ParseAacConfig(media.audio_config);
    if (!aac.ok()) return aac.error();
    if (aac->sample_rate <= 0 || media.audio_frame.empty())
      return base::MakeError(base::kExitDataErr, "slate: unusable AAC from the encoder");
    loop.asc = media.audio_config;
    loop.aac_frame = media.audio_frame;
    loop.sample_rate = aac->sample_rate;
  }
  if (loop.frames.empty() && loop.asc.empty()) return base::MakeError(base::kExitDataErr, "slate: nothing to show");
  return loop;
}

struct Slate::Job {
  uv_work_t req{};
  Slate* owner = nullptr;  // null once the slate no longer wants the result
  media::SlateRequest request;
  std::optional<base::Result<media::SlateMedia>> result;
  int part_ms = 0;
};

Slate::Slate(std::string stream_name) : name_(std::move(stream_name)) {}

Slate::~Slate() {
  if (job_) job_->owner = nullptr;  // the worker's completion frees the job
}

void Slate::ObserveVideo(const FlvVideo& v) {
  if (v.kind == FlvVideo::Kind::kConfig) {
    auto c = ParseAvcConfig(v.data);
    if (!c.ok()) return;
    avcc_ = c->record;
    width_ = c->width;
    height_ = c->height;
    has_video_ = true;
  } else if (v.kind == FlvVideo::Kind::kFrame && v.keyframe && has_video_ && !v.data.empty()) {
    // The configuration the keyframe belongs to travels with it: a later config change must
    // not pair an old picture with new parameter sets.
    if (keyframe_avcc_ != avcc_) keyframe_avcc_ = avcc_;
    keyframe_.assign(v.data.data(), v.data.size());
  }
}

void Slate::ObserveAudio(const FlvAudio& a) {
  if (a.kind != FlvAudio::Kind::kConfig) return;
  auto c = ParseAacConfig(a.data);
  if (!c.ok()) return;
  sample_rate_ = c->sample_rate;
  channels_ = c->channels;
  has_audio_ = true;
}

void Slate::Begin(uv_loop_t* loop, const Packager& packager, const SlateOptions& options, int64_t now_ms) {
  if (job_) {
    job_->owner = nullptr;
    job_ = nullptr;
  }
  loop_.reset();
  in_packager_ = false;
  options_ = options;
  if (!has_video_ && !has_audio_) {
    LOG_INFO("stream '%s': no slate: the publisher sent no media", name_.c_str());
    return;
  }
  cadence_ = CadenceFor(packager.part_target_ms(), packager.options().segment_ms);
  media::SlateRequest r;
  r.video = has_video_;
  if (has_video_) {
    r.extradata = keyframe_.empty() ? avcc_ : keyframe_avcc_;
    r.keyframe = keyframe_;
    r.width = width_;
    r.height = height_;
  }
  r.frame_us = cadence_.frame_us;
  r.gop_frames = cadence_.gop_frames;
  r.audio_sample_rate = has_audio_ ? sample_rate_ : 0;
  r.audio_channels = channels_;
  int part_ms = packager.part_target_ms();
  if (!loop) {
    Prepared(media::MakeSlate(r), part_ms, now_ms);
    return;
  }
  auto* job = new Job;
  job->owner = this;
  job->request = std::move(r);
  job->part_ms = part_ms;
  job->req.data = job;
  int rc = uv_queue_work(
      loop, &job->req,
      [](uv_work_t* w) {
        auto* j = static_cast<Job*>(w->data);
        j->result.emplace(media::MakeSlate(j->request));
      },
      [](uv_work_t* w, int status) {
        auto* j = static_cast<Job*>(w->data);
        if (j->owner) {
          Slate* s = j->owner;
          s->job_ = nullptr;
          if (status == 0 && j->result) {
            s->Prepared(std::move(*j->result), j->part_ms, base::MonotonicMs());
          } else {
            LOG_WARN("stream '%s': no slate: its preparation was cancelled", s->name_.c_str());
          }
        }
        delete j;
      });
  if (rc != 0) {
    LOG_WARN("stream '%s': no slate: %s", name_.c_str(), uv_strerror(rc));
    delete job;
    return;
  }
  job_ = job;
}

void Slate::Prepared(base::Result<media::SlateMedia> media, int cadence_part_ms, int64_t now_ms) {
  if (!media.ok()) {
    LOG_WARN("stream '%s': no slate: %s", name_.c_str(), media.error().message.c_str());
    return;
  }
  auto loop = MakeSlateLoop(*media, cadence_, cadence_part_ms);
  if (!loop.ok()) {
    LOG_WARN("stream '%s': no slate: %s", name_.c_str(), loop.error().message.c_str());
    return;
  }
  LOG_NOTICE("stream '%s': showing a slate (%s%s) until the publisher returns", name_.c_str(),
             loop->frames.empty()  ? "silence only"
             : loop->from_keyframe ? "the last picture, dimmed"
                                   : "a dark picture",
             !loop->frames.empty() && !loop->asc.empty() ? ", silent audio" : "");
  Show(std::move(*loop), now_ms);
}

void Slate::Show(SlateLoop loop, int64_t now_ms) {
  loop_ = std::move(loop);
  in_packager_ = false;
  start_ms_ = now_ms;
  start_wall_ms_ = base::WallClockMs();
  next_video_ = next_audio_ = 0;
}

void Slate::Finish(Packager& packager, const char* why) {
  if (!loop_) return;
  if (in_packager_) packager.EndSession();
  in_packager_ = false;
  loop_.reset();
  if (why) LOG_NOTICE("stream '%s': slate ended: %s", name_.c_str(), why);
}

void Slate::Stop(Packager& packager, const char* why) {
  if (job_) {
    job_->owner = nullptr;
    job_ = nullptr;
  }
  Finish(packager, why);
}

bool Slate::Feed(Packager& packager, int64_t now_ms) {
  if (!loop_) return false;
  int64_t elapsed = now_ms - start_ms_;
  if (options_.max_ms > 0 && elapsed >= options_.max_ms) {
    Finish(packager, "shown for stream.slate_max_s");
    return true;
  }
  const SlateLoop& l = *loop_;
  if (!in_packager_) {
    // A session of its own: the packager marks a discontinuity and, since the parameter sets
    // differ from the publisher's, a new init segment.
    packager.BeginSession();
    in_packager_ = true;
    if (!l.avcc.empty()) {
      FlvVideo c;
      c.kind = FlvVideo::Kind::kConfig;
      c.data = l.avcc;
      (void)packager.AddVideo(0, c, start_wall_ms_);
    }
    if (!l.asc.empty()) {
      FlvAudio c;
      c.kind = FlvAudio::Kind::kConfig;
      c.data = l.asc;
      (void)packager.AddAudio(0, c, start_wall_ms_);
    }
  }
  auto video_ts = [&](int64_t n) { return l.frames.empty() ? INT64_MAX : n * l.part_ms / l.frames_per_part; };
  auto audio_ts = [&](int64_t n) { return l.asc.empty() ? INT64_MAX : n * kAacFrameSamples * 1000 / l.sample_rate; };
  bool fed = false;
  for (int i = 0; i < kMaxFramesPerFeed; ++i) {
    int64_t vts = video_ts(next_video_), ats = audio_ts(next_audio_);
    int64_t ts = std::min(vts, ats);
    if (ts > elapsed) break;
    // RTMP timestamps are 32-bit milliseconds; the packager copes with the wrap after 49 days.
    uint32_t ts32 = static_cast<uint32_t>(ts);
    if (vts <= ats) {
      size_t idx = static_cast<size_t>(next_video_ % static_cast<int64_t>(l.frames.size()));
      FlvVideo v;
      v.kind = FlvVideo::Kind::kFrame;
      v.keyframe = idx == 0;
      v.data = l.frames[idx];
      (void)packager.AddVideo(ts32, v, start_wall_ms_ + ts);
      ++next_video_;
    } else {
      FlvAudio a;
      a.kind = FlvAudio::Kind::kFrame;
      a.data = l.aac_frame;
      (void)packager.AddAudio(ts32, a, start_wall_ms_ + ts);
      ++next_audio_;
    }
    fed = true;
  }
  return fed;
}

}  // namespace collab::stream
