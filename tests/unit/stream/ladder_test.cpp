#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "lib/base/exit_codes.hpp"
#include "lib/stream/ladder.hpp"

using collab::stream::ParseLadder;

TEST_CASE("ParseLadder reads HEIGHTp:BITRATE entries, highest first", "[stream][ladder]") {
  auto r = ParseLadder({"180p:300k", "720p:3M", "360p:800k"});
  REQUIRE(r.ok());
  REQUIRE(r->size() == 3);
  CHECK((*r)[0].height == 720);
  CHECK((*r)[0].bitrate_kbps == 3000);
  CHECK((*r)[1].height == 360);
  CHECK((*r)[1].bitrate_kbps == 800);
  CHECK((*r)[2].height == 180);
  CHECK((*r)[2].Name() == "r180");
  auto none = ParseLadder({});
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEST_CASE("ParseLadder refuses bad entries with a config error naming them", "[stream][ladder]") {
  const std::vector<std::string> bad = {
      "",            "360p",        "360:800k",  "p:800k",     "360p:",         "360p:800",  "360p:800x",
      "360p:-800k",  "361p:800k",   "0p:800k",   "99999p:1M",  "360p:1G",       "360p:10k",  "abcp:800k",
      "360p:8e2k",   "720p:2.5M",   " 360p:800k",  "360p:800k ", "360p::800k", "360p:800k:1", "\xff\xfep:1M",
  };
  for (const auto& e : bad) {
    auto r = ParseLadder({e});
    INFO("entry: " << e);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == collab::base::kExitConfig);
    CHECK_FALSE(r.error().message.empty());
  }
  // Repeated heights and too many rungs.
  CHECK_FALSE(ParseLadder({"360p:800k", "360p:500k"}).ok());
  CHECK_FALSE(ParseLadder({"144p:100k", "180p:200k", "240p:300k", "360p:400k", "480p:500k", "540p:600k", "720p:1M"}).ok());
}
