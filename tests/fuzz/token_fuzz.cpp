// Fuzzes token verification and minting. First byte picks the mode:
//  even: the rest is a token string; VerifyToken must never crash, and must never accept it
//        unless it round-trips through MintToken to the same claims (forging needs the key).
//  odd:  the rest becomes claims; a token MintToken accepts must verify to the same claims.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "lib/auth/token.hpp"

namespace {

collab::auth::SigningKey FixedKey() {
  collab::auth::SigningKey k;
  for (size_t i = 0; i < k.bytes.size(); ++i) k.bytes[i] = static_cast<uint8_t>(i * 7 + 1);
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const collab::auth::SigningKey key = FixedKey();
  if (size == 0) return 0;
  if ((data[0] & 1) == 0) {
    std::string_view token(reinterpret_cast<const char*>(data + 1), size - 1);
    collab::auth::TokenFailure why = collab::auth::TokenFailure::kNone;
    auto r = collab::auth::VerifyToken(key, token, 1700000000, 30, &why);
    if (r.ok() != (why == collab::auth::TokenFailure::kNone)) std::abort();
    // Also run the strict decoder on raw input: decode then encode must give the input back.
    auto dec = collab::auth::Base64UrlDecode(token);
    if (dec.ok() && collab::auth::Base64UrlEncode(*dec) != token) std::abort();
    return 0;
  }
  FuzzedDataProvider fdp(data + 1, size - 1);
  collab::auth::TokenClaims c;
  c.sub = fdp.ConsumeRandomLengthString(300);
  c.name = fdp.ConsumeRandomLengthString(300);
  c.jti = fdp.ConsumeRandomLengthString(64);
  c.exp = fdp.ConsumeIntegral<int64_t>();
  c.iat = fdp.ConsumeIntegral<int64_t>();
  int64_t now = fdp.ConsumeIntegral<int64_t>();
  size_t n = fdp.ConsumeIntegralInRange<size_t>(0, 40);
  for (size_t i = 0; i < n && fdp.remaining_bytes() > 0; ++i) c.scope.push_back(fdp.ConsumeRandomLengthString(80));
  auto token = collab::auth::MintToken(key, c);
  if (!token.ok()) return 0;  // empty sub, invalid UTF-8 or oversized: refused up front
  // now <= exp always verifies, whatever the leeway.
  int64_t at = now <= c.exp ? now : c.exp;
  auto got = collab::auth::VerifyToken(key, *token, at, 0);
  if (!got.ok()) std::abort();
  if (c.jti.empty()) c.jti = got->jti;
  if (!(*got == c)) std::abort();
  return 0;
}
