// The ABR ladder of one live stream: extra renditions made from the publisher's H.264 at lower
// heights and bitrates (lib/media/video_ladder), each with its own LL-HLS packager fed with the
// rung's video and the source's AAC unchanged. Decoding and encoding run on one worker thread per
// stream behind a bounded queue: when the encoder falls behind, source video is dropped up to the
// next keyframe (and logged) rather than ever blocking the loop. Results come back through a
// uv_async and are packaged on the loop thread, so packagers stay single-threaded.
// Rungs follow the publisher only: they pause while the slate is shown, and are not recorded.
// Deliberately not here: HTTP, multivariant playlists (the service renders them from rung()),
// audio transcoding, the source's own packager.
#pragma once

#include <uv.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lib/base/result.hpp"
#include "lib/stream/flv.hpp"
#include "lib/stream/packager.hpp"

namespace collab::stream {

struct LadderRungSpec {
  int height = 0;
  int bitrate_kbps = 0;
  std::string Name() const { return "r" + std::to_string(height); }  // the URL path segment
};

// Parses stream.ladder entries ("360p:800k", "1080p:4M": HEIGHTp:BITRATE with k or M, see
// config::ParseLadderEntry);
// kExitConfig naming the bad entry. Rungs come out highest first, heights unique.
base::Result<std::vector<LadderRungSpec>> ParseLadder(const std::vector<std::string>& entries);

class Ladder {
 public:
  // What the service shows about one rung (master playlist, stream list).
  struct Rung {
    LadderRungSpec spec;
    std::string name;  // "r360"
    std::unique_ptr<Packager> packager;
    // From the rung's own SPS once its first parameter sets were packaged.
    std::string codec;  // "avc1.64001e"; empty before
    int width = 0, height = 0;
  };

  // on_output runs on the loop after packagers were fed (the service wakes held requests).
  Ladder(uv_loop_t* loop, std::string stream_name, std::vector<LadderRungSpec> rungs, const PackagerOptions& options,
         std::function<void()> on_output);
  ~Ladder();
  Ladder(const Ladder&) = delete;
  Ladder& operator=(const Ladder&) = delete;

  // Publisher media and sessions, in the order the publisher's packager sees them. Never block.
  void BeginSession();
  void EndSession();
  void Video(uint32_t ts_ms, const FlvVideo& video);
  void Audio(uint32_t ts_ms, const FlvAudio& audio);

  const std::vector<std::unique_ptr<Rung>>& rungs() const { return rungs_; }
  Rung* Find(const std::string& name);
  uint64_t parts_produced() const;
  uint64_t dropped_frames() const { return dropped_; }
  bool running() const { return worker_.joinable(); }

 private:
  struct Item {
    enum class Kind { kBegin, kEnd, kVideoConfig, kVideo, kAudio } kind = Kind::kVideo;
    int64_t ts_ms = 0;
    int32_t cts_ms = 0;
    bool key = false;
    bool audio_config = false;
    size_t rung = 0;  // output video only
    std::string data;
  };
  bool Push(Item item, bool droppable);
  void Run();
  void Drain();

  uv_loop_t* loop_;
  std::string name_;
  std::vector<LadderRungSpec> specs_;
  std::vector<std::unique_ptr<Rung>> rungs_;
  std::function<void()> on_output_;
  uv_async_t* async_ = nullptr;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> in_;   // to the worker
  std::deque<Item> out_;  // back to the loop
  size_t queued_video_ = 0;
  size_t queued_bytes_ = 0;
  bool stop_ = false;
  std::thread worker_;

  // Loop thread only.
  bool skip_to_key_ = false;
  uint64_t dropped_ = 0;
};

}  // namespace collab::stream
