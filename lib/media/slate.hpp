// The pictures and sound collab-stream shows while a publisher is away: decode the last H.264
// keyframe, dim it so viewers see the stream is paused, and encode one short closed GOP of that
// still picture (libx264, tiny P-frames) plus one frame of silent AAC. The caller loops these
// encoded frames with new timestamps, so the expensive work happens once per drop, not per frame.
// Blocking (decoding and encoding take milliseconds to a few hundred): call from a worker thread.
// Deliberately not here: timing, looping, packaging (lib/stream/slate), other codecs than H.264/AAC.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.hpp"

namespace collab::media {

struct SlateRequest {
  // The H.264 decoder configuration: an avcC record (then `keyframe` is length-prefixed NAL
  // units, as RTMP/MP4 carry them), or empty when `keyframe` is Annex B with its parameter sets.
  std::string extradata;
  std::string keyframe;       // the last keyframe; empty or undecodable: a dark frame instead
  int width = 0, height = 0;  // size of the dark frame (0: 640x360); ignored when the keyframe decodes
  bool video = true;          // false: audio only
  int frame_us = 111000;      // frame duration in microseconds
  int gop_frames = 18;        // frames in the GOP; the first is an IDR, the rest P-frames
  int audio_sample_rate = 0;  // 0: no audio
  int audio_channels = 2;
  double dim = 0.35;  // share of brightness above black kept: clearly paused, still recognizable
};

struct SlateMedia {
  bool from_keyframe = false;  // false when a dark frame was used
  int width = 0, height = 0;
  // H.264 in Annex B: the parameter sets (SPS and PPS with start codes), then gop_frames access
  // units without parameter sets (no B-frames, so decode order is presentation order); the
  // first one is an IDR. Empty when the request asked for no video.
  std::string video_headers;
  std::vector<std::string> video_frames;
  std::string audio_config;  // AudioSpecificConfig
  std::string audio_frame;   // one raw AAC frame (1024 samples) of silence, to be repeated
};

base::Result<SlateMedia> MakeSlate(const SlateRequest& request);

// What a decoder makes of H.264 access units (same extradata rules as SlateRequest): frames
// decoded, their size and the mean luma (0..255) of the last one. For checks and tests.
struct DecodedInfo {
  int frames = 0;
  int width = 0, height = 0;
  double mean_luma = 0;
};
base::Result<DecodedInfo> DecodeH264(std::string_view extradata, const std::vector<std::string>& access_units);

}  // namespace collab::media
