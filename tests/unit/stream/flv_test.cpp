#include <catch2/catch.hpp>

#include "lib/stream/flv.hpp"

using namespace collab::stream;

namespace {

std::string Hex(const char* h) {
  std::string out;
  for (size_t i = 0; h[i] && h[i + 1]; i += 2) out.push_back(static_cast<char>(std::stoi(std::string(h + i, 2), nullptr, 16)));
  return out;
}

// avcC of libx264 High profile 640x360, as ffmpeg sends it.
const std::string kAvcC = Hex("0164001effe1001a6764001eacb201405ff2e022000003000200000300791e2c5c9001000668ebc3cb22c0fdf8f800");

}  // namespace

TEST_CASE("flv: avcC gives profile, level, NAL length size and the picture size from the SPS") {
  auto c = ParseAvcConfig(kAvcC);
  REQUIRE(c.ok());
  CHECK(c->profile == 100);
  CHECK(c->level == 30);
  CHECK(c->nal_length_size == 4);
  CHECK(c->width == 640);
  CHECK(c->height == 360);
  CHECK(c->Codec() == "avc1.64001e");
}

TEST_CASE("flv: broken avcC records are refused") {
  CHECK_FALSE(ParseAvcConfig("").ok());
  CHECK_FALSE(ParseAvcConfig(kAvcC.substr(0, 10)).ok());
  std::string v2 = kAvcC;
  v2[0] = 2;
  CHECK_FALSE(ParseAvcConfig(v2).ok());
  std::string no_sps = Hex("0164001effe00100");
  CHECK_FALSE(ParseAvcConfig(no_sps).ok());
  // A garbage SPS still parses as a record; only the size is unknown.
  std::string junk = Hex("0164001effe10004670000000100020000");
  auto c = ParseAvcConfig(junk);
  REQUIRE(c.ok());
  CHECK(c->width == 0);
}

TEST_CASE("flv: AudioSpecificConfig") {
  auto c = ParseAacConfig(Hex("1208"));
  REQUIRE(c.ok());
  CHECK(c->object_type == 2);
  CHECK(c->sample_rate == 44100);
  CHECK(c->channels == 1);
  CHECK(c->Codec() == "mp4a.40.2");
  auto s = ParseAacConfig(Hex("1190"));
  REQUIRE(s.ok());
  CHECK(s->sample_rate == 48000);
  CHECK(s->channels == 2);
  CHECK_FALSE(ParseAacConfig("").ok());
  CHECK_FALSE(ParseAacConfig(Hex("17")).ok());
  CHECK_FALSE(ParseAacConfig(Hex("16")).ok());    // truncated
  CHECK_FALSE(ParseAacConfig(Hex("0788")).ok());  // object type 0
  CHECK_FALSE(ParseAacConfig(Hex("16ff")).ok());  // reserved frequency index 13
}

TEST_CASE("flv: tag bodies") {
  const std::string tag("\x17\x01\xff\xff\xfe" "abc", 8);
  auto v = ParseFlvVideo(tag);
  REQUIRE(v.ok());
  CHECK(v->keyframe);
  CHECK(v->kind == FlvVideo::Kind::kFrame);
  CHECK(v->composition_ms == -2);
  CHECK(v->data == "abc");
  auto cfg = ParseFlvVideo(std::string("\x17\x00\x00\x00\x00", 5));
  REQUIRE(cfg.ok());
  CHECK(cfg->kind == FlvVideo::Kind::kConfig);
  CHECK_FALSE(ParseFlvVideo("").ok());
  CHECK_FALSE(ParseFlvVideo(std::string("\x12\x01\x00\x00\x00", 5)).ok());  // Sorenson
  CHECK_FALSE(ParseFlvVideo(std::string("\x17\x01\x00", 3)).ok());          // truncated
  CHECK_FALSE(ParseFlvVideo(std::string("\x17\x07\x00\x00\x00", 5)).ok());  // packet type
  CHECK_FALSE(ParseFlvVideo(std::string("\x90\x00\x00\x00\x00", 5)).ok());  // enhanced RTMP
  const std::string atag("\xaf\x01xy", 4);
  auto a = ParseFlvAudio(atag);
  REQUIRE(a.ok());
  CHECK(a->kind == FlvAudio::Kind::kFrame);
  CHECK(a->data == "xy");
  CHECK_FALSE(ParseFlvAudio(std::string("\x2f\x01", 2)).ok());  // MP3
  CHECK_FALSE(ParseFlvAudio(std::string("\xaf", 1)).ok());
  CHECK_FALSE(ParseFlvAudio(std::string("\xaf\x05", 2)).ok());
}
