#include "lib/chat/ldap.hpp"

#include <ldap.h>
#include <sys/time.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <utility>

#include "lib/base/ascii.hpp"
#include "lib/base/log.hpp"

namespace collab::chat {
namespace {

constexpr const char* kInvalidLogin = "invalid user name or password";
constexpr const char* kDisabledLogin = "account disabled in the directory";
constexpr int kPageSize = 500;
// Longer input is no login anyway; refusing it early keeps filters and binds small.
constexpr size_t kMaxIdBytes = 256;
constexpr size_t kMaxPasswordBytes = 1024;
// A directory of a few thousand staff needs a handful of pages; the bound only stops a server
// that keeps returning cookies forever.
constexpr int kMaxPages = 100000;

struct MsgFree {
  void operator()(LDAPMessage* m) const { ldap_msgfree(m); }
};
using MsgPtr = std::unique_ptr<LDAPMessage, MsgFree>;
struct ControlsFree {
  void operator()(LDAPControl** c) const { ldap_controls_free(c); }
};
using ControlsPtr = std::unique_ptr<LDAPControl*, ControlsFree>;
struct ControlFree {
  void operator()(LDAPControl* c) const { ldap_control_free(c); }
};
using ControlPtr = std::unique_ptr<LDAPControl, ControlFree>;

// Codes after which the connection cannot be trusted (or never existed): the caller drops it.
bool ConnectionLost(int rc) { return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT; }
bool ServerUnavailable(int rc) {
  return ConnectionLost(rc) || rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY || rc == LDAP_TIMELIMIT_EXCEEDED;
}

void Unbind(LDAP* ld) {
  if (ld != nullptr) ldap_unbind_ext_s(ld, nullptr, nullptr);
}

std::string Diagnostic(LDAP* ld) {
  char* msg = nullptr;
  std::string out;
  if (ld != nullptr && ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg) == LDAP_OPT_SUCCESS && msg) {
    out = msg;
    ldap_memfree(msg);
  }
  return out;
}

std::string Describe(LDAP* ld, int rc) {
  std::string out = ldap_err2string(rc);
  std::string diag = Diagnostic(ld);
  if (!diag.empty() && diag != out && diag != "(unknown error code)") out += " (" + diag + ")";
  return out;
}

int SimpleBind(LDAP* ld, const std::string& dn, std::string_view password) {
  std::string pw(password);  // libldap wants a mutable, non-null buffer
  berval cred{static_cast<ber_len_t>(pw.size()), pw.data()};
  return ldap_sasl_bind_s(ld, dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr);
}

// A bare "objectClass=x" in the config is accepted as "(objectClass=x)".
std::string Parenthesise(const std::string& filter) {
  if (filter.empty()) return "(objectClass=*)";
  if (filter.front() == '(') return filter;
  return "(" + filter + ")";
}

std::vector<std::string> Values(LDAP* ld, LDAPMessage* e, const std::string& attr) {
  std::vector<std::string> out;
  if (attr.empty()) return out;
  berval** vals = ldap_get_values_len(ld, e, attr.c_str());
  if (vals == nullptr) return out;
  for (berval** v = vals; *v != nullptr; ++v) out.emplace_back((*v)->bv_val, (*v)->bv_len);
  ldap_value_free_len(vals);
  return out;
}

std::string First(const std::vector<std::string>& v) { return v.empty() ? std::string() : v.front(); }

}  // namespace

