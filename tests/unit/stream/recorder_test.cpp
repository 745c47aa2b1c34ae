#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "lib/base/fs.hpp"
#include "lib/stream/packager.hpp"
#include "lib/stream/recorder.hpp"

using namespace collab::stream;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kT0 = 1'800'000'000'000;  // 2027-01-15T08:00:00Z

RecordingPlaylist::Entry E(int n, int map, double d, bool disc = false) {
  RecordingPlaylist::Entry e;
  e.uri = "seg" + std::to_string(n) + ".m4s";
  e.map_uri = "init" + std::to_string(map) + ".mp4";
  e.duration_s = d;
  e.discontinuity = disc;
  e.pdt_ms = kT0 + n * 2000;
  return e;
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

std::string TempDir() {
  char tmpl[] = "/tmp/collab-rec-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  return tmpl;
}

// Runs the loop until pred holds (bounded: the recorder's writer reports through uv_async).
// The recorder's async handle does not keep a loop alive, and uv_run does not even poll a loop
// that is not alive: a running idle handle stands in for the daemon's listeners.
template <typename Pred>
bool RunUntil(uv_loop_t* loop, Pred pred, int timeout_ms = 10000) {
  uv_idle_t idle;
  uv_idle_init(loop, &idle);
  uv_idle_start(&idle, [](uv_idle_t*) {});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool ok = true;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) {
      ok = false;
      break;
    }
    uv_run(loop, UV_RUN_NOWAIT);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&idle), nullptr);
  uv_run(loop, UV_RUN_NOWAIT);  // completes the close before `idle` goes out of scope
  return ok;
}

}  // namespace

TEST_CASE("an EVENT recording playlist grows and ends as VOD", "[recorder]") {
  RecordingPlaylist p(2);
  p.Add(E(0, 0, 2.0));
  p.Add(E(1, 0, 1.96667));
  std::string ev = p.Render(false);
  CHECK(ev.rfind("#EXTM3U\n", 0) == 0);
  CHECK(ev.find("#EXT-X-PLAYLIST-TYPE:EVENT\n") != std::string::npos);
  CHECK(ev.find("#EXT-X-ENDLIST") == std::string::npos);
  CHECK(ev.find("#EXT-X-TARGETDURATION:2\n") != std::string::npos);
  CHECK(Count(ev, "#EXT-X-MAP:URI=\"init0.mp4\"") == 1);
  CHECK(Count(ev, "#EXT-X-PROGRAM-DATE-TIME:") == 2);
  CHECK(ev.find("#EXT-X-PROGRAM-DATE-TIME:2027-01-15T08:00:00.000Z\n#EXTINF:2.00000,\nseg0.m4s\n") !=
        std::string::npos);
  CHECK(p.duration_s() == Approx(3.96667));

  std::string vod = p.Render(true);
  CHECK(vod.find("#EXT-X-PLAYLIST-TYPE:VOD\n") != std::string::npos);
  CHECK(vod.size() >= 15);
  CHECK(vod.substr(vod.size() - 15) == "#EXT-X-ENDLIST\n");
}

TEST_CASE("a new init after a discontinuity gets its own EXT-X-MAP", "[recorder]") {
  RecordingPlaylist p(2);
  p.Add(E(0, 0, 2.0, true));  // a discontinuity on the first segment means nothing
  p.Add(E(1, 0, 2.0));
  p.Add(E(2, 1, 2.0, true));
  p.Add(E(3, 1, 2.0, false));
  std::string s = p.Render(true);
  CHECK(Count(s, "#EXT-X-DISCONTINUITY\n") == 1);
  CHECK(s.find("#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init1.mp4\"\n#EXT-X-PROGRAM-DATE-TIME:") != std::string::npos);
  CHECK(Count(s, "#EXT-X-MAP:") == 2);
  CHECK(s.find("seg1.m4s\n#EXT-X-DISCONTINUITY") != std::string::npos);
}

