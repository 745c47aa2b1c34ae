// CMAF / fragmented MP4 writing for the LL-HLS packager: the init segment (ftyp + moov with an
// avc1/avcC video track and an mp4a/esds audio track) and media fragments (moof + mdat, one
// traf per track, default-base-is-moof, 64-bit tfdt, signed composition offsets).
// Deliberately not here: reading MP4, edit lists, encryption, codecs other than H.264 and AAC.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/stream/flv.hpp"

namespace collab::stream {

inline constexpr uint32_t kVideoTrackId = 1;
inline constexpr uint32_t kAudioTrackId = 2;
inline constexpr uint32_t kVideoTimescale = 90000;

// Either pointer may be null (audio-only or video-only streams), not both. The audio timescale
// is the sample rate.
std::string MakeInitSegment(const AvcConfig* video, const AacConfig* audio);

struct FragmentSample {
  uint32_t duration = 0;
  uint32_t size = 0;
  int32_t composition_offset = 0;
  bool keyframe = true;
};

struct TrackFragment {
  uint32_t track_id = 0;
  uint64_t base_decode_time = 0;
  std::vector<FragmentSample> samples;
  std::string data;  // the samples' bytes, back to back
};

// One moof + mdat. Tracks without samples are left out.
std::string MakeFragment(uint32_t sequence_number, const std::vector<TrackFragment>& tracks);

}  // namespace collab::stream