std::string EscapeFilterValue(std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) {
    if (c < 0x20 || c > 0x7e || c == '*' || c == '(' || c == ')' || c == '\\') {
      out += '\\';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

struct LdapDirectory::Search {
  std::string base;
  int scope = LDAP_SCOPE_SUBTREE;
  std::string filter;
  bool paged = false;
  int size_limit = 0;     // 0 = none; a larger result is cut, not an error
  bool dn_only = false;   // only DNs (disabled lists)
  std::string wanted_id;  // prefer this id among several attr_id values
};

LdapDirectory::LdapDirectory(LdapConfig cfg) : cfg_(std::move(cfg)) {
  if (cfg_.timeout_s <= 0) cfg_.timeout_s = 5;
}

LdapDirectory::~LdapDirectory() { DropService(); }

void LdapDirectory::DropService() {
  Unbind(service_);
  service_ = nullptr;
}

base::Error LdapDirectory::Unavailable(const std::string& what, const std::string& why) const {
  return base::MakeError(base::kExitUnavailable, "LDAP server " + cfg_.uri + " unavailable (" + what + "): " + why);
}

base::Result<LDAP*> LdapDirectory::Connect() {
  // libldap reads its global defaults (ldap.conf) on first use; do that once, before worker
  // threads race into it.
  static std::once_flag global_init;
  std::call_once(global_init, [] {
    int version = 0;
    ldap_get_option(nullptr, LDAP_OPT_PROTOCOL_VERSION, &version);
  });
  LDAP* ld = nullptr;
  int rc = ldap_initialize(&ld, cfg_.uri.c_str());
  if (rc != LDAP_SUCCESS || ld == nullptr) {
    return base::MakeError(base::kExitConfig, "LDAP uri '" + cfg_.uri + "': " + ldap_err2string(rc));
  }
  int version = LDAP_VERSION3;
  timeval tv{cfg_.timeout_s, 0};
  int demand = LDAP_OPT_X_TLS_DEMAND;
  bool ok = ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) == LDAP_OPT_SUCCESS &&
            ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) == LDAP_OPT_SUCCESS &&
            ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) == LDAP_OPT_SUCCESS &&
            ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv) == LDAP_OPT_SUCCESS &&
            ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) == LDAP_OPT_SUCCESS;
  if (ok && !cfg_.ca_file.empty()) {
    ok = ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, cfg_.ca_file.c_str()) == LDAP_OPT_SUCCESS;
  }
  if (ok && (cfg_.starttls || cfg_.uri.rfind("ldaps:", 0) == 0)) {
    // Without a context of its own the handle would use libldap's process-wide one, built from
    // ldap.conf, and ignore the options above.
    int is_server = 0;
    ok = ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &is_server) == LDAP_OPT_SUCCESS;
  }
  if (!ok) {
    Unbind(ld);
    return base::MakeError(base::kExitConfig,
                           "LDAP options for " + cfg_.uri + " rejected (ca_file '" + cfg_.ca_file + "' unreadable?)");
  }
  if (cfg_.starttls) {
    rc = ldap_start_tls_s(ld, nullptr, nullptr);
    if (rc != LDAP_SUCCESS) {
      std::string why = Describe(ld, rc);
      Unbind(ld);
      // The TCP connection and the extended operation worked, so a connect error here is the handshake.
      if (rc == LDAP_CONNECT_ERROR) why += " (is the certificate signed by ca_file or the system store?)";
      return base::MakeError(base::kExitUnavailable, "LDAP server " + cfg_.uri + ": StartTLS failed: " + why);
    }
  }
  return ld;
}

base::Status LdapDirectory::EnsureService() {
  if (service_ != nullptr) return base::Ok();
  if (!cfg_.bind_dn.empty() && cfg_.bind_password.empty()) {
    // An empty simple-bind password is an anonymous bind in disguise (RFC 4513 5.1.2).
    return base::MakeError(base::kExitConfig, "LDAP bind_dn '" + cfg_.bind_dn + "' has an empty bind_password");
  }
  COLLAB_ASSIGN_OR_RETURN(LDAP * ld, Connect());
  if (!cfg_.bind_dn.empty()) {
    int rc = SimpleBind(ld, cfg_.bind_dn, cfg_.bind_password);
    if (rc != LDAP_SUCCESS) {
      std::string why = Describe(ld, rc);
      Unbind(ld);
      if (ServerUnavailable(rc)) return Unavailable("service bind", why);
      return base::MakeError(base::kExitConfig,
                             "LDAP service account '" + cfg_.bind_dn + "' rejected by " + cfg_.uri + ": " + why);
    }
  }
  service_ = ld;
  return base::Ok();
}

base::Result<std::vector<DirectoryEntry>> LdapDirectory::SearchEntries(const Search& s) {
  // A cached connection may have died quietly (server restart, idle timeout): the first use then
  // fails with LDAP_SERVER_DOWN, and one retry on a fresh connection tells a dead connection from
  // a dead server.
  bool reused = service_ != nullptr;
  connection_reset_ = false;
  auto r = SearchOnce(s);
  if (!r.ok() && reused && connection_reset_) {
    LOG_DEBUG("LDAP connection to %s lost; reconnecting", cfg_.uri.c_str());
    r = SearchOnce(s);
  }
  return r;
}

