// SDP parser and writer. See sdp.hpp for the scope.
#include "lib/rtc/sdp.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>

#include "lib/base/ascii.hpp"

namespace collab::rtc {
namespace {

using base::Error;
using base::Result;

// ---- character classes (RFC 8866 section 9, RFC 8839 section 5) ----

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAlnum(char c) { return IsDigit(c) || IsAlpha(c); }

// token-char = %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A / %x5E-7E
bool IsTokenChar(char ch) {
  auto c = static_cast<unsigned char>(ch);
  return c == 0x21 || (c >= 0x23 && c <= 0x27) || c == 0x2A || c == 0x2B || c == 0x2D || c == 0x2E ||
         (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x5E && c <= 0x7E);
}
bool IsToken(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), IsTokenChar); }
// ice-char = ALPHA / DIGIT / "+" / "/"
bool IsIceChars(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return IsAlnum(c) || c == '+' || c == '/'; });
}
// Visible ASCII or UTF-8 continuation, no space: the "non-ws-string" of RFC 8866.
bool IsNonWs(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7F;
  });
}
// rid-id = 1*(alpha-numeric / "-" / "_") (RFC 8851)
bool IsRidId(std::string_view s) {
  return !s.empty() && s.size() <= 255 &&
         std::all_of(s.begin(), s.end(), [](char c) { return IsAlnum(c) || c == '-' || c == '_'; });
}
// Candidate connection-address: IPv4, IPv6 (with optional zone) or an FQDN.
bool IsAddress(std::string_view s) {
  return !s.empty() && s.size() <= 255 && std::all_of(s.begin(), s.end(), [](char c) {
    return IsAlnum(c) || c == '.' || c == ':' || c == '-' || c == '_' || c == '%';
  });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits on runs of spaces/tabs; no empty fields.
std::vector<std::string_view> Fields(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// Splits off the first field; rest is trimmed.
std::pair<std::string_view, std::string_view> FirstField(std::string_view s) {
  s = Trim(s);
  size_t sp = s.find_first_of(" \t");
  if (sp == std::string_view::npos) return {s, {}};
  return {s.substr(0, sp), Trim(s.substr(sp))};
}

std::vector<std::string_view> SplitOn(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    if (p == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, p - start));
    start = p + 1;
  }
}

// Unsigned decimal, digits only (no sign, no spaces), at most max.
template <typename T>
std::optional<T> ParseUint(std::string_view s, uint64_t max) {
  if (s.empty() || s.size() > 20 || !std::all_of(s.begin(), s.end(), IsDigit)) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > max) return std::nullopt;
  return static_cast<T>(v);
}

// Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF). Returns the offset
// of the first bad byte, or npos.
size_t FindBadUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (s.size() - i <= n) return i;
    for (size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += n + 1;
  }
  return std::string_view::npos;
}

std::optional<SdpDirection> DirectionFromName(std::string_view s) {
  if (s == "sendrecv") return SdpDirection::kSendRecv;
  if (s == "sendonly") return SdpDirection::kSendOnly;
  if (s == "recvonly") return SdpDirection::kRecvOnly;
  if (s == "inactive") return SdpDirection::kInactive;
  return std::nullopt;
}

