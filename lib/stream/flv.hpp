// FLV audio/video tag bodies as RTMP carries them, and the codec configuration records inside
// them: H.264 (AVCDecoderConfigurationRecord, NAL units with length prefixes) and AAC
// (AudioSpecificConfig, raw frames). Parsing only, bounded by the input.
// Deliberately not here: other codecs (VP6, Speex, MP3...), Enhanced RTMP (HEVC/AV1 fourccs),
// decoding, Annex B conversion (fMP4 takes the length-prefixed NAL units as they are).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lib/base/result.hpp"

namespace collab::stream {

struct FlvVideo {
  enum class Kind { kConfig, kFrame, kEndOfSequence } kind = Kind::kFrame;
  bool keyframe = false;
  int32_t composition_ms = 0;  // pts - dts
  std::string_view data;       // avcC for kConfig, length-prefixed NAL units for kFrame
};

struct FlvAudio {
  enum class Kind { kConfig, kFrame } kind = Kind::kFrame;
  std::string_view data;  // AudioSpecificConfig for kConfig, one raw AAC frame for kFrame
};

// Errors (kExitDataErr) for truncated tags and unsupported codecs (the message names the codec).
base::Result<FlvVideo> ParseFlvVideo(std::string_view payload);
base::Result<FlvAudio> ParseFlvAudio(std::string_view payload);

struct AvcConfig {
  std::string record;  // the avcC box body as received
  uint8_t profile = 0, compatibility = 0, level = 0;
  int nal_length_size = 4;
  int width = 0, height = 0;  // from the first SPS; 0 when it could not be read
  std::string Codec() const;  // "avc1.64001f"
};
base::Result<AvcConfig> ParseAvcConfig(std::string_view record);

struct AacConfig {
  std::string record;  // AudioSpecificConfig as received
  int object_type = 0;
  int sample_rate = 0;
  int channels = 0;
  std::string Codec() const;  // "mp4a.40.2"
};
base::Result<AacConfig> ParseAacConfig(std::string_view asc);

}  // namespace collab::stream
