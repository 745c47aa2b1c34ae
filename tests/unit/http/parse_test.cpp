#include <catch2/catch.hpp>

#include "lib/http/parse.hpp"
#include "lib/http/server.hpp"

using namespace collab::http;

TEST_CASE("PercentDecode decodes escapes and rejects bad ones", "[http][parse]") {
  CHECK(*PercentDecode("a%20b", false) == "a b");
  CHECK(*PercentDecode("a+b", true) == "a b");
  CHECK(*PercentDecode("a+b", false) == "a+b");
  CHECK(*PercentDecode("%E6%97%A5%e6%9c%ac", false) == "日本");
  CHECK_FALSE(PercentDecode("%", false).ok());
  CHECK_FALSE(PercentDecode("%4", false).ok());
  CHECK_FALSE(PercentDecode("%G1", false).ok());
  CHECK_FALSE(PercentDecode("a%00b", false).ok());
  CHECK_FALSE(PercentDecode(std::string_view("a\0b", 3), false).ok());
  CHECK(PercentDecode("%zz", true).error().code == collab::base::kExitDataErr);
}

TEST_CASE("PercentEncode round-trips through PercentDecode", "[http][parse]") {
  std::string all;
  for (int c = 1; c < 256; ++c) all.push_back(static_cast<char>(c));
  std::string enc = PercentEncode(all);
  CHECK(enc.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%") ==
        std::string::npos);
  CHECK(*PercentDecode(enc, false) == all);
  CHECK(PercentEncode("a b/c") == "a%20b%2Fc");
}

TEST_CASE("ParseQuery splits, decodes and rejects bad escapes", "[http][parse]") {
  auto q = ParseQuery("a=1&b=x%20y&flag&&c=d=e&sp=a+b");
  REQUIRE(q.ok());
  REQUIRE(q->size() == 5);
  CHECK((*q)[0] == std::pair<std::string, std::string>("a", "1"));
  CHECK((*q)[1] == std::pair<std::string, std::string>("b", "x y"));
  CHECK((*q)[2] == std::pair<std::string, std::string>("flag", ""));
  CHECK((*q)[3] == std::pair<std::string, std::string>("c", "d=e"));
  CHECK((*q)[4] == std::pair<std::string, std::string>("sp", "a b"));
  CHECK(ParseQuery("")->empty());
  CHECK_FALSE(ParseQuery("a=%zz").ok());
  CHECK_FALSE(ParseQuery("%=1").ok());
  QueryList pairs = {{"q", "a&b=c"}, {"日", "x y"}};
  CHECK(*ParseQuery(BuildQuery(pairs)) == pairs);
}

TEST_CASE("RoutePattern matches literals, params and rest params", "[http][parse]") {
  auto p = RoutePattern::Parse("/api/v1/rooms/{id}/messages/{msg}");
  REQUIRE(p.ok());
  std::map<std::string, std::string> params;
  CHECK(p->Match("/api/v1/rooms/42/messages/7", &params));
  CHECK(params["id"] == "42");
  CHECK(params["msg"] == "7");
  CHECK_FALSE(p->Match("/api/v1/rooms/42/messages", &params));
  CHECK_FALSE(p->Match("/api/v1/rooms//messages/7", &params));
  CHECK_FALSE(p->Match("/api/v1/rooms/42/messages/7/", &params));
  CHECK_FALSE(p->Match("/api/v1/rooms/42/messages/7/x", &params));
  CHECK_FALSE(p->Match("api/v1/rooms/42/messages/7", &params));

  auto root = RoutePattern::Parse("/");
  REQUIRE(root.ok());
  CHECK(root->Match("/", nullptr));
  CHECK_FALSE(root->Match("/a", nullptr));

  auto rest = RoutePattern::Parse("/hls/{name}/{file*}");
  REQUIRE(rest.ok());
  CHECK(rest->Match("/hls/live/a/b/seg1.m4s", &params));
  CHECK(params["name"] == "live");
  CHECK(params["file"] == "a/b/seg1.m4s");
  CHECK_FALSE(rest->Match("/hls/live/", &params));
  CHECK_FALSE(rest->Match("/hls/live", &params));

  CHECK_FALSE(RoutePattern::Parse("").ok());
  CHECK_FALSE(RoutePattern::Parse("relative").ok());
  CHECK_FALSE(RoutePattern::Parse("/a/{}").ok());
  CHECK_FALSE(RoutePattern::Parse("/a/{x").ok());
  CHECK_FALSE(RoutePattern::Parse("/a/x}").ok());
  CHECK_FALSE(RoutePattern::Parse("/a/{x-y}").ok());
  CHECK_FALSE(RoutePattern::Parse("/a/{x}/{x}").ok());
  CHECK_FALSE(RoutePattern::Parse("/a/{x*}/b").ok());
  CHECK_FALSE(RoutePattern::Parse("/a/pre{x}").ok());
}

