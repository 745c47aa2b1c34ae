#include "lib/auth/viewer_token.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace collab;

namespace {

auth::SigningKey Key(uint8_t fill) {
  auth::SigningKey k;
  for (size_t i = 0; i < k.bytes.size(); ++i) k.bytes[i] = static_cast<uint8_t>(fill + i);
  return k;
}

constexpr int64_t kB = auth::kViewerBucketS;
constexpr int64_t kT0 = 1764000000 / kB * kB;  // the start of some bucket

}  // namespace

TEST_CASE("viewer tokens are identical for everyone within one bucket") {
  auto key = Key(1);
  auto a = auth::MintViewerToken(key, "cam1", kT0);
  auto b = auth::MintViewerToken(key, "cam1", kT0 + 1234);
  auto c = auth::MintViewerToken(key, "cam1", kT0 + kB - 1);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(c.ok());
  CHECK(a->token == b->token);
  CHECK(a->token == c->token);
  CHECK(a->exp == kT0 + 2 * kB);
}

TEST_CASE("the next bucket gets a new token valid one bucket longer") {
  auto key = Key(1);
  auto a = auth::MintViewerToken(key, "cam1", kT0 + kB - 1);
  auto b = auth::MintViewerToken(key, "cam1", kT0 + kB);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->token != b->token);
  CHECK(b->exp == a->exp + kB);
}

TEST_CASE("a viewer token is valid at least one bucket and at most two") {
  auto key = Key(1);
  for (int64_t now : {kT0, kT0 + 1, kT0 + kB / 2, kT0 + kB - 1}) {
    auto t = auth::MintViewerToken(key, "cam1", now);
    REQUIRE(t.ok());
    CHECK(t->exp - now > kB);
    CHECK(t->exp - now <= 2 * kB);
    auto claims = auth::VerifyToken(key, t->token, now);
    REQUIRE(claims.ok());
    CHECK(claims->sub == "viewers");
    CHECK(claims->scope == std::vector<std::string>{"view:cam1"});
    CHECK(claims->iat == kT0);
    CHECK(claims->jti == "view:cam1:" + std::to_string(kT0 / kB));
    // Expired after exp (and the verifier's leeway).
    CHECK_FALSE(auth::VerifyToken(key, t->token, t->exp + 31).ok());
  }
}

TEST_CASE("viewer tokens differ by stream and by key") {
  auto a = auth::MintViewerToken(Key(1), "cam1", kT0);
  auto b = auth::MintViewerToken(Key(1), "cam2", kT0);
  auto c = auth::MintViewerToken(Key(2), "cam1", kT0);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(c.ok());
  CHECK(a->token != b->token);
  CHECK(a->token != c->token);
  CHECK_FALSE(auth::VerifyToken(Key(2), a->token, kT0).ok());
}

TEST_CASE("MayWatch accepts view:NAME and stream:NAME for that stream only") {
  auth::TokenClaims c;
  c.scope = {"view:cam1"};
  CHECK(auth::MayWatch(c, "cam1"));
  CHECK_FALSE(auth::MayWatch(c, "cam2"));
  CHECK_FALSE(auth::MayWatch(c, "cam"));
  c.scope = {"stream:cam2", "room:x"};
  CHECK(auth::MayWatch(c, "cam2"));
  CHECK_FALSE(auth::MayWatch(c, "cam1"));
  c.scope = {"admin", "room:cam1"};
  CHECK_FALSE(auth::MayWatch(c, "cam1"));
}
