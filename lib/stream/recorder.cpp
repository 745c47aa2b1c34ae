#include "lib/stream/recorder.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "lib/base/fs.hpp"
#include "lib/base/log.hpp"
#include "lib/base/time.hpp"
#include "lib/media/remux.hpp"

namespace collab::stream {

namespace fs = std::filesystem;
using base::Json;

namespace {

// Reads up to this size are copied; larger ones are memory-mapped.
constexpr uint64_t kMaxCopyBytes = 8ULL << 20;

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && s.size() <= 12 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "2026-11-25T17:49:44.123Z" (what base::FormatRfc3339 writes) to wall milliseconds.
std::optional<int64_t> ParseRfc3339(std::string_view s) {
  int y, mo, d, h, mi, sec, ms = 0;
  std::string text(s);
  size_t dot = text.find('.');
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6) return std::nullopt;
  if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 ||
      sec > 60)
    return std::nullopt;
  if (dot != std::string::npos && dot + 4 <= text.size() &&
      (std::sscanf(text.c_str() + dot + 1, "%3d", &ms) != 1 || ms < 0))
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  time_t t = timegm(&tm);
  if (t == static_cast<time_t>(-1)) return std::nullopt;
  return static_cast<int64_t>(t) * 1000 + ms;
}

std::string UriAttribute(std::string_view line) {
  size_t p = line.find("URI=\"");
  if (p == std::string_view::npos) return "";
  size_t e = line.find('"', p + 5);
  if (e == std::string_view::npos) return "";
  return std::string(line.substr(p + 5, e - p - 5));
}

uint64_t DirectoryBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    if (it->is_regular_file(ec2)) total += it->file_size(ec2);
  }
  return total;
}

}  // namespace

// ---- names

