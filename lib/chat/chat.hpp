// The chat server proper: accounts and sessions, rooms and membership, messages with threads,
// reactions, edits, pins, read state and mentions, presence, the realtime WebSocket hub and
// the HTTP API and control verbs over all of it. One object per collab-chatd process, living on
// the daemon's single libuv loop; blocking work (fsync batches via store::Db::WriteDurable,
// password hashing, LDAP) runs elsewhere and reports back to the loop.
//
// State: users, sessions, rooms and memberships are held in memory (loaded at start) and
// written through to RocksDB; messages live only in RocksDB (plus small per-room indexes in
// memory). A message is acknowledged and fanned out only after its batch is durable.
//
// Split over several files by concern: chat.cpp (open, load, accounts, sessions),
// messages.cpp (posting and changing messages), realtime.cpp (WebSocket hub, presence),
// http_api.cpp (routes), control.cpp (control verbs), retention.cpp, ldap_sync.cpp,
// metrics.cpp. Deliberately not here: files, search, webhooks, helpdesk (the web app issue).
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "lib/base/ip_prefix.hpp"
#include "lib/base/json.hpp"
#include "lib/base/result.hpp"
#include "lib/chat/ldap.hpp"
#include "lib/chat/model.hpp"
#include "lib/chat/search_index.hpp"

namespace collab::config { class Config; }
namespace collab::http {
class Server;
class WebSocket;
struct Request;
struct Response;
}  // namespace collab::http
namespace collab::ipc { class Server; }
namespace collab::store { class Db; class WriteBatch; }

namespace collab::chat {

class HttpApi;

struct ChatOptions {
  std::string db_dir;
  std::string key_file;
  std::string auth_source = "local";  // local | ldap | both
  int64_t session_max_age_ms = 7LL * 24 * 3600 * 1000;
  int64_t login_max_failures = 5;
  int64_t login_lockout_ms = 300000;
  int64_t token_ttl_s = 600;
  size_t max_message_bytes = 16384;
  int64_t away_after_ms = 600000;
  std::vector<base::IpPrefix> metrics_allow;  // who may fetch /metrics (chatd.metrics_allow)
  size_t mass_mention_confirm_members = 30;
  int64_t mass_mention_per_hour = 6;
  int64_t retention_message_days = 0;
  int64_t retention_file_days = 0;
  bool retention_keep_pinned = true;
  std::string retention_schedule;  // "HH:MM" or ""
  bool ldap_enabled = false;
  LdapConfig ldap;
  int64_t ldap_sync_interval_s = 3600;
  bool ldap_department_rooms = false;
  size_t max_body_bytes = 1 << 20;  // JSON request bodies
  std::string files_dir;
  size_t max_file_bytes = 20 << 20;
  std::vector<std::string> file_types;
  // Where the web app finds collab-sfu and collab-stream (GET /api/v1/config).
  std::string public_sfu_url, public_stream_url;
  int sfu_port = 0, stream_port = 0;
  bool sfu_tls = false, stream_tls = false;
  // Who may watch live streams (stream.viewers, stream.open_streams): the watch URL
  // (GET /api/v1/streams/NAME/watch) carries a viewer token unless the stream is open.
  bool streams_open = false;
  std::vector<std::string> open_streams;
};

// Lower-case hex SHA-256: session token hashes and content-addressed file ids.
std::string Sha256Hex(std::string_view bytes);

// Reads the [chatd] and shared keys (and the LDAP bind password file).
base::Result<ChatOptions> OptionsFromConfig(const config::Config& cfg);

// Counters for /metrics and status.
struct ChatCounters {
  uint64_t messages_posted = 0;
  uint64_t messages_updated = 0;
  uint64_t deliveries = 0;  // WebSocket frames carrying room events
  uint64_t logins_ok = 0;
  uint64_t logins_failed = 0;
  uint64_t logins_locked = 0;
  uint64_t http_requests = 0;
  uint64_t http_client_errors = 0;
  uint64_t durable_failures = 0;
  uint64_t ws_opened = 0;
  uint64_t retention_deleted = 0;
  uint64_t ldap_syncs = 0;
  uint64_t ldap_sync_failures = 0;
  // durable-ack latency histogram (ms buckets)
  std::vector<uint64_t> ack_buckets = std::vector<uint64_t>(12, 0);
  double ack_sum_ms = 0;
  uint64_t ack_count = 0;
};
inline constexpr double kAckBucketsMs[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000};

class Chat {
 public:
  static base::Result<std::unique_ptr<Chat>> Open(uv_loop_t* loop, ChatOptions options);
  ~Chat();
  Chat(const Chat&) = delete;
  Chat& operator=(const Chat&) = delete;

