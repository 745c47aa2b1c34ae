// The chat data model: users, rooms, sessions and messages as collab-chatd keeps them, with
// their stored form (JSON values in RocksDB) and the key layout of every column family.
// Deliberately no behaviour here beyond encoding: who may do what lives in chat.hpp.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/json.hpp"
#include "lib/base/result.hpp"

namespace collab::chat {

using base::Json;

// Column families of the chat database. Keys use store::KeyBuilder; Str() parts are
// length-prefixed so a room id can never run into the sequence that follows it.
inline constexpr const char* kCfUsers = "users";          // user id -> User
inline constexpr const char* kCfSessions = "sessions";    // hex sha256(token) -> Session
inline constexpr const char* kCfRooms = "rooms";          // room id -> Room (no members)
inline constexpr const char* kCfMembers = "members";      // Str(room) Raw(user) -> Member
inline constexpr const char* kCfMessages = "messages";    // Str(room) U64(seq) -> Message
inline constexpr const char* kCfEvents = "events";        // Str(room) U64(event seq) -> U64(message seq)
inline constexpr const char* kCfThreads = "threads";      // Str(room) U64(root) U64(reply) -> ""
inline constexpr const char* kCfMentions = "mentions";    // Str(user) Str(room) U64(seq) -> ""
inline constexpr const char* kCfClientIds = "client_ids"; // Str(user) Str(room) Raw(client id) -> MessageKey
inline constexpr const char* kCfPins = "pins";            // Str(room) U64(seq) -> ""
inline constexpr const char* kCfFiles = "files";          // file id -> {size, type, name, image, thumb, ts}
inline constexpr const char* kCfFileRooms = "file_rooms";  // Str(file id) Raw(room) -> U64(ms uploaded there)
inline constexpr const char* kCfHooks = "hooks";          // hook id -> webhook
inline constexpr const char* kCfDesk = "helpdesk";        // "desk:" id | "req:" id -> JSON
inline constexpr const char* kCfSearch = "search";        // full-text index (lib/chat/search_index.hpp)
inline constexpr const char* kCfAudit = "audit";          // U64(ms) U64(n) -> JSON line
inline constexpr const char* kCfMeta = "meta";            // name -> value

std::vector<std::string> ColumnFamilies();

enum class RoomKind { kPublic, kPrivate, kAnnouncement, kDm };
const char* RoomKindName(RoomKind k);
std::optional<RoomKind> ParseRoomKind(std::string_view s);

enum class Role { kMember = 0, kModerator = 1, kOwner = 2 };
const char* RoleName(Role r);
std::optional<Role> ParseRole(std::string_view s);

struct User {
  std::string id;  // staff ID / login name, lower-case ASCII
  std::string name;
  std::string department;
  std::string email;
  std::string source = "local";  // "local" | "ldap"
  std::string role = "user";     // "user" | "admin"
  std::string password_hash;     // argon2id; empty = no password login
  std::string status_text;
  bool disabled = false;
  std::string disabled_by;  // "admin" (collab-admin) or "directory" (LDAP); a sync re-enables only the latter
  bool away = false;  // set by the user: shows away while connected
  int64_t created_ms = 0;

  Json ToStored() const;
  static base::Result<User> FromStored(std::string_view value);
  // What other users see (no hash).
  Json ToPublic() const;
};

struct Member {
  Role role = Role::kMember;
  bool muted = false;
  uint64_t read_seq = 0;
  int64_t joined_ms = 0;

  Json ToStored() const;
  static base::Result<Member> FromStored(std::string_view value);
};

struct Room {
  std::string id;
  std::string name;
  RoomKind kind = RoomKind::kPublic;
  std::string topic;
  std::string created_by;
  int64_t created_ms = 0;
  bool archived = false;
  bool read_only = false;                    // only owners and moderators post (announcement rooms always)
  Role mass_mention_role = Role::kModerator; // least role that may use @all / @here
  int64_t retention_message_days = -1;       // -1: the global setting; 0: keep forever
  int64_t retention_file_days = -1;
  std::string dm_key;                        // DMs: sorted member ids joined by '\n'
  std::string department;                    // department rooms: the department they mirror

