#include "lib/media/thumbnail.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

#include <algorithm>

#include "lib/base/exit_codes.hpp"

namespace collab::media {

base::Result<Thumbnail> MakeThumbnail(std::string_view data, std::string_view type, int max_side, int64_t max_pixels) {
  AVCodecID id = type == "image/png" ? AV_CODEC_ID_PNG
                 : type == "image/jpeg" ? AV_CODEC_ID_MJPEG
                 : type == "image/gif"  ? AV_CODEC_ID_GIF
                 : type == "image/webp" ? AV_CODEC_ID_WEBP
                                        : AV_CODEC_ID_NONE;
  const AVCodec* dec = avcodec_find_decoder(id);
  if (!dec) return base::MakeError(base::kExitDataErr, "no decoder for " + std::string(type));
  AVCodecContext* dctx = avcodec_alloc_context3(dec);
  AVFrame* frame = av_frame_alloc();
  AVFrame* out = av_frame_alloc();
  AVPacket* pkt = av_packet_alloc();
  AVCodecContext* ectx = nullptr;
  SwsContext* sws = nullptr;
  auto cleanup = [&] {
    avcodec_free_context(&dctx);
    avcodec_free_context(&ectx);
    av_frame_free(&frame);
    av_frame_free(&out);
    av_packet_free(&pkt);
    sws_freeContext(sws);
  };
  auto fail = [&](const std::string& why) -> base::Result<Thumbnail> {
    cleanup();
    return base::MakeError(base::kExitDataErr, why);
  };
  if (!dctx || !frame || !out || !pkt) return fail("out of memory");
  dctx->max_pixels = max_pixels;
  dctx->thread_count = 1;
  if (avcodec_open2(dctx, dec, nullptr) < 0) return fail("cannot open the decoder");
  if (av_new_packet(pkt, static_cast<int>(data.size())) < 0) return fail("out of memory");
  std::copy(data.begin(), data.end(), pkt->data);  // av_new_packet added the zeroed padding
  int rc = avcodec_send_packet(dctx, pkt);
  if (rc >= 0) (void)avcodec_send_packet(dctx, nullptr);
  rc = avcodec_receive_frame(dctx, frame);
  if (rc < 0 || frame->width <= 0 || frame->height <= 0) return fail("not a decodable image");
  Thumbnail t;
  t.width = frame->width;
  t.height = frame->height;
  double scale = std::min(1.0, std::min(static_cast<double>(max_side) / frame->width,
                                        static_cast<double>(max_side) / frame->height));
  int w = std::max(1, static_cast<int>(frame->width * scale));
  int h = std::max(1, static_cast<int>(frame->height * scale));
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(frame->format));
  bool alpha = desc && (desc->flags & AV_PIX_FMT_FLAG_ALPHA);
  AVPixelFormat ofmt = alpha ? AV_PIX_FMT_RGBA : AV_PIX_FMT_YUVJ420P;
  const AVCodec* enc = avcodec_find_encoder(alpha ? AV_CODEC_ID_PNG : AV_CODEC_ID_MJPEG);
  if (!enc) return fail("no thumbnail encoder");
  sws = sws_getContext(frame->width, frame->height, static_cast<AVPixelFormat>(frame->format), w, h, ofmt,
                       SWS_BICUBIC, nullptr, nullptr, nullptr);
  if (!sws) return fail("cannot scale this image");
  out->format = ofmt;
  out->width = w;
  out->height = h;
  if (av_frame_get_buffer(out, 0) < 0) return fail("out of memory");
  sws_scale(sws, frame->data, frame->linesize, 0, frame->height, out->data, out->linesize);
  ectx = avcodec_alloc_context3(enc);
  if (!ectx) return fail("out of memory");
  ectx->width = w;
  ectx->height = h;
  ectx->pix_fmt = ofmt;
  ectx->time_base = AVRational{1, 25};
  ectx->flags |= AV_CODEC_FLAG_QSCALE;
  ectx->global_quality = FF_QP2LAMBDA * 4;
  if (avcodec_open2(ectx, enc, nullptr) < 0) return fail("cannot open the thumbnail encoder");
  out->quality = ectx->global_quality;
  if (avcodec_send_frame(ectx, out) < 0) return fail("thumbnail encoding failed");
  (void)avcodec_send_frame(ectx, nullptr);
  av_packet_unref(pkt);
  if (avcodec_receive_packet(ectx, pkt) < 0) return fail("thumbnail encoding failed");
  t.bytes.assign(reinterpret_cast<const char*>(pkt->data), pkt->size);
  t.type = alpha ? "image/png" : "image/jpeg";
  cleanup();
  return t;
}

}  // namespace collab::media