bool ValidRecordingStream(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

bool ValidRecordingId(std::string_view id) { return RecordingIdTime(id).has_value(); }

bool ValidRecordingFile(std::string_view f) {
  if (f == kRecordingPlaylist || f == kRecordingMp4) return true;
  if (f.size() > 8 && f.substr(0, 4) == "init" && f.substr(f.size() - 4) == ".mp4")
    return AllDigits(f.substr(4, f.size() - 8));
  if (f.size() > 7 && f.substr(0, 3) == "seg" && f.substr(f.size() - 4) == ".m4s")
    return AllDigits(f.substr(3, f.size() - 7));
  return false;
}

std::string RecordingIdFor(int64_t wall_ms) {
  time_t t = static_cast<time_t>(wall_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::optional<int64_t> RecordingIdTime(std::string_view id) {
  // YYYYMMDDTHHMMSSZ, optionally -N (a second recording of a stream within the same second).
  if (id.size() < 16 || id.size() > 20 || id[8] != 'T' || id[15] != 'Z') return std::nullopt;
  if (!AllDigits(id.substr(0, 8)) || !AllDigits(id.substr(9, 6))) return std::nullopt;
  if (id.size() > 16 && (id[16] != '-' || !AllDigits(id.substr(17)))) return std::nullopt;
  auto num = [&](size_t pos, size_t len) { return std::stoi(std::string(id.substr(pos, len))); };
  std::tm tm{};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(4, 2) - 1;
  tm.tm_mday = num(6, 2);
  tm.tm_hour = num(9, 2);
  tm.tm_min = num(11, 2);
  tm.tm_sec = num(13, 2);
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
    return std::nullopt;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

// ---- playlist

void RecordingPlaylist::Add(Entry e) {
  // EXTINF rounded to the nearest second must not exceed the target duration.
  target_s_ = std::max(target_s_, static_cast<int>(std::lround(e.duration_s)));
  duration_s_ += e.duration_s;
  entries_.push_back(std::move(e));
}

std::string RecordingPlaylist::Render(bool ended) const {
  std::string o = "#EXTM3U\n#EXT-X-VERSION:7\n";
  o += "#EXT-X-TARGETDURATION:" + std::to_string(std::max(target_s_, 1)) + "\n";
  o += std::string("#EXT-X-PLAYLIST-TYPE:") + (ended ? "VOD" : "EVENT") + "\n";
  o += "#EXT-X-MEDIA-SEQUENCE:0\n";
  std::string map;
  for (size_t i = 0; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    if (i > 0 && e.discontinuity) o += "#EXT-X-DISCONTINUITY\n";
    if (e.map_uri != map) {
      o += "#EXT-X-MAP:URI=\"" + e.map_uri + "\"\n";
      map = e.map_uri;
    }
    // Every segment carries its wall clock time: a player seeking into a recording can show it,
    // and it stays right across publisher gaps.
    o += "#EXT-X-PROGRAM-DATE-TIME:" + base::FormatRfc3339(e.pdt_ms) + "\n";
    o += "#EXTINF:" + Fixed(e.duration_s, 5) + ",\n" + e.uri + "\n";
  }
  if (ended) o += "#EXT-X-ENDLIST\n";
  return o;
}

base::Result<ParsedRecordingPlaylist> RecordingPlaylist::Parse(std::string_view text) {
  ParsedRecordingPlaylist out;
  auto bad = [](const std::string& why) { return base::MakeError(base::kExitDataErr, "recording playlist: " + why); };
  if (text.substr(0, 7) != "#EXTM3U") return bad("does not start with #EXTM3U");
  Entry pending;
  bool have_inf = false, have_target = false;
  std::string map;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line.substr(0, 22) == "#EXT-X-TARGETDURATION:") {
      std::string v(line.substr(22));
      if (!AllDigits(v) || v.size() > 6) return bad("bad target duration");
      out.playlist.target_s_ = std::stoi(v);
      have_target = true;
    } else if (line == "#EXT-X-DISCONTINUITY") {
      pending.discontinuity = true;
    } else if (line.substr(0, 11) == "#EXT-X-MAP:") {
      map = UriAttribute(line);
      if (!ValidRecordingFile(map) || map.rfind("init", 0) != 0) return bad("bad EXT-X-MAP URI");
    } else if (line.substr(0, 25) == "#EXT-X-PROGRAM-DATE-TIME:") {
      auto t = ParseRfc3339(line.substr(25));
      if (!t) return bad("bad program date time");
      pending.pdt_ms = *t;
    } else if (line.substr(0, 8) == "#EXTINF:") {
      std::string v(
          line.substr(8, line.find(',') == std::string_view::npos ? std::string_view::npos : line.find(',') - 8));
      char* end = nullptr;
      double d = std::strtod(v.c_str(), &end);
      if (v.empty() || end != v.c_str() + v.size() || !(d >= 0) || d > 86400) return bad("bad EXTINF duration");
      pending.duration_s = d;
      have_inf = true;
    } else if (line == "#EXT-X-ENDLIST") {
      out.ended = true;
    } else if (line[0] == '#') {
      continue;
    } else {
      if (!have_inf) return bad("segment URI without EXTINF");
      if (map.empty()) return bad("segment before EXT-X-MAP");
      pending.uri = std::string(line);
      if (!ValidRecordingFile(pending.uri) || pending.uri.rfind("seg", 0) != 0) return bad("bad segment URI");
      pending.map_uri = map;
      int target = out.playlist.target_s_;
      out.playlist.Add(std::move(pending));
      out.playlist.target_s_ = std::max(target, out.playlist.target_s_);
      pending = Entry();
      have_inf = false;
    }
  }
  if (!have_target) return bad("no EXT-X-TARGETDURATION");
  return out;
}

// ---- recorder

Recorder::Recorder(uv_loop_t* loop, RecorderOptions options) : loop_(loop), options_(std::move(options)) {}

base::Result<std::unique_ptr<Recorder>> Recorder::Create(uv_loop_t* loop, RecorderOptions options) {
  if (options.dir.empty()) return base::MakeError(base::kExitConfig, "recording directory is not set");
  std::unique_ptr<Recorder> r(new Recorder(loop, std::move(options)));
  r->async_ = new uv_async_t;
  int rc = uv_async_init(loop, r->async_, [](uv_async_t* a) { static_cast<Recorder*>(a->data)->DrainResults(); });
  if (rc != 0) {
    delete r->async_;
    r->async_ = nullptr;
    return base::MakeError(base::kExitOsErr, std::string("uv_async_init: ") + uv_strerror(rc));
  }
  r->async_->data = r.get();
  // The recorder must not keep a draining daemon's loop alive on its own.
  uv_unref(reinterpret_cast<uv_handle_t*>(r->async_));
  r->writer_ = std::thread([p = r.get()] { p->WriterMain(); });
  r->Post([p = r.get()] { p->ScanOnWriter(); });
  return r;
}

Recorder::~Recorder() { Shutdown(); }

void Recorder::Post(Job job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(std::move(job));
    ++in_flight_;
  }
  cv_.notify_one();
}

void Recorder::PostResult(Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    results_.push_back(std::move(done));
  }
  if (async_) uv_async_send(async_);
}