TEST_CASE("the target duration covers every segment", "[recorder]") {
  RecordingPlaylist p(2);
  p.Add(E(0, 0, 2.0));
  p.Add(E(1, 0, 3.6));  // a late keyframe: rounds to 4
  CHECK(p.Render(false).find("#EXT-X-TARGETDURATION:4\n") != std::string::npos);
}

TEST_CASE("recording playlists read back", "[recorder]") {
  RecordingPlaylist p(3);
  p.Add(E(0, 0, 2.0));
  p.Add(E(1, 1, 1.5, true));
  for (bool ended : {false, true}) {
    auto r = RecordingPlaylist::Parse(p.Render(ended));
    REQUIRE(r.ok());
    CHECK(r->ended == ended);
    REQUIRE(r->playlist.size() == 2);
    CHECK(r->playlist.entries()[1].uri == "seg1.m4s");
    CHECK(r->playlist.entries()[1].map_uri == "init1.mp4");
    CHECK(r->playlist.entries()[1].discontinuity);
    CHECK(r->playlist.entries()[1].pdt_ms == kT0 + 2000);
    CHECK(r->playlist.duration_s() == Approx(3.5));
    CHECK(r->playlist.Render(ended) == p.Render(ended));
  }
}

TEST_CASE("bad recording playlists are refused", "[recorder]") {
  const std::string head = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n";
  const std::string map = "#EXT-X-MAP:URI=\"init0.mp4\"\n";
  for (const std::string& bad : {
           std::string(""),
           std::string("EXTM3U\n"),
           std::string("#EXTM3U\n#EXT-X-MAP:URI=\"init0.mp4\"\n#EXTINF:2,\nseg0.m4s\n"),  // no target
           head + "#EXTINF:2,\nseg0.m4s\n",                                               // no map
           head + map + "seg0.m4s\n",                                                     // no EXTINF
           head + map + "#EXTINF:2,\n../../etc/passwd\n",
           head + map + "#EXTINF:2,\nseg0.m4s/../x\n",
           head + "#EXT-X-MAP:URI=\"/etc/passwd\"\n#EXTINF:2,\nseg0.m4s\n",
           head + map + "#EXTINF:nan,\nseg0.m4s\n",
           head + map + "#EXTINF:-1,\nseg0.m4s\n",
           head + map + "#EXTINF:1e9,\nseg0.m4s\n",
           head + map + "#EXT-X-PROGRAM-DATE-TIME:yesterday\n#EXTINF:2,\nseg0.m4s\n",
           head + map + "#EXT-X-PROGRAM-DATE-TIME:2026-13-01T00:00:00.000Z\n#EXTINF:2,\nseg0.m4s\n",
           std::string("#EXTM3U\n#EXT-X-TARGETDURATION:x\n"),
       }) {
    INFO(bad);
    auto r = RecordingPlaylist::Parse(bad);
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK(r.error().code == collab::base::kExitDataErr);
  }
  // Unknown tags and CRLF line ends are fine.
  auto ok = RecordingPlaylist::Parse(head + "#EXT-X-INDEPENDENT-SEGMENTS\r\n" + map + "#EXTINF:2,\r\nseg0.m4s\r\n");
  REQUIRE(ok.ok());
  CHECK(ok->playlist.size() == 1);
}