  // In memory only (rebuilt at start):
  std::map<std::string, Member> members;
  uint64_t last_seq = 0;       // highest sequence handed out (messages and updates)
  uint64_t delivered_seq = 0;  // highest sequence durable and fanned out
  std::vector<uint64_t> message_seqs;         // durable, not deleted by retention, ascending
  std::map<uint64_t, uint32_t> reply_counts;  // thread root -> replies
  std::vector<int64_t> mass_mention_times;    // ms of recent @all/@here in this room
  std::set<uint64_t> pinned;

  Json ToStored() const;
  static base::Result<Room> FromStored(std::string_view value);
  bool OnlyModeratorsPost() const { return read_only || kind == RoomKind::kAnnouncement; }
};

struct Session {
  std::string user;
  int64_t created_ms = 0;
  int64_t expires_ms = 0;
  std::string peer;  // address at login, for the audit trail

  Json ToStored() const;
  static base::Result<Session> FromStored(std::string_view value);
};

struct Edit {
  int64_t ts = 0;
  std::string text;
};

// A file attached to a message (content-addressed: id is the SHA-256 of the bytes, in hex).
struct FileRef {
  std::string id;
  std::string name;
  int64_t size = 0;
  std::string type;
  bool image = false;
  bool thumb = false;
};

struct Message {
  std::string room;
  uint64_t seq = 0;
  std::string user;
  std::string text;
  std::string client_id;
  int64_t ts = 0;
  int64_t edited_ts = 0;
  uint64_t thread = 0;  // root seq when this is a reply
  std::vector<std::string> mentions;
  bool mention_all = false;   // @all
  bool mention_here = false;  // @here
  std::map<std::string, std::vector<std::string>> reactions;  // emoji -> users in order
  bool deleted = false;
  bool pinned = false;
  uint64_t update_seq = 0;  // event seq of the latest change (0 = never changed)
  std::vector<Edit> history;  // earlier texts, for moderators
  std::vector<FileRef> files;
  // Webhook posts: the name and icon the sender asked for (shown instead of the bot's own).
  std::string alias;
  std::string emoji;
  base::Json attachments;  // Slack-style attachments, already validated (null when none)

  Json ToStored() const;
  static base::Result<Message> FromStored(std::string_view value);
  // The client view. reply_count comes from the room; history only when with_history.
  Json ToClient(uint32_t reply_count, bool with_history) const;
};

// Keys.
std::string MemberKey(std::string_view room, std::string_view user);
std::string MemberPrefix(std::string_view room);
std::string MessageKey(std::string_view room, uint64_t seq);
std::string MessagePrefix(std::string_view room);
std::string EventKey(std::string_view room, uint64_t seq);
std::string ThreadKey(std::string_view room, uint64_t root, uint64_t reply);
std::string ThreadPrefix(std::string_view room, uint64_t root);
std::string MentionKey(std::string_view user, std::string_view room, uint64_t seq);
std::string MentionPrefix(std::string_view user);
std::string ClientIdKey(std::string_view user, std::string_view room, std::string_view client_id);
// Splits MessageKey/EventKey; nullopt on a malformed key.
std::optional<std::pair<std::string, uint64_t>> SplitRoomSeqKey(std::string_view key);

// Identifier rules. User ids: 1..64 of [a-z0-9._-] (after lower-casing ASCII), must start with a
// letter or digit. Room ids are generated ("r" + 16 base32 chars).
bool ValidUserId(std::string_view id);
std::string NormalizeUserId(std::string_view id);
bool ValidRoomId(std::string_view id);
std::string NewRoomId();
// Room names: 1..80 bytes of UTF-8 without control characters.
bool ValidRoomName(std::string_view name);
// Client ids: 1..128 printable ASCII bytes.
bool ValidClientId(std::string_view id);
// True when s is valid UTF-8 without NUL or C0 controls other than \n, \r, \t.
bool ValidText(std::string_view s);

// The value of one cookie in a Cookie header ("" when absent); names match exactly.
std::string CookieValue(std::string_view header, std::string_view name);

// @mentions in a message: "@id" where id follows the user-id rules; "@all" and "@here".
struct MentionScan {
  std::vector<std::string> users;  // distinct, in order of appearance, not yet checked for membership
  bool all = false;
  bool here = false;
};
MentionScan ScanMentions(std::string_view text);

}  // namespace collab::chat
