#include <catch2/catch.hpp>

#include <string>

#include "lib/base/utf8.hpp"

using collab::base::DecodeUtf8;
using collab::base::IsValidUtf8;

TEST_CASE("DecodeUtf8 gives the length and code point of well-formed sequences", "[base][utf8]") {
  uint32_t cp = 0;
  CHECK(DecodeUtf8("A", 0, &cp) == 1);
  CHECK(cp == 0x41);
  CHECK(DecodeUtf8("\xc3\xa9", 0, &cp) == 2);  // é
  CHECK(cp == 0xE9);
  CHECK(DecodeUtf8("x\xe6\x97\xa5", 1, &cp) == 3);  // 日 after an ASCII byte
  CHECK(cp == 0x65E5);
  CHECK(DecodeUtf8("\xf0\x9f\x91\x8d", 0, &cp) == 4);  // 👍
  CHECK(cp == 0x1F44D);
  CHECK(DecodeUtf8("\xf4\x8f\xbf\xbf", 0, &cp) == 4);  // U+10FFFF, the last code point
  CHECK(cp == 0x10FFFF);
}

TEST_CASE("DecodeUtf8 refuses every ill-formed sequence of RFC 3629", "[base][utf8]") {
  uint32_t cp = 0;
  const char* bad[] = {
      "\x80",              // lone continuation byte
      "\xc0\xaf",          // overlong (C0/C1 can only be overlong)
      "\xe0\x80\xaf",      // overlong 3-byte
      "\xf0\x80\x80\xaf",  // overlong 4-byte
      "\xed\xa0\x80",      // surrogate U+D800
      "\xed\xbf\xbf",      // surrogate U+DFFF
      "\xf4\x90\x80\x80",  // above U+10FFFF
      "\xf5\x80\x80\x80",  // F5 lead byte
      "\xff",              // never in UTF-8
      "\xe3\x81",          // truncated by the end
      "\xe3\x41\x81",      // a non-continuation inside
  };
  for (const char* s : bad) {
    INFO(s);
    CHECK(DecodeUtf8(s, 0, &cp) == 0);
    CHECK_FALSE(IsValidUtf8(s));
  }
}

TEST_CASE("IsValidUtf8 checks whole strings", "[base][utf8]") {
  CHECK(IsValidUtf8(""));
  CHECK(IsValidUtf8("plain ascii"));
  CHECK(IsValidUtf8("岡山県庁 情報政策課 👍"));
  CHECK(IsValidUtf8(std::string("nul\0inside", 10)));  // NUL is valid UTF-8; callers refuse controls
  CHECK_FALSE(IsValidUtf8("ok then \xe3"));
  CHECK_FALSE(IsValidUtf8("\xed\xa0\x80 surrogate first"));
}
