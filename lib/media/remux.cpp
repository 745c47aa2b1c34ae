#include "lib/media/remux.hpp"

extern "C" {
#include <libavformat/avformat.h>
#include <libavutil/mathematics.h>
}

#include <mutex>
#include <vector>

#include "lib/base/exit_codes.hpp"
#include "lib/media/av_util.hpp"

namespace collab::media {

namespace {

const auto& AvError = av::ErrorText;

struct Contexts {
  AVFormatContext* in = nullptr;
  AVFormatContext* out = nullptr;
  AVPacket* pkt = nullptr;
  ~Contexts() {
    av_packet_free(&pkt);
    avformat_close_input(&in);
    if (out) {
      if (out->pb) avio_closep(&out->pb);
      avformat_free_context(out);
    }
  }
};

}  // namespace

base::Status RemuxToMp4(const std::string& input, const std::string& output) {
  // The hls demuxer logs every file it opens at info level: thousands of lines for a long
  // recording in a daemon's log. Raised once, and only from FFmpeg's default.
  static std::once_flag quiet;
  std::call_once(quiet, [] {
    if (av_log_get_level() == AV_LOG_INFO) av_log_set_level(AV_LOG_WARNING);
  });
  Contexts c;
  AVDictionary* in_opts = nullptr;
  // Our recordings name their files init<N>.mp4 and seg<N>.m4s; the hls demuxer checks those
  // extensions against a list, and only local files may be opened from a playlist.
  av_dict_set(&in_opts, "allowed_extensions", "ALL", 0);
  av_dict_set(&in_opts, "protocol_whitelist", "file", 0);
  const AVInputFormat* fmt = nullptr;
  if (input.size() > 5 && input.compare(input.size() - 5, 5, ".m3u8") == 0) fmt = av_find_input_format("hls");
  int rc = avformat_open_input(&c.in, input.c_str(), fmt, &in_opts);
  av_dict_free(&in_opts);
  if (rc < 0) return base::MakeError(base::kExitNoInput, input + ": " + AvError(rc));
  rc = avformat_find_stream_info(c.in, nullptr);
  if (rc < 0) return base::MakeError(base::kExitNoInput, input + ": " + AvError(rc));

  rc = avformat_alloc_output_context2(&c.out, nullptr, "mp4", output.c_str());
  if (rc < 0 || !c.out) return base::MakeError(base::kExitSoftware, "mp4 muxer: " + AvError(rc));
  std::vector<int> map(c.in->nb_streams, -1);
  for (unsigned i = 0; i < c.in->nb_streams; ++i) {
    const AVCodecParameters* par = c.in->streams[i]->codecpar;
    if (par->codec_type != AVMEDIA_TYPE_VIDEO && par->codec_type != AVMEDIA_TYPE_AUDIO) continue;
    AVStream* os = avformat_new_stream(c.out, nullptr);
    if (!os) return base::MakeError(base::kExitOsErr, "out of memory");
    rc = avcodec_parameters_copy(os->codecpar, par);
    if (rc < 0) return base::MakeError(base::kExitSoftware, "copying codec parameters: " + AvError(rc));
    os->codecpar->codec_tag = 0;  // the tag of the input container may not be valid in MP4
    os->time_base = c.in->streams[i]->time_base;
    map[i] = os->index;
  }
  if (c.out->nb_streams == 0) return base::MakeError(base::kExitDataErr, input + ": no audio or video");
  rc = avio_open(&c.out->pb, output.c_str(), AVIO_FLAG_WRITE);
  if (rc < 0) return base::MakeError(base::kExitIoErr, output + ": " + AvError(rc));
  AVDictionary* out_opts = nullptr;
  av_dict_set(&out_opts, "movflags", "+faststart", 0);
  rc = avformat_write_header(c.out, &out_opts);
  av_dict_free(&out_opts);
  if (rc < 0) return base::MakeError(base::kExitIoErr, output + ": " + AvError(rc));

  // Live timestamps go on from where the stream began; a download starts at zero. One offset
  // for all streams (in microseconds) keeps audio and video in step.
  c.pkt = av_packet_alloc();
  if (!c.pkt) return base::MakeError(base::kExitOsErr, "out of memory");
  int64_t offset_us = AV_NOPTS_VALUE;
  while (true) {
    rc = av_read_frame(c.in, c.pkt);
    if (rc == AVERROR_EOF) break;
    if (rc < 0) return base::MakeError(base::kExitNoInput, input + ": " + AvError(rc));
    unsigned si = static_cast<unsigned>(c.pkt->stream_index);
    if (si >= map.size() || map[si] < 0 || c.pkt->dts == AV_NOPTS_VALUE) {
      av_packet_unref(c.pkt);
      continue;
    }
    AVRational in_tb = c.in->streams[si]->time_base;
    if (offset_us == AV_NOPTS_VALUE) offset_us = av_rescale_q(c.pkt->dts, in_tb, AVRational{1, 1000000});
    int64_t off = av_rescale_q(offset_us, AVRational{1, 1000000}, in_tb);
    c.pkt->dts -= off;
    if (c.pkt->pts != AV_NOPTS_VALUE) c.pkt->pts -= off;
    if (c.pkt->dts < 0) {
      // A stream that began a little before the first packet read: drop, never go negative.
      av_packet_unref(c.pkt);
      continue;
    }
    AVStream* os = c.out->streams[map[si]];
    av_packet_rescale_ts(c.pkt, in_tb, os->time_base);
    c.pkt->stream_index = map[si];
    c.pkt->pos = -1;
    rc = av_interleaved_write_frame(c.out, c.pkt);  // takes the packet's reference
    if (rc < 0) return base::MakeError(base::kExitIoErr, output + ": " + AvError(rc));
  }
  rc = av_write_trailer(c.out);
  if (rc < 0) return base::MakeError(base::kExitIoErr, output + ": " + AvError(rc));
  rc = avio_closep(&c.out->pb);
  if (rc < 0) return base::MakeError(base::kExitIoErr, output + ": " + AvError(rc));
  return base::Ok();
}

}  // namespace collab::media
