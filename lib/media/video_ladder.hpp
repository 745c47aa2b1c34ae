// An ABR ladder for one live H.264 stream: the publisher's video is decoded once (libavcodec),
// scaled (libswscale) to each rung's height with the source's aspect, and encoded per rung with
// libx264 (fast preset, zerolatency, bitrate-capped). A rung makes an IDR exactly where the
// source has a keyframe and nowhere else on its own accord, so the rungs' segments can be cut at
// the same places as the source's. Output per rung: the parameter sets (Annex B) and Annex B
// access units with millisecond timestamps (no B-frames, so dts == pts).
// Blocking (milliseconds per frame): call from a worker thread; one object per stream, not
// shared between threads.
// Deliberately not here: threads, queues, audio (it passes through), packaging (lib/stream/ladder),
// codecs other than H.264.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.hpp"

namespace collab::media {

struct LadderRung {
  int height = 0;        // even; the width follows the source's aspect (rounded to even)
  int bitrate_kbps = 0;  // video only
};

struct LadderPacket {
  size_t rung = 0;  // index into the rungs given to Create
  bool key = false;
  int64_t pts_ms = 0;
  int64_t dts_ms = 0;
  std::string annexb;  // one access unit; a key one does not repeat the parameter sets
};

class VideoLadder {
 public:
  ~VideoLadder();
  VideoLadder(const VideoLadder&) = delete;
  VideoLadder& operator=(const VideoLadder&) = delete;

  static base::Result<std::unique_ptr<VideoLadder>> Create(std::vector<LadderRung> rungs);

  // The source's decoder configuration: an avcC record (frames are then length-prefixed NAL
  // units, as RTMP carries them) or empty for Annex B with in-band parameter sets. Changing it
  // flushes what the decoder holds into `out` and starts over (encoders too, on a size change).
  base::Status Configure(std::string_view extradata, std::vector<LadderPacket>& out);
  // One source access unit in decode order. A unit that does not decode is skipped (logged by
  // the caller through the error); the ladder goes on with the next one.
  base::Status Add(std::string_view access_unit, int64_t dts_ms, int64_t pts_ms, bool key,
                   std::vector<LadderPacket>& out);
  // End of a publisher session: drains the decoder and encoders into `out`; the next
  // Configure/Add starts new encoders (new parameter sets).
  void Flush(std::vector<LadderPacket>& out);

  size_t rung_count() const;
  // Parameter sets (SPS, PPS with start codes) of a rung's current encoder; empty before its
  // first frame or when the rung is skipped (not below the source's height).
  const std::string& parameter_sets(size_t rung) const;
  int width(size_t rung) const;
  int height(size_t rung) const;
  // Source frames that could not be decoded or encoded.
  uint64_t errors() const;

 private:
  struct Impl;
  explicit VideoLadder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace collab::media
