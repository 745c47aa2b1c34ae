// The registry table. To add a key, add one line to BuildRegistry(); loading, -o, dumps and the
// man page pick it up from there.
#include "lib/config/registry.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <initializer_list>

#include "lib/base/ip_prefix.hpp"
#include "lib/config/config.hpp"
#include "lib/config/internal.hpp"

namespace collab::config {
namespace {

// sizeof(sockaddr_un::sun_path) on Linux, including the terminating NUL.
constexpr size_t kSunPathBytes = 108;

KeyDef Str(std::string section, std::string name, std::string def, std::string doc) {
  KeyDef k;
  k.section = std::move(section);
  k.name = std::move(name);
  k.type = KeyType::kString;
  k.default_value = std::move(def);
  k.doc = std::move(doc);
  return k;
}

KeyDef StrList(std::string section, std::string name, StringList def, std::string doc, Validator validate = nullptr) {
  KeyDef k;
  k.section = std::move(section);
  k.name = std::move(name);
  k.type = KeyType::kStringList;
  k.default_value = std::move(def);
  k.doc = std::move(doc);
  k.validate = std::move(validate);
  return k;
}

// A stream name as collab-stream accepts it: 1 to 64 letters, digits, _ and -.
bool IsStreamName(std::string_view n) {
  return !n.empty() && n.size() <= 64 && std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::string CheckNotEmpty(const Value& v) { return std::get<std::string>(v).empty() ? "must not be empty" : ""; }

// A path that must be set (directories and files the programs cannot run without).
KeyDef RequiredPath(std::string section, std::string name, std::string def, std::string doc) {
  KeyDef k = Str(std::move(section), std::move(name), std::move(def), std::move(doc));
  k.is_path = true;
  k.validate = CheckNotEmpty;
  return k;
}

// A path where "" means "not used" or "the documented fallback".
KeyDef OptionalPath(std::string section, std::string name, std::string doc) {
  KeyDef k = Str(std::move(section), std::move(name), "", std::move(doc));
  k.is_path = true;
  return k;
}

KeyDef Choice(std::string section, std::string name, std::string def, std::vector<std::string> choices,
              std::string doc) {
  KeyDef k = Str(std::move(section), std::move(name), std::move(def), std::move(doc));
  k.choices = std::move(choices);
  return k;
}

KeyDef Int(std::string section, std::string name, int64_t def, std::string doc, std::optional<int64_t> min,
           std::optional<int64_t> max = std::nullopt) {
  KeyDef k;
  k.section = std::move(section);
  k.name = std::move(name);
  k.type = KeyType::kInt;
  k.default_value = def;
  k.doc = std::move(doc);
  k.min = min;
  k.max = max;
  return k;
}

// HOST:PORT with HOST a name, an IPv4 address or a bracketed IPv6 address. Names are not
// resolved here: -t must not depend on DNS.
std::string CheckListen(const Value& v) {
  const std::string& s = std::get<std::string>(v);
  constexpr const char* kForm = "must be HOST:PORT, with an IPv6 address in brackets as [::1]:8080";
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return kForm;
  std::string host = s.substr(0, colon);
  std::string port = s.substr(colon + 1);
  if (host.empty()) return std::string(kForm) + " (0.0.0.0 or [::] for every address)";
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return kForm;
    std::string addr = host.substr(1, host.size() - 2);
    unsigned char buf[16];
    if (inet_pton(AF_INET6, addr.c_str(), buf) != 1) return "has an invalid IPv6 address '" + addr + "'";
  } else {
    if (host.find(':') != std::string::npos) return kForm;
    for (char c : host) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
      if (!ok) return "has an invalid host name '" + internal::Printable(host) + "'";
    }
  }
  unsigned long n = 0;
  bool digits = !port.empty() && port.size() <= 5 &&
                std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits) std::from_chars(port.data(), port.data() + port.size(), n);
  // Port 0 asks the kernel for a free port (tests, ad-hoc runs); `status` shows the bound one.
  if (!digits || n > 65535) return "must have a port from 0 to 65535";
  return "";
}

// Each element an IPv4 or IPv6 address literal (no brackets, no port).
std::string CheckIpList(const Value& v) {
  for (const std::string& a : std::get<StringList>(v)) {
    unsigned char buf[16];
    if (inet_pton(AF_INET, a.c_str(), buf) != 1 && inet_pton(AF_INET6, a.c_str(), buf) != 1)
      return "has '" + internal::Printable(a) + "', which is not an IP address";
  }
  return "";
}

