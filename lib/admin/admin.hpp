// collab-admin's verbs. Each returns a process exit status (sysexits) and prints its own
// output: human text on stdout, or JSON (one object, or JSON Lines for lists) with --json.
// The command-line grammar lives in cmd/collab-admin; this module only does the work, so the
// verbs can be called from tests without a shell.
#pragma once

#include <string>
#include <vector>

namespace collab::admin {

struct GlobalOptions {
  std::string config_path;
  std::vector<std::string> overrides;  // -o key=value
  int verbosity = 0;
  bool json = false;
};

struct InitOptions {
  std::string state_dir, run_dir, web_dir, key_file;  // empty: keep the default
  bool force = false;
};

int Init(const GlobalOptions& g, const InitOptions& o);

int ConfigCheck(const GlobalOptions& g);
int ConfigShow(const GlobalOptions& g, bool non_default);
int ConfigDefaults(const GlobalOptions& g);

// daemons: "chatd", "sfu", "stream" (empty: all three).
int Status(const GlobalOptions& g, std::vector<std::string> daemons);
// daemon: one of the above or "all".
int Reload(const GlobalOptions& g, const std::string& daemon);

struct CertCaOptions {
  std::string dir;  // empty: <state_dir>/ca
  std::string common_name;
  bool force = false;
};
struct CertIssueOptions {
  std::string ca_dir;  // empty: <state_dir>/ca
  std::string cert, key;  // empty: <state_dir>/tls/server.{crt,key}
  std::vector<std::string> hosts;
};
int CertCa(const GlobalOptions& g, const CertCaOptions& o);
int CertIssue(const GlobalOptions& g, const CertIssueOptions& o);

// ---- chat administration (collab-chatd over its control socket; see chat_verbs.cpp) ----

struct UserAddOptions {
  std::string id, name, department, email;
  std::string role = "user";
  bool password_stdin = false;  // one line of stdin
  bool no_password = false;     // no local password (directory login only, or set later)
};
int UserAdd(const GlobalOptions& g, const UserAddOptions& o);
int UserList(const GlobalOptions& g);
int UserShow(const GlobalOptions& g, const std::string& id);
int UserSetDisabled(const GlobalOptions& g, const std::string& id, bool disabled);
int UserSetRole(const GlobalOptions& g, const std::string& id, const std::string& role);
int UserPasswd(const GlobalOptions& g, const std::string& id, bool password_stdin);
// RFC 4180 CSV with a header (csv.hpp); exit 65 when any row was bad (the good ones are imported).
int UserImport(const GlobalOptions& g, const std::string& file);
// Opens a chat session for the user and prints its bearer token; ttl_s 0: the daemon's default.
int UserToken(const GlobalOptions& g, const std::string& id, int64_t ttl_s);
int UserLdapSync(const GlobalOptions& g);

// ROOM arguments are a room id or an exact room name.
struct RoomCreateOptions {
  std::string name, kind = "public", owner, topic;
  std::vector<std::string> members;
};
struct RoomSetOptions {
  std::string room;
  int64_t retention_days = -2;       // -2: unchanged, -1: the global default, 0: keep forever
  int64_t file_retention_days = -2;
  std::string read_only;             // "", "true" or "false"
  std::string mass_mention_role;     // "", member, moderator or owner
};
int RoomCreate(const GlobalOptions& g, const RoomCreateOptions& o);
int RoomList(const GlobalOptions& g);
int RoomShow(const GlobalOptions& g, const std::string& room);
int RoomArchive(const GlobalOptions& g, const std::string& room, bool archived);
int RoomMembers(const GlobalOptions& g, const std::string& room, const std::vector<std::string>& users, bool add);
int RoomSet(const GlobalOptions& g, const RoomSetOptions& o);

// as_of: "" (now), YYYY-MM-DD or RFC 3339. Exit 75 when collab-chatd cannot be reached.
int RetentionApply(const GlobalOptions& g, bool dry_run, const std::string& as_of);
// limit 0: the daemon's default; since: "" or a duration (24h, 7d) or a date.
int AuditList(const GlobalOptions& g, int64_t limit, const std::string& since);
int WebhookAdd(const GlobalOptions& g, const std::string& room, const std::string& name, const std::string& user);
int WebhookList(const GlobalOptions& g);
int WebhookRemove(const GlobalOptions& g, const std::string& id);
int HelpdeskAdd(const GlobalOptions& g, const std::string& id, const std::string& name,
                const std::vector<std::string>& agents);
int HelpdeskList(const GlobalOptions& g);
int HelpdeskStats(const GlobalOptions& g, const std::string& desk);

// ---- streaming (collab-stream over its control socket; see stream_verbs.cpp) ----

// Exit 69 when collab-stream is not running.
int StreamList(const GlobalOptions& g);
// Disconnects the stream's publisher. Exit 67 for an unknown stream; 0 when it has no publisher.
int StreamKick(const GlobalOptions& g, const std::string& name);
// Starts or stops recording a stream (action "start" or "stop"); exit 64 for another action, 65
// for an invalid name. Starting a stream that is not live makes it record when it publishes.
int StreamRecord(const GlobalOptions& g, const std::string& name, const std::string& action);
// Lists recordings (JSON Lines with --json).
int StreamRecordings(const GlobalOptions& g);

// backup.cpp: online backup of the chat database into a new directory, and restore into a stopped
// daemon's state directory.
int Backup(const GlobalOptions& g, const std::string& dest);
int Restore(const GlobalOptions& g, const std::string& src, bool force);

// token.cpp: mints a v1 token with the [auth] key file, for scripts that call collab-sfu/stream.
struct TokenOptions {
  std::string user, name;
  std::vector<std::string> scopes;
  int64_t ttl_s = 3600;
};
int Token(const GlobalOptions& g, const TokenOptions& o);

// Hidden `__complete KIND`: live values for shell completions, one per line.
int Complete(const GlobalOptions& g, const std::string& kind);

// The daemons collab-admin can address, as config sections.
const std::vector<std::string>& DaemonSections();

}  // namespace collab::admin
