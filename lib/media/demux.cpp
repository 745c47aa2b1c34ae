#include "lib/media/demux.hpp"

extern "C" {
#include <libavformat/avformat.h>
#include <libavutil/mathematics.h>
}

#include <mutex>

#include "lib/base/exit_codes.hpp"

namespace collab::media {

struct Demuxer::Impl {
  AVFormatContext* ic = nullptr;
  AVPacket* pkt = nullptr;
  std::function<bool()> interrupted;
};

Demuxer::Demuxer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Demuxer::~Demuxer() {
  av_packet_free(&impl_->pkt);
  avformat_close_input(&impl_->ic);
}

base::Result<std::unique_ptr<Demuxer>> Demuxer::Open(const std::string& url, const std::string& format,
                                                     const std::vector<std::pair<std::string, std::string>>& options,
                                                     std::function<bool()> interrupted) {
  static std::once_flag network_once;
  std::call_once(network_once, [] { avformat_network_init(); });
  auto impl = std::make_unique<Impl>();
  impl->interrupted = std::move(interrupted);
  impl->ic = avformat_alloc_context();
  impl->pkt = av_packet_alloc();
  if (!impl->ic || !impl->pkt) {
    av_packet_free(&impl->pkt);
    avformat_free_context(impl->ic);
    return base::MakeError(base::kExitOsErr, "out of memory");
  }
  Impl* raw = impl.get();
  impl->ic->interrupt_callback.callback = [](void* o) {
    auto* d = static_cast<Impl*>(o);
    return d->interrupted && d->interrupted() ? 1 : 0;
  };
  impl->ic->interrupt_callback.opaque = raw;
  AVDictionary* opts = nullptr;
  for (const auto& [k, v] : options) av_dict_set(&opts, k.c_str(), v.c_str(), 0);
  const AVInputFormat* fmt = format.empty() ? nullptr : av_find_input_format(format.c_str());
  // avformat_open_input frees the context itself when it fails.
  int rc = avformat_open_input(&impl->ic, url.c_str(), fmt, &opts);
  av_dict_free(&opts);
  if (rc < 0) {
    av_packet_free(&impl->pkt);
    char err[128];
    av_strerror(rc, err, sizeof err);
    return base::MakeError(base::kExitUnavailable, err);
  }
  return std::unique_ptr<Demuxer>(new Demuxer(std::move(impl)));
}

bool Demuxer::Read(Packet* out) {
  Impl& d = *impl_;
  av_packet_unref(d.pkt);
  if (av_read_frame(d.ic, d.pkt) < 0) return false;
  const AVStream* st = d.ic->streams[d.pkt->stream_index];
  AVCodecID codec = st->codecpar->codec_id;
  out->codec = codec == AV_CODEC_ID_H264 ? Packet::Codec::kH264
               : codec == AV_CODEC_ID_AAC ? Packet::Codec::kAac
                                          : Packet::Codec::kOther;
  int64_t dts = d.pkt->dts != AV_NOPTS_VALUE ? d.pkt->dts : d.pkt->pts;
  int64_t pts = d.pkt->pts != AV_NOPTS_VALUE ? d.pkt->pts : dts;
  out->has_time = dts != AV_NOPTS_VALUE;
  out->dts_ms = out->has_time ? av_rescale_q(dts, st->time_base, AVRational{1, 1000}) : 0;
  out->cts_ms = out->has_time ? static_cast<int32_t>(av_rescale_q(pts - dts, st->time_base, AVRational{1, 1000})) : 0;
  out->key = (d.pkt->flags & AV_PKT_FLAG_KEY) != 0;
  out->data.assign(reinterpret_cast<const char*>(d.pkt->data), d.pkt->size > 0 ? static_cast<size_t>(d.pkt->size) : 0);
  return true;
}

}  // namespace collab::media