  void RegisterHttp(http::Server& http);
  void RegisterControl(ipc::Server& control);
  // New settings for new work; the database directory cannot change without a restart.
  base::Status Reload(ChatOptions options);
  // Closes WebSockets, waits for durable writes in flight, closes the database.
  void Drain(std::function<void()> done);
  void AddStatus(base::Json& status) const;

  // ---- used across the implementation files ----
  struct WsState;
  using Reply = std::function<void(int status, base::Json body)>;  // status >= 400: body is {code,message}

  // Errors of the API: an HTTP status, a code and a message.
  struct ApiError {
    int status;
    std::string code;
    std::string message;
  };
  template <typename T>
  using ApiResult = std::variant<T, ApiError>;

  // accounts (chat.cpp)
  const User* FindUser(std::string_view id) const;
  User* FindUserMut(std::string_view id);
  base::Status PutUser(const User& u);  // memory + store (synchronous write)
  void AddUserAsync(User u, std::string password, std::function<void(base::Result<User>)> done);
  base::Result<std::string> CreateSession(const std::string& user, const std::string& peer, int64_t ttl_ms);
  void DeleteSession(const std::string& hash);
  void DeleteUserSessions(const std::string& user, int ws_close_code, const std::string& reason);
  // The user of a bearer token (or session cookie) when it names a live session.
  const User* UserForToken(std::string_view token, std::string* session_hash = nullptr);
  void Login(std::string username, std::string password, std::string peer,
             std::function<void(ApiResult<std::pair<std::string, User>>)> done);
  void Audit(const std::string& actor, const std::string& action, base::Json details);
  base::Json AuditList(size_t limit, int64_t since_ms);

  // rooms (messages.cpp)
  Room* FindRoom(std::string_view id);
  const Room* FindRoom(std::string_view id) const;
  // Who may see a room at all: members, and everyone for public/announcement rooms.
  bool CanSee(const Room& r, const User& u) const;
  std::optional<Role> RoleIn(const Room& r, const std::string& user) const;
  bool IsModerator(const Room& r, const User& u) const;  // moderator, owner or global admin
  ApiResult<Room*> CreateRoom(const User& creator, std::string name, RoomKind kind, std::string topic,
                              const std::vector<std::string>& members);
  ApiResult<Room*> OpenDm(const User& u, std::vector<std::string> others);
  ApiResult<bool> SetMember(Room& r, const std::string& user, std::optional<Role> role, const std::string& actor);
  ApiResult<bool> RemoveMember(Room& r, const std::string& user, const std::string& actor);
  base::Status SaveRoom(const Room& r);
  base::Json RoomJson(const Room& r, const User* viewer) const;
  uint64_t UnreadCount(const Room& r, uint64_t read_seq) const;
  uint64_t MentionCount(const std::string& user, const Room& r, uint64_t read_seq) const;

