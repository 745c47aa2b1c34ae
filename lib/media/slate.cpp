#include "lib/media/slate.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <libavutil/samplefmt.h>
#include <libswscale/swscale.h>
}

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>

#include "lib/base/exit_codes.hpp"
#include "lib/media/av_util.hpp"

namespace collab::media {

namespace {

// A publisher's frame larger than 4K is refused before decoding: bounded memory on a worker.
constexpr int64_t kMaxPixels = 4096LL * 2304;
constexpr int kDefaultWidth = 640, kDefaultHeight = 360;

using av::CodecCtx;
using av::DataError;
using av::Frame;
using av::Packet;
using av::SetExtradata;
using av::Sws;
const auto& AvError = av::ErrorText;

bool FillPacket(AVPacket* pkt, std::string_view data) {
  av_packet_unref(pkt);
  if (av_new_packet(pkt, static_cast<int>(data.size())) < 0) return false;  // adds zeroed padding
  std::memcpy(pkt->data, data.data(), data.size());
  return true;
}

// Decodes every access unit and keeps the last picture (the decoder is drained, so a single
// keyframe comes out even from a decoder that would otherwise wait for reordering).
base::Result<Frame> DecodeLast(std::string_view extradata, const std::vector<std::string>& units, int* count) {
  const AVCodec* dec = avcodec_find_decoder(AV_CODEC_ID_H264);
  if (!dec) return DataError("no H.264 decoder");
  CodecCtx ctx(avcodec_alloc_context3(dec));
  Frame frame(av_frame_alloc());
  Frame last(av_frame_alloc());
  Packet pkt(av_packet_alloc());
  if (!ctx || !frame || !last || !pkt || !SetExtradata(ctx.get(), extradata)) return DataError("out of memory");
  ctx->thread_count = 1;
  ctx->max_pixels = kMaxPixels;
  int rc = avcodec_open2(ctx.get(), dec, nullptr);
  if (rc < 0) return DataError("cannot open the H.264 decoder: " + AvError(rc));
  *count = 0;
  bool have = false;
  auto drain = [&] {
    while (avcodec_receive_frame(ctx.get(), frame.get()) >= 0) {
      av_frame_unref(last.get());
      av_frame_move_ref(last.get(), frame.get());
      have = true;
      ++*count;
    }
  };
  for (const auto& u : units) {
    if (u.empty()) continue;
    if (!FillPacket(pkt.get(), u)) return DataError("out of memory");
    // A broken access unit is skipped: the decoder conceals what it can from the others.
    (void)avcodec_send_packet(ctx.get(), pkt.get());
    drain();
  }
  (void)avcodec_send_packet(ctx.get(), nullptr);
  drain();
  if (!have || last->width <= 0 || last->height <= 0) return DataError("no picture could be decoded");
  return last;
}

Frame NewPicture(int w, int h) {
  Frame f(av_frame_alloc());
  if (!f) return f;
  f->format = AV_PIX_FMT_YUV420P;
  f->width = w;
  f->height = h;
  if (av_frame_get_buffer(f.get(), 0) < 0) f.reset();
  return f;
}

// The decoded picture as 4:2:0 with even sides (what libx264 needs), dimmed and desaturated.
Frame DimmedCopy(const AVFrame* src, double dim) {
  int w = std::max(2, src->width & ~1), h = std::max(2, src->height & ~1);
  Frame out = NewPicture(w, h);
  if (!out) return out;
  Sws sws(
      sws_getContext(src->width, src->height, static_cast<AVPixelFormat>(src->format), w, h, AV_PIX_FMT_YUV420P,
                     SWS_BILINEAR, nullptr, nullptr, nullptr));
  if (!sws) return Frame();
  sws_scale(sws.get(), src->data, src->linesize, 0, src->height, out->data, out->linesize);
  dim = std::clamp(dim, 0.0, 1.0);
  // Limited-range luma: scaling around black (16) darkens without crushing the picture.
  for (int y = 0; y < h; ++y) {
    uint8_t* row = out->data[0] + static_cast<ptrdiff_t>(y) * out->linesize[0];
    for (int x = 0; x < w; ++x) row[x] = static_cast<uint8_t>(16 + std::max(0, row[x] - 16) * dim);
  }
  for (int p = 1; p <= 2; ++p) {
    for (int y = 0; y < h / 2; ++y) {
      uint8_t* row = out->data[p] + static_cast<ptrdiff_t>(y) * out->linesize[p];
      for (int x = 0; x < w / 2; ++x) row[x] = static_cast<uint8_t>(128 + (row[x] - 128) / 2);
    }
  }
  return out;
}

Frame DarkPicture(int w, int h) {
  w = std::max(2, (w > 0 ? w : kDefaultWidth) & ~1);
  h = std::max(2, (h > 0 ? h : kDefaultHeight) & ~1);
  if (static_cast<int64_t>(w) * h > kMaxPixels) {
    w = kDefaultWidth;
    h = kDefaultHeight;
  }
  Frame f = NewPicture(w, h);
  if (!f) return f;
  for (int y = 0; y < h; ++y) std::memset(f->data[0] + static_cast<ptrdiff_t>(y) * f->linesize[0], 24, w);
  for (int p = 1; p <= 2; ++p)
    for (int y = 0; y < h / 2; ++y) std::memset(f->data[p] + static_cast<ptrdiff_t>(y) * f->linesize[p], 128, w / 2);
  return f;
}

base::Status EncodeVideo(const SlateRequest& req, AVFrame* picture, SlateMedia& out) {
  int gop = std::max(1, req.gop_frames);
  int frame_us = std::max(1000, req.frame_us);
  // A still picture with no scene cuts: the only IDR is the first frame and the GOP is closed.
  auto opened = av::OpenX264(
      [&](AVCodecContext* c) {
        c->width = picture->width;
        c->height = picture->height;
        c->time_base = AVRational{1, 1000000};
        c->framerate = AVRational{1000000, frame_us};
        c->gop_size = gop;
        c->keyint_min = gop;
      },
      {{"crf", "28"}}, &out.video_headers);
  if (!opened) return opened.error();
  CodecCtx ctx = std::move(*opened);
  Packet pkt(av_packet_alloc());
  if (!pkt) return DataError("out of memory");
  auto collect = [&]() -> bool {
    while (true) {
      int r = avcodec_receive_packet(ctx.get(), pkt.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return true;
      if (r < 0) return false;
      out.video_frames.emplace_back(reinterpret_cast<const char*>(pkt->data), pkt->size);
      av_packet_unref(pkt.get());
    }
  };
  for (int i = 0; i < gop; ++i) {
    // The encoder may keep a reference to the frame it was given: hand it a fresh one each time.
    Frame f(av_frame_clone(picture));
    if (!f) return DataError("out of memory");
    f->pts = static_cast<int64_t>(i) * frame_us;
    f->pict_type = i == 0 ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    int rc = avcodec_send_frame(ctx.get(), f.get());
    if (rc < 0 || !collect()) return DataError("libx264 failed: " + AvError(rc));
  }
  (void)avcodec_send_frame(ctx.get(), nullptr);
  if (!collect()) return DataError("libx264 failed while draining");
  if (static_cast<int>(out.video_frames.size()) != gop)
    return DataError("libx264 returned " + std::to_string(out.video_frames.size()) + " frames for " +
                     std::to_string(gop));
  return base::Ok();
}

base::Status EncodeSilence(const SlateRequest& req, SlateMedia& out) {
  const AVCodec* enc = avcodec_find_encoder(AV_CODEC_ID_AAC);
  if (!enc) return DataError("no AAC encoder");
  CodecCtx ctx(avcodec_alloc_context3(enc));
  Packet pkt(av_packet_alloc());
  Frame frame(av_frame_alloc());
  if (!ctx || !pkt || !frame) return DataError("out of memory");
  ctx->sample_fmt = AV_SAMPLE_FMT_FLTP;
  ctx->sample_rate = req.audio_sample_rate;
  av_channel_layout_default(&ctx->ch_layout, std::clamp(req.audio_channels, 1, 2));
  ctx->bit_rate = 32000;
  ctx->time_base = AVRational{1, req.audio_sample_rate};
  ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;  // the AudioSpecificConfig
  int rc = avcodec_open2(ctx.get(), enc, nullptr);
  if (rc < 0)
    return DataError("cannot open the AAC encoder at " + std::to_string(req.audio_sample_rate) + " Hz: " + AvError(rc));
  if (ctx->extradata_size <= 0 || ctx->frame_size != 1024) return DataError("unexpected AAC encoder setup");
  out.audio_config.assign(reinterpret_cast<const char*>(ctx->extradata), ctx->extradata_size);
  frame->format = ctx->sample_fmt;
  frame->nb_samples = ctx->frame_size;
  frame->sample_rate = ctx->sample_rate;
  if (av_channel_layout_copy(&frame->ch_layout, &ctx->ch_layout) < 0 || av_frame_get_buffer(frame.get(), 0) < 0)
    return DataError("out of memory");
  av_samples_set_silence(frame->extended_data, 0, frame->nb_samples, ctx->ch_layout.nb_channels, ctx->sample_fmt);
  std::vector<std::string> packets;
  auto collect = [&] {
    while (avcodec_receive_packet(ctx.get(), pkt.get()) >= 0) {
      packets.emplace_back(reinterpret_cast<const char*>(pkt->data), pkt->size);
      av_packet_unref(pkt.get());
    }
  };
  // A few frames, so the one kept is past the encoder's priming and stands for steady silence.
  for (int i = 0; i < 6; ++i) {
    if (av_frame_make_writable(frame.get()) < 0) return DataError("out of memory");
    frame->pts = static_cast<int64_t>(i) * ctx->frame_size;
    if (avcodec_send_frame(ctx.get(), frame.get()) < 0) return DataError("AAC encoding failed");
    collect();
  }
  (void)avcodec_send_frame(ctx.get(), nullptr);
  collect();
  if (packets.size() < 3) return DataError("AAC encoder gave too few frames");
  out.audio_frame = packets[packets.size() / 2];
  return base::Ok();
}

}  // namespace

base::Result<DecodedInfo> DecodeH264(std::string_view extradata, const std::vector<std::string>& access_units) {
  int count = 0;
  auto last = DecodeLast(extradata, access_units, &count);
  if (!last.ok()) return last.error();
  const AVFrame* f = last->get();
  DecodedInfo info;
  info.frames = count;
  info.width = f->width;
  info.height = f->height;
  // The first plane is luma for every YUV format a H.264 decoder outputs.
  uint64_t sum = 0;
  for (int y = 0; y < f->height; ++y) {
    const uint8_t* row = f->data[0] + static_cast<ptrdiff_t>(y) * f->linesize[0];
    for (int x = 0; x < f->width; ++x) sum += row[x];
  }
  info.mean_luma = static_cast<double>(sum) / (static_cast<double>(f->width) * f->height);
  return info;
}

base::Result<SlateMedia> MakeSlate(const SlateRequest& req) {
  // libx264 reports its setup and statistics at FFmpeg's default level (info) on every encoder:
  // in a daemon's log that is noise on each publisher drop. Warnings and errors still show.
  static std::once_flag quiet_once;
  std::call_once(quiet_once, [] {
    if (av_log_get_level() > AV_LOG_WARNING) av_log_set_level(AV_LOG_WARNING);
  });
  SlateMedia out;
  if (req.video) {
    Frame picture;
    if (!req.keyframe.empty()) {
      int count = 0;
      auto decoded = DecodeLast(req.extradata, {req.keyframe}, &count);
      if (decoded.ok()) {
        picture = DimmedCopy(decoded->get(), req.dim);
        out.from_keyframe = picture != nullptr;
      }
    }
    if (!picture) picture = DarkPicture(req.width, req.height);
    if (!picture) return DataError("out of memory");
    out.width = picture->width;
    out.height = picture->height;
    auto st = EncodeVideo(req, picture.get(), out);
    if (!st.ok()) return st.error();
  }
  if (req.audio_sample_rate > 0) {
    auto st = EncodeSilence(req, out);
    if (!st.ok()) return st.error();
  }
  if (!req.video && req.audio_sample_rate <= 0) return DataError("a slate needs video or audio");
  return out;
}

}  // namespace collab::media
