// Viewer tokens for live streams (issue 7): the signed `vt` URL parameter that lets a browser
// watch one stream. collab-chatd mints them for logged-in staff; collab-stream verifies them.
//
// Why one token per stream and time bucket instead of one per viewer: nginx edge caches key
// their entries by the whole URL (query included), so a per-viewer token in every part URL
// would make each viewer a cache miss and put the origin back to one request per viewer. A
// viewer token therefore names no person: sub "viewers", scope "view:NAME", a deterministic jti,
// iat at the start of a kViewerBucketS bucket and exp one bucket after that bucket's end. Every
// viewer of NAME who asks within the same bucket gets byte-identical tokens and URLs, so the
// edges keep one copy per part (two for a while around a bucket boundary).
//
// Trade-off, accepted and documented in collab-stream(8): a URL that leaks (pasted into a chat,
// a mail) works for anyone who can reach the server until its exp, between one and two buckets
// (6 to 12 hours) later; there is no revocation. Replacing the shared key file (and restarting
// the daemons) invalidates every token at once.
// Deliberately not here: HTTP, query parsing, the open/token policy (lib/stream/viewer_auth).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lib/auth/token.hpp"
#include "lib/base/result.hpp"

namespace collab::auth {

inline constexpr int64_t kViewerBucketS = 6 * 3600;
inline constexpr std::string_view kViewerSub = "viewers";

// "view:" + stream.
std::string ViewerScope(std::string_view stream);

// The claims every viewer of `stream` gets at now_s (unix seconds, >= 0): iat = start of the
// bucket, exp = iat + 2 buckets, jti = "view:<stream>:<bucket number>".
TokenClaims ViewerClaims(std::string_view stream, int64_t now_s);

struct ViewerToken {
  std::string token;
  int64_t exp = 0;
};
// MintToken(ViewerClaims(stream, now_s)); the same result for every call within one bucket.
base::Result<ViewerToken> MintViewerToken(const SigningKey& key, std::string_view stream, int64_t now_s);

// Whether verified claims let their holder watch `stream`: a viewer token for it ("view:NAME"),
// or a user token that carries "stream:NAME" (POST /api/v1/token, collab-admin token).
bool MayWatch(const TokenClaims& claims, std::string_view stream);

}  // namespace collab::auth
