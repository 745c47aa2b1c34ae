// Opening the chat database, loading it into memory, accounts, sessions, login throttling,
// the audit trail and the periodic tick (presence, LDAP sync, scheduled retention).
#include "lib/chat/chat.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <ctime>

#include "lib/auth/password.hpp"
#include "lib/auth/token.hpp"
#include "lib/base/fs.hpp"
#include "lib/base/log.hpp"
#include "lib/base/time.hpp"
#include "lib/config/config.hpp"
#include "lib/http/server.hpp"
#include "lib/store/db.hpp"
#include "lib/store/keys.hpp"

namespace collab::chat {

using base::Json;
using base::MakeError;
using base::Result;
using base::Status;

std::string Sha256Hex(std::string_view s) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : md) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

Result<ChatOptions> OptionsFromConfig(const config::Config& cfg) {
  ChatOptions o;
  o.db_dir = cfg.GetPath("chatd.db_dir");
  if (o.db_dir.empty()) o.db_dir = cfg.GetPath("paths.state_dir") + "/chat.db";
  o.key_file = cfg.GetPath("auth.key_file");
  o.auth_source = cfg.GetString("chatd.auth_source");
  o.session_max_age_ms = cfg.GetInt("chatd.session_max_age_h") * 3600 * 1000;
  o.login_max_failures = cfg.GetInt("chatd.login_max_failures");
  o.login_lockout_ms = cfg.GetInt("chatd.login_lockout_s") * 1000;
  o.token_ttl_s = cfg.GetInt("chatd.token_ttl_s");
  o.max_message_bytes = static_cast<size_t>(cfg.GetInt("chatd.max_message_bytes"));
  o.away_after_ms = cfg.GetInt("chatd.away_after_s") * 1000;
  for (const std::string& a : cfg.GetStringList("chatd.metrics_allow")) {
    auto p = base::ParseIpPrefix(a);
    if (!p) return MakeError(base::kExitConfig, "chatd.metrics_allow: " + p.error().message);
    o.metrics_allow.push_back(*p);
  }
  o.mass_mention_confirm_members = static_cast<size_t>(cfg.GetInt("chatd.mass_mention_confirm_members"));
  o.mass_mention_per_hour = cfg.GetInt("chatd.mass_mention_per_hour");
  o.retention_message_days = cfg.GetInt("chatd.retention_message_days");
  o.retention_file_days = cfg.GetInt("chatd.retention_file_days");
  o.retention_keep_pinned = cfg.GetBool("chatd.retention_keep_pinned");
  o.retention_schedule = cfg.GetString("chatd.retention_schedule");
  if (!o.retention_schedule.empty()) {
    int h = -1, m = -1;
    char extra = 0;
    if (std::sscanf(o.retention_schedule.c_str(), "%d:%d%c", &h, &m, &extra) != 2 || h < 0 || h > 23 || m < 0 ||
        m > 59)
      return MakeError(base::kExitConfig, "chatd.retention_schedule must be HH:MM (24-hour), not '" +
                                              o.retention_schedule + "'");
  }
  o.ldap.uri = cfg.GetString("chatd.ldap_uri");
  o.ldap_enabled = !o.ldap.uri.empty();
  if (o.auth_source != "local" && !o.ldap_enabled)
    return MakeError(base::kExitConfig, "chatd.auth_source = \"" + o.auth_source + "\" needs chatd.ldap_uri");
  o.ldap.starttls = cfg.GetBool("chatd.ldap_starttls");
  o.ldap.ca_file = cfg.GetPath("chatd.ldap_ca_file");
  o.ldap.bind_dn = cfg.GetString("chatd.ldap_bind_dn");
  std::string pwfile = cfg.GetPath("chatd.ldap_bind_password_file");
  if (!pwfile.empty()) {
    auto pw = base::ReadFile(pwfile);
    if (!pw) return pw.error().Wrap("chatd.ldap_bind_password_file");
    o.ldap.bind_password = Trim(*pw);
  }
  o.ldap.base_dn = cfg.GetString("chatd.ldap_base_dn");
  o.ldap.user_filter = cfg.GetString("chatd.ldap_user_filter");
  o.ldap.attr_id = cfg.GetString("chatd.ldap_attr_id");
  o.ldap.attr_name = cfg.GetString("chatd.ldap_attr_name");
  o.ldap.attr_department = cfg.GetString("chatd.ldap_attr_department");
  o.ldap.attr_email = cfg.GetString("chatd.ldap_attr_email");
  o.ldap.disabled_filter = cfg.GetString("chatd.ldap_disabled_filter");
  o.ldap.timeout_s = static_cast<int>(cfg.GetInt("chatd.ldap_timeout_s"));
  o.ldap_sync_interval_s = cfg.GetInt("chatd.ldap_sync_interval_s");
  o.ldap_department_rooms = cfg.GetBool("chatd.ldap_department_rooms");
  o.max_body_bytes = static_cast<size_t>(cfg.GetInt("chatd.max_body_bytes"));
  o.files_dir = cfg.GetPath("chatd.files_dir");
  if (o.files_dir.empty()) o.files_dir = cfg.GetPath("paths.state_dir") + "/files";
  o.max_file_bytes = static_cast<size_t>(cfg.GetInt("chatd.max_file_bytes"));
  o.file_types = cfg.GetStringList("chatd.file_types");
  o.public_sfu_url = cfg.GetString("chatd.public_sfu_url");
  o.public_stream_url = cfg.GetString("chatd.public_stream_url");
  auto port_of = [](const std::string& listen) {
    size_t colon = listen.rfind(':');
    return colon == std::string::npos ? 0 : std::atoi(listen.c_str() + colon + 1);
  };
  o.sfu_port = port_of(cfg.GetString("sfu.listen"));
  o.stream_port = port_of(cfg.GetString("stream.listen"));
  o.sfu_tls = !cfg.GetPath("sfu.tls_cert").empty();
  o.stream_tls = !cfg.GetPath("stream.tls_cert").empty();
  o.streams_open = cfg.GetString("stream.viewers") == "open";
  o.open_streams = cfg.GetStringList("stream.open_streams");
  return o;
}