std::optional<SdpSetup> SetupFromName(std::string_view s) {
  if (s == "actpass") return SdpSetup::kActPass;
  if (s == "active") return SdpSetup::kActive;
  if (s == "passive") return SdpSetup::kPassive;
  if (s == "holdconn") return SdpSetup::kHoldConn;
  return std::nullopt;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Static payload types of RFC 3551 table 4/5, used when a section omits their rtpmap.
struct StaticPt {
  int pt;
  const char* name;
  uint32_t clock;
  uint32_t channels;
};
constexpr std::array<StaticPt, 11> kStaticPts = {{{0, "PCMU", 8000, 1},
                                                  {3, "GSM", 8000, 1},
                                                  {4, "G723", 8000, 1},
                                                  {8, "PCMA", 8000, 1},
                                                  {9, "G722", 8000, 1},
                                                  {13, "CN", 8000, 1},
                                                  {18, "G729", 8000, 1},
                                                  {26, "JPEG", 90000, 0},
                                                  {31, "H261", 90000, 0},
                                                  {32, "MPV", 90000, 0},
                                                  {34, "H263", 90000, 0}}};

// ---- the parser ----

class Parser {
 public:
  Parser(std::string_view text, const SdpParseLimits& limits) : text_(text), limits_(limits) {}

  Result<SdpSession> Run();

 private:
  Error Fail(const std::string& reason) const {
    return base::MakeError(base::kExitDataErr, "sdp line " + std::to_string(line_no_) + ": " + reason);
  }

  base::Status CheckBody();
  base::Status Line(char type, std::string_view value);
  base::Status SessionLine(char type, std::string_view value);
  base::Status MediaLine(char type, std::string_view value);
  base::Status SectionLine(char type, std::string_view value);
  base::Status StartMedia(std::string_view value);
  base::Status SessionAttribute(std::string_view name, std::string_view value, bool has_value);
  base::Status MediaAttribute(std::string_view name, std::string_view value, bool has_value);
  base::Status Finish();

  Result<SdpConnection> ParseConnection(std::string_view value);
  Result<SdpBandwidth> ParseBandwidth(std::string_view value);
  Result<SdpFingerprint> ParseFingerprint(std::string_view value);
  Result<SdpExtmap> ParseExtmap(std::string_view value);
  Result<SdpCandidate> ParseCandidate(std::string_view value);
  Result<SdpRid> ParseRid(std::string_view value);
  Result<SdpSimulcast> ParseSimulcast(std::string_view value);
  Result<SdpSimulcastList> ParseSimulcastList(std::string_view value);
  base::Status ParseIceCredential(std::string_view name, std::string_view value, std::string* out);
  Result<std::vector<std::string>> ParseTokenList(std::string_view value, const char* what);

  SdpCodec* CodecFor(int pt) {
    if (pt < 0 || pt > 127 || pt_index_[static_cast<size_t>(pt)] < 0) return nullptr;
    return &session_.media.back().codecs[static_cast<size_t>(pt_index_[static_cast<size_t>(pt)])];
  }
  // A payload type field of rtpmap/fmtp/rtcp-fb: nullopt if malformed.
  std::optional<int> ParsePt(std::string_view s) { return ParseUint<int>(s, 127); }

  std::string_view text_;
  const SdpParseLimits& limits_;
  size_t line_no_ = 0;
  SdpSession session_;
  bool in_media_ = false;
  bool seen_v_ = false, seen_o_ = false, seen_s_ = false, seen_t_ = false;
  size_t attributes_in_section_ = 0;
  std::array<int16_t, 128> pt_index_{};
  std::array<bool, 128> has_rtpmap_{};
  std::array<bool, 128> has_fmtp_{};
};

base::Status Parser::CheckBody() {
  if (text_.size() > limits_.max_bytes)
    return base::MakeError(base::kExitDataErr, "sdp line 0: body of " + std::to_string(text_.size()) +
                                                   " bytes exceeds the limit of " + std::to_string(limits_.max_bytes));
  if (size_t bad = FindBadUtf8(text_); bad != std::string_view::npos)
    return base::MakeError(base::kExitDataErr, "sdp line 0: invalid UTF-8 at byte " + std::to_string(bad));
  return base::Ok();
}

Result<SdpSession> Parser::Run() {
  COLLAB_TRY(CheckBody());
  pt_index_.fill(-1);
  // The index of the end of the last non-empty line: empty lines after it are tolerated
  // (a trailing CRLF, or several), empty lines before it are an error.
  size_t content_end = text_.size();
  while (content_end > 0 && (text_[content_end - 1] == '\n' || text_[content_end - 1] == '\r')) --content_end;
  if (content_end == 0) return base::MakeError(base::kExitDataErr, "sdp line 0: empty description");

  size_t pos = 0;
  while (pos < content_end) {
    size_t nl = text_.find('\n', pos);
    if (nl == std::string_view::npos) nl = text_.size();
    std::string_view line = text_.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no_;
    if (line_no_ > limits_.max_lines) return Fail("more than " + std::to_string(limits_.max_lines) + " lines");
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > limits_.max_line_length)
      return Fail("line longer than " + std::to_string(limits_.max_line_length) + " bytes");
    for (char c : line) {
      auto u = static_cast<unsigned char>(c);
      if (u == 0) return Fail("NUL byte");
      if ((u < 0x20 && c != '\t') || u == 0x7F) return Fail("control character 0x" + std::to_string(u));
    }
    if (line.empty()) return Fail("empty line");
    if (line.size() < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z') return Fail("not a <type>=<value> line");
    COLLAB_TRY(Line(line[0], line.substr(2)));
  }
  COLLAB_TRY(Finish());
  return std::move(session_);
}

base::Status Parser::Line(char type, std::string_view value) {
  if (!seen_v_) {
    if (type != 'v') return Fail("the first line must be v=");
    if (value != "0") return Fail("unsupported version v=" + std::string(value));
    seen_v_ = true;
    return base::Ok();
  }
  if (type == 'm') return StartMedia(value);
  if (type == 'c' || type == 'b' || type == 'a') return SectionLine(type, value);
  return in_media_ ? MediaLine(type, value) : SessionLine(type, value);
}

// c=, b= and a= read the same at session and at media level; they go to the current section.
base::Status Parser::SectionLine(char type, std::string_view value) {
  SdpMedia* m = in_media_ ? &session_.media.back() : nullptr;
  if (type == 'c') {
    std::optional<SdpConnection>& connection = m ? m->connection : session_.connection;
    if (connection) return Fail(m ? "duplicate c= in a media section" : "duplicate c=");
    COLLAB_ASSIGN_OR_RETURN(connection, ParseConnection(value));
    return base::Ok();
  }
  if (type == 'b') {
    COLLAB_ASSIGN_OR_RETURN(auto bw, ParseBandwidth(value));
    (m ? m->bandwidths : session_.bandwidths).push_back(std::move(bw));
    return base::Ok();
  }
  if (++attributes_in_section_ > limits_.max_attributes_per_section) return Fail("too many attributes");
  size_t colon = value.find(':');
  std::string_view name = value.substr(0, colon);
  if (!IsToken(name)) return Fail("bad attribute name");
  bool has_value = colon != std::string_view::npos;
  std::string_view attr = has_value ? value.substr(colon + 1) : std::string_view{};
  return m ? MediaAttribute(name, attr, has_value) : SessionAttribute(name, attr, has_value);
}

base::Status Parser::SessionLine(char type, std::string_view value) {
  switch (type) {
    case 'v':
      return Fail("duplicate v=");
    case 'o': {
      if (seen_o_) return Fail("duplicate o=");
      auto f = Fields(value);
      if (f.size() != 6) return Fail("o= needs 6 fields");
      auto digits = [](std::string_view s) {
        return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), IsDigit);
      };
      if (!IsNonWs(f[0])) return Fail("bad o= username");
      if (!digits(f[1]) || !digits(f[2])) return Fail("o= session id and version must be decimal");
      if (!IsToken(f[3]) || !IsToken(f[4]) || !IsNonWs(f[5])) return Fail("bad o= address fields");
      session_.origin = SdpOrigin{std::string(f[0]), std::string(f[1]), std::string(f[2]),
                                  std::string(f[3]), std::string(f[4]), std::string(f[5])};
      seen_o_ = true;
      return base::Ok();
    }
    case 's':
      if (seen_s_) return Fail("duplicate s=");
      session_.session_name = std::string(value);
      seen_s_ = true;
      return base::Ok();
    case 't': {
      if (seen_t_) {  // more than one time description: kept verbatim
        session_.extra_lines.push_back({type, std::string(value)});
        return base::Ok();
      }
      auto f = Fields(value);
      if (f.size() != 2) return Fail("t= needs 2 fields");
      auto start = ParseUint<uint64_t>(f[0], UINT64_MAX), stop = ParseUint<uint64_t>(f[1], UINT64_MAX);
      if (!start || !stop) return Fail("t= times must be decimal");
      session_.start_time = *start;
      session_.stop_time = *stop;
      seen_t_ = true;
      return base::Ok();
    }
    case 'i':
    case 'u':
    case 'e':
    case 'p':
    case 'r':
    case 'z':
    case 'k':
      session_.extra_lines.push_back({type, std::string(value)});
      return base::Ok();
    default:
      return Fail(std::string("unknown line type '") + type + "='");
  }
}

