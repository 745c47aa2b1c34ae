// Opus -> AAC (lib/media/audio_transcode.hpp), as WHIP ingest uses it: a sine is encoded with
// libopus (through libavcodec), transcoded, and the AAC decoded again with libavcodec to check
// duration, timestamps and level. Lives with the stream tests because WHIP is its user.
#include <catch2/catch.hpp>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
}

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "lib/media/audio_transcode.hpp"

using collab::media::AacFrame;
using collab::media::OpusToAac;

namespace {

constexpr int kRate = 48000;
constexpr int kOpusFrame = 960;  // 20 ms, what browsers send
constexpr double kFreq = 1000.0;
constexpr double kAmp = 0.5;

// n packets of a 1 kHz stereo sine, encoded by libopus.
std::vector<std::string> OpusSine(int packets) {
  const AVCodec* c = avcodec_find_encoder_by_name("libopus");
  REQUIRE(c != nullptr);
  AVCodecContext* enc = avcodec_alloc_context3(c);
  enc->sample_rate = kRate;
  enc->sample_fmt = AV_SAMPLE_FMT_FLT;
  av_channel_layout_default(&enc->ch_layout, 2);
  enc->bit_rate = 96000;
  REQUIRE(avcodec_open2(enc, c, nullptr) == 0);
  REQUIRE(enc->frame_size == kOpusFrame);
  AVFrame* f = av_frame_alloc();
  f->format = AV_SAMPLE_FMT_FLT;
  f->nb_samples = kOpusFrame;
  f->sample_rate = kRate;
  av_channel_layout_default(&f->ch_layout, 2);
  REQUIRE(av_frame_get_buffer(f, 0) == 0);
  AVPacket* p = av_packet_alloc();
  std::vector<std::string> out;
  int64_t t = 0;
  auto drain = [&] {
    while (avcodec_receive_packet(enc, p) == 0) {
      out.emplace_back(reinterpret_cast<const char*>(p->data), p->size);
      av_packet_unref(p);
    }
  };
  for (int i = 0; i < packets; ++i) {
    REQUIRE(av_frame_make_writable(f) == 0);
    auto* s = reinterpret_cast<float*>(f->data[0]);
    for (int k = 0; k < kOpusFrame; ++k, ++t) {
      float v = static_cast<float>(kAmp * std::sin(2 * M_PI * kFreq * static_cast<double>(t) / kRate));
      s[2 * k] = v;
      s[2 * k + 1] = v;
    }
    f->pts = i * kOpusFrame;
    REQUIRE(avcodec_send_frame(enc, f) == 0);
    drain();
  }
  avcodec_send_frame(enc, nullptr);
  drain();
  av_packet_free(&p);
  av_frame_free(&f);
  avcodec_free_context(&enc);
  return out;
}

struct Decoded {
  std::vector<float> left;
  int channels = 0;
  int sample_rate = 0;
};

Decoded DecodeAac(const std::string& asc, const std::vector<AacFrame>& frames) {
  const AVCodec* c = avcodec_find_decoder(AV_CODEC_ID_AAC);
  REQUIRE(c != nullptr);
  AVCodecContext* dec = avcodec_alloc_context3(c);
  dec->extradata = static_cast<uint8_t*>(av_mallocz(asc.size() + AV_INPUT_BUFFER_PADDING_SIZE));
  std::memcpy(dec->extradata, asc.data(), asc.size());
  dec->extradata_size = static_cast<int>(asc.size());
  REQUIRE(avcodec_open2(dec, c, nullptr) == 0);
  AVPacket* p = av_packet_alloc();
  AVFrame* f = av_frame_alloc();
  Decoded d;
  for (const auto& fr : frames) {
    REQUIRE(av_new_packet(p, static_cast<int>(fr.data.size())) == 0);
    std::memcpy(p->data, fr.data.data(), fr.data.size());
    REQUIRE(avcodec_send_packet(dec, p) == 0);
    av_packet_unref(p);
    while (avcodec_receive_frame(dec, f) == 0) {
      REQUIRE(f->format == AV_SAMPLE_FMT_FLTP);
      d.channels = f->ch_layout.nb_channels;
      d.sample_rate = f->sample_rate;
      auto* l = reinterpret_cast<const float*>(f->data[0]);
      d.left.insert(d.left.end(), l, l + f->nb_samples);
      av_frame_unref(f);
    }
  }
  av_frame_free(&f);
  av_packet_free(&p);
  avcodec_free_context(&dec);
  return d;
}

double Rms(const std::vector<float>& s, size_t from, size_t to) {
  double sum = 0;
  for (size_t i = from; i < to; ++i) sum += static_cast<double>(s[i]) * s[i];
  return std::sqrt(sum / static_cast<double>(to - from));
}

}  // namespace

