#include "lib/media/video_ladder.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include <algorithm>
#include <cstring>
#include <mutex>

#include "lib/base/exit_codes.hpp"
#include "lib/media/av_util.hpp"

namespace collab::media {

namespace {

// A publisher's frame larger than 4K is refused before decoding: bounded memory on a worker.
constexpr int64_t kMaxPixels = 4096LL * 2304;
// Far apart: a rung's IDRs come from the source's keyframes; this only bounds a source that
// never sends one.
constexpr int kMaxGopFrames = 600;

using av::CodecCtx;
using av::DataError;
using av::Frame;
using av::Packet;
using av::Sws;
const auto& AvError = av::ErrorText;

bool IsKey(const AVFrame* f) {
#ifdef AV_FRAME_FLAG_KEY
  return (f->flags & AV_FRAME_FLAG_KEY) != 0;
#else
  return f->key_frame != 0;
#endif
}

struct RungState {
  LadderRung rung;
  int width = 0, height = 0;
  bool skipped = false;  // not below the source height: upscaling helps nobody
  CodecCtx enc;
  Sws sws;
  int src_w = 0, src_h = 0, src_fmt = -1;
  std::string parameter_sets;
};

}  // namespace

struct VideoLadder::Impl {
  std::vector<RungState> rungs;
  CodecCtx dec;
  std::string extradata;
  Packet pkt{av_packet_alloc()};
  Packet out_pkt{av_packet_alloc()};
  Frame frame{av_frame_alloc()};
  uint64_t errors = 0;
  int64_t last_pts = INT64_MIN;

  base::Status OpenDecoder() {
    const AVCodec* codec = avcodec_find_decoder(AV_CODEC_ID_H264);
    if (!codec) return DataError("no H.264 decoder");
    CodecCtx c(avcodec_alloc_context3(codec));
    if (!c) return DataError("out of memory");
    if (!av::SetExtradata(c.get(), extradata)) return DataError("out of memory");
    c->thread_count = 1;  // one worker per stream already; the machine's other cores serve others
    c->max_pixels = kMaxPixels;
    c->pkt_timebase = AVRational{1, 1000};
    int rc = avcodec_open2(c.get(), codec, nullptr);
    if (rc < 0) return DataError("cannot open the H.264 decoder: " + AvError(rc));
    dec = std::move(c);
    return base::Ok();
  }

  base::Status OpenEncoder(RungState& r, const AVFrame* src) {
    r.enc.reset();
    r.sws.reset();
    r.parameter_sets.clear();
    r.skipped = r.rung.height >= src->height;
    if (r.skipped) return base::Ok();
    r.height = r.rung.height & ~1;
    int64_t w = (static_cast<int64_t>(src->width) * r.height + src->height / 2) / src->height;
    r.width = std::max<int>(2, static_cast<int>(w + 1) & ~1);
    // The rate control budgets bits per frame from the frame rate; the source's SPS usually says it.
    AVRational rate = dec && dec->framerate.num > 0 && dec->framerate.den > 0 ? dec->framerate : AVRational{30, 1};
    auto opened = av::OpenX264(
        [&](AVCodecContext* c) {
          c->width = r.width;
          c->height = r.height;
          c->time_base = AVRational{1, 1000};
          c->framerate = rate;
          c->gop_size = kMaxGopFrames;
          c->keyint_min = kMaxGopFrames;
          c->bit_rate = static_cast<int64_t>(r.rung.bitrate_kbps) * 1000;
          // CBR-ish: a one-second VBV at the rung bitrate keeps each segment near its budget.
          c->rc_max_rate = c->bit_rate;
          c->rc_buffer_size = static_cast<int>(std::min<int64_t>(c->bit_rate, INT32_MAX));
        },
        // No keyframes of its own (OpenX264 turns scene cuts off): IDRs only where the source
        // has them, so the rungs' segments align with the source's.
        {{"forced-idr", "1"}}, &r.parameter_sets);
    if (!opened) return opened.error();
    CodecCtx c = std::move(*opened);
    r.enc = std::move(c);
    return base::Ok();
  }

