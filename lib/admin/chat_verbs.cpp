// The chat administration verbs: thin clients of collab-chatd's control verbs (lib/chat/control.cpp,
// collab-ipc(7)). They shape arguments, print tables or JSON, and map failures to sysexits.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "lib/admin/common.hpp"
#include "lib/admin/csv.hpp"
#include "lib/admin/timespec.hpp"
#include "lib/admin/tty.hpp"
#include "lib/base/fs.hpp"
#include "lib/base/json.hpp"
#include "lib/base/time.hpp"

namespace collab::admin {

using base::Json;

namespace {

constexpr int kCallTimeoutMs = 30 * 1000;
// Retention on a large store and a directory sync may take a while; the daemon answers when done.
constexpr int kLongCallTimeoutMs = 30 * 60 * 1000;

// Loads the config and calls collab-chatd; on failure prints the error and returns its exit code
// in *rc. temp_fail: report "not running" as 75 so cron retries.
base::Result<Json> Chat(const GlobalOptions& g, const std::string& verb, const Json& args, int* rc,
                        int timeout_ms = kCallTimeoutMs, bool temp_fail = false) {
  auto cfg = LoadConfig(g);
  if (!cfg.ok()) {
    *rc = Fail(cfg.error());
    return cfg.error();
  }
  auto r = CallDaemon(*cfg, "chatd", verb, args, timeout_ms);
  if (!r.ok()) {
    base::Error e = r.error();
    if (temp_fail && e.code == base::kExitUnavailable) e.code = base::kExitTempFail;
    *rc = Fail(e);
    return e;
  }
  *rc = 0;
  return r;
}

std::string Str(const Json& j, const char* key) {
  const Json* v = j.Find(key);
  if (!v) return "";
  if (v->is_string()) return v->as_string();
  if (v->is_null()) return "";
  return v->Dump();
}

std::string LocalTime(int64_t ms, bool seconds = false) {
  if (ms <= 0) return "-";
  time_t t = static_cast<time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, seconds ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%d %H:%M", &tm);
  return buf;
}

// ROOM may be an id (r + 16 base32 characters) or an exact name; names are looked up in room.list.
base::Result<std::string> ResolveRoom(const GlobalOptions& g, const std::string& room, int* rc) {
  bool looks_like_id = room.size() == 17 && room[0] == 'r';
  for (size_t i = 1; looks_like_id && i < room.size(); ++i)
    looks_like_id = (room[i] >= 'a' && room[i] <= 'z') || (room[i] >= '2' && room[i] <= '7');
  if (looks_like_id) return room;
  auto list = Chat(g, "room.list", Json::MakeObject(), rc);
  if (!list.ok()) return list.error();
  std::vector<std::string> ids;
  if (const Json* rooms = list->Find("rooms"))
    for (const Json& r : rooms->as_array())
      if (r.GetString("name") == room && r.GetString("kind") != "dm") ids.push_back(r.GetString("id"));
  if (ids.size() == 1) return ids[0];
  base::Error e = ids.empty() ? base::MakeError(base::kExitNoUser, "no such room: " + room)
                              : base::MakeError(base::kExitUsage, "more than one room is named '" + room +
                                                                      "'; give its id (collab-admin room list)");
  *rc = Fail(e);
  return e;
}

void PrintUserText(const Json& u) {
  std::printf("id          %s\n", Str(u, "id").c_str());
  std::printf("name        %s\n", Str(u, "name").c_str());
  std::printf("department  %s\n", Str(u, "department").c_str());
  std::printf("email       %s\n", Str(u, "email").c_str());
  std::printf("role        %s\n", Str(u, "role").c_str());
  std::printf("source      %s\n", Str(u, "source").c_str());
  std::printf("state       %s\n", u.GetBool("disabled") ? "disabled" : "active");
  if (u.Find("presence")) std::printf("presence    %s\n", Str(u, "presence").c_str());
  std::printf("created     %s\n", LocalTime(u.GetInt("created_at")).c_str());
  if (const Json* rooms = u.Find("rooms")) {
    std::string list;
    for (const Json& r : rooms->as_array())
      list += (list.empty() ? "" : " ") + (r.is_string() ? r.as_string() : r.Dump());
    std::printf("rooms       %s\n", list.empty() ? "-" : list.c_str());
  }
}

base::Status CheckRole(const std::string& role) {
  if (role == "user" || role == "admin") return base::Ok();
  return base::MakeError(base::kExitUsage, "role must be user or admin, not '" + role + "'");
}

}  // namespace

// ---- users ----

int UserAdd(const GlobalOptions& g, const UserAddOptions& o) {
  if (auto st = CheckRole(o.role); !st.ok()) return Fail(st.error());
  if (o.password_stdin && o.no_password)
    return Fail(base::kExitUsage, "--password-stdin and --no-password exclude each other");
  Json args = Json::Obj({{"id", o.id}, {"role", o.role}});
  if (!o.name.empty()) args.Set("name", o.name);
  if (!o.department.empty()) args.Set("department", o.department);
  if (!o.email.empty()) args.Set("email", o.email);
  if (!o.no_password) {
    if (!o.password_stdin && !IsTty(stdin))
      return Fail(base::kExitUsage, "give the password with --password-stdin, or add the user with --no-password");
    auto pw = ReadPassword(o.password_stdin, true);
    if (!pw.ok()) return Fail(pw.error());
    args.Set("password", *pw);
  }
  int rc;
  auto r = Chat(g, "user.add", args, &rc);
  if (!r.ok()) return rc;
  if (g.json)
    PrintJson(*r);
  else
    std::printf("added user %s (%s)\n", Str(*r, "id").c_str(), Str(*r, "name").c_str());
  return 0;
}

int UserList(const GlobalOptions& g) {
  int rc;
  auto r = Chat(g, "user.list", Json::MakeObject(), &rc);
  if (!r.ok()) return rc;
  const Json* users = r->Find("users");
  if (g.json) {
    if (users)
      for (const Json& u : users->as_array()) PrintJson(u);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  if (users)
    for (const Json& u : users->as_array())
      rows.push_back({Str(u, "id"), Str(u, "name"), Str(u, "department"), Str(u, "role"),
                      u.GetBool("disabled") ? "disabled" : "active", Str(u, "source"), Str(u, "presence")});
  PrintTable(stdout, {"ID", "NAME", "DEPARTMENT", "ROLE", "STATE", "SOURCE", "PRESENCE"}, rows);
  return 0;
}

int UserShow(const GlobalOptions& g, const std::string& id) {
  int rc;
  auto r = Chat(g, "user.get", Json::Obj({{"id", id}}), &rc);
  if (!r.ok()) return rc;
  if (g.json)
    PrintJson(*r);
  else
    PrintUserText(*r);
  return 0;
}

int UserSetDisabled(const GlobalOptions& g, const std::string& id, bool disabled) {
  int rc;
  auto r = Chat(g, "user.set", Json::Obj({{"id", id}, {"disabled", disabled}}), &rc);
  if (!r.ok()) return rc;
  if (g.json)
    PrintJson(*r);
  else if (disabled)
    std::printf("disabled user %s; their sessions are closed\n", Str(*r, "id").c_str());
  else
    std::printf("enabled user %s\n", Str(*r, "id").c_str());
  return 0;
}

int UserSetRole(const GlobalOptions& g, const std::string& id, const std::string& role) {
  if (auto st = CheckRole(role); !st.ok()) return Fail(st.error());
  int rc;
  auto r = Chat(g, "user.set", Json::Obj({{"id", id}, {"role", role}}), &rc);
  if (!r.ok()) return rc;
  if (g.json)
    PrintJson(*r);
  else
    std::printf("user %s now has role %s\n", Str(*r, "id").c_str(), Str(*r, "role").c_str());
  return 0;
}

int UserPasswd(const GlobalOptions& g, const std::string& id, bool password_stdin) {
  if (!password_stdin && !IsTty(stdin))
    return Fail(base::kExitUsage, "not a terminal: give the password with --password-stdin");
  auto pw = ReadPassword(password_stdin, true);
  if (!pw.ok()) return Fail(pw.error());
  int rc;
  auto r = Chat(g, "user.set", Json::Obj({{"id", id}, {"password", *pw}}), &rc);
  if (!r.ok()) return rc;
  if (g.json)
    PrintJson(Json::Obj({{"id", Str(*r, "id")}, {"password_set", true}}));
  else
    std::printf("password of %s changed\n", Str(*r, "id").c_str());
  return 0;
}

int UserImport(const GlobalOptions& g, const std::string& file) {
  auto text = base::ReadFile(file, 64 * 1024 * 1024);
  if (!text.ok()) {
    base::Error e = text.error();
    if (!base::PathExists(file)) e.code = base::kExitNoInput;
    return Fail(e);
  }
  UserCsv csv = ParseUserCsv(*text);
  for (const auto& p : csv.problems)
    std::fprintf(stderr, "collab-admin: %s:%zu: %s (skipped)\n", file.c_str(), p.line, p.message.c_str());
  if (!csv.header_ok) return base::kExitDataErr;
  auto cfg = LoadConfig(g);
  if (!cfg.ok()) return Fail(cfg.error());

  int64_t added = 0, existing = 0, failed = 0;
  std::vector<UserRow> plain;
  std::vector<const UserRow*> with_password;
  for (const auto& row : csv.rows) {
    if (row.has_password)
      with_password.push_back(&row);
    else
      plain.push_back(row);
  }
  ProgressBar bar("importing users", csv.rows.size(), false);
  uint64_t done = 0;
  auto user_args = [](const UserRow& u) {
    Json a = Json::Obj({{"id", u.id}, {"role", u.role}});
    if (!u.name.empty()) a.Set("name", u.name);
    if (!u.department.empty()) a.Set("department", u.department);
    if (!u.email.empty()) a.Set("email", u.email);
    return a;
  };
  // Rows without a password go in batches (no hashing needed); the daemon skips existing ids.
  constexpr size_t kBatch = 500;
  for (size_t i = 0; i < plain.size(); i += kBatch) {
    Json users = Json::MakeArray();
    size_t end = std::min(plain.size(), i + kBatch);
    for (size_t k = i; k < end; ++k) users.Push(user_args(plain[k]));
    auto r = CallDaemon(*cfg, "chatd", "user.add_many", Json::Obj({{"users", users}}), kLongCallTimeoutMs);
    if (!r.ok()) {
      bar.Finish();
      return Fail(r.error().Wrap("importing rows " + std::to_string(plain[i].line) + ".." +
                                 std::to_string(plain[end - 1].line)));
    }
    added += r->GetInt("added");
    existing += r->GetInt("skipped");
    if (const Json* errs = r->Find("errors"))
      for (const Json& e : errs->as_array()) {
        ++failed;
        std::fprintf(stderr, "collab-admin: %s: %s\n", file.c_str(),
                     e.is_string() ? e.as_string().c_str() : e.Dump().c_str());
      }
    done += end - i;
    bar.Set(done);
  }
  // Rows with a password one by one: the daemon hashes each (argon2id) off its loop.
  for (const UserRow* u : with_password) {
    Json a = user_args(*u);
    a.Set("password", u->password);
    auto r = CallDaemon(*cfg, "chatd", "user.add", a, kCallTimeoutMs);
    if (r.ok()) {
      ++added;
    } else if (r.error().code == base::kExitCantCreat) {
      ++existing;
    } else if (r.error().code == base::kExitUnavailable || r.error().code == base::kExitNoPerm ||
               r.error().code == base::kExitTempFail) {
      bar.Finish();
      return Fail(r.error());
    } else {
      ++failed;
      std::fprintf(stderr, "collab-admin: %s:%zu: %s (skipped)\n", file.c_str(), u->line, r.error().message.c_str());
    }
    bar.Set(++done);
  }
  bar.Finish();
  int64_t bad = static_cast<int64_t>(csv.problems.size()) + failed;
  if (g.json) {
    Json problems = Json::MakeArray();
    for (const auto& p : csv.problems)
      problems.Push(Json::Obj({{"line", static_cast<int64_t>(p.line)}, {"error", p.message}}));
    PrintJson(
        Json::Obj({{"file", file}, {"added", added}, {"existing", existing}, {"bad", bad}, {"problems", problems}}));
  } else {
    std::printf("%s: %lld added, %lld already present, %lld bad rows skipped\n", file.c_str(),
                static_cast<long long>(added), static_cast<long long>(existing), static_cast<long long>(bad));
  }
  return bad > 0 ? base::kExitDataErr : 0;
}

int UserToken(const GlobalOptions& g, const std::string& id, int64_t ttl_s) {
  Json args = Json::Obj({{"id", id}});
  if (ttl_s > 0) args.Set("ttl_s", ttl_s);
  int rc;
  auto r = Chat(g, "user.session", args, &rc);
  if (!r.ok()) return rc;
  if (g.json)
    PrintJson(*r);
  else
    std::printf("%s\n", Str(*r, "token").c_str());
  return 0;
}

int UserLdapSync(const GlobalOptions& g) {
  int rc;
  auto r = Chat(g, "ldap.sync", Json::MakeObject(), &rc, kLongCallTimeoutMs);
  if (!r.ok()) return rc;
  if (g.json) {
    PrintJson(*r);
    return 0;
  }
  if (r->is_object()) {
    for (const auto& [k, v] : r->as_object())
      std::printf("%-12s %s\n", k.c_str(), v.is_string() ? v.as_string().c_str() : v.Dump().c_str());
  } else {
    std::printf("%s\n", r->Dump().c_str());
  }
  return 0;
}

// ---- rooms ----

int RoomCreate(const GlobalOptions& g, const RoomCreateOptions& o) {
  if (o.kind != "public" && o.kind != "private" && o.kind != "announcement")
    return Fail(base::kExitUsage, "--kind must be public, private or announcement");
  Json args = Json::Obj({{"name", o.name}, {"kind", o.kind}});
  if (!o.owner.empty()) args.Set("owner", o.owner);
  if (!o.topic.empty()) args.Set("topic", o.topic);
  if (!o.members.empty()) {
    Json m = Json::MakeArray();
    for (const auto& id : o.members) m.Push(id);
    args.Set("members", m);
  }
  int rc;
  auto r = Chat(g, "room.create", args, &rc);
  if (!r.ok()) return rc;
  if (g.json)
    PrintJson(*r);
  else
    std::printf("created %s room %s (%s) with %lld members\n", Str(*r, "kind").c_str(), Str(*r, "id").c_str(),
                Str(*r, "name").c_str(), static_cast<long long>(r->GetInt("member_count")));
  return 0;
}

int RoomList(const GlobalOptions& g) {
  int rc;
  auto r = Chat(g, "room.list", Json::MakeObject(), &rc);
  if (!r.ok()) return rc;
  const Json* rooms = r->Find("rooms");
  if (g.json) {
    if (rooms)
      for (const Json& x : rooms->as_array()) PrintJson(x);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  if (rooms)
    for (const Json& x : rooms->as_array()) {
      int64_t days = x.GetInt("retention_message_days", -1);
      rows.push_back({Str(x, "id"), Str(x, "name"), Str(x, "kind"), std::to_string(x.GetInt("member_count")),
                      std::to_string(x.GetInt("last_seq")), x.GetBool("archived") ? "archived" : "active",
                      days < 0    ? "default"
                      : days == 0 ? "forever"
                                  : std::to_string(days) + "d"});
    }
  PrintTable(stdout, {"ID", "NAME", "KIND", "MEMBERS", "MESSAGES", "STATE", "RETENTION"}, rows);
  return 0;
}

int RoomShow(const GlobalOptions& g, const std::string& room) {
  int rc;
  auto id = ResolveRoom(g, room, &rc);
  if (!id.ok()) return rc;
  auto r = Chat(g, "room.get", Json::Obj({{"id", *id}}), &rc);
  if (!r.ok()) return rc;
  if (g.json) {
    PrintJson(*r);
    return 0;
  }
  for (const char* k : {"id", "name", "kind", "topic", "created_by"}) std::printf("%-18s %s\n", k, Str(*r, k).c_str());
  std::printf("%-18s %s\n", "created", LocalTime(r->GetInt("created_at")).c_str());
  std::printf("%-18s %s\n", "state", r->GetBool("archived") ? "archived" : "active");
  std::printf("%-18s %s\n", "read_only", r->GetBool("read_only") ? "true" : "false");
  std::printf("%-18s %s\n", "mass_mention_role", Str(*r, "mass_mention_role").c_str());
  int64_t days = r->GetInt("retention_message_days", -1);
  std::printf("%-18s %s\n", "retention_days",
              days < 0    ? "default"
              : days == 0 ? "forever"
                          : std::to_string(days).c_str());
  std::printf("%-18s %lld\n", "last_seq", static_cast<long long>(r->GetInt("last_seq")));
  std::printf("members (%lld):\n", static_cast<long long>(r->GetInt("member_count")));
  std::vector<std::vector<std::string>> rows;
  if (const Json* m = r->Find("members"))
    for (const Json& x : m->as_array())
      rows.push_back({Str(x, "user"), Str(x, "role"), std::to_string(x.GetInt("read_seq"))});
  PrintTable(stdout, {"USER", "ROLE", "READ"}, rows);
  return 0;
}

int RoomArchive(const GlobalOptions& g, const std::string& room, bool archived) {
  int rc;
  auto id = ResolveRoom(g, room, &rc);
  if (!id.ok()) return rc;
  auto r = Chat(g, "room.archive", Json::Obj({{"id", *id}, {"archived", archived}}), &rc);
  if (!r.ok()) return rc;
  if (g.json)
    PrintJson(*r);
  else
    std::printf("%s room %s (%s)\n", archived ? "archived" : "unarchived", Str(*r, "id").c_str(),
                Str(*r, "name").c_str());
  return 0;
}

int RoomMembers(const GlobalOptions& g, const std::string& room, const std::vector<std::string>& users, bool add) {
  if (users.empty()) return Fail(base::kExitUsage, "name at least one user");
  int rc;
  auto id = ResolveRoom(g, room, &rc);
  if (!id.ok()) return rc;
  Json list = Json::MakeArray();
  for (const auto& u : users) list.Push(u);
  auto r = Chat(g, add ? "room.members.add" : "room.members.remove", Json::Obj({{"id", *id}, {"users", list}}), &rc);
  if (!r.ok()) return rc;
  int64_t errors = 0;
  if (const Json* e = r->Find("errors")) {
    errors = static_cast<int64_t>(e->size());
    if (!g.json)
      for (const Json& x : e->as_array()) Fail(base::kExitDataErr, x.is_string() ? x.as_string() : x.Dump());
  }
  if (g.json)
    PrintJson(Json::Obj({{"room", *id},
                         {"changed", r->GetInt("changed")},
                         {"errors", r->Find("errors") ? *r->Find("errors") : Json::MakeArray()}}));
  else
    std::printf("%s %lld member(s) %s room %s\n", add ? "added" : "removed",
                static_cast<long long>(r->GetInt("changed")), add ? "to" : "from", id->c_str());
  return errors > 0 ? base::kExitDataErr : 0;
}

int RoomSet(const GlobalOptions& g, const RoomSetOptions& o) {
  Json args = Json::MakeObject();
  if (o.retention_days != -2) {
    if (o.retention_days < -1)
      return Fail(base::kExitUsage, "--retention-days must be -1 (global default), 0 (keep) or more");
    args.Set("retention_message_days", o.retention_days);
  }
  if (o.file_retention_days != -2) {
    if (o.file_retention_days < -1)
      return Fail(base::kExitUsage, "--file-retention-days must be -1 (global default), 0 (keep) or more");
    args.Set("retention_file_days", o.file_retention_days);
  }
  if (!o.read_only.empty()) {
    if (o.read_only != "true" && o.read_only != "false")
      return Fail(base::kExitUsage, "--read-only must be true or false");
    args.Set("read_only", o.read_only == "true");
  }
  if (!o.mass_mention_role.empty()) {
    if (o.mass_mention_role != "member" && o.mass_mention_role != "moderator" && o.mass_mention_role != "owner")
      return Fail(base::kExitUsage, "--mass-mention-role must be member, moderator or owner");
    args.Set("mass_mention_role", o.mass_mention_role);
  }
  if (args.size() == 0) return Fail(base::kExitUsage, "nothing to change: give at least one option");
  int rc;
  auto id = ResolveRoom(g, o.room, &rc);
  if (!id.ok()) return rc;
  args.Set("id", *id);
  auto r = Chat(g, "room.set", args, &rc);
  if (!r.ok()) return rc;
  if (g.json)
    PrintJson(*r);
  else
    std::printf("updated room %s (%s)\n", Str(*r, "id").c_str(), Str(*r, "name").c_str());
  return 0;
}

// ---- retention, audit ----

int RetentionApply(const GlobalOptions& g, bool dry_run, const std::string& as_of) {
  Json args = Json::Obj({{"dry_run", dry_run}});
  if (!as_of.empty()) {
    auto t = ParseDate(as_of);
    if (!t.ok()) return Fail(t.error());
    args.Set("as_of_ms", *t);
  }
  int rc;
  auto r = Chat(g, "retention.apply", args, &rc, kLongCallTimeoutMs, /*temp_fail=*/true);
  if (!r.ok()) return rc;
  if (g.json) {
    PrintJson(*r);
  } else {
    const char* verb = dry_run ? "would delete" : "deleted";
    if (const Json* rooms = r->Find("rooms"))
      for (const Json& x : rooms->as_array()) {
        std::printf("%s %s: %s %lld messages older than %lld days", Str(x, "room").c_str(), Str(x, "name").c_str(),
                    verb, static_cast<long long>(x.GetInt("messages")),
                    static_cast<long long>(x.GetInt("max_age_days")));
        if (x.GetInt("kept_pinned") > 0)
          std::printf(", kept %lld pinned", static_cast<long long>(x.GetInt("kept_pinned")));
        std::printf("\n");
      }
    std::printf("retention%s as of %s: %s %lld messages and %lld files in %zu rooms (%lld ms)\n",
                dry_run ? " dry run" : "", Str(*r, "as_of").c_str(), verb,
                static_cast<long long>(r->GetInt("messages")), static_cast<long long>(r->GetInt("files")),
                r->Find("rooms") ? r->Find("rooms")->size() : 0, static_cast<long long>(r->GetInt("elapsed_ms")));
  }
  if (r->GetInt("failed_rooms") > 0) {
    // Some rooms could not be written: a later run may succeed (cron retries on 75).
    return Fail(base::kExitTempFail, "retention failed for " + std::to_string(r->GetInt("failed_rooms")) +
                                         " room(s); see collab-chatd's log");
  }
  return 0;
}

int AuditList(const GlobalOptions& g, int64_t limit, const std::string& since) {
  Json args = Json::MakeObject();
  if (limit < 0) return Fail(base::kExitUsage, "--limit must be positive");
  if (limit > 0) args.Set("limit", limit);
  if (!since.empty()) {
    auto t = ParseSince(since, base::WallClockMs());
    if (!t.ok()) return Fail(t.error());
    args.Set("since_ms", *t);
  }
  int rc;
  auto r = Chat(g, "audit.list", args, &rc);
  if (!r.ok()) return rc;
  const Json* lines = r->Find("lines");
  if (g.json) {
    if (lines)
      for (const Json& l : lines->as_array()) PrintJson(l);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  if (lines)
    for (const Json& l : lines->as_array()) {
      Json details = Json::MakeObject();
      if (l.is_object())
        for (const auto& [k, v] : l.as_object())
          if (k != "ts" && k != "time" && k != "actor" && k != "action") details.Set(k, v);
      rows.push_back(
          {LocalTime(l.GetInt("ts"), true), Str(l, "actor"), Str(l, "action"), details.size() ? details.Dump() : ""});
    }
  PrintTable(stdout, {"TIME", "ACTOR", "ACTION", "DETAILS"}, rows);
  return 0;
}

}  // namespace collab::admin

namespace collab::admin {

// ---- webhooks, helpdesk ----

int WebhookAdd(const GlobalOptions& g, const std::string& room, const std::string& name, const std::string& user) {
  int rc;
  auto id = ResolveRoom(g, room, &rc);
  if (!id.ok()) return rc;
  Json args = Json::Obj({{"room", *id}, {"name", name}});
  if (!user.empty()) args.Set("user", user);
  auto r = Chat(g, "webhook.add", args, &rc);
  if (!r.ok()) return rc;
  // The URL scripts post to, on the address collab-chatd listens on (behind a proxy, use its name).
  auto cfg = LoadConfig(g);
  std::string url = Str(*r, "path");
  if (cfg.ok()) {
    std::string listen = cfg->GetString("chatd.listen");
    std::string scheme = cfg->GetPath("chatd.tls_cert").empty() ? "http://" : "https://";
    url = scheme + listen + url;
  }
  if (g.json) {
    Json out = *r;
    out.Set("url", url);
    PrintJson(out);
  } else {
    std::printf("webhook %s posts into %s as %s\nURL (keep it secret: it is the password): %s\n", Str(*r, "id").c_str(),
                id->c_str(), Str(*r, "user").c_str(), url.c_str());
  }
  return 0;
}

int WebhookList(const GlobalOptions& g) {
  int rc;
  auto r = Chat(g, "webhook.list", Json::MakeObject(), &rc);
  if (!r.ok()) return rc;
  const Json* hooks = r->Find("hooks");
  if (g.json) {
    if (hooks)
      for (const Json& h : hooks->as_array()) PrintJson(h);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  if (hooks)
    for (const Json& h : hooks->as_array())
      rows.push_back({Str(h, "id"), Str(h, "name"), Str(h, "room_name"), Str(h, "user"), LocalTime(h.GetInt("created_at"))});
  PrintTable(stdout, {"ID", "NAME", "ROOM", "POSTS AS", "CREATED"}, rows);
  return 0;
}

int WebhookRemove(const GlobalOptions& g, const std::string& id) {
  int rc;
  auto r = Chat(g, "webhook.remove", Json::Obj({{"id", id}}), &rc);
  if (!r.ok()) return rc;
  if (g.json) PrintJson(*r);
  else std::printf("webhook %s removed\n", id.c_str());
  return 0;
}

int HelpdeskAdd(const GlobalOptions& g, const std::string& id, const std::string& name,
                const std::vector<std::string>& agents) {
  Json a = Json::MakeArray();
  for (const auto& x : agents) a.Push(x);
  Json args = Json::Obj({{"id", id}, {"agents", std::move(a)}});
  if (!name.empty()) args.Set("name", name);
  int rc;
  auto r = Chat(g, "helpdesk.add", args, &rc);
  if (!r.ok()) return rc;
  if (g.json) PrintJson(*r);
  else std::printf("helpdesk %s (%s): %zu agents\n", Str(*r, "id").c_str(), Str(*r, "name").c_str(), agents.size());
  return 0;
}

int HelpdeskList(const GlobalOptions& g) {
  int rc;
  auto r = Chat(g, "helpdesk.list", Json::MakeObject(), &rc);
  if (!r.ok()) return rc;
  const Json* desks = r->Find("desks");
  if (g.json) {
    if (desks)
      for (const Json& d : desks->as_array()) PrintJson(d);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  if (desks)
    for (const Json& d : desks->as_array()) {
      std::string agents;
      if (const Json* a = d.Find("agents"))
        for (const Json& x : a->as_array()) agents += (agents.empty() ? "" : ",") + x.as_string();
      rows.push_back({Str(d, "id"), Str(d, "name"), agents});
    }
  PrintTable(stdout, {"ID", "NAME", "AGENTS"}, rows);
  return 0;
}

int HelpdeskStats(const GlobalOptions& g, const std::string& desk) {
  Json args = Json::MakeObject();
  if (!desk.empty()) args.Set("desk", desk);
  int rc;
  auto r = Chat(g, "helpdesk.stats", args, &rc);
  if (!r.ok()) return rc;
  if (g.json) {
    PrintJson(*r);
    return 0;
  }
  auto times = [&](const char* k) {
    const Json* t = r->Find(k);
    if (!t || t->GetInt("count") == 0) return std::string("-");
    char buf[96];
    std::snprintf(buf, sizeof buf, "median %llds, 90%% within %llds (%lld requests)",
                  static_cast<long long>(t->GetInt("median_s")), static_cast<long long>(t->GetInt("p90_s")),
                  static_cast<long long>(t->GetInt("count")));
    return std::string(buf);
  };
  std::printf("open %lld, claimed %lld, resolved %lld\nfirst response: %s\nresolution:     %s\n",
              static_cast<long long>(r->GetInt("open")), static_cast<long long>(r->GetInt("claimed")),
              static_cast<long long>(r->GetInt("resolved")), times("first_response").c_str(), times("resolution").c_str());
  return 0;
}

}  // namespace collab::admin
