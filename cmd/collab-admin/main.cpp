// collab-admin: the admin CLI. The grammar `collab-admin AREA VERB [args]` is declared here as a
// table of CLI11 subcommands; each verb's work is a function in lib/admin.
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "lib/admin/admin.hpp"
#include "lib/base/exit_codes.hpp"
#include "lib/base/version.hpp"

namespace {

constexpr const char* kDefaultConfig = "/etc/collab/collab.toml";

}  // namespace

int main(int argc, char** argv) {
  using namespace collab;
  CLI::App app{
      "collab administration: configuration, status, certificates, chat users and rooms, retention, backup, streams",
      "collab-admin"};
  app.set_version_flag("--version", std::string("collab-admin ") + base::kVersion);
  app.require_subcommand(1);
  app.fallthrough();

  admin::GlobalOptions g;
  g.config_path = kDefaultConfig;
  app.add_option("-c,--config", g.config_path, "configuration file (default " + std::string(kDefaultConfig) + ")")
      ->envname("COLLAB_CONFIG")
      ->type_name("FILE");
  app.add_option("-o,--option", g.overrides, "override a configuration key")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  app.add_flag("-v,--verbose", g.verbosity, "more output (repeatable)");
  app.add_flag("--json", g.json, "machine-readable output (JSON, or JSON Lines for lists)");

  std::function<int()> action;

  // init
  admin::InitOptions init;
  auto* init_cmd = app.add_subcommand("init", "create the config file, state directory and token key");
  init_cmd->add_option("--state-dir", init.state_dir, "state directory")->type_name("DIR");
  init_cmd->add_option("--run-dir", init.run_dir, "directory for control sockets")->type_name("DIR");
  init_cmd->add_option("--web-dir", init.web_dir, "static files of the web app")->type_name("DIR");
  init_cmd->add_option("--key-file", init.key_file, "shared token key file")->type_name("FILE");
  init_cmd->add_flag("--force", init.force, "overwrite an existing config file");
  init_cmd->callback([&] { action = [&] { return admin::Init(g, init); }; });

  // config check|show|defaults
  auto* config_cmd = app.add_subcommand("config", "check or print the configuration");
  config_cmd->require_subcommand(1);
  config_cmd->add_subcommand("check", "validate the configuration file")->callback([&] {
    action = [&] { return admin::ConfigCheck(g); };
  });
  bool non_default = false;
  auto* show = config_cmd->add_subcommand("show", "print the effective configuration");
  show->add_flag("--non-default", non_default, "only keys that differ from their defaults");
  show->callback([&] { action = [&] { return admin::ConfigShow(g, non_default); }; });
  config_cmd->add_subcommand("defaults", "print every key with its default and documentation")->callback([&] {
    action = [&] { return admin::ConfigDefaults(g); };
  });

  // status [DAEMON...]
  std::vector<std::string> status_daemons;
  auto* status_cmd = app.add_subcommand("status", "show whether each daemon runs, with version, uptime and listeners");
  status_cmd->add_option("daemon", status_daemons, "chatd, sfu or stream (default: all)");
  status_cmd->callback([&] { action = [&] { return admin::Status(g, status_daemons); }; });

  // reload DAEMON
  std::string reload_daemon;
  auto* reload_cmd = app.add_subcommand("reload", "make a daemon re-read its configuration");
  reload_cmd->add_option("daemon", reload_daemon, "chatd, sfu, stream or all")->required();
  reload_cmd->callback([&] { action = [&] { return admin::Reload(g, reload_daemon); }; });

  // cert ca|issue
  auto* cert_cmd = app.add_subcommand("cert", "intranet certificate authority and server certificates");
  cert_cmd->require_subcommand(1);
  admin::CertCaOptions ca;
  auto* ca_cmd = cert_cmd->add_subcommand("ca", "create the intranet certificate authority");
  ca_cmd->add_option("--dir", ca.dir, "where to write ca.crt and ca.key (default STATE_DIR/ca)")->type_name("DIR");
  ca_cmd->add_option("--cn", ca.common_name, "the CA's common name")->type_name("NAME");
  ca_cmd->add_flag("--force", ca.force, "replace an existing CA");
  ca_cmd->callback([&] { action = [&] { return admin::CertCa(g, ca); }; });
  admin::CertIssueOptions issue;
  auto* issue_cmd = cert_cmd->add_subcommand("issue", "issue a server certificate for HOST names and addresses");
  issue_cmd->add_option("--dir", issue.ca_dir, "the CA directory (default STATE_DIR/ca)")->type_name("DIR");
  issue_cmd->add_option("--cert", issue.cert, "certificate output (default STATE_DIR/tls/server.crt)")->type_name("FILE");
  issue_cmd->add_option("--key", issue.key, "key output (default STATE_DIR/tls/server.key)")->type_name("FILE");
  issue_cmd->add_option("host", issue.hosts, "DNS names and IP addresses")->required();
  issue_cmd->callback([&] { action = [&] { return admin::CertIssue(g, issue); }; });

  // user add|list|show|disable|enable|set-role|passwd|import|token|ldap-sync
  auto* user_cmd = app.add_subcommand("user", "chat accounts (collab-chatd)");
  user_cmd->require_subcommand(1);
  admin::UserAddOptions uadd;
  auto* uadd_cmd = user_cmd->add_subcommand("add", "add a local account");
  uadd_cmd->add_option("id", uadd.id, "user id (staff ID: a-z 0-9 . _ -)")->required();
  uadd_cmd->add_option("--name", uadd.name, "display name (UTF-8)")->type_name("NAME");
  uadd_cmd->add_option("--department", uadd.department, "department")->type_name("DEPT");
  uadd_cmd->add_option("--email", uadd.email, "e-mail address")->type_name("EMAIL");
  uadd_cmd->add_option("--role", uadd.role, "user or admin (default user)")->type_name("ROLE");
  uadd_cmd->add_flag("--password-stdin", uadd.password_stdin, "read the password from one line of standard input");
  uadd_cmd->add_flag("--no-password", uadd.no_password, "no local password (directory login, or set one later)");
  uadd_cmd->callback([&] { action = [&] { return admin::UserAdd(g, uadd); }; });
  user_cmd->add_subcommand("list", "list accounts")->callback([&] { action = [&] { return admin::UserList(g); }; });
  std::string user_id, user_role;
  auto* ushow_cmd = user_cmd->add_subcommand("show", "show one account with its rooms");
  ushow_cmd->add_option("id", user_id, "user id")->required();
  ushow_cmd->callback([&] { action = [&] { return admin::UserShow(g, user_id); }; });
  auto* udis_cmd = user_cmd->add_subcommand("disable", "disable an account and close its sessions");
  udis_cmd->add_option("id", user_id, "user id")->required();
  udis_cmd->callback([&] { action = [&] { return admin::UserSetDisabled(g, user_id, true); }; });
  auto* uen_cmd = user_cmd->add_subcommand("enable", "enable a disabled account");
  uen_cmd->add_option("id", user_id, "user id")->required();
  uen_cmd->callback([&] { action = [&] { return admin::UserSetDisabled(g, user_id, false); }; });
  auto* urole_cmd = user_cmd->add_subcommand("set-role", "make an account a user or an admin");
  urole_cmd->add_option("id", user_id, "user id")->required();
  urole_cmd->add_option("role", user_role, "user or admin")->required();
  urole_cmd->callback([&] { action = [&] { return admin::UserSetRole(g, user_id, user_role); }; });
  bool passwd_stdin = false;
  auto* upw_cmd = user_cmd->add_subcommand("passwd", "set an account's password");
  upw_cmd->add_option("id", user_id, "user id")->required();
  upw_cmd->add_flag("--password-stdin", passwd_stdin, "read the password from one line of standard input");
  upw_cmd->callback([&] { action = [&] { return admin::UserPasswd(g, user_id, passwd_stdin); }; });
  std::string import_file;
  auto* uimp_cmd =
      user_cmd->add_subcommand("import", "add accounts from a CSV file (id,name,department,email,role[,password])");
  uimp_cmd->add_option("file", import_file, "CSV file with a header row")->required();
  uimp_cmd->callback([&] { action = [&] { return admin::UserImport(g, import_file); }; });
  int64_t user_ttl = 0;
  auto* utok_cmd =
      user_cmd->add_subcommand("token", "open a chat session for a bot or script and print its bearer token");
  utok_cmd->add_option("id", user_id, "user id")->required();
  utok_cmd->add_option("--ttl", user_ttl, "lifetime in seconds (default chatd.session_max_age)")->type_name("SECONDS");
  utok_cmd->callback([&] { action = [&] { return admin::UserToken(g, user_id, user_ttl); }; });
  user_cmd->add_subcommand("ldap-sync", "sync accounts with the directory now")->callback([&] {
    action = [&] { return admin::UserLdapSync(g); };
  });

  // room create|list|show|archive|unarchive|members add|remove|set
  auto* room_cmd = app.add_subcommand("room", "chat rooms (collab-chatd)");
  room_cmd->require_subcommand(1);
  admin::RoomCreateOptions rcreate;
  auto* rcreate_cmd = room_cmd->add_subcommand("create", "create a channel");
  rcreate_cmd->add_option("name", rcreate.name, "room name")->required();
  rcreate_cmd->add_option("--kind", rcreate.kind, "public, private or announcement (default public)")
      ->type_name("KIND");
  rcreate_cmd->add_option("--owner", rcreate.owner, "user who owns the room")->type_name("ID");
  rcreate_cmd->add_option("--member", rcreate.members, "add a member (repeatable)")
      ->type_name("ID")
      ->allow_extra_args(false);
  rcreate_cmd->add_option("--topic", rcreate.topic, "room topic")->type_name("TEXT");
  rcreate_cmd->callback([&] { action = [&] { return admin::RoomCreate(g, rcreate); }; });
  room_cmd->add_subcommand("list", "list rooms")->callback([&] { action = [&] { return admin::RoomList(g); }; });
  std::string room_id;
  auto* rshow_cmd = room_cmd->add_subcommand("show", "show a room with its members");
  rshow_cmd->add_option("room", room_id, "room id or name")->required();
  rshow_cmd->callback([&] { action = [&] { return admin::RoomShow(g, room_id); }; });
  auto* rarch_cmd = room_cmd->add_subcommand("archive", "archive a room (read-only, hidden from lists)");
  rarch_cmd->add_option("room", room_id, "room id or name")->required();
  rarch_cmd->callback([&] { action = [&] { return admin::RoomArchive(g, room_id, true); }; });
  auto* runarch_cmd = room_cmd->add_subcommand("unarchive", "bring an archived room back");
  runarch_cmd->add_option("room", room_id, "room id or name")->required();
  runarch_cmd->callback([&] { action = [&] { return admin::RoomArchive(g, room_id, false); }; });
  auto* rmem_cmd = room_cmd->add_subcommand("members", "add or remove room members");
  rmem_cmd->require_subcommand(1);
  std::vector<std::string> member_ids;
  for (bool add : {true, false}) {
    auto* c =
        rmem_cmd->add_subcommand(add ? "add" : "remove", add ? "add members to a room" : "remove members from a room");
    c->add_option("room", room_id, "room id or name")->required();
    c->add_option("users", member_ids, "user ids")->required();
    c->callback([&, add] { action = [&, add] { return admin::RoomMembers(g, room_id, member_ids, add); }; });
    c->fallthrough();
  }
  admin::RoomSetOptions rset;
  auto* rset_cmd = room_cmd->add_subcommand("set", "change a room's settings");
  rset_cmd->add_option("room", rset.room, "room id or name")->required();
  rset_cmd
      ->add_option("--retention-days", rset.retention_days,
                   "delete messages older than N days (0 keeps, -1 global default)")
      ->type_name("N");
  rset_cmd->add_option("--file-retention-days", rset.file_retention_days, "the same for attachments")->type_name("N");
  rset_cmd->add_option("--read-only", rset.read_only, "only moderators post: true or false")->type_name("BOOL");
  rset_cmd
      ->add_option("--mass-mention-role", rset.mass_mention_role, "who may use @all/@here: member, moderator or owner")
      ->type_name("ROLE");
  rset_cmd->callback([&] { action = [&] { return admin::RoomSet(g, rset); }; });

  // retention apply
  auto* ret_cmd = app.add_subcommand("retention", "chat retention policy");
  ret_cmd->require_subcommand(1);
  bool ret_dry = false;
  std::string ret_as_of;
  auto* apply_cmd = ret_cmd->add_subcommand("apply", "delete chat history older than the retention settings");
  apply_cmd->add_flag("--dry-run", ret_dry, "only count what would be deleted");
  apply_cmd->add_option("--as-of", ret_as_of, "pretend it is DATE (YYYY-MM-DD or RFC 3339)")->type_name("DATE");
  apply_cmd->callback([&] { action = [&] { return admin::RetentionApply(g, ret_dry, ret_as_of); }; });

  // backup DEST, restore SRC
  std::string backup_dest;
  auto* backup_cmd = app.add_subcommand("backup", "copy the chat database into a new directory, online");
  backup_cmd->add_option("dest", backup_dest, "new directory for the backup")->required();
  backup_cmd->callback([&] { action = [&] { return admin::Backup(g, backup_dest); }; });
  std::string restore_src;
  bool restore_force = false;
  auto* restore_cmd =
      app.add_subcommand("restore", "replace the chat database of a stopped collab-chatd with a backup");
  restore_cmd->add_option("src", restore_src, "backup directory")->required();
  restore_cmd->add_flag("--force", restore_force, "move an existing database aside and restore anyway");
  restore_cmd->callback([&] { action = [&] { return admin::Restore(g, restore_src, restore_force); }; });

  // audit
  int64_t audit_limit = 0;
  std::string audit_since;
  auto* audit_cmd = app.add_subcommand("audit", "show the chat audit log, oldest first");
  audit_cmd->add_option("--limit", audit_limit, "at most N lines, the newest (default 100)")->type_name("N");
  audit_cmd->add_option("--since", audit_since, "only lines after a duration ago (24h, 7d) or a date")
      ->type_name("WHEN");
  audit_cmd->callback([&] { action = [&] { return admin::AuditList(g, audit_limit, audit_since); }; });

  // webhook add|list|remove
  auto* hook_cmd = app.add_subcommand("webhook", "incoming webhooks that post into a room");
  hook_cmd->require_subcommand(1);
  std::string hook_room, hook_name, hook_user, hook_id;
  auto* hadd_cmd = hook_cmd->add_subcommand("add", "add a webhook and print its secret URL");
  hadd_cmd->add_option("room", hook_room, "room id or name")->required();
  hadd_cmd->add_option("--name", hook_name, "name shown for its posts")->type_name("NAME")->required();
  hadd_cmd->add_option("--user", hook_user, "post as this existing account (default: a new bot account)")
      ->type_name("ID");
  hadd_cmd->callback([&] { action = [&] { return admin::WebhookAdd(g, hook_room, hook_name, hook_user); }; });
  hook_cmd->add_subcommand("list", "list webhooks")->callback([&] { action = [&] { return admin::WebhookList(g); }; });
  auto* hrm_cmd = hook_cmd->add_subcommand("remove", "remove a webhook; its URL stops working");
  hrm_cmd->add_option("id", hook_id, "webhook id")->required();
  hrm_cmd->callback([&] { action = [&] { return admin::WebhookRemove(g, hook_id); }; });

  // helpdesk add|list|stats
  auto* desk_cmd = app.add_subcommand("helpdesk", "IT helpdesks (Ask IT) and their figures");
  desk_cmd->require_subcommand(1);
  std::string desk_id, desk_name;
  std::vector<std::string> desk_agents;
  auto* dadd_cmd = desk_cmd->add_subcommand("add", "create a desk or replace its name and agents");
  dadd_cmd->add_option("id", desk_id, "desk id, e.g. it")->required();
  dadd_cmd->add_option("--name", desk_name, "name staff see")->type_name("NAME");
  dadd_cmd->add_option("--agent", desk_agents, "an agent (repeatable)")->type_name("ID")->required()->allow_extra_args(false);
  dadd_cmd->callback([&] { action = [&] { return admin::HelpdeskAdd(g, desk_id, desk_name, desk_agents); }; });
  desk_cmd->add_subcommand("list", "list desks")->callback([&] { action = [&] { return admin::HelpdeskList(g); }; });
  auto* dstats_cmd = desk_cmd->add_subcommand("stats", "open/claimed/resolved counts and response times");
  dstats_cmd->add_option("desk", desk_id, "one desk (default: all)");
  dstats_cmd->callback([&] { action = [&] { return admin::HelpdeskStats(g, desk_id); }; });

  // stream list|kick|record|recordings
  auto* stream_cmd = app.add_subcommand("stream", "live streams (collab-stream)");
  stream_cmd->require_subcommand(1);
  stream_cmd->add_subcommand("list", "list streams with publisher, bytes in and playlist position")->callback([&] {
    action = [&] { return admin::StreamList(g); };
  });
  std::string stream_name;
  auto* skick_cmd = stream_cmd->add_subcommand("kick", "disconnect a stream's publisher");
  skick_cmd->add_option("name", stream_name, "stream name")->required();
  skick_cmd->callback([&] { action = [&] { return admin::StreamKick(g, stream_name); }; });
  std::string record_action;
  auto* srecord_cmd = stream_cmd->add_subcommand("record", "start or stop recording a stream");
  srecord_cmd->add_option("name", stream_name, "stream name")->required();
  srecord_cmd->add_option("action", record_action, "start or stop")
      ->required()
      ->check(CLI::IsMember({"start", "stop"}));
  srecord_cmd->callback([&] { action = [&] { return admin::StreamRecord(g, stream_name, record_action); }; });
  stream_cmd->add_subcommand("recordings", "list recordings with state, duration, size and URLs")->callback([&] {
    action = [&] { return admin::StreamRecordings(g); };
  });

  // token
  admin::TokenOptions tok;
  auto* token_cmd =
      app.add_subcommand("token", "mint a signed token for collab-sfu and collab-stream with the key file");
  token_cmd->add_option("--user", tok.user, "the token's subject")->type_name("ID")->required();
  token_cmd->add_option("--name", tok.name, "display name (default the user id)")->type_name("NAME");
  token_cmd->add_option("--scope", tok.scopes, "a scope such as room:ID or stream:NAME (repeatable)")
      ->type_name("SCOPE")
      ->allow_extra_args(false);
  token_cmd->add_option("--ttl", tok.ttl_s, "lifetime in seconds (default 3600)")->type_name("SECONDS");
  token_cmd->callback([&] { action = [&] { return admin::Token(g, tok); }; });

  // Hidden: live values for the shell completions.
  std::string complete_kind;
  auto* complete_cmd = app.add_subcommand("__complete", "");
  complete_cmd->group("");
  complete_cmd->add_option("kind", complete_kind)->required();
  complete_cmd->callback([&] { action = [&] { return admin::Complete(g, complete_kind); }; });

  for (auto* sub : {init_cmd, config_cmd, status_cmd, reload_cmd, cert_cmd, user_cmd, room_cmd, ret_cmd, backup_cmd,
                    restore_cmd, audit_cmd, hook_cmd, desk_cmd, stream_cmd, token_cmd, complete_cmd})
    sub->fallthrough();
  for (auto* area : {config_cmd, cert_cmd, user_cmd, room_cmd, ret_cmd, hook_cmd, desk_cmd, stream_cmd})
    for (auto* sub : area->get_subcommands({})) sub->fallthrough();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : base::kExitUsage;
  }
  if (!action) return base::kExitUsage;
  return action();
}
