#include "lib/stream/viewer_auth.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "lib/auth/viewer_token.hpp"

using namespace collab;
using stream::RewritePlaylist;
using stream::ViewerAuth;

namespace {

auth::SigningKey Key(uint8_t fill) {
  auth::SigningKey k;
  for (size_t i = 0; i < k.bytes.size(); ++i) k.bytes[i] = static_cast<uint8_t>(fill + i);
  return k;
}

constexpr int64_t kNow = 1764000000;

ViewerAuth TokenMode(std::set<std::string> open_streams = {}) {
  ViewerAuth a;
  stream::ViewerPolicy p;
  p.key = Key(7);
  p.open_streams = std::move(open_streams);
  a.Configure(std::move(p));
  return a;
}

std::string Mint(const auth::SigningKey& key, std::vector<std::string> scope, int64_t exp) {
  auth::TokenClaims c;
  c.sub = "u1";
  c.scope = std::move(scope);
  c.iat = exp - 600;
  c.exp = exp;
  auto t = auth::MintToken(key, c);
  REQUIRE(t.ok());
  return *t;
}

const char* kPlaylist =
    "#EXTM3U\n"
    "#EXT-X-VERSION:9\n"
    "#EXT-X-TARGETDURATION:2\n"
    "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.002,CAN-SKIP-UNTIL=12.0\n"
    "#EXT-X-PART-INF:PART-TARGET=0.334\n"
    "#EXT-X-MEDIA-SEQUENCE:100\n"
    "#EXT-X-MAP:URI=\"init100.mp4\"\n"
    "#EXT-X-PROGRAM-DATE-TIME:2026-11-26T02:00:00.000Z\n"
    "#EXTINF:2.00000,\n"
    "seg100.m4s\n"
    "#EXT-X-PART:DURATION=0.33400,URI=\"part101.0.m4s\",INDEPENDENT=YES\n"
    "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part101.1.m4s\"\n"
    "#EXT-X-RENDITION-REPORT:URI=\"../low/index.m3u8?x=1\",LAST-MSN=101,LAST-PART=0\n";

}  // namespace

TEST_CASE("open streams need no token") {
  ViewerAuth a;
  stream::ViewerPolicy p;
  p.open = true;
  a.Configure(p);
  auto v = a.Check("cam1", "", kNow);
  CHECK(v.ok());
  CHECK(v.exp == 0);
  // Per-stream override in token mode.
  ViewerAuth b = TokenMode({"lobby"});
  CHECK(b.Check("lobby", "", kNow).ok());
  CHECK(b.Check("cam1", "", kNow).status == 401);
}

TEST_CASE("token mode: missing, invalid, expired, other stream, valid") {
  ViewerAuth a = TokenMode();
  auto missing = a.Check("cam1", "", kNow);
  CHECK(missing.reason == ViewerAuth::Reason::kMissing);
  CHECK(missing.status == 401);

  CHECK(a.Check("cam1", "garbage", kNow).reason == ViewerAuth::Reason::kInvalid);
  CHECK(a.Check("cam1", Mint(Key(8), {"view:cam1"}, kNow + 600), kNow).reason == ViewerAuth::Reason::kInvalid);

  auto expired = a.Check("cam1", Mint(Key(7), {"view:cam1"}, kNow - 60), kNow);
  CHECK(expired.reason == ViewerAuth::Reason::kExpired);
  CHECK(expired.status == 401);

  auto viewer = auth::MintViewerToken(Key(7), "cam2", kNow);
  REQUIRE(viewer.ok());
  auto other = a.Check("cam1", viewer->token, kNow);
  CHECK(other.reason == ViewerAuth::Reason::kWrongStream);
  CHECK(other.status == 403);

  auto ok = a.Check("cam2", viewer->token, kNow);
  CHECK(ok.ok());
  CHECK(ok.exp == viewer->exp);
  // A user token with stream:NAME works too.
  CHECK(a.Check("cam1", Mint(Key(7), {"stream:cam1"}, kNow + 600), kNow).ok());
}

TEST_CASE("a remembered token still expires and a new key forgets it") {
  ViewerAuth a = TokenMode();
  std::string t = Mint(Key(7), {"view:cam1"}, kNow + 100);
  CHECK(a.Check("cam1", t, kNow).ok());
  CHECK(a.Check("cam1", t, kNow + 100).ok());  // within the leeway
  CHECK(a.Check("cam1", t, kNow + 131).reason == ViewerAuth::Reason::kExpired);
  CHECK(a.Check("cam1", t, kNow).ok());
  stream::ViewerPolicy p;
  p.key = Key(9);
  a.Configure(p);
  CHECK(a.Check("cam1", t, kNow).reason == ViewerAuth::Reason::kInvalid);
}