TEST_CASE("opus to aac: a sine keeps its duration, level and pitch") {
  auto opus = OpusSine(100);  // 2 s
  REQUIRE(opus.size() >= 100);
  auto t = OpusToAac::Create();
  REQUIRE(t.ok());
  const std::string asc = (*t)->audio_specific_config();
  REQUIRE(asc.size() >= 2);
  CHECK((static_cast<uint8_t>(asc[0]) >> 3) == 2);  // AAC-LC
  std::vector<AacFrame> frames;
  const int64_t base = 123456;  // any timeline, e.g. an RTP timestamp
  for (size_t i = 0; i < opus.size(); ++i) {
    auto st = (*t)->Push({reinterpret_cast<const uint8_t*>(opus[i].data()), opus[i].size()},
                         base + static_cast<int64_t>(i) * kOpusFrame, frames);
    REQUIRE(st.ok());
  }
  (*t)->Flush(frames);
  int64_t input = static_cast<int64_t>(opus.size()) * kOpusFrame;
  // Every input sample is in some frame; the encoder adds at most its priming and padding.
  CHECK(static_cast<int64_t>(frames.size()) * 1024 >= input);
  CHECK(static_cast<int64_t>(frames.size()) * 1024 <= input + 3 * 1024);
  // Timestamps step by one frame and start within the encoder's delay of the input.
  REQUIRE(frames.size() > 2);
  CHECK(std::llabs(frames.front().pts - base) <= 2048);
  for (size_t i = 1; i < frames.size(); ++i) CHECK(frames[i].pts - frames[i - 1].pts == 1024);

  Decoded d = DecodeAac(asc, frames);
  CHECK(d.sample_rate == 48000);
  CHECK(d.channels == 2);
  REQUIRE(d.left.size() >= static_cast<size_t>(input));
  // Level in the middle (away from codec start-up): RMS of a sine is amplitude / sqrt(2).
  double rms = Rms(d.left, 24000, 72000);
  CHECK(rms == Approx(kAmp / std::sqrt(2.0)).epsilon(0.15));
  // Pitch: a 1 kHz sine crosses zero upwards 1000 times a second.
  int ups = 0;
  for (size_t i = 24001; i < 72000; ++i) ups += d.left[i - 1] < 0 && d.left[i] >= 0;
  CHECK(ups >= 990);
  CHECK(ups <= 1010);
}

TEST_CASE("opus to aac: lost packets become silence, so later audio keeps its time") {
  auto opus = OpusSine(50);
  auto t = OpusToAac::Create(collab::media::OpusToAacOptions{1, 64000});
  REQUIRE(t.ok());
  std::vector<AacFrame> frames;
  for (size_t i = 0; i < opus.size(); ++i) {
    if (i >= 20 && i < 30) continue;  // 200 ms lost
    REQUIRE((*t)->Push({reinterpret_cast<const uint8_t*>(opus[i].data()), opus[i].size()},
                       static_cast<int64_t>(i) * kOpusFrame, frames)
                .ok());
  }
  // Late and repeated packets are ignored.
  REQUIRE((*t)->Push({reinterpret_cast<const uint8_t*>(opus[5].data()), opus[5].size()}, 5 * kOpusFrame, frames).ok());
  (*t)->Flush(frames);
  CHECK(static_cast<int64_t>(frames.size()) * 1024 >= 50 * kOpusFrame);
  CHECK(static_cast<int64_t>(frames.size()) * 1024 <= 50 * kOpusFrame + 3 * 1024);
  Decoded d = DecodeAac((*t)->audio_specific_config(), frames);
  CHECK(d.channels == 1);
  REQUIRE(d.left.size() >= 50u * kOpusFrame);
  // The gap (20..30 packets, shifted by the codec delay of at most ~2 frames) is quiet, the
  // audio after it is not.
  CHECK(Rms(d.left, 22 * kOpusFrame + 2048, 30 * kOpusFrame) < 0.05);
  CHECK(Rms(d.left, 34 * kOpusFrame, 46 * kOpusFrame) > 0.25);
}

TEST_CASE("opus to aac: garbage is refused and the transcoder goes on") {
  auto t = OpusToAac::Create();
  REQUIRE(t.ok());
  std::vector<AacFrame> frames;
  const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x13, 0x37};
  (void)(*t)->Push(junk, 0, frames);
  auto opus = OpusSine(10);
  for (size_t i = 0; i < opus.size(); ++i)
    (void)(*t)->Push({reinterpret_cast<const uint8_t*>(opus[i].data()), opus[i].size()},
                     static_cast<int64_t>(i + 1) * kOpusFrame, frames);
  (*t)->Flush(frames);
  CHECK(frames.size() >= 9);
  CHECK_FALSE(OpusToAac::Create(collab::media::OpusToAacOptions{3}).ok());
}
