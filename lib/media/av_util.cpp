// The shared FFmpeg set-up of lib/media (av_util.hpp).
#include "lib/media/av_util.hpp"

#include <cstring>

extern "C" {
#include <libavutil/dict.h>
#include <libavutil/mem.h>
}

namespace collab::media::av {

bool SetExtradata(AVCodecContext* c, std::string_view data) {
  if (data.empty()) return true;
  c->extradata = static_cast<uint8_t*>(av_mallocz(data.size() + AV_INPUT_BUFFER_PADDING_SIZE));
  if (!c->extradata) return false;
  std::memcpy(c->extradata, data.data(), data.size());
  c->extradata_size = static_cast<int>(data.size());
  return true;
}

base::Result<CodecCtx> OpenX264(const std::function<void(AVCodecContext*)>& setup,
                                std::initializer_list<std::pair<const char*, const char*>> options,
                                std::string* parameter_sets) {
  const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
  if (!codec) return DataError("no libx264 encoder");
  CodecCtx c(avcodec_alloc_context3(codec));
  if (!c) return DataError("out of memory");
  c->pix_fmt = AV_PIX_FMT_YUV420P;
  c->max_b_frames = 0;
  c->thread_count = 1;
  setup(c.get());
  c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  AVDictionary* opts = nullptr;
  av_dict_set(&opts, "preset", "veryfast", 0);
  av_dict_set(&opts, "tune", "zerolatency", 0);
  av_dict_set(&opts, "x264-params", "scenecut=0", 0);
  for (const auto& [key, value] : options) av_dict_set(&opts, key, value, 0);
  int rc = avcodec_open2(c.get(), codec, &opts);
  av_dict_free(&opts);
  if (rc < 0) return DataError("cannot open libx264: " + ErrorText(rc));
  if (c->extradata_size <= 0) return DataError("libx264 gave no parameter sets");
  if (parameter_sets) parameter_sets->assign(reinterpret_cast<const char*>(c->extradata), c->extradata_size);
  return c;
}

}  // namespace collab::media::av
