// Signed bearer tokens and the shared signing key (DESIGN.md "Identity and tokens").
// collab-chatd mints short-lived tokens; collab-sfu and collab-stream verify them locally with the
// key file written by `collab-admin init`. Format, compact and URL-safe:
//   v1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(key, "v1." + claims_b64))>
// Deliberately not JWT: one algorithm, no header to negotiate, so there is no "alg" confusion.
// No revocation list and no clock source here: callers pass `now` and keep lifetimes short.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.hpp"

namespace collab::auth {

inline constexpr size_t kKeyBytes = 32;
inline constexpr size_t kMaxTokenBytes = 4096;

struct SigningKey {
  std::array<uint8_t, kKeyBytes> bytes{};
};

// Parses 64 hex digits (either case), optionally followed by one "\n"; nothing else.
base::Result<SigningKey> ParseKeyHex(std::string_view text);

// Loads the key file. Fails with kExitNoPerm (message names the path and octal mode) when the file
// mode grants any group/other permission: a daemon must refuse a key that other users can read,
// since anyone holding it can mint tokens for any room. Not a regular file or bad content:
// kExitConfig; missing/unreadable: kExitNoInput.
base::Result<SigningKey> LoadKeyFile(const std::string& path);

struct TokenClaims {
  std::string sub;                 // account id (or "guest:<id>")
  std::string name;                // display name, UTF-8
  std::vector<std::string> scope;  // e.g. "room:abc", "stream:live1", "admin"
  int64_t exp = 0;                 // unix seconds
  int64_t iat = 0;                 // unix seconds
  std::string jti;                 // random id; MintToken fills it when empty

  bool operator==(const TokenClaims&) const = default;
};

// Why VerifyToken refused; every reason maps to HTTP 401.
enum class TokenFailure { kNone, kMalformed, kBadSignature, kExpired };
const char* TokenFailureName(TokenFailure f);

// Signs the claims. Fails (kExitDataErr) when sub is empty, a string is not valid UTF-8, or the
// token would exceed kMaxTokenBytes, so a minted token always verifies. Fills jti when empty.
base::Result<std::string> MintToken(const SigningKey& key, const TokenClaims& claims);

// Checks size, strict base64url, the MAC (constant time, before the JSON is looked at), the claim
// types, then expiry: rejected when now_s > exp + leeway_s. All failures are kExitNoPerm; the
// reason also goes to *failure when given.
base::Result<TokenClaims> VerifyToken(const SigningKey& key, std::string_view token, int64_t now_s,
                                      int64_t leeway_s = 30, TokenFailure* failure = nullptr);

// Exact match of one scope entry ("room:abc" does not match "room:abcd"; no wildcards).
bool HasScope(const TokenClaims& claims, std::string_view scope);
// HasScope(claims, "room:" + room_id).
bool HasRoomScope(const TokenClaims& claims, std::string_view room_id);

// Building blocks, exposed for tests and for other modules (session ids, CSRF tokens).
std::array<uint8_t, 32> HmacSha256(const uint8_t* key, size_t key_len, std::string_view data);
std::string Base64UrlEncode(std::string_view bytes);  // no padding
// Strict: only [A-Za-z0-9_-], no padding, canonical (unused trailing bits must be zero).
base::Result<std::string> Base64UrlDecode(std::string_view text);
// n bytes from the OS CSPRNG, base64url-encoded (n=32 gives 43 characters).
std::string RandomToken(size_t n_bytes = 32);
bool ConstantTimeEqual(const void* a, const void* b, size_t n);

}  // namespace collab::auth