void Recorder::DrainResults() {
  std::deque<Done> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ready.swap(results_);
  }
  for (auto& d : ready) d();
}

size_t Recorder::pending_jobs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_;
}

void Recorder::WriterMain() {
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_writer_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stop requested and everything done
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
  }
}

std::string Recorder::Start(const std::string& stream, int64_t wall_ms, int target_s) {
  std::string id = RecordingIdFor(wall_ms);
  for (int n = 2; recordings_.count({stream, id}); ++n) id = RecordingIdFor(wall_ms) + "-" + std::to_string(n);
  Recording r;
  r.stream = stream;
  r.id = id;
  r.dir = options_.dir + "/" + stream + "/" + id;
  r.started_ms = wall_ms;
  r.playlist = RecordingPlaylist(target_s);
  Key key{stream, id};
  recordings_.emplace(key, std::move(r));
  ++counters_.started;
  LOG_NOTICE("stream '%s': recording %s started in %s", stream.c_str(), id.c_str(), recordings_[key].dir.c_str());
  if (shut_down_) {
    Fail(key, "the recorder is shut down");
    return id;
  }
  Post([this, key, dir = recordings_[key].dir] {
    if (failed_keys_.count(key)) return;
    base::Status st = base::MakeDirs(dir, 0755);
    if (!st.ok()) {
      failed_keys_.insert(key);
      PostResult([this, key, msg = st.error().message] { Fail(key, msg); });
    }
  });
  return id;
}

void Recorder::AddSegment(const std::string& stream, const std::string& id, RecorderSegment seg) {
  auto it = recordings_.find({stream, id});
  if (it == recordings_.end() || it->second.state != Recording::State::kRecording || !seg.bytes) return;
  Recording& r = it->second;
  std::vector<std::pair<std::string, std::shared_ptr<const std::string>>> files;
  if (seg.init_generation != r.last_generation || r.current_map.empty()) {
    if (!seg.init) return;  // cannot be played without its init segment
    r.current_map = "init" + std::to_string(r.next_init++) + ".mp4";
    r.last_generation = seg.init_generation;
    files.emplace_back(r.current_map, seg.init);
  }
  RecordingPlaylist::Entry e;
  e.uri = "seg" + std::to_string(r.next_seg++) + ".m4s";
  e.map_uri = r.current_map;
  e.duration_s = seg.duration_s;
  e.discontinuity = seg.discontinuity;
  e.pdt_ms = seg.pdt_ms;
  files.emplace_back(e.uri, seg.bytes);
  r.playlist.Add(std::move(e));
  std::string text = r.playlist.Render(false);
  size_t count = r.playlist.size();
  double duration = r.playlist.duration_s();
  Key key = it->first;
  Post([this, key, dir = r.dir, files = std::move(files), text = std::move(text), count, duration] {
    if (failed_keys_.count(key)) return;
    uint64_t bytes = 0;
    // Segment first, playlist after: the playlist on disk only ever names files that exist.
    for (const auto& [name, data] : files) {
      base::Status st = base::WriteFileAtomic(dir + "/" + name, *data);
      if (!st.ok()) {
        failed_keys_.insert(key);
        PostResult([this, key, msg = st.error().message] { Fail(key, msg); });
        return;
      }
      bytes += data->size();
    }
    base::Status st = base::WriteFileAtomic(dir + "/" + kRecordingPlaylist, text);
    if (!st.ok()) {
      failed_keys_.insert(key);
      PostResult([this, key, msg = st.error().message] { Fail(key, msg); });
      return;
    }
    bytes += text.size();
    written_[key] = count;
    PostResult([this, key, count, duration, bytes] {
      ++counters_.segments;
      counters_.bytes += bytes;
      auto it = recordings_.find(key);
      if (it == recordings_.end()) return;
      it->second.confirmed = count;
      it->second.confirmed_duration_s = duration;
      it->second.bytes += bytes;
    });
  });
}

