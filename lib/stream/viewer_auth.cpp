#include "lib/stream/viewer_auth.hpp"

#include <algorithm>

#include "lib/auth/viewer_token.hpp"
#include "lib/base/exit_codes.hpp"

namespace collab::stream {

namespace {

constexpr int64_t kLeewayS = 30;  // as auth::VerifyToken's default
constexpr size_t kMaxKnownTokens = 64;

bool UrlSafe(std::string_view t) {
  return !t.empty() && std::all_of(t.begin(), t.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
}

std::string WithToken(std::string_view uri, std::string_view token) {
  std::string out(uri);
  out += uri.find('?') == std::string_view::npos ? '?' : '&';
  out += "vt=";
  out += token;
  return out;
}

// A tag line with every URI="..." attribute extended. An attribute name is preceded by ':' (the
// first) or ',' (later ones), so e.g. a hypothetical X-ASSET-URI="..." is left alone.
std::string RewriteTag(std::string_view line, std::string_view token) {
  std::string out;
  size_t pos = 0;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '"') {
      quoted = !quoted;
      continue;
    }
    if (quoted || (c != ':' && c != ',') || line.compare(i + 1, 5, "URI=\"") != 0) continue;
    size_t start = i + 6;
    size_t end = line.find('"', start);
    if (end == std::string_view::npos) break;  // unterminated: leave the rest as it is
    out.append(line.substr(pos, start - pos));
    out += WithToken(line.substr(start, end - start), token);
    pos = end;
    i = end;  // the closing quote: the scan continues outside the string
  }
  out.append(line.substr(pos));
  return out;
}

}  // namespace

const char* ViewerAuth::ReasonName(Reason r) {
  switch (r) {
    case Reason::kNone:
      return "none";
    case Reason::kMissing:
      return "missing";
    case Reason::kInvalid:
      return "invalid";
    case Reason::kExpired:
      return "expired";
    case Reason::kWrongStream:
      return "wrong_stream";
  }
  return "?";
}

void ViewerAuth::Configure(ViewerPolicy policy) {
  policy_ = std::move(policy);
  known_.clear();  // a new key must not accept tokens verified with the old one
}

bool ViewerAuth::IsOpen(std::string_view stream) const {
  return policy_.open || policy_.open_streams.count(std::string(stream)) > 0;
}

ViewerAuth::Verdict ViewerAuth::Check(std::string_view stream, std::string_view vt, int64_t now_s) {
  if (IsOpen(stream)) return Verdict{};
  if (vt.empty())
    return Verdict{Reason::kMissing, 401, "this stream needs a viewer token (vt); get the URL from the web app", 0};
  if (!policy_.key) return Verdict{Reason::kInvalid, 401, "no token key configured", 0};
  auto it = known_.find(vt);
  if (it == known_.end()) {
    auth::TokenFailure why = auth::TokenFailure::kNone;
    auto claims = auth::VerifyToken(*policy_.key, vt, now_s, kLeewayS, &why);
    if (!claims) {
      if (why == auth::TokenFailure::kExpired)
        return Verdict{Reason::kExpired, 401, "the viewer token has expired; get a new URL from the web app", 0};
      return Verdict{Reason::kInvalid, 401, "invalid viewer token", 0};
    }
    if (known_.size() >= kMaxKnownTokens) known_.clear();
    it = known_.emplace(std::string(vt), Known{claims->exp, claims->scope}).first;
  } else if (now_s > it->second.exp + kLeewayS) {
    known_.erase(it);
    return Verdict{Reason::kExpired, 401, "the viewer token has expired; get a new URL from the web app", 0};
  }
  auth::TokenClaims c;
  c.scope = it->second.scope;
  if (!auth::MayWatch(c, stream))
    return Verdict{Reason::kWrongStream, 403, "the viewer token is not for this stream", 0};
  return Verdict{Reason::kNone, 200, "", it->second.exp};
}

int64_t ViewerAuth::CacheSeconds(int64_t max_age_s, int64_t exp, int64_t now_s) {
  if (exp == 0) return max_age_s;
  return std::clamp<int64_t>(exp - now_s, 0, max_age_s);
}

base::Result<ViewerPolicy> LoadViewerPolicy(const ViewerPolicyConfig& cfg) {
  ViewerPolicy p;
  p.open = cfg.viewers == "open";
  p.open_streams.insert(cfg.open_streams.begin(), cfg.open_streams.end());
  if (p.open) return p;
  auto key = auth::LoadKeyFile(cfg.key_file);
  // A key others may read stays "permission denied" (77); missing or broken is a config error.
  if (!key)
    return base::MakeError(key.error().code == base::kExitNoPerm ? base::kExitNoPerm : base::kExitConfig,
                           "stream.viewers = \"token\" needs the token key: " + key.error().message);
  p.key = *key;
  return p;
}

base::Result<std::string> RewritePlaylist(std::string_view playlist, std::string_view token) {
  if (!UrlSafe(token)) return base::MakeError(base::kExitDataErr, "token is not URL-safe");
  std::string out;
  out.reserve(playlist.size() + playlist.size() / 4);
  size_t pos = 0;
  while (pos < playlist.size()) {
    size_t nl = playlist.find('\n', pos);
    size_t end = nl == std::string_view::npos ? playlist.size() : nl;
    std::string_view line = playlist.substr(pos, end - pos);
    bool cr = !line.empty() && line.back() == '\r';
    if (cr) line.remove_suffix(1);
    if (line.empty()) {
    } else if (line.front() != '#') {
      out += WithToken(line, token);
      line = {};
    } else if (line.rfind("#EXT", 0) == 0) {
      out += RewriteTag(line, token);
      line = {};
    }
    out.append(line);  // comments and blank lines unchanged
    if (cr) out += '\r';
    if (nl != std::string_view::npos) out += '\n';
    pos = end + (nl != std::string_view::npos ? 1 : 0);
  }
  return out;
}

}  // namespace collab::stream