KeyDef IpList(std::string section, std::string name, std::string doc) {
  return StrList(std::move(section), std::move(name), StringList{}, std::move(doc), CheckIpList);
}

// Who may fetch a daemon's /metrics: addresses and CIDR ranges of both families.
KeyDef MetricsAllow(std::string section) {
  return StrList(std::move(section), "metrics_allow", StringList{"127.0.0.0/8", "::1/128"},
                 "client addresses or CIDR ranges (10.0.0.0/8, 2001:db8::/32) allowed to fetch /metrics; others get "
                 "403; [\"0.0.0.0/0\", \"::/0\"] allows all",
                 [](const Value& v) -> std::string {
                   for (const std::string& a : std::get<StringList>(v)) {
                     auto p = base::ParseIpPrefix(a);
                     if (!p) return "entry " + internal::Printable(p.error().message);
                   }
                   return "";
                 });
}

KeyDef Listen(std::string section, std::string name, std::string def, std::string doc) {
  KeyDef k = Str(std::move(section), std::move(name), std::move(def), std::move(doc));
  k.validate = CheckListen;
  return k;
}

[[maybe_unused]] bool BareName(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

void AddProgramKeys(std::vector<KeyDef>& r, const std::string& p, const std::string& listen) {
  KeyDef l = Str(p, "listen", listen, "HTTP and WebSocket listen address: HOST:PORT, IPv6 as [::1]:8080");
  l.validate = CheckListen;
  r.push_back(std::move(l));
  r.push_back(OptionalPath(p, "control_socket", "control socket; empty means <run_dir>/collab-" + p + ".sock"));
  r.push_back(OptionalPath(p, "tls_cert", "PEM certificate chain for HTTPS; empty serves plain HTTP"));
  r.push_back(OptionalPath(p, "tls_key", "PEM private key of tls_cert; set both or neither"));
  r.push_back(Int(p, "max_body_bytes", 1048576, "largest HTTP request body accepted, in bytes", 1024));
  r.push_back(Int(p, "max_ws_message_bytes", 262144, "largest WebSocket message accepted, in bytes", 1024));
}

KeyDef Bool(std::string section, std::string name, bool def, std::string doc) {
  KeyDef k;
  k.section = std::move(section);
  k.name = std::move(name);
  k.type = KeyType::kBool;
  k.default_value = def;
  k.doc = std::move(doc);
  return k;
}

// collab-chatd's own keys.
void AddChatdKeys(std::vector<KeyDef>& r) {
  r.push_back(OptionalPath("chatd", "db_dir", "chat database (RocksDB); empty means <state_dir>/chat.db"));
  r.push_back(Choice("chatd", "auth_source", "local", {"local", "ldap", "both"},
                     "where passwords are checked: local accounts, the LDAP directory, or the directory first then local"));
  r.push_back(Int("chatd", "session_max_age_h", 168, "hours a login session lasts", 1, 24 * 365));
  r.push_back(Int("chatd", "login_max_failures", 5, "failed logins per user name (and per address x4) before a lockout", 1));
  r.push_back(Int("chatd", "login_lockout_s", 300, "seconds a locked-out user name or address must wait", 1));
  r.push_back(Int("chatd", "token_ttl_s", 600, "lifetime of tokens minted for collab-sfu and collab-stream", 30, 86400));
  r.push_back(Int("chatd", "max_message_bytes", 16384, "largest message text, in bytes of UTF-8", 64, 1048576));
  r.push_back(Int("chatd", "away_after_s", 600, "seconds without activity before a connected user shows as away", 10));
  r.push_back(Int("chatd", "mass_mention_confirm_members", 30,
                  "rooms with more members than this refuse @all/@here unless the request confirms it", 0));
  r.push_back(Int("chatd", "mass_mention_per_hour", 6, "most @all/@here notifications one room sends per hour", 0));
  r.push_back(Int("chatd", "retention_message_days", 0, "delete messages older than this many days; 0 keeps them", 0));
  r.push_back(Int("chatd", "retention_file_days", 0, "delete attachments older than this many days; 0 keeps them", 0));
  r.push_back(Bool("chatd", "retention_keep_pinned", true, "retention spares pinned messages"));
  r.push_back(Str("chatd", "retention_schedule", "",
                  "daily time HH:MM (local) at which the daemon applies retention itself; empty: only from cron"));
  r.push_back(Str("chatd", "ldap_uri", "", "directory server, e.g. ldap://ldap.example:389 or ldaps://...; empty: no LDAP"));
  r.push_back(Bool("chatd", "ldap_starttls", false, "upgrade ldap:// connections with StartTLS"));
  r.push_back(OptionalPath("chatd", "ldap_ca_file", "CA certificates for ldaps:// and StartTLS; empty uses the system store"));
  r.push_back(Str("chatd", "ldap_bind_dn", "", "DN the daemon binds as to search the directory; empty binds anonymously"));
  r.push_back(OptionalPath("chatd", "ldap_bind_password_file", "file holding the password of ldap_bind_dn"));
  r.push_back(Str("chatd", "ldap_base_dn", "", "subtree searched for staff entries, e.g. ou=people,dc=example,dc=jp"));
  r.push_back(Str("chatd", "ldap_user_filter", "(objectClass=inetOrgPerson)",
                  "filter every staff entry matches; the login name is ANDed in through ldap_attr_id"));
  r.push_back(Str("chatd", "ldap_attr_id", "uid", "attribute holding the staff ID people log in with"));
  r.push_back(Str("chatd", "ldap_attr_name", "displayName", "attribute holding the display name (UTF-8)"));
  r.push_back(Str("chatd", "ldap_attr_department", "departmentNumber", "attribute holding the department"));
  r.push_back(Str("chatd", "ldap_attr_email", "mail", "attribute holding the e-mail address"));
  r.push_back(Str("chatd", "ldap_disabled_filter", "",
                  "filter matching staff entries that may not log in (e.g. (employeeType=retired)); empty: none"));
  r.push_back(Int("chatd", "ldap_sync_interval_s", 3600, "seconds between directory syncs; 0 syncs only at login and on demand", 0));
  r.push_back(Int("chatd", "ldap_timeout_s", 5, "seconds an LDAP operation may take", 1, 120));
  r.push_back(Str("chatd", "public_sfu_url", "",
                  "meetings URL the web app uses, e.g. https://meet.example.jp; empty: this host with sfu.listen's port"));
  r.push_back(Str("chatd", "public_stream_url", "",
                  "live-stream URL the web app uses; empty: this host with stream.listen's port"));
  r.push_back(Int("chatd", "max_file_bytes", 20 << 20, "largest file upload, in bytes", 1024, 1LL << 32));
  r.push_back(StrList("chatd", "file_types",
                      StringList{"image/*", "text/plain", "text/csv", "application/pdf", "application/zip",
                                 "application/vnd.openxmlformats-officedocument.*", "application/vnd.ms-*",
                                 "application/msword", "application/octet-stream"},
                      "MIME types staff may upload; TYPE/* matches a family, prefix.* a prefix; [\"*\"] allows any",
                      [](const Value& v) -> std::string {
                        for (const std::string& t : std::get<StringList>(v))
                          if (t.empty() || t.size() > 200 || t.find_first_of(" ;,\"") != std::string::npos)
                            return "has '" + internal::Printable(t) + "', which is not a MIME type pattern";
                        return "";
                      }));
  r.push_back(OptionalPath("chatd", "files_dir", "uploaded files (content-addressed); empty means <state_dir>/files"));
  r.push_back(Bool("chatd", "ldap_department_rooms", false,
                   "keep a private channel per department with its staff as members"));
}

// collab-stream's own keys.
void AddStreamKeys(std::vector<KeyDef>& r) {
  // stream keys
  r.push_back(Listen("stream", "rtmp_listen", "127.0.0.1:1935",
                     "RTMP ingest address (OBS, ffmpeg -f flv): IP:PORT; port 0 takes a free port (status shows it)"));
  r.push_back(StrList(
      "stream", "publish_keys", StringList{},
      "publisher keys as NAME:KEY (one stream) or *:KEY (any name); empty: only loopback publishers, no key needed",
      [](const Value& v) -> std::string {
        for (const std::string& e : std::get<StringList>(v)) {
          size_t colon = e.find(':');
          if (colon == std::string::npos || colon == 0 || colon + 1 == e.size())
            return "has '" + internal::Printable(e) + "', which is not NAME:KEY";
          std::string name = e.substr(0, colon);
          bool ok = name == "*" || IsStreamName(name);
          if (!ok) return "has stream name '" + internal::Printable(name) + "': use letters, digits, _ and -, or *";
        }
        return "";
      }));
  r.push_back(
      StrList("stream", "cors_origins", StringList{"*"},
              "origins allowed to fetch playlists and media cross-origin (the web app), or * for any; empty: none"));
  r.push_back(Choice("stream", "viewers", "token", {"token", "open"},
                     "who may watch: token = staff with a signed URL from the web app (chatd /api/v1/streams/NAME/watch), "
                     "open = anyone who reaches the server"));
  r.push_back(StrList(
      "stream", "open_streams", StringList{}, "streams anyone may watch without a token when stream.viewers is token",
      [](const Value& v) -> std::string {
        for (const std::string& n : std::get<StringList>(v)) {
          if (!IsStreamName(n))
            return "has '" + internal::Printable(n) + "', which is not a stream name (letters, digits, _ and -)";
        }
        return "";
      }));
  r.push_back(Int("stream", "part_ms", 333, "LL-HLS part target in milliseconds", 100, 2000));
  r.push_back(Int("stream", "segment_ms", 2000, "segments are cut at the first keyframe after this many milliseconds", 500, 20000));
  r.push_back(Int("stream", "window_segments", 10, "segments kept in memory and listed in the playlist", 3, 1000));
  r.push_back(Int("stream", "idle_keep_s", 60,
                  "seconds a stream's playlist stays after its publisher left, so a reconnect continues it", 0, 86400));
  r.push_back(Bool("stream", "slate", true,
                   "while a publisher is away, keep the playlist moving with its last picture (dimmed) and silence"));
  r.push_back(Int("stream", "slate_max_s", 0,
                  "seconds the slate is shown at most; 0: until the stream is removed (idle_keep_s)", 0, 86400));
  r.push_back(Int("stream", "max_streams", 32, "streams that may exist at once; more publishes are refused", 1, 10000));
  r.push_back(Int("stream", "dvr_s", 0,
                  "DVR window: seconds of complete segments kept in memory and listed, so late viewers can seek "
                  "back (memory: bitrate x dvr_s per stream); 0: the live window only",
                  0, 21600));
  r.push_back(
      StrList("stream", "record", StringList{},
              "streams recorded from their first publish (names, or * for every stream); collab-admin stream record "
              "starts and stops others",
              [](const Value& v) -> std::string {
                for (const std::string& n : std::get<StringList>(v)) {
                  if (n != "*" && !IsStreamName(n))
                    return "has '" + internal::Printable(n) + "': use stream names (letters, digits, _ and -) or *";
                }
                return "";
              }));
  r.push_back(StrList(
      "stream", "ladder", StringList{},
      "ABR ladder: extra renditions encoded from the publisher's H.264 with libx264, as HEIGHTp:BITRATE "
      "(e.g. [\"360p:800k\", \"180p:300k\"]; k or M); players get /live/NAME/master.m3u8; empty: passthrough only",
      [](const Value& v) -> std::string {
        const StringList& list = std::get<StringList>(v);
        if (list.size() > 6) return "has more than 6 rungs (each one costs an encoder per stream)";
        std::vector<int64_t> heights;
        for (const std::string& e : list) {
          int64_t h = 0, rate = 0;
          if (std::string why = ParseLadderEntry(e, h, rate); !why.empty())
            return "has '" + internal::Printable(e) + "': " + why;
          if (std::find(heights.begin(), heights.end(), h) != heights.end())
            return "lists height " + std::to_string(h) + " twice";
          heights.push_back(h);
        }
        return "";
      }));
  r.push_back(OptionalPath("stream", "record_dir", "recordings of live streams; empty means <state_dir>/recordings"));
  r.push_back(Int("stream", "record_keep_days", 0,
                  "recordings older than this many days are deleted (checked hourly); 0: keep forever", 0, 36500));
  {
    KeyDef k = Str("stream", "srt_listen", "",
                   "SRT ingest address (MPEG-TS over SRT, listener mode): IP:PORT with a fixed port; empty: no SRT");
    k.validate = [](const Value& v) -> std::string {
      const std::string& s = std::get<std::string>(v);
      if (s.empty()) return "";
      std::string e = CheckListen(v);
      if (!e.empty()) return e;
      if (s.size() >= 2 && s.compare(s.size() - 2, 2, ":0") == 0) return "needs a fixed port (not 0)";
      return "";
    };
    r.push_back(std::move(k));
  }
  {
    KeyDef k = Str("stream", "srt_stream", "srt", "name of the stream that SRT publishers feed");
    k.validate = [](const Value& v) -> std::string {
      const std::string& s = std::get<std::string>(v);
      bool ok = !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
      });
      return ok ? "" : "must be 1 to 64 letters, digits, _ and -";
    };
    r.push_back(std::move(k));
  }
  for (const char* name : {"webrtc_udp_listen", "webrtc_tcp_listen"}) {
    bool udp = std::string_view(name) == "webrtc_udp_listen";
    KeyDef k = Str("stream", name, "127.0.0.1:0",
                   udp ? "UDP address for WHIP publishers' media (ICE, DTLS, SRTP): IP:PORT; port 0 takes a free port; "
                         "empty: no WHIP ingest"
                       : "TCP address for WHIP publishers' ICE-TCP when UDP is blocked: IP:PORT; empty: no ICE-TCP");
    k.validate = [](const Value& v) -> std::string { return std::get<std::string>(v).empty() ? "" : CheckListen(v); };
    r.push_back(std::move(k));
  }
  r.push_back(IpList("stream", "webrtc_announced_addresses",
                     "addresses put in WHIP answers' ICE candidates instead of the bound ones; empty uses the bound address"));
  {
    KeyDef k = Str("stream", "srt_passphrase", "",
                   "SRT passphrase (10 to 79 characters) publishers must use; empty allowed only on a loopback srt_listen");
    k.validate = [](const Value& v) -> std::string {
      size_t n = std::get<std::string>(v).size();
      return n == 0 || (n >= 10 && n <= 79) ? "" : "must be 10 to 79 characters, or empty";
    };
    r.push_back(std::move(k));
  }
}

}  // namespace