void Recorder::Fail(const Key& key, const std::string& what) {
  ++counters_.write_errors;
  auto it = recordings_.find(key);
  if (it == recordings_.end()) return;
  Recording& r = it->second;
  LOG_ERROR("stream '%s': recording %s stopped: %s", key.first.c_str(), key.second.c_str(), what.c_str());
  if (r.failed) return;
  r.failed = true;
  r.error = what;
  ++counters_.failed;
  if (r.state == Recording::State::kRecording) Finish(r, true);
}

void Recorder::Stop(const std::string& stream, const std::string& id) {
  auto it = recordings_.find({stream, id});
  if (it == recordings_.end() || it->second.state != Recording::State::kRecording) return;
  Finish(it->second, !defer_remux_);
}

bool Recorder::IsRecording(const std::string& stream, const std::string& id) const {
  auto it = recordings_.find({stream, id});
  return it != recordings_.end() && it->second.state == Recording::State::kRecording;
}

void Recorder::Finish(Recording& r, bool remux) {
  r.state = Recording::State::kFinishing;
  Key key{r.stream, r.id};
  // The writer stops at the first failed write, so after a failure only the confirmed
  // segments are on disk; without one, everything queued will be.
  RecordingPlaylist pl = r.playlist;
  if (r.failed) {
    RecordingPlaylist trimmed(1);
    for (size_t i = 0; i < r.confirmed && i < pl.entries().size(); ++i) trimmed.Add(pl.entries()[i]);
    pl = trimmed;
    r.playlist = pl;
  }
  if (pl.size() == 0) {
    // Nothing was recorded (the publisher left before a segment was complete): leave no trace.
    Post([this, key, dir = r.dir] {
      std::error_code ec;
      fs::remove_all(dir, ec);
      std::string parent = base::DirName(dir);
      fs::remove(parent, ec);  // only succeeds when no other recording of the stream is left
      PostResult([this, key] {
        recordings_.erase(key);
        LOG_NOTICE("stream '%s': recording %s discarded: no complete segment", key.first.c_str(), key.second.c_str());
      });
    });
    return;
  }
  bool failed_before = r.failed;
  Post([this, key, dir = r.dir, pl = std::move(pl), remux, failed_before]() mutable {
    // A write that failed after the loop decided to finish: only what is on disk is listed.
    if (failed_keys_.count(key) && written_[key] < pl.size()) {
      RecordingPlaylist trimmed(1);
      for (size_t i = 0; i < written_[key]; ++i) trimmed.Add(pl.entries()[i]);
      pl = trimmed;
    }
    written_.erase(key);
    // A failed recording gets its VOD playlist if the disk allows it now; otherwise the EVENT
    // playlist on disk stays, which players handle as well.
    base::Status st = pl.size() ? base::WriteFileAtomic(dir + "/" + kRecordingPlaylist, pl.Render(true))
                                : base::Status(base::MakeError(base::kExitIoErr, "no segment was written"));
    std::string mp4_error;
    bool mp4 = false;
    if (st.ok() && remux) {
      std::string tmp = dir + "/" + kRecordingMp4 + ".part";
      base::Status rs = media::RemuxToMp4(dir + "/" + kRecordingPlaylist, tmp);
      if (rs.ok() && ::rename(tmp.c_str(), (dir + "/" + kRecordingMp4).c_str()) == 0) {
        mp4 = true;
      } else {
        mp4_error = rs.ok() ? "rename: " + base::ErrnoText(errno) : rs.error().message;
        ::unlink(tmp.c_str());
      }
    }
    uint64_t bytes = DirectoryBytes(dir);
    PostResult([this, key, st, mp4, mp4_error, bytes, remux, failed_before] {
      auto it = recordings_.find(key);
      if (it == recordings_.end()) return;
      Recording& r = it->second;
      r.state = Recording::State::kComplete;
      r.ended = st.ok();
      r.has_mp4 = mp4;
      r.bytes = bytes;
      if (!failed_before) ++counters_.completed;
      if (!st.ok()) {
        ++counters_.write_errors;
        LOG_ERROR("stream '%s': recording %s: final playlist not written: %s", key.first.c_str(), key.second.c_str(),
                  st.error().message.c_str());
      } else if (remux && !mp4) {
        ++counters_.write_errors;
        LOG_ERROR("stream '%s': recording %s: no MP4: %s", key.first.c_str(), key.second.c_str(), mp4_error.c_str());
      } else {
        LOG_NOTICE("stream '%s': recording %s complete (%.1f s, %llu bytes%s)", key.first.c_str(), key.second.c_str(),
                   r.playlist.duration_s(), static_cast<unsigned long long>(bytes),
                   mp4 ? ", with MP4" : ", MP4 at the next start");
      }
    });
  });
}

