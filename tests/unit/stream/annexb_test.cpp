#include <catch2/catch.hpp>

#include "lib/stream/annexb.hpp"
#include "lib/stream/flv.hpp"

using namespace collab::stream;

namespace {

std::string Hex(const char* h) {
  std::string out;
  for (size_t i = 0; h[i] && h[i + 1]; i += 2) out.push_back(static_cast<char>(std::stoi(std::string(h + i, 2), nullptr, 16)));
  return out;
}

const std::string kSps = Hex("6764001eacb201405ff2e022000003000200000300791e2c5c90");
const std::string kPps = Hex("68ebc3cb22c0");

}  // namespace

TEST_CASE("annexb: start codes of three and four bytes, parameter sets pulled out") {
  std::string au = Hex("00000001") + Hex("0910") + Hex("00000001") + kSps + Hex("000001") + kPps + Hex("000001") +
                   Hex("6588840021") + Hex("00000001") + Hex("419a");
  auto nals = SplitAnnexB(au);
  REQUIRE(nals.size() == 5);
  CHECK(nals[1] == kSps);
  auto conv = ConvertAnnexB(au);
  CHECK(conv.idr);
  CHECK(conv.sps == kSps);
  CHECK(conv.pps == kPps);
  CHECK(conv.avcc == Hex("00000005") + Hex("6588840021") + Hex("00000002") + Hex("419a"));
  auto avcc = MakeAvcC(conv.sps, conv.pps);
  REQUIRE(avcc.ok());
  auto parsed = ParseAvcConfig(*avcc);
  REQUIRE(parsed.ok());
  CHECK(parsed->width == 640);
  CHECK(parsed->height == 360);
  CHECK(parsed->nal_length_size == 4);
}

TEST_CASE("annexb: odd input") {
  CHECK(SplitAnnexB("").empty());
  CHECK(SplitAnnexB(Hex("000000")).empty());
  CHECK(SplitAnnexB(Hex("00000100000001")).empty());
  CHECK(ConvertAnnexB(Hex("0102030405")).avcc.empty());  // no start code: nothing
  CHECK_FALSE(MakeAvcC("", kPps).ok());
  CHECK_FALSE(MakeAvcC(kSps, "").ok());
}

TEST_CASE("adts: frames split, AudioSpecificConfig derived, bad headers refused") {
  // AAC LC, 44.1 kHz, mono, no CRC: header + 3 payload bytes (frame length 10).
  std::string frame = Hex("fff15040015ffc") + "abc";
  std::vector<AdtsFrame> frames;
  const std::string two = frame + frame;  // frames point into it
  REQUIRE(SplitAdts(two, frames).ok());
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].data == "abc");
  CHECK(frames[0].sample_rate == 44100);
  auto asc = ParseAacConfig(frames[0].asc);
  REQUIRE(asc.ok());
  CHECK(asc->object_type == 2);
  CHECK(asc->sample_rate == 44100);
  CHECK(asc->channels == 1);
  frames.clear();
  CHECK_FALSE(SplitAdts(frame.substr(0, 8), frames).ok());   // frame longer than the data
  CHECK_FALSE(SplitAdts("\x12\x34\x56\x78\x9a\xbc\xde", frames).ok());  // no sync word
  frames.clear();
  const std::string junk = frame + "xx";
  CHECK_FALSE(SplitAdts(junk, frames).ok());  // trailing junk
  CHECK(frames.size() == 1);                           // what came before is kept
  std::string reserved = frame;
  reserved[2] = static_cast<char>(0x50 | (13 << 2));
  frames.clear();
  CHECK_FALSE(SplitAdts(reserved, frames).ok());
}