TEST_CASE("recording names that reach the filesystem are strict", "[recorder]") {
  for (const char* f : {"index.m3u8", "recording.mp4", "init0.mp4", "init12.mp4", "seg0.m4s", "seg123456.m4s"})
    CHECK(ValidRecordingFile(f));
  for (const char* f : {"", ".", "..", "../index.m3u8", "seg.m4s", "seg-1.m4s", "seg1.mp4", "init.mp4", "initx.mp4",
                        "seg1.m4s/", "index.m3u8.tmp", "recording.mp4.part", "seg1.m4s\n", "INDEX.M3U8"})
    CHECK_FALSE(ValidRecordingFile(f));
  CHECK(ValidRecordingId("20261126T023628Z"));
  CHECK(ValidRecordingId("20261126T023628Z-2"));
  for (const char* id : {"", "..", "20261126", "20261126T023628", "20261126T023628Z-", "20261126T023628Z-x",
                         "20261326T023628Z", "2026112xT023628Z", "20261126T023628Z/.."})
    CHECK_FALSE(ValidRecordingId(id));
  CHECK(ValidRecordingStream("press_conf-1"));
  CHECK_FALSE(ValidRecordingStream(".."));
  CHECK_FALSE(ValidRecordingStream("a/b"));
  CHECK(RecordingIdFor(kT0 + 999) == "20270115T080000Z");
  CHECK(RecordingIdTime("20270115T080000Z").value() == kT0);
  CHECK(RecordingIdTime("20270115T080000Z-3").value() == kT0);
}

namespace {

const std::string kAvcC = [] {
  const char* h = "0164001effe1001a6764001eacb201405ff2e022000003000200000300791e2c5c9001000668ebc3cb22c0fdf8f800";
  std::string out;
  for (size_t i = 0; h[i] && h[i + 1]; i += 2)
    out.push_back(static_cast<char>(std::stoi(std::string(h + i, 2), nullptr, 16)));
  return out;
}();

// Video only at 30 fps with a keyframe every second.
void Feed(Packager& p, int64_t& frame, int ms) {
  int64_t end = frame + ms * 30 / 1000;
  for (; frame < end; ++frame) {
    FlvVideo v;
    v.keyframe = frame % 30 == 0;
    std::string nal = std::string("\x00\x00\x00\x05", 4) + "frame";
    v.data = nal;
    REQUIRE(p.AddVideo(static_cast<uint32_t>(frame * 1000 / 30), v, kT0 + frame * 1000 / 30).ok());
  }
}

Packager Started(int dvr_ms) {
  PackagerOptions o;
  o.segment_ms = 1000;
  o.window_segments = 3;
  o.dvr_ms = dvr_ms;
  Packager p(o);
  p.BeginSession();
  FlvVideo c;
  c.kind = FlvVideo::Kind::kConfig;
  c.data = kAvcC;
  REQUIRE(p.AddVideo(0, c, kT0).ok());
  return p;
}

}  // namespace

TEST_CASE("a DVR window keeps more segments than the live window", "[recorder][dvr]") {
  int64_t frame = 0;
  Packager live = Started(0);
  Feed(live, frame, 30000);
  frame = 0;
  Packager dvr = Started(20000);
  Feed(dvr, frame, 30000);
  std::string lp = live.Playlist(false), dp = dvr.Playlist(false);
  CHECK(Count(lp, "#EXTINF:") == 3);
  CHECK(dvr.window_duration_s() >= 20.0);
  CHECK(dvr.window_duration_s() < 22.0);
  CHECK(Count(dp, "#EXTINF:") >= 20);
  // Parts only near the live edge (the last three target durations): none for the oldest segments.
  CHECK(dp.find("#EXTINF:") < dp.find("#EXT-X-PART:"));
  CHECK(Count(dp, "#EXT-X-PART:") < 3 * Count(dp, "#EXTINF:") / 2);
  // A delta update skips the old part of the DVR window: the reload stays small.
  CHECK(dp.find("CAN-SKIP-UNTIL=") != std::string::npos);
  std::string delta = dvr.Playlist(true);
  CHECK(delta.find("#EXT-X-SKIP:SKIPPED-SEGMENTS=") != std::string::npos);
  CHECK(Count(delta, "#EXTINF:") <= 13);  // what is left: CAN-SKIP-UNTIL (6 target durations) and a bit
  CHECK(Count(delta, "#EXTINF:") < Count(dp, "#EXTINF:"));
  // The recorder's view of the same segments: complete ones, the same bytes as served.
  auto segs = dvr.CompleteSegmentsFrom(0);
  REQUIRE(segs.size() >= 20);
  REQUIRE(segs.front().bytes);
  CHECK(*segs.front().bytes == std::string(dvr.SegmentBytes(segs.front().msn)->bytes));
  CHECK(dvr.CompleteSegmentsFrom(segs.back().msn).size() == 1);
  CHECK(dvr.CompleteSegmentsFrom(segs.back().msn + 1).empty());
}

