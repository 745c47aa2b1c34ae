// The slate's timing and its sessions in the packager: real encoded H.264/AAC (made by
// lib/media), fed on a simulated clock.
#include <catch2/catch.hpp>

#include <string>

#include "lib/media/slate.hpp"
#include "lib/stream/packager.hpp"
#include "lib/stream/slate.hpp"

using namespace collab::stream;

namespace {

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// A publisher made of real encoded media: a 320x240 GOP of 10 frames at 10 fps, AAC at 44.1 kHz.
struct Publisher {
  SlateLoop media;
  uint32_t ts = 0;
  int64_t frame = 0, audio = 0;

  Publisher() {
    collab::media::SlateRequest r;
    r.width = 320;
    r.height = 240;
    r.gop_frames = 10;
    r.frame_us = 100000;
    r.audio_sample_rate = 44100;
    auto m = collab::media::MakeSlate(r);
    REQUIRE(m.ok());
    SlateCadence c{1, 100000, 10};
    auto l = MakeSlateLoop(*m, c, 100);
    REQUIRE(l.ok());
    media = std::move(*l);
  }

  void Start(Packager& p, Slate& s) {
    p.BeginSession();
    FlvVideo v;
    v.kind = FlvVideo::Kind::kConfig;
    v.data = media.avcc;
    s.ObserveVideo(v);
    REQUIRE(p.AddVideo(ts, v, 1'800'000'000'000 + ts).ok());
    FlvAudio a;
    a.kind = FlvAudio::Kind::kConfig;
    a.data = media.asc;
    s.ObserveAudio(a);
    REQUIRE(p.AddAudio(ts, a, 1'800'000'000'000 + ts).ok());
  }

  void Run(Packager& p, Slate& s, int ms) {
    uint32_t end = ts + static_cast<uint32_t>(ms);
    for (; ts < end; ts += 10) {
      while (audio * 1024 * 1000 / 44100 <= ts) {
        FlvAudio a;
        a.data = media.aac_frame;
        s.ObserveAudio(a);
        REQUIRE(p.AddAudio(ts, a, 1'800'000'000'000 + ts).ok());
        ++audio;
      }
      if (ts % 100 == 0) {
        FlvVideo v;
        v.keyframe = frame % 10 == 0;
        v.data = media.frames[static_cast<size_t>(frame % 10)];
        s.ObserveVideo(v);
        REQUIRE(p.AddVideo(ts, v, 1'800'000'000'000 + ts).ok());
        ++frame;
      }
    }
  }
};

std::vector<double> PartDurations(const std::string& playlist) {
  std::vector<double> out;
  const std::string tag = "#EXT-X-PART:DURATION=";
  for (size_t p = playlist.find(tag); p != std::string::npos; p = playlist.find(tag, p + 1))
    out.push_back(std::stod(playlist.substr(p + tag.size(), 12)));
  return out;
}

}  // namespace

TEST_CASE("the slate cadence fills parts and starts every segment on its IDR") {
  SlateCadence c = CadenceFor(334, 2000);
  CHECK(c.frames_per_part == 3);
  CHECK(c.frame_us == 111333);
  CHECK(c.gop_frames == 18);  // 6 parts of 334 ms: 2004 ms, just over the segment target
  c = CadenceFor(101, 500);
  CHECK(c.frames_per_part == 1);
  CHECK(c.gop_frames == 5);
  c = CadenceFor(2001, 2000);
  CHECK(c.frames_per_part == 20);
  CHECK(c.gop_frames == 20);
}

TEST_CASE("while the publisher is away the slate keeps the playlist moving in real time") {
  PackagerOptions po;
  po.window_segments = 30;
  Packager p(po);
  Slate s("cam1");
  Publisher pub;
  pub.Start(p, s);
  pub.Run(p, s, 4000);
  p.EndSession();
  std::string before = p.Playlist(false);
  CHECK(Count(before, "#EXT-X-DISCONTINUITY\n") == 0);
  uint64_t parts_before = p.parts_produced();

  s.Begin(nullptr, p, SlateOptions{}, 100'000);  // inline: no loop
  REQUIRE(s.active());
  CHECK(p.parts_produced() == parts_before);  // nothing before the first Feed

  // Paced by the clock: about three parts a second, whatever the tick rate.
  int64_t now = 100'000;
  for (; now <= 103'000; now += 100) (void)s.Feed(p, now);
  uint64_t after3 = p.parts_produced() - parts_before;
  CHECK(after3 >= 8);
  CHECK(after3 <= 10);
  for (; now <= 110'000; now += 250) (void)s.Feed(p, now);
  uint64_t after10 = p.parts_produced() - parts_before;
  CHECK(after10 >= 29);
  CHECK(after10 <= 31);
  CHECK_FALSE(s.Feed(p, now - 250));  // fed up to there already: nothing new is due

  std::string during = p.Playlist(false);
  CHECK(Count(during, "#EXT-X-DISCONTINUITY\n") == 1);
  // Its own init segment: different parameter sets (the picture was encoded again).
  CHECK(Count(during, "#EXT-X-MAP:") == 2);
  for (double d : PartDurations(during)) CHECK(d <= p.part_target_ms() / 1000.0 + 1e-6);
  // Whole GOPs per segment: every slate segment is 6 parts of 334 ms.
  CHECK(Count(during, "#EXTINF:2.00400,") >= 3);

  // The publisher returns: the slate session ends and another discontinuity starts the live media.
  s.Stop(p, "the publisher is back");
  CHECK_FALSE(s.active());
  pub.Start(p, s);
  pub.Run(p, s, 3000);
  std::string back = p.Playlist(false);
  CHECK(Count(back, "#EXT-X-DISCONTINUITY\n") == 2);
  CHECK(Count(back, "#EXT-X-MAP:") == 3);
}

TEST_CASE("the slate ends after slate_max_s, and needs publisher media to exist") {
  Packager p(PackagerOptions{});
  Slate s("cam1");
  s.Begin(nullptr, p, SlateOptions{}, 0);
  CHECK_FALSE(s.active());  // the publisher never sent anything

  Publisher pub;
  pub.Start(p, s);
  pub.Run(p, s, 2500);
  p.EndSession();
  s.Begin(nullptr, p, SlateOptions{1500}, 0);
  REQUIRE(s.active());
  CHECK(s.Feed(p, 1000));
  CHECK(s.active());
  uint64_t parts = p.parts_produced();
  CHECK(s.Feed(p, 1500));
  CHECK_FALSE(s.active());
  CHECK(p.parts_produced() > parts);  // the last part was flushed when it ended
  CHECK_FALSE(s.Feed(p, 5000));
}

TEST_CASE("a slate of an audio-only stream is silence") {
  Packager p(PackagerOptions{});
  Slate s("radio");
  Publisher pub;
  FlvAudio a;
  a.kind = FlvAudio::Kind::kConfig;
  a.data = pub.media.asc;
  s.ObserveAudio(a);
  s.Begin(nullptr, p, SlateOptions{}, 0);
  REQUIRE(s.active());
  for (int64_t now = 0; now <= 4000; now += 100) (void)s.Feed(p, now);
  CHECK(p.has_media());
  std::string pl = p.Playlist(false);
  CHECK(Count(pl, "#EXTINF:") >= 1);
}