  // messages (messages.cpp)
  struct PostRequest {
    std::string room;
    std::string text;
    std::string client_id;
    uint64_t thread = 0;
    bool confirm_mass_mention = false;
    std::vector<std::string> files;  // ids of files uploaded into this room
    // webhook posts
    std::string alias, emoji;
    base::Json attachments;
  };
  // done(status, message json) with 201 for a new message, 200 for a repeated client_id.
  void Post(const User& u, PostRequest req, Reply done);
  // after == kNoCursor: the newest page (before it when before != 0); otherwise the page that
  // follows `after` (0 = from the first message).
  static constexpr uint64_t kNoCursor = ~0ULL;
  void History(const User& u, const Room& r, uint64_t before, uint64_t after, size_t limit, uint64_t thread,
               Reply done);
  ApiResult<Message> LoadMessage(const Room& r, uint64_t seq);
  // Applies change to the message, stores it durably, fans it out and replies with it.
  void UpdateMessage(Room& r, uint64_t seq, std::function<std::optional<ApiError>(Message&)> change, Reply done);
  void MarkRead(const User& u, Room& r, uint64_t seq);
  void SetMuted(const User& u, Room& r, bool muted);
  base::Json Receipts(const Room& r, uint64_t seq) const;
  uint32_t ReplyCount(const Room& r, uint64_t seq) const;
  // Sends {"type":"notify"} to the people a new message is for (DM partners, mentioned users,
  // @all/@here recipients), respecting mutes: what the web app turns into notifications.
  void Notify(const Room& r, const Message& m);

  // realtime (realtime.cpp)
  void FanOut(const Room& r, const std::string& frame, const std::string& except_user = "");
  void SendToUser(const std::string& user, const std::string& frame);
  std::string PresenceOf(const std::string& user) const;
  // Pushes the user's presence to their watchers when it changed (or always with force, e.g.
  // after a new status text).
  void PresenceChanged(const std::string& user, bool force = false);
  void OnWsOpen(const std::shared_ptr<http::WebSocket>& ws);
  void OnWsMessage(const std::shared_ptr<http::WebSocket>& ws, std::string_view msg);
  void OnWsClose(const std::shared_ptr<http::WebSocket>& ws);
  void CloseUserSockets(const std::string& user, int code, const std::string& reason);
  void CloseSessionSockets(const std::string& session_hash);
  size_t WsCount() const;

  // files (files.cpp)
  void Upload(const User& u, Room& r, std::string name, std::string type, std::string data, Reply done);
  void Download(const User& u, const Room& r, const std::string& id, bool thumb,
                std::function<void(http::Response)> respond);
  base::Result<std::vector<FileRef>> ResolveFiles(const Room& r, const std::vector<std::string>& ids);
  bool FileInRoom(const std::string& id, const std::string& room) const;
  std::optional<FileRef> FileMeta(const std::string& id) const;
  std::string FilePath(const std::string& id, bool thumb) const;
  base::Json ApplyFileRetention(bool dry_run, int64_t now);

  // webhooks (webhooks.cpp)
  struct Webhook {
    std::string id, token, room, name, user, created_by;
    int64_t created_ms = 0;
    base::Json ToStored() const;
  };
  void RegisterWebhooks(http::Server& http, ipc::Server& control);
  void HandleHook(const http::Request& req, std::function<void(http::Response)> respond);

  // helpdesk (helpdesk.cpp)
  struct Desk {
    std::string id, name;
    std::set<std::string> agents;
    base::Json ToJson() const;
  };
  struct Ticket {
    std::string id, desk, subject, requester, status = "open", agent, room, notes_room;
    int64_t created_ms = 0, first_response_ms = 0, resolved_ms = 0;
    base::Json ToJson() const;
  };
  void RegisterHelpdesk(ipc::Server& control);
  // A message was stored: the first answer of an agent in a request starts its response time.
  void HelpdeskOnMessage(const Room& r, const Message& m);
  base::Json HelpdeskStats(const std::string& desk) const;

  // search: the newest matches among the rooms the user may read (members' rooms and public ones)
  void Search(const User& u, SearchIndex::Query q, Reply done);