Chat::Chat(uv_loop_t* loop, ChatOptions options) : loop_(loop), opts_(std::move(options)) {}

Chat::~Chat() {
  if (tick_) {
    uv_close(reinterpret_cast<uv_handle_t*>(tick_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    tick_ = nullptr;
  }
  if (read_flush_) {
    uv_close(reinterpret_cast<uv_handle_t*>(read_flush_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    read_flush_ = nullptr;
  }
  if (db_) {
    FlushReads();
    (void)db_->Close();
  }
}

Result<std::unique_ptr<Chat>> Chat::Open(uv_loop_t* loop, ChatOptions options) {
  std::unique_ptr<Chat> chat(new Chat(loop, std::move(options)));
  store::Options so;
  so.column_families = ColumnFamilies();
  so.length_prefixed_families = {kCfMessages, kCfEvents, kCfThreads, kCfMembers, kCfMentions, kCfClientIds, kCfPins};
  so.compressed_families = {kCfSearch};
  so.loop = loop;
  COLLAB_ASSIGN_OR_RETURN(chat->db_, store::Db::Open(chat->opts_.db_dir, so));
  COLLAB_TRY(chat->Load());
  chat->StartTimers();
  return chat;
}

Status Chat::Load() {
  int64_t t0 = base::MonotonicMs();
  {
    COLLAB_ASSIGN_OR_RETURN(auto it, db_->NewIterator(kCfUsers));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto u = User::FromStored(it->value());
      if (!u) return u.error();
      users_[u->id] = std::move(*u);
    }
    COLLAB_TRY(it->status());
  }
  int64_t now = base::WallClockMs();
  {
    COLLAB_ASSIGN_OR_RETURN(auto it, db_->NewIterator(kCfSessions));
    store::WriteBatch expired;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto s = Session::FromStored(it->value());
      if (!s || s->expires_ms < now) {
        expired.Delete(kCfSessions, it->key());
        continue;
      }
      sessions_[std::string(it->key())] = std::move(*s);
    }
    COLLAB_TRY(it->status());
    if (!expired.empty()) COLLAB_TRY(db_->Write(std::move(expired), false));
  }
  {
    COLLAB_ASSIGN_OR_RETURN(auto it, db_->NewIterator(kCfRooms));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto r = Room::FromStored(it->value());
      if (!r) return r.error();
      if (!r->dm_key.empty()) dm_index_[r->dm_key] = r->id;
      rooms_[r->id] = std::move(*r);
    }
    COLLAB_TRY(it->status());
  }
  {
    COLLAB_ASSIGN_OR_RETURN(auto it, db_->NewIterator(kCfMembers));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string_view k = it->key();
      auto len = store::ReadU32BE(k, 0);
      if (!len || k.size() < 4 + *len) continue;
      std::string room(k.substr(4, *len));
      std::string user(k.substr(4 + *len));
      auto m = Member::FromStored(it->value());
      auto r = rooms_.find(room);
      if (!m || r == rooms_.end()) continue;
      r->second.members[user] = *m;
      user_rooms_[user].insert(room);
    }
    COLLAB_TRY(it->status());
  }
  // Message indexes per room: the sequence of every stored message, thread reply counts, and
  // the highest sequence handed out (messages and update events).
  size_t messages = 0;
  for (auto& [id, r] : rooms_) {
    std::string prefix = MessagePrefix(id);
    store::IterOptions io{prefix, store::PrefixUpperBound(prefix)};
    COLLAB_ASSIGN_OR_RETURN(auto it, db_->NewIterator(kCfMessages, io));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto k = SplitRoomSeqKey(it->key());
      if (!k) continue;
      r.message_seqs.push_back(k->second);
      ++messages;
    }
    COLLAB_TRY(it->status());
    if (!r.message_seqs.empty()) r.last_seq = r.message_seqs.back();
    COLLAB_ASSIGN_OR_RETURN(auto ev, db_->NewIterator(kCfEvents, io));
    ev->SeekToLast();
    if (ev->Valid())
      if (auto k = SplitRoomSeqKey(ev->key())) r.last_seq = std::max(r.last_seq, k->second);
    COLLAB_ASSIGN_OR_RETURN(auto th, db_->NewIterator(kCfThreads, io));
    for (th->SeekToFirst(); th->Valid(); th->Next()) {
      auto root = store::ReadU64BE(th->key(), 4 + id.size());
      if (root) ++r.reply_counts[*root];
    }
    COLLAB_ASSIGN_OR_RETURN(auto pins, db_->NewIterator(kCfPins, io));
    for (pins->SeekToFirst(); pins->Valid(); pins->Next())
      if (auto k = SplitRoomSeqKey(pins->key())) r.pinned.insert(k->second);
    r.delivered_seq = r.last_seq;
  }
  {
    COLLAB_ASSIGN_OR_RETURN(auto it, db_->NewIterator(kCfMentions));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string_view k = it->key();
      auto ul = store::ReadU32BE(k, 0);
      if (!ul) continue;
      auto rl = store::ReadU32BE(k, 4 + *ul);
      if (!rl) continue;
      auto seq = store::ReadU64BE(k, 8 + *ul + *rl);
      if (!seq) continue;
      mentions_[std::string(k.substr(4, *ul))][std::string(k.substr(8 + *ul, *rl))].push_back(*seq);
    }
  }
  COLLAB_TRY(LoadFiles());
  {
    int64_t ts = base::MonotonicMs();
    COLLAB_ASSIGN_OR_RETURN(search_, SearchIndex::Open(*db_));
    LOG_INFO("search index ready in %lld ms: %s", static_cast<long long>(base::MonotonicMs() - ts),
             search_->Stats().Dump().c_str());
  }
  COLLAB_TRY(LoadHooks());
  COLLAB_TRY(LoadHelpdesk());
  {
    COLLAB_ASSIGN_OR_RETURN(auto it, db_->NewIterator(kCfAudit));
    it->SeekToLast();
    if (it->Valid()) audit_n_ = store::ReadU64BE(it->key(), 8).value_or(0);
  }
  LOG_INFO("chat database %s: %zu users, %zu rooms, %zu messages, %zu sessions (loaded in %lld ms)",
           opts_.db_dir.c_str(), users_.size(), rooms_.size(), messages, sessions_.size(),
           static_cast<long long>(base::MonotonicMs() - t0));
  return base::Ok();
}

