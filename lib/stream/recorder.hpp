// Recording of live streams to disk for on-demand playback: the complete segments the packager
// already made are written as they are (no re-encode) into <dir>/<stream>/<id>/ with an HLS
// playlist that is an EVENT playlist while recording (rewritten atomically after each segment,
// so a crash leaves a playable one) and a VOD playlist when done; a finished recording is also
// remuxed into one faststart MP4 for download. Disk work runs on one writer thread: the loop
// only queues jobs and reads the in-memory index of recordings. A failing disk stops that
// recording and is counted; it never touches the live stream.
// Deliberately not here: deciding which streams are recorded (the service does), HTTP serving,
// transcoding, and reading segments back (the files are served by the service).
#pragma once

#include <uv.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "lib/base/json.hpp"
#include "lib/base/result.hpp"

namespace collab::stream {

struct ParsedRecordingPlaylist;

// The playlist of one recording. Pure: the recorder renders it after every segment.
class RecordingPlaylist {
 public:
  struct Entry {
    std::string uri;      // seg<N>.m4s
    std::string map_uri;  // init<G>.mp4 this segment needs
    double duration_s = 0;
    bool discontinuity = false;
    int64_t pdt_ms = 0;
  };

  // target_s: the live stream's announced target duration; an EVENT playlist must keep its
  // target, so it is fixed at the start (raised only if a segment is longer after all).
  explicit RecordingPlaylist(int target_s = 2) : target_s_(target_s) {}

  void Add(Entry e);
  // ended: a VOD playlist with EXT-X-ENDLIST; otherwise an EVENT playlist that may grow.
  std::string Render(bool ended) const;

  size_t size() const { return entries_.size(); }
  double duration_s() const { return duration_s_; }
  const std::vector<Entry>& entries() const { return entries_; }

  // Reads back a playlist this class wrote (after a restart). Errors (kExitDataErr) for anything
  // that is not an HLS media playlist; unknown tags are ignored.
  static base::Result<ParsedRecordingPlaylist> Parse(std::string_view text);

 private:
  int target_s_;
  double duration_s_ = 0;
  std::vector<Entry> entries_;
};

struct ParsedRecordingPlaylist {
  RecordingPlaylist playlist;
  bool ended = false;  // it has EXT-X-ENDLIST
};

// Strict checks for names that become path components; nothing else reaches the filesystem.
bool ValidRecordingStream(std::string_view name);
bool ValidRecordingId(std::string_view id);
// The files of a recording that may be served: index.m3u8, recording.mp4, init<N>.mp4, seg<N>.m4s.
bool ValidRecordingFile(std::string_view file);
// "20261126T023628Z" for the given wall clock time (UTC, to the second).
std::string RecordingIdFor(int64_t wall_ms);
// Wall clock milliseconds of an id made by RecordingIdFor (a "-N" suffix is ignored); nullopt otherwise.
std::optional<int64_t> RecordingIdTime(std::string_view id);

inline constexpr const char* kRecordingMp4 = "recording.mp4";
inline constexpr const char* kRecordingPlaylist = "index.m3u8";

struct RecorderOptions {
  std::string dir;    // <record_dir>; stream directories are made below it
  int keep_days = 0;  // 0: keep forever
};

// One complete segment handed over by the service (bytes shared with the packager, not copied).
struct RecorderSegment {
  int64_t init_generation = 0;
  std::shared_ptr<const std::string> init;  // the init segment of that generation
  std::shared_ptr<const std::string> bytes;
  double duration_s = 0;
  bool discontinuity = false;
  int64_t pdt_ms = 0;
};

class Recorder {
 public:
  struct Counters {
    uint64_t started = 0, completed = 0, failed = 0, segments = 0, bytes = 0, write_errors = 0, deleted = 0;
  };

  // Starts the writer thread, which first scans `dir` for recordings of earlier runs and
  // finishes any that a crash left open (VOD playlist and MP4).
  static base::Result<std::unique_ptr<Recorder>> Create(uv_loop_t* loop, RecorderOptions options);
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  void SetKeepDays(int days) { options_.keep_days = days; }
  // From now on, stopped recordings get their VOD playlist but no MP4 until the next start's
  // scan makes it (a draining daemon must not wait for a long remux).
  void DeferRemux() { defer_remux_ = true; }
  const std::string& dir() const { return options_.dir; }