void Recorder::ScanOnWriter() {
  std::vector<Recording> found;
  std::vector<std::string> notes;
  std::string root = options_.dir;
  base::Status mk = base::MakeDirs(root, 0755);
  if (!mk.ok()) notes.push_back("!" + mk.error().message);
  std::error_code ec;
  for (fs::directory_iterator s(root, ec), end; !ec && s != end; s.increment(ec)) {
    std::string stream = s->path().filename().string();
    std::error_code ec2;
    if (!ValidRecordingStream(stream) || !s->is_directory(ec2)) continue;
    for (fs::directory_iterator d(s->path(), ec2), end2; !ec2 && d != end2; d.increment(ec2)) {
      std::string id = d->path().filename().string();
      std::error_code ec3;
      if (!ValidRecordingId(id) || !d->is_directory(ec3)) continue;
      std::string dir = d->path().string();
      auto text = base::ReadFile(dir + "/" + kRecordingPlaylist, 16 << 20);
      if (!text.ok()) continue;  // not a recording (or one that never got a segment)
      auto parsed = RecordingPlaylist::Parse(*text);
      if (!parsed.ok()) {
        notes.push_back("!" + dir + ": " + parsed.error().message);
        continue;
      }
      Recording r;
      r.stream = stream;
      r.id = id;
      r.dir = dir;
      r.started_ms = parsed->playlist.size() ? parsed->playlist.entries().front().pdt_ms : *RecordingIdTime(id);
      r.playlist = parsed->playlist;
      r.confirmed = r.playlist.size();
      r.state = Recording::State::kComplete;
      r.ended = parsed->ended;
      ::unlink((dir + "/" + kRecordingMp4 + ".part").c_str());
      if (!r.ended && r.playlist.size() > 0) {
        // Left open by a crash: close it so players see a VOD playlist.
        base::Status st = base::WriteFileAtomic(dir + "/" + kRecordingPlaylist, r.playlist.Render(true));
        if (st.ok()) {
          r.ended = true;
          notes.push_back("recovered the interrupted recording " + stream + "/" + id);
        } else {
          notes.push_back("!" + st.error().message);
        }
      }
      r.has_mp4 = base::PathExists(dir + "/" + kRecordingMp4);
      if (r.ended && !r.has_mp4 && r.playlist.size() > 0) {
        std::string tmp = dir + "/" + kRecordingMp4 + ".part";
        base::Status rs = media::RemuxToMp4(dir + "/" + kRecordingPlaylist, tmp);
        if (rs.ok() && ::rename(tmp.c_str(), (dir + "/" + kRecordingMp4).c_str()) == 0) {
          r.has_mp4 = true;
        } else {
          ::unlink(tmp.c_str());
          notes.push_back("!" + stream + "/" + id + ": no MP4: " + (rs.ok() ? "rename failed" : rs.error().message));
        }
      }
      r.bytes = DirectoryBytes(dir);
      found.push_back(std::move(r));
    }
  }
  PostResult([this, found = std::move(found), notes = std::move(notes)]() mutable {
    for (const auto& n : notes) {
      if (n[0] == '!')
        LOG_ERROR("recordings: %s", n.c_str() + 1);
      else
        LOG_NOTICE("recordings: %s", n.c_str());
    }
    size_t n = found.size();
    for (auto& r : found) {
      Key key{r.stream, r.id};
      if (!recordings_.count(key)) recordings_.emplace(key, std::move(r));
    }
    scanned_ = true;
    LOG_INFO("recordings: %zu in %s", n, options_.dir.c_str());
    ApplyRetention(base::WallClockMs());
  });
}