void Chat::StartTimers() {
  tick_ = new uv_timer_t;
  uv_timer_init(loop_, tick_);
  tick_->data = this;
  uv_timer_start(
      tick_, [](uv_timer_t* t) { static_cast<Chat*>(t->data)->OnTick(); }, 5000, 5000);
  uv_unref(reinterpret_cast<uv_handle_t*>(tick_));
}

void Chat::OnTick() {
  if (draining_) return;
  int64_t now = base::WallClockMs();
  // Presence: idle sessions turn away; expired sessions end.
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second.expires_ms < now) {
      std::string hash = it->first;
      store::WriteBatch b;
      b.Delete(kCfSessions, hash);
      (void)db_->Write(std::move(b), false);
      it = sessions_.erase(it);
      CloseSessionSockets(hash);
      continue;
    }
    ++it;
  }
  for (auto& [user, socks] : user_sockets_) PresenceChanged(user);
  // LDAP sync on its interval.
  if (opts_.ldap_enabled && opts_.ldap_sync_interval_s > 0 && !ldap_sync_running_ &&
      now - last_ldap_sync_ms_ >= opts_.ldap_sync_interval_s * 1000) {
    LdapSync("schedule", [](Result<Json>) {});
  }
  // Scheduled retention, once a day at the configured local time.
  if (!opts_.retention_schedule.empty()) {
    time_t t = now / 1000;
    struct tm lt;
    localtime_r(&t, &lt);
    char hm[8], day[16];
    std::snprintf(hm, sizeof hm, "%02d:%02d", lt.tm_hour, lt.tm_min);
    std::strftime(day, sizeof day, "%Y-%m-%d", &lt);
    if (opts_.retention_schedule == hm && last_retention_day_ != day) {
      last_retention_day_ = day;
      ApplyRetention(false, "schedule");
    }
  }
}

