#include <catch2/catch.hpp>

#include <string>

#include "lib/base/ascii.hpp"

using collab::base::EqualsIgnoreAsciiCase;
using collab::base::LowerAscii;

TEST_CASE("LowerAscii folds A-Z only", "[base][ascii]") {
  CHECK(LowerAscii('A') == 'a');
  CHECK(LowerAscii('Z') == 'z');
  CHECK(LowerAscii('@') == '@');  // just below 'A'
  CHECK(LowerAscii('[') == '[');  // just above 'Z'
  CHECK(LowerAscii('a') == 'a');
  CHECK(LowerAscii(std::string("VP8/90000")) == "vp8/90000");
  // UTF-8 bytes (full-width Ａ, then "Ä") are not touched, whatever the locale.
  CHECK(LowerAscii(std::string("\xEF\xBC\xA1 \xC3\x84 X")) == "\xEF\xBC\xA1 \xC3\x84 x");
  CHECK(LowerAscii(std::string_view("Sha-256")) == "sha-256");
  CHECK(LowerAscii("").empty());
}

TEST_CASE("EqualsIgnoreAsciiCase compares bytes with A-Z folded", "[base][ascii]") {
  CHECK(EqualsIgnoreAsciiCase("H264", "h264"));
  CHECK(EqualsIgnoreAsciiCase("", ""));
  CHECK_FALSE(EqualsIgnoreAsciiCase("h264", "h2640"));
  CHECK_FALSE(EqualsIgnoreAsciiCase("opus", "opuz"));
  CHECK_FALSE(EqualsIgnoreAsciiCase("@", "`"));  // 0x40 and 0x60 differ by the case bit but are not letters
  CHECK_FALSE(EqualsIgnoreAsciiCase("\xC3\x84", "\xC3\xA4"));  // Ä and ä: not ASCII, not folded
  static_assert(EqualsIgnoreAsciiCase("uid", "UID"));
}