TEST_CASE("ParseContentLength is strict", "[http][parse]") {
  CHECK(*ParseContentLength("0") == 0);
  CHECK(*ParseContentLength(" 1234 ") == 1234);
  CHECK_FALSE(ParseContentLength("").ok());
  CHECK_FALSE(ParseContentLength("-1").ok());
  CHECK_FALSE(ParseContentLength("+1").ok());
  CHECK_FALSE(ParseContentLength("1,1").ok());
  CHECK_FALSE(ParseContentLength("12a").ok());
  CHECK_FALSE(ParseContentLength("0x10").ok());
  CHECK_FALSE(ParseContentLength("99999999999999999999").ok());
}

TEST_CASE("ChunkedDecoder decodes across arbitrary splits", "[http][parse]") {
  const std::string wire = "4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
  for (size_t split = 1; split < wire.size(); ++split) {
    ChunkedDecoder d(1 << 20);
    std::string out;
    size_t used = 0;
    auto a = d.Feed(std::string_view(wire).substr(0, split), &out);
    REQUIRE(a.ok());
    used += *a;
    if (!d.done()) {
      auto b = d.Feed(std::string_view(wire).substr(split), &out);
      REQUIRE(b.ok());
      used += *b;
    }
    CHECK(d.done());
    CHECK(out == "Wikipedia in\r\n\r\nchunks.");
    CHECK(wire.substr(used) == "NEXT");
  }
}

TEST_CASE("ChunkedDecoder rejects bad framing and oversize bodies", "[http][parse]") {
  auto feed = [](const std::string& wire, size_t max) {
    ChunkedDecoder d(max);
    std::string out;
    return d.Feed(wire, &out);
  };
  CHECK_FALSE(feed("x\r\n", 100).ok());
  CHECK_FALSE(feed("4\nWiki\r\n", 100).ok());
  CHECK_FALSE(feed("4\r\nWikiXX", 100).ok());
  CHECK_FALSE(feed("4 x\r\n", 100).ok());
  CHECK_FALSE(feed("ffffffffffffffffff\r\n", 100).ok());
  CHECK_FALSE(feed(std::string(5000, '1'), 100).ok());
  auto big = feed("65\r\n", 100);  // 0x65 = 101 bytes announced, 100 allowed
  REQUIRE_FALSE(big.ok());
  CHECK(big.error().message == ChunkedDecoder::kTooLarge);
  // Growing past the limit over several chunks.
  ChunkedDecoder d(10);
  std::string out;
  REQUIRE(d.Feed("6\r\nabcdef\r\n", &out).ok());
  auto over = d.Feed("6\r\n", &out);
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().message == ChunkedDecoder::kTooLarge);
}

TEST_CASE("MediaType and MimeTypeForPath", "[http][parse]") {
  CHECK(MediaType("Application/JSON; charset=utf-8") == "application/json");
  CHECK(MediaType("  text/html  ") == "text/html");
  CHECK(MediaType("") == "");
  CHECK(std::string(MimeTypeForPath("/a/index.html")) == "text/html; charset=utf-8");
  CHECK(std::string(MimeTypeForPath("app.js")) == "text/javascript; charset=utf-8");
  CHECK(std::string(MimeTypeForPath("mod.MJS")) == "text/javascript; charset=utf-8");
  CHECK(std::string(MimeTypeForPath("s.css")) == "text/css; charset=utf-8");
  CHECK(std::string(MimeTypeForPath("d.json")) == "application/json");
  CHECK(std::string(MimeTypeForPath("i.svg")) == "image/svg+xml");
  CHECK(std::string(MimeTypeForPath("i.png")) == "image/png");
  CHECK(std::string(MimeTypeForPath("i.jpg")) == "image/jpeg");
  CHECK(std::string(MimeTypeForPath("f.woff2")) == "font/woff2");
  CHECK(std::string(MimeTypeForPath("m.wasm")) == "application/wasm");
  CHECK(std::string(MimeTypeForPath("favicon.ico")) == "image/x-icon");
  CHECK(std::string(MimeTypeForPath("r.txt")) == "text/plain; charset=utf-8");
  CHECK(std::string(MimeTypeForPath("app.js.map")) == "application/json");
  CHECK(std::string(MimeTypeForPath("noext")) == "application/octet-stream");
  CHECK(std::string(MimeTypeForPath("dir.d/noext")) == "application/octet-stream");
  CHECK(std::string(MimeTypeForPath("trailing.")) == "application/octet-stream");
}

TEST_CASE("EtagMatches uses weak comparison over lists", "[http][parse]") {
  CHECK(EtagMatches("\"abc\"", "\"abc\""));
  CHECK(EtagMatches("W/\"abc\"", "\"abc\""));
  CHECK(EtagMatches("\"x\", W/\"abc\"", "\"abc\""));
  CHECK(EtagMatches("*", "\"abc\""));
  CHECK_FALSE(EtagMatches("\"abcd\"", "\"abc\""));
  CHECK_FALSE(EtagMatches("", "\"abc\""));
  CHECK_FALSE(EtagMatches("\"unterminated", "\"abc\""));
  CHECK(EtagMatches("\"a,b\"", "\"a,b\""));
}

