#include "lib/auth/token.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "lib/auth/password.hpp"
#include "lib/base/fs.hpp"
#include "lib/base/json.hpp"
#include "lib/base/utf8.hpp"

namespace collab::auth {

using base::Error;
using base::Json;
using base::Result;

namespace {

constexpr std::string_view kPrefix = "v1.";
constexpr char kB64Chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int B64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}


Result<TokenClaims> Fail(TokenFailure reason, TokenFailure* out, const std::string& detail) {
  if (out) *out = reason;
  return Error{base::kExitNoPerm, std::string("token rejected (") + TokenFailureName(reason) + "): " + detail};
}

std::string Sign(const SigningKey& key, std::string_view signed_part) {
  auto mac = HmacSha256(key.bytes.data(), key.bytes.size(), signed_part);
  return Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
}

}  // namespace

const char* TokenFailureName(TokenFailure f) {
  switch (f) {
    case TokenFailure::kNone: return "none";
    case TokenFailure::kMalformed: return "malformed";
    case TokenFailure::kBadSignature: return "bad signature";
    case TokenFailure::kExpired: return "expired";
  }
  return "unknown";
}

Result<SigningKey> ParseKeyHex(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.size() != 2 * kKeyBytes)
    return Error{base::kExitConfig, "key must be " + std::to_string(2 * kKeyBytes) +
                                        " hex digits and a newline, got " + std::to_string(text.size()) +
                                        " characters"};
  SigningKey key;
  for (size_t i = 0; i < kKeyBytes; ++i) {
    int hi = HexValue(text[2 * i]), lo = HexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return Error{base::kExitConfig, "key contains a non-hex character"};
    key.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return key;
}

Result<SigningKey> LoadKeyFile(const std::string& path) {
  // Check the mode on the descriptor we read from, so a swap between stat and open cannot slip by.
  // O_NONBLOCK: a FIFO put at the path must not hang daemon start-up (it is then refused below).
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int err = errno;
    return Error{err == EACCES ? base::kExitNoPerm : base::kExitNoInput,
                 "token key " + path + ": " + base::ErrnoText(err)};
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Error{base::kExitOsErr, "token key " + path + ": " + base::ErrnoText(err)};
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error{base::kExitConfig, "token key " + path + ": not a regular file"};
  }
  if (st.st_mode & 077) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Error{base::kExitNoPerm, "token key " + path + " has mode " + mode +
                                        ", readable beyond its owner; run chmod 600 " + path};
  }
  char buf[2 * kKeyBytes + 8];
  size_t got = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf + got, sizeof buf - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Error{base::kExitIoErr, "token key " + path + ": " + base::ErrnoText(err)};
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
    if (got == sizeof buf) break;  // too long; ParseKeyHex rejects it
  }
  ::close(fd);
  auto key = ParseKeyHex(std::string_view(buf, got));
  sodium_memzero(buf, sizeof buf);
  if (!key.ok()) return key.error().Wrap("token key " + path);
  return key;
}

std::array<uint8_t, 32> HmacSha256(const uint8_t* key, size_t key_len, std::string_view data) {
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key, static_cast<int>(key_len), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out.data(), &len);
  return out;
}

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  auto at = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = at(i) << 16 | at(i + 1) << 8 | at(i + 2);
    out += kB64Chars[v >> 18 & 63];
    out += kB64Chars[v >> 12 & 63];
    out += kB64Chars[v >> 6 & 63];
    out += kB64Chars[v & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = at(i) << 16;
    out += kB64Chars[v >> 18 & 63];
    out += kB64Chars[v >> 12 & 63];
  } else if (rest == 2) {
    uint32_t v = at(i) << 16 | at(i + 1) << 8;
    out += kB64Chars[v >> 18 & 63];
    out += kB64Chars[v >> 12 & 63];
    out += kB64Chars[v >> 6 & 63];
  }
  return out;
}

Result<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return Error{base::kExitDataErr, "base64url: impossible length"};
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = B64Value(c);
    if (v < 0) return Error{base::kExitDataErr, "base64url: invalid character"};
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  // Leftover bits must be zero, so each byte string has exactly one encoding and no two tokens
  // differing in a character can carry the same MAC.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
    return Error{base::kExitDataErr, "base64url: non-canonical trailing bits"};
  return out;
}

