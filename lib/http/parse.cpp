#include "lib/http/parse.hpp"

#include <algorithm>
#include <cstring>
#include <set>

#include "lib/base/ascii.hpp"

namespace collab::http {

using base::Error;
using base::kExitDataErr;
using base::Result;

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

using base::LowerAscii;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Error BadInput(std::string message) { return Error{kExitDataErr, std::move(message)}; }

// Splits on '/' keeping empty segments, after the leading slash: "/" -> [""], "/a/" -> ["a", ""].
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool IsParamNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

constexpr const char* kDayNames[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonthNames[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

}  // namespace

Result<std::string> PercentDecode(std::string_view in, bool plus_as_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return BadInput("truncated percent-escape");
      int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return BadInput("bad percent-escape");
      char decoded = static_cast<char>((hi << 4) | lo);
      if (decoded == '\0') return BadInput("percent-escape decodes to NUL");
      out.push_back(decoded);
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else if (c == '\0') {
      return BadInput("NUL byte");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string PercentEncode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(in.size());
  for (unsigned char c : in) {
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Result<QueryList> ParseQuery(std::string_view query) {
  QueryList out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    auto name = PercentDecode(part.substr(0, eq), true);
    if (!name.ok()) return name.error().Wrap("query parameter name");
    std::string value;
    if (eq != std::string_view::npos) {
      auto v = PercentDecode(part.substr(eq + 1), true);
      if (!v.ok()) return v.error().Wrap("query parameter value");
      value = std::move(*v);
    }
    out.emplace_back(std::move(*name), std::move(value));
  }
  return out;
}

std::string BuildQuery(const QueryList& pairs) {
  std::string out;
  for (const auto& [name, value] : pairs) {
    if (!out.empty()) out.push_back('&');
    out += PercentEncode(name);
    out.push_back('=');
    out += PercentEncode(value);
  }
  return out;
}

Result<RoutePattern> RoutePattern::Parse(std::string_view pattern) {
  if (pattern.empty() || pattern.front() != '/') return BadInput("route pattern must start with '/'");
  RoutePattern rp;
  rp.text_ = std::string(pattern);
  std::set<std::string, std::less<>> names;
  auto parts = SplitPath(pattern);
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string_view seg = parts[i];
    Segment s;
    if (!seg.empty() && seg.front() == '{') {
      if (seg.size() < 3 || seg.back() != '}') return BadInput("bad parameter segment in route pattern");
      std::string_view name = seg.substr(1, seg.size() - 2);
      if (name.back() == '*') {
        if (i + 1 != parts.size()) return BadInput("a {name*} parameter must be the last segment");
        s.rest = true;
        name.remove_suffix(1);
      }
      if (name.empty() || !std::all_of(name.begin(), name.end(), IsParamNameChar))
        return BadInput("bad parameter name in route pattern");
      if (!names.insert(std::string(name)).second) return BadInput("duplicate parameter name in route pattern");
      s.param = true;
      s.text = std::string(name);
    } else {
      if (seg.find_first_of("{}") != std::string_view::npos) return BadInput("stray brace in route pattern");
      s.text = std::string(seg);
    }
    rp.segments_.push_back(std::move(s));
  }
  return rp;
}

bool RoutePattern::Match(std::string_view path, std::map<std::string, std::string>* params) const {
  if (path.empty() || path.front() != '/') return false;
  auto parts = SplitPath(path);
  std::map<std::string, std::string> found;
  for (size_t i = 0; i < segments_.size(); ++i) {
    const Segment& s = segments_[i];
    if (i >= parts.size()) return false;
    if (s.rest) {
      std::string rest;
      for (size_t j = i; j < parts.size(); ++j) {
        if (j > i) rest.push_back('/');
        rest.append(parts[j]);
      }
      if (rest.empty() || parts[i].empty()) return false;
      found[s.text] = std::move(rest);
      if (params) *params = std::move(found);
      return true;
    }
    if (s.param) {
      if (parts[i].empty()) return false;
      found[s.text] = std::string(parts[i]);
    } else if (parts[i] != s.text) {
      return false;
    }
  }
  if (parts.size() != segments_.size()) return false;
  if (params) *params = std::move(found);
  return true;
}

Result<uint64_t> ParseContentLength(std::string_view value) {
  value = Trim(value);
  if (value.empty()) return BadInput("empty Content-Length");
  if (value.size() > 16) return BadInput("Content-Length too large");
  uint64_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return BadInput("Content-Length is not a number");
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n > (uint64_t{1} << 53)) return BadInput("Content-Length too large");
  return n;
}

Result<size_t> ChunkedDecoder::Feed(std::string_view in, std::string* out) {
  static constexpr size_t kMaxLine = 4096;
  static constexpr size_t kMaxTrailers = 8192;
  size_t i = 0;
  while (i < in.size() && state_ != State::kDone) {
    char c = in[i];
    switch (state_) {
      case State::kSize:
        if (c == '\r') {
          state_ = State::kSizeLf;
        } else {
          if (line_.size() >= kMaxLine) return BadInput("chunk-size line too long");
          line_.push_back(c);
        }
        ++i;
        break;
      case State::kSizeLf: {
        if (c != '\n') return BadInput("chunk-size line not ended by CRLF");
        ++i;
        std::string_view line = line_;
        size_t digits = 0;
        uint64_t size = 0;
        while (digits < line.size() && HexValue(line[digits]) >= 0) {
          if (digits >= 15) return BadInput("chunk size too large");
          size = size * 16 + static_cast<uint64_t>(HexValue(line[digits]));
          ++digits;
        }
        if (digits == 0) return BadInput("bad chunk size");
        std::string_view ext = Trim(line.substr(digits));
        if (!ext.empty() && ext.front() != ';') return BadInput("bad chunk extension");
        for (char e : ext)
          if (e == '\0' || e == '\n') return BadInput("bad chunk extension");
        line_.clear();
        if (size == 0) {
          state_ = State::kTrailer;
          break;
        }
        if (size > max_body_ || total_ + size > max_body_) return Error{kExitDataErr, kTooLarge};
        chunk_left_ = size;
        state_ = State::kData;
        break;
      }
      case State::kData: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(chunk_left_, in.size() - i));
        out->append(in.data() + i, take);
        i += take;
        total_ += take;
        chunk_left_ -= take;
        if (chunk_left_ == 0) state_ = State::kDataCr;
        break;
      }
      case State::kDataCr:
        if (c != '\r') return BadInput("chunk data not followed by CRLF");
        state_ = State::kDataLf;
        ++i;
        break;
      case State::kDataLf:
        if (c != '\n') return BadInput("chunk data not followed by CRLF");
        state_ = State::kSize;
        ++i;
        break;
      case State::kTrailer:
        if (c == '\r') {
          state_ = State::kTrailerLf;
        } else {
          if (++trailer_bytes_ > kMaxTrailers) return BadInput("chunked trailers too long");
          line_.push_back(c);
        }
        ++i;
        break;
      case State::kTrailerLf:
        if (c != '\n') return BadInput("trailer line not ended by CRLF");
        ++i;
        if (line_.empty()) {
          state_ = State::kDone;
        } else {
          line_.clear();
          state_ = State::kTrailer;
        }
        break;
      case State::kDone:
        break;
    }
  }
  return i;
}

