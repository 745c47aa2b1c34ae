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

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

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

// Gives a decoder its out-of-band parameters (a copy with the zeroed padding FFmpeg reads past
// the end). False when out of memory; nothing to do for empty `data`.
bool SetExtradata(AVCodecContext* c, std::string_view data);

// libx264 the way lib/media encodes live video: preset veryfast, tune zerolatency, no B-frames,
// one thread (one worker per stream already), no scene cuts (keyframes only where the caller
// forces them or at the GOP size) and the parameter sets out of band, for the init segment's
// avcC. `setup` sets the size, time base, rates and GOP; `options` adds encoder options (crf,
// forced-idr). `parameter_sets` receives the SPS/PPS the encoder made.
base::Result<CodecCtx> OpenX264(const std::function<void(AVCodecContext*)>& setup,
                                std::initializer_list<std::pair<const char*, const char*>> options,
                                std::string* parameter_sets);

}  // namespace collab::media::av
