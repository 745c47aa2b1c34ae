// The slate encoder on real H.264: a keyframe made by ffmpeg from a lavfi test pattern (through
// our own demuxer), decoded, dimmed and encoded again; bad input falls back to a dark picture.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "lib/media/demux.hpp"
#include "lib/media/slate.hpp"

using namespace collab::media;

namespace {

// The first keyframe of a 320x240 test pattern, Annex B with its parameter sets (MPEG-TS).
std::string TestKeyframe() {
  static std::string cached;
  if (!cached.empty()) return cached;
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("slate_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string file = (dir / "pattern.ts").string();
  std::string cmd =
      "ffmpeg -hide_banner -nostdin -loglevel error -y -f lavfi -i testsrc2=size=320x240:rate=10 "
      "-frames:v 5 -c:v libx264 -preset ultrafast -g 5 -f mpegts '" +
      file + "'";
  REQUIRE(std::system(cmd.c_str()) == 0);
  auto d = Demuxer::Open(file, "mpegts", {}, nullptr);
  REQUIRE(d.ok());
  Packet p;
  while ((*d)->Read(&p)) {
    if (p.codec == Packet::Codec::kH264 && p.key) {
      cached = p.data;
      break;
    }
  }
  std::filesystem::remove_all(dir);
  REQUIRE(!cached.empty());
  return cached;
}

}  // namespace

TEST_CASE("a slate from a real keyframe is the same picture, dimmed, as a closed GOP") {
  std::string key = TestKeyframe();
  auto source = DecodeH264("", {key});
  REQUIRE(source.ok());
  CHECK(source->frames == 1);
  CHECK(source->width == 320);
  CHECK(source->height == 240);

  SlateRequest r;
  r.keyframe = key;
  r.gop_frames = 6;
  r.frame_us = 100000;
  r.audio_sample_rate = 44100;
  r.audio_channels = 2;
  auto slate = MakeSlate(r);
  REQUIRE(slate.ok());
  CHECK(slate->from_keyframe);
  CHECK(slate->width == 320);
  CHECK(slate->height == 240);
  REQUIRE(slate->video_frames.size() == 6);
  // Still picture: every P-frame is a fraction of the IDR.
  for (size_t i = 1; i < slate->video_frames.size(); ++i)
    CHECK(slate->video_frames[i].size() * 4 < slate->video_frames[0].size());

  auto decoded = DecodeH264(slate->video_headers, slate->video_frames);
  REQUIRE(decoded.ok());
  CHECK(decoded->frames == 6);
  CHECK(decoded->width == 320);
  CHECK(decoded->height == 240);
  CHECK(decoded->mean_luma < source->mean_luma * 0.6);
  CHECK(decoded->mean_luma > 16);  // dimmed, not black: the picture is still there

  // The GOP decodes on its own again after itself: that is how it is looped.
  std::vector<std::string> twice = slate->video_frames;
  twice.insert(twice.end(), slate->video_frames.begin(), slate->video_frames.end());
  auto looped = DecodeH264(slate->video_headers, twice);
  REQUIRE(looped.ok());
  CHECK(looped->frames == 12);

  // AAC-LC 44.1 kHz stereo: object type 2, frequency index 4, 2 channels.
  REQUIRE(slate->audio_config.size() >= 2);
  CHECK(static_cast<uint8_t>(slate->audio_config[0]) == 0x12);
  CHECK(static_cast<uint8_t>(slate->audio_config[1]) == 0x10);
  CHECK(!slate->audio_frame.empty());
  CHECK(slate->audio_frame.size() < 64);  // silence costs almost nothing
}

TEST_CASE("an undecodable or missing keyframe gives a dark picture of the stream's size") {
  SlateRequest r;
  r.keyframe = std::string(500, '\x17');
  r.width = 322;
  r.height = 181;  // odd: 4:2:0 needs even sides
  r.gop_frames = 3;
  r.audio_sample_rate = 0;
  auto slate = MakeSlate(r);
  REQUIRE(slate.ok());
  CHECK_FALSE(slate->from_keyframe);
  CHECK(slate->width == 322);
  CHECK(slate->height == 180);
  CHECK(slate->audio_config.empty());
  auto decoded = DecodeH264(slate->video_headers, slate->video_frames);
  REQUIRE(decoded.ok());
  CHECK(decoded->frames == 3);
  CHECK(decoded->mean_luma == Approx(24).margin(3));

  r.keyframe.clear();
  r.width = r.height = 0;
  slate = MakeSlate(r);
  REQUIRE(slate.ok());
  CHECK(slate->width == 640);
  CHECK(slate->height == 360);

  // A keyframe claiming more pixels than a slate may use is not decoded.
  r.width = 100000;
  r.height = 100000;
  slate = MakeSlate(r);
  REQUIRE(slate.ok());
  CHECK(slate->width == 640);
}

TEST_CASE("audio-only slates, and requests with nothing to make") {
  SlateRequest r;
  r.video = false;
  r.audio_sample_rate = 48000;
  r.audio_channels = 1;
  auto slate = MakeSlate(r);
  REQUIRE(slate.ok());
  CHECK(slate->video_frames.empty());
  CHECK(slate->video_headers.empty());
  CHECK(!slate->audio_frame.empty());

  r.audio_sample_rate = 0;
  CHECK_FALSE(MakeSlate(r).ok());

  r.audio_sample_rate = 12345;  // not an AAC sampling frequency
  CHECK_FALSE(MakeSlate(r).ok());
}

TEST_CASE("decoding garbage is an error, not a crash") {
  CHECK_FALSE(DecodeH264("", {}).ok());
  CHECK_FALSE(DecodeH264("", {std::string(64, '\0')}).ok());
  CHECK_FALSE(
      DecodeH264(std::string("\x01\x64\x00", 3), {std::string("\x00\x00\x00\x05\x65\x88\x84\x00\x10", 9)}).ok());
  std::string key = TestKeyframe();
  auto truncated = DecodeH264("", {key.substr(0, key.size() / 8)});
  if (truncated.ok()) CHECK(truncated->width == 320);  // concealed or refused, never a crash
}