TEST_CASE("the recorder writes segments, an EVENT playlist, then a VOD playlist", "[recorder]") {
  std::string dir = TempDir();
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    auto rec = Recorder::Create(&loop, RecorderOptions{dir, 0});
    REQUIRE(rec.ok());
    Recorder& r = **rec;
    std::string id = r.Start("cam", kT0, 2);
    CHECK(id == "20270115T080000Z");
    CHECK(r.Start("cam", kT0, 2) == "20270115T080000Z-2");  // same second: still a new directory
    auto init = std::make_shared<const std::string>("init-bytes");
    for (int i = 0; i < 3; ++i) {
      RecorderSegment s;
      s.init_generation = 7;
      s.init = init;
      s.bytes = std::make_shared<const std::string>("segment" + std::to_string(i));
      s.duration_s = 2.0;
      s.pdt_ms = kT0 + i * 2000;
      r.AddSegment("cam", id, s);
    }
    std::string rd = dir + "/cam/" + id;
    REQUIRE(RunUntil(&loop, [&] { return r.pending_jobs() == 0 && r.counters().segments == 3; }));
    auto text = collab::base::ReadFile(rd + "/index.m3u8");
    REQUIRE(text.ok());
    CHECK(text->find("#EXT-X-PLAYLIST-TYPE:EVENT") != std::string::npos);
    CHECK(Count(*text, "#EXTINF:") == 3);
    CHECK(collab::base::ReadFile(rd + "/seg2.m4s").value() == "segment2");
    CHECK(collab::base::ReadFile(rd + "/init0.mp4").value() == "init-bytes");
    CHECK(r.IsRecording("cam", id));
    auto list = r.List();
    REQUIRE(list.Find("recordings")->as_array().size() == 2);

    // These bytes are no media, so the MP4 fails: logged and counted, the recording is still complete.
    r.Stop("cam", id);
    r.Stop("cam", id + "-2");  // never got a segment: removed
    REQUIRE(RunUntil(
        &loop, [&] { return r.pending_jobs() == 0 && !r.IsRecording("cam", id) && !r.Exists("cam", id + "-2"); }));
    REQUIRE(RunUntil(&loop, [&] {
      return r.List().Find("recordings")->as_array().size() == 1 &&
             r.List().Find("recordings")->as_array()[0].GetString("state") == "complete";
    }));
    text = collab::base::ReadFile(rd + "/index.m3u8");
    CHECK(text->find("#EXT-X-PLAYLIST-TYPE:VOD") != std::string::npos);
    CHECK(text->find("#EXT-X-ENDLIST") != std::string::npos);
    CHECK_FALSE(fs::exists(dir + "/cam/" + id + "-2"));
    CHECK_FALSE(fs::exists(rd + "/recording.mp4.part"));
    const auto listed = r.List();
    const auto& item = listed.Find("recordings")->as_array()[0];
    CHECK(item.GetString("playlist") == "/recordings/cam/" + id + "/index.m3u8");
    CHECK(item.Find("mp4")->is_null());
    CHECK(item.GetInt("bytes") > 0);

    // Files are read off the loop, with ranges.
    bool got = false;
    r.ReadFile("cam", id, "seg1.m4s", 2, 3, [&](Recorder::FileSlice f) {
      CHECK(f.status == 0);
      CHECK(f.data == "gme");
      CHECK(f.file_size == 8);
      got = true;
    });
    REQUIRE(RunUntil(&loop, [&] { return got; }));
    got = false;
    r.ReadFile("cam", id, "seg1.m4s", -3, 0, [&](Recorder::FileSlice f) {
      CHECK(f.data == "nt1");
      CHECK(f.offset == 5);
      got = true;
    });
    REQUIRE(RunUntil(&loop, [&] { return got; }));
    // A large file (a long recording's MP4) is mapped, not copied: same bytes, any offset.
    std::string big(9 << 20, '\0');
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 23);
    REQUIRE(collab::base::WriteFileAtomic(rd + "/seg9.m4s", big).ok());
    got = false;
    r.ReadFile("cam", id, "seg9.m4s", 4097, 0, [&](Recorder::FileSlice f) {
      CHECK(f.status == 0);
      CHECK(f.offset == 4097);
      CHECK(f.file_size == big.size());
      CHECK(f.data.size() == big.size() - 4097);
      CHECK(f.data == std::string_view(big).substr(4097));
      got = true;
    });
    REQUIRE(RunUntil(&loop, [&] { return got; }));
    got = false;
    r.ReadFile("cam", id, "../../etc/passwd", 0, 0, [&](Recorder::FileSlice f) {
      CHECK(f.status == ENOENT);
      got = true;
    });
    CHECK(got);  // refused at once, nothing touched the disk
    r.Shutdown();
  }
  {
    // A new run finds the recording again.
    auto rec = Recorder::Create(&loop, RecorderOptions{dir, 0});
    REQUIRE(rec.ok());
    REQUIRE(RunUntil(&loop, [&] { return (*rec)->List().Find("recordings")->as_array().size() == 1; }));
    CHECK((*rec)->List().Find("recordings")->as_array()[0].Find("duration_s")->as_double() == Approx(6.0));
    (*rec)->Shutdown();
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
  fs::remove_all(dir);
}