std::string ParseLadderEntry(std::string_view e, int64_t& h, int64_t& rate) {
  const char* form = "not HEIGHTp:BITRATE like 360p:800k";
  size_t p = e.find("p:");
  if (p == std::string_view::npos || p == 0 || p > 4) return form;
  auto [hp, hec] = std::from_chars(e.data(), e.data() + p, h);
  if (hec != std::errc() || hp != e.data() + p) return form;
  std::string_view b = e.substr(p + 2);
  int64_t mult = 1;
  if (!b.empty() && (b.back() == 'k' || b.back() == 'K')) mult = 1000;
  if (!b.empty() && (b.back() == 'm' || b.back() == 'M')) mult = 1000000;
  if (mult != 1) b.remove_suffix(1);
  if (b.empty() || b.size() > 9) return form;
  auto [bp, bec] = std::from_chars(b.data(), b.data() + b.size(), rate);
  if (bec != std::errc() || bp != b.data() + b.size()) return form;
  rate *= mult;
  if (h < 72 || h > 2160 || h % 2 != 0) return "height must be even, 72 to 2160";
  if (rate < 50000 || rate > 50000000) return "bitrate must be 50k to 50M";
  return "";
}

namespace {

std::vector<KeyDef> BuildRegistry() {
  std::vector<KeyDef> r;
  r.push_back(RequiredPath("paths", "state_dir", "/var/lib/collab", "state directory: databases, uploads, recordings"));
  r.push_back(RequiredPath("paths", "run_dir", "/run/collab",
                           "directory for control sockets; keep short: sun_path is 108 bytes"));
  r.push_back(RequiredPath("paths", "web_dir", "/usr/share/collab/web", "static files of the web app"));

  r.push_back(Choice("log", "level", "info", {"error", "warning", "notice", "info", "debug"},
                     "lowest priority logged; each -v raises it one step"));

  r.push_back(RequiredPath("auth", "key_file", "/etc/collab/token.key",
                           "shared HMAC key for tokens, created by collab-admin init, mode 0600"));

  r.push_back(Str("control", "group", "",
                  "Unix group whose members may use the control sockets besides root and the daemon's own user"));

  AddProgramKeys(r, "chatd", "127.0.0.1:8080");
  AddProgramKeys(r, "sfu", "127.0.0.1:8081");
  AddProgramKeys(r, "stream", "127.0.0.1:8082");
  r.push_back(MetricsAllow("chatd"));
  r.push_back(MetricsAllow("stream"));
  r.push_back(Listen("sfu", "rtc_udp_listen", "127.0.0.1:10000",
                     "UDP address for all WebRTC media (ICE, DTLS, SRTP): IP:PORT; port 0 takes a free port"));
  r.push_back(Listen("sfu", "rtc_tcp_listen", "127.0.0.1:10000",
                     "TCP address for ICE-TCP (RFC 6544 passive candidates) when UDP is blocked: IP:PORT"));
  r.push_back(IpList("sfu", "announced_addresses",
                     "addresses put in ICE candidates instead of the bound ones (NAT, 1:1 mapping); empty uses the bound address"));
  r.push_back(Int("sfu", "max_echo_peers", 16, "concurrent peers of the /echo test page; 0 disables it", 0, 1000));
  // Keys of one program go here, e.g. r.push_back(Int("chatd", "page_size", 50, "...", 1));
  AddChatdKeys(r);
  AddStreamKeys(r);
  // Dumps and the man page group keys by section, so the order of lines does not matter.

  for (const KeyDef& k : r) {
    // Dumps write names as bare TOML keys and docs as one comment line.
    assert(BareName(k.section) && BareName(k.name));
    assert(k.doc.find('\n') == std::string::npos);
    assert(internal::CheckValue(k, k.default_value).empty());
    (void)k;
  }
  return r;
}

}  // namespace