std::string RandomToken(size_t n_bytes) {
  EnsureSodium();
  std::string raw(n_bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  return Base64UrlEncode(raw);
}

bool ConstantTimeEqual(const void* a, const void* b, size_t n) { return CRYPTO_memcmp(a, b, n) == 0; }

Result<std::string> MintToken(const SigningKey& key, const TokenClaims& claims) {
  if (claims.sub.empty()) return Error{base::kExitDataErr, "token: empty sub"};
  if (!base::IsValidUtf8(claims.sub) || !base::IsValidUtf8(claims.name) || !base::IsValidUtf8(claims.jti))
    return Error{base::kExitDataErr, "token: claims are not valid UTF-8"};
  Json scope = Json::MakeArray();
  for (const auto& s : claims.scope) {
    if (!base::IsValidUtf8(s)) return Error{base::kExitDataErr, "token: scope is not valid UTF-8"};
    scope.Push(Json(s));
  }
  Json payload = Json::Obj({{"sub", Json(claims.sub)},
                            {"name", Json(claims.name)},
                            {"scope", std::move(scope)},
                            {"exp", Json(static_cast<long long>(claims.exp))},
                            {"iat", Json(static_cast<long long>(claims.iat))},
                            {"jti", Json(claims.jti.empty() ? RandomToken(16) : claims.jti)}});
  std::string signed_part = std::string(kPrefix) + Base64UrlEncode(payload.Dump());
  std::string token = signed_part + "." + Sign(key, signed_part);
  if (token.size() > kMaxTokenBytes)
    return Error{base::kExitDataErr, "token: claims too large (" + std::to_string(token.size()) + " bytes, limit " +
                                         std::to_string(kMaxTokenBytes) + ")"};
  return token;
}

Result<TokenClaims> VerifyToken(const SigningKey& key, std::string_view token, int64_t now_s, int64_t leeway_s,
                                TokenFailure* failure) {
  using F = TokenFailure;
  if (failure) *failure = F::kNone;
  if (token.empty()) return Fail(F::kMalformed, failure, "empty token");
  if (token.size() > kMaxTokenBytes) return Fail(F::kMalformed, failure, "token longer than 4 KiB");
  if (token.substr(0, kPrefix.size()) != kPrefix) return Fail(F::kMalformed, failure, "unknown token version");
  size_t dot = token.find('.', kPrefix.size());
  if (dot == std::string_view::npos) return Fail(F::kMalformed, failure, "missing signature part");
  std::string_view payload_b64 = token.substr(kPrefix.size(), dot - kPrefix.size());
  std::string_view sig_b64 = token.substr(dot + 1);
  if (sig_b64.find('.') != std::string_view::npos) return Fail(F::kMalformed, failure, "too many parts");
  if (payload_b64.empty()) return Fail(F::kMalformed, failure, "empty payload");

  auto sig = Base64UrlDecode(sig_b64);
  if (!sig.ok() || sig->size() != 32) return Fail(F::kMalformed, failure, "signature is not 32 bytes of base64url");
  auto want = HmacSha256(key.bytes.data(), key.bytes.size(), token.substr(0, dot));
  if (!ConstantTimeEqual(want.data(), sig->data(), want.size()))
    return Fail(F::kBadSignature, failure, "signature does not match");

  // From here the bytes were made by someone holding the key; still check everything, since a
  // key shared with a buggy or older minter must not crash or confuse the verifier.
  auto payload = Base64UrlDecode(payload_b64);
  if (!payload.ok()) return Fail(F::kMalformed, failure, "payload is not base64url");
  Json::ParseLimits limits;
  limits.max_depth = 4;
  limits.max_bytes = kMaxTokenBytes;
  auto json = Json::Parse(*payload, limits);
  if (!json.ok()) return Fail(F::kMalformed, failure, "payload is not JSON: " + json.error().message);
  if (!json->is_object()) return Fail(F::kMalformed, failure, "payload is not a JSON object");

  TokenClaims c;
  auto str = [&](const char* name, std::string& out, bool required) -> bool {
    const Json* v = json->Find(name);
    if (!v) return !required;
    if (!v->is_string()) return false;
    out = v->as_string();
    return true;
  };
  auto integer = [&](const char* name, int64_t& out) -> bool {
    const Json* v = json->Find(name);
    if (!v || !v->is_int()) return false;
    out = v->as_int();
    return true;
  };
  if (!str("sub", c.sub, true) || c.sub.empty()) return Fail(F::kMalformed, failure, "sub must be a non-empty string");
  if (!str("name", c.name, false)) return Fail(F::kMalformed, failure, "name must be a string");
  if (!str("jti", c.jti, false)) return Fail(F::kMalformed, failure, "jti must be a string");
  if (!integer("exp", c.exp)) return Fail(F::kMalformed, failure, "exp must be an integer");
  if (json->Find("iat") && !integer("iat", c.iat)) return Fail(F::kMalformed, failure, "iat must be an integer");
  if (const Json* s = json->Find("scope")) {
    if (!s->is_array()) return Fail(F::kMalformed, failure, "scope must be an array of strings");
    for (const Json& item : s->as_array()) {
      if (!item.is_string()) return Fail(F::kMalformed, failure, "scope must be an array of strings");
      c.scope.push_back(item.as_string());
    }
  }
  // Compare without overflowing on hostile exp/now values.
  if (leeway_s < 0) leeway_s = 0;
  if (now_s > c.exp && (c.exp > INT64_MAX - leeway_s ? false : now_s > c.exp + leeway_s))
    return Fail(F::kExpired, failure, "expired at " + std::to_string(c.exp) + ", now " + std::to_string(now_s));
  return c;
}

bool HasScope(const TokenClaims& claims, std::string_view scope) {
  for (const auto& s : claims.scope)
    if (s == scope) return true;
  return false;
}

bool HasRoomScope(const TokenClaims& claims, std::string_view room_id) {
  return HasScope(claims, std::string("room:") + std::string(room_id));
}

}  // namespace collab::auth