base::Status Parser::MediaLine(char type, std::string_view value) {
  SdpMedia& m = session_.media.back();
  switch (type) {
    case 'i':
    case 'k':
      m.extra_lines.push_back({type, std::string(value)});
      return base::Ok();
    case 'v':
    case 'o':
    case 's':
    case 't':
    case 'u':
    case 'e':
    case 'p':
    case 'r':
    case 'z':
      return Fail(std::string(1, type) + "= is not allowed in a media section");
    default:
      return Fail(std::string("unknown line type '") + type + "='");
  }
}

base::Status Parser::StartMedia(std::string_view value) {
  if (!seen_o_ || !seen_s_ || !seen_t_) return Fail("m= before the o=, s= and t= lines");
  if (session_.media.size() >= limits_.max_media)
    return Fail("more than " + std::to_string(limits_.max_media) + " media sections");
  auto f = Fields(value);
  if (f.size() < 4) return Fail("m= needs <media> <port> <proto> <fmt>...");
  SdpMedia m;
  if (!IsToken(f[0])) return Fail("bad m= media type");
  m.media = std::string(f[0]);
  if (f[0] == "audio")
    m.kind = SdpMediaKind::kAudio;
  else if (f[0] == "video")
    m.kind = SdpMediaKind::kVideo;
  else if (f[0] == "application")
    m.kind = SdpMediaKind::kApplication;
  else
    m.kind = SdpMediaKind::kOther;

  std::string_view port = f[1];
  if (size_t slash = port.find('/'); slash != std::string_view::npos) {
    auto count = ParseUint<uint32_t>(port.substr(slash + 1), 65535);
    if (!count || *count == 0) return Fail("bad m= port count");
    m.port_count = *count;
    port = port.substr(0, slash);
  }
  auto p = ParseUint<uint16_t>(port, 65535);
  if (!p) return Fail("bad m= port '" + std::string(f[1]) + "'");
  m.port = *p;

  if (!std::all_of(f[2].begin(), f[2].end(), [](char c) { return IsTokenChar(c) || c == '/'; }))
    return Fail("bad m= proto");
  m.proto = std::string(f[2]);

  pt_index_.fill(-1);
  has_rtpmap_.fill(false);
  has_fmtp_.fill(false);
  bool rtp = m.IsRtp();
  for (size_t i = 3; i < f.size(); ++i) {
    if (rtp) {
      auto pt = ParseUint<int>(f[i], 127);
      if (!pt) return Fail("payload type '" + std::string(f[i]) + "' is not a number 0..127");
      if (pt_index_[static_cast<size_t>(*pt)] >= 0) return Fail("duplicate payload type " + std::string(f[i]));
      pt_index_[static_cast<size_t>(*pt)] = static_cast<int16_t>(m.codecs.size());
      SdpCodec c;
      c.pt = *pt;
      m.codecs.push_back(std::move(c));
    } else if (!IsToken(f[i])) {
      return Fail("bad m= format");
    }
    m.formats.emplace_back(f[i]);
  }
  session_.media.push_back(std::move(m));
  in_media_ = true;
  attributes_in_section_ = 0;
  return base::Ok();
}

Result<SdpConnection> Parser::ParseConnection(std::string_view value) {
  auto f = Fields(value);
  if (f.size() != 3 || !IsToken(f[0]) || !IsToken(f[1]) || !IsNonWs(f[2])) return Fail("bad c= line");
  return SdpConnection{std::string(f[0]), std::string(f[1]), std::string(f[2])};
}

Result<SdpBandwidth> Parser::ParseBandwidth(std::string_view value) {
  size_t colon = value.find(':');
  if (colon == std::string_view::npos) return Fail("b= needs <type>:<value>");
  std::string_view type = value.substr(0, colon);
  auto v = ParseUint<uint64_t>(value.substr(colon + 1), UINT64_MAX);
  if (!IsToken(type) || !v) return Fail("bad b= line");
  return SdpBandwidth{std::string(type), *v};
}

Result<SdpFingerprint> Parser::ParseFingerprint(std::string_view value) {
  auto f = Fields(value);
  if (f.size() != 2 || !IsToken(f[0])) return Fail("a=fingerprint needs <hash> <hex>");
  SdpFingerprint fp;
  fp.hash = base::LowerAscii(f[0]);
  std::string_view hex = f[1];
  // XX(:XX)*: 3n-1 characters for n bytes.
  if (hex.size() % 3 != 2 || hex.size() > 64 * 3 - 1) return Fail("bad a=fingerprint digest length");
  for (size_t i = 0; i < hex.size(); i += 3) {
    int hi = HexValue(hex[i]), lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0 || (i + 2 < hex.size() && hex[i + 2] != ':')) return Fail("bad a=fingerprint digest");
    fp.digest.push_back(static_cast<uint8_t>(hi * 16 + lo));
  }
  return fp;
}

Result<SdpExtmap> Parser::ParseExtmap(std::string_view value) {
  auto [head, rest] = FirstField(value);
  auto [uri, attrs] = FirstField(rest);
  SdpExtmap e;
  std::string_view id = head;
  if (size_t slash = head.find('/'); slash != std::string_view::npos) {
    auto d = DirectionFromName(head.substr(slash + 1));
    if (!d) return Fail("bad a=extmap direction");
    e.direction = d;
    id = head.substr(0, slash);
  }
  auto n = ParseUint<int>(id, 255);
  if (!n || *n == 0) return Fail("a=extmap id must be 1..255");
  if (!IsNonWs(uri)) return Fail("a=extmap needs a URI");
  e.id = *n;
  e.uri = std::string(uri);
  e.attributes = std::string(attrs);
  return e;
}