std::string MediaType(std::string_view content_type) {
  std::string_view t = Trim(content_type.substr(0, content_type.find(';')));
  std::string out(t);
  for (char& c : out) c = LowerAscii(c);
  return out;
}

const char* MimeTypeForPath(std::string_view path) {
  static const std::pair<const char*, const char*> kTypes[] = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"json", "application/json"},
      {"map", "application/json"},
      {"webmanifest", "application/manifest+json"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"ico", "image/x-icon"},
      {"woff", "font/woff"},
      {"woff2", "font/woff2"},
      {"wasm", "application/wasm"},
      {"txt", "text/plain; charset=utf-8"},
      {"xml", "application/xml"},
      {"pdf", "application/pdf"},
      {"m3u8", "application/vnd.apple.mpegurl"},
      {"mp4", "video/mp4"},
      {"m4s", "video/iso.segment"},
      {"ts", "video/mp2t"},
      {"vtt", "text/vtt; charset=utf-8"},
      {"wav", "audio/wav"},
  };
  size_t slash = path.rfind('/');
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot + 1 >= name.size()) return "application/octet-stream";
  std::string ext(name.substr(dot + 1));
  for (char& c : ext) c = LowerAscii(c);
  for (const auto& [e, type] : kTypes)
    if (ext == e) return type;
  return "application/octet-stream";
}

