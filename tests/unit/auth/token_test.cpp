#include "lib/auth/token.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "lib/base/fs.hpp"

using namespace collab;
using auth::TokenFailure;

namespace {

auth::SigningKey Key(uint8_t fill) {
  auth::SigningKey k;
  for (size_t i = 0; i < k.bytes.size(); ++i) k.bytes[i] = static_cast<uint8_t>(fill + i);
  return k;
}

auth::TokenClaims Claims() {
  auth::TokenClaims c;
  c.sub = "u123";
  c.name = "山田 太郎";
  c.scope = {"room:abc", "stream:live1"};
  c.iat = 1700000000;
  c.exp = 1700000600;
  return c;
}

TokenFailure Why(const auth::SigningKey& key, std::string_view token, int64_t now = 1700000000,
                 int64_t leeway = 30) {
  TokenFailure f = TokenFailure::kNone;
  auto r = auth::VerifyToken(key, token, now, leeway, &f);
  if (!r.ok()) CHECK(r.error().code == base::kExitNoPerm);
  return f;
}

// A token with an arbitrary payload, correctly signed: exercises the claim checks behind the MAC.
std::string SignedRaw(const auth::SigningKey& key, std::string_view payload) {
  std::string signed_part = "v1." + auth::Base64UrlEncode(payload);
  auto mac = auth::HmacSha256(key.bytes.data(), key.bytes.size(), signed_part);
  return signed_part + "." + auth::Base64UrlEncode(std::string(mac.begin(), mac.end()));
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/collab-auth-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

}  // namespace

TEST_CASE("HMAC-SHA256 matches RFC 4231 test case 2", "[auth]") {
  std::string key = "Jefe";
  auto mac = auth::HmacSha256(reinterpret_cast<const uint8_t*>(key.data()), key.size(),
                              "what do ya want for nothing?");
  static const char* hex = "0123456789abcdef";
  std::string got;
  for (uint8_t b : mac) {
    got += hex[b >> 4];
    got += hex[b & 15];
  }
  CHECK(got == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("base64url is strict and round-trips", "[auth]") {
  for (std::string s : {std::string(""), std::string("f"), std::string("fo"), std::string("foo"),
                        std::string("\xff\xfe\x00\x01", 4)}) {
    auto enc = auth::Base64UrlEncode(s);
    CHECK(enc.find('=') == std::string::npos);
    auto dec = auth::Base64UrlDecode(enc);
    REQUIRE(dec.ok());
    CHECK(*dec == s);
  }
  CHECK(auth::Base64UrlEncode("\xfb\xff") == "-_8");
  CHECK_FALSE(auth::Base64UrlDecode("Zm8=").ok());   // padding
  CHECK_FALSE(auth::Base64UrlDecode("Zm+v").ok());   // standard alphabet
  CHECK_FALSE(auth::Base64UrlDecode("Z").ok());      // impossible length
  CHECK_FALSE(auth::Base64UrlDecode("Zm9").ok());    // non-zero trailing bits ("Zm8" is canonical)
  CHECK(auth::Base64UrlDecode("Zm8").ok());
}

TEST_CASE("mint and verify round trip keeps claims, Japanese name included", "[auth]") {
  auto key = Key(1);
  auto claims = Claims();
  auto token = auth::MintToken(key, claims);
  REQUIRE(token.ok());
  CHECK(token->rfind("v1.", 0) == 0);
  CHECK(token->find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") ==
        std::string::npos);
  TokenFailure f = TokenFailure::kMalformed;
  auto got = auth::VerifyToken(key, *token, 1700000100, 30, &f);
  REQUIRE(got.ok());
  CHECK(f == TokenFailure::kNone);
  CHECK(got->sub == "u123");
  CHECK(got->name == "山田 太郎");
  CHECK(got->scope == claims.scope);
  CHECK(got->exp == claims.exp);
  CHECK(got->iat == claims.iat);
  CHECK(got->jti.size() >= 16);  // filled in by MintToken
  CHECK(auth::HasScope(*got, "room:abc"));
  CHECK(auth::HasRoomScope(*got, "abc"));
  CHECK_FALSE(auth::HasScope(*got, "room:ab"));
  CHECK_FALSE(auth::HasRoomScope(*got, "abcd"));
  CHECK_FALSE(auth::HasScope(*got, "admin"));

  // Two mints of the same claims differ by jti.
  auto again = auth::MintToken(key, claims);
  REQUIRE(again.ok());
  CHECK(*again != *token);
  // A caller-set jti is kept.
  claims.jti = "fixed";
  auto fixed = auth::MintToken(key, claims);
  REQUIRE(fixed.ok());
  CHECK(auth::VerifyToken(key, *fixed, 1700000000)->jti == "fixed");
}

TEST_CASE("tampering with any character is rejected", "[auth]") {
  auto key = Key(1);
  auto token = auth::MintToken(key, Claims());
  REQUIRE(token.ok());
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
  for (size_t i = 0; i < token->size(); ++i) {
    for (char repl : {'A', 'B', 'z', '_', '.'}) {
      if ((*token)[i] == repl) continue;
      std::string t = *token;
      t[i] = repl;
      INFO("position " << i << " replaced by " << repl);
      CHECK_FALSE(auth::VerifyToken(key, t, 1700000000).ok());
    }
  }
  size_t dot = token->rfind('.');
  std::string t = *token;
  t[4] = t[4] == 'A' ? 'B' : 'A';
  CHECK(Why(key, t) == TokenFailure::kBadSignature);  // payload changed, signature kept
  t = *token;
  t[dot + 3] = t[dot + 3] == 'A' ? 'B' : 'A';
  CHECK(Why(key, t) == TokenFailure::kBadSignature);  // signature changed
  CHECK(Why(key, *token + "A") != TokenFailure::kNone);
  CHECK(Why(key, token->substr(0, token->size() - 1)) != TokenFailure::kNone);
}

TEST_CASE("wrong key is a bad signature", "[auth]") {
  auto token = auth::MintToken(Key(1), Claims());
  REQUIRE(token.ok());
  TokenFailure f;
  auto r = auth::VerifyToken(Key(2), *token, 1700000000, 30, &f);
  REQUIRE_FALSE(r.ok());
  CHECK(f == TokenFailure::kBadSignature);
  CHECK(r.error().code == base::kExitNoPerm);
  CHECK(r.error().message.find("signature") != std::string::npos);
}

TEST_CASE("expiry honours the leeway", "[auth]") {
  auto key = Key(1);
  auto token = auth::MintToken(key, Claims());  // exp 1700000600
  REQUIRE(token.ok());
  CHECK(Why(key, *token, 1700000600, 0) == TokenFailure::kNone);
  CHECK(Why(key, *token, 1700000601, 0) == TokenFailure::kExpired);
  CHECK(Why(key, *token, 1700000630, 30) == TokenFailure::kNone);
  CHECK(Why(key, *token, 1700000631, 30) == TokenFailure::kExpired);
  CHECK(Why(key, *token, 1700000620) == TokenFailure::kNone);  // default leeway 30
  auto r = auth::VerifyToken(key, *token, 1800000000);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("expired") != std::string::npos);
  // Extreme values must not overflow into acceptance.
  auto c = Claims();
  c.exp = INT64_MAX;
  auto forever = auth::MintToken(key, c);
  REQUIRE(forever.ok());
  CHECK(Why(key, *forever, INT64_MAX, INT64_MAX) == TokenFailure::kNone);
  c.exp = INT64_MIN;
  auto past = auth::MintToken(key, c);
  REQUIRE(past.ok());
  CHECK(Why(key, *past, 0, INT64_MAX) == TokenFailure::kExpired);
}

TEST_CASE("malformed tokens are rejected as malformed", "[auth]") {
  auto key = Key(1);
  auto good = auth::MintToken(key, Claims());
  REQUIRE(good.ok());
  size_t dot = good->rfind('.');
  std::string payload = good->substr(3, dot - 3), sig = good->substr(dot + 1);

  CHECK(Why(key, "") == TokenFailure::kMalformed);
  CHECK(Why(key, "v1." + payload) == TokenFailure::kMalformed);                      // 2 parts
  CHECK(Why(key, *good + ".x") == TokenFailure::kMalformed);                          // 4 parts
  CHECK(Why(key, "v2." + payload + "." + sig) == TokenFailure::kMalformed);           // version
  CHECK(Why(key, "v1.." + sig) == TokenFailure::kMalformed);                          // empty payload
  CHECK(Why(key, "v1." + payload + ".") == TokenFailure::kMalformed);                 // empty sig
  CHECK(Why(key, "v1." + payload + "." + sig + "=") == TokenFailure::kMalformed);     // padding
  CHECK(Why(key, "v1." + payload + "." + sig.substr(0, 20)) == TokenFailure::kMalformed);
  CHECK(Why(key, "v1." + payload + "." + sig.substr(0, 42) + "+") == TokenFailure::kMalformed);
  CHECK(Why(key, std::string(5000, 'A')) == TokenFailure::kMalformed);                // huge
  CHECK(Why(key, "v1." + std::string(5000, 'A') + "." + sig) == TokenFailure::kMalformed);

  // Correctly signed but bad inside: the claim checks still apply.
  CHECK(Why(key, SignedRaw(key, "not json")) == TokenFailure::kMalformed);
  CHECK(Why(key, SignedRaw(key, "[1,2]")) == TokenFailure::kMalformed);
  CHECK(Why(key, SignedRaw(key, R"({"sub":"u","exp":99999999999})")) == TokenFailure::kNone);
  CHECK(Why(key, SignedRaw(key, R"({"sub":1,"exp":99999999999})")) == TokenFailure::kMalformed);
  CHECK(Why(key, SignedRaw(key, R"({"sub":"","exp":99999999999})")) == TokenFailure::kMalformed);
  CHECK(Why(key, SignedRaw(key, R"({"exp":99999999999})")) == TokenFailure::kMalformed);
  CHECK(Why(key, SignedRaw(key, R"({"sub":"u","exp":"99999999999"})")) == TokenFailure::kMalformed);
  CHECK(Why(key, SignedRaw(key, R"({"sub":"u","exp":1.5e12})")) == TokenFailure::kMalformed);
  CHECK(Why(key, SignedRaw(key, R"({"sub":"u"})")) == TokenFailure::kMalformed);
  CHECK(Why(key, SignedRaw(key, R"({"sub":"u","exp":99999999999,"name":7})")) == TokenFailure::kMalformed);
  CHECK(Why(key, SignedRaw(key, R"({"sub":"u","exp":99999999999,"scope":"room:a"})")) ==
        TokenFailure::kMalformed);
  CHECK(Why(key, SignedRaw(key, R"({"sub":"u","exp":99999999999,"scope":["a",1]})")) ==
        TokenFailure::kMalformed);
  CHECK(Why(key, SignedRaw(key, R"({"sub":"u","exp":99999999999,"iat":null})")) == TokenFailure::kMalformed);
  CHECK(Why(key, SignedRaw(key, R"({"sub":"u","exp":99999999999,"jti":false})")) == TokenFailure::kMalformed);
  CHECK(Why(key, SignedRaw(key, "{\"sub\":\"\xff\",\"exp\":99999999999}")) == TokenFailure::kMalformed);
}

TEST_CASE("MintToken refuses claims that could not verify", "[auth]") {
  auto key = Key(1);
  auto c = Claims();
  c.sub.clear();
  CHECK_FALSE(auth::MintToken(key, c).ok());
  c = Claims();
  c.name = "\xe5\xb1";  // truncated UTF-8
  CHECK(auth::MintToken(key, c).error().code == base::kExitDataErr);
  c = Claims();
  c.scope.assign(200, std::string(20, 'x'));
  auto big = auth::MintToken(key, c);
  REQUIRE_FALSE(big.ok());
  CHECK(big.error().message.find("too large") != std::string::npos);
}

TEST_CASE("RandomToken is url-safe and unique", "[auth]") {
  auto a = auth::RandomToken(32), b = auth::RandomToken(32);
  CHECK(a.size() == 43);
  CHECK(a != b);
  CHECK(auth::Base64UrlDecode(a)->size() == 32);
  CHECK(auth::RandomToken(0).empty());
}

TEST_CASE("key file validation", "[auth]") {
  TempDir dir;
  const std::string hex64 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
  auto write = [&](const std::string& name, const std::string& text, mode_t mode) {
    std::string p = dir.path + "/" + name;
    REQUIRE(base::WriteFileAtomic(p, text, 0600).ok());
    REQUIRE(::chmod(p.c_str(), mode) == 0);
    return p;
  };

  auto ok = auth::LoadKeyFile(write("ok", hex64 + "\n", 0600));
  REQUIRE(ok.ok());
  CHECK(ok->bytes == Key(0).bytes);
  CHECK(auth::LoadKeyFile(write("upper", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F\n",
                                0400)).ok());

  auto open = write("open", hex64 + "\n", 0644);
  auto r = auth::LoadKeyFile(open);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == base::kExitNoPerm);
  CHECK(r.error().message.find(open) != std::string::npos);
  CHECK(r.error().message.find("0644") != std::string::npos);
  CHECK(auth::LoadKeyFile(write("group", hex64 + "\n", 0640)).error().code == base::kExitNoPerm);

  CHECK(auth::LoadKeyFile(write("short", hex64.substr(2) + "\n", 0600)).error().code == base::kExitConfig);
  CHECK(auth::LoadKeyFile(write("long", hex64 + "00\n", 0600)).error().code == base::kExitConfig);
  CHECK(auth::LoadKeyFile(write("nonhex", "zz" + hex64.substr(2) + "\n", 0600)).error().code ==
        base::kExitConfig);
  CHECK_FALSE(auth::LoadKeyFile(write("crlf", hex64 + "\r\n", 0600)).ok());
  CHECK_FALSE(auth::LoadKeyFile(write("twonl", hex64 + "\n\n", 0600)).ok());
  CHECK_FALSE(auth::LoadKeyFile(write("empty", "", 0600)).ok());
  CHECK_FALSE(auth::LoadKeyFile(write("big", std::string(100000, 'a'), 0600)).ok());
  CHECK(auth::LoadKeyFile(dir.path + "/missing").error().code == base::kExitNoInput);
  CHECK(auth::LoadKeyFile(dir.path).error().code == base::kExitConfig);  // a directory
}

TEST_CASE("a token made by an independent implementation verifies", "[auth]") {
  // Made with Python's hmac/base64/json from the format description in token.hpp, so the wire
  // format stays stable and other tools (scripts, tests) can mint tokens.
  auth::SigningKey key;
  for (size_t i = 0; i < key.bytes.size(); ++i) key.bytes[i] = static_cast<uint8_t>(i * 7 + 1);
  const std::string token =
      "v1.eyJzdWIiOiJ1MSIsIm5hbWUiOiLlsbHnlLAiLCJzY29wZSI6WyJyb29tOmFiYyJdLCJleHAiOjE3MDAwMDA2MDAsImlhdCI6"
      "MTcwMDAwMDAwMCwianRpIjoiYWJjIn0.brX4ZesOZGQyggjw5sibsq1xVCqXHL1g2-XH5I-Eq80";
  auto c = auth::VerifyToken(key, token, 1700000000);
  REQUIRE(c.ok());
  CHECK(c->sub == "u1");
  CHECK(c->name == "山田");
  CHECK(c->scope == std::vector<std::string>{"room:abc"});
  CHECK(c->exp == 1700000600);
  CHECK(c->iat == 1700000000);
  CHECK(c->jti == "abc");
  // Our minter produces the same bytes for the same claims.
  CHECK(auth::MintToken(key, *c).value() == token);
}
