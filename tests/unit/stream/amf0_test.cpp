#include <catch2/catch.hpp>

#include "lib/stream/amf0.hpp"

using collab::stream::Amf0Value;
using collab::stream::DecodeAmf0;
using collab::stream::EncodeAmf0;

TEST_CASE("amf0 round-trips the values of a connect command") {
  std::string out;
  EncodeAmf0(Amf0Value::String("connect"), out);
  EncodeAmf0(Amf0Value::Number(1), out);
  EncodeAmf0(Amf0Value::Object({{"app", Amf0Value::String("live")},
                                {"fpad", Amf0Value::Bool(false)},
                                {"nested", Amf0Value::Object({{"x", Amf0Value::Null()}})}}),
             out);
  EncodeAmf0(Amf0Value::Array({Amf0Value::Number(2.5), Amf0Value::Undefined()}), out);
  auto v = DecodeAmf0(out);
  REQUIRE(v.ok());
  REQUIRE(v->size() == 4);
  CHECK((*v)[0].string() == "connect");
  CHECK((*v)[1].number() == 1);
  CHECK((*v)[2].GetString("app") == "live");
  CHECK_FALSE((*v)[2].Find("fpad")->boolean());
  CHECK((*v)[2].Find("nested")->Find("x")->type() == Amf0Value::Type::kNull);
  CHECK((*v)[3].items().size() == 2);
  CHECK((*v)[3].items()[0].number() == 2.5);
}

TEST_CASE("amf0 decodes ECMA arrays, dates and long strings") {
  std::string d;
  d += std::string("\x08\x00\x00\x00\x01\x00\x01k\x02\x00\x01v\x00\x00\x09", 15);
  d += std::string("\x0b\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 11);
  d += std::string("\x0c\x00\x00\x00\x02hi", 7);
  auto v = DecodeAmf0(d);
  REQUIRE(v.ok());
  REQUIRE(v->size() == 3);
  CHECK((*v)[0].GetString("k") == "v");
  CHECK((*v)[1].is_number());
  CHECK((*v)[2].string() == "hi");
}

TEST_CASE("amf0 refuses truncated, unknown and hostile input") {
  const std::vector<std::string> bad = {
      std::string("\x00\x01\x02", 3),            // truncated number
      std::string("\x02\x00\x05" "ab", 5),      // string longer than the data
      std::string("\x03\x00\x01k", 4),           // object without a value
      std::string("\x03", 1),                    // object without end
      std::string("\x0a\xff\xff\xff\xff", 5),    // strict array claiming 4 billion items
      std::string("\x0c\xff\xff\xff\xff", 5),    // long string past the end
      std::string("\x11", 1),                    // AMF3 switch, unsupported
      std::string("\x01", 1),                    // truncated boolean
  };
  for (const auto& b : bad) CHECK_FALSE(DecodeAmf0(b).ok());
  // Nesting deeper than the limit fails instead of recursing without bound.
  std::string deep;
  for (int i = 0; i < 1000; ++i) deep += std::string("\x03\x00\x01k", 4);
  deep += "\x05";
  CHECK_FALSE(DecodeAmf0(deep).ok());
  // More values than the limit.
  std::string many(5000, '\x05');
  CHECK_FALSE(DecodeAmf0(many).ok());
}
