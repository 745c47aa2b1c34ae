#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "lib/store/keys.hpp"

using namespace collab::store;

TEST_CASE("big-endian integers round-trip and sort as bytes", "[keys]") {
  std::string a, b;
  AppendU64BE(a, 255);
  AppendU64BE(b, 256);
  CHECK(a.size() == 8);
  CHECK(a < b);
  CHECK(ReadU64BE(a) == 255u);
  CHECK(ReadU64BE(b) == 256u);
  std::string m;
  AppendU64BE(m, 0x0102030405060708ull);
  CHECK(m == std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  std::string c;
  AppendU32BE(c, 0xdeadbeef);
  CHECK(ReadU32BE(c) == 0xdeadbeefu);
  CHECK(ReadU64BE(std::string(7, 'x')) == std::nullopt);
  CHECK(ReadU64BE(m, 1) == std::nullopt);
  CHECK(ReadU32BE(m, 4) == 0x05060708u);
  CHECK(ReadU32BE(m, 9) == std::nullopt);

  std::vector<uint64_t> nums = {1ull << 40, 0, 256, 255, 65535, 1, ~0ull};
  std::vector<std::string> enc;
  for (auto n : nums) {
    std::string s;
    AppendU64BE(s, n);
    enc.push_back(s);
  }
  std::sort(nums.begin(), nums.end());
  std::sort(enc.begin(), enc.end());
  for (size_t i = 0; i < nums.size(); ++i) CHECK(ReadU64BE(enc[i]) == nums[i]);
}

TEST_CASE("KeyBuilder composes keys and PrefixUpperBound bounds a prefix", "[keys]") {
  std::string k = KeyBuilder().U64(7).U64(300).Take();
  CHECK(k.size() == 16);
  CHECK(ReadU64BE(k, 0) == 7u);
  CHECK(ReadU64BE(k, 8) == 300u);
  CHECK(KeyBuilder().Str("ab").Raw("c").key() == std::string("\0\0\0\x02" "abc", 7));
  CHECK(KeyBuilder().Byte(0xff).U32(1).key() == std::string("\xff\0\0\0\x01", 5));

  CHECK(PrefixUpperBound("abc") == "abd");
  CHECK(PrefixUpperBound(std::string("a\xff", 2)) == "b");
  CHECK(PrefixUpperBound(std::string("\xff\xff", 2)).empty());
  CHECK(PrefixUpperBound("").empty());
  std::string room = KeyBuilder().U64(7).Take();
  std::string ub = PrefixUpperBound(room);
  CHECK(KeyBuilder().U64(7).U64(~0ull).key() < ub);
  CHECK(KeyBuilder().U64(8).key() == ub);
}