Json Recorder::List() const {
  std::vector<const Recording*> all;
  for (const auto& [k, r] : recordings_)
    if (!r.deleting) all.push_back(&r);
  std::sort(all.begin(), all.end(), [](const Recording* a, const Recording* b) {
    return a->started_ms != b->started_ms ? a->started_ms > b->started_ms : a->id > b->id;
  });
  Json arr = Json::MakeArray();
  for (const Recording* r : all) {
    std::string base = "/recordings/" + r->stream + "/" + r->id + "/";
    bool recording = r->state == Recording::State::kRecording;
    Json o = Json::MakeObject();
    o.Set("stream", r->stream);
    o.Set("id", r->id);
    o.Set("started_at", base::FormatRfc3339(r->started_ms));
    o.Set("duration_s", std::round(r->playlist.duration_s() * 1000) / 1000);
    o.Set("bytes", static_cast<int64_t>(r->bytes));
    o.Set("state", recording ? "recording" : "complete");
    o.Set("segments", static_cast<int64_t>(r->playlist.size()));
    o.Set("playlist", r->confirmed > 0 ? Json(base + kRecordingPlaylist) : Json());
    o.Set("mp4", r->has_mp4 ? Json(base + kRecordingMp4) : Json());
    if (r->failed) o.Set("error", r->error);
    arr.Push(std::move(o));
  }
  return Json::Obj({{"recordings", std::move(arr)}});
}

bool Recorder::Exists(const std::string& stream, const std::string& id) const {
  auto it = recordings_.find({stream, id});
  return it != recordings_.end() && !it->second.deleting;
}

void Recorder::ApplyRetention(int64_t now_wall_ms) {
  if (options_.keep_days <= 0 || shut_down_ || !scanned_) return;
  int64_t cutoff = now_wall_ms - static_cast<int64_t>(options_.keep_days) * 86400 * 1000;
  for (auto& [key, r] : recordings_) {
    if (r.state != Recording::State::kComplete || r.deleting) continue;
    auto t = RecordingIdTime(r.id);
    if (!t || *t >= cutoff) continue;
    r.deleting = true;
    Post([this, key = key, dir = r.dir] {
      std::error_code ec;
      fs::remove_all(dir, ec);
      std::string err = ec ? ec.message() : "";
      std::error_code ec2;
      fs::remove(base::DirName(dir), ec2);  // the stream's directory, once empty
      PostResult([this, key, err] {
        auto it = recordings_.find(key);
        if (!err.empty()) {
          LOG_ERROR("retention: could not delete recording %s/%s: %s", key.first.c_str(), key.second.c_str(),
                    err.c_str());
          if (it != recordings_.end()) it->second.deleting = false;
          return;
        }
        ++counters_.deleted;
        LOG_NOTICE("retention: deleted recording %s/%s (older than %d days)", key.first.c_str(), key.second.c_str(),
                   options_.keep_days);
        if (it != recordings_.end()) recordings_.erase(it);
      });
    });
  }
}

