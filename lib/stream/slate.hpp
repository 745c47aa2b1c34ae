// The slate of one stream: while its publisher is away, the playlist keeps moving with the last
// picture (dimmed) and silence, in real time, so players keep playing instead of stalling until
// the publisher returns. It remembers the publisher's codec setup and last keyframe as media
// passes; when the publisher leaves, lib/media encodes one short closed GOP of the still picture
// on a libuv worker, and the service timer then loops those frames into the packager with new
// timestamps, as a session of its own (discontinuity and a new EXT-X-MAP before and after it).
// Deliberately not here: FFmpeg (lib/media/slate), timers and HTTP (the service), recording.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lib/base/result.hpp"
#include "lib/stream/flv.hpp"

namespace collab::media {
struct SlateMedia;
}

namespace collab::stream {

class Packager;

struct SlateOptions {
  int64_t max_ms = 0;  // how long to show it; 0: until the stream is removed
};

// Frames of the encoded slate, in the packager's FLV shape, and the cadence to loop them at.
struct SlateLoop {
  std::string avcc;                 // empty: no video
  std::vector<std::string> frames;  // length-prefixed NAL units; frames[0] is the IDR
  std::string asc;                  // empty: no audio
  std::string aac_frame;
  int sample_rate = 0;
  int part_ms = 334;  // frames_per_part frames span exactly one part
  int frames_per_part = 3;
  bool from_keyframe = false;
};

// The frame cadence for a packager's part and segment targets: a GOP of whole parts that is at
// least one segment long, so every slate segment starts on the GOP's IDR.
struct SlateCadence {
  int frames_per_part = 1;
  int frame_us = 0;
  int gop_frames = 1;
};
SlateCadence CadenceFor(int part_target_ms, int segment_ms);

// Turns lib/media's Annex B output into the loop. Errors (kExitDataErr) when the parameter sets
// or frames are unusable.
base::Result<SlateLoop> MakeSlateLoop(const media::SlateMedia& media, const SlateCadence& cadence, int part_target_ms);

class Slate {
 public:
  explicit Slate(std::string stream_name);
  ~Slate();
  Slate(const Slate&) = delete;
  Slate& operator=(const Slate&) = delete;

  // Publisher media as it passes (cheap: keeps the configurations and a copy of the last keyframe).
  void ObserveVideo(const FlvVideo& v);
  void ObserveAudio(const FlvAudio& a);

  // The publisher left: prepares the slate for `packager` (on a worker of `loop`; inline when
  // loop is null) and starts showing it on the next Feed once ready.
  void Begin(uv_loop_t* loop, const Packager& packager, const SlateOptions& options, int64_t now_ms);
  // Starts showing an already made loop (what Begin does when the worker is done).
  void Show(SlateLoop loop, int64_t now_ms);
  // The publisher is back or the daemon drains (`why` says which, for the log): no more slate
  // frames; a slate session in the packager is ended (its last part is flushed).
  void Stop(Packager& packager, const char* why);

  // On the service timer: feeds the frames due by now_ms (monotonic). True when it fed anything
  // (the caller then wakes blocked requests).
  bool Feed(Packager& packager, int64_t now_ms);

  bool active() const { return loop_.has_value(); }
  bool preparing() const { return job_ != nullptr; }

 private:
  struct Job;
  void Prepared(base::Result<media::SlateMedia> media, int cadence_part_ms, int64_t now_ms);
  void Finish(Packager& packager, const char* why);

  std::string name_;
  // What the publisher sent last.
  std::string avcc_, keyframe_avcc_, keyframe_;
  int width_ = 0, height_ = 0;
  int sample_rate_ = 0, channels_ = 0;
  bool has_video_ = false, has_audio_ = false;

  SlateOptions options_;
  SlateCadence cadence_;
  Job* job_ = nullptr;
  std::optional<SlateLoop> loop_;
  bool in_packager_ = false;
  int64_t start_ms_ = 0, start_wall_ms_ = 0;
  int64_t next_video_ = 0, next_audio_ = 0;  // indexes of the next frames to feed
};

}  // namespace collab::stream