  void Collect(size_t index, std::vector<LadderPacket>& out) {
    RungState& r = rungs[index];
    while (avcodec_receive_packet(r.enc.get(), out_pkt.get()) >= 0) {
      LadderPacket p;
      p.rung = index;
      p.key = (out_pkt->flags & AV_PKT_FLAG_KEY) != 0;
      p.pts_ms = out_pkt->pts;
      p.dts_ms = out_pkt->dts == AV_NOPTS_VALUE ? out_pkt->pts : out_pkt->dts;
      p.annexb.assign(reinterpret_cast<const char*>(out_pkt->data), out_pkt->size);
      out.push_back(std::move(p));
      av_packet_unref(out_pkt.get());
    }
  }

  base::Status EncodeFrame(AVFrame* src, std::vector<LadderPacket>& out) {
    int64_t pts = src->best_effort_timestamp != AV_NOPTS_VALUE ? src->best_effort_timestamp : src->pts;
    if (pts == AV_NOPTS_VALUE) pts = last_pts == INT64_MIN ? 0 : last_pts + 1;
    // x264 refuses a timestamp that does not advance; a broken source could send one.
    if (last_pts != INT64_MIN && pts <= last_pts) return DataError("source timestamps go back");
    last_pts = pts;
    bool key = IsKey(src);
    base::Status st = base::Ok();
    for (size_t i = 0; i < rungs.size(); ++i) {
      RungState& r = rungs[i];
      if (!r.enc && !r.skipped) {
        st = OpenEncoder(r, src);
        if (!st.ok()) return st;
      } else if (r.src_w != 0 && (r.src_w != src->width || r.src_h != src->height)) {
        // The source changed size mid-session: a new encoder (and parameter sets) for the new aspect.
        Flush(i, out);
        st = OpenEncoder(r, src);
        if (!st.ok()) return st;
      }
      r.src_w = src->width;
      r.src_h = src->height;
      if (r.skipped) continue;
      if (!r.sws || r.src_fmt != src->format) {
        r.sws.reset(sws_getContext(src->width, src->height, static_cast<AVPixelFormat>(src->format), r.width, r.height,
                                   AV_PIX_FMT_YUV420P, SWS_BILINEAR, nullptr, nullptr, nullptr));
        r.src_fmt = src->format;
        if (!r.sws) return DataError("cannot scale this picture format");
      }
      // A fresh frame per rung: the encoder may keep references to what it was given.
      Frame scaled(av_frame_alloc());
      if (!scaled) return DataError("out of memory");
      scaled->format = AV_PIX_FMT_YUV420P;
      scaled->width = r.width;
      scaled->height = r.height;
      if (av_frame_get_buffer(scaled.get(), 0) < 0) return DataError("out of memory");
      sws_scale(r.sws.get(), src->data, src->linesize, 0, src->height, scaled->data, scaled->linesize);
      scaled->pts = pts;
      scaled->pict_type = key ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
      int rc = avcodec_send_frame(r.enc.get(), scaled.get());
      if (rc < 0) return DataError("libx264 failed: " + AvError(rc));
      Collect(i, out);
    }
    return base::Ok();
  }

  void Flush(size_t index, std::vector<LadderPacket>& out) {
    RungState& r = rungs[index];
    if (r.enc) {
      (void)avcodec_send_frame(r.enc.get(), nullptr);
      Collect(index, out);
    }
    r.enc.reset();
    r.sws.reset();
    r.src_w = r.src_h = 0;
    r.src_fmt = -1;
    r.skipped = false;
  }

  void ReceiveFrames(std::vector<LadderPacket>& out, base::Status& st) {
    while (avcodec_receive_frame(dec.get(), frame.get()) >= 0) {
      base::Status e = EncodeFrame(frame.get(), out);
      av_frame_unref(frame.get());
      if (!e.ok()) {
        ++errors;
        st = e;
      }
    }
  }

