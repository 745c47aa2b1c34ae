#include <catch2/catch.hpp>

#include "lib/base/json.hpp"

using collab::base::Json;

TEST_CASE("json parses and dumps a document", "[json]") {
  auto r = Json::Parse(R"( {"a": 1, "b": [true, false, null], "c": "x\ny", "d": -2.5e3, "e": {}} )");
  REQUIRE(r.ok());
  const Json& j = *r;
  CHECK(j.GetInt("a") == 1);
  CHECK(j.Find("b")->size() == 3);
  CHECK(j.GetString("c") == "x\ny");
  CHECK(j.Find("d")->as_double() == -2500.0);
  CHECK(j.Dump() == R"({"a":1,"b":[true,false,null],"c":"x\ny","d":-2500.0,"e":{}})");
  auto again = Json::Parse(j.Dump(2));
  REQUIRE(again.ok());
  CHECK(*again == j);
}

TEST_CASE("json keeps Japanese text and decodes surrogate pairs", "[json]") {
  auto r = Json::Parse(R"({"name":"岡山 太郎","emoji":"\ud83d\ude00","esc":"\u3042"})");
  REQUIRE(r.ok());
  CHECK(r->GetString("name") == "岡山 太郎");
  CHECK(r->GetString("emoji") == "\xF0\x9F\x98\x80");
  CHECK(r->GetString("esc") == "あ");
  CHECK(r->Dump() == "{\"name\":\"岡山 太郎\",\"emoji\":\"\xF0\x9F\x98\x80\",\"esc\":\"あ\"}");
}

TEST_CASE("json rejects bad input with a byte offset", "[json][bad-input]") {
  const char* bad[] = {"",          "{",         "[1,]",       "{\"a\" 1}",  "01",       "1.",     "-",
                       "tru",       "\"abc",     "\"\\x\"",    "\"\\ud800\"", "[1] 2",    "{1:2}",  "\"\x01\"",
                       "\"\xC0\xAF\"", "\"\xED\xA0\x80\"", "1e999",  "nul",     "[\"\xFF\"]"};
  for (const char* b : bad) {
    INFO(b);
    auto r = Json::Parse(b);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("invalid JSON at byte") == 0);
  }
}

TEST_CASE("json enforces depth and size limits", "[json][bad-input]") {
  std::string deep(100, '[');
  deep += std::string(100, ']');
  Json::ParseLimits lim;
  lim.max_depth = 10;
  CHECK_FALSE(Json::Parse(deep, lim).ok());
  lim.max_depth = 200;
  CHECK(Json::Parse(deep, lim).ok());
  lim.max_bytes = 4;
  CHECK_FALSE(Json::Parse("[1,2,3]", lim).ok());
}

TEST_CASE("json escapes control characters on output", "[json]") {
  Json j = Json::Obj({{"k", std::string("a\x01\"\\b", 5)}});
  CHECK(j.Dump() == R"({"k":"a\u0001\"\\b"})");
}

TEST_CASE("json large integers stay exact", "[json]") {
  auto r = Json::Parse("[9007199254740993, -9223372036854775808, 18446744073709551616]");
  REQUIRE(r.ok());
  CHECK(r->as_array()[0].as_int() == 9007199254740993LL);
  CHECK(r->as_array()[1].is_int());
  CHECK_FALSE(r->as_array()[2].is_int());  // beyond int64: kept as a double
}

TEST_CASE("json numbers beyond int64 saturate when read as integers", "[json][bad-input]") {
  auto j = Json::Parse(R"({"big": 777777777777777777773, "neg": -1e300, "ok": 12.9, "int": 42})");
  REQUIRE(j.ok());
  CHECK(j->Find("big")->as_int() == INT64_MAX);
  CHECK(j->Find("neg")->as_int() == INT64_MIN);
  CHECK(j->Find("ok")->as_int() == 12);
  CHECK(j->Find("int")->as_int() == 42);
}