Status Chat::Reload(ChatOptions options) {
  if (options.db_dir != opts_.db_dir)
    LOG_WARN("chatd.db_dir changed to %s: takes effect after a restart", options.db_dir.c_str());
  options.db_dir = opts_.db_dir;
  opts_ = std::move(options);
  return base::Ok();
}

void Chat::RunBlocking(std::function<void()> work, std::function<void()> done) {
  struct Job {
    uv_work_t req;
    std::function<void()> work, done;
  };
  // Drain waits for these like for durable writes: their completions touch this object.
  ++writes_in_flight_;
  auto* job = new Job{{}, std::move(work), [this, done = std::move(done)] {
                        --writes_in_flight_;
                        done();
                        MaybeDrained();
                      }};
  job->req.data = job;
  uv_queue_work(
      loop_, &job->req, [](uv_work_t* r) { static_cast<Job*>(r->data)->work(); },
      [](uv_work_t* r, int) {
        auto* j = static_cast<Job*>(r->data);
        j->done();
        delete j;
      });
}

void Chat::MaybeDrained() {
  if (draining_ && writes_in_flight_ == 0 && drained_) {
    auto d = std::move(drained_);
    drained_ = nullptr;
    d();
  }
}

void Chat::WriteDurable(store::WriteBatch&& batch, std::function<void(Status)> done) {
  ++writes_in_flight_;
  db_->WriteDurable(std::move(batch), [this, done = std::move(done)](Status st) {
    --writes_in_flight_;
    if (!st.ok()) ++counters_.durable_failures;
    {
      // What a completion sends to one socket (a message's echo and its ack, say) leaves in one write.
      http::CorkWrites cork;
      done(st);
    }
    MaybeDrained();
  });
}

