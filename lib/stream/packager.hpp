// The LL-HLS packager of one live stream, in memory: takes the publisher's H.264/AAC (as FLV
// tag bodies with millisecond timestamps) and cuts CMAF parts (~part_ms) and segments (on
// keyframes, ~segment_ms), keeps a sliding window of segments, and renders the media playlist
// (parts, preload hint, program-date-time, server control for blocking reload and delta
// updates). Publisher sessions come and go: a new session continues the timeline (timestamps
// stay monotonic) after an EXT-X-DISCONTINUITY, with a new EXT-X-MAP when the codec setup changed.
// Pure logic with the clock passed in: the service holds blocked requests and serves the bytes.
// With a DVR window the playlist keeps more complete segments (parts only near the live edge).
// Deliberately not here: HTTP, sockets, timers, transcoding, recording (the recorder copies
// complete segments out), multivariant playlists.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.hpp"
#include "lib/stream/flv.hpp"
#include "lib/stream/fmp4.hpp"

namespace collab::stream {

struct PackagerOptions {
  int part_ms = 333;
  int segment_ms = 2000;
  int window_segments = 10;
  // DVR: complete segments are kept (and listed) until they are this much older than the live
  // edge, so a late viewer can seek back; never fewer than window_segments. 0: no DVR.
  int dvr_ms = 0;
  int64_t first_sequence = 0;  // media sequence number of the first segment, and first init generation
};

// The packager's bookkeeping; outside the class so std::optional of them works with every
// compiler (clang rejects optional members of nested types with default member initializers).
namespace detail {
// Bytes that never change again (a complete segment, or a part of the open one): in a sealed
// memfd mapped read-only when the kernel allows (so HTTP can sendfile(2) them), else a string.
class SegmentStore {
 public:
  static std::shared_ptr<const SegmentStore> Make(std::string data);
  ~SegmentStore();
  SegmentStore(const SegmentStore&) = delete;
  SegmentStore& operator=(const SegmentStore&) = delete;
  std::string_view bytes() const { return {data_, size_}; }
  int fd() const { return fd_; }  // -1 when the bytes are not in a file

 private:
  SegmentStore() = default;
  std::string fallback_;
  const char* data_ = nullptr;
  size_t size_ = 0;
  int fd_ = -1;
  void* map_ = nullptr;
};
struct PackagerPart {
  size_t offset = 0, size = 0;
  // While its segment is open: the part's own copy, so every viewer fetching it shares one
  // immutable buffer; dropped when the segment completes (the part is then a slice of it).
  std::shared_ptr<const SegmentStore> own;
  double duration_s = 0;
  bool independent = false;
};
struct PackagerSegment {
  int64_t msn = 0;
  std::string data;  // while the segment is open; a complete one keeps its bytes in `shared`
  std::shared_ptr<const SegmentStore> shared;
  std::vector<PackagerPart> parts;
  double duration_s = 0;
  bool complete = false;
  bool discontinuity = false;
  int64_t init_generation = 0;
  int64_t pdt_ms = 0;
};
struct PackagerVideoSample {
  int64_t dts = 0;  // 90 kHz
  int64_t duration = 0;
  int32_t cts = 0;
  bool key = false;
  std::string data;
};
struct PackagerAudioSample {
  int64_t dts = 0;  // sample rate
  std::string data;
};
}  // namespace detail

class Packager {
 public:
  explicit Packager(PackagerOptions options);

  // A publisher starts: the next segment after the previous session's media is marked as a
  // discontinuity, and timestamps continue where the previous session ended.
  void BeginSession();
  // Media from the publisher. Errors are problems in this message (log and go on); none of
  // them breaks the stream. ts_ms is the RTMP timestamp.
  base::Status AddVideo(uint32_t ts_ms, const FlvVideo& video, int64_t wall_ms);
  base::Status AddAudio(uint32_t ts_ms, const FlvAudio& audio, int64_t wall_ms);
  // The publisher went away: what is buffered becomes the last part and segment.
  void EndSession();

  // Parts made so far (the service uses changes of it to wake blocked requests).
  uint64_t parts_produced() const { return parts_produced_; }
  bool has_media() const { return parts_produced_ > 0; }
  // Target duration in whole seconds and the part target in milliseconds, as announced. The
  // part target is one millisecond over part_ms: RTMP timestamps are whole milliseconds, so ten
  // frames at 30 fps (333.3 ms) arrive as 333 or 334 ms, and a strict 333 would make every part
  // a frame shorter (and at 15 fps fall under the 85% minimum of the spec).
  int target_duration_s() const { return target_s_; }
  int part_target_ms() const { return options_.part_ms + 1; }
  const PackagerOptions& options() const { return options_; }
  // The media sequence number of the segment being built (the one after the last complete one).
  int64_t next_msn() const { return next_msn_; }
  int next_part() const { return open_ ? static_cast<int>(open_->parts.size()) : 0; }

  enum class Blocking { kReady, kWait, kTooFar };
  // Whether a playlist request with _HLS_msn=msn (and _HLS_part=part, or -1) can be answered.
  Blocking CheckBlocking(int64_t msn, int part) const;
  // Whether part (msn, part) will be the next one made, so a request for it may wait.
  bool IsNextPart(int64_t msn, int part) const;

