// Directory logins and directory sync: LDAP calls run on the libuv thread pool (one
// LdapDirectory per job, so no connection is shared between threads), their results are
// applied on the loop. A rename in the directory shows everywhere at once because messages
// store only the author's id; a person disabled in or removed from the directory loses access,
// live sessions included.
#include <map>

#include "lib/base/log.hpp"
#include "lib/base/time.hpp"
#include "lib/chat/chat.hpp"

namespace collab::chat {

using base::Json;
using base::Result;

void Chat::LdapLogin(std::string id, std::string password, std::function<void(Result<DirectoryEntry>)> done) {
  auto out = std::make_shared<Result<DirectoryEntry>>(DirectoryEntry{});
  LdapConfig cfg = opts_.ldap;
  RunBlocking(
      [out, cfg, id, password] {
        LdapDirectory dir(cfg);
        *out = dir.Authenticate(id, password);
      },
      [this, out, id, done = std::move(done)] {
        if (!out->ok() && out->error().message.find("disabled") != std::string::npos) {
          if (User* u = FindUserMut(id); u && u->source == "ldap" && !u->disabled) {
            User next = *u;
            next.disabled = true;
            next.disabled_by = "directory";
            (void)PutUser(next);
            DeleteUserSessions(id, 4003, "account disabled");
            Audit("ldap", "user.disable", Json::Obj({{"user", id}, {"reason", "disabled in the directory"}}));
          }
        }
        done(*out);
      });
}

void Chat::LdapSync(const std::string& actor, std::function<void(Result<Json>)> done) {
  if (!opts_.ldap_enabled) return done(base::MakeError(base::kExitConfig, "LDAP is not configured (chatd.ldap_uri)"));
  if (ldap_sync_running_) return done(base::MakeError(base::kExitTempFail, "a directory sync is already running"));
  ldap_sync_running_ = true;
  last_ldap_sync_ms_ = base::WallClockMs();
  auto out = std::make_shared<Result<std::vector<DirectoryEntry>>>(std::vector<DirectoryEntry>{});
  LdapConfig cfg = opts_.ldap;
  RunBlocking([out, cfg] { *out = LdapDirectory(cfg).ListAll(); },
              [this, out, actor, done = std::move(done)] {
                ldap_sync_running_ = false;
                if (!out->ok()) {
                  ++counters_.ldap_sync_failures;
                  LOG_WARN("directory sync failed: %s", out->error().message.c_str());
                  return done(out->error());
                }
                ++counters_.ldap_syncs;
                std::map<std::string, const DirectoryEntry*> by_id;
                for (const auto& e : out->value()) by_id[NormalizeUserId(e.id)] = &e;
                int64_t updated = 0, disabled = 0, enabled = 0;
                std::vector<std::string> cut_off;
                for (auto& [id, u] : users_) {
                  if (u.source != "ldap") continue;
                  auto it = by_id.find(id);
                  User next = u;
                  if (it == by_id.end() || it->second->disabled) {
                    if (!next.disabled) {
                      next.disabled = true;
                      next.disabled_by = "directory";
                    }
                  } else {
                    const DirectoryEntry& e = *it->second;
                    next.name = e.name;
                    next.department = e.department;
                    next.email = e.email;
                    // Back in the directory: re-enabled, unless an administrator disabled the account.
                    if (next.disabled && next.disabled_by != "admin") {
                      next.disabled = false;
                      next.disabled_by.clear();
                    }
                  }
                  bool changed = next.name != u.name || next.department != u.department || next.email != u.email ||
                                 next.disabled != u.disabled;
                  if (!changed) continue;
                  if (next.disabled && !u.disabled) {
                    ++disabled;
                    cut_off.push_back(id);
                  } else if (!next.disabled && u.disabled) {
                    ++enabled;
                  } else {
                    ++updated;
                  }
                  bool renamed = next.name != u.name;
                  if (!PutUser(next).ok()) continue;
                  if (renamed) {
                    // Everyone who shows this person's name learns the new one.
                    std::string frame =
                        Json::Obj({{"type", "user"}, {"user", FindUser(id)->ToPublic()}}).Dump();
                    std::set<std::string> told;
                    if (auto ur = user_rooms_.find(id); ur != user_rooms_.end())
                      for (const auto& rid : ur->second)
                        if (const Room* r = FindRoom(rid))
                          for (const auto& [mid, m] : r->members)
                            if (told.insert(mid).second) SendToUser(mid, frame);
                  }
                }
                for (const auto& id : cut_off) {
                  DeleteUserSessions(id, 4003, "account disabled");
                  Audit(actor, "user.disable", Json::Obj({{"user", id}, {"reason", "directory sync"}}));
                }
                // Staff the directory knows but who never logged in get accounts too, so they can be
                // found, mentioned and added to rooms before their first login.
                int64_t added = 0;
                for (const auto& [id, e] : by_id) {
                  if (FindUser(id) || e->disabled || !ValidUserId(id)) continue;
                  User u;
                  u.id = id;
                  u.name = e->name;
                  u.department = e->department;
                  u.email = e->email;
                  u.source = "ldap";
                  u.created_ms = base::WallClockMs();
                  if (PutUser(u).ok()) ++added;
                }
                int64_t dept_changes = 0;
                if (opts_.ldap_department_rooms) {
                  std::map<std::string, std::set<std::string>> depts;
                  for (const auto& [id, u] : users_)
                    if (u.source == "ldap" && !u.disabled && !u.department.empty()) depts[u.department].insert(id);
                  User system;
                  system.id = "system";
                  system.source = "system";
                  system.role = "admin";
                  for (const auto& [dept, staff] : depts) {
                    Room* room = nullptr;
                    for (auto& [rid, r] : rooms_)
                      if (r.department == dept) room = &r;
                    if (!room) {
                      std::string name = dept.size() > 80 ? dept.substr(0, 80) : dept;
                      auto cr = CreateRoom(system, ValidRoomName(name) ? name : "department", RoomKind::kPrivate,
                                           "", {});
                      if (!std::holds_alternative<Room*>(cr)) continue;
                      room = std::get<Room*>(cr);
                      room->department = dept;
                      (void)SaveRoom(*room);
                    }
                    for (const auto& id : staff)
                      if (!room->members.count(id)) {
                        (void)SetMember(*room, id, Role::kMember, "ldap");
                        ++dept_changes;
                      }
                    std::vector<std::string> gone;
                    for (const auto& [mid, m] : room->members)
                      if (!staff.count(mid) && m.role == Role::kMember) gone.push_back(mid);
                    for (const auto& mid : gone) {
                      (void)RemoveMember(*room, mid, "ldap");
                      ++dept_changes;
                    }
                  }
                }
                Json summary = Json::Obj({{"entries", static_cast<int64_t>(out->value().size())},
                                          {"added", added},
                                          {"updated", updated},
                                          {"disabled", disabled},
                                          {"enabled", enabled},
                                          {"department_changes", dept_changes}});
                Audit(actor, "ldap.sync", summary);
                done(summary);
              });
}

}  // namespace collab::chat