const std::vector<KeyDef>& Registry() {
  static const std::vector<KeyDef> registry = BuildRegistry();
  return registry;
}

std::vector<std::string> Sections(const std::vector<KeyDef>& registry) {
  std::vector<std::string> out;
  for (const KeyDef& k : registry)
    if (std::find(out.begin(), out.end(), k.section) == out.end()) out.push_back(k.section);
  return out;
}

const KeyDef* FindKeyIn(const std::vector<KeyDef>& registry, std::string_view full_name) {
  size_t dot = full_name.find('.');
  if (dot == std::string_view::npos) return nullptr;
  std::string_view section = full_name.substr(0, dot);
  std::string_view name = full_name.substr(dot + 1);
  for (const KeyDef& k : registry)
    if (k.section == section && k.name == name) return &k;
  return nullptr;
}

const KeyDef* FindKey(std::string_view full_name) { return FindKeyIn(Registry(), full_name); }

std::string TypeName(const KeyDef& def) {
  switch (def.type) {
    case KeyType::kString:
      return def.is_path ? "path" : "string";
    case KeyType::kInt:
      return "integer";
    case KeyType::kBool:
      return "boolean";
    case KeyType::kStringList:
      return "array of strings";
  }
  return "?";
}

std::string ConstraintText(const KeyDef& def) {
  std::string out;
  if (def.min && def.max) {
    out = "from " + std::to_string(*def.min) + " to " + std::to_string(*def.max);
  } else if (def.min) {
    out = "at least " + std::to_string(*def.min);
  } else if (def.max) {
    out = "at most " + std::to_string(*def.max);
  }
  if (!def.choices.empty()) {
    out += def.type == KeyType::kStringList ? "each one of: " : "one of: ";
    for (size_t i = 0; i < def.choices.size(); ++i) out += (i ? ", " : "") + def.choices[i];
  }
  return out;
}