Result<SdpCandidate> Parser::ParseCandidate(std::string_view value) {
  auto f = Fields(value);
  if (f.size() < 8) return Fail("a=candidate needs 8 fields");
  SdpCandidate c;
  if (f[0].size() > 32 || f[0].empty() || !IsIceChars(f[0])) return Fail("bad candidate foundation");
  c.foundation = std::string(f[0]);
  auto comp = ParseUint<uint32_t>(f[1], 256);
  if (!comp || *comp == 0) return Fail("bad candidate component");
  c.component = *comp;
  if (!IsToken(f[2])) return Fail("bad candidate transport");
  c.transport = base::LowerAscii(f[2]);
  auto prio = ParseUint<uint32_t>(f[3], UINT32_MAX);
  if (!prio) return Fail("bad candidate priority");
  c.priority = *prio;
  if (!IsAddress(f[4])) return Fail("bad candidate address");
  c.address = std::string(f[4]);
  auto port = ParseUint<uint16_t>(f[5], 65535);
  if (!port) return Fail("bad candidate port");
  c.port = *port;
  if (f[6] != "typ" || !IsToken(f[7])) return Fail("candidate needs typ <type>");
  c.type = std::string(f[7]);
  if ((f.size() - 8) % 2 != 0) return Fail("candidate extension without a value");
  for (size_t i = 8; i < f.size(); i += 2) {
    std::string_view k = f[i], v = f[i + 1];
    if (k == "raddr") {
      if (!IsAddress(v) || !c.related_address.empty()) return Fail("bad candidate raddr");
      c.related_address = std::string(v);
    } else if (k == "rport") {
      auto rp = ParseUint<uint16_t>(v, 65535);
      if (!rp || c.related_port) return Fail("bad candidate rport");
      c.related_port = *rp;
    } else if (k == "tcptype") {
      if ((v != "active" && v != "passive" && v != "so") || !c.tcp_type.empty()) return Fail("bad candidate tcptype");
      c.tcp_type = std::string(v);
    } else {
      if (!IsToken(k) || !IsNonWs(v)) return Fail("bad candidate extension");
      c.extensions.emplace_back(std::string(k), std::string(v));
    }
  }
  return c;
}

Result<SdpRid> Parser::ParseRid(std::string_view value) {
  auto f = Fields(value);
  if (f.size() < 2 || f.size() > 3) return Fail("a=rid needs <id> <send|recv> [<restrictions>]");
  SdpRid r;
  if (!IsRidId(f[0])) return Fail("bad rid id");
  r.id = std::string(f[0]);
  if (f[1] == "send")
    r.direction = SdpRidDirection::kSend;
  else if (f[1] == "recv")
    r.direction = SdpRidDirection::kRecv;
  else
    return Fail("rid direction must be send or recv");
  if (f.size() == 3) {
    bool first = true;
    for (std::string_view param : SplitOn(f[2], ';')) {
      if (param.empty()) return Fail("empty rid restriction");
      size_t eq = param.find('=');
      std::string_view key = param.substr(0, eq);
      std::string_view val = eq == std::string_view::npos ? std::string_view{} : param.substr(eq + 1);
      if (key == "pt") {
        if (!first || eq == std::string_view::npos) return Fail("rid pt= must come first");
        for (std::string_view pt : SplitOn(val, ',')) {
          auto n = ParseUint<int>(pt, 127);
          if (!n) return Fail("bad rid payload type");
          r.payload_types.push_back(*n);
        }
      } else {
        if (key.empty() || !std::all_of(key.begin(), key.end(), [](char c) { return IsAlnum(c) || c == '-'; }))
          return Fail("bad rid restriction name");
        if (eq != std::string_view::npos && (val.empty() || !IsNonWs(val))) return Fail("bad rid restriction value");
        r.restrictions.emplace_back(std::string(key), std::string(val));
      }
      first = false;
    }
  }
  return r;
}

Result<SdpSimulcastList> Parser::ParseSimulcastList(std::string_view value) {
  SdpSimulcastList list;
  for (std::string_view stream : SplitOn(value, ';')) {
    std::vector<SdpSimulcastRid> alts;
    for (std::string_view alt : SplitOn(stream, ',')) {
      SdpSimulcastRid r;
      if (!alt.empty() && alt.front() == '~') {
        r.paused = true;
        alt.remove_prefix(1);
      }
      if (!IsRidId(alt)) return Fail("bad rid in a=simulcast");
      r.rid = std::string(alt);
      alts.push_back(std::move(r));
    }
    list.push_back(std::move(alts));
  }
  return list;
}

Result<SdpSimulcast> Parser::ParseSimulcast(std::string_view value) {
  auto f = Fields(value);
  if (f.size() != 2 && f.size() != 4) return Fail("a=simulcast needs send/recv <list> pairs");
  SdpSimulcast s;
  bool seen_send = false, seen_recv = false;
  for (size_t i = 0; i < f.size(); i += 2) {
    COLLAB_ASSIGN_OR_RETURN(auto list, ParseSimulcastList(f[i + 1]));
    if (f[i] == "send" && !seen_send) {
      s.send = std::move(list);
      seen_send = true;
    } else if (f[i] == "recv" && !seen_recv) {
      s.recv = std::move(list);
      seen_recv = true;
    } else {
      return Fail("a=simulcast direction must be send or recv, once each");
    }
  }
  return s;
}

base::Status Parser::ParseIceCredential(std::string_view name, std::string_view value, std::string* out) {
  // RFC 8839: ice-ufrag 4*256ice-char, ice-pwd 22*256ice-char.
  size_t min = name == "ice-ufrag" ? 4 : 22;
  if (value.size() < min || value.size() > 256 || !IsIceChars(value)) return Fail("bad a=" + std::string(name));
  if (!out->empty()) return Fail("duplicate a=" + std::string(name));
  *out = std::string(value);
  return base::Ok();
}

Result<std::vector<std::string>> Parser::ParseTokenList(std::string_view value, const char* what) {
  std::vector<std::string> out;
  for (std::string_view t : Fields(value)) {
    if (!IsToken(t)) return Fail(std::string("bad token in a=") + what);
    out.emplace_back(t);
  }
  return out;
}

