// Small helpers shared by lib/media's FFmpeg wrappers (internal to lib/media: it includes FFmpeg
// headers, so nothing outside this folder may include it): owning pointers for codec contexts,
// frames, packets and scalers, and FFmpeg's error text.
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
}

#include <memory>
#include <string>

#include "lib/base/exit_codes.hpp"
#include "lib/base/result.hpp"

namespace collab::media::av {

struct CodecCtxDeleter {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameDeleter {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketDeleter {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsDeleter {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};
using CodecCtx = std::unique_ptr<AVCodecContext, CodecCtxDeleter>;
using Frame = std::unique_ptr<AVFrame, FrameDeleter>;
using Packet = std::unique_ptr<AVPacket, PacketDeleter>;
using Sws = std::unique_ptr<SwsContext, SwsDeleter>;

inline std::string ErrorText(int rc) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(rc, buf, sizeof buf);
  return buf;
}

inline base::Error DataError(const std::string& why) { return base::Error{base::kExitDataErr, why}; }

}  // namespace collab::media::av