base::Result<std::vector<DirectoryEntry>> LdapDirectory::SearchOnce(const Search& s) {
  COLLAB_TRY(EnsureService());
  std::vector<std::string> attr_names;
  if (s.dn_only) {
    attr_names = {LDAP_NO_ATTRS};
  } else {
    for (const auto* a : {&cfg_.attr_id, &cfg_.attr_name, &cfg_.attr_department, &cfg_.attr_email}) {
      if (!a->empty()) attr_names.push_back(*a);
    }
  }
  std::vector<char*> attrs;
  for (auto& a : attr_names) attrs.push_back(a.data());
  attrs.push_back(nullptr);

  std::vector<DirectoryEntry> out;
  berval cookie{0, nullptr};
  auto free_cookie = [&cookie] {
    if (cookie.bv_val != nullptr) ber_memfree(cookie.bv_val);
    cookie = berval{0, nullptr};
  };
  for (int page = 0; page < kMaxPages; ++page) {
    ControlPtr page_ctrl;
    LDAPControl* ctrls[2] = {nullptr, nullptr};
    if (s.paged) {
      LDAPControl* c = nullptr;
      // Not critical: a server without RFC 2696 support answers with everything at once.
      int rc = ldap_create_page_control(service_, kPageSize, page == 0 ? nullptr : &cookie, 0, &c);
      if (rc != LDAP_SUCCESS) {
        free_cookie();
        return base::MakeError(base::kExitSoftware, std::string("LDAP paged control: ") + ldap_err2string(rc));
      }
      page_ctrl.reset(c);
      ctrls[0] = c;
    }
    timeval tv{cfg_.timeout_s, 0};
    LDAPMessage* raw = nullptr;
    int rc = ldap_search_ext_s(service_, s.base.c_str(), s.scope, s.filter.c_str(), attrs.data(), 0,
                               s.paged ? ctrls : nullptr, nullptr, &tv, s.size_limit, &raw);
    MsgPtr res(raw);
    free_cookie();
    if (rc != LDAP_SUCCESS && !(rc == LDAP_SIZELIMIT_EXCEEDED && s.size_limit > 0)) {
      std::string why = Describe(service_, rc);
      if (ConnectionLost(rc) || ServerUnavailable(rc)) {
        // A timeout is not retried: that would double the caller's wait.
        connection_reset_ = rc == LDAP_SERVER_DOWN;
        DropService();
        return Unavailable("search", why);
      }
      if (rc == LDAP_NO_SUCH_OBJECT) {
        return base::MakeError(base::kExitConfig, "LDAP base '" + s.base + "' not found on " + cfg_.uri);
      }
      if (rc == LDAP_SIZELIMIT_EXCEEDED) {
        // Never hand back a cut list: a sync would take the missing people for deleted ones.
        return base::MakeError(base::kExitUnavailable,
                               "LDAP server " + cfg_.uri + " stopped the listing at its size limit after " +
                                   std::to_string(out.size()) + " entries; raise the limit for '" +
                                   (cfg_.bind_dn.empty() ? std::string("anonymous") : cfg_.bind_dn) +
                                   "' (OpenLDAP: limits ... size=unlimited)");
      }
      if (rc == LDAP_FILTER_ERROR) {
        return base::MakeError(base::kExitConfig, "LDAP filter '" + s.filter + "' rejected: " + why);
      }
      return base::MakeError(base::kExitUnavailable, "LDAP search on " + cfg_.uri + " failed: " + why);
    }
    for (LDAPMessage* e = ldap_first_entry(service_, res.get()); e != nullptr; e = ldap_next_entry(service_, e)) {
      DirectoryEntry d;
      char* dn = ldap_get_dn(service_, e);
      if (dn != nullptr) {
        d.dn = dn;
        ldap_memfree(dn);
      }
      if (s.dn_only) {
        out.push_back(std::move(d));
        continue;
      }
      auto ids = Values(service_, e, cfg_.attr_id);
      if (ids.empty()) continue;  // not a login: nothing to call it by
      d.id = ids.front();
      // uid is multi-valued in the schema; report the value the caller asked for.
      for (const auto& v : ids) {
        if (!s.wanted_id.empty() && base::EqualsIgnoreAsciiCase(v, s.wanted_id)) d.id = v;
      }
      d.id = base::LowerAscii(std::move(d.id));
      d.name = First(Values(service_, e, cfg_.attr_name));
      if (d.name.empty()) d.name = d.id;
      d.department = First(Values(service_, e, cfg_.attr_department));
      d.email = First(Values(service_, e, cfg_.attr_email));
      out.push_back(std::move(d));
    }
    if (!s.paged) return out;
    LDAPControl** resp_raw = nullptr;
    int err = LDAP_SUCCESS;
    rc = ldap_parse_result(service_, res.get(), &err, nullptr, nullptr, nullptr, &resp_raw, 0);
    ControlsPtr resp(resp_raw);
    if (rc != LDAP_SUCCESS) return out;
    LDAPControl* pr = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, resp.get(), nullptr);
    if (pr == nullptr) return out;  // server ignored paging: that was everything
    ber_int_t estimate = 0;
    if (ldap_parse_pageresponse_control(service_, pr, &estimate, &cookie) != LDAP_SUCCESS) {
      free_cookie();
      return base::MakeError(base::kExitUnavailable,
                             "LDAP server " + cfg_.uri + " sent a malformed paged-results control");
    }
    if (cookie.bv_len == 0) {
      free_cookie();
      LOG_DEBUG("LDAP listing from %s: %zu entries in %d pages", cfg_.uri.c_str(), out.size(), page + 1);
      return out;
    }
  }
  free_cookie();
  return base::MakeError(base::kExitUnavailable,
                         "LDAP server " + cfg_.uri + " kept paging past " + std::to_string(kMaxPages) + " pages");
}