  // retention (retention.cpp)
  // as_of_ms: pretend it is that moment (previews such as "what goes at the end of the year");
  // 0 = now.
  base::Json ApplyRetention(bool dry_run, const std::string& actor, int64_t as_of_ms = 0);
  // ldap (ldap_sync.cpp)
  void LdapSync(const std::string& actor, std::function<void(base::Result<base::Json>)> done);
  void LdapLogin(std::string id, std::string password,
                 std::function<void(base::Result<DirectoryEntry>)> done);
  // metrics (metrics.cpp)
  std::string Metrics() const;

  // A job on the libuv thread pool; done runs on the loop.
  void RunBlocking(std::function<void()> work, std::function<void()> done);

  uv_loop_t* loop() const { return loop_; }
  store::Db& db() { return *db_; }
  const ChatOptions& options() const { return opts_; }
  ChatCounters& counters() { return counters_; }
  bool draining() const { return draining_; }

 private:
  Chat(uv_loop_t* loop, ChatOptions options);
  base::Status Load();
  base::Status LoadFiles();
  base::Status LoadHooks();
  base::Status LoadHelpdesk();
  base::Status SaveTicket(const Ticket& t);
  void StartTimers();
  void MaybeDrained();
  void OnTick();
  // Queues a durable batch, counting it so Drain can wait for it.
  void WriteDurable(store::WriteBatch&& batch, std::function<void(base::Status)> done);
  void FinishPost(Room& r, Message m, base::Status st, int64_t started_ms, Reply done);

  friend class HttpApi;

  uv_loop_t* loop_;
  ChatOptions opts_;
  std::unique_ptr<store::Db> db_;
  ChatCounters counters_;
  bool draining_ = false;
  size_t writes_in_flight_ = 0;
  std::function<void()> drained_;

  std::map<std::string, User, std::less<>> users_;
  std::map<std::string, Session, std::less<>> sessions_;  // key: hex sha256(token)
  std::map<std::string, Room, std::less<>> rooms_;
  std::map<std::string, std::string, std::less<>> dm_index_;  // dm_key -> room id
  // user -> room ids (membership index)
  std::unordered_map<std::string, std::set<std::string>> user_rooms_;
  // user -> room -> mention seqs (ascending)
  std::unordered_map<std::string, std::map<std::string, std::vector<uint64_t>>> mentions_;
  // (user \0 client id) -> replies waiting for the durable write of that post
  std::unordered_map<std::string, std::vector<Reply>> pending_posts_;
  // (room \0 seq) -> latest version of a message whose update is not yet durable, and the count
  // of such writes in flight
  std::map<std::string, std::pair<Message, int>> pending_messages_;

  // login throttling: key ("u:" + name or "a:" + address) -> failures and when the window began
  struct Throttle {
    int64_t failures = 0;
    int64_t since_ms = 0;
  };
  std::unordered_map<std::string, Throttle> throttle_;

  // realtime
  std::unordered_map<std::string, std::vector<std::shared_ptr<http::WebSocket>>> user_sockets_;
  std::unordered_map<std::string, std::set<std::string>> presence_watchers_;  // watched -> watchers
  std::unordered_map<std::string, std::string> last_presence_;
  std::set<std::string> file_rooms_;  // file id \0 room id
  std::map<std::string, Webhook> hooks_;
  std::map<std::string, Desk> desks_;
  std::map<std::string, Ticket> tickets_;
  std::unordered_map<std::string, std::string> ticket_rooms_;  // room id -> ticket id
  uint64_t audit_n_ = 0;
  uint64_t server_ids_ = 0;
  bool ldap_sync_running_ = false;
  int64_t last_ldap_sync_ms_ = 0;
  std::string last_retention_day_;
  uv_timer_t* tick_ = nullptr;
  // Authors' read positions moved by their own posts, saved together within kReadFlushMs
  // instead of one more key in every message's synced write.
  std::set<std::pair<std::string, std::string>> dirty_reads_;  // (room, user)
  uv_timer_t* read_flush_ = nullptr;
  void MarkReadDirty(const std::string& room, const std::string& user);
  void FlushReads();
  std::shared_ptr<HttpApi> api_;
  std::unique_ptr<SearchIndex> search_;
};

}  // namespace collab::chat