  // Begins a recording of `stream`; returns its id. The directory is made on the writer thread.
  std::string Start(const std::string& stream, int64_t wall_ms, int target_s);
  // Adds a segment to a running recording; ignored when it stopped (e.g. after a disk error).
  void AddSegment(const std::string& stream, const std::string& id, RecorderSegment seg);
  // Ends a recording: the VOD playlist, then the MP4 (both on the writer thread).
  void Stop(const std::string& stream, const std::string& id);
  bool IsRecording(const std::string& stream, const std::string& id) const;

  // The index: {"recordings": [...]}, newest first.
  base::Json List() const;
  // Whether a recording is known (for serving its files).
  bool Exists(const std::string& stream, const std::string& id) const;
  // Deletes complete recordings older than keep_days (no-op when 0); logs what it removes.
  void ApplyRetention(int64_t now_wall_ms);

  // Finishes the open recordings, waits for the writer to drain and stops it. After this the
  // recorder accepts nothing; call before the loop closes.
  void Shutdown();

  const Counters& counters() const { return counters_; }
  // Jobs queued and not yet done (for tests and the status verb).
  size_t pending_jobs() const;

  // Reads [offset, offset+length) of a recording file on a libuv worker (not the writer thread,
  // so downloads never hold up recording); `done` runs on the loop. length 0 reads to the end; a
  // negative offset means the last -offset bytes (a suffix range). Small slices are copied; large
  // ones (a whole MP4) are mapped read-only with read-ahead started, so a download of a long
  // recording costs no heap. Recording files are never changed in place (only replaced or
  // deleted), so a mapping stays valid while it is sent.
  struct FileSlice {
    int status = 0;  // 0 ok, else an errno
    uint64_t file_size = 0;
    uint64_t offset = 0;
    std::shared_ptr<const void> owner;  // keeps `data` valid
    std::string_view data;
  };
  void ReadFile(const std::string& stream, const std::string& id, const std::string& file, int64_t offset,
                uint64_t length, std::function<void(FileSlice)> done);

 private:
  struct Recording {
    std::string stream, id, dir;
    int64_t started_ms = 0;
    RecordingPlaylist playlist;
    uint64_t bytes = 0;
    enum class State { kRecording, kFinishing, kComplete } state = State::kRecording;
    bool has_mp4 = false;
    bool ended = false;     // the VOD playlist is on disk
    bool failed = false;    // a write failed: recording stopped there
    bool deleting = false;  // retention is removing it
    std::string error;
    int64_t last_generation = -1;
    std::string current_map;
    int next_init = 0;
    int64_t next_seg = 0;
    size_t confirmed = 0;  // segments known to be on disk
    double confirmed_duration_s = 0;
  };
  using Key = std::pair<std::string, std::string>;  // stream, id
  using Job = std::function<void()>;                // runs on the writer thread
  using Done = std::function<void()>;               // runs on the loop

  Recorder(uv_loop_t* loop, RecorderOptions options);
  void Post(Job job);
  void PostResult(Done done);  // from the writer thread
  void DrainResults();
  void WriterMain();
  void Fail(const Key& key, const std::string& what);
  void Finish(Recording& r, bool remux);
  void ScanOnWriter();

  uv_loop_t* loop_;
  RecorderOptions options_;
  std::map<Key, Recording> recordings_;
  Counters counters_;
  bool shut_down_ = false;
  bool scanned_ = false;
  bool defer_remux_ = false;
  std::set<Key> failed_keys_;      // writer thread only: recordings whose writes stopped
  std::map<Key, size_t> written_;  // writer thread only: segments of each recording on disk

  uv_async_t* async_ = nullptr;
  std::thread writer_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::deque<Done> results_;
  size_t in_flight_ = 0;
  bool stop_writer_ = false;
};

}  // namespace collab::stream
