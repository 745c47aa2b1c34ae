// Opus to AAC-LC for live ingest: WebRTC publishers (WHIP) send Opus, HLS players need AAC.
// Decodes Opus packets with libavcodec's decoder, re-blocks the 48 kHz PCM into AAC's 1024-sample
// frames and encodes them with libavcodec's AAC encoder, producing raw AAC frames plus the
// AudioSpecificConfig the packager takes as FLV AAC. Gaps in the input timeline (lost packets,
// DTX) are filled with silence so audio stays in step with the timestamps; a jump of more than
// a couple of seconds restarts the timeline instead.
// Deliberately not here: resampling (Opus is always 48 kHz), more than two channels, threads
// (the caller decides where it runs; a stereo stream costs well under 1% of a core), and
// jitter buffering (packets are expected in order; older ones are dropped).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lib/base/result.hpp"

namespace collab::media {

struct AacFrame {
  int64_t pts = 0;  // in 48 kHz samples, on the caller's input timeline
  std::string data;  // one raw AAC frame (no ADTS header)
};

struct OpusToAacOptions {
  int channels = 2;          // 1 or 2; Opus mono input is upmixed by the decoder
  int bitrate = 128000;      // AAC bits per second
  int64_t max_gap_samples = 2 * 48000;  // longer gaps restart the timeline
};

class OpusToAac {
 public:
  static constexpr int kSampleRate = 48000;
  static constexpr int kFrameSamples = 1024;

  [[nodiscard]] static base::Result<std::unique_ptr<OpusToAac>> Create(const OpusToAacOptions& options = {});
  ~OpusToAac();
  OpusToAac(const OpusToAac&) = delete;
  OpusToAac& operator=(const OpusToAac&) = delete;

  // The AudioSpecificConfig of the output (valid from creation on).
  const std::string& audio_specific_config() const { return asc_; }

  // One Opus packet whose first sample is at `pts` (48 kHz units, e.g. an unwrapped RTP
  // timestamp). Finished AAC frames are appended to out. Errors (kExitDataErr) for packets the
  // decoder refuses; the transcoder stays usable.
  base::Status Push(std::span<const uint8_t> opus, int64_t pts, std::vector<AacFrame>& out);
  // Encodes what is buffered (padded with silence) and drains the encoder; the transcoder is
  // finished afterwards (make a new one for a new stream).
  void Flush(std::vector<AacFrame>& out);

  uint64_t decode_errors() const { return decode_errors_; }

  struct Impl;

 private:
  OpusToAac() = default;
  std::unique_ptr<Impl> impl_;
  std::string asc_;
  uint64_t decode_errors_ = 0;
};

}  // namespace collab::media
