// The HTTP parsing that lib/http does itself, as pure functions over bytes: percent-decoding,
// query strings, route patterns, Content-Length, chunked request bodies, media types, ETags,
// HTTP dates and the mapping of URL paths onto a static-files directory. No sockets, no
// libwebsockets and no event loop here, so the server, the unit tests and the fuzz target share
// one definition of what valid input is. Every function takes untrusted bytes and reports bad
// input as an Error (kExitDataErr, which the server turns into 400) instead of throwing.
// Deliberately not an HTTP/1.1 message parser: libwebsockets parses request lines and headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/base/result.hpp"

namespace collab::http {

using QueryList = std::vector<std::pair<std::string, std::string>>;

// Decodes %XX escapes (and '+' as a space when plus_as_space). Bad escapes ("%G1", a trailing
// "%") and escapes that decode to NUL are errors.
[[nodiscard]] base::Result<std::string> PercentDecode(std::string_view in, bool plus_as_space);
// Escapes everything except RFC 3986 unreserved characters, so the result is safe as a query
// name or value and as a path segment.
std::string PercentEncode(std::string_view in);

// Splits "a=1&b=x%20y&flag" into decoded pairs (a missing '=' gives an empty value; empty
// parts are skipped). Any bad escape makes the whole query an error.
[[nodiscard]] base::Result<QueryList> ParseQuery(std::string_view query);
// Joins pairs into a canonical query string, each name and value percent-encoded.
std::string BuildQuery(const QueryList& pairs);

// A route pattern such as "/api/v1/rooms/{id}/messages": literal segments match exactly,
// "{name}" matches one non-empty segment, and a final "{name*}" matches the rest of the path
// (one or more segments, joined with '/'). Parameter names are [A-Za-z0-9_]+ and unique.
class RoutePattern {
 public:
  [[nodiscard]] static base::Result<RoutePattern> Parse(std::string_view pattern);

  // Matches a decoded path ("/api/v1/rooms/42"). On a match fills params (when not null).
  // A trailing slash is significant: "/a/" does not match "/a".
  bool Match(std::string_view path, std::map<std::string, std::string>* params) const;
  const std::string& text() const { return text_; }

 private:
  struct Segment {
    std::string text;  // literal text, or the parameter name
    bool param = false;
    bool rest = false;  // "{name*}"
  };
  std::string text_;
  std::vector<Segment> segments_;
};

// Content-Length: digits only (no sign, no spaces inside, no list), at most 2^53.
[[nodiscard]] base::Result<uint64_t> ParseContentLength(std::string_view value);

// Incremental decoder for "Transfer-Encoding: chunked" request bodies. Feed it bytes as they
// arrive; it appends payload to *out and stops at the terminating chunk and trailers. Errors
// on malformed framing, on chunk-size lines or trailers longer than a few KiB, and when the
// decoded body would exceed max_body (the error's message is then kTooLarge, so a server can
// answer 413 rather than 400).
class ChunkedDecoder {
 public:
  static constexpr const char* kTooLarge = "request body too large";
  explicit ChunkedDecoder(size_t max_body) : max_body_(max_body) {}

  // Consumes bytes; returns how many were used (fewer than in.size() only once done()).
  [[nodiscard]] base::Result<size_t> Feed(std::string_view in, std::string* out);
  bool done() const { return state_ == State::kDone; }

 private:
  enum class State { kSize, kSizeLf, kData, kDataCr, kDataLf, kTrailer, kTrailerLf, kDone };
  State state_ = State::kSize;
  size_t max_body_;
  size_t total_ = 0;
  uint64_t chunk_left_ = 0;
  std::string line_;
  size_t trailer_bytes_ = 0;
};

// "Application/JSON; charset=utf-8" -> "application/json" (lowercase, parameters dropped).
std::string MediaType(std::string_view content_type);

// Content-Type for a file name by extension (html, js, mjs, css, json, svg, png, jpg, jpeg, gif,
// webp, woff, woff2, wasm, ico, txt, map, m3u8, mp4, m4s, ts, vtt, webmanifest, xml, pdf);
// application/octet-stream otherwise.
const char* MimeTypeForPath(std::string_view path);

// If-None-Match matching with weak comparison (RFC 9110 13.1.2): "*" or any listed tag.
bool EtagMatches(std::string_view if_none_match, std::string_view etag);

// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") from/to Unix seconds. Parsing accepts only
// that form (the obsolete forms are for caches we do not talk to) and returns nullopt otherwise.
std::string FormatHttpDate(int64_t unix_seconds);
std::optional<int64_t> ParseHttpDate(std::string_view text);

// Maps a decoded URL path onto a path relative to a static-files root: "/" -> "", "/a/b.js" ->
// "a/b.js". Errors on NUL bytes, backslashes, "." or ".." segments and dot-files such as
// "/.git/config": a static tree never needs them and they are how traversal is attempted.
// Empty segments ("//") are dropped.
[[nodiscard]] base::Result<std::string> StaticRelativePath(std::string_view url_path);

// True when the string may go into a response header value (no CR, LF or NUL).
bool IsSafeHeaderValue(std::string_view value);
// True for an RFC 9110 token (header names, methods).
bool IsToken(std::string_view s);

// Looks up a header in a list with lowercase names; "" when absent.
std::string FindHeader(const std::vector<std::pair<std::string, std::string>>& headers, std::string_view name);

}  // namespace collab::http