base::Status Parser::SessionAttribute(std::string_view name, std::string_view value, bool has_value) {
  SdpSession& s = session_;
  if (name == "group") {
    auto f = Fields(value);
    if (f.empty() || !IsToken(f[0])) return Fail("a=group needs a semantics");
    SdpGroup g;
    g.semantics = std::string(f[0]);
    for (size_t i = 1; i < f.size(); ++i) {
      if (!IsToken(f[i])) return Fail("bad mid in a=group");
      g.mids.emplace_back(f[i]);
    }
    s.groups.push_back(std::move(g));
  } else if (name == "ice-lite" && !has_value) {
    s.ice_lite = true;
  } else if (name == "ice-ufrag") {
    return ParseIceCredential(name, value, &s.ice_ufrag);
  } else if (name == "ice-pwd") {
    return ParseIceCredential(name, value, &s.ice_pwd);
  } else if (name == "ice-options") {
    COLLAB_ASSIGN_OR_RETURN(auto opts, ParseTokenList(value, "ice-options"));
    s.ice_options.insert(s.ice_options.end(), opts.begin(), opts.end());
  } else if (name == "fingerprint") {
    COLLAB_ASSIGN_OR_RETURN(auto fp, ParseFingerprint(value));
    s.fingerprints.push_back(std::move(fp));
  } else if (name == "setup") {
    auto r = SetupFromName(value);
    if (!r) return Fail("bad a=setup");
    s.setup = *r;
  } else if (auto d = DirectionFromName(name); d && !has_value) {
    s.direction = d;
  } else if (name == "extmap-allow-mixed" && !has_value) {
    s.extmap_allow_mixed = true;
  } else if (name == "msid-semantic") {
    s.msid_semantic = std::string(Trim(value));
  } else if (name == "extmap") {
    COLLAB_ASSIGN_OR_RETURN(auto e, ParseExtmap(value));
    for (const auto& x : s.extmaps)
      if (x.id == e.id) return Fail("duplicate a=extmap id " + std::to_string(e.id));
    s.extmaps.push_back(std::move(e));
  } else {
    s.attributes.push_back({std::string(name), std::string(value), has_value});
  }
  return base::Ok();
}

