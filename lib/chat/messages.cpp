// Rooms, membership and messages: who may see and post where, posting with durable
// acknowledgement and idempotent client ids, history, threads, edits, reactions, pins, read
// state, unread and mention counts, and the @all/@here rules.
#include <algorithm>

#include "lib/base/log.hpp"
#include "lib/base/time.hpp"
#include "lib/chat/chat.hpp"
#include "lib/store/db.hpp"
#include "lib/store/keys.hpp"

namespace collab::chat {

using base::Json;
using base::Status;

namespace {

std::string PendingKey(std::string_view room, uint64_t seq) {
  std::string k(room);
  k.push_back('\0');
  k += std::to_string(seq);
  return k;
}


}  // namespace

Room* Chat::FindRoom(std::string_view id) {
  auto it = rooms_.find(id);
  return it == rooms_.end() ? nullptr : &it->second;
}

const Room* Chat::FindRoom(std::string_view id) const {
  auto it = rooms_.find(id);
  return it == rooms_.end() ? nullptr : &it->second;
}

bool Chat::CanSee(const Room& r, const User& u) const {
  if (r.members.count(u.id)) return true;
  return r.kind == RoomKind::kPublic || r.kind == RoomKind::kAnnouncement;
}

std::optional<Role> Chat::RoleIn(const Room& r, const std::string& user) const {
  auto it = r.members.find(user);
  if (it == r.members.end()) return std::nullopt;
  return it->second.role;
}

bool Chat::IsModerator(const Room& r, const User& u) const {
  if (u.role == "admin") return true;
  auto role = RoleIn(r, u.id);
  return role && *role >= Role::kModerator;
}

Status Chat::SaveRoom(const Room& r) {
  store::WriteBatch b;
  b.Put(kCfRooms, r.id, r.ToStored().Dump());
  return db_->Write(std::move(b), true);
}

uint64_t Chat::UnreadCount(const Room& r, uint64_t read_seq) const {
  auto it = std::upper_bound(r.message_seqs.begin(), r.message_seqs.end(), read_seq);
  return static_cast<uint64_t>(r.message_seqs.end() - it);
}

uint64_t Chat::MentionCount(const std::string& user, const Room& r, uint64_t read_seq) const {
  if (r.kind == RoomKind::kDm) return UnreadCount(r, read_seq);
  auto u = mentions_.find(user);
  if (u == mentions_.end()) return 0;
  auto m = u->second.find(r.id);
  if (m == u->second.end()) return 0;
  auto it = std::upper_bound(m->second.begin(), m->second.end(), read_seq);
  return static_cast<uint64_t>(m->second.end() - it);
}

uint32_t Chat::ReplyCount(const Room& r, uint64_t seq) const {
  auto it = r.reply_counts.find(seq);
  return it == r.reply_counts.end() ? 0 : it->second;
}

Json Chat::RoomJson(const Room& r, const User* viewer) const {
  Json j = Json::Obj({{"id", r.id},
                      {"name", r.name},
                      {"kind", RoomKindName(r.kind)},
                      {"topic", r.topic},
                      {"read_only", r.OnlyModeratorsPost()},
                      {"archived", r.archived},
                      {"member_count", static_cast<int64_t>(r.members.size())},
                      {"last_seq", r.delivered_seq},
                      {"created_at", r.created_ms},
                      {"created_by", r.created_by},
                      {"mass_mention_role", RoleName(r.mass_mention_role)},
                      {"retention_message_days", r.retention_message_days}});
  if (!r.department.empty()) j.Set("department", r.department);
  if (r.kind == RoomKind::kDm) {
    Json others = Json::MakeArray();
    for (const auto& [id, m] : r.members)
      if (!viewer || id != viewer->id) others.Push(id);
    j.Set("dm_users", std::move(others));
  }
  if (viewer) {
    auto it = r.members.find(viewer->id);
    if (it != r.members.end()) {
      j.Set("member", true);
      j.Set("role", RoleName(it->second.role));
      j.Set("muted", it->second.muted);
      j.Set("read_seq", it->second.read_seq);
      j.Set("unread", UnreadCount(r, it->second.read_seq));
      j.Set("mentions", MentionCount(viewer->id, r, it->second.read_seq));
    } else {
      j.Set("member", false);
    }
  }
  return j;
}

Chat::ApiResult<Room*> Chat::CreateRoom(const User& creator, std::string name, RoomKind kind, std::string topic,
                                        const std::vector<std::string>& members) {
  if (!ValidRoomName(name)) return ApiError{400, "bad_request", "room name must be 1 to 80 bytes of text on one line"};
  if (topic.size() > 1024 || !ValidText(topic)) return ApiError{400, "bad_request", "topic must be up to 1024 bytes of text"};
  if (kind == RoomKind::kDm) return ApiError{400, "bad_request", "use /api/v1/dms for direct messages"};
  if (kind == RoomKind::kAnnouncement && creator.role != "admin" && creator.source != "system")
    return ApiError{403, "forbidden", "only administrators create announcement channels"};
  if (members.size() > 10000) return ApiError{400, "bad_request", "too many members"};
  for (const auto& m : members)
    if (!FindUser(m)) return ApiError{400, "bad_request", "no such user: " + m};
  Room r;
  r.id = NewRoomId();
  r.name = std::move(name);
  r.kind = kind;
  r.topic = std::move(topic);
  r.created_by = creator.id;
  r.created_ms = base::WallClockMs();
  int64_t now = r.created_ms;
  store::WriteBatch b;
  b.Put(kCfRooms, r.id, r.ToStored().Dump());
  if (FindUser(creator.id)) r.members[creator.id] = Member{Role::kOwner, false, 0, now};
  for (const auto& m : members)
    if (!r.members.count(m)) r.members[m] = Member{Role::kMember, false, 0, now};
  for (const auto& [u, m] : r.members) b.Put(kCfMembers, MemberKey(r.id, u), m.ToStored().Dump());
  Status st = db_->Write(std::move(b), true);
  if (!st.ok()) return ApiError{503, "unavailable", st.error().message};
  std::string id = r.id;
  Room& stored = rooms_[id] = std::move(r);
  for (const auto& [u, m] : stored.members) user_rooms_[u].insert(id);
  Audit(creator.id, "room.create", Json::Obj({{"room", id}, {"name", stored.name}, {"kind", RoomKindName(kind)}}));
  std::string frame = Json::Obj({{"type", "room"}, {"room", RoomJson(stored, nullptr)}}).Dump();
  for (const auto& [u, m] : stored.members) SendToUser(u, frame);
  return &stored;
}

Chat::ApiResult<Room*> Chat::OpenDm(const User& u, std::vector<std::string> others) {
  for (auto& o : others) o = NormalizeUserId(o);
  others.push_back(u.id);
  std::sort(others.begin(), others.end());
  others.erase(std::unique(others.begin(), others.end()), others.end());
  if (others.size() < 2) return ApiError{400, "bad_request", "a direct message needs at least one other user"};
  if (others.size() > 9) return ApiError{400, "bad_request", "a group direct message has at most 9 people"};
  std::string names;
  for (const auto& o : others) {
    const User* ou = FindUser(o);
    if (!ou) return ApiError{400, "bad_request", "no such user: " + o};
    if (ou->disabled) return ApiError{400, "bad_request", "user is disabled: " + o};
    if (!names.empty()) names += ", ";
    names += ou->name.empty() ? ou->id : ou->name;
  }
  std::string key;
  for (const auto& o : others) key += o + "\n";
  if (auto it = dm_index_.find(key); it != dm_index_.end()) {
    if (Room* r = FindRoom(it->second)) return r;
  }
  Room r;
  r.id = NewRoomId();
  r.name = names.size() > 80 ? names.substr(0, 77) + "..." : names;
  while (!ValidRoomName(r.name) && !r.name.empty()) r.name.pop_back();  // never cut inside a character
  r.kind = RoomKind::kDm;
  r.created_by = u.id;
  r.created_ms = base::WallClockMs();
  r.dm_key = key;
  for (const auto& o : others) r.members[o] = Member{Role::kMember, false, 0, r.created_ms};
  store::WriteBatch b;
  b.Put(kCfRooms, r.id, r.ToStored().Dump());
  for (const auto& [id, m] : r.members) b.Put(kCfMembers, MemberKey(r.id, id), m.ToStored().Dump());
  Status st = db_->Write(std::move(b), true);
  if (!st.ok()) return ApiError{503, "unavailable", st.error().message};
  std::string id = r.id;
  dm_index_[key] = id;
  Room& stored = rooms_[id] = std::move(r);
  for (const auto& [m, mem] : stored.members) user_rooms_[m].insert(id);
  for (const auto& [m, mem] : stored.members)
    SendToUser(m, Json::Obj({{"type", "room"}, {"room", RoomJson(stored, FindUser(m))}}).Dump());
  return &stored;
}

Chat::ApiResult<bool> Chat::SetMember(Room& r, const std::string& user, std::optional<Role> role,
                                      const std::string& actor) {
  if (r.kind == RoomKind::kDm) return ApiError{400, "bad_request", "members of a direct message cannot change"};
  const User* u = FindUser(user);
  if (!u) return ApiError{404, "not_found", "no such user: " + user};
  auto it = r.members.find(user);
  Member m = it == r.members.end() ? Member{Role::kMember, false, r.delivered_seq, base::WallClockMs()} : it->second;
  bool is_new = it == r.members.end();
  if (role) m.role = *role;
  store::WriteBatch b;
  b.Put(kCfMembers, MemberKey(r.id, user), m.ToStored().Dump());
  Status st = db_->Write(std::move(b), true);
  if (!st.ok()) return ApiError{503, "unavailable", st.error().message};
  r.members[user] = m;
  user_rooms_[user].insert(r.id);
  Audit(actor, is_new ? "room.member.add" : "room.member.role",
        Json::Obj({{"room", r.id}, {"user", user}, {"role", RoleName(m.role)}}));
  Json ev = Json::Obj({{"type", "member"}, {"room", r.id}, {"user", user}, {"role", RoleName(m.role)}});
  FanOut(r, ev.Dump());
  if (is_new) SendToUser(user, Json::Obj({{"type", "room"}, {"room", RoomJson(r, u)}}).Dump());
  return true;
}

Chat::ApiResult<bool> Chat::RemoveMember(Room& r, const std::string& user, const std::string& actor) {
  if (r.kind == RoomKind::kDm) return ApiError{400, "bad_request", "members of a direct message cannot change"};
  auto it = r.members.find(user);
  if (it == r.members.end()) return ApiError{404, "not_found", user + " is not a member"};
  if (it->second.role == Role::kOwner) {
    size_t owners = 0;
    for (const auto& [id, m] : r.members)
      if (m.role == Role::kOwner) ++owners;
    if (owners == 1 && r.members.size() > 1)
      return ApiError{409, "conflict", "the last owner cannot leave; make someone else owner first"};
  }
  store::WriteBatch b;
  b.Delete(kCfMembers, MemberKey(r.id, user));
  Status st = db_->Write(std::move(b), true);
  if (!st.ok()) return ApiError{503, "unavailable", st.error().message};
  Json ev = Json::Obj({{"type", "member"}, {"room", r.id}, {"user", user}, {"role", nullptr}});
  std::string frame = ev.Dump();
  FanOut(r, frame);  // includes the leaving user, who learns they are out
  r.members.erase(user);
  user_rooms_[user].erase(r.id);
  Audit(actor, "room.member.remove", Json::Obj({{"room", r.id}, {"user", user}}));
  return true;
}

// ---- messages ----

Chat::ApiResult<Message> Chat::LoadMessage(const Room& r, uint64_t seq) {
  auto p = pending_messages_.find(PendingKey(r.id, seq));
  if (p != pending_messages_.end()) return p->second.first;
  auto v = db_->Get(kCfMessages, MessageKey(r.id, seq));
  if (!v) return ApiError{503, "unavailable", v.error().message};
  if (!v->has_value()) return ApiError{404, "not_found", "no message " + std::to_string(seq) + " in this room"};
  auto m = Message::FromStored(**v);
  if (!m) return ApiError{500, "internal", m.error().message};
  return *m;
}

void Chat::Post(const User& u, PostRequest req, Reply done) {
  auto fail = [&](int status, std::string code, std::string message) {
    done(status, Json::Obj({{"code", std::move(code)}, {"message", std::move(message)}}));
  };
  if (draining_) return fail(503, "unavailable", "server is shutting down");
  Room* rp = FindRoom(req.room);
  if (!rp || !CanSee(*rp, u)) return fail(404, "not_found", "no such room: " + req.room);
  Room& r = *rp;
  auto role = RoleIn(r, u.id);
  if (!role) return fail(403, "forbidden", "join the room before posting");
  if (r.archived) return fail(403, "forbidden", "the room is archived");
  if (r.OnlyModeratorsPost() && !IsModerator(r, u))
    return fail(403, "forbidden", "only owners and moderators post in this room");
  std::vector<FileRef> files;
  if (!req.files.empty()) {
    auto f = ResolveFiles(r, req.files);
    if (!f) return fail(400, "bad_request", f.error().message);
    files = std::move(*f);
  }
  if (req.text.empty() && files.empty() && !req.attachments.is_array())
    return fail(400, "bad_request", "text must not be empty");
  if (req.text.size() > opts_.max_message_bytes)
    return fail(413, "payload_too_large",
                "text is " + std::to_string(req.text.size()) + " bytes; the limit is " +
                    std::to_string(opts_.max_message_bytes));
  if (!ValidText(req.text)) return fail(400, "bad_request", "text must be valid UTF-8 without control characters");
  // Without a client id the post is not idempotent; it still needs a unique one of its own.
  if (req.client_id.empty()) req.client_id = "s-" + std::to_string(base::WallClockMs()) + "-" + std::to_string(++server_ids_);
  if (!ValidClientId(req.client_id)) return fail(400, "bad_request", "client_id must be 1 to 128 printable ASCII characters");
  if (req.thread) {
    if (!std::binary_search(r.message_seqs.begin(), r.message_seqs.end(), req.thread))
      return fail(404, "not_found", "no message " + std::to_string(req.thread) + " to reply to in this room");
    auto root = LoadMessage(r, req.thread);
    if (std::holds_alternative<ApiError>(root)) {
      const auto& e = std::get<ApiError>(root);
      return fail(e.status, e.code, e.message);
    }
    // Replies attach to the thread's root, never to another reply.
    if (std::get<Message>(root).thread) req.thread = std::get<Message>(root).thread;
  }

  // Idempotency: the same client id from the same user is the same message.
  std::string pkey = u.id + '\0' + r.id + '\0' + req.client_id;
  if (auto p = pending_posts_.find(pkey); p != pending_posts_.end()) {
    p->second.push_back(std::move(done));
    return;
  }
  auto prev = db_->Get(kCfClientIds, ClientIdKey(u.id, r.id, req.client_id));
  if (!prev) return fail(503, "unavailable", prev.error().message);
  if (prev->has_value()) {
    auto k = SplitRoomSeqKey(**prev);
    Room* pr = k ? FindRoom(k->first) : nullptr;
    if (pr) {
      auto m = LoadMessage(*pr, k->second);
      if (std::holds_alternative<Message>(m)) {
        const Message& msg = std::get<Message>(m);
        return done(200, msg.ToClient(ReplyCount(*pr, msg.seq), false));
      }
    }
    return fail(409, "conflict", "client_id was used for a message that no longer exists");
  }

  MentionScan scan = ScanMentions(req.text);
  bool mass = scan.all || scan.here;
  int64_t now = base::WallClockMs();
  if (mass) {
    if (r.kind != RoomKind::kDm) {
      if (u.role != "admin" && *role < r.mass_mention_role)
        return fail(403, "forbidden",
                    std::string("@all and @here are reserved to ") + RoleName(r.mass_mention_role) +
                        "s and above in this room");
      if (r.members.size() > opts_.mass_mention_confirm_members && !req.confirm_mass_mention)
        return done(409, Json::Obj({{"code", "confirm_required"},
                                    {"message", "@all/@here would notify " + std::to_string(r.members.size() - 1) +
                                                    " people; send again with confirm_mass_mention to proceed"},
                                    {"recipients", static_cast<int64_t>(r.members.size() - 1)}}));
      auto& times = r.mass_mention_times;
      times.erase(std::remove_if(times.begin(), times.end(), [&](int64_t t) { return now - t > 3600 * 1000; }),
                  times.end());
      if (opts_.mass_mention_per_hour >= 0 && static_cast<int64_t>(times.size()) >= opts_.mass_mention_per_hour)
        return fail(429, "rate_limited", "this room reached its limit of " +
                                             std::to_string(opts_.mass_mention_per_hour) +
                                             " @all/@here notifications per hour");
      times.push_back(now);
    }
  }

  Message m;
  m.room = r.id;
  m.seq = ++r.last_seq;
  m.user = u.id;
  m.text = std::move(req.text);
  m.client_id = req.client_id;
  m.ts = now;
  m.thread = req.thread;
  m.mention_all = scan.all;
  m.mention_here = scan.here;
  m.files = std::move(files);
  m.alias = std::move(req.alias);
  m.emoji = std::move(req.emoji);
  m.attachments = std::move(req.attachments);
  for (const auto& id : scan.users)
    if (r.members.count(id) && id != u.id) m.mentions.push_back(id);

  store::WriteBatch b;
  b.Put(kCfMessages, MessageKey(r.id, m.seq), m.ToStored().Dump());
  b.Put(kCfClientIds, ClientIdKey(u.id, r.id, m.client_id), MessageKey(r.id, m.seq));
  for (const auto& id : m.mentions) b.Put(kCfMentions, MentionKey(id, r.id, m.seq), "");
  if (m.thread) b.Put(kCfThreads, ThreadKey(r.id, m.thread, m.seq), "");

  uint64_t ticket = search_ ? search_->IndexMessage(m, b) : 0;
  pending_posts_[pkey].push_back(std::move(done));
  std::string room_id = r.id;
  int64_t started = base::MonotonicMs();
  WriteDurable(std::move(b), [this, room_id, m = std::move(m), pkey, started, ticket](Status st) mutable {
    if (search_) search_->Committed(ticket, st.ok());
    auto waiters = std::move(pending_posts_[pkey]);
    pending_posts_.erase(pkey);
    Room* rr = FindRoom(room_id);
    if (!rr) return;
    rr->delivered_seq = std::max(rr->delivered_seq, m.seq);
    if (!st.ok()) {
      LOG_ERROR("message %s/%llu not stored: %s", room_id.c_str(), static_cast<unsigned long long>(m.seq),
                st.error().message.c_str());
      for (auto& w : waiters)
        w(503, Json::Obj({{"code", "unavailable"}, {"message", "the message could not be stored; retry"}}));
      return;
    }
    double ms = static_cast<double>(base::MonotonicMs() - started);
    size_t bi = 0;
    while (bi < 11 && ms > kAckBucketsMs[bi]) ++bi;
    ++counters_.ack_buckets[bi];
    counters_.ack_sum_ms += ms;
    ++counters_.ack_count;
    ++counters_.messages_posted;
    rr->message_seqs.push_back(m.seq);
    if (m.thread) ++rr->reply_counts[m.thread];
    for (const auto& id : m.mentions) mentions_[id][room_id].push_back(m.seq);
    // The author has read everything up to their own message (saved with the next read flush).
    if (auto mem = rr->members.find(m.user); mem != rr->members.end() && mem->second.read_seq < m.seq) {
      mem->second.read_seq = m.seq;
      MarkReadDirty(room_id, m.user);
    }
    Json body = m.ToClient(0, false);
    FanOut(*rr, Json::Obj({{"type", "message"}, {"message", body}}).Dump());
    if (m.thread) {
      // The root's reply count changed: tell clients without a full update event.
      FanOut(*rr, Json::Obj({{"type", "thread"},
                             {"room", room_id},
                             {"root", m.thread},
                             {"reply_count", ReplyCount(*rr, m.thread)},
                             {"last_reply", m.seq}})
                      .Dump());
    }
    Notify(*rr, m);
    HelpdeskOnMessage(*rr, m);
    for (auto& w : waiters) w(201, body);
  });
}

void Chat::Search(const User& u, SearchIndex::Query q, Reply done) {
  auto fail = [&](int status, const char* code, std::string message) {
    done(status, Json::Obj({{"code", code}, {"message", std::move(message)}}));
  };
  if (!search_) return fail(503, "unavailable", "search is not available");
  // Readable: rooms the user is in, plus public and announcement rooms.
  std::vector<std::string> wanted = std::move(q.rooms);
  q.rooms.clear();
  auto readable = [&](const Room& r) { return CanSee(r, u); };
  if (!wanted.empty()) {
    for (const auto& id : wanted) {
      const Room* r = FindRoom(id);
      if (!r || !readable(*r)) return fail(404, "not_found", "no such room: " + id);
      q.rooms.push_back(id);
    }
  } else {
    for (const auto& [id, r] : rooms_)
      if (readable(r)) q.rooms.push_back(id);
  }
  auto res = search_->Search(q);
  if (!res) return fail(res.error().code == base::kExitDataErr ? 400 : 503,
                        res.error().code == base::kExitDataErr ? "bad_request" : "unavailable", res.error().message);
  Json hits = Json::MakeArray();
  for (const auto& h : res->hits) {
    Room* r = FindRoom(h.room);
    if (!r) continue;
    auto m = LoadMessage(*r, h.seq);
    if (!std::holds_alternative<Message>(m)) continue;
    const Message& msg = std::get<Message>(m);
    hits.Push(Json::Obj({{"room", Json::Obj({{"id", r->id}, {"name", r->name}, {"kind", RoomKindName(r->kind)}})},
                         {"message", msg.ToClient(ReplyCount(*r, msg.seq), false)}}));
  }
  done(200, Json::Obj({{"total", res->total}, {"hits", std::move(hits)}}));
}

void Chat::Notify(const Room& r, const Message& m) {
  // Who this message is for: everyone in a DM, the people it mentions, and for @all every member
  // (@here: those connected). Muting a room silences everything there except direct mentions.
  std::string frame;
  auto notify = [&](const std::string& user, const char* reason) {
    if (user == m.user) return;
    if (frame.empty())
      frame = Json::Obj({{"type", "notify"}, {"room", r.id}, {"seq", m.seq}, {"user", m.user}}).Dump();
    std::string f = frame;
    f.insert(f.size() - 1, std::string(",\"reason\":\"") + reason + "\"");
    SendToUser(user, f);
  };
  std::set<std::string> done;
  for (const auto& id : m.mentions)
    if (r.members.count(id) && done.insert(id).second) notify(id, "mention");
  bool dm = r.kind == RoomKind::kDm;
  if (!dm && !m.mention_all && !m.mention_here) return;
  for (const auto& [id, mem] : r.members) {
    if (done.count(id) || mem.muted) continue;
    if (!dm && m.mention_here && !m.mention_all && PresenceOf(id) == "offline") continue;
    notify(id, dm ? "direct" : (m.mention_all ? "all" : "here"));
  }
}

void Chat::History(const User& u, const Room& r, uint64_t before, uint64_t after, size_t limit, uint64_t thread,
                   Reply done) {
  if (limit == 0) limit = 50;
  limit = std::min<size_t>(limit, 200);
  bool with_history = IsModerator(r, u);
  Json list = Json::MakeArray();
  bool more = false;
  uint64_t hi = std::min(before ? before - 1 : r.delivered_seq, r.delivered_seq);
  std::vector<Message> got;
  auto add = [&](std::string_view value) {
    auto m = Message::FromStored(value);
    if (m) got.push_back(std::move(*m));
  };
  if (thread) {
    auto root = LoadMessage(r, thread);
    if (std::holds_alternative<ApiError>(root)) {
      const auto& e = std::get<ApiError>(root);
      return done(e.status, Json::Obj({{"code", e.code}, {"message", e.message}}));
    }
    std::string prefix = ThreadPrefix(r.id, thread);
    store::IterOptions io{prefix, store::PrefixUpperBound(prefix)};
    auto it = db_->NewIterator(kCfThreads, io);
    if (!it) return done(503, Json::Obj({{"code", "unavailable"}, {"message", it.error().message}}));
    got.push_back(std::get<Message>(root));
    size_t n = 0;
    for ((*it)->SeekToFirst(); (*it)->Valid(); (*it)->Next()) {
      auto seq = store::ReadU64BE((*it)->key(), prefix.size());
      if (!seq || (after != kNoCursor && *seq <= after) || *seq > hi) continue;
      if (n++ >= limit) {
        more = true;
        break;
      }
      auto m = LoadMessage(r, *seq);
      if (std::holds_alternative<Message>(m)) got.push_back(std::get<Message>(m));
    }
  } else if (after != kNoCursor) {
    std::string lo = MessageKey(r.id, after + 1);
    store::IterOptions io{lo, MessageKey(r.id, hi + 1)};
    auto it = db_->NewIterator(kCfMessages, io);
    if (!it) return done(503, Json::Obj({{"code", "unavailable"}, {"message", it.error().message}}));
    for ((*it)->SeekToFirst(); (*it)->Valid(); (*it)->Next()) {
      if (got.size() >= limit) {
        more = true;
        break;
      }
      add((*it)->value());
    }
  } else {
    store::IterOptions io{MessageKey(r.id, 0), MessageKey(r.id, hi + 1)};
    auto it = db_->NewIterator(kCfMessages, io);
    if (!it) return done(503, Json::Obj({{"code", "unavailable"}, {"message", it.error().message}}));
    for ((*it)->SeekToLast(); (*it)->Valid(); (*it)->Prev()) {
      if (got.size() >= limit) {
        more = true;
        break;
      }
      add((*it)->value());
    }
    std::reverse(got.begin(), got.end());
  }
  for (auto& m : got) {
    auto p = pending_messages_.find(PendingKey(r.id, m.seq));
    const Message& shown = p != pending_messages_.end() ? p->second.first : m;
    Json j = shown.ToClient(ReplyCount(r, shown.seq), with_history);
    if (!shown.files.empty()) {
      // Attachments removed by retention stay listed, marked expired.
      Json* fl = j.Find("files");
      for (Json& f : fl->as_array())
        if (!FileInRoom(f.GetString("id"), r.id)) f.Set("expired", true);
    }
    list.Push(std::move(j));
  }
  done(200, Json::Obj({{"messages", std::move(list)}, {"more", more}, {"last_seq", r.delivered_seq}}));
}

void Chat::UpdateMessage(Room& r, uint64_t seq, std::function<std::optional<ApiError>(Message&)> change,
                         Reply done) {
  auto fail = [&](const ApiError& e) { done(e.status, Json::Obj({{"code", e.code}, {"message", e.message}})); };
  if (draining_) return fail(ApiError{503, "unavailable", "server is shutting down"});
  auto loaded = LoadMessage(r, seq);
  if (std::holds_alternative<ApiError>(loaded)) return fail(std::get<ApiError>(loaded));
  Message m = std::get<Message>(loaded);
  const Message before = m;
  bool was_pinned = m.pinned;
  if (auto e = change(m)) return fail(*e);
  m.update_seq = ++r.last_seq;
  store::WriteBatch b;
  b.Put(kCfMessages, MessageKey(r.id, seq), m.ToStored().Dump());
  std::string ev;
  store::AppendU64BE(ev, seq);
  b.Put(kCfEvents, EventKey(r.id, m.update_seq), ev);
  if (m.pinned != was_pinned) {
    if (m.pinned) b.Put(kCfPins, MessageKey(r.id, seq), "");
    else b.Delete(kCfPins, MessageKey(r.id, seq));
  }
  uint64_t ticket = search_ ? search_->UpdateMessage(before, m, b) : 0;
  std::string pk = PendingKey(r.id, seq);
  auto& pend = pending_messages_[pk];
  pend.first = m;
  ++pend.second;
  std::string room_id = r.id;
  WriteDurable(std::move(b), [this, room_id, pk, m, ticket, done = std::move(done)](Status st) {
    if (search_) search_->Committed(ticket, st.ok());
    auto p = pending_messages_.find(pk);
    if (p != pending_messages_.end() && --p->second.second == 0) pending_messages_.erase(p);
    Room* rr = FindRoom(room_id);
    if (!rr) return;
    rr->delivered_seq = std::max(rr->delivered_seq, m.update_seq);
    if (!st.ok())
      return done(503, Json::Obj({{"code", "unavailable"}, {"message", "the change could not be stored; retry"}}));
    ++counters_.messages_updated;
    if (m.pinned) rr->pinned.insert(m.seq);
    else rr->pinned.erase(m.seq);
    Json body = m.ToClient(ReplyCount(*rr, m.seq), false);
    FanOut(*rr, Json::Obj({{"type", "message_updated"}, {"message", body}}).Dump());
    done(200, body);
  });
}

void Chat::MarkRead(const User& u, Room& r, uint64_t seq) {
  auto it = r.members.find(u.id);
  if (it == r.members.end()) return;
  seq = std::min(seq, r.delivered_seq);
  if (seq <= it->second.read_seq) return;
  it->second.read_seq = seq;
  store::WriteBatch b;
  b.Put(kCfMembers, MemberKey(r.id, u.id), it->second.ToStored().Dump());
  // Not synced: a read marker lost to a power cut is harmless; it is in the WAL for crashes.
  (void)db_->Write(std::move(b), false);
  std::string frame = Json::Obj({{"type", "read"}, {"room", r.id}, {"user", u.id}, {"seq", seq}}).Dump();
  // Small rooms see each other's read state (既読); large ones only the reader's own sessions.
  if (r.members.size() <= 20) FanOut(r, frame);
  else SendToUser(u.id, frame);
}

void Chat::SetMuted(const User& u, Room& r, bool muted) {
  auto it = r.members.find(u.id);
  if (it == r.members.end()) return;
  it->second.muted = muted;
  store::WriteBatch b;
  b.Put(kCfMembers, MemberKey(r.id, u.id), it->second.ToStored().Dump());
  (void)db_->Write(std::move(b), true);
  SendToUser(u.id, Json::Obj({{"type", "room"}, {"room", RoomJson(r, &u)}}).Dump());
}

Json Chat::Receipts(const Room& r, uint64_t seq) const {
  Json read = Json::MakeArray(), unread = Json::MakeArray();
  for (const auto& [id, m] : r.members) {
    const User* u = FindUser(id);
    Json who = Json::Obj({{"id", id}, {"name", u ? (u->name.empty() ? id : u->name) : id}});
    if (u) who.Set("department", u->department);
    (m.read_seq >= seq ? read : unread).Push(std::move(who));
  }
  return Json::Obj({{"seq", seq},
                    {"read_count", static_cast<int64_t>(read.size())},
                    {"unread_count", static_cast<int64_t>(unread.size())},
                    {"read", std::move(read)},
                    {"unread", std::move(unread)}});
}

}  // namespace collab::chat
