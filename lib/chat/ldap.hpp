// The staff directory client collab-chatd uses for LDAP logins (search the entry with a service
// account, then bind as it) and for directory sync (names, departments, disabled accounts).
// Deliberately blocking and loop-free: the daemon calls it from a worker thread (uv_queue_work),
// one LdapDirectory per thread or serialised by the caller. It does not create or change directory
// entries, does not cache results, and knows nothing about chat accounts.
// The process must ignore SIGPIPE (collab daemons do): libldap writes to sockets the server may
// have closed.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.hpp"

typedef struct ldap LDAP;  // NOLINT: libldap's own spelling; keeps <ldap.h> out of our headers

namespace collab::chat {

struct LdapConfig {
  std::string uri;  // ldap://127.0.0.1:389 or ldaps://host
  bool starttls = false;
  std::string ca_file;  // "" = the system store
  std::string bind_dn;  // service account; "" = anonymous search
  std::string bind_password;
  std::string base_dn;
  std::string user_filter = "(objectClass=inetOrgPerson)";  // every staff entry matches it
  std::string attr_id = "uid", attr_name = "displayName", attr_department = "departmentNumber", attr_email = "mail";
  std::string disabled_filter;  // entries matching (&user_filter disabled_filter) are disabled; "" none
  int timeout_s = 5;            // connect and per-operation limit
};

// One staff member. `id` is the directory's spelling with ASCII letters lower-cased (LDAP matches
// ids case-insensitively, so "Sato" and "sato" are one person; non-ASCII is kept byte for byte).
// Missing attributes are ""; `name` falls back to `id`.
struct DirectoryEntry {
  std::string id, dn, name, department, email;
  bool disabled = false;
};

class LdapDirectory {
 public:
  explicit LdapDirectory(LdapConfig cfg);
  ~LdapDirectory();  // unbinds
  LdapDirectory(const LdapDirectory&) = delete;
  LdapDirectory& operator=(const LdapDirectory&) = delete;

  // Finds the entry (user_filter AND attr_id=id) with the service account, then binds as its DN on
  // a separate connection. Unknown id, wrong password and empty password all give kExitNoPerm
  // "invalid user name or password" (an empty password would be an unauthenticated bind that
  // "succeeds", so it never reaches the server). A disabled entry with the right password:
  // kExitNoPerm "account disabled in the directory". Server unreachable or slow: kExitUnavailable
  // naming the uri. Service account rejected: kExitConfig.
  [[nodiscard]] base::Result<DirectoryEntry> Authenticate(std::string_view id, std::string_view password);
  // nullopt when no staff entry has that id (or the id is empty or over 256 bytes); kExitDataErr
  // when several have it.
  [[nodiscard]] base::Result<std::optional<DirectoryEntry>> Lookup(std::string_view id);
  // Every staff entry (paged, RFC 2696, when the server supports it), disabled ones flagged. Entries
  // without an id attribute are skipped: they cannot log in.
  [[nodiscard]] base::Result<std::vector<DirectoryEntry>> ListAll();

 private:
  struct Search;
  base::Result<LDAP*> Connect();  // a new bound-or-not handle (no service bind)
  base::Status EnsureService();
  void DropService();
  base::Result<std::vector<DirectoryEntry>> SearchEntries(const Search& s);
  base::Result<std::vector<DirectoryEntry>> SearchOnce(const Search& s);
  base::Result<std::vector<std::string>> DisabledDns(const std::string& base, int scope);
  base::Result<std::optional<DirectoryEntry>> FindById(std::string_view id);
  base::Error Unavailable(const std::string& what, const std::string& why) const;

  LdapConfig cfg_;
  LDAP* service_ = nullptr;        // cached service connection; nullptr after an error
  bool connection_reset_ = false;  // the last search found service_ dead (worth one retry)
};

// RFC 4515 escaping for a value inside a filter: * ( ) \ NUL and every byte outside printable
// ASCII become \xx, so a user-supplied id can never change the filter's structure.
std::string EscapeFilterValue(std::string_view value);

}  // namespace collab::chat