base::Status Parser::MediaAttribute(std::string_view name, std::string_view value, bool has_value) {
  SdpMedia& m = session_.media.back();
  bool rtp = m.IsRtp();
  if (name == "mid") {
    if (!m.mid.empty()) return Fail("duplicate a=mid");
    if (!IsToken(value) || value.size() > 64) return Fail("bad a=mid");
    for (const auto& other : session_.media)
      if (other.mid == value) return Fail("a=mid:" + std::string(value) + " used by two media sections");
    m.mid = std::string(value);
  } else if (auto d = DirectionFromName(name); d && !has_value) {
    m.direction = d;
  } else if (name == "ice-ufrag") {
    return ParseIceCredential(name, value, &m.ice_ufrag);
  } else if (name == "ice-pwd") {
    return ParseIceCredential(name, value, &m.ice_pwd);
  } else if (name == "ice-options") {
    COLLAB_ASSIGN_OR_RETURN(auto opts, ParseTokenList(value, "ice-options"));
    m.ice_options.insert(m.ice_options.end(), opts.begin(), opts.end());
  } else if (name == "fingerprint") {
    COLLAB_ASSIGN_OR_RETURN(auto fp, ParseFingerprint(value));
    m.fingerprints.push_back(std::move(fp));
  } else if (name == "setup") {
    auto r = SetupFromName(value);
    if (!r) return Fail("bad a=setup");
    m.setup = *r;
  } else if (name == "rtcp-mux" && !has_value) {
    m.rtcp_mux = true;
  } else if (name == "rtcp-mux-only" && !has_value) {
    m.rtcp_mux_only = true;
  } else if (name == "rtcp-rsize" && !has_value) {
    m.rtcp_rsize = true;
  } else if (name == "bundle-only" && !has_value) {
    m.bundle_only = true;
  } else if (name == "extmap-allow-mixed" && !has_value) {
    m.extmap_allow_mixed = true;
  } else if (name == "extmap") {
    COLLAB_ASSIGN_OR_RETURN(auto e, ParseExtmap(value));
    for (const auto& x : m.extmaps)
      if (x.id == e.id) return Fail("duplicate a=extmap id " + std::to_string(e.id));
    m.extmaps.push_back(std::move(e));
  } else if (name == "rtpmap" && rtp) {
    auto [pt_s, rest] = FirstField(value);
    auto pt = ParsePt(pt_s);
    if (!pt) return Fail("bad a=rtpmap payload type");
    auto parts = SplitOn(rest, '/');
    if (parts.size() < 2 || parts.size() > 3 || !IsToken(parts[0])) return Fail("a=rtpmap needs <name>/<clock>[/<ch>]");
    auto clock = ParseUint<uint32_t>(parts[1], UINT32_MAX);
    if (!clock || *clock == 0) return Fail("bad a=rtpmap clock rate");
    std::optional<uint32_t> ch;
    if (parts.size() == 3) {
      ch = ParseUint<uint32_t>(parts[2], 255);
      if (!ch || *ch == 0) return Fail("bad a=rtpmap channel count");
    }
    SdpCodec* c = CodecFor(*pt);
    if (c == nullptr) return base::Ok();  // not in the m= line: meaningless, ignored
    if (has_rtpmap_[static_cast<size_t>(*pt)]) return Fail("duplicate a=rtpmap for " + std::to_string(*pt));
    has_rtpmap_[static_cast<size_t>(*pt)] = true;
    c->name = std::string(parts[0]);
    c->clock_rate = *clock;
    c->channels = ch.value_or(0);
  } else if (name == "fmtp" && rtp) {
    auto [pt_s, rest] = FirstField(value);
    auto pt = ParsePt(pt_s);
    if (!pt) return Fail("bad a=fmtp payload type");
    SdpCodec* c = CodecFor(*pt);
    if (c == nullptr) return base::Ok();
    if (has_fmtp_[static_cast<size_t>(*pt)]) return Fail("duplicate a=fmtp for " + std::to_string(*pt));
    has_fmtp_[static_cast<size_t>(*pt)] = true;
    c->fmtp = std::string(rest);
  } else if (name == "rtcp-fb" && rtp) {
    auto f = Fields(value);
    if (f.size() < 2 || !IsToken(f[1])) return Fail("a=rtcp-fb needs <pt> <type>");
    SdpRtcpFb fb;
    fb.type = std::string(f[1]);
    for (size_t i = 2; i < f.size(); ++i) {
      if (!IsNonWs(f[i])) return Fail("bad a=rtcp-fb parameter");
      if (!fb.param.empty()) fb.param += ' ';
      fb.param += f[i];
    }
    if (f[0] == "*") {
      m.feedback_all.push_back(std::move(fb));
      return base::Ok();
    }
    auto pt = ParsePt(f[0]);
    if (!pt) return Fail("bad a=rtcp-fb payload type");
    if (SdpCodec* c = CodecFor(*pt)) c->feedback.push_back(std::move(fb));
  } else if (name == "ssrc") {
    auto [id, rest] = FirstField(value);
    auto ssrc = ParseUint<uint32_t>(id, UINT32_MAX);
    if (!ssrc) return Fail("bad a=ssrc id");
    size_t colon = rest.find(':');
    std::string_view attr = rest.substr(0, colon);
    if (!IsToken(attr)) return Fail("bad a=ssrc attribute");
    SdpSsrc s;
    s.ssrc = *ssrc;
    s.attribute = std::string(attr);
    if (colon != std::string_view::npos) {
      s.has_value = true;
      s.value = std::string(rest.substr(colon + 1));
    }
    m.ssrcs.push_back(std::move(s));
  } else if (name == "ssrc-group") {
    auto f = Fields(value);
    if (f.size() < 2 || !IsToken(f[0])) return Fail("a=ssrc-group needs <semantics> <ssrc>...");
    SdpSsrcGroup g;
    g.semantics = std::string(f[0]);
    for (size_t i = 1; i < f.size(); ++i) {
      auto ssrc = ParseUint<uint32_t>(f[i], UINT32_MAX);
      if (!ssrc) return Fail("bad ssrc in a=ssrc-group");
      g.ssrcs.push_back(*ssrc);
    }
    m.ssrc_groups.push_back(std::move(g));
  } else if (name == "msid") {
    auto f = Fields(value);
    auto ok = [](std::string_view s) { return IsToken(s) && s.size() <= 64; };
    if (f.empty() || f.size() > 2 || !ok(f[0]) || (f.size() == 2 && !ok(f[1]))) return Fail("bad a=msid");
    m.msids.push_back({std::string(f[0]), f.size() == 2 ? std::string(f[1]) : std::string()});
  } else if (name == "rid") {
    COLLAB_ASSIGN_OR_RETURN(auto r, ParseRid(value));
    if (m.FindRid(r.id) != nullptr) return Fail("duplicate a=rid:" + r.id);
    m.rids.push_back(std::move(r));
  } else if (name == "simulcast") {
    if (m.simulcast) return Fail("duplicate a=simulcast");
    COLLAB_ASSIGN_OR_RETURN(m.simulcast, ParseSimulcast(value));
  } else if (name == "candidate") {
    COLLAB_ASSIGN_OR_RETURN(auto c, ParseCandidate(value));
    m.candidates.push_back(std::move(c));
  } else if (name == "end-of-candidates" && !has_value) {
    m.end_of_candidates = true;
  } else if (name == "sctp-port") {
    auto p = ParseUint<uint16_t>(value, 65535);
    if (!p || m.sctp_port) return Fail("bad a=sctp-port");
    m.sctp_port = *p;
  } else if (name == "max-message-size") {
    auto v = ParseUint<uint64_t>(value, UINT64_MAX);
    if (!v || m.max_message_size) return Fail("bad a=max-message-size");
    m.max_message_size = *v;
  } else {
    m.attributes.push_back({std::string(name), std::string(value), has_value});
  }
  return base::Ok();
}

base::Status Parser::Finish() {
  if (!seen_o_) return Fail("missing o=");
  if (!seen_s_) return Fail("missing s=");
  if (!seen_t_) return Fail("missing t=");
  for (auto& m : session_.media) {
    for (auto& c : m.codecs) {
      if (!c.name.empty()) continue;
      for (const auto& st : kStaticPts) {
        if (st.pt == c.pt) {
          c.name = st.name;
          c.clock_rate = st.clock;
          c.channels = st.channels;
        }
      }
    }
  }
  return base::Ok();
}

// ---- the writer ----

