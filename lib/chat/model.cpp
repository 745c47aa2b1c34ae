#include "lib/chat/model.hpp"

#include <sys/random.h>

#include <algorithm>

#include "lib/base/ascii.hpp"
#include "lib/base/utf8.hpp"
#include "lib/store/keys.hpp"

namespace collab::chat {

using base::MakeError;
using base::Result;
using store::KeyBuilder;

std::vector<std::string> ColumnFamilies() {
  return {kCfUsers, kCfSessions, kCfRooms,     kCfMembers, kCfMessages, kCfEvents,
          kCfThreads, kCfMentions, kCfClientIds, kCfPins, kCfSearch, kCfFiles, kCfFileRooms, kCfHooks, kCfDesk, kCfAudit, kCfMeta};
}

const char* RoomKindName(RoomKind k) {
  switch (k) {
    case RoomKind::kPublic: return "public";
    case RoomKind::kPrivate: return "private";
    case RoomKind::kAnnouncement: return "announcement";
    case RoomKind::kDm: return "dm";
  }
  return "public";
}

std::optional<RoomKind> ParseRoomKind(std::string_view s) {
  if (s == "public") return RoomKind::kPublic;
  if (s == "private") return RoomKind::kPrivate;
  if (s == "announcement") return RoomKind::kAnnouncement;
  if (s == "dm") return RoomKind::kDm;
  return std::nullopt;
}

const char* RoleName(Role r) {
  switch (r) {
    case Role::kMember: return "member";
    case Role::kModerator: return "moderator";
    case Role::kOwner: return "owner";
  }
  return "member";
}

std::optional<Role> ParseRole(std::string_view s) {
  if (s == "member") return Role::kMember;
  if (s == "moderator") return Role::kModerator;
  if (s == "owner") return Role::kOwner;
  return std::nullopt;
}

namespace {

Result<Json> ParseStored(std::string_view value, const char* what) {
  auto j = Json::Parse(value);
  if (!j) return MakeError(base::kExitDataErr, std::string("corrupt stored ") + what + ": " + j.error().message);
  if (!j->is_object()) return MakeError(base::kExitDataErr, std::string("corrupt stored ") + what + ": not an object");
  return j;
}

}  // namespace

namespace {
Json FilesJson(const std::vector<FileRef>& files) {
  Json a = Json::MakeArray();
  for (const auto& f : files)
    a.Push(Json::Obj({{"id", f.id}, {"name", f.name}, {"size", f.size}, {"type", f.type}, {"image", f.image},
                      {"thumb", f.thumb}}));
  return a;
}
}  // namespace

Json User::ToStored() const {
  Json j = ToPublic();
  j.Set("password_hash", password_hash);
  j.Set("away", away);
  j.Set("disabled_by", disabled_by);
  return j;
}

Json User::ToPublic() const {
  return Json::Obj({{"id", id},
                    {"name", name.empty() ? id : name},
                    {"department", department},
                    {"email", email},
                    {"source", source},
                    {"role", role},
                    {"disabled", disabled},
                    {"status_text", status_text},
                    {"created_at", created_ms}});
}

Result<User> User::FromStored(std::string_view value) {
  COLLAB_ASSIGN_OR_RETURN(Json j, ParseStored(value, "user"));
  User u;
  u.id = j.GetString("id");
  u.name = j.GetString("name");
  u.department = j.GetString("department");
  u.email = j.GetString("email");
  u.source = j.GetString("source", "local");
  u.role = j.GetString("role", "user");
  u.password_hash = j.GetString("password_hash");
  u.status_text = j.GetString("status_text");
  u.disabled = j.GetBool("disabled");
  u.away = j.GetBool("away");
  u.disabled_by = j.GetString("disabled_by");
  u.created_ms = j.GetInt("created_at");
  if (u.id.empty()) return MakeError(base::kExitDataErr, "corrupt stored user: no id");
  return u;
}

Json Member::ToStored() const {
  return Json::Obj({{"role", RoleName(role)}, {"muted", muted}, {"read_seq", read_seq}, {"joined_at", joined_ms}});
}

Result<Member> Member::FromStored(std::string_view value) {
  COLLAB_ASSIGN_OR_RETURN(Json j, ParseStored(value, "member"));
  Member m;
  m.role = ParseRole(j.GetString("role")).value_or(Role::kMember);
  m.muted = j.GetBool("muted");
  m.read_seq = static_cast<uint64_t>(j.GetInt("read_seq"));
  m.joined_ms = j.GetInt("joined_at");
  return m;
}

Json Room::ToStored() const {
  return Json::Obj({{"id", id},
                    {"name", name},
                    {"kind", RoomKindName(kind)},
                    {"topic", topic},
                    {"created_by", created_by},
                    {"created_at", created_ms},
                    {"archived", archived},
                    {"read_only", read_only},
                    {"mass_mention_role", RoleName(mass_mention_role)},
                    {"retention_message_days", retention_message_days},
                    {"retention_file_days", retention_file_days},
                    {"dm_key", dm_key},
                    {"department", department}});
}

Result<Room> Room::FromStored(std::string_view value) {
  COLLAB_ASSIGN_OR_RETURN(Json j, ParseStored(value, "room"));
  Room r;
  r.id = j.GetString("id");
  r.name = j.GetString("name");
  r.kind = ParseRoomKind(j.GetString("kind")).value_or(RoomKind::kPrivate);
  r.topic = j.GetString("topic");
  r.created_by = j.GetString("created_by");
  r.created_ms = j.GetInt("created_at");
  r.archived = j.GetBool("archived");
  r.read_only = j.GetBool("read_only");
  r.mass_mention_role = ParseRole(j.GetString("mass_mention_role")).value_or(Role::kModerator);
  r.retention_message_days = j.GetInt("retention_message_days", -1);
  r.retention_file_days = j.GetInt("retention_file_days", -1);
  r.dm_key = j.GetString("dm_key");
  r.department = j.GetString("department");
  if (!ValidRoomId(r.id)) return MakeError(base::kExitDataErr, "corrupt stored room: bad id");
  return r;
}

Json Session::ToStored() const {
  return Json::Obj({{"user", user}, {"created_at", created_ms}, {"expires_at", expires_ms}, {"peer", peer}});
}

Result<Session> Session::FromStored(std::string_view value) {
  COLLAB_ASSIGN_OR_RETURN(Json j, ParseStored(value, "session"));
  Session s;
  s.user = j.GetString("user");
  s.created_ms = j.GetInt("created_at");
  s.expires_ms = j.GetInt("expires_at");
  s.peer = j.GetString("peer");
  return s;
}

Json Message::ToStored() const {
  Json j = Json::Obj({{"room", room},
                      {"seq", seq},
                      {"user", user},
                      {"text", text},
                      {"client_id", client_id},
                      {"ts", ts},
                      {"edited_ts", edited_ts},
                      {"thread", thread},
                      {"mention_all", mention_all},
                      {"mention_here", mention_here},
                      {"deleted", deleted},
                      {"pinned", pinned},
                      {"update_seq", update_seq}});
  Json m = Json::MakeArray();
  for (const auto& u : mentions) m.Push(u);
  j.Set("mentions", std::move(m));
  Json r = Json::MakeObject();
  for (const auto& [emoji, users] : reactions) {
    Json a = Json::MakeArray();
    for (const auto& u : users) a.Push(u);
    r.Set(emoji, std::move(a));
  }
  j.Set("reactions", std::move(r));
  Json h = Json::MakeArray();
  for (const auto& e : history) h.Push(Json::Obj({{"ts", e.ts}, {"text", e.text}}));
  j.Set("history", std::move(h));
  if (!files.empty()) j.Set("files", FilesJson(files));
  if (!alias.empty()) j.Set("alias", alias);
  if (!emoji.empty()) j.Set("emoji", emoji);
  if (!attachments.is_null()) j.Set("attachments", attachments);
  return j;
}

Result<Message> Message::FromStored(std::string_view value) {
  COLLAB_ASSIGN_OR_RETURN(Json j, ParseStored(value, "message"));
  Message m;
  m.room = j.GetString("room");
  m.seq = static_cast<uint64_t>(j.GetInt("seq"));
  m.user = j.GetString("user");
  m.text = j.GetString("text");
  m.client_id = j.GetString("client_id");
  m.ts = j.GetInt("ts");
  m.edited_ts = j.GetInt("edited_ts");
  m.thread = static_cast<uint64_t>(j.GetInt("thread"));
  m.mention_all = j.GetBool("mention_all");
  m.mention_here = j.GetBool("mention_here");
  m.deleted = j.GetBool("deleted");
  m.pinned = j.GetBool("pinned");
  m.update_seq = static_cast<uint64_t>(j.GetInt("update_seq"));
  if (const Json* a = j.Find("mentions"); a && a->is_array())
    for (const Json& u : a->as_array())
      if (u.is_string()) m.mentions.push_back(u.as_string());
  if (const Json* r = j.Find("reactions"); r && r->is_object())
    for (const auto& [emoji, users] : r->as_object()) {
      auto& list = m.reactions[emoji];
      if (users.is_array())
        for (const Json& u : users.as_array())
          if (u.is_string()) list.push_back(u.as_string());
    }
  if (const Json* h = j.Find("history"); h && h->is_array())
    for (const Json& e : h->as_array()) m.history.push_back(Edit{e.GetInt("ts"), e.GetString("text")});
  if (const Json* f = j.Find("files"); f && f->is_array())
    for (const Json& e : f->as_array())
      m.files.push_back(FileRef{e.GetString("id"), e.GetString("name"), e.GetInt("size"), e.GetString("type"),
                                e.GetBool("image"), e.GetBool("thumb")});
  m.alias = j.GetString("alias");
  m.emoji = j.GetString("emoji");
  if (const Json* a = j.Find("attachments"); a && a->is_array()) m.attachments = *a;
  return m;
}

Json Message::ToClient(uint32_t reply_count, bool with_history) const {
  Json j = Json::Obj({{"room", room},
                      {"seq", seq},
                      {"user", user},
                      {"text", deleted ? std::string() : text},
                      {"client_id", client_id},
                      {"ts", ts},
                      {"thread", thread},
                      {"reply_count", reply_count},
                      {"mention_all", mention_all},
                      {"mention_here", mention_here},
                      {"edited", edited_ts != 0},
                      {"edited_ts", edited_ts},
                      {"deleted", deleted},
                      {"pinned", pinned},
                      {"update_seq", update_seq}});
  Json m = Json::MakeArray();
  for (const auto& u : mentions) m.Push(u);
  j.Set("mentions", std::move(m));
  Json r = Json::MakeObject();
  for (const auto& [emoji, users] : reactions) {
    if (users.empty()) continue;
    Json a = Json::MakeArray();
    for (const auto& u : users) a.Push(u);
    r.Set(emoji, std::move(a));
  }
  j.Set("reactions", std::move(r));
  if (!files.empty()) j.Set("files", FilesJson(files));
  if (!alias.empty()) j.Set("alias", alias);
  if (!emoji.empty()) j.Set("emoji", emoji);
  if (!attachments.is_null()) j.Set("attachments", attachments);
  if (with_history) {
    Json h = Json::MakeArray();
    for (const auto& e : history) h.Push(Json::Obj({{"ts", e.ts}, {"text", e.text}}));
    j.Set("history", std::move(h));
  }
  return j;
}

std::string MemberKey(std::string_view room, std::string_view user) {
  return KeyBuilder().Str(room).Raw(user).Take();
}
std::string MemberPrefix(std::string_view room) { return KeyBuilder().Str(room).Take(); }
std::string MessageKey(std::string_view room, uint64_t seq) { return KeyBuilder().Str(room).U64(seq).Take(); }
std::string MessagePrefix(std::string_view room) { return KeyBuilder().Str(room).Take(); }
std::string EventKey(std::string_view room, uint64_t seq) { return KeyBuilder().Str(room).U64(seq).Take(); }
std::string ThreadKey(std::string_view room, uint64_t root, uint64_t reply) {
  return KeyBuilder().Str(room).U64(root).U64(reply).Take();
}
std::string ThreadPrefix(std::string_view room, uint64_t root) { return KeyBuilder().Str(room).U64(root).Take(); }
std::string MentionKey(std::string_view user, std::string_view room, uint64_t seq) {
  return KeyBuilder().Str(user).Str(room).U64(seq).Take();
}
std::string MentionPrefix(std::string_view user) { return KeyBuilder().Str(user).Take(); }
std::string ClientIdKey(std::string_view user, std::string_view room, std::string_view client_id) {
  return KeyBuilder().Str(user).Str(room).Raw(client_id).Take();
}

std::optional<std::pair<std::string, uint64_t>> SplitRoomSeqKey(std::string_view key) {
  auto len = store::ReadU32BE(key, 0);
  if (!len || key.size() != 4 + static_cast<size_t>(*len) + 8) return std::nullopt;
  auto seq = store::ReadU64BE(key, 4 + *len);
  if (!seq) return std::nullopt;
  return std::make_pair(std::string(key.substr(4, *len)), *seq);
}

bool ValidUserId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(id[0])) return false;
  return std::all_of(id.begin(), id.end(), [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

std::string NormalizeUserId(std::string_view id) { return base::LowerAscii(id); }

bool ValidRoomId(std::string_view id) {
  if (id.size() != 17 || id[0] != 'r') return false;
  return std::all_of(id.begin() + 1, id.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'); });
}

std::string NewRoomId() {
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  std::string id = "r";
  for (unsigned char b : bytes) id.push_back(kAlphabet[b & 31]);
  return id;
}

bool ValidText(std::string_view s) {
  size_t i = 0;
  uint32_t cp;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c == 0x7f) return false;
      ++i;
      continue;
    }
    size_t n = base::DecodeUtf8(s, i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool ValidRoomName(std::string_view name) {
  if (name.empty() || name.size() > 80) return false;
  if (!ValidText(name)) return false;
  return name.find_first_of("\n\r\t") == std::string_view::npos;
}

bool ValidClientId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::string CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view part = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view n = part.substr(0, eq);
    while (!n.empty() && n.back() == ' ') n.remove_suffix(1);
    if (n == name) {
      std::string_view v = part.substr(eq + 1);
      while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
      return std::string(v);
    }
  }
  return "";
}

MentionScan ScanMentions(std::string_view text) {
  MentionScan out;
  auto idc = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  };
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '@') continue;
    // "@" must start a word: not preceded by an id character (so e-mail addresses are not mentions).
    if (i > 0 && idc(text[i - 1])) continue;
    size_t j = i + 1;
    while (j < text.size() && idc(text[j])) ++j;
    std::string id = NormalizeUserId(text.substr(i + 1, j - i - 1));
    while (!id.empty() && (id.back() == '.' || id.back() == '-')) id.pop_back();  // "@tanaka." ends a sentence
    i = j - 1;
    if (id == "all") {
      out.all = true;
    } else if (id == "here") {
      out.here = true;
    } else if (ValidUserId(id) && std::find(out.users.begin(), out.users.end(), id) == out.users.end()) {
      out.users.push_back(id);
    }
  }
  return out;
}

}  // namespace collab::chat