void Chat::Drain(std::function<void()> done) {
  draining_ = true;
  for (auto& [user, socks] : user_sockets_)
    for (auto& ws : socks) ws->Close(1001, "server shutting down");
  auto finish = [this, done = std::move(done)] {
    if (tick_) {
      uv_close(reinterpret_cast<uv_handle_t*>(tick_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
      tick_ = nullptr;
    }
    if (read_flush_) {
      uv_close(reinterpret_cast<uv_handle_t*>(read_flush_),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
      read_flush_ = nullptr;
    }
    FlushReads();
    Status st = db_->Close();
    if (!st.ok()) LOG_ERROR("closing the chat database: %s", st.error().message.c_str());
    done();
  };
  if (writes_in_flight_ == 0) {
    finish();
  } else {
    drained_ = std::move(finish);
  }
}

namespace {
constexpr uint64_t kReadFlushMs = 1000;
}

void Chat::MarkReadDirty(const std::string& room, const std::string& user) {
  dirty_reads_.emplace(room, user);
  if (!read_flush_) {
    read_flush_ = new uv_timer_t;
    uv_timer_init(loop_, read_flush_);
    read_flush_->data = this;
  }
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(read_flush_)))
    uv_timer_start(
        read_flush_, [](uv_timer_t* t) { static_cast<Chat*>(t->data)->FlushReads(); }, kReadFlushMs, 0);
}

void Chat::FlushReads() {
  if (dirty_reads_.empty() || !db_) return;
  store::WriteBatch b;
  for (const auto& [room, user] : dirty_reads_) {
    auto r = rooms_.find(room);
    if (r == rooms_.end()) continue;
    auto m = r->second.members.find(user);
    if (m == r->second.members.end()) continue;  // left meanwhile: nothing to save
    b.Put(kCfMembers, MemberKey(room, user), m->second.ToStored().Dump());
  }
  dirty_reads_.clear();
  // Not synced, like every read marker (MarkRead): a lost one only shows a message as unread.
  (void)db_->Write(std::move(b), false);
}

void Chat::AddStatus(Json& status) const {
  size_t online = 0;
  for (const auto& [u, s] : user_sockets_)
    if (!s.empty()) ++online;
  status.Set("chat", Json::Obj({{"db_dir", opts_.db_dir},
                                {"users", static_cast<int64_t>(users_.size())},
                                {"rooms", static_cast<int64_t>(rooms_.size())},
                                {"sessions", static_cast<int64_t>(sessions_.size())},
                                {"websockets", static_cast<int64_t>(WsCount())},
                                {"users_online", static_cast<int64_t>(online)},
                                {"messages_posted", counters_.messages_posted},
                                {"auth_source", opts_.auth_source},
                                {"ldap", opts_.ldap_enabled}}));
}

// ---- accounts ----

const User* Chat::FindUser(std::string_view id) const {
  auto it = users_.find(id);
  return it == users_.end() ? nullptr : &it->second;
}

User* Chat::FindUserMut(std::string_view id) {
  auto it = users_.find(id);
  return it == users_.end() ? nullptr : &it->second;
}

Status Chat::PutUser(const User& u) {
  store::WriteBatch b;
  b.Put(kCfUsers, u.id, u.ToStored().Dump());
  COLLAB_TRY(db_->Write(std::move(b), true));
  users_[u.id] = u;
  return base::Ok();
}

void Chat::AddUserAsync(User u, std::string password, std::function<void(Result<User>)> done) {
  u.id = NormalizeUserId(u.id);
  if (!ValidUserId(u.id))
    return done(MakeError(base::kExitDataErr, "invalid user id '" + u.id +
                                                  "': 1 to 64 of a-z 0-9 . _ -, starting with a letter or digit"));
  if (!u.name.empty() && !ValidRoomName(u.name)) return done(MakeError(base::kExitDataErr, "invalid display name"));
  if (u.role != "user" && u.role != "admin") return done(MakeError(base::kExitDataErr, "role must be user or admin"));
  if (FindUser(u.id)) return done(MakeError(base::kExitCantCreat, "user " + u.id + " already exists"));
  if (u.created_ms == 0) u.created_ms = base::WallClockMs();
  if (password.empty()) {
    Status st = PutUser(u);
    if (!st.ok()) return done(st.error());
    Audit("admin", "user.add", Json::Obj({{"user", u.id}}));
    return done(u);
  }
  auto hash = std::make_shared<Result<std::string>>(std::string());
  RunBlocking([hash, password] { *hash = auth::HashPassword(password); },
              [this, hash, u = std::move(u), done = std::move(done)]() mutable {
                if (!hash->ok()) return done(hash->error());
                if (FindUser(u.id)) return done(MakeError(base::kExitCantCreat, "user " + u.id + " already exists"));
                u.password_hash = hash->value();
                Status st = PutUser(u);
                if (!st.ok()) return done(st.error());
                Audit("admin", "user.add", Json::Obj({{"user", u.id}}));
                done(u);
              });
}

Result<std::string> Chat::CreateSession(const std::string& user, const std::string& peer, int64_t ttl_ms) {
  std::string token = auth::RandomToken(32);
  std::string hash = Sha256Hex(token);
  Session s;
  s.user = user;
  s.created_ms = base::WallClockMs();
  s.expires_ms = s.created_ms + ttl_ms;
  s.peer = peer;
  store::WriteBatch b;
  b.Put(kCfSessions, hash, s.ToStored().Dump());
  COLLAB_TRY(db_->Write(std::move(b), true));
  sessions_[hash] = s;
  return token;
}

void Chat::DeleteSession(const std::string& hash) {
  store::WriteBatch b;
  b.Delete(kCfSessions, hash);
  (void)db_->Write(std::move(b), true);
  sessions_.erase(hash);
  CloseSessionSockets(hash);  // the WebSockets of that session end too
}

void Chat::DeleteUserSessions(const std::string& user, int ws_close_code, const std::string& reason) {
  store::WriteBatch b;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second.user == user) {
      b.Delete(kCfSessions, it->first);
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
  if (!b.empty()) (void)db_->Write(std::move(b), true);
  CloseUserSockets(user, ws_close_code, reason);
}

const User* Chat::UserForToken(std::string_view token, std::string* session_hash) {
  if (token.empty() || token.size() > 256) return nullptr;
  std::string hash = Sha256Hex(token);
  auto it = sessions_.find(hash);
  if (it == sessions_.end()) return nullptr;
  if (it->second.expires_ms < base::WallClockMs()) return nullptr;
  const User* u = FindUser(it->second.user);
  if (!u || u->disabled) return nullptr;
  if (session_hash) *session_hash = hash;
  return u;
}

void Chat::Login(std::string username, std::string password, std::string peer,
                 std::function<void(ApiResult<std::pair<std::string, User>>)> done) {
  std::string id = NormalizeUserId(username);
  int64_t now = base::WallClockMs();
  auto throttled = [&](const std::string& key, int64_t limit) {
    auto it = throttle_.find(key);
    if (it == throttle_.end()) return false;
    if (now - it->second.since_ms > opts_.login_lockout_ms) {
      throttle_.erase(it);
      return false;
    }
    return it->second.failures >= limit;
  };
  std::string ukey = "u:" + id, akey = "a:" + peer;
  if (throttled(ukey, opts_.login_max_failures) || throttled(akey, opts_.login_max_failures * 4)) {
    ++counters_.logins_locked;
    return done(ApiError{429, "rate_limited", "too many failed logins; try again in " +
                                                  std::to_string(opts_.login_lockout_ms / 1000) + " seconds"});
  }
  auto fail = [this, ukey, akey, peer, id](int status, std::string code, std::string message) {
    int64_t t = base::WallClockMs();
    for (const auto& k : {ukey, akey}) {
      auto& th = throttle_[k];
      if (th.failures == 0 || t - th.since_ms > opts_.login_lockout_ms) th = Throttle{0, t};
      ++th.failures;
    }
    ++counters_.logins_failed;
    Audit(id, "login.failed", Json::Obj({{"peer", peer}, {"reason", message}}));
    return ApiError{status, std::move(code), std::move(message)};
  };
  auto succeed = [this, ukey, peer](const User& u) -> ApiResult<std::pair<std::string, User>> {
    throttle_.erase(ukey);
    auto token = CreateSession(u.id, peer, opts_.session_max_age_ms);
    if (!token) return ApiError{503, "unavailable", token.error().message};
    ++counters_.logins_ok;
    Audit(u.id, "login", Json::Obj({{"peer", peer}}));
    return std::make_pair(*token, u);
  };
  if (!ValidUserId(id) || password.empty() || password.size() > auth::kMaxPasswordBytes)
    return done(fail(401, "unauthorized", "invalid user name or password"));

  const User* local = FindUser(id);
  bool try_ldap = opts_.ldap_enabled && opts_.auth_source != "local" && (!local || local->source == "ldap");
  // "ldap": the directory is the only way in; local accounts (bots use sessions from
  // collab-admin user token) cannot log in with a password. "both": local accounts too.
  if (opts_.auth_source == "ldap" && local && local->source == "local")
    return done(fail(401, "unauthorized", "invalid user name or password"));
  if (try_ldap) {
    LdapLogin(id, password, [this, id, fail, succeed, done](Result<DirectoryEntry> e) {
      if (!e) {
        if (e.error().code == base::kExitUnavailable)
          return done(ApiError{503, "unavailable", "the staff directory cannot be reached; try again later"});
        if (e.error().message.find("disabled") != std::string::npos) {
          if (FindUser(id)) DeleteUserSessions(id, 4003, "account disabled");
          return done(fail(403, "forbidden", "account disabled"));
        }
        return done(fail(401, "unauthorized", "invalid user name or password"));
      }
      // Create or refresh the account from the directory entry.
      User u;
      if (const User* existing = FindUser(id)) u = *existing;
      u.id = id;
      u.name = e->name;
      u.department = e->department;
      u.email = e->email;
      u.source = "ldap";
      if (u.created_ms == 0) u.created_ms = base::WallClockMs();
      if (u.disabled && u.disabled_by == "admin") return done(fail(403, "forbidden", "account disabled"));
      // The directory just accepted the person: a directory-side disable is over.
      u.disabled = false;
      u.disabled_by.clear();
      Status st = PutUser(u);
      if (!st.ok()) return done(ApiError{503, "unavailable", st.error().message});
      done(succeed(u));
    });
    return;
  }
  if (!local || local->password_hash.empty() || local->source != "local") {
    // Spend the same time as a real check so response timing does not reveal which names exist.
    auto dummy = std::make_shared<bool>(false);
    RunBlocking([dummy, password] {
                  static const std::string kDummy = auth::HashPassword("x-unused-x").value();
                  *dummy = auth::VerifyPassword(kDummy, password);
                },
                [fail, done] { done(fail(401, "unauthorized", "invalid user name or password")); });
    return;
  }
  auto ok = std::make_shared<bool>(false);
  std::string hash = local->password_hash;
  RunBlocking([ok, hash, password] { *ok = auth::VerifyPassword(hash, password); },
              [this, ok, id, fail, succeed, done] {
                const User* u = FindUser(id);
                if (!u || !*ok) return done(fail(401, "unauthorized", "invalid user name or password"));
                if (u->disabled) return done(fail(403, "forbidden", "account disabled"));
                done(succeed(*u));
              });
}

void Chat::Audit(const std::string& actor, const std::string& action, Json details) {
  int64_t now = base::WallClockMs();
  Json line = Json::Obj({{"ts", now}, {"time", base::FormatRfc3339(now)}, {"actor", actor}, {"action", action}});
  if (details.is_object())
    for (auto& [k, v] : details.as_object()) line.Set(k, v);
  std::string key = store::KeyBuilder().U64(static_cast<uint64_t>(now)).U64(++audit_n_).Take();
  store::WriteBatch b;
  b.Put(kCfAudit, key, line.Dump());
  Status st = db_->Write(std::move(b), false);
  if (!st.ok()) LOG_ERROR("audit write failed: %s", st.error().message.c_str());
  LOG_INFO("audit: %s", line.Dump().c_str());
}

Json Chat::AuditList(size_t limit, int64_t since_ms) {
  Json out = Json::MakeArray();
  auto it = db_->NewIterator(kCfAudit);
  if (!it) return out;
  std::vector<Json> lines;
  for ((*it)->SeekToLast(); (*it)->Valid() && lines.size() < limit; (*it)->Prev()) {
    auto ts = store::ReadU64BE((*it)->key(), 0);
    if (ts && static_cast<int64_t>(*ts) < since_ms) break;
    auto j = Json::Parse((*it)->value());
    if (j) lines.push_back(std::move(*j));
  }
  for (auto r = lines.rbegin(); r != lines.rend(); ++r) out.Push(std::move(*r));
  return out;
}

}  // namespace collab::chat