class Writer {
 public:
  void Line(char type, std::string_view value) {
    out_ += type;
    out_ += '=';
    out_ += value;
    out_ += "\r\n";
  }
  void Attr(std::string_view name) { Line('a', name); }
  void Attr(std::string_view name, std::string_view value) {
    out_ += "a=";
    out_ += name;
    out_ += ':';
    out_ += value;
    out_ += "\r\n";
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string ConnectionText(const SdpConnection& c) { return c.net_type + " " + c.addr_type + " " + c.address; }

std::string ExtmapText(const SdpExtmap& e) {
  std::string s = std::to_string(e.id);
  if (e.direction) {
    s += '/';
    s += SdpDirectionName(*e.direction);
  }
  s += ' ';
  s += e.uri;
  if (!e.attributes.empty()) {
    s += ' ';
    s += e.attributes;
  }
  return s;
}

std::string FeedbackText(const SdpRtcpFb& fb) { return fb.param.empty() ? fb.type : fb.type + " " + fb.param; }

std::string SimulcastListText(const SdpSimulcastList& list) {
  std::string s;
  for (size_t i = 0; i < list.size(); ++i) {
    if (i > 0) s += ';';
    for (size_t j = 0; j < list[i].size(); ++j) {
      if (j > 0) s += ',';
      if (list[i][j].paused) s += '~';
      s += list[i][j].rid;
    }
  }
  return s;
}

std::string RidText(const SdpRid& r) {
  std::string s = r.id + (r.direction == SdpRidDirection::kSend ? " send" : " recv");
  std::string params;
  if (!r.payload_types.empty()) {
    params = "pt=";
    for (size_t i = 0; i < r.payload_types.size(); ++i) {
      if (i > 0) params += ',';
      params += std::to_string(r.payload_types[i]);
    }
  }
  for (const auto& [k, v] : r.restrictions) {
    if (!params.empty()) params += ';';
    params += k;
    if (!v.empty()) {
      params += '=';
      params += v;
    }
  }
  if (!params.empty()) s += " " + params;
  return s;
}

void WriteOther(Writer& w, const std::vector<SdpAttribute>& attrs) {
  for (const auto& a : attrs) {
    if (a.has_value)
      w.Attr(a.name, a.value);
    else
      w.Attr(a.name);
  }
}

void WriteMedia(Writer& w, const SdpMedia& m) {
  std::string mline = m.media + " " + std::to_string(m.port);
  if (m.port_count) mline += "/" + std::to_string(*m.port_count);
  mline += " " + m.proto;
  for (const auto& f : m.formats) mline += " " + f;
  w.Line('m', mline);
  for (const auto& l : m.extra_lines)
    if (l.type == 'i') w.Line(l.type, l.value);
  if (m.connection) w.Line('c', ConnectionText(*m.connection));
  for (const auto& b : m.bandwidths) w.Line('b', b.type + ":" + std::to_string(b.value));
  for (const auto& l : m.extra_lines)
    if (l.type != 'i') w.Line(l.type, l.value);

  if (!m.ice_ufrag.empty()) w.Attr("ice-ufrag", m.ice_ufrag);
  if (!m.ice_pwd.empty()) w.Attr("ice-pwd", m.ice_pwd);
  if (!m.ice_options.empty()) {
    std::string s;
    for (const auto& o : m.ice_options) s += (s.empty() ? "" : " ") + o;
    w.Attr("ice-options", s);
  }
  for (const auto& fp : m.fingerprints) w.Attr("fingerprint", fp.ToString());
  if (m.setup != SdpSetup::kNone) w.Attr("setup", SdpSetupName(m.setup));
  if (!m.mid.empty()) w.Attr("mid", m.mid);
  if (m.bundle_only) w.Attr("bundle-only");
  if (m.extmap_allow_mixed) w.Attr("extmap-allow-mixed");
  for (const auto& e : m.extmaps) w.Attr("extmap", ExtmapText(e));
  if (m.direction) w.Attr(SdpDirectionName(*m.direction));
  for (const auto& ms : m.msids) w.Attr("msid", ms.track_id.empty() ? ms.stream_id : ms.stream_id + " " + ms.track_id);
  if (m.rtcp_mux) w.Attr("rtcp-mux");
  if (m.rtcp_mux_only) w.Attr("rtcp-mux-only");
  if (m.rtcp_rsize) w.Attr("rtcp-rsize");
  for (const auto& c : m.codecs) {
    std::string pt = std::to_string(c.pt);
    if (!c.name.empty() && c.clock_rate != 0) {
      std::string map = pt + " " + c.name + "/" + std::to_string(c.clock_rate);
      if (c.channels != 0) map += "/" + std::to_string(c.channels);
      w.Attr("rtpmap", map);
    }
    for (const auto& fb : c.feedback) w.Attr("rtcp-fb", pt + " " + FeedbackText(fb));
    if (!c.fmtp.empty()) w.Attr("fmtp", pt + " " + c.fmtp);
  }
  for (const auto& fb : m.feedback_all) w.Attr("rtcp-fb", "* " + FeedbackText(fb));
  for (const auto& r : m.rids) w.Attr("rid", RidText(r));
  if (m.simulcast) {
    std::string s;
    if (!m.simulcast->send.empty()) s = "send " + SimulcastListText(m.simulcast->send);
    if (!m.simulcast->recv.empty()) s += (s.empty() ? "recv " : " recv ") + SimulcastListText(m.simulcast->recv);
    if (!s.empty()) w.Attr("simulcast", s);
  }
  for (const auto& g : m.ssrc_groups) {
    std::string s = g.semantics;
    for (uint32_t x : g.ssrcs) s += " " + std::to_string(x);
    w.Attr("ssrc-group", s);
  }
  for (const auto& s : m.ssrcs) {
    std::string v = std::to_string(s.ssrc) + " " + s.attribute;
    if (s.has_value) v += ":" + s.value;
    w.Attr("ssrc", v);
  }
  if (m.sctp_port) w.Attr("sctp-port", std::to_string(*m.sctp_port));
  if (m.max_message_size) w.Attr("max-message-size", std::to_string(*m.max_message_size));
  for (const auto& c : m.candidates) w.Attr("candidate", c.ToString());
  if (m.end_of_candidates) w.Attr("end-of-candidates");
  WriteOther(w, m.attributes);
}

}  // namespace

// ---- small public helpers ----

std::string_view SdpDirectionName(SdpDirection d) {
  switch (d) {
    case SdpDirection::kSendRecv:
      return "sendrecv";
    case SdpDirection::kSendOnly:
      return "sendonly";
    case SdpDirection::kRecvOnly:
      return "recvonly";
    case SdpDirection::kInactive:
      return "inactive";
  }
  return "sendrecv";
}

std::string_view SdpSetupName(SdpSetup s) {
  switch (s) {
    case SdpSetup::kNone:
      return "";
    case SdpSetup::kActPass:
      return "actpass";
    case SdpSetup::kActive:
      return "active";
    case SdpSetup::kPassive:
      return "passive";
    case SdpSetup::kHoldConn:
      return "holdconn";
  }
  return "";
}

SdpDirection ReverseDirection(SdpDirection d) {
  if (d == SdpDirection::kSendOnly) return SdpDirection::kRecvOnly;
  if (d == SdpDirection::kRecvOnly) return SdpDirection::kSendOnly;
  return d;
}
bool IsSdpToken(std::string_view s) { return IsToken(s); }
bool IsIceCredential(std::string_view s, size_t min_length) {
  return s.size() >= min_length && s.size() <= 256 && IsIceChars(s);
}

bool DirectionSends(SdpDirection d) { return d == SdpDirection::kSendRecv || d == SdpDirection::kSendOnly; }
bool DirectionReceives(SdpDirection d) { return d == SdpDirection::kSendRecv || d == SdpDirection::kRecvOnly; }

std::string SdpFingerprint::ToString() const {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string s = hash + " ";
  for (size_t i = 0; i < digest.size(); ++i) {
    if (i > 0) s += ':';
    s += kHex[digest[i] >> 4];
    s += kHex[digest[i] & 0xF];
  }
  return s;
}

bool SdpCodec::Is(std::string_view codec_name) const { return base::EqualsIgnoreAsciiCase(name, codec_name); }

std::optional<std::string_view> SdpCodec::FmtpParam(std::string_view key) const {
  for (std::string_view part : SplitOn(fmtp, ';')) {
    part = Trim(part);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    if (base::EqualsIgnoreAsciiCase(Trim(part.substr(0, eq)), key)) return Trim(part.substr(eq + 1));
  }
  return std::nullopt;
}

int SdpCodec::RtxApt() const {
  auto apt = FmtpParam("apt");
  if (!apt) return -1;
  auto v = ParseUint<int>(*apt, 127);
  return v ? *v : -1;
}

std::string SdpCandidate::ToString() const {
  std::string s = foundation + " " + std::to_string(component) + " " + transport + " " + std::to_string(priority) +
                  " " + address + " " + std::to_string(port) + " typ " + type;
  if (!related_address.empty()) s += " raddr " + related_address;
  if (related_port) s += " rport " + std::to_string(*related_port);
  if (!tcp_type.empty()) s += " tcptype " + tcp_type;
  for (const auto& [k, v] : extensions) s += " " + k + " " + v;
  return s;
}

bool SdpMedia::IsRtp() const { return proto.find("RTP/") != std::string::npos; }

const SdpCodec* SdpMedia::FindCodec(int pt) const {
  for (const auto& c : codecs)
    if (c.pt == pt) return &c;
  return nullptr;
}

const SdpExtmap* SdpMedia::FindExtmap(std::string_view uri) const {
  for (const auto& e : extmaps)
    if (e.uri == uri) return &e;
  return nullptr;
}

const SdpRid* SdpMedia::FindRid(std::string_view id) const {
  for (const auto& r : rids)
    if (r.id == id) return &r;
  return nullptr;
}

const SdpAttribute* SdpMedia::FindAttribute(std::string_view name) const {
  for (const auto& a : attributes)
    if (a.name == name) return &a;
  return nullptr;
}

const SdpGroup* SdpSession::FindGroup(std::string_view semantics) const {
  for (const auto& g : groups)
    if (g.semantics == semantics) return &g;
  return nullptr;
}

std::string_view SdpSession::IceUfrag(const SdpMedia& m) const {
  return m.ice_ufrag.empty() ? std::string_view(ice_ufrag) : std::string_view(m.ice_ufrag);
}
std::string_view SdpSession::IcePwd(const SdpMedia& m) const {
  return m.ice_pwd.empty() ? std::string_view(ice_pwd) : std::string_view(m.ice_pwd);
}
const std::vector<SdpFingerprint>& SdpSession::Fingerprints(const SdpMedia& m) const {
  return m.fingerprints.empty() ? fingerprints : m.fingerprints;
}
SdpSetup SdpSession::Setup(const SdpMedia& m) const { return m.setup == SdpSetup::kNone ? setup : m.setup; }
SdpDirection SdpSession::Direction(const SdpMedia& m) const {
  if (m.direction) return *m.direction;
  return direction.value_or(SdpDirection::kSendRecv);
}

base::Result<SdpSession> ParseSdp(std::string_view text, const SdpParseLimits& limits) {
  Parser p(text, limits);
  return p.Run();
}

std::string WriteSdp(const SdpSession& s) {
  Writer w;
  w.Line('v', std::to_string(s.version));
  const SdpOrigin& o = s.origin;
  w.Line('o', o.username + " " + o.session_id + " " + o.session_version + " " + o.net_type + " " + o.addr_type + " " +
                  o.address);
  w.Line('s', s.session_name);
  auto before_c = [](char t) { return t == 'i' || t == 'u' || t == 'e' || t == 'p'; };
  for (const auto& l : s.extra_lines)
    if (before_c(l.type)) w.Line(l.type, l.value);
  if (s.connection) w.Line('c', ConnectionText(*s.connection));
  for (const auto& b : s.bandwidths) w.Line('b', b.type + ":" + std::to_string(b.value));
  w.Line('t', std::to_string(s.start_time) + " " + std::to_string(s.stop_time));
  for (const auto& l : s.extra_lines)
    if (!before_c(l.type)) w.Line(l.type, l.value);

  for (const auto& g : s.groups) {
    std::string v = g.semantics;
    for (const auto& mid : g.mids) v += " " + mid;
    w.Attr("group", v);
  }
  if (s.ice_lite) w.Attr("ice-lite");
  if (!s.ice_ufrag.empty()) w.Attr("ice-ufrag", s.ice_ufrag);
  if (!s.ice_pwd.empty()) w.Attr("ice-pwd", s.ice_pwd);
  if (!s.ice_options.empty()) {
    std::string v;
    for (const auto& opt : s.ice_options) v += (v.empty() ? "" : " ") + opt;
    w.Attr("ice-options", v);
  }
  for (const auto& fp : s.fingerprints) w.Attr("fingerprint", fp.ToString());
  if (s.setup != SdpSetup::kNone) w.Attr("setup", SdpSetupName(s.setup));
  if (s.direction) w.Attr(SdpDirectionName(*s.direction));
  if (s.extmap_allow_mixed) w.Attr("extmap-allow-mixed");
  // Chromium writes (and expects) a space after the colon here.
  if (s.msid_semantic) w.Attr("msid-semantic", " " + *s.msid_semantic);
  for (const auto& e : s.extmaps) w.Attr("extmap", ExtmapText(e));
  WriteOther(w, s.attributes);
  for (const auto& m : s.media) WriteMedia(w, m);
  return w.Take();
}

}  // namespace collab::rtc