TEST_CASE("a recording that cannot be written stops without harm", "[recorder]") {
  std::string dir = TempDir();
  // A regular file where the recordings directory should be: every mkdir below it fails
  // (unlike permissions, this holds for root too).
  { std::ofstream(dir + "/file") << "x"; }
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    auto rec = Recorder::Create(&loop, RecorderOptions{dir + "/file/recordings", 0});
    REQUIRE(rec.ok());
    Recorder& r = **rec;
    std::string id = r.Start("cam", kT0, 2);
    RecorderSegment s;
    s.init = std::make_shared<const std::string>("i");
    s.bytes = std::make_shared<const std::string>("s");
    s.duration_s = 2;
    r.AddSegment("cam", id, s);
    REQUIRE(RunUntil(&loop, [&] { return !r.IsRecording("cam", id) && r.pending_jobs() == 0; }));
    CHECK(r.counters().failed == 1);
    CHECK(r.counters().write_errors >= 1);
    r.AddSegment("cam", id, s);  // ignored now
    CHECK(r.pending_jobs() == 0);
    r.Shutdown();
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
  fs::remove_all(dir);
}

TEST_CASE("retention deletes old recordings only", "[recorder]") {
  std::string dir = TempDir();
  RecordingPlaylist p(2);
  p.Add(E(0, 0, 2.0));
  for (const char* id : {"20200101T000000Z", "20990101T000000Z"}) {
    std::string d = dir + "/old/" + id;
    REQUIRE(collab::base::MakeDirs(d).ok());
    // Complete, with an MP4 already there, so the scan has nothing to remux.
    REQUIRE(collab::base::WriteFileAtomic(d + "/index.m3u8", p.Render(true)).ok());
    REQUIRE(collab::base::WriteFileAtomic(d + "/recording.mp4", "x").ok());
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    auto rec = Recorder::Create(&loop, RecorderOptions{dir, 30});
    REQUIRE(rec.ok());
    Recorder& r = **rec;
    REQUIRE(RunUntil(&loop, [&] { return r.counters().deleted == 1 && r.pending_jobs() == 0; }));
    CHECK_FALSE(fs::exists(dir + "/old/20200101T000000Z"));
    CHECK(fs::exists(dir + "/old/20990101T000000Z"));
    CHECK(r.List().Find("recordings")->as_array().size() == 1);
    r.Shutdown();
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
  fs::remove_all(dir);
}