  // The media playlist; skip asks for a delta update (honoured only when the window is long enough).
  std::string Playlist(bool skip) const;
  // nullopt when no such thing is in memory (any more).
  std::optional<std::string> Init(int64_t generation) const;
  std::optional<std::string> Segment(int64_t msn) const;
  std::optional<std::string> Part(int64_t msn, int part) const;
  // The same bytes without a copy, for serving: `owner` keeps `bytes` valid after the packager
  // has moved on (a complete segment is never changed, only dropped from the window). Parts of
  // the open segment have stores of their own until it completes. When fd >= 0, the same bytes
  // can be read from fd at fd_offset for as long as owner lives (sendfile).
  struct Bytes {
    std::shared_ptr<const void> owner;
    std::string_view bytes;
    int fd = -1;
    uint64_t fd_offset = 0;
  };
  std::optional<Bytes> SegmentBytes(int64_t msn) const;
  std::optional<Bytes> PartBytes(int64_t msn, int part) const;

  // Complete segments with msn >= from, oldest first, for the recorder (bytes shared, not copied).
  struct CompleteSegment {
    int64_t msn = 0;
    int64_t init_generation = 0;
    bool discontinuity = false;
    double duration_s = 0;
    int64_t pdt_ms = 0;
    std::shared_ptr<const std::string> bytes;
  };
  std::vector<CompleteSegment> CompleteSegmentsFrom(int64_t from) const;
  // Seconds of complete segments in memory (the DVR window).
  double window_duration_s() const { return window_duration_s_; }

 private:
  using PartInfo = detail::PackagerPart;
  using SegmentInfo = detail::PackagerSegment;
  using VideoSample = detail::PackagerVideoSample;
  using AudioSample = detail::PackagerAudioSample;

  bool Start(int64_t wall_ms);
  void StartWithBufferedVideo();
  void ReplayBufferedVideo();
  void AddVideoFrame(uint32_t ts_ms, int32_t composition_ms, bool keyframe, std::string_view data);
  void EmitVideo(VideoSample s);
  bool PartHasDriving() const { return video_track_ ? !part_video_.empty() : !part_audio_.empty(); }
  base::Status Restart();
  void EmitAudioDriving(AudioSample s);
  // Cut rules, driven by the video track (or the audio track of an audio-only stream).
  void BeforeDrivingSample(int64_t dts, int64_t duration, bool key, int64_t timescale);
  void ClosePart();
  void CloseSegment();
  void OpenSegmentIfNeeded(int64_t dts, int64_t timescale, bool independent);
  int64_t SessionTsMs(uint32_t ts_ms);
  double SkipUntilS() const { return 6.0 * target_s_; }
  bool CanSkip() const;

  PackagerOptions options_;
  int target_s_ = 2;

  // The current init segment and the previous ones still referenced by the window.
  std::map<int64_t, std::string> inits_;
  int64_t generation_ = -1;

  // Publisher session state.
  bool in_session_ = false;
  bool started_ = false;          // init made for this session
  bool discontinuity_next_ = false;
  std::optional<AvcConfig> avc_;
  std::optional<AacConfig> aac_;
  bool video_track_ = false, audio_track_ = false;
  std::optional<int64_t> ts_offset_ms_;  // added to RTMP timestamps in this session
  int64_t last_raw_ts_ms_ = 0;
  int64_t first_audio_ts_ms_ = -1;
  int64_t wall_anchor_ms_ = 0, ts_anchor_ms_ = 0;
  std::optional<VideoSample> held_video_;
  // Video received before the stream started, while waiting for an audio configuration.
  struct PrestartFrame {
    uint32_t ts_ms;
    int32_t composition_ms;
    bool keyframe;
    std::string data;
  };
  std::vector<PrestartFrame> prestart_video_;
  int64_t prestart_wall_ms_ = 0;
  int64_t last_video_duration_ = 3000;
  int64_t next_audio_dts_ = -1;  // kept across sessions so audio never steps back
  bool audio_resync_ = true;
  int64_t video_end_ = 0;         // end of the last video sample (90 kHz), across sessions
  int64_t timeline_end_ms_ = 0;  // end of all media so far, for the next session's offset

  // The part being assembled.
  std::vector<VideoSample> part_video_;
  std::vector<std::pair<AudioSample, int64_t>> part_audio_;  // sample and its duration
  int64_t part_start_ = 0, part_ticks_ = 0, part_timescale_ = kVideoTimescale;
  bool part_independent_ = false;

  std::deque<SegmentInfo> segments_;  // complete segments in the window
  double window_duration_s_ = 0;      // their total duration
  std::optional<SegmentInfo> open_;    // the segment being built
  int64_t seg_start_ = 0;
  int64_t seg_timescale_ = kVideoTimescale;
  int64_t next_msn_ = 0;
  int64_t discontinuity_sequence_ = 0;
  uint32_t fragment_sequence_ = 1;
  uint64_t parts_produced_ = 0;
};

}  // namespace collab::stream