TEST_CASE("HTTP dates format and parse", "[http][parse]") {
  CHECK(FormatHttpDate(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(FormatHttpDate(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
  CHECK(*ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
  for (int64_t t : {int64_t{0}, int64_t{951782400}, int64_t{1700000000}, int64_t{4102444799}})
    CHECK(*ParseHttpDate(FormatHttpDate(t)) == t);
  CHECK_FALSE(ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT").has_value());
  CHECK_FALSE(ParseHttpDate("Sun Nov  6 08:49:37 1994").has_value());
  CHECK_FALSE(ParseHttpDate("Sun, 06 Foo 1994 08:49:37 GMT").has_value());
  CHECK_FALSE(ParseHttpDate("Sun, 06 Nov 1994 25:49:37 GMT").has_value());
  CHECK_FALSE(ParseHttpDate("").has_value());
}

TEST_CASE("StaticRelativePath refuses traversal and dot-files", "[http][parse]") {
  CHECK(*StaticRelativePath("/") == "");
  CHECK(*StaticRelativePath("/a/b.js") == "a/b.js");
  CHECK(*StaticRelativePath("//a///b.js") == "a/b.js");
  CHECK(*StaticRelativePath("/dir/") == "dir");
  CHECK_FALSE(StaticRelativePath("/../etc/passwd").ok());
  CHECK_FALSE(StaticRelativePath("/a/../../b").ok());
  CHECK_FALSE(StaticRelativePath("/a/./b").ok());
  CHECK_FALSE(StaticRelativePath("/.git/config").ok());
  CHECK_FALSE(StaticRelativePath("/a/.env").ok());
  CHECK_FALSE(StaticRelativePath("/a\\..\\b").ok());
  CHECK_FALSE(StaticRelativePath(std::string_view("/a\0b", 4)).ok());
  CHECK_FALSE(StaticRelativePath("relative").ok());
}

TEST_CASE("Header helpers", "[http][parse]") {
  CHECK(IsToken("X-Request-Id"));
  CHECK_FALSE(IsToken(""));
  CHECK_FALSE(IsToken("a b"));
  CHECK_FALSE(IsToken("a:b"));
  CHECK(IsSafeHeaderValue("text/html; charset=utf-8"));
  CHECK_FALSE(IsSafeHeaderValue("a\r\nSet-Cookie: x"));
  CHECK_FALSE(IsSafeHeaderValue(std::string_view("a\0", 2)));
  HeaderList h = {{"content-type", "application/json"}, {"x-a", "1"}, {"x-a", "2"}};
  CHECK(FindHeader(h, "Content-Type") == "application/json");
  CHECK(FindHeader(h, "x-a") == "1");
  CHECK(FindHeader(h, "missing") == "");
}

TEST_CASE("Request helpers and Response factories", "[http][parse]") {
  Request req;
  req.query = "q=a%20b&n=1&q=second";
  req.headers = {{"content-type", "application/json; charset=utf-8"}};
  req.body = R"({"x":1})";
  CHECK(req.QueryParam("q") == "a b");
  CHECK(req.QueryParam("n") == "1");
  CHECK(req.QueryParam("missing") == "");
  auto j = req.JsonBody();
  REQUIRE(j.ok());
  CHECK(j->GetInt("x") == 1);
  req.body = "{nope";
  CHECK(req.JsonBody().error().code == collab::base::kExitDataErr);
  req.body = "{}";
  req.headers = {{"content-type", "text/plain"}};
  CHECK_FALSE(req.JsonBody().ok());
  req.headers.clear();
  CHECK_FALSE(req.JsonBody().ok());

  Response e = Response::Error(404, "not_found", "no \"room\"");
  CHECK(e.status == 404);
  CHECK(e.content_type == "application/json");
  CHECK(FindHeader(e.headers, "cache-control") == "no-store");
  auto body = collab::base::Json::Parse(e.body);
  REQUIRE(body.ok());
  CHECK(body->Find("error")->GetInt("status") == 404);
  CHECK(body->Find("error")->GetString("code") == "not_found");
  CHECK(body->Find("error")->GetString("message") == "no \"room\"");
  CHECK(Response::FromError({collab::base::kExitDataErr, "bad"}).status == 400);
  CHECK(Response::FromError({collab::base::kExitNoPerm, "no"}).status == 403);
  CHECK(Response::FromError({collab::base::kExitNoUser, "who"}).status == 404);
  CHECK(Response::FromError({collab::base::kExitTempFail, "later"}).status == 503);
  Response internal = Response::FromError({collab::base::kExitSoftware, "/secret/path: EIO"});
  CHECK(internal.status == 500);
  CHECK(internal.body.find("/secret/path") == std::string::npos);
  Response t = Response::Text(200, "hi");
  CHECK(t.content_type == "text/plain; charset=utf-8");
}