bool EtagMatches(std::string_view if_none_match, std::string_view etag) {
  auto opaque = [](std::string_view t) {
    t = Trim(t);
    if (t.size() >= 2 && t[0] == 'W' && t[1] == '/') t.remove_prefix(2);
    return t;
  };
  std::string_view want = opaque(etag);
  if (want.empty()) return false;
  std::string_view list = Trim(if_none_match);
  if (list == "*") return true;
  size_t i = 0;
  while (i < list.size()) {
    while (i < list.size() && (list[i] == ' ' || list[i] == '\t' || list[i] == ',')) ++i;
    size_t start = i;
    if (i + 1 < list.size() && list[i] == 'W' && list[i + 1] == '/') i += 2;
    if (i < list.size() && list[i] == '"') {
      size_t close = list.find('"', i + 1);
      if (close == std::string_view::npos) return false;
      i = close + 1;
    } else {
      while (i < list.size() && list[i] != ',') ++i;
    }
    if (opaque(list.substr(start, i - start)) == want) return true;
  }
  return false;
}

std::string FormatHttpDate(int64_t unix_seconds) {
  int64_t days = unix_seconds >= 0 ? unix_seconds / 86400 : (unix_seconds - 86399) / 86400;
  int64_t secs = unix_seconds - days * 86400;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  int weekday = static_cast<int>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
  char buf[64];
  snprintf(buf, sizeof(buf), "%s, %02u %s %04lld %02d:%02d:%02d GMT", kDayNames[weekday], d, kMonthNames[m - 1],
           static_cast<long long>(y), static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
           static_cast<int>(secs % 60));
  return buf;
}

std::optional<int64_t> ParseHttpDate(std::string_view t) {
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  if (t.size() != 29 || t[3] != ',' || t[4] != ' ' || t[7] != ' ' || t[11] != ' ' || t[16] != ' ' || t[19] != ':' ||
      t[22] != ':' || t.substr(25) != " GMT")
    return std::nullopt;
  auto num = [&](size_t pos, size_t len) -> int {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (t[i] < '0' || t[i] > '9') return -1;
      v = v * 10 + (t[i] - '0');
    }
    return v;
  };
  int day = num(5, 2), year = num(12, 4), hh = num(17, 2), mm = num(20, 2), ss = num(23, 2);
  int month = -1;
  for (int i = 0; i < 12; ++i)
    if (t.substr(8, 3) == kMonthNames[i]) month = i + 1;
  if (day < 1 || day > 31 || year < 1970 || month < 0 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60)
    return std::nullopt;
  return DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 + hh * 3600 + mm * 60 +
         ss;
}

Result<std::string> StaticRelativePath(std::string_view url_path) {
  if (url_path.empty() || url_path.front() != '/') return BadInput("path must start with '/'");
  std::string out;
  for (std::string_view seg : SplitPath(url_path)) {
    if (seg.empty()) continue;
    if (seg.front() == '.') return BadInput("path segment starts with '.'");
    if (seg.find('\0') != std::string_view::npos || seg.find('\\') != std::string_view::npos)
      return BadInput("bad byte in path");
    if (!out.empty()) out.push_back('/');
    out.append(seg);
  }
  return out;
}

bool IsSafeHeaderValue(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
    if (!ok || c == '\0') return false;
  }
  return true;
}

std::string FindHeader(const std::vector<std::pair<std::string, std::string>>& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (n.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < n.size() && same; ++i) same = LowerAscii(n[i]) == LowerAscii(name[i]);
    if (same) return v;
  }
  return "";
}

}  // namespace collab::http
