#include <catch2/catch.hpp>

#include <sstream>

#include "lib/stream/packager.hpp"

using namespace collab::stream;

namespace {

std::string Hex(const char* h) {
  std::string out;
  for (size_t i = 0; h[i] && h[i + 1]; i += 2) out.push_back(static_cast<char>(std::stoi(std::string(h + i, 2), nullptr, 16)));
  return out;
}

const std::string kAvcC = Hex("0164001effe1001a6764001eacb201405ff2e022000003000200000300791e2c5c9001000668ebc3cb22c0fdf8f800");
const std::string kAsc = Hex("1208");

// A publisher at 30 fps (ms timestamps like ffmpeg's: 0, 33, 67, ...) with a keyframe every
// `gop` frames and AAC at 44.1 kHz.
struct Publisher {
  Packager& p;
  int gop = 30;
  int64_t frame = 0;
  double audio_ms = 0;
  int64_t base_ms = 0;  // added to every timestamp: moving it makes the source clock jump
  int64_t wall = 1'800'000'000'000;

  void Configs() {
    FlvVideo v;
    v.kind = FlvVideo::Kind::kConfig;
    v.data = kAvcC;
    REQUIRE(p.AddVideo(static_cast<uint32_t>(base_ms), v, wall).ok());
    FlvAudio a;
    a.kind = FlvAudio::Kind::kConfig;
    a.data = kAsc;
    REQUIRE(p.AddAudio(static_cast<uint32_t>(base_ms), a, wall).ok());
  }
  // Advances by `ms` of media.
  void Run(int ms) {
    int64_t end_frame = frame + ms * 30 / 1000;
    for (; frame < end_frame; ++frame) {
      int64_t rel = frame * 1000 / 30;
      uint32_t ts = static_cast<uint32_t>(base_ms + rel);
      while (audio_ms <= rel) {
        std::string data(100, 'a');
        FlvAudio a;
        a.data = data;
        REQUIRE(p.AddAudio(static_cast<uint32_t>(base_ms + static_cast<int64_t>(audio_ms)), a,
                           wall + static_cast<int64_t>(audio_ms)).ok());
        audio_ms += 1024.0 * 1000 / 44100;
      }
      std::string nal = std::string("\x00\x00\x00\x05", 4) + "frame";
      FlvVideo v;
      v.keyframe = frame % gop == 0;
      v.data = nal;
      REQUIRE(p.AddVideo(ts, v, wall + rel).ok());
    }
  }
};

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::vector<double> Values(const std::string& playlist, const std::string& prefix, const std::string& key) {
  std::vector<double> out;
  for (const auto& l : Lines(playlist)) {
    if (l.rfind(prefix, 0) != 0) continue;
    size_t k = key.empty() ? prefix.size() : l.find(key + "=");
    if (k == std::string::npos) continue;
    out.push_back(std::stod(l.substr(key.empty() ? k : k + key.size() + 1)));
  }
  return out;
}

int64_t MediaSequence(const std::string& pl) {
  return static_cast<int64_t>(Values(pl, "#EXT-X-MEDIA-SEQUENCE:", "")[0]);
}

// Reads the tfdt of each traf in a fragment: track id -> base decode time.
std::map<uint32_t, uint64_t> Tfdts(const std::string& frag) {
  std::map<uint32_t, uint64_t> out;
  uint32_t track = 0;
  for (size_t i = 4; i + 8 <= frag.size(); ++i) {
    if (frag.compare(i, 4, "tfhd") == 0) {
      track = 0;
      for (int b = 0; b < 4; ++b) track = (track << 8) | static_cast<uint8_t>(frag[i + 8 + b]);
    } else if (frag.compare(i, 4, "tfdt") == 0) {
      uint64_t t = 0;
      for (int b = 0; b < 8; ++b) t = (t << 8) | static_cast<uint8_t>(frag[i + 8 + b]);
      out[track] = t;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("packager: parts and segments follow the targets and the playlist has the LL-HLS tags") {
  PackagerOptions o;
  o.first_sequence = 100;
  Packager p(o);
  p.BeginSession();
  Publisher pub{p};
  pub.Configs();
  CHECK_FALSE(p.has_media());
  pub.Run(7000);
  REQUIRE(p.has_media());
  std::string pl = p.Playlist(false);
  INFO(pl);
  for (const char* tag : {"#EXTM3U", "#EXT-X-VERSION:9", "#EXT-X-TARGETDURATION:3", "#EXT-X-PART-INF:PART-TARGET=0.334",
                          "CAN-BLOCK-RELOAD=YES", "PART-HOLD-BACK=1.002", "#EXT-X-MAP:URI=\"init100.mp4\"",
                          "#EXT-X-PROGRAM-DATE-TIME:", "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part103.",
                          "#EXT-X-MEDIA-SEQUENCE:100", "INDEPENDENT=YES", "seg100.m4s", "seg102.m4s"})
    CHECK(pl.find(tag) != std::string::npos);
  int short_parts = 0;
  for (double d : Values(pl, "#EXT-X-PART:", "DURATION")) {
    CHECK(d <= 0.334);
    CHECK(d > 0);
    short_parts += d < 0.85 * 0.334;
  }
  auto extinf = Values(pl, "#EXTINF:", "");
  // Only the last part of a segment may be shorter than 85% of the part target.
  CHECK(short_parts <= static_cast<int>(extinf.size()));
  REQUIRE(extinf.size() == 3);
  for (double d : extinf) CHECK(d == Approx(2.0).margin(0.01));
  // Bytes: init, segments and parts are in memory.
  REQUIRE(p.Init(100));
  CHECK(p.Init(100)->compare(4, 4, "ftyp") == 0);
  REQUIRE(p.Segment(101));
  CHECK(p.Segment(101)->compare(4, 4, "moof") == 0);
  CHECK_FALSE(p.Segment(103));  // still being made
  REQUIRE(p.Part(103, 0));
  CHECK_FALSE(p.Part(99, 0));
  // A segment is its parts back to back.
  std::string joined;
  for (int i = 0; p.Part(101, i); ++i) joined += *p.Part(101, i);
  CHECK(joined == *p.Segment(101));
  // tfdt advances from part to part, for both tracks.
  auto t0 = Tfdts(*p.Part(101, 0));
  auto t1 = Tfdts(*p.Part(101, 1));
  CHECK(t1[kVideoTrackId] > t0[kVideoTrackId]);
  CHECK(t1[kAudioTrackId] > t0[kAudioTrackId]);
}

TEST_CASE("packager: blocking reload decisions") {
  Packager p(PackagerOptions{});
  CHECK(p.CheckBlocking(0, -1) == Packager::Blocking::kWait);
  CHECK(p.CheckBlocking(3, -1) == Packager::Blocking::kTooFar);
  p.BeginSession();
  Publisher pub{p};
  pub.Configs();
  pub.Run(2500);  // segment 0 complete, segment 1 has a part or more
  REQUIRE(p.next_msn() == 1);
  int parts = p.next_part();
  REQUIRE(parts >= 1);
  CHECK(p.CheckBlocking(0, -1) == Packager::Blocking::kReady);
  // Past the last part of a finished segment: the first part of the next one, which exists.
  CHECK(p.CheckBlocking(0, 50) == Packager::Blocking::kReady);
  CHECK(p.CheckBlocking(1, -1) == Packager::Blocking::kWait);
  CHECK(p.CheckBlocking(1, parts - 1) == Packager::Blocking::kReady);
  CHECK(p.CheckBlocking(1, parts) == Packager::Blocking::kWait);
  CHECK(p.CheckBlocking(3, 0) == Packager::Blocking::kWait);
  CHECK(p.CheckBlocking(4, 0) == Packager::Blocking::kTooFar);
  CHECK(p.IsNextPart(1, parts));
  CHECK_FALSE(p.IsNextPart(1, parts + 1));
  uint64_t before = p.parts_produced();
  pub.Run(400);
  CHECK(p.parts_produced() > before);
  CHECK(p.CheckBlocking(1, parts) == Packager::Blocking::kReady);
  // The segment after the last finished one has no part yet: a request past the end waits.
  pub.Run(2000);
  p.EndSession();
  int64_t last = p.next_msn() - 1;
  CHECK(p.CheckBlocking(last, 0) == Packager::Blocking::kReady);
  CHECK(p.CheckBlocking(last, 99) == Packager::Blocking::kWait);
}

TEST_CASE("packager: the window slides and delta updates skip old segments") {
  PackagerOptions o;
  o.window_segments = 12;  // 24 s > CAN-SKIP-UNTIL (6 x 3 s)
  Packager p(o);
  p.BeginSession();
  Publisher pub{p};
  pub.Configs();
  pub.Run(40000);
  std::string full = p.Playlist(false);
  CHECK(Values(full, "#EXTINF:", "").size() == 12);
  CHECK(MediaSequence(full) == p.next_msn() - 12);
  CHECK(full.find("CAN-SKIP-UNTIL=18.0") != std::string::npos);
  CHECK_FALSE(p.Segment(MediaSequence(full) - 1));
  std::string delta = p.Playlist(true);
  INFO(delta);
  auto skip_values = Values(delta, "#EXT-X-SKIP:", "SKIPPED-SEGMENTS");
  REQUIRE(skip_values.size() == 1);
  int skipped = static_cast<int>(skip_values[0]);
  CHECK(skipped >= 1);
  CHECK(static_cast<int>(Values(delta, "#EXTINF:", "").size()) == 12 - skipped);
  CHECK(MediaSequence(delta) == MediaSequence(full));
  // Parts are only listed near the live edge.
  CHECK(Values(full, "#EXT-X-PART:", "DURATION").size() < 40);
}

TEST_CASE("packager: a reconnecting publisher continues the timeline after a discontinuity") {
  Packager p(PackagerOptions{});
  p.BeginSession();
  Publisher pub{p};
  pub.Configs();
  pub.Run(4500);
  p.EndSession();
  int64_t msn_after_first = p.next_msn();
  auto last_tfdt = Tfdts(*p.Segment(msn_after_first - 1));
  // The new session's timestamps start from zero again, as a restarted encoder's do.
  p.BeginSession();
  Publisher pub2{p};
  pub2.Configs();
  pub2.Run(4500);
  std::string pl = p.Playlist(false);
  INFO(pl);
  CHECK(pl.find("#EXT-X-DISCONTINUITY\n") != std::string::npos);
  CHECK(pl.find("#EXT-X-DISCONTINUITY-SEQUENCE:0") != std::string::npos);
  // Same codec setup: the same init segment stays in use.
  size_t maps = 0;
  for (size_t at = pl.find("#EXT-X-MAP"); at != std::string::npos; at = pl.find("#EXT-X-MAP", at + 1)) ++maps;
  CHECK(maps == 1);
  auto first_new = Tfdts(*p.Part(msn_after_first, 0));
  CHECK(first_new[kVideoTrackId] > last_tfdt[kVideoTrackId]);
  CHECK(first_new[kAudioTrackId] > last_tfdt[kAudioTrackId]);
  // A new codec setup brings a new init segment.
  p.EndSession();
  p.BeginSession();
  Publisher pub3{p};
  FlvVideo v;
  v.kind = FlvVideo::Kind::kConfig;
  std::string other = kAvcC;
  other[3] = 0x1f;  // level 3.1
  v.data = other;
  REQUIRE(p.AddVideo(0, v, pub3.wall).ok());
  pub3.Run(2500);
  pl = p.Playlist(false);
  maps = 0;
  for (size_t at = pl.find("#EXT-X-MAP"); at != std::string::npos; at = pl.find("#EXT-X-MAP", at + 1)) ++maps;
  CHECK(maps == 2);
}

TEST_CASE("packager: audio-only and video without keyframes in time") {
  SECTION("audio only starts after a second without a video configuration") {
    Packager p(PackagerOptions{});
    p.BeginSession();
    FlvAudio c;
    c.kind = FlvAudio::Kind::kConfig;
    c.data = kAsc;
    REQUIRE(p.AddAudio(0, c, 0).ok());
    std::string data(50, 'a');
    for (int i = 0; i < 200; ++i) {
      FlvAudio a;
      a.data = data;
      REQUIRE(p.AddAudio(static_cast<uint32_t>(i * 1024 * 1000 / 44100), a, i * 23).ok());
    }
    REQUIRE(p.has_media());
    for (double d : Values(p.Playlist(false), "#EXT-X-PART:", "DURATION")) CHECK(d <= 0.334);
  }
  SECTION("audio configured after the first video frames still gets its track (MPEG-TS order)") {
    Packager p(PackagerOptions{});
    p.BeginSession();
    FlvVideo c;
    c.kind = FlvVideo::Kind::kConfig;
    c.data = kAvcC;
    REQUIRE(p.AddVideo(0, c, 0).ok());
    std::string nal = std::string("\x00\x00\x00\x05", 4) + "frame";
    for (int i = 0; i < 5; ++i) {
      FlvVideo v;
      v.keyframe = i == 0;
      v.data = nal;
      REQUIRE(p.AddVideo(static_cast<uint32_t>(i * 33), v, i * 33).ok());
    }
    Publisher pub{p};
    pub.frame = 5;
    FlvAudio a;
    a.kind = FlvAudio::Kind::kConfig;
    a.data = kAsc;
    REQUIRE(p.AddAudio(100, a, 100).ok());
    pub.Run(3000);
    REQUIRE(p.has_media());
    auto init = p.Init(0);
    REQUIRE(init);
    CHECK(init->find("avc1") != std::string::npos);
    CHECK(init->find("mp4a") != std::string::npos);
    // The buffered frames were not lost: the first part starts at the first keyframe.
    CHECK(Tfdts(*p.Part(0, 0))[kVideoTrackId] == 0);
  }
  SECTION("video without audio starts after a second of waiting") {
    Packager p(PackagerOptions{});
    p.BeginSession();
    FlvVideo c;
    c.kind = FlvVideo::Kind::kConfig;
    c.data = kAvcC;
    REQUIRE(p.AddVideo(0, c, 0).ok());
    std::string nal = std::string("\x00\x00\x00\x05", 4) + "frame";
    for (int i = 0; i < 90; ++i) {
      FlvVideo v;
      v.keyframe = i % 30 == 0;
      v.data = nal;
      REQUIRE(p.AddVideo(static_cast<uint32_t>(i * 1000 / 30), v, i * 33).ok());
    }
    REQUIRE(p.has_media());
    CHECK(p.Init(0)->find("mp4a") == std::string::npos);
  }
  SECTION("a long GOP still gives segments within the target duration") {
    Packager p(PackagerOptions{});
    p.BeginSession();
    Publisher pub{p};
    pub.gop = 300;  // 10 s
    pub.Configs();
    pub.Run(12000);
    for (double d : Values(p.Playlist(false), "#EXTINF:", "")) CHECK(d <= 3.0);
  }
  SECTION("jumps of the source clock keep the timeline contiguous and the targets kept") {
    Packager p(PackagerOptions{});
    p.BeginSession();
    Publisher pub{p};
    pub.Configs();
    pub.Run(3000);
    pub.base_ms = 3'600'000;  // an hour later, as after a paused encoder
    pub.Run(3000);
    pub.base_ms = 10 - 6000;  // back to the start, as after an encoder restart on the same connection
    pub.Run(3000);
    std::string pl = p.Playlist(false);
    INFO(pl);
    for (double d : Values(pl, "#EXT-X-PART:", "DURATION")) CHECK(d <= 0.334);
    for (double d : Values(pl, "#EXTINF:", "")) CHECK(d <= 3.0);
    uint64_t prev_v = 0, prev_a = 0;
    for (int64_t msn = MediaSequence(pl); p.Segment(msn); ++msn) {
      for (int i = 0; p.Part(msn, i); ++i) {
        auto t = Tfdts(*p.Part(msn, i));
        if (t.count(kVideoTrackId)) {
          CHECK(t[kVideoTrackId] >= prev_v);
          CHECK(t[kVideoTrackId] - prev_v < 90000);  // no hour-long hole
          prev_v = t[kVideoTrackId];
        }
        if (t.count(kAudioTrackId)) {
          CHECK(t[kAudioTrackId] >= prev_a);
          prev_a = t[kAudioTrackId];
        }
      }
    }
  }
  SECTION("garbage configuration is an error, not a crash") {
    Packager p(PackagerOptions{});
    FlvVideo v;
    v.kind = FlvVideo::Kind::kConfig;
    v.data = "junk";
    CHECK_FALSE(p.AddVideo(0, v, 0).ok());
    FlvVideo f;
    f.keyframe = true;
    f.data = "frame";
    CHECK(p.AddVideo(0, f, 0).ok());  // dropped: no configuration yet
    CHECK_FALSE(p.has_media());
    CHECK(p.Playlist(false).empty());
  }
}
