// The ABR ladder on real H.264: a 320x240 test pattern made by ffmpeg (keyframes every 5 frames,
// read through our own demuxer) goes through a 120p rung; the rung decodes at 120 lines, and its
// IDRs sit exactly where the source's keyframes are.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "lib/media/demux.hpp"
#include "lib/media/slate.hpp"
#include "lib/media/video_ladder.hpp"

using namespace collab::media;

namespace {

// 15 frames at 10 fps, a keyframe every 5, Annex B with in-band parameter sets (MPEG-TS).
std::vector<Packet> TestPattern() {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("ladder_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string file = (dir / "pattern.ts").string();
  std::string cmd =
      "ffmpeg -hide_banner -nostdin -loglevel error -y -f lavfi -i testsrc2=size=320x240:rate=10 "
      "-frames:v 15 -c:v libx264 -preset ultrafast -bf 0 -g 5 -keyint_min 5 -sc_threshold 0 -f mpegts '" +
      file + "'";
  REQUIRE(std::system(cmd.c_str()) == 0);
  auto d = Demuxer::Open(file, "mpegts", {}, nullptr);
  REQUIRE(d.ok());
  std::vector<Packet> out;
  Packet p;
  while ((*d)->Read(&p))
    if (p.codec == Packet::Codec::kH264) out.push_back(p);
  std::filesystem::remove_all(dir);
  REQUIRE(out.size() == 15);
  return out;
}

}  // namespace

TEST_CASE("a 120p rung decodes at 120 lines with IDRs where the source has keyframes") {
  std::vector<Packet> src = TestPattern();
  auto ladder = VideoLadder::Create({{120, 150}, {480, 1000}});
  REQUIRE(ladder.ok());
  std::vector<LadderPacket> out;
  REQUIRE((*ladder)->Configure("", out).ok());
  std::vector<int64_t> source_keys;
  for (const Packet& p : src) {
    if (p.key) source_keys.push_back(p.dts_ms + p.cts_ms);
    CHECK((*ladder)->Add(p.data, p.dts_ms, p.dts_ms + p.cts_ms, p.key, out).ok());
  }
  (*ladder)->Flush(out);
  REQUIRE(source_keys.size() == 3);

  // The 480p rung is not below the source's 240 lines: skipped, nothing made.
  std::vector<std::string> units;
  std::vector<int64_t> rung_keys;
  int64_t last_dts = -1;
  for (const LadderPacket& p : out) {
    REQUIRE(p.rung == 0);
    CHECK(p.dts_ms == p.pts_ms);
    CHECK(p.dts_ms > last_dts);
    last_dts = p.dts_ms;
    if (p.key) rung_keys.push_back(p.pts_ms);
    units.push_back(p.annexb);
  }
  CHECK(units.size() == 15);
  CHECK(rung_keys == source_keys);
  CHECK((*ladder)->height(0) == 120);
  CHECK((*ladder)->width(0) == 160);
  CHECK((*ladder)->errors() == 0);
  REQUIRE(!(*ladder)->parameter_sets(0).empty());
  auto decoded = DecodeH264((*ladder)->parameter_sets(0), units);
  // Annex B parameter sets work as a decoder configuration too (FFmpeg takes either form).
  REQUIRE(decoded.ok());
  CHECK(decoded->frames == 15);
  CHECK(decoded->width == 160);
  CHECK(decoded->height == 120);
  CHECK(decoded->mean_luma > 20);  // a picture, not black
}

TEST_CASE("the ladder refuses bad rungs and survives garbage input") {
  CHECK(!VideoLadder::Create({}).ok());
  CHECK(!VideoLadder::Create({{0, 100}}).ok());
  CHECK(!VideoLadder::Create({{120, 0}}).ok());
  auto ladder = VideoLadder::Create({{120, 150}});
  REQUIRE(ladder.ok());
  std::vector<LadderPacket> out;
  (void)(*ladder)->Configure(std::string("\x01\x02", 2), out);  // refused now or at the first frame
  std::string junk(200, '\x55');
  (void)(*ladder)->Add(junk, 0, 0, true, out);
  (void)(*ladder)->Add("", 40, 40, false, out);
  (*ladder)->Flush(out);
  CHECK(out.empty());
  // After garbage, a clean session still works.
  std::vector<Packet> src = TestPattern();
  REQUIRE((*ladder)->Configure("", out).ok());
  for (const Packet& p : src) (void)(*ladder)->Add(p.data, p.dts_ms, p.dts_ms + p.cts_ms, p.key, out);
  (*ladder)->Flush(out);
  CHECK(out.size() == 15);
}
