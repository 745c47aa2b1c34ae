#include "lib/media/audio_transcode.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
}

#include <algorithm>
#include <cstring>

#include "lib/base/exit_codes.hpp"
#include "lib/media/av_util.hpp"

namespace collab::media {

namespace {

const auto& AvError = av::ErrorText;

// Packets before this much silence is inserted at once are refused: bounds memory per gap.
constexpr int64_t kLateToleranceSamples = 480;

}  // namespace

struct OpusToAac::Impl {
  OpusToAacOptions options;
  AVCodecContext* dec = nullptr;
  AVCodecContext* enc = nullptr;
  AVAudioFifo* fifo = nullptr;
  AVFrame* decoded = nullptr;
  AVFrame* block = nullptr;
  AVPacket* pkt = nullptr;
  bool started = false;
  int64_t next_in = 0;     // pts the next input packet should have
  int64_t fifo_start = 0;  // pts of the first sample in the FIFO

  ~Impl() {
    avcodec_free_context(&dec);
    avcodec_free_context(&enc);
    if (fifo) av_audio_fifo_free(fifo);
    av_frame_free(&decoded);
    av_frame_free(&block);
    av_packet_free(&pkt);
  }

  void Drain(std::vector<AacFrame>& out) {
    while (avcodec_receive_packet(enc, pkt) == 0) {
      out.push_back({pkt->pts, std::string(reinterpret_cast<const char*>(pkt->data), pkt->size)});
      av_packet_unref(pkt);
    }
  }

  // Encodes whole 1024-sample blocks from the FIFO; with pad, also the rest padded with silence.
  void EncodeBlocks(std::vector<AacFrame>& out, bool pad) {
    while (av_audio_fifo_size(fifo) >= kFrameSamples || (pad && av_audio_fifo_size(fifo) > 0)) {
      if (av_frame_make_writable(block) < 0) return;
      int n = std::min(av_audio_fifo_size(fifo), kFrameSamples);
      av_audio_fifo_read(fifo, reinterpret_cast<void**>(block->data), n);
      for (int c = 0; c < options.channels && n < kFrameSamples; ++c)
        std::memset(block->data[c] + n * sizeof(float), 0, (kFrameSamples - n) * sizeof(float));
      block->pts = fifo_start;
      fifo_start += n;
      if (avcodec_send_frame(enc, block) < 0) return;
      Drain(out);
    }
  }

