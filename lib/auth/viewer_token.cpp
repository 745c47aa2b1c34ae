#include "lib/auth/viewer_token.hpp"

namespace collab::auth {

std::string ViewerScope(std::string_view stream) { return "view:" + std::string(stream); }

TokenClaims ViewerClaims(std::string_view stream, int64_t now_s) {
  int64_t bucket = (now_s < 0 ? 0 : now_s) / kViewerBucketS;
  TokenClaims c;
  c.sub = std::string(kViewerSub);
  c.name = std::string(kViewerSub);
  c.scope = {ViewerScope(stream)};
  c.iat = bucket * kViewerBucketS;
  // At least one whole bucket of validity, however late in its bucket a viewer asks.
  c.exp = (bucket + 2) * kViewerBucketS;
  c.jti = "view:" + std::string(stream) + ":" + std::to_string(bucket);
  return c;
}

base::Result<ViewerToken> MintViewerToken(const SigningKey& key, std::string_view stream, int64_t now_s) {
  TokenClaims c = ViewerClaims(stream, now_s);
  auto t = MintToken(key, c);
  if (!t) return t.error();
  return ViewerToken{std::move(*t), c.exp};
}

bool MayWatch(const TokenClaims& claims, std::string_view stream) {
  return HasScope(claims, ViewerScope(stream)) || HasScope(claims, "stream:" + std::string(stream));
}

}  // namespace collab::auth
