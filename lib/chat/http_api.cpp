// The HTTP API under /api/v1 (collab-chatd(8) lists it): every route authenticates, checks
// what the user may see or do in the room, and answers 4xx with an error object otherwise.
// Private rooms a user is not in answer 404 exactly like rooms that do not exist, so the API
// never confirms that a private room exists.
#include <algorithm>
#include <charconv>

#include "lib/auth/token.hpp"
#include "lib/auth/viewer_token.hpp"
#include "lib/base/ip_prefix.hpp"
#include "lib/base/log.hpp"
#include "lib/base/time.hpp"
#include "lib/chat/chat.hpp"
#include "lib/chat/http_api.hpp"
#include "lib/http/server.hpp"

namespace collab::chat {

using base::Json;
using http::Request;
using http::Responder;
using http::Response;

// The client's address for throttling and the audit trail. A reverse proxy on the same host
// (the documented nginx setup) is trusted to name the client in X-Forwarded-For; nobody else is,
// so a remote client cannot dodge the per-address limit by sending the header itself.
std::string ClientAddress(const Request& req) {
  bool loopback = req.peer_ip.rfind("127.", 0) == 0 || req.peer_ip == "::1" || req.peer_ip == "::ffff:127.0.0.1";
  std::string xff = req.Header("x-forwarded-for");
  if (!loopback || xff.empty()) return req.peer_ip;
  size_t comma = xff.rfind(',');
  std::string last = comma == std::string::npos ? xff : xff.substr(comma + 1);
  while (!last.empty() && last.front() == ' ') last.erase(0, 1);
  while (!last.empty() && last.back() == ' ') last.pop_back();
  return last.empty() || last.size() > 64 ? req.peer_ip : last;
}

namespace {

// The host name (without port) the browser used for this daemon.
std::string RequestHost(const Request& req) {
  std::string host = req.Header("host");
  if (!host.empty() && host.front() == '[') host = host.substr(0, host.find(']') + 1);
  else host = host.substr(0, host.find(':'));
  return host.empty() ? "localhost" : host;
}

bool ValidStreamName(const std::string& n) {
  return !n.empty() && n.size() <= 64 && std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

}  // namespace

std::string HttpApi::StreamBase(const Request& req) const {
  const ChatOptions& o = c_.options();
  std::string base = !o.public_stream_url.empty() ? o.public_stream_url
                                                  : std::string(o.stream_tls ? "https://" : "http://") +
                                                        RequestHost(req) + ":" + std::to_string(o.stream_port);
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

// Viewer tokens name no person and are the same for every viewer of a stream within a 6-hour
// bucket (lib/auth/viewer_token.hpp), so nginx edges share one cached copy per part; the price is
// that a leaked URL works until its exp. Open streams get the bare URL, without a login: anyone
// may watch them anyway, and a token would only split edge caches.
void HttpApi::RegisterWatch(http::Server& http) {
  auto signed_url = Authed([this](const Request& req, const Caller&, Responder respond) {
    const std::string& name = req.params.at("name");
    auto key = auth::LoadKeyFile(c_.options().key_file);
    if (!key) return Fail(respond, 503, "unavailable", "token key unavailable");
    auto vt = auth::MintViewerToken(*key, name, base::WallClockMs() / 1000);
    if (!vt) return Fail(respond, 500, "internal", "could not sign the viewer token");
    respond(Response::Json(200, Json::Obj({{"url", StreamBase(req) + "/live/" + name + "/index.m3u8?vt=" + vt->token},
                                           {"open", false},
                                           {"exp", vt->exp},
                                           {"expires_at", base::FormatRfc3339(vt->exp * 1000)}})));
  });
  http.Route("GET", "/api/v1/streams/{name}/watch",
             [this, signed_url = std::move(signed_url)](const Request& req, Responder respond) {
               const std::string& name = req.params.at("name");
               if (!ValidStreamName(name)) {
                 ++c_.counters().http_requests;
                 ++c_.counters().http_client_errors;
                 return Fail(respond, 400, "bad_request", "a stream name is 1 to 64 letters, digits, _ and -");
               }
               const ChatOptions& o = c_.options();
               const auto& open = o.open_streams;
               if (o.streams_open || std::find(open.begin(), open.end(), name) != open.end()) {
                 ++c_.counters().http_requests;
                 std::string url = StreamBase(req) + "/live/" + name + "/index.m3u8";
                 return respond(Response::Json(200, Json::Obj({{"url", url},
                                                               {"open", true},
                                                               {"exp", Json()},
                                                               {"expires_at", Json()}})));
               }
               signed_url(req, std::move(respond));
             });
}

void HttpApi::Send(const Responder& respond, int status, Json body) {
  if (status >= 400) {
    body.Set("status", status);
    respond(Response::Json(status, Json::Obj({{"error", std::move(body)}})));
  } else if (status == 204) {
    Response r;
    r.status = 204;
    r.headers.emplace_back("cache-control", "no-store");
    respond(std::move(r));
  } else {
    respond(Response::Json(status, body));
  }
}

bool HttpApi::ParseSeq(const std::string& s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::optional<Json> HttpApi::Body(const Request& req, const Responder& respond) {
  if (req.body.empty()) return Json::MakeObject();
  // The listener takes bodies up to the upload limit; JSON bodies have their own.
  if (req.body.size() > max_json_body_) {
    Fail(respond, 413, "payload_too_large",
         "the body is larger than chatd.max_body_bytes (" + std::to_string(max_json_body_) + " bytes)");
    return std::nullopt;
  }
  auto j = req.JsonBody();
  if (!j) {
    Fail(respond, 400, "bad_request", j.error().message);
    return std::nullopt;
  }
  if (!j->is_object()) {
    Fail(respond, 400, "bad_request", "the body must be a JSON object");
    return std::nullopt;
  }
  return *j;
}

http::Handler HttpApi::Authed(AuthedHandler h) {
  return [this, h = std::move(h)](const Request& req, Responder respond) {
    ++c_.counters().http_requests;
    std::string token;
    bool via_cookie = false;
    std::string a = req.Header("authorization");
    if (a.rfind("Bearer ", 0) == 0) {
      token = a.substr(7);
    } else {
      token = CookieValue(req.Header("cookie"), "collab_session");
      via_cookie = !token.empty();
    }
    Caller caller{nullptr, ""};
    caller.user = c_.UserForToken(token, &caller.session_hash);
    if (!caller.user) {
      ++c_.counters().http_client_errors;
      return Fail(respond, 401, "unauthorized", token.empty() ? "log in first" : "invalid or expired session");
    }
    // Cookie-authenticated changes must come from our own pages (a cross-site form or fetch
    // carries another Origin).
    if (via_cookie && req.method != "GET" && req.method != "HEAD") {
      std::string origin = req.Header("origin");
      std::string host = req.Header("host");
      if (!origin.empty() && origin != "http://" + host && origin != "https://" + host)
        return Fail(respond, 403, "forbidden", "cross-origin request refused");
    }
    Responder counted = [this, respond](Response r) {
      if (r.status >= 400 && r.status < 500) ++c_.counters().http_client_errors;
      respond(std::move(r));
    };
    h(req, caller, counted);
  };
}

Room* HttpApi::VisibleRoom(const Request& req, const Caller& c, const Responder& respond) {
  auto it = req.params.find("id");
  std::string id = it == req.params.end() ? "" : it->second;
  Room* r = ValidRoomId(id) ? c_.FindRoom(id) : nullptr;
  if (!r || !c_.CanSee(*r, *c.user)) {
    Fail(respond, 404, "not_found", "no such room: " + id);
    return nullptr;
  }
  return r;
}

Room* HttpApi::MemberRoom(const Request& req, const Caller& c, const Responder& respond) {
  Room* r = VisibleRoom(req, c, respond);
  if (!r) return nullptr;
  if (!r->members.count(c.user->id)) {
    Fail(respond, 403, "forbidden", "join the room first");
    return nullptr;
  }
  return r;
}

void HttpApi::Register(http::Server& http) {
  // ---- sessions ----
  http.Route("POST", "/api/v1/login", [this](const Request& req, Responder respond) {
    ++c_.counters().http_requests;
    auto body = Body(req, respond);
    if (!body) return;
    const Json* u = body->Find("username");
    const Json* p = body->Find("password");
    if (!u || !u->is_string() || !p || !p->is_string())
      return Fail(respond, 400, "bad_request", "username and password (strings) are required");
    bool secure = req.tls;
    c_.Login(u->as_string(), p->as_string(), ClientAddress(req),
             [this, respond, secure](Chat::ApiResult<std::pair<std::string, User>> r) {
               if (std::holds_alternative<Chat::ApiError>(r)) {
                 const auto& e = std::get<Chat::ApiError>(r);
                 Response resp = Response::Error(e.status, e.code, e.message);
                 if (e.status == 429) resp.AddHeader("retry-after", std::to_string(c_.options().login_lockout_ms / 1000));
                 return respond(std::move(resp));
               }
               auto& [token, user] = std::get<std::pair<std::string, User>>(r);
               Json pub = user.ToPublic();
               pub.Set("presence", c_.PresenceOf(user.id));
               Response resp = Response::Json(200, Json::Obj({{"token", token}, {"user", pub}}));
               std::string cookie = "collab_session=" + token + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                                    std::to_string(c_.options().session_max_age_ms / 1000);
               if (secure) cookie += "; Secure";
               resp.AddHeader("set-cookie", cookie);
               respond(std::move(resp));
             });
  });
  http.Route("POST", "/api/v1/logout", Authed([this](const Request&, const Caller& c, Responder respond) {
    c_.Audit(c.user->id, "logout", Json::MakeObject());
    c_.DeleteSession(c.session_hash);
    Response r;
    r.status = 204;
    r.headers.emplace_back("cache-control", "no-store");
    r.headers.emplace_back("set-cookie", "collab_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    r.headers.emplace_back("clear-site-data", "\"cache\", \"storage\"");
    respond(std::move(r));
  }));
  http.Route("GET", "/api/v1/me", Authed([this](const Request&, const Caller& c, Responder respond) {
    Json pub = c.user->ToPublic();
    pub.Set("presence", c_.PresenceOf(c.user->id));
    respond(Response::Json(200, pub));
  }));
  http.Route("PATCH", "/api/v1/me", Authed([this](const Request& req, const Caller& c, Responder respond) {
    auto body = Body(req, respond);
    if (!body) return;
    User u = *c.user;
    if (const Json* s = body->Find("status_text")) {
      if (!s->is_string() || s->as_string().size() > 200 || !ValidText(s->as_string()) ||
          s->as_string().find_first_of("\r\n\t") != std::string::npos)
        return Fail(respond, 400, "bad_request", "status_text must be up to 200 bytes of text on one line");
      u.status_text = s->as_string();
    }
    if (const Json* a = body->Find("away")) {
      if (!a->is_bool()) return Fail(respond, 400, "bad_request", "away must be true or false");
      u.away = a->as_bool();
    }
    auto st = c_.PutUser(u);
    if (!st.ok()) return Fail(respond, 503, "unavailable", st.error().message);
    c_.PresenceChanged(u.id, /*force=*/true);  // a new status text is news even when presence is not
    Json pub = u.ToPublic();
    pub.Set("presence", c_.PresenceOf(u.id));
    respond(Response::Json(200, pub));
  }));
  http.Route("POST", "/api/v1/token", Authed([this](const Request& req, const Caller& c, Responder respond) {
    auto body = Body(req, respond);
    if (!body) return;
    auto key = auth::LoadKeyFile(c_.options().key_file);
    if (!key) return Fail(respond, 503, "unavailable", "token key unavailable");
    auth::TokenClaims claims;
    claims.sub = c.user->id;
    claims.name = c.user->name.empty() ? c.user->id : c.user->name;
    const Json* ttl_j = body->Find("ttl_s");
    if (ttl_j && !ttl_j->is_int()) return Fail(respond, 400, "bad_request", "ttl_s must be a number of seconds");
    if (const Json* s = body->Find("scope"); s && !s->is_array())
      return Fail(respond, 400, "bad_request", "scope must be a list of strings");
    if (const Json* s = body->Find("scope"); s && s->is_array()) {
      for (const Json& x : s->as_array()) {
        if (!x.is_string() || x.as_string().size() > 200)
          return Fail(respond, 400, "bad_request", "scope must be a list of strings");
        const std::string& sc = x.as_string();
        // Room scopes only for rooms the user is in; "admin" only for admins.
        if (sc.rfind("room:", 0) == 0) {
          const Room* r = c_.FindRoom(sc.substr(5));
          if (!r || !r->members.count(c.user->id))
            return Fail(respond, 403, "forbidden", "not a member of " + sc.substr(5));
        } else if (sc == "admin" && c.user->role != "admin") {
          return Fail(respond, 403, "forbidden", "admin scope needs an administrator");
        } else if (sc.rfind("stream:", 0) != 0 && sc.rfind("meeting:", 0) != 0 && sc != "admin") {
          return Fail(respond, 400, "bad_request", "unknown scope '" + sc + "'");
        }
        claims.scope.push_back(sc);
      }
    }
    int64_t ttl = std::clamp<int64_t>(body->GetInt("ttl_s", c_.options().token_ttl_s), 30, c_.options().token_ttl_s);
    claims.iat = base::WallClockMs() / 1000;
    claims.exp = claims.iat + ttl;
    auto tok = auth::MintToken(*key, claims);
    if (!tok) return Fail(respond, 400, "bad_request", tok.error().message);
    respond(Response::Json(200, Json::Obj({{"token", *tok}, {"exp", claims.exp}})));
  }));

  // ---- users ----
  http.Route("GET", "/api/v1/users", Authed([this](const Request& req, const Caller&, Responder respond) {
    std::string q = req.QueryParam("q");
    std::string ql = NormalizeUserId(q);
    int64_t limit = 20;
    std::string ls = req.QueryParam("limit");
    uint64_t lv = 0;
    if (!ls.empty() && ParseSeq(ls, &lv)) limit = std::clamp<int64_t>(static_cast<int64_t>(lv), 1, 200);
    Json list = Json::MakeArray();
    for (const auto& [id, u] : c_.users_) {
      if (static_cast<int64_t>(list.size()) >= limit) break;
      if (u.disabled) continue;
      if (!q.empty() && id.find(ql) == std::string::npos && u.name.find(q) == std::string::npos &&
          u.department.find(q) == std::string::npos)
        continue;
      Json pub = u.ToPublic();
      pub.Set("presence", c_.PresenceOf(id));
      list.Push(std::move(pub));
    }
    respond(Response::Json(200, Json::Obj({{"users", std::move(list)}})));
  }));
  http.Route("GET", "/api/v1/users/{user}", Authed([this](const Request& req, const Caller&, Responder respond) {
    const User* u = c_.FindUser(NormalizeUserId(req.params.at("user")));
    if (!u) return Fail(respond, 404, "not_found", "no such user");
    Json pub = u->ToPublic();
    pub.Set("presence", c_.PresenceOf(u->id));
    respond(Response::Json(200, pub));
  }));

  // ---- rooms ----
  http.Route("GET", "/api/v1/rooms", Authed([this](const Request&, const Caller& c, Responder respond) {
    Json list = Json::MakeArray();
    if (auto it = c_.user_rooms_.find(c.user->id); it != c_.user_rooms_.end())
      for (const auto& id : it->second)
        if (const Room* r = c_.FindRoom(id)) list.Push(c_.RoomJson(*r, c.user));
    respond(Response::Json(200, Json::Obj({{"rooms", std::move(list)}})));
  }));
  http.Route("GET", "/api/v1/rooms/public", Authed([this](const Request&, const Caller& c, Responder respond) {
    Json list = Json::MakeArray();
    for (const auto& [id, r] : c_.rooms_)
      if ((r.kind == RoomKind::kPublic || r.kind == RoomKind::kAnnouncement) && !r.archived)
        list.Push(c_.RoomJson(r, c.user));
    respond(Response::Json(200, Json::Obj({{"rooms", std::move(list)}})));
  }));
  http.Route("POST", "/api/v1/rooms", Authed([this](const Request& req, const Caller& c, Responder respond) {
    auto body = Body(req, respond);
    if (!body) return;
    const Json* kj = body->Find("kind");
    if (kj && !kj->is_string()) return Fail(respond, 400, "bad_request", "kind must be public, private or announcement");
    auto kind = ParseRoomKind(kj ? kj->as_string() : "public");
    if (!kind) return Fail(respond, 400, "bad_request", "kind must be public, private or announcement");
    const Json* name = body->Find("name");
    if (!name || !name->is_string()) return Fail(respond, 400, "bad_request", "name (a string) is required");
    const Json* topic = body->Find("topic");
    if (topic && !topic->is_string()) return Fail(respond, 400, "bad_request", "topic must be a string");
    std::vector<std::string> members;
    if (const Json* m = body->Find("members")) {
      if (!m->is_array()) return Fail(respond, 400, "bad_request", "members must be a list of user ids");
      for (const Json& x : m->as_array()) {
        if (!x.is_string()) return Fail(respond, 400, "bad_request", "members must be a list of user ids");
        members.push_back(NormalizeUserId(x.as_string()));
      }
    }
    auto r = c_.CreateRoom(*c.user, name->as_string(), *kind, topic ? topic->as_string() : "", members);
    if (std::holds_alternative<Chat::ApiError>(r)) return Fail(respond, std::get<Chat::ApiError>(r));
    respond(Response::Json(201, c_.RoomJson(*std::get<Room*>(r), c.user)));
  }));
  http.Route("POST", "/api/v1/dms", Authed([this](const Request& req, const Caller& c, Responder respond) {
    auto body = Body(req, respond);
    if (!body) return;
    std::vector<std::string> users;
    if (const Json* m = body->Find("users"); m && m->is_array())
      for (const Json& x : m->as_array())
        if (x.is_string()) users.push_back(x.as_string());
    auto r = c_.OpenDm(*c.user, users);
    if (std::holds_alternative<Chat::ApiError>(r)) return Fail(respond, std::get<Chat::ApiError>(r));
    respond(Response::Json(200, c_.RoomJson(*std::get<Room*>(r), c.user)));
  }));
  http.Route("GET", "/api/v1/rooms/{id}", Authed([this](const Request& req, const Caller& c, Responder respond) {
    if (Room* r = VisibleRoom(req, c, respond)) respond(Response::Json(200, c_.RoomJson(*r, c.user)));
  }));
  http.Route("PATCH", "/api/v1/rooms/{id}", Authed([this](const Request& req, const Caller& c, Responder respond) {
    Room* r = VisibleRoom(req, c, respond);
    if (!r) return;
    auto body = Body(req, respond);
    if (!body) return;
    if (!c_.IsModerator(*r, *c.user)) return Fail(respond, 403, "forbidden", "only owners and moderators change a room");
    Room next = *r;
    if (const Json* n = body->Find("name")) {
      if (!n->is_string() || !ValidRoomName(n->as_string()))
        return Fail(respond, 400, "bad_request", "room name must be 1 to 80 bytes of text on one line");
      next.name = n->as_string();
    }
    if (const Json* t = body->Find("topic")) {
      if (!t->is_string() || t->as_string().size() > 1024 || !ValidText(t->as_string()))
        return Fail(respond, 400, "bad_request", "topic must be up to 1024 bytes of text");
      next.topic = t->as_string();
    }
    if (const Json* ro = body->Find("read_only")) {
      if (!ro->is_bool()) return Fail(respond, 400, "bad_request", "read_only must be true or false");
      next.read_only = ro->as_bool();
    }
    if (const Json* a = body->Find("archived")) {
      if (!a->is_bool()) return Fail(respond, 400, "bad_request", "archived must be true or false");
      auto role = c_.RoleIn(*r, c.user->id);
      if (c.user->role != "admin" && !(role && *role == Role::kOwner))
        return Fail(respond, 403, "forbidden", "only owners archive a room");
      next.archived = a->as_bool();
    }
    if (const Json* mm = body->Find("mass_mention_role")) {
      auto role = mm->is_string() ? ParseRole(mm->as_string()) : std::nullopt;
      if (!role) return Fail(respond, 400, "bad_request", "mass_mention_role must be member, moderator or owner");
      next.mass_mention_role = *role;
    }
    if (const Json* rd = body->Find("retention_message_days")) {
      if (!rd->is_int() || rd->as_int() < -1)
        return Fail(respond, 400, "bad_request", "retention_message_days must be -1 (global), 0 (keep) or days");
      if (c.user->role != "admin") return Fail(respond, 403, "forbidden", "only administrators set retention");
      next.retention_message_days = rd->as_int();
    }
    auto st = c_.SaveRoom(next);
    if (!st.ok()) return Fail(respond, 503, "unavailable", st.error().message);
    r->name = next.name;
    r->topic = next.topic;
    r->read_only = next.read_only;
    r->archived = next.archived;
    r->mass_mention_role = next.mass_mention_role;
    r->retention_message_days = next.retention_message_days;
    c_.Audit(c.user->id, "room.update", Json::Obj({{"room", r->id}, {"changes", *body}}));
    c_.FanOut(*r, Json::Obj({{"type", "room"}, {"room", c_.RoomJson(*r, nullptr)}}).Dump());
    respond(Response::Json(200, c_.RoomJson(*r, c.user)));
  }));
  http.Route("POST", "/api/v1/rooms/{id}/join", Authed([this](const Request& req, const Caller& c, Responder respond) {
    Room* r = VisibleRoom(req, c, respond);
    if (!r) return;
    if (r->members.count(c.user->id)) return respond(Response::Json(200, c_.RoomJson(*r, c.user)));
    if (r->kind != RoomKind::kPublic && r->kind != RoomKind::kAnnouncement)
      return Fail(respond, 403, "forbidden", "private rooms are joined by invitation");
    if (r->archived) return Fail(respond, 403, "forbidden", "the room is archived");
    auto res = c_.SetMember(*r, c.user->id, Role::kMember, c.user->id);
    if (std::holds_alternative<Chat::ApiError>(res)) return Fail(respond, std::get<Chat::ApiError>(res));
    respond(Response::Json(200, c_.RoomJson(*r, c.user)));
  }));
  http.Route("POST", "/api/v1/rooms/{id}/leave", Authed([this](const Request& req, const Caller& c, Responder respond) {
    Room* r = MemberRoom(req, c, respond);
    if (!r) return;
    auto res = c_.RemoveMember(*r, c.user->id, c.user->id);
    if (std::holds_alternative<Chat::ApiError>(res)) return Fail(respond, std::get<Chat::ApiError>(res));
    Send(respond, 204, Json());
  }));
  http.Route("GET", "/api/v1/rooms/{id}/members", Authed([this](const Request& req, const Caller& c, Responder respond) {
    Room* r = VisibleRoom(req, c, respond);
    if (!r) return;
    Json list = Json::MakeArray();
    for (const auto& [id, m] : r->members) {
      const User* u = c_.FindUser(id);
      Json user = u ? u->ToPublic() : Json::Obj({{"id", id}, {"name", id}});
      user.Set("presence", c_.PresenceOf(id));
      list.Push(Json::Obj({{"user", std::move(user)}, {"role", RoleName(m.role)}, {"read_seq", m.read_seq}}));
    }
    respond(Response::Json(200, Json::Obj({{"members", std::move(list)}})));
  }));
  http.Route("PUT", "/api/v1/rooms/{id}/members/{user}",
             Authed([this](const Request& req, const Caller& c, Responder respond) {
               Room* r = VisibleRoom(req, c, respond);
               if (!r) return;
               auto body = Body(req, respond);
               if (!body) return;
               std::string user = NormalizeUserId(req.params.at("user"));
               auto role = ParseRole(body->GetString("role", "member"));
               if (!role) return Fail(respond, 400, "bad_request", "role must be member, moderator or owner");
               if (!c_.IsModerator(*r, *c.user))
                 return Fail(respond, 403, "forbidden", "only owners and moderators manage members");
               auto mine = c_.RoleIn(*r, c.user->id);
               bool owner = c.user->role == "admin" || (mine && *mine == Role::kOwner);
               auto theirs = c_.RoleIn(*r, user);
               // Moderators manage plain members; roles above that are the owners' business.
               if (!owner && (*role != Role::kMember || (theirs && *theirs != Role::kMember)))
                 return Fail(respond, 403, "forbidden", "only owners grant, change or take away moderator or owner");
               auto res = c_.SetMember(*r, user, role, c.user->id);
               if (std::holds_alternative<Chat::ApiError>(res)) return Fail(respond, std::get<Chat::ApiError>(res));
               Send(respond, 204, Json());
             }));
  http.Route("DELETE", "/api/v1/rooms/{id}/members/{user}",
             Authed([this](const Request& req, const Caller& c, Responder respond) {
               Room* r = VisibleRoom(req, c, respond);
               if (!r) return;
               std::string user = NormalizeUserId(req.params.at("user"));
               if (user != c.user->id && !c_.IsModerator(*r, *c.user))
                 return Fail(respond, 403, "forbidden", "only owners and moderators remove members");
               auto mine = c_.RoleIn(*r, c.user->id);
               auto theirs = c_.RoleIn(*r, user);
               if (user != c.user->id && c.user->role != "admin" && !(mine && *mine == Role::kOwner) && theirs &&
                   *theirs != Role::kMember)
                 return Fail(respond, 403, "forbidden", "only owners remove moderators and owners");
               auto res = c_.RemoveMember(*r, user, c.user->id);
               if (std::holds_alternative<Chat::ApiError>(res)) return Fail(respond, std::get<Chat::ApiError>(res));
               Send(respond, 204, Json());
             }));
  http.Route("PUT", "/api/v1/rooms/{id}/mute", Authed([this](const Request& req, const Caller& c, Responder respond) {
    Room* r = MemberRoom(req, c, respond);
    if (!r) return;
    auto body = Body(req, respond);
    if (!body) return;
    const Json* m = body->Find("muted");
    if (!m || !m->is_bool()) return Fail(respond, 400, "bad_request", "muted must be true or false");
    c_.SetMuted(*c.user, *r, m->as_bool());
    respond(Response::Json(200, c_.RoomJson(*r, c.user)));
  }));
  http.Route("POST", "/api/v1/rooms/{id}/read", Authed([this](const Request& req, const Caller& c, Responder respond) {
    Room* r = MemberRoom(req, c, respond);
    if (!r) return;
    auto body = Body(req, respond);
    if (!body) return;
    const Json* s = body->Find("seq");
    if (!s || !s->is_int() || s->as_int() < 0) return Fail(respond, 400, "bad_request", "seq (a number) is required");
    c_.MarkRead(*c.user, *r, static_cast<uint64_t>(s->as_int()));
    respond(Response::Json(200, c_.RoomJson(*r, c.user)));
  }));

  // ---- messages ----
  http.Route("GET", "/api/v1/rooms/{id}/messages", Authed([this](const Request& req, const Caller& c, Responder respond) {
    Room* r = VisibleRoom(req, c, respond);
    if (!r) return;
    uint64_t before = 0, after = Chat::kNoCursor, limit = 50;
    for (auto [name, out] : {std::pair{"before", &before}, std::pair{"after", &after}, std::pair{"limit", &limit}}) {
      std::string v = req.QueryParam(name);
      if (!v.empty() && (!ParseSeq(v, out) || *out == Chat::kNoCursor))
        return Fail(respond, 400, "bad_request", std::string(name) + " must be a non-negative integer");
    }
    c_.History(*c.user, *r, before, after, static_cast<size_t>(limit), 0,
               [respond](int status, Json body) { Send(respond, status, std::move(body)); });
  }));
  http.Route("POST", "/api/v1/rooms/{id}/messages", Authed([this](const Request& req, const Caller& c, Responder respond) {
    auto body = Body(req, respond);
    if (!body) return;
    const Json* text = body->Find("text");
    if (!text || !text->is_string()) return Fail(respond, 400, "bad_request", "text (a string) is required");
    Chat::PostRequest pr;
    pr.room = req.params.at("id");
    pr.text = text->as_string();
    if (const Json* cid = body->Find("client_id")) {
      if (!cid->is_string()) return Fail(respond, 400, "bad_request", "client_id must be a string");
      pr.client_id = cid->as_string();
    }
    if (const Json* t = body->Find("thread")) {
      if (!t->is_int() || t->as_int() < 0) return Fail(respond, 400, "bad_request", "thread must be a message seq");
      pr.thread = static_cast<uint64_t>(t->as_int());
    }
    if (const Json* cm = body->Find("confirm_mass_mention")) {
      if (!cm->is_bool()) return Fail(respond, 400, "bad_request", "confirm_mass_mention must be true or false");
      pr.confirm_mass_mention = cm->as_bool();
    }
    if (const Json* f = body->Find("files")) {
      if (!f->is_array()) return Fail(respond, 400, "bad_request", "files must be a list of file ids");
      for (const Json& x : f->as_array()) {
        if (!x.is_string()) return Fail(respond, 400, "bad_request", "files must be a list of file ids");
        pr.files.push_back(x.as_string());
      }
    }
    c_.Post(*c.user, std::move(pr), [respond](int status, Json b) { Send(respond, status, std::move(b)); });
  }));
  http.Route("POST", "/api/v1/rooms/{id}/files", Authed([this](const Request& req, const Caller& c, Responder respond) {
    Room* r = VisibleRoom(req, c, respond);
    if (!r) return;
    std::string type = req.Header("content-type");
    c_.Upload(*c.user, *r, req.QueryParam("name"), type, req.body,
              [respond](int status, Json b) { Send(respond, status, std::move(b)); });
  }));
  for (bool thumb : {false, true}) {
    http.Route("GET", thumb ? "/api/v1/rooms/{id}/files/{file}/thumb" : "/api/v1/rooms/{id}/files/{file}",
               Authed([this, thumb](const Request& req, const Caller& c, Responder respond) {
                 Room* r = VisibleRoom(req, c, respond);
                 if (!r) return;
                 c_.Download(*c.user, *r, req.params.at("file"), thumb, respond);
               }));
  }
  http.Route("GET", "/api/v1/search", Authed([this](const Request& req, const Caller& c, Responder respond) {
    SearchIndex::Query q;
    q.text = req.QueryParam("q");
    if (q.text.empty()) return Fail(respond, 400, "bad_request", "q (the text to find) is required");
    std::string room = req.QueryParam("room");
    if (!room.empty()) q.rooms.push_back(room);
    q.user = NormalizeUserId(req.QueryParam("user"));
    for (auto [name, out] : {std::pair{"from", &q.from_ms}, std::pair{"to", &q.to_ms}}) {
      std::string v = req.QueryParam(name);
      uint64_t n = 0;
      if (!v.empty() && !ParseSeq(v, &n)) return Fail(respond, 400, "bad_request", std::string(name) + " must be a time in ms");
      *out = static_cast<int64_t>(n);
    }
    std::string l = req.QueryParam("limit");
    uint64_t limit = 20;
    if (!l.empty() && (!ParseSeq(l, &limit) || limit > 100)) return Fail(respond, 400, "bad_request", "limit must be 0..100");
    q.limit = static_cast<size_t>(limit);
    c_.Search(*c.user, std::move(q), [respond](int status, Json b) { Send(respond, status, std::move(b)); });
  }));
  http.Route("GET", "/api/v1/rooms/{id}/pins", Authed([this](const Request& req, const Caller& c, Responder respond) {
    Room* r = VisibleRoom(req, c, respond);
    if (!r) return;
    Json list = Json::MakeArray();
    for (uint64_t seq : r->pinned) {
      auto m = c_.LoadMessage(*r, seq);
      if (std::holds_alternative<Message>(m))
        list.Push(std::get<Message>(m).ToClient(c_.ReplyCount(*r, seq), false));
    }
    respond(Response::Json(200, Json::Obj({{"messages", std::move(list)}})));
  }));

  auto with_message = [this](std::function<void(const Request&, const Caller&, Room&, uint64_t, Responder)> h,
                             bool member) {
    return Authed([this, h, member](const Request& req, const Caller& c, Responder respond) {
      Room* r = member ? MemberRoom(req, c, respond) : VisibleRoom(req, c, respond);
      if (!r) return;
      uint64_t seq = 0;
      if (!ParseSeq(req.params.at("seq"), &seq) || seq == 0)
        return Fail(respond, 400, "bad_request", "message seq must be a positive integer");
      h(req, c, *r, seq, respond);
    });
  };
  http.Route("GET", "/api/v1/rooms/{id}/messages/{seq}",
             with_message([this](const Request&, const Caller& c, Room& r, uint64_t seq, Responder respond) {
               auto m = c_.LoadMessage(r, seq);
               if (std::holds_alternative<Chat::ApiError>(m)) return Fail(respond, std::get<Chat::ApiError>(m));
               respond(Response::Json(200, std::get<Message>(m).ToClient(c_.ReplyCount(r, seq),
                                                                          c_.IsModerator(r, *c.user))));
             }, false));
  http.Route("GET", "/api/v1/rooms/{id}/messages/{seq}/thread",
             with_message([this](const Request& req, const Caller& c, Room& r, uint64_t seq, Responder respond) {
               uint64_t after = Chat::kNoCursor, limit = 100;
               std::string a = req.QueryParam("after"), l = req.QueryParam("limit");
               if ((!a.empty() && (!ParseSeq(a, &after) || after == Chat::kNoCursor)) || (!l.empty() && !ParseSeq(l, &limit)))
                 return Fail(respond, 400, "bad_request", "after and limit must be non-negative integers");
               c_.History(*c.user, r, 0, after, static_cast<size_t>(limit), seq,
                          [respond](int status, Json body) { Send(respond, status, std::move(body)); });
             }, false));
  http.Route("GET", "/api/v1/rooms/{id}/messages/{seq}/receipts",
             with_message([this](const Request&, const Caller& c, Room& r, uint64_t seq, Responder respond) {
               auto m = c_.LoadMessage(r, seq);
               if (std::holds_alternative<Chat::ApiError>(m)) return Fail(respond, std::get<Chat::ApiError>(m));
               if (std::get<Message>(m).user != c.user->id && !c_.IsModerator(r, *c.user) && r.members.size() > 20)
                 return Fail(respond, 403, "forbidden", "read receipts of large rooms are for the author and moderators");
               respond(Response::Json(200, c_.Receipts(r, seq)));
             }, true));
  http.Route("PATCH", "/api/v1/rooms/{id}/messages/{seq}",
             with_message([this](const Request& req, const Caller& c, Room& r, uint64_t seq, Responder respond) {
               auto body = Body(req, respond);
               if (!body) return;
               const Json* text = body->Find("text");
               if (!text || !text->is_string()) return Fail(respond, 400, "bad_request", "text (a string) is required");
               std::string t = text->as_string();
               if (t.empty() || t.size() > c_.options().max_message_bytes || !ValidText(t))
                 return Fail(respond, 400, "bad_request", "text must be non-empty valid UTF-8 within the size limit");
               if (r.archived) return Fail(respond, 403, "forbidden", "the room is archived");
               std::string me = c.user->id;
               c_.UpdateMessage(
                   r, seq,
                   [me, t](Message& m) -> std::optional<Chat::ApiError> {
                     if (m.user != me) return Chat::ApiError{403, "forbidden", "only the author edits a message"};
                     if (m.deleted) return Chat::ApiError{409, "conflict", "the message was deleted"};
                     int64_t now = base::WallClockMs();
                     m.history.push_back(Edit{m.edited_ts ? m.edited_ts : m.ts, m.text});
                     m.text = t;
                     m.edited_ts = now;
                     return std::nullopt;
                   },
                   [respond](int status, Json b) { Send(respond, status, std::move(b)); });
             }, true));
  http.Route("DELETE", "/api/v1/rooms/{id}/messages/{seq}",
             with_message([this](const Request&, const Caller& c, Room& r, uint64_t seq, Responder respond) {
               if (r.archived) return Fail(respond, 403, "forbidden", "the room is archived");
               bool mod = c_.IsModerator(r, *c.user);
               std::string me = c.user->id;
               c_.UpdateMessage(
                   r, seq,
                   [me, mod](Message& m) -> std::optional<Chat::ApiError> {
                     if (m.user != me && !mod)
                       return Chat::ApiError{403, "forbidden", "only the author or a moderator deletes a message"};
                     if (m.deleted) return Chat::ApiError{409, "conflict", "already deleted"};
                     m.history.push_back(Edit{m.edited_ts ? m.edited_ts : m.ts, m.text});
                     m.text.clear();
                     m.deleted = true;
                     m.pinned = false;
                     m.reactions.clear();
                     return std::nullopt;
                   },
                   [this, respond, me, rid = r.id, seq](int status, Json b) {
                     if (status < 300) c_.Audit(me, "message.delete", Json::Obj({{"room", rid}, {"seq", seq}}));
                     Send(respond, status, std::move(b));
                   });
             }, true));
  for (const char* method : {"PUT", "DELETE"}) {
    bool add = std::string(method) == "PUT";
    http.Route(method, "/api/v1/rooms/{id}/messages/{seq}/reactions/{emoji}",
               with_message([this, add](const Request& req, const Caller& c, Room& r, uint64_t seq, Responder respond) {
                 std::string emoji = req.params.at("emoji");
                 if (emoji.empty() || emoji.size() > 64 || !ValidRoomName(emoji) ||
                     emoji.find(' ') != std::string::npos)
                   return Fail(respond, 400, "bad_request", "a reaction is 1 to 64 bytes without spaces");
                 if (r.archived) return Fail(respond, 403, "forbidden", "the room is archived");
                 std::string me = c.user->id;
                 c_.UpdateMessage(
                     r, seq,
                     [me, emoji, add](Message& m) -> std::optional<Chat::ApiError> {
                       if (m.deleted) return Chat::ApiError{409, "conflict", "the message was deleted"};
                       auto& users = m.reactions[emoji];
                       auto it = std::find(users.begin(), users.end(), me);
                       if (add) {
                         if (it != users.end()) return Chat::ApiError{409, "conflict", "already reacted"};
                         if (users.empty() && m.reactions.size() > 32)
                           return Chat::ApiError{409, "conflict", "too many different reactions"};
                         users.push_back(me);
                       } else {
                         if (it == users.end()) return Chat::ApiError{404, "not_found", "no such reaction"};
                         users.erase(it);
                         if (users.empty()) m.reactions.erase(emoji);
                       }
                       return std::nullopt;
                     },
                     [respond](int status, Json b) { Send(respond, status, std::move(b)); });
               }, true));
    http.Route(method, "/api/v1/rooms/{id}/messages/{seq}/pin",
               with_message([this, add](const Request&, const Caller& c, Room& r, uint64_t seq, Responder respond) {
                 if (r.OnlyModeratorsPost() && !c_.IsModerator(r, *c.user))
                   return Fail(respond, 403, "forbidden", "only owners and moderators pin in this room");
                 if (r.archived) return Fail(respond, 403, "forbidden", "the room is archived");
                 c_.UpdateMessage(
                     r, seq,
                     [add](Message& m) -> std::optional<Chat::ApiError> {
                       if (m.deleted) return Chat::ApiError{409, "conflict", "the message was deleted"};
                       if (m.pinned == add) return Chat::ApiError{409, "conflict", add ? "already pinned" : "not pinned"};
                       m.pinned = add;
                       return std::nullopt;
                     },
                     [respond](int status, Json b) { Send(respond, status, std::move(b)); });
               }, true));
  }

  // ---- web app config and metrics ----
  http.Route("GET", "/api/v1/config", [this](const Request& req, Responder respond) {
    // The browser reaches the other daemons on the host name it used for this one.
    std::string host = RequestHost(req);
    const ChatOptions& o = c_.options();
    std::string sfu = !o.public_sfu_url.empty() ? o.public_sfu_url
                                                : std::string(o.sfu_tls ? "https://" : "http://") + host + ":" +
                                                      std::to_string(o.sfu_port);
    std::string stream = StreamBase(req);
    respond(Response::Json(200, Json::Obj({{"product", "collab"},
                                           {"sfu_url", sfu},
                                           {"stream_url", stream},
                                           {"auth_source", c_.options().auth_source},
                                           {"max_message_bytes", static_cast<int64_t>(c_.options().max_message_bytes)},
                                           {"mass_mention_confirm_members",
                                            static_cast<int64_t>(c_.options().mass_mention_confirm_members)}})));
  });
  http.Route("GET", "/metrics", [this](const Request& req, Responder respond) {
    if (!base::AnyIpPrefixContains(c_.options().metrics_allow, req.peer_ip))
      return Fail(respond, 403, "forbidden", "/metrics is served only to the addresses in chatd.metrics_allow");
    Response r = Response::Text(200, c_.Metrics());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    respond(std::move(r));
  });

  http::WebSocketHandlers ws;
  ws.on_open = [this](std::shared_ptr<http::WebSocket> s) { c_.OnWsOpen(s); };
  ws.on_message = [this](std::shared_ptr<http::WebSocket> s, std::string_view msg, bool binary) {
    if (binary) {
      s->Close(1003, "text frames only");
      return;
    }
    c_.OnWsMessage(s, msg);
  };
  ws.on_close = [this](std::shared_ptr<http::WebSocket> s) { c_.OnWsClose(s); };
  http.WebSocketRoute("/api/v1/ws", std::move(ws));
  RegisterHelpdesk(http);
  RegisterWatch(http);
}

void Chat::RegisterHttp(http::Server& http) {
  api_ = std::make_shared<HttpApi>(*this);  // lives as long as the routes that capture it
  api_->Register(http);
}

}  // namespace collab::chat