  void DrainDecoder(std::vector<LadderPacket>& out) {
    if (!dec) return;
    (void)avcodec_send_packet(dec.get(), nullptr);
    base::Status st = base::Ok();
    ReceiveFrames(out, st);
    dec.reset();
  }
};

VideoLadder::VideoLadder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VideoLadder::~VideoLadder() = default;

base::Result<std::unique_ptr<VideoLadder>> VideoLadder::Create(std::vector<LadderRung> rungs) {
  // As in lib/media/slate: libx264's info lines on every encoder open are noise in a daemon log.
  static std::once_flag quiet_once;
  std::call_once(quiet_once, [] {
    if (av_log_get_level() > AV_LOG_WARNING) av_log_set_level(AV_LOG_WARNING);
  });
  if (rungs.empty()) return base::MakeError(base::kExitUsage, "a ladder needs at least one rung");
  auto impl = std::make_unique<Impl>();
  if (!impl->pkt || !impl->out_pkt || !impl->frame) return DataError("out of memory");
  for (const LadderRung& r : rungs) {
    if (r.height < 16 || r.height > 4320 || r.bitrate_kbps <= 0)
      return base::MakeError(base::kExitUsage, "bad ladder rung " + std::to_string(r.height) + "p");
    RungState s;
    s.rung = r;
    impl->rungs.push_back(std::move(s));
  }
  if (!avcodec_find_encoder_by_name("libx264")) return DataError("no libx264 encoder in this FFmpeg");
  return std::unique_ptr<VideoLadder>(new VideoLadder(std::move(impl)));
}

base::Status VideoLadder::Configure(std::string_view extradata, std::vector<LadderPacket>& out) {
  if (impl_->dec && extradata == impl_->extradata) return base::Ok();
  impl_->DrainDecoder(out);
  impl_->extradata.assign(extradata);
  return impl_->OpenDecoder();
}

base::Status VideoLadder::Add(std::string_view access_unit, int64_t dts_ms, int64_t pts_ms, bool key,
                              std::vector<LadderPacket>& out) {
  (void)key;  // the decoded picture says whether it is a keyframe; that is what counts
  if (!impl_->dec) {
    base::Status st = impl_->OpenDecoder();
    if (!st.ok()) return st;
  }
  if (access_unit.empty() || access_unit.size() > (64u << 20)) return DataError("bad access unit size");
  AVPacket* pkt = impl_->pkt.get();
  av_packet_unref(pkt);
  if (av_new_packet(pkt, static_cast<int>(access_unit.size())) < 0) return DataError("out of memory");
  std::memcpy(pkt->data, access_unit.data(), access_unit.size());
  pkt->dts = dts_ms;
  pkt->pts = pts_ms;
  int rc = avcodec_send_packet(impl_->dec.get(), pkt);
  base::Status st = base::Ok();
  if (rc < 0 && rc != AVERROR(EAGAIN)) {
    ++impl_->errors;
    st = DataError("H.264 decoding failed: " + AvError(rc));
  }
  impl_->ReceiveFrames(out, st);
  return st;
}

void VideoLadder::Flush(std::vector<LadderPacket>& out) {
  impl_->DrainDecoder(out);
  for (size_t i = 0; i < impl_->rungs.size(); ++i) impl_->Flush(i, out);
  impl_->last_pts = INT64_MIN;
}

size_t VideoLadder::rung_count() const { return impl_->rungs.size(); }
const std::string& VideoLadder::parameter_sets(size_t rung) const { return impl_->rungs.at(rung).parameter_sets; }
int VideoLadder::width(size_t rung) const { return impl_->rungs.at(rung).width; }
int VideoLadder::height(size_t rung) const { return impl_->rungs.at(rung).height; }
uint64_t VideoLadder::errors() const { return impl_->errors; }

}  // namespace collab::media