TEST_CASE("cache lifetimes never outlive the token") {
  CHECK(ViewerAuth::CacheSeconds(3600, 0, kNow) == 3600);
  CHECK(ViewerAuth::CacheSeconds(3600, kNow + 100, kNow) == 100);
  CHECK(ViewerAuth::CacheSeconds(3600, kNow + 99999, kNow) == 3600);
  CHECK(ViewerAuth::CacheSeconds(2, kNow - 5, kNow) == 0);
}

TEST_CASE("RewritePlaylist adds vt to every URI and nothing else") {
  auto r = RewritePlaylist(kPlaylist, "v1.abc.def");
  REQUIRE(r.ok());
  const std::string& o = *r;
  CHECK(o.find("#EXT-X-MAP:URI=\"init100.mp4?vt=v1.abc.def\"\n") != std::string::npos);
  CHECK(o.find("\nseg100.m4s?vt=v1.abc.def\n") != std::string::npos);
  CHECK(o.find("URI=\"part101.0.m4s?vt=v1.abc.def\",INDEPENDENT=YES\n") != std::string::npos);
  CHECK(o.find("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part101.1.m4s?vt=v1.abc.def\"\n") != std::string::npos);
  CHECK(o.find("URI=\"../low/index.m3u8?x=1&vt=v1.abc.def\",LAST-MSN=101") != std::string::npos);
  // Tags without URIs are untouched, and no other query (e.g. _HLS_msn) appears.
  CHECK(o.find("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.002,CAN-SKIP-UNTIL=12.0\n") !=
        std::string::npos);
  CHECK(o.find("_HLS") == std::string::npos);
  size_t count = 0;
  for (size_t p = o.find("vt="); p != std::string::npos; p = o.find("vt=", p + 1)) ++count;
  CHECK(count == 5);
  // Removing the additions gives back the input.
  std::string back = o;
  for (const char* add : {"?vt=v1.abc.def", "&vt=v1.abc.def"})
    for (size_t p; (p = back.find(add)) != std::string::npos;) back.erase(p, std::string(add).size());
  CHECK(back == kPlaylist);
}

TEST_CASE("RewritePlaylist: odd input") {
  CHECK_FALSE(RewritePlaylist(kPlaylist, "").ok());
  CHECK_FALSE(RewritePlaylist(kPlaylist, "a\nb").ok());
  CHECK_FALSE(RewritePlaylist(kPlaylist, "a\"b").ok());
  CHECK_FALSE(RewritePlaylist(kPlaylist, "a&b").ok());
  CHECK(*RewritePlaylist("", "t") == "");
  CHECK(*RewritePlaylist("seg1.m4s", "t") == "seg1.m4s?vt=t");          // no final newline
  CHECK(*RewritePlaylist("seg1.m4s\r\n", "t") == "seg1.m4s?vt=t\r\n");  // CRLF kept
  CHECK(*RewritePlaylist("# a comment URI=\"x\"\n\n", "t") == "# a comment URI=\"x\"\n\n");
  // Unterminated attribute and a URI= inside another attribute's quoted value.
  CHECK(*RewritePlaylist("#EXT-X-MAP:URI=\"init", "t") == "#EXT-X-MAP:URI=\"init");
  CHECK(*RewritePlaylist("#EXT-X-DATERANGE:ID=\"x,URI=\",X-ASSET-URI=\"y\"\n", "t") ==
        "#EXT-X-DATERANGE:ID=\"x,URI=\",X-ASSET-URI=\"y\"\n");
}

TEST_CASE("LoadViewerPolicy needs a safe key only in token mode") {
  stream::ViewerPolicyConfig cfg{"open", {"a"}, "/nonexistent/token.key"};
  auto open = stream::LoadViewerPolicy(cfg);
  REQUIRE(open.ok());
  CHECK(open->open);
  CHECK_FALSE(open->key.has_value());
  cfg.viewers = "token";
  auto missing = stream::LoadViewerPolicy(cfg);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("/nonexistent/token.key") != std::string::npos);

  char dir[] = "/tmp/viewer-auth-XXXXXX";
  REQUIRE(mkdtemp(dir));
  std::string path = std::string(dir) + "/token.key";
  FILE* f = std::fopen(path.c_str(), "w");
  REQUIRE(f);
  std::fputs("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", f);
  std::fclose(f);
  chmod(path.c_str(), 0644);
  cfg.key_file = path;
  CHECK_FALSE(stream::LoadViewerPolicy(cfg).ok());  // readable by others: refused
  chmod(path.c_str(), 0600);
  auto ok = stream::LoadViewerPolicy(cfg);
  REQUIRE(ok.ok());
  CHECK(ok->key.has_value());
  CHECK(ok->open_streams.count("a") == 1);
  unlink(path.c_str());
  rmdir(dir);
}