base::Result<std::vector<std::string>> LdapDirectory::DisabledDns(const std::string& base, int scope) {
  std::vector<std::string> out;
  if (cfg_.disabled_filter.empty()) return out;
  Search s;
  s.base = base;
  s.scope = scope;
  s.filter = "(&" + Parenthesise(cfg_.user_filter) + Parenthesise(cfg_.disabled_filter) + ")";
  s.paged = scope != LDAP_SCOPE_BASE;
  s.dn_only = true;
  COLLAB_ASSIGN_OR_RETURN(auto entries, SearchEntries(s));
  for (auto& e : entries) out.push_back(std::move(e.dn));
  return out;
}

base::Result<std::optional<DirectoryEntry>> LdapDirectory::FindById(std::string_view id) {
  Search s;
  s.base = cfg_.base_dn;
  s.filter = "(&" + Parenthesise(cfg_.user_filter) + "(" + cfg_.attr_id + "=" + EscapeFilterValue(id) + "))";
  s.size_limit = 2;  // enough to notice a duplicate
  s.wanted_id = std::string(id);
  COLLAB_ASSIGN_OR_RETURN(auto entries, SearchEntries(s));
  if (entries.empty()) return std::optional<DirectoryEntry>();
  if (entries.size() > 1) {
    return base::MakeError(base::kExitDataErr, "LDAP directory " + cfg_.uri + " has several entries with " +
                                                   cfg_.attr_id + "=" + std::string(id));
  }
  DirectoryEntry entry = std::move(entries.front());
  COLLAB_ASSIGN_OR_RETURN(auto disabled, DisabledDns(entry.dn, LDAP_SCOPE_BASE));
  entry.disabled = !disabled.empty();
  return std::optional<DirectoryEntry>(std::move(entry));
}

base::Result<std::optional<DirectoryEntry>> LdapDirectory::Lookup(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdBytes) return std::optional<DirectoryEntry>();
  return FindById(id);
}

base::Result<DirectoryEntry> LdapDirectory::Authenticate(std::string_view id, std::string_view password) {
  // RFC 4513 5.1.2: a simple bind with a DN and no password is an unauthenticated bind that many
  // servers answer with success; it must never count as a login.
  if (id.empty() || password.empty() || id.size() > kMaxIdBytes || password.size() > kMaxPasswordBytes) {
    return base::MakeError(base::kExitNoPerm, kInvalidLogin);
  }
  auto found = FindById(id);
  if (!found.ok()) {
    if (found.error().code != base::kExitDataErr) return found.error();
    // Two people with one id is the directory's problem; the admin learns it from the log, the
    // caller only learns that this login does not work.
    LOG_WARN("%s", found.error().message.c_str());
    return base::MakeError(base::kExitNoPerm, kInvalidLogin);
  }
  COLLAB_ASSIGN_OR_RETURN(LDAP * ld, Connect());
  // Unknown ids still cost one failed bind (to a DN that cannot exist) so that response time does
  // not tell which ids exist.
  std::string dn = found->has_value() ? (*found)->dn : "cn=collab-no-such-user," + cfg_.base_dn;
  int rc = SimpleBind(ld, dn, password);
  std::string why = rc == LDAP_SUCCESS ? std::string() : Describe(ld, rc);
  Unbind(ld);
  if (ServerUnavailable(rc)) return Unavailable("user bind", why);
  if (rc != LDAP_SUCCESS || !found->has_value()) return base::MakeError(base::kExitNoPerm, kInvalidLogin);
  if ((*found)->disabled) return base::MakeError(base::kExitNoPerm, kDisabledLogin);
  return std::move(**found);
}

base::Result<std::vector<DirectoryEntry>> LdapDirectory::ListAll() {
  Search s;
  s.base = cfg_.base_dn;
  s.filter = Parenthesise(cfg_.user_filter);
  s.paged = true;
  COLLAB_ASSIGN_OR_RETURN(auto entries, SearchEntries(s));
  COLLAB_ASSIGN_OR_RETURN(auto disabled, DisabledDns(cfg_.base_dn, LDAP_SCOPE_SUBTREE));
  std::unordered_set<std::string> off(disabled.begin(), disabled.end());
  for (auto& e : entries) e.disabled = off.count(e.dn) != 0;
  return entries;
}

}  // namespace collab::chat
