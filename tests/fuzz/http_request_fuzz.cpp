// Fuzzes the request parsing lib/http does itself (lib/http/parse.hpp): percent-decoding, query
// strings, route patterns, static-file paths, If-None-Match, HTTP dates and media types. The
// first byte picks the parser; for route patterns a newline separates pattern and path. Besides
// "no crash, no leak", it checks the round-trip and safety properties the server relies on.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "lib/http/parse.hpp"

using namespace collab::http;

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

void FuzzPercent(std::string_view in) {
  for (bool plus : {false, true}) {
    auto d = PercentDecode(in, plus);
    if (!d.ok()) continue;
    Check(d->find('\0') == std::string::npos);
    Check(d->size() <= in.size());
    auto again = PercentDecode(PercentEncode(*d), false);
    Check(again.ok() && *again == *d);
  }
}

void FuzzQuery(std::string_view in) {
  auto q = ParseQuery(in);
  if (!q.ok()) return;
  auto again = ParseQuery(BuildQuery(*q));
  Check(again.ok() && *again == *q);
}

void FuzzRoute(std::string_view in) {
  size_t nl = in.find('\n');
  std::string_view pattern = in.substr(0, nl);
  std::string_view path = nl == std::string_view::npos ? std::string_view("/") : in.substr(nl + 1);
  auto p = RoutePattern::Parse(pattern);
  if (!p.ok()) return;
  std::map<std::string, std::string> params;
  if (p->Match(path, &params)) {
    for (const auto& [name, value] : params) Check(!name.empty() && !value.empty());
  }
  // A pattern without parameters matches exactly its own text.
  if (pattern.find('{') == std::string_view::npos) Check(p->Match(pattern, nullptr));
}

void FuzzStaticPath(std::string_view in) {
  auto rel = StaticRelativePath(in);
  if (!rel.ok()) return;
  std::string_view r = *rel;
  Check(r.empty() || (r.front() != '/' && r.back() != '/'));
  Check(r.find('\\') == std::string_view::npos && r.find('\0') == std::string_view::npos);
  Check(r.find("//") == std::string_view::npos);
  size_t start = 0;
  while (!r.empty() && start <= r.size()) {
    size_t slash = r.find('/', start);
    std::string_view seg = r.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    Check(!seg.empty() && seg.front() != '.');
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  (void)MimeTypeForPath(r);
}

void FuzzHeaders(std::string_view in) {
  size_t nl = in.find('\n');
  std::string_view etag = in.substr(0, nl);
  std::string_view list = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  (void)EtagMatches(list, etag);
  // A well-formed tag always matches itself, alone or inside a list.
  if (etag.find('"') == std::string_view::npos) {
    std::string tag = "\"" + std::string(etag) + "\"";
    Check(EtagMatches(tag, tag));
    Check(EtagMatches("\"other\", W/" + tag, tag));
  }
  std::string type = MediaType(in);
  for (char c : type) Check(!(c >= 'A' && c <= 'Z'));
  (void)IsToken(in);
  (void)IsSafeHeaderValue(in);
  if (auto t = ParseHttpDate(in)) {
    auto back = ParseHttpDate(FormatHttpDate(*t));
    Check(back.has_value() && *back == *t);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      FuzzPercent(in);
      break;
    case 1:
      FuzzQuery(in);
      break;
    case 2:
      FuzzRoute(in);
      break;
    case 3:
      FuzzStaticPath(in);
      break;
    default:
      FuzzHeaders(in);
      break;
  }
  return 0;
}
