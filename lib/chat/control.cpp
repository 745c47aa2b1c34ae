// Control-socket verbs of collab-chatd (collab-ipc(7)); collab-admin's user, room, retention,
// backup, audit and ldap commands are thin clients of these. Peers are already vetted by the
// socket's credentials check, so verbs act as the administrator "admin" in the audit trail.
#include <sys/stat.h>

#include "lib/auth/password.hpp"
#include "lib/base/log.hpp"
#include "lib/base/time.hpp"
#include "lib/chat/chat.hpp"
#include "lib/ipc/server.hpp"
#include "lib/store/db.hpp"

namespace collab::chat {

using base::Json;
using base::MakeError;
using base::Result;

namespace {

base::Error FromApi(const Chat::ApiError& e) {
  int code = base::kExitSoftware;
  switch (e.status) {
    case 400: case 413: code = base::kExitDataErr; break;
    case 403: code = base::kExitNoPerm; break;
    case 404: code = base::kExitNoUser; break;
    case 409: code = base::kExitCantCreat; break;
    case 429: case 503: code = base::kExitTempFail; break;
  }
  return MakeError(code, e.message);
}

Result<User> UserFromArgs(const Json& a) {
  User u;
  const Json* id = a.Find("id");
  if (!id || !id->is_string()) return MakeError(base::kExitUsage, "id (a string) is required");
  u.id = id->as_string();
  u.name = a.GetString("name");
  u.department = a.GetString("department");
  u.email = a.GetString("email");
  u.role = a.GetString("role", "user");
  u.source = a.GetString("source", "local");
  if (u.source != "local" && u.source != "ldap") return MakeError(base::kExitDataErr, "source must be local or ldap");
  if (!ValidText(u.department) || !ValidText(u.email) || u.department.size() > 200 || u.email.size() > 200)
    return MakeError(base::kExitDataErr, "department and email must be short UTF-8 text");
  return u;
}

}  // namespace

void Chat::RegisterControl(ipc::Server& control) {
  const std::string kActor = "admin";
  control.Register("user.add", "add a user: {id, name, department, email, password?, role?}",
                   [this](const ipc::Request& req, ipc::Reply reply) {
                     auto u = UserFromArgs(req.args);
                     if (!u) return reply(u.error());
                     AddUserAsync(*u, req.args.GetString("password"), [reply](Result<User> r) {
                       if (!r) return reply(r.error());
                       reply(r->ToPublic());
                     });
                   });
  control.Register("user.add_many", "add many users without passwords: {users: [{id, name, ...}]}",
                   [this](const ipc::Request& req, ipc::Reply reply) {
                     const Json* list = req.args.Find("users");
                     if (!list || !list->is_array()) return reply(MakeError(base::kExitUsage, "users (a list) is required"));
                     int64_t added = 0, skipped = 0;
                     Json errors = Json::MakeArray();
                     // One synced write for the whole list (an import of 10,000 staff is one fsync).
                     store::WriteBatch batch;
                     std::vector<User> fresh;
                     std::set<std::string> seen;
                     for (const Json& a : list->as_array()) {
                       auto u = UserFromArgs(a);
                       if (!u) {
                         errors.Push(u.error().message);
                         continue;
                       }
                       u->id = NormalizeUserId(u->id);
                       if (!ValidUserId(u->id)) {
                         errors.Push("invalid user id '" + u->id + "'");
                         continue;
                       }
                       if (!u->name.empty() && !ValidRoomName(u->name)) {
                         errors.Push("invalid display name for '" + u->id + "'");
                         continue;
                       }
                       if (FindUser(u->id) || !seen.insert(u->id).second) {
                         ++skipped;
                         continue;
                       }
                       u->created_ms = base::WallClockMs();
                       batch.Put(kCfUsers, u->id, u->ToStored().Dump());
                       fresh.push_back(std::move(*u));
                     }
                     if (!fresh.empty()) {
                       if (!db_->Write(std::move(batch), true).ok())
                         return reply(MakeError(base::kExitIoErr, "could not store the users"));
                       for (auto& u : fresh) users_[u.id] = std::move(u);
                       added = static_cast<int64_t>(fresh.size());
                     }
                     Audit("admin", "user.add_many", Json::Obj({{"added", added}}));
                     reply(Json::Obj({{"added", added}, {"skipped", skipped}, {"errors", errors}}));
                   });
  control.Register("user.list", "list users", [this](const ipc::Request&, ipc::Reply reply) {
    Json list = Json::MakeArray();
    for (const auto& [id, u] : users_) {
      Json j = u.ToPublic();
      j.Set("presence", PresenceOf(id));
      list.Push(std::move(j));
    }
    reply(Json::Obj({{"users", std::move(list)}}));
  });
  control.Register("user.get", "show one user: {id}", [this](const ipc::Request& req, ipc::Reply reply) {
    const User* u = FindUser(NormalizeUserId(req.args.GetString("id")));
    if (!u) return reply(MakeError(base::kExitNoUser, "no such user: " + req.args.GetString("id")));
    Json j = u->ToPublic();
    j.Set("presence", PresenceOf(u->id));
    Json rooms = Json::MakeArray();
    if (auto ur = user_rooms_.find(u->id); ur != user_rooms_.end())
      for (const auto& r : ur->second) rooms.Push(r);
    j.Set("rooms", std::move(rooms));
    reply(j);
  });
  control.Register("user.set", "change a user: {id, disabled?, role?, name?, department?, email?, password?}",
                   [this, kActor](const ipc::Request& req, ipc::Reply reply) {
                     std::string id = NormalizeUserId(req.args.GetString("id"));
                     const User* cur = FindUser(id);
                     if (!cur) return reply(MakeError(base::kExitNoUser, "no such user: " + id));
                     User u = *cur;
                     const Json& a = req.args;
                     if (const Json* d = a.Find("disabled")) {
                       if (!d->is_bool()) return reply(MakeError(base::kExitUsage, "disabled must be true or false"));
                       u.disabled = d->as_bool();
                       u.disabled_by = u.disabled ? "admin" : "";
                     }
                     if (const Json* r = a.Find("role")) {
                       if (!r->is_string() || (r->as_string() != "user" && r->as_string() != "admin"))
                         return reply(MakeError(base::kExitDataErr, "role must be user or admin"));
                       u.role = r->as_string();
                     }
                     for (auto [key, field] : {std::pair{"name", &u.name}, std::pair{"department", &u.department},
                                               std::pair{"email", &u.email}}) {
                       if (const Json* v = a.Find(key)) {
                         if (!v->is_string() || v->as_string().size() > 200 || !ValidText(v->as_string()))
                           return reply(MakeError(base::kExitDataErr, std::string(key) + " must be short UTF-8 text"));
                         *field = v->as_string();
                       }
                     }
                     auto apply = [this, reply, kActor, was_disabled = cur->disabled](User u) {
                       if (!PutUser(u).ok()) return reply(MakeError(base::kExitIoErr, "could not store the user"));
                       if (u.disabled && !was_disabled) DeleteUserSessions(u.id, 4003, "account disabled");
                       Audit(kActor, "user.set", Json::Obj({{"user", u.id}, {"disabled", u.disabled}, {"role", u.role}}));
                       reply(u.ToPublic());
                     };
                     std::string pw = a.GetString("password");
                     if (pw.empty()) return apply(u);
                     auto hash = std::make_shared<Result<std::string>>(std::string());
                     RunBlocking([hash, pw] { *hash = auth::HashPassword(pw); },
                                 [hash, u, apply, reply]() mutable {
                                   if (!hash->ok()) return reply(hash->error());
                                   u.password_hash = hash->value();
                                   apply(u);
                                 });
                   });
  control.Register("user.session", "open a session for a user (bots, scripts): {id, ttl_s?}",
                   [this, kActor](const ipc::Request& req, ipc::Reply reply) {
                     std::string id = NormalizeUserId(req.args.GetString("id"));
                     const User* u = FindUser(id);
                     if (!u) return reply(MakeError(base::kExitNoUser, "no such user: " + id));
                     if (u->disabled) return reply(MakeError(base::kExitNoPerm, "user is disabled: " + id));
                     int64_t ttl = req.args.GetInt("ttl_s", opts_.session_max_age_ms / 1000);
                     if (ttl < 1 || ttl > 366LL * 86400) return reply(MakeError(base::kExitUsage, "ttl_s out of range"));
                     auto tok = CreateSession(id, "control", ttl * 1000);
                     if (!tok) return reply(tok.error());
                     Audit(kActor, "user.session", Json::Obj({{"user", id}, {"ttl_s", ttl}}));
                     reply(Json::Obj({{"token", *tok}, {"user", id}, {"expires_in_s", ttl}}));
                   });
  control.Register("room.create", "create a room: {name, kind?, owner?, members?, topic?}",
                   [this](const ipc::Request& req, ipc::Reply reply) {
                     auto kind = ParseRoomKind(req.args.GetString("kind", "public"));
                     if (!kind || *kind == RoomKind::kDm)
                       return reply(MakeError(base::kExitUsage, "kind must be public, private or announcement"));
                     User creator;
                     creator.id = NormalizeUserId(req.args.GetString("owner"));
                     creator.role = "admin";
                     creator.source = "system";
                     if (!creator.id.empty() && !FindUser(creator.id))
                       return reply(MakeError(base::kExitNoUser, "no such user: " + creator.id));
                     if (creator.id.empty()) creator.id = "admin";
                     std::vector<std::string> members;
                     if (const Json* m = req.args.Find("members"); m && m->is_array())
                       for (const Json& x : m->as_array())
                         if (x.is_string()) members.push_back(NormalizeUserId(x.as_string()));
                     auto r = CreateRoom(creator, req.args.GetString("name"), *kind, req.args.GetString("topic"), members);
                     if (std::holds_alternative<ApiError>(r)) return reply(FromApi(std::get<ApiError>(r)));
                     reply(RoomJson(*std::get<Room*>(r), nullptr));
                   });
  control.Register("room.list", "list rooms", [this](const ipc::Request&, ipc::Reply reply) {
    Json list = Json::MakeArray();
    for (const auto& [id, r] : rooms_) list.Push(RoomJson(r, nullptr));
    reply(Json::Obj({{"rooms", std::move(list)}}));
  });
  control.Register("room.get", "show a room with its members: {id}", [this](const ipc::Request& req, ipc::Reply reply) {
    const Room* r = FindRoom(req.args.GetString("id"));
    if (!r) return reply(MakeError(base::kExitNoUser, "no such room: " + req.args.GetString("id")));
    Json j = RoomJson(*r, nullptr);
    Json members = Json::MakeArray();
    for (const auto& [id, m] : r->members)
      members.Push(Json::Obj({{"user", id}, {"role", RoleName(m.role)}, {"read_seq", m.read_seq}}));
    j.Set("members", std::move(members));
    reply(j);
  });
  control.Register("room.archive", "archive (or with archived=false, unarchive) a room: {id, archived?}",
                   [this, kActor](const ipc::Request& req, ipc::Reply reply) {
                     Room* r = FindRoom(req.args.GetString("id"));
                     if (!r) return reply(MakeError(base::kExitNoUser, "no such room: " + req.args.GetString("id")));
                     Room next = *r;
                     next.archived = req.args.GetBool("archived", true);
                     if (!SaveRoom(next).ok()) return reply(MakeError(base::kExitIoErr, "could not store the room"));
                     r->archived = next.archived;
                     Audit(kActor, next.archived ? "room.archive" : "room.unarchive", Json::Obj({{"room", r->id}}));
                     FanOut(*r, Json::Obj({{"type", "room"}, {"room", RoomJson(*r, nullptr)}}).Dump());
                     reply(RoomJson(*r, nullptr));
                   });
  control.Register("room.set", "change room settings: {id, retention_message_days?, retention_file_days?, read_only?, mass_mention_role?}",
                   [this, kActor](const ipc::Request& req, ipc::Reply reply) {
                     Room* r = FindRoom(req.args.GetString("id"));
                     if (!r) return reply(MakeError(base::kExitNoUser, "no such room: " + req.args.GetString("id")));
                     Room next = *r;
                     const Json& a = req.args;
                     if (const Json* v = a.Find("retention_message_days")) {
                       if (!v->is_int() || v->as_int() < -1) return reply(MakeError(base::kExitUsage, "retention_message_days must be >= -1"));
                       next.retention_message_days = v->as_int();
                     }
                     if (const Json* v = a.Find("retention_file_days")) {
                       if (!v->is_int() || v->as_int() < -1) return reply(MakeError(base::kExitUsage, "retention_file_days must be >= -1"));
                       next.retention_file_days = v->as_int();
                     }
                     if (const Json* v = a.Find("read_only")) {
                       if (!v->is_bool()) return reply(MakeError(base::kExitUsage, "read_only must be true or false"));
                       next.read_only = v->as_bool();
                     }
                     if (const Json* v = a.Find("mass_mention_role")) {
                       auto role = v->is_string() ? ParseRole(v->as_string()) : std::nullopt;
                       if (!role) return reply(MakeError(base::kExitUsage, "mass_mention_role must be member, moderator or owner"));
                       next.mass_mention_role = *role;
                     }
                     if (!SaveRoom(next).ok()) return reply(MakeError(base::kExitIoErr, "could not store the room"));
                     r->retention_message_days = next.retention_message_days;
                     r->retention_file_days = next.retention_file_days;
                     r->read_only = next.read_only;
                     r->mass_mention_role = next.mass_mention_role;
                     Audit(kActor, "room.set", Json::Obj({{"room", r->id}, {"changes", a}}));
                     reply(RoomJson(*r, nullptr));
                   });
  for (bool add : {true, false}) {
    control.Register(add ? "room.members.add" : "room.members.remove",
                     add ? "add members: {id, users: [...], role?}" : "remove members: {id, users: [...]}",
                     [this, add, kActor](const ipc::Request& req, ipc::Reply reply) {
                       Room* r = FindRoom(req.args.GetString("id"));
                       if (!r) return reply(MakeError(base::kExitNoUser, "no such room: " + req.args.GetString("id")));
                       const Json* users = req.args.Find("users");
                       if (!users || !users->is_array()) return reply(MakeError(base::kExitUsage, "users (a list) is required"));
                       auto role = ParseRole(req.args.GetString("role", "member"));
                       if (!role) return reply(MakeError(base::kExitUsage, "role must be member, moderator or owner"));
                       int64_t changed = 0;
                       Json errors = Json::MakeArray();
                       for (const Json& x : users->as_array()) {
                         std::string id = NormalizeUserId(x.is_string() ? x.as_string() : "");
                         auto res = add ? SetMember(*r, id, *role, kActor) : RemoveMember(*r, id, kActor);
                         if (std::holds_alternative<ApiError>(res)) errors.Push(std::get<ApiError>(res).message);
                         else ++changed;
                       }
                       if (changed == 0 && errors.size() > 0) return reply(MakeError(base::kExitDataErr, errors.as_array()[0].as_string()));
                       reply(Json::Obj({{"changed", changed}, {"errors", errors}}));
                     });
  }
  control.Register("retention.apply", "delete what is older than the retention settings: {dry_run?, as_of_ms?}",
                   [this](const ipc::Request& req, ipc::Reply reply) {
                     int64_t as_of = req.args.GetInt("as_of_ms", 0);
                     if (as_of < 0) return reply(MakeError(base::kExitUsage, "as_of_ms must be a time in ms"));
                     reply(ApplyRetention(req.args.GetBool("dry_run"), req.args.GetString("actor", "admin"), as_of));
                   });
  control.Register("backup.checkpoint", "write an online checkpoint of the database into {dir} (must not exist)",
                   [this, kActor](const ipc::Request& req, ipc::Reply reply) {
                     std::string dir = req.args.GetString("dir");
                     if (dir.empty() || dir[0] != '/') return reply(MakeError(base::kExitUsage, "dir must be an absolute path"));
                     struct stat sb;
                     if (::stat(dir.c_str(), &sb) == 0) return reply(MakeError(base::kExitCantCreat, dir + " already exists"));
                     int64_t t0 = base::MonotonicMs();
                     auto st = db_->Checkpoint(dir);
                     if (!st.ok()) return reply(st.error());
                     Audit(kActor, "backup.checkpoint", Json::Obj({{"dir", dir}}));
                     reply(Json::Obj({{"dir", dir}, {"elapsed_ms", base::MonotonicMs() - t0}}));
                   });
  control.Register("audit.list", "newest audit lines: {limit?, since_ms?}", [this](const ipc::Request& req, ipc::Reply reply) {
    int64_t limit = req.args.GetInt("limit", 100);
    if (limit < 1 || limit > 100000) return reply(MakeError(base::kExitUsage, "limit must be 1..100000"));
    reply(Json::Obj({{"lines", AuditList(static_cast<size_t>(limit), req.args.GetInt("since_ms", 0))}}));
  });
  control.Register("ldap.sync", "sync accounts with the directory now", [this](const ipc::Request&, ipc::Reply reply) {
    LdapSync("admin", [reply](Result<Json> r) { reply(std::move(r)); });
  });
  control.Register("chat.stats", "database and traffic figures", [this](const ipc::Request&, ipc::Reply reply) {
    Json j = Json::MakeObject();
    AddStatus(j);
    Json out = *j.Find("chat");
    out.Set("db", db_->Stats());
    reply(out);
  });
}

}  // namespace collab::chat