  void Silence(int64_t samples) {
    std::vector<float> zeros(4096, 0.0f);
    void* planes[2] = {zeros.data(), zeros.data()};
    while (samples > 0) {
      int n = static_cast<int>(std::min<int64_t>(samples, 4096));
      av_audio_fifo_write(fifo, planes, n);
      samples -= n;
    }
  }
};

base::Result<std::unique_ptr<OpusToAac>> OpusToAac::Create(const OpusToAacOptions& options) {
  if (options.channels != 1 && options.channels != 2)
    return base::MakeError(base::kExitUsage, "opus to aac: 1 or 2 channels");
  std::unique_ptr<OpusToAac> t(new OpusToAac());
  t->impl_ = std::make_unique<Impl>();
  Impl& m = *t->impl_;
  m.options = options;
  const AVCodec* dc = avcodec_find_decoder(AV_CODEC_ID_OPUS);
  const AVCodec* ec = avcodec_find_encoder_by_name("aac");
  if (!dc || !ec) return base::MakeError(base::kExitUnavailable, "libavcodec lacks the opus decoder or the aac encoder");
  m.dec = avcodec_alloc_context3(dc);
  m.enc = avcodec_alloc_context3(ec);
  m.decoded = av_frame_alloc();
  m.block = av_frame_alloc();
  m.pkt = av_packet_alloc();
  if (!m.dec || !m.enc || !m.decoded || !m.block || !m.pkt) return base::MakeError(base::kExitSoftware, "out of memory");

  // An OpusHead (RFC 7845 5.1) so the decoder outputs the channel count we encode.
  uint8_t head[19] = {'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, static_cast<uint8_t>(options.channels), 0, 0,
                      0x80, 0xBB, 0, 0, 0, 0, 0};
  m.dec->extradata = static_cast<uint8_t*>(av_mallocz(sizeof(head) + AV_INPUT_BUFFER_PADDING_SIZE));
  if (!m.dec->extradata) return base::MakeError(base::kExitSoftware, "out of memory");
  std::memcpy(m.dec->extradata, head, sizeof(head));
  m.dec->extradata_size = sizeof(head);
  m.dec->sample_rate = kSampleRate;
  av_channel_layout_default(&m.dec->ch_layout, options.channels);
  int err = avcodec_open2(m.dec, dc, nullptr);
  if (err < 0) return base::MakeError(base::kExitSoftware, "opus decoder: " + AvError(err));

  m.enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
  m.enc->sample_rate = kSampleRate;
  av_channel_layout_default(&m.enc->ch_layout, options.channels);
  m.enc->bit_rate = options.bitrate;
  m.enc->profile = FF_PROFILE_AAC_LOW;
  m.enc->time_base = AVRational{1, kSampleRate};
  m.enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  err = avcodec_open2(m.enc, ec, nullptr);
  if (err < 0) return base::MakeError(base::kExitSoftware, "aac encoder: " + AvError(err));
  if (m.enc->extradata_size < 2) return base::MakeError(base::kExitSoftware, "aac encoder gave no AudioSpecificConfig");
  t->asc_.assign(reinterpret_cast<const char*>(m.enc->extradata), m.enc->extradata_size);

  m.block->format = AV_SAMPLE_FMT_FLTP;
  m.block->nb_samples = kFrameSamples;
  m.block->sample_rate = kSampleRate;
  av_channel_layout_default(&m.block->ch_layout, options.channels);
  if (av_frame_get_buffer(m.block, 0) < 0) return base::MakeError(base::kExitSoftware, "out of memory");
  m.fifo = av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, options.channels, 4 * kFrameSamples);
  if (!m.fifo) return base::MakeError(base::kExitSoftware, "out of memory");
  return t;
}

OpusToAac::~OpusToAac() = default;

base::Status OpusToAac::Push(std::span<const uint8_t> opus, int64_t pts, std::vector<AacFrame>& out) {
  Impl& m = *impl_;
  if (opus.empty()) return base::Ok();
  if (!m.started) {
    m.started = true;
    m.next_in = pts;
    m.fifo_start = pts;
  }
  int64_t gap = pts - m.next_in;
  if (gap < -kLateToleranceSamples) return base::Ok();  // late or repeated: its time has passed
  if (gap > m.options.max_gap_samples) {
    // A new timeline (the sender restarted, or a long pause): finish the old one first.
    m.EncodeBlocks(out, true);
    m.fifo_start = pts;
  } else if (gap > 0) {
    m.Silence(gap);
  }
  m.next_in = pts;

  if (av_new_packet(m.pkt, static_cast<int>(opus.size())) < 0) return base::MakeError(base::kExitSoftware, "out of memory");
  std::memcpy(m.pkt->data, opus.data(), opus.size());
  int err = avcodec_send_packet(m.dec, m.pkt);
  av_packet_unref(m.pkt);
  if (err < 0) {
    ++decode_errors_;
    return base::MakeError(base::kExitDataErr, "opus: " + AvError(err));
  }
  while (avcodec_receive_frame(m.dec, m.decoded) == 0) {
    bool usable = m.decoded->format == AV_SAMPLE_FMT_FLTP && m.decoded->ch_layout.nb_channels == m.options.channels;
    if (usable) {
      av_audio_fifo_write(m.fifo, reinterpret_cast<void**>(m.decoded->extended_data), m.decoded->nb_samples);
      m.next_in += m.decoded->nb_samples;
    } else {
      ++decode_errors_;
    }
    av_frame_unref(m.decoded);
  }
  m.EncodeBlocks(out, false);
  return base::Ok();
}

void OpusToAac::Flush(std::vector<AacFrame>& out) {
  Impl& m = *impl_;
  m.EncodeBlocks(out, true);
  if (avcodec_send_frame(m.enc, nullptr) == 0) m.Drain(out);
}

}  // namespace collab::media
