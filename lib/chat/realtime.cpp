// The realtime hub: one WebSocket per client tab carrying room events, resume from per-room
// cursors with nothing missed and nothing repeated, typing, read state and presence.
//
// Why sessions are silent until their hello: events fanned out between the upgrade and the
// hello would otherwise also come back in the hello's catch-up. Catch-up and going live happen
// in one turn of the loop, and catch-up reads only up to each room's delivered_seq (the highest
// sequence already fanned out), so every event reaches a session exactly once.
#include <algorithm>

#include "lib/base/log.hpp"
#include "lib/base/time.hpp"
#include "lib/chat/chat.hpp"
#include "lib/http/server.hpp"
#include "lib/store/db.hpp"
#include "lib/store/keys.hpp"

namespace collab::chat {

using base::Json;

namespace {
constexpr size_t kMaxCatchUpPerRoom = 2000;
constexpr size_t kMaxPresenceWatch = 1000;
}  // namespace

struct Chat::WsState {
  std::string user;
  std::string session_hash;
  int64_t expires_ms = 0;  // the session's end: nothing is delivered after it
  bool ready = false;
  int64_t last_activity_ms = 0;
  std::set<std::string> watching;  // users whose presence this socket follows
};

namespace {

std::shared_ptr<Chat::WsState> StateOf(const std::shared_ptr<http::WebSocket>& ws) {
  auto* p = std::any_cast<std::shared_ptr<Chat::WsState>>(&ws->user_data());
  return p ? *p : nullptr;
}

std::string ErrorFrame(std::string_view code, std::string_view message, const Json& client_id = Json()) {
  Json j = Json::Obj({{"type", "error"}, {"error", Json::Obj({{"code", code}, {"message", message}})}});
  if (!client_id.is_null()) j.Set("client_id", client_id);
  return j.Dump();
}

// The session token of an upgrade request: ?token=, Authorization: Bearer, or the cookie.
std::string TokenOf(const http::Request& req, bool* from_cookie) {
  *from_cookie = false;
  std::string t = req.QueryParam("token");
  if (!t.empty()) return t;
  std::string a = req.Header("authorization");
  if (a.rfind("Bearer ", 0) == 0) return a.substr(7);
  t = CookieValue(req.Header("cookie"), "collab_session");
  *from_cookie = !t.empty();
  return t;
}

// Browsers send cookies with cross-site WebSocket upgrades (SameSite does not cover another
// port of the same host): a cookie-authenticated socket must come from our own origin.
bool SameOrigin(const http::Request& req) {
  std::string origin = req.Header("origin");
  std::string host = req.Header("host");
  return origin.empty() || origin == "http://" + host || origin == "https://" + host;
}

}  // namespace

size_t Chat::WsCount() const {
  size_t n = 0;
  for (const auto& [u, s] : user_sockets_) n += s.size();
  return n;
}

void Chat::SendToUser(const std::string& user, const std::string& frame) {
  auto it = user_sockets_.find(user);
  if (it == user_sockets_.end()) return;
  int64_t now = base::WallClockMs();
  for (auto& ws : it->second) {
    auto st = StateOf(ws);
    if (st && st->ready && now <= st->expires_ms) ws->Send(frame);
  }
}

void Chat::FanOut(const Room& r, const std::string& frame, const std::string& except_user) {
  int64_t now = base::WallClockMs();
  for (const auto& [id, m] : r.members) {
    if (id == except_user) continue;
    auto it = user_sockets_.find(id);
    if (it == user_sockets_.end()) continue;
    for (auto& ws : it->second) {
      auto st = StateOf(ws);
      if (st && st->ready && now <= st->expires_ms) {
        ws->Send(frame);
        ++counters_.deliveries;
      }
    }
  }
}

std::string Chat::PresenceOf(const std::string& user) const {
  auto it = user_sockets_.find(user);
  if (it == user_sockets_.end() || it->second.empty()) return "offline";
  const User* u = FindUser(user);
  if (u && u->away) return "away";
  int64_t now = base::WallClockMs();
  for (const auto& ws : it->second) {
    auto st = StateOf(ws);
    if (st && now - st->last_activity_ms < opts_.away_after_ms) return "online";
  }
  return "away";
}

void Chat::PresenceChanged(const std::string& user, bool force) {
  std::string now = PresenceOf(user);
  auto& last = last_presence_[user];
  if (last == now && !force) return;
  last = now;
  const User* u = FindUser(user);
  std::string frame = Json::Obj({{"type", "presence"},
                                 {"user", user},
                                 {"presence", now},
                                 {"status_text", u ? u->status_text : std::string()}})
                          .Dump();
  SendToUser(user, frame);
  auto w = presence_watchers_.find(user);
  if (w == presence_watchers_.end()) return;
  for (const auto& watcher : w->second)
    if (watcher != user) SendToUser(watcher, frame);
  if (now == "offline") last_presence_.erase(user);
}

void Chat::OnWsOpen(const std::shared_ptr<http::WebSocket>& ws) {
  ++counters_.ws_opened;
  auto st = std::make_shared<WsState>();
  st->last_activity_ms = base::WallClockMs();
  bool from_cookie = false;
  std::string token = TokenOf(ws->request(), &from_cookie);
  if (from_cookie && !SameOrigin(ws->request())) {
    ws->Send(ErrorFrame("forbidden", "cross-origin WebSocket refused"));
    ws->Close(4003, "cross-origin");
    return;
  }
  if (!token.empty()) {
    const User* u = UserForToken(token, &st->session_hash);
    if (!u) {
      ws->Send(ErrorFrame("unauthorized", "invalid or expired session"));
      ws->Close(4001, "unauthorized");
      return;
    }
    st->user = u->id;
    st->expires_ms = sessions_[st->session_hash].expires_ms;
    user_sockets_[u->id].push_back(ws);
  }
  ws->user_data() = st;
}

void Chat::OnWsClose(const std::shared_ptr<http::WebSocket>& ws) {
  auto st = StateOf(ws);
  if (!st || st->user.empty()) return;
  auto it = user_sockets_.find(st->user);
  if (it != user_sockets_.end()) {
    auto& v = it->second;
    v.erase(std::remove(v.begin(), v.end(), ws), v.end());
    if (v.empty()) user_sockets_.erase(it);
  }
  for (const auto& w : st->watching) {
    auto pw = presence_watchers_.find(w);
    if (pw == presence_watchers_.end()) continue;
    // Another socket of the same user may still watch; recount.
    bool still = false;
    if (auto us = user_sockets_.find(st->user); us != user_sockets_.end())
      for (auto& other : us->second)
        if (auto os = StateOf(other); os && os->watching.count(w)) still = true;
    if (!still) pw->second.erase(st->user);
    if (pw->second.empty()) presence_watchers_.erase(pw);
  }
  PresenceChanged(st->user);
}

void Chat::CloseUserSockets(const std::string& user, int code, const std::string& reason) {
  auto it = user_sockets_.find(user);
  if (it == user_sockets_.end()) return;
  auto socks = it->second;  // Close may run callbacks that edit the list
  for (auto& ws : socks) {
    ws->Send(ErrorFrame("unauthorized", reason));
    ws->Close(code, reason);
  }
}

void Chat::CloseSessionSockets(const std::string& session_hash) {
  std::vector<std::shared_ptr<http::WebSocket>> doomed;
  for (auto& [user, socks] : user_sockets_)
    for (auto& ws : socks)
      if (auto st = StateOf(ws); st && st->session_hash == session_hash) doomed.push_back(ws);
  for (auto& ws : doomed) ws->Close(4001, "logged out");
}

void Chat::OnWsMessage(const std::shared_ptr<http::WebSocket>& ws, std::string_view msg) {
  auto st = StateOf(ws);
  if (!st) return;
  auto parsed = Json::Parse(msg, Json::ParseLimits{32, 1 << 20});
  if (!parsed || !parsed->is_object()) {
    ws->Send(ErrorFrame("bad_request", parsed ? "frames must be JSON objects" : parsed.error().message));
    return;
  }
  const Json& j = *parsed;
  std::string type = j.GetString("type");
  if (st->user.empty()) {
    // Not yet authenticated: only a hello with a token is accepted.
    std::string token = j.GetString("token");
    const User* u = type == "hello" ? UserForToken(token, &st->session_hash) : nullptr;
    if (!u) {
      ws->Send(ErrorFrame("unauthorized", "send {\"type\":\"hello\",\"token\":...} with a valid session first"));
      ws->Close(4001, "unauthorized");
      return;
    }
    st->user = u->id;
    st->expires_ms = sessions_[st->session_hash].expires_ms;
    user_sockets_[u->id].push_back(ws);
  }
  const User* u = FindUser(st->user);
  if (!u || u->disabled || !sessions_.count(st->session_hash)) {
    ws->Close(4001, "session ended");
    return;
  }
  bool was_away = PresenceOf(u->id) != "online";
  st->last_activity_ms = base::WallClockMs();

  if (type == "hello") {
    if (st->ready) {
      ws->Send(ErrorFrame("bad_request", "hello was already sent"));
      return;
    }
    if (const Json* cursors = j.Find("cursors"); cursors && cursors->is_object()) {
      for (const auto& [room_id, cur] : cursors->as_object()) {
        const Room* r = FindRoom(room_id);
        if (!r || !CanSee(*r, *u)) {
          ws->Send(Json::Obj({{"type", "room_gone"}, {"room", room_id}}).Dump());
          continue;
        }
        uint64_t cursor = cur.is_number() && cur.as_int() > 0 ? static_cast<uint64_t>(cur.as_int()) : 0;
        if (cursor >= r->delivered_seq) continue;
        // New messages after the cursor...
        std::vector<std::string> frames;
        store::IterOptions io{MessageKey(r->id, cursor + 1), MessageKey(r->id, r->delivered_seq + 1)};
        auto it = db_->NewIterator(kCfMessages, io);
        bool too_many = false;
        std::set<uint64_t> sent;
        if (it) {
          for ((*it)->SeekToFirst(); (*it)->Valid(); (*it)->Next()) {
            if (frames.size() >= kMaxCatchUpPerRoom) {
              too_many = true;
              break;
            }
            auto m = Message::FromStored((*it)->value());
            if (!m) continue;
            sent.insert(m->seq);
            frames.push_back(
                Json::Obj({{"type", "message"}, {"message", m->ToClient(ReplyCount(*r, m->seq), false)}}).Dump());
          }
        }
        // ...then the current state of older messages changed since the cursor.
        auto ev = db_->NewIterator(kCfEvents, io);
        std::set<uint64_t> updated;
        if (ev && !too_many) {
          for ((*ev)->SeekToFirst(); (*ev)->Valid(); (*ev)->Next()) {
            auto seq = store::ReadU64BE((*ev)->value(), 0);
            if (seq && !sent.count(*seq)) updated.insert(*seq);
            if (updated.size() >= kMaxCatchUpPerRoom) {
              too_many = true;
              break;
            }
          }
        }
        if (too_many) {
          ws->Send(Json::Obj({{"type", "reset"}, {"room", r->id}, {"last_seq", r->delivered_seq}}).Dump());
          continue;
        }
        for (uint64_t seq : updated) {
          auto v = db_->Get(kCfMessages, MessageKey(r->id, seq));
          if (!v || !v->has_value()) continue;  // removed by retention since
          auto m = Message::FromStored(**v);
          if (!m) continue;
          frames.push_back(
              Json::Obj({{"type", "message_updated"}, {"message", m->ToClient(ReplyCount(*r, m->seq), false)}})
                  .Dump());
        }
        for (const auto& f : frames) ws->Send(f);
      }
    }
    st->ready = true;
    Json ready = Json::Obj({{"type", "ready"}, {"user", u->ToPublic()}});
    Json rooms = Json::MakeObject();
    if (auto ur = user_rooms_.find(u->id); ur != user_rooms_.end())
      for (const auto& rid : ur->second)
        if (const Room* r = FindRoom(rid)) rooms.Set(rid, r->delivered_seq);
    ready.Set("rooms", std::move(rooms));
    ws->Send(ready.Dump());
    PresenceChanged(u->id);
    return;
  }
  if (!st->ready) {
    ws->Send(ErrorFrame("bad_request", "send hello first"));
    return;
  }
  if (was_away) PresenceChanged(u->id);
  if (type == "post") {
    Json cid = j.Find("client_id") ? *j.Find("client_id") : Json();
    const Json* room = j.Find("room");
    const Json* text = j.Find("text");
    const Json* thread = j.Find("thread");
    const Json* confirm = j.Find("confirm_mass_mention");
    const char* bad = nullptr;
    if (!room || !room->is_string()) bad = "room (a string) is required";
    else if (!text || !text->is_string()) bad = "text (a string) is required";
    else if (!cid.is_null() && !cid.is_string()) bad = "client_id must be a string";
    else if (thread && (!thread->is_int() || thread->as_int() < 0)) bad = "thread must be a message seq";
    else if (confirm && !confirm->is_bool()) bad = "confirm_mass_mention must be true or false";
    if (bad) {
      ws->Send(ErrorFrame("bad_request", bad, cid));
      return;
    }
    PostRequest req;
    req.room = room->as_string();
    req.text = text->as_string();
    req.client_id = cid.is_string() ? cid.as_string() : "";
    req.thread = thread ? static_cast<uint64_t>(thread->as_int()) : 0;
    req.confirm_mass_mention = confirm && confirm->as_bool();
    std::weak_ptr<http::WebSocket> weak = ws;
    Post(*u, std::move(req), [weak, cid](int status, Json body) {
      auto w = weak.lock();
      if (!w) return;
      if (status >= 400) {
        // The whole error object, so fields such as "recipients" (confirm_required) survive.
        body.Set("status", status);
        w->Send(Json::Obj({{"type", "error"}, {"client_id", cid}, {"error", std::move(body)}}).Dump());
        return;
      }
      w->Send(Json::Obj({{"type", "ack"},
                         {"client_id", cid},
                         {"room", body.GetString("room")},
                         {"seq", body.GetInt("seq")},
                         {"ts", body.GetInt("ts")}})
                  .Dump());
    });
  } else if (type == "typing") {
    const Room* r = FindRoom(j.GetString("room"));
    if (!r || !r->members.count(u->id)) return;
    FanOut(*r, Json::Obj({{"type", "typing"}, {"room", r->id}, {"user", u->id}}).Dump(), u->id);
  } else if (type == "read") {
    Room* r = FindRoom(j.GetString("room"));
    if (!r) return;
    MarkRead(*u, *r, static_cast<uint64_t>(std::max<int64_t>(0, j.GetInt("seq"))));
  } else if (type == "ping") {
    Json pong = Json::Obj({{"type", "pong"}});
    if (const Json* id = j.Find("id")) pong.Set("id", *id);
    ws->Send(pong.Dump());
  } else if (type == "presence_sub") {
    for (const auto& w : st->watching) {
      auto pw = presence_watchers_.find(w);
      if (pw != presence_watchers_.end()) pw->second.erase(u->id);
    }
    st->watching.clear();
    Json list = Json::MakeArray();
    if (const Json* users = j.Find("users"); users && users->is_array()) {
      for (const Json& x : users->as_array()) {
        if (!x.is_string() || st->watching.size() >= kMaxPresenceWatch) continue;
        const User* other = FindUser(x.as_string());
        if (!other) continue;
        st->watching.insert(other->id);
        presence_watchers_[other->id].insert(u->id);
        list.Push(Json::Obj({{"user", other->id}, {"presence", PresenceOf(other->id)}, {"status_text", other->status_text}}));
      }
    }
    ws->Send(Json::Obj({{"type", "presence_list"}, {"users", std::move(list)}}).Dump());
  } else {
    ws->Send(ErrorFrame("bad_request", "unknown frame type '" + type + "'"));
  }
}

}  // namespace collab::chat