void Recorder::ReadFile(const std::string& stream, const std::string& id, const std::string& file, int64_t offset,
                        uint64_t length, std::function<void(FileSlice)> done) {
  struct Work {
    uv_work_t req;
    std::string path;
    int64_t offset;
    uint64_t length;
    FileSlice slice;
    std::function<void(FileSlice)> done;
  };
  if (!ValidRecordingStream(stream) || !ValidRecordingId(id) || !ValidRecordingFile(file)) {
    FileSlice s;
    s.status = ENOENT;
    done(std::move(s));
    return;
  }
  auto* w = new Work;
  w->req.data = w;
  w->path = options_.dir + "/" + stream + "/" + id + "/" + file;
  w->offset = offset;
  w->length = length;
  w->done = std::move(done);
  int rc = uv_queue_work(
      loop_, &w->req,
      [](uv_work_t* req) {
        auto* w = static_cast<Work*>(req->data);
        int fd = ::open(w->path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
          w->slice.status = errno;
          return;
        }
        struct stat st {};
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
          w->slice.status = ENOENT;
          ::close(fd);
          return;
        }
        uint64_t size = static_cast<uint64_t>(st.st_size);
        uint64_t offset = w->offset >= 0 ? static_cast<uint64_t>(w->offset)
                                         : size - std::min<uint64_t>(size, static_cast<uint64_t>(-w->offset));
        w->slice.file_size = size;
        w->slice.offset = offset;
        uint64_t want = offset >= size ? 0 : size - offset;
        if (w->length > 0) want = std::min(want, w->length);
        if (want > kMaxCopyBytes) {
          uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
          uint64_t start = offset / page * page;
          size_t len = static_cast<size_t>(want + (offset - start));
          void* p = ::mmap(nullptr, len, PROT_READ, MAP_PRIVATE, fd, static_cast<off_t>(start));
          int err = errno;
          ::close(fd);
          if (p == MAP_FAILED) {
            w->slice.status = err;
            return;
          }
          // Sequential, and start reading now: the loop thread touches these pages as it sends.
          ::madvise(p, len, MADV_SEQUENTIAL);
          ::madvise(p, len, MADV_WILLNEED);
          w->slice.owner =
              std::shared_ptr<const void>(p, [len](const void* q) { ::munmap(const_cast<void*>(q), len); });
          w->slice.data = std::string_view(static_cast<const char*>(p) + (offset - start), static_cast<size_t>(want));
          return;
        }
        auto buf = std::make_shared<std::string>(want, '\0');
        uint64_t got = 0;
        while (got < want) {
          ssize_t n = ::pread(fd, buf->data() + got, want - got, static_cast<off_t>(offset + got));
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) break;
          got += static_cast<uint64_t>(n);
        }
        ::close(fd);
        buf->resize(got);
        w->slice.data = *buf;
        w->slice.owner = std::move(buf);
      },
      [](uv_work_t* req, int status) {
        std::unique_ptr<Work> w(static_cast<Work*>(req->data));
        if (status != 0 && w->slice.status == 0) w->slice.status = ECANCELED;
        w->done(std::move(w->slice));
      });
  if (rc != 0) {
    FileSlice s;
    s.status = EAGAIN;
    auto d = std::move(w->done);
    delete w;
    d(std::move(s));
  }
}

void Recorder::Shutdown() {
  if (shut_down_) return;
  // Open recordings get their VOD playlist now; their MP4 is made at the next start (the scan
  // remuxes ended recordings without one), so a stop is not held up by a long remux.
  for (auto& [key, r] : recordings_)
    if (r.state == Recording::State::kRecording) Finish(r, false);
  shut_down_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_writer_ = true;
  }
  cv_.notify_one();
  if (writer_.joinable()) writer_.join();
  DrainResults();
  if (async_) {
    uv_close(reinterpret_cast<uv_handle_t*>(async_), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
    async_ = nullptr;
  }
}

}  // namespace collab::stream
