// Who may watch which live stream, for collab-stream's /live/NAME/* routes (issue 7).
//
// stream.viewers = "open" lets anyone who reaches the server watch; "token" (the default) asks
// every playlist, part, segment and init request for a `vt` query parameter holding a token
// signed with the shared key ([auth] key_file): a viewer token for the stream ("view:NAME",
// minted by collab-chatd's GET /api/v1/streams/NAME/watch, see lib/auth/viewer_token.hpp) or a
// user token with "stream:NAME". stream.open_streams names streams that stay open in token mode.
//
// The browser learns only the playlist URL; so that hls.js (or any HLS client) carries the token
// to every later request, a playlist served for a request with `vt` lists each URI with the same
// `vt` appended (RewritePlaylist). Viewer tokens are per stream and time bucket, not per viewer,
// so nginx edges (whose cache key includes the query) still keep one copy per part. Edges do not
// verify tokens themselves: a miss reaches this origin, which verifies; a hit can only be an
// entry stored under the same URL, i.e. the same token, which the origin accepted. Responses to
// token requests are therefore never cacheable beyond the token's exp (CacheSeconds).
//
// Stream names are not secret inside the intranet: GET /api/v1/streams stays public, so the
// player can say "offline" or "live" before anyone logs in.
// Deliberately not here: minting (chatd), HTTP routing and counters (service.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lib/auth/token.hpp"
#include "lib/base/result.hpp"

namespace collab::stream {

struct ViewerPolicy {
  bool open = false;                    // stream.viewers = "open"
  std::set<std::string> open_streams;   // stream.open_streams
  std::optional<auth::SigningKey> key;  // required unless open
};

class ViewerAuth {
 public:
  // Why a request was refused (also the `reason` label of the rejection counter).
  enum class Reason { kNone, kMissing, kInvalid, kExpired, kWrongStream };
  static const char* ReasonName(Reason r);

  struct Verdict {
    Reason reason = Reason::kNone;
    int status = 200;     // 200, 401 (no, bad or expired token) or 403 (a token for another stream)
    std::string message;  // for the JSON error body
    int64_t exp = 0;      // of the accepted token; 0 when the stream is open
    bool ok() const { return reason == Reason::kNone; }
  };

  void Configure(ViewerPolicy policy);
  const ViewerPolicy& policy() const { return policy_; }
  bool IsOpen(std::string_view stream) const;

  // Checks the `vt` value of a request for /live/<stream>/* at now_s (unix seconds).
  Verdict Check(std::string_view stream, std::string_view vt, int64_t now_s);

  // max-age for a response whose lifetime would be `max_age_s`, served to a request whose token
  // expires at exp (0: open, no limit): never past exp, so an edge drops the entry with the token.
  static int64_t CacheSeconds(int64_t max_age_s, int64_t exp, int64_t now_s);

 private:
  ViewerPolicy policy_;
  // Tokens already verified, with their claims' exp and scope: every part request of every
  // viewer carries the same few tokens, so the MAC and JSON work is done once per token.
  struct Known {
    int64_t exp = 0;
    std::vector<std::string> scope;
  };
  std::map<std::string, Known, std::less<>> known_;
};

// Loads the policy from stream.viewers, stream.open_streams and auth.key_file (the key only when
// some stream needs a token). A missing or unsafe key in token mode is an error naming the file.
struct ViewerPolicyConfig {
  std::string viewers;  // "open" or "token"
  std::vector<std::string> open_streams;
  std::string key_file;
};
base::Result<ViewerPolicy> LoadViewerPolicy(const ViewerPolicyConfig& cfg);

// The media playlist with "vt=<token>" added to every URI it lists: URI lines (segments) and the
// URI="..." attribute of every tag (EXT-X-MAP, EXT-X-PART, EXT-X-PRELOAD-HINT,
// EXT-X-RENDITION-REPORT, ...), with '?' or '&' as the URI already has a query or not. The
// request's own query (_HLS_msn, _HLS_part, _HLS_skip) is never copied. token must be URL-safe
// (a verified token is: base64url and dots); anything else is refused so it cannot inject lines.
base::Result<std::string> RewritePlaylist(std::string_view playlist, std::string_view token);

}  // namespace collab::stream