namespace internal {
namespace {

// Which value to blame for a rule: the one set explicitly, else the first key's.
std::string Blame(const Config& c, const std::string& key) {
  const std::string& o = c.Origin(key);
  return o.empty() ? std::string() : o + ": ";
}

}  // namespace

base::Status CheckWholeConfig(const Config& c) {
  const std::vector<KeyDef>& reg = c.registry();
  for (const std::string& s : Sections(reg)) {
    std::string cert = s + ".tls_cert";
    std::string key = s + ".tls_key";
    if (FindKeyIn(reg, cert) && FindKeyIn(reg, key)) {
      bool has_cert = !c.GetString(cert).empty();
      bool has_key = !c.GetString(key).empty();
      if (has_cert != has_key) {
        return ConfigError(Blame(c, has_cert ? cert : key) + "'" + cert + "' and '" + key +
                           "' must both be set or both be empty");
      }
    }
    std::string sock = s + ".control_socket";
    if (FindKeyIn(reg, sock) && FindKeyIn(reg, "paths.run_dir")) {
      std::string path = c.ControlSocketPath(s);
      if (path.size() >= kSunPathBytes) {
        std::string blame = c.GetString(sock).empty() ? "paths.run_dir" : sock;
        return ConfigError(Blame(c, blame) + "control socket path '" + Printable(path) + "' is " +
                           std::to_string(path.size()) + " bytes, more than the " + std::to_string(kSunPathBytes - 1) +
                           " that fit in sun_path; shorten 'paths.run_dir' or set '" + sock + "'");
      }
    }
  }
  return base::Ok();
}

}  // namespace internal
}  // namespace collab::config
