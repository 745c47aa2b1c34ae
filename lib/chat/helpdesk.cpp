// The IT helpdesk ("Ask IT"): desks with agents; a request is a private room between the
// requester and the desk's agents plus a notes room only agents see, with a status (open,
// claimed, resolved), the agent handling it, and the times that make first-response and
// resolution figures. Requests are ordinary rooms underneath, so messages, files, read state
// and notifications work in them unchanged.
#include <algorithm>

#include "lib/auth/token.hpp"
#include "lib/base/log.hpp"
#include "lib/base/time.hpp"
#include "lib/chat/chat.hpp"
#include "lib/chat/http_api.hpp"
#include "lib/http/server.hpp"
#include "lib/ipc/server.hpp"
#include "lib/store/db.hpp"
#include "lib/store/keys.hpp"

namespace collab::chat {

using base::Json;
using base::MakeError;
using http::Request;
using http::Responder;
using http::Response;

namespace {

bool ValidDeskId(std::string_view id) { return ValidUserId(id); }

Json Percentiles(std::vector<int64_t> v) {
  if (v.empty()) return Json::Obj({{"count", 0}});
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5))]; };
  return Json::Obj({{"count", static_cast<int64_t>(v.size())}, {"median_s", at(0.5) / 1000}, {"p90_s", at(0.9) / 1000}});
}

}  // namespace

Json Chat::Desk::ToJson() const {
  Json a = Json::MakeArray();
  for (const auto& x : agents) a.Push(x);
  return Json::Obj({{"id", id}, {"name", name}, {"agents", std::move(a)}});
}

Json Chat::Ticket::ToJson() const {
  return Json::Obj({{"id", id},
                    {"desk", desk},
                    {"subject", subject},
                    {"requester", requester},
                    {"status", status},
                    {"agent", agent},
                    {"room", room},
                    {"notes_room", notes_room},
                    {"created_at", created_ms},
                    {"first_response_at", first_response_ms},
                    {"resolved_at", resolved_ms}});
}

base::Status Chat::LoadHelpdesk() {
  auto it = db_->NewIterator(kCfDesk);
  if (!it) return it.error();
  for ((*it)->SeekToFirst(); (*it)->Valid(); (*it)->Next()) {
    std::string_view k = (*it)->key();
    auto j = Json::Parse((*it)->value());
    if (!j) continue;
    if (k.rfind("desk:", 0) == 0) {
      Desk d{j->GetString("id"), j->GetString("name"), {}};
      if (const Json* a = j->Find("agents"); a && a->is_array())
        for (const Json& x : a->as_array())
          if (x.is_string()) d.agents.insert(x.as_string());
      desks_[d.id] = d;
    } else if (k.rfind("req:", 0) == 0) {
      Ticket t;
      t.id = j->GetString("id");
      t.desk = j->GetString("desk");
      t.subject = j->GetString("subject");
      t.requester = j->GetString("requester");
      t.status = j->GetString("status", "open");
      t.agent = j->GetString("agent");
      t.room = j->GetString("room");
      t.notes_room = j->GetString("notes_room");
      t.created_ms = j->GetInt("created_at");
      t.first_response_ms = j->GetInt("first_response_at");
      t.resolved_ms = j->GetInt("resolved_at");
      ticket_rooms_[t.room] = t.id;
      tickets_[t.id] = t;
    }
  }
  return (*it)->status();
}

base::Status Chat::SaveTicket(const Ticket& t) {
  store::WriteBatch b;
  b.Put(kCfDesk, "req:" + t.id, t.ToJson().Dump());
  return db_->Write(std::move(b), true);
}

void Chat::HelpdeskOnMessage(const Room& r, const Message& m) {
  auto it = ticket_rooms_.find(r.id);
  if (it == ticket_rooms_.end()) return;
  Ticket& t = tickets_[it->second];
  auto d = desks_.find(t.desk);
  if (t.first_response_ms || d == desks_.end() || !d->second.agents.count(m.user) || m.user == t.requester) return;
  t.first_response_ms = m.ts;
  (void)SaveTicket(t);
}

Json Chat::HelpdeskStats(const std::string& desk) const {
  int64_t open = 0, claimed = 0, resolved = 0;
  std::vector<int64_t> first, resolution;
  for (const auto& [id, t] : tickets_) {
    if (!desk.empty() && t.desk != desk) continue;
    if (t.status == "open") ++open;
    else if (t.status == "claimed") ++claimed;
    else ++resolved;
    if (t.first_response_ms) first.push_back(t.first_response_ms - t.created_ms);
    if (t.resolved_ms) resolution.push_back(t.resolved_ms - t.created_ms);
  }
  return Json::Obj({{"desk", desk.empty() ? Json() : Json(desk)},
                    {"open", open},
                    {"claimed", claimed},
                    {"resolved", resolved},
                    {"first_response", Percentiles(first)},
                    {"resolution", Percentiles(resolution)}});
}

void HttpApi::TicketAction(http::Server& http, const char* path, std::string act) {
  http.Route("POST", path,
             Authed([this, act](const Request& req, const Caller& c, Responder respond) {
                 const User& u = *c.user;
                 auto d = c_.desks_.find(req.params.at("desk"));
                 auto t = c_.tickets_.find(req.params.at("id"));
                 if (d == c_.desks_.end() || t == c_.tickets_.end() || t->second.desk != d->first)
                   return respond(Response::Error(404, "not_found", "no such request"));
                 bool agent = d->second.agents.count(u.id) > 0;
                 bool requester = t->second.requester == u.id;
                 if (!agent && !requester) return respond(Response::Error(404, "not_found", "no such request"));
                 auto body = Body(req, respond);
                 if (!body) return;
                 Chat::Ticket next = t->second;
                 if (act == "claim") {
                   if (!agent) return respond(Response::Error(403, "forbidden", "only agents claim requests"));
                   if (next.status == "resolved") return respond(Response::Error(409, "conflict", "the request is resolved; reopen it first"));
                   if (next.status == "claimed" && next.agent != u.id)
                     return respond(Response::Error(409, "conflict", "already claimed by " + next.agent + "; use handover"));
                   next.status = "claimed";
                   next.agent = u.id;
                 } else if (act == "handover") {
                   if (!agent) return respond(Response::Error(403, "forbidden", "only agents hand requests over"));
                   std::string to = NormalizeUserId(body->GetString("to"));
                   if (!d->second.agents.count(to)) return respond(Response::Error(400, "bad_request", "'to' must be an agent of this desk"));
                   if (next.status == "resolved") return respond(Response::Error(409, "conflict", "the request is resolved"));
                   next.status = "claimed";
                   next.agent = to;
                 } else if (act == "resolve") {
                   if (next.status == "resolved") return respond(Response::Error(409, "conflict", "already resolved"));
                   next.status = "resolved";
                   next.resolved_ms = base::WallClockMs();
                   if (next.agent.empty() && agent) next.agent = u.id;
                 } else {
                   if (next.status != "resolved") return respond(Response::Error(409, "conflict", "the request is not resolved"));
                   next.status = next.agent.empty() ? "open" : "claimed";
                   next.resolved_ms = 0;
                 }
                 if (!c_.SaveTicket(next).ok()) return respond(Response::Error(503, "unavailable", "could not store the request"));
                 t->second = next;
                 c_.Audit(u.id, "helpdesk." + act, Json::Obj({{"request", next.id}, {"agent", next.agent}}));
                 std::string frame = Json::Obj({{"type", "helpdesk"}, {"request", next.ToJson()}}).Dump();
                 std::set<std::string> told(d->second.agents.begin(), d->second.agents.end());
                 told.insert(next.requester);
                 for (const auto& x : told) c_.SendToUser(x, frame);
                 respond(Response::Json(200, next.ToJson()));
               }));
}

void HttpApi::RegisterHelpdesk(http::Server& http) {
  http.Route("GET", "/api/v1/helpdesk", Authed([this](const Request&, const Caller& c, Responder respond) {
    const User& u = *c.user;
    Json list = Json::MakeArray();
    for (const auto& [id, d] : c_.desks_)
      list.Push(Json::Obj({{"id", id}, {"name", d.name}, {"agent", d.agents.count(u.id) > 0}}));
    respond(Response::Json(200, Json::Obj({{"desks", std::move(list)}})));
  }));
  http.Route("POST", "/api/v1/helpdesk/{desk}/requests",
             Authed([this](const Request& req, const Caller& c, Responder respond) {
               const User& u = *c.user;
               auto d = c_.desks_.find(req.params.at("desk"));
               if (d == c_.desks_.end()) return respond(Response::Error(404, "not_found", "no such helpdesk"));
               auto body = Body(req, respond);
               if (!body) return;
               std::string subject = body->GetString("subject");
               std::string text = body->GetString("text");
               if (subject.empty() || subject.size() > 200 || !ValidRoomName(subject))
                 return respond(Response::Error(400, "bad_request", "subject must be 1 to 200 bytes of text on one line"));
               if (text.empty() || text.size() > c_.opts_.max_message_bytes || !ValidText(text))
                 return respond(Response::Error(400, "bad_request", "text must be non-empty valid UTF-8 within the size limit"));
               User system;
               system.id = "helpdesk";
               system.source = "system";
               system.role = "admin";
               std::string room_name = "[" + d->second.name + "] " + subject;
               while (room_name.size() > 80 || !ValidRoomName(room_name)) room_name.pop_back();
               std::vector<std::string> agents(d->second.agents.begin(), d->second.agents.end());
               std::vector<std::string> members = agents;
               members.push_back(u.id);
               auto room = c_.CreateRoom(system, room_name, RoomKind::kPrivate, "", members);
               if (std::holds_alternative<Chat::ApiError>(room)) {
                 const auto& e = std::get<Chat::ApiError>(room);
                 return respond(Response::Error(e.status, e.code, e.message));
               }
               std::string notes_name = room_name.size() > 72 ? room_name.substr(0, 72) : room_name;
               while (!ValidRoomName(notes_name + " (notes)")) notes_name.pop_back();
               auto notes = c_.CreateRoom(system, notes_name + " (notes)", RoomKind::kPrivate, "", agents);
               if (std::holds_alternative<Chat::ApiError>(notes)) {
                 const auto& e = std::get<Chat::ApiError>(notes);
                 return respond(Response::Error(e.status, e.code, e.message));
               }
               Room* r = std::get<Room*>(room);
               for (const auto& a : agents) (void)c_.SetMember(*r, a, Role::kModerator, "helpdesk");
               Chat::Ticket t;
               t.id = "q" + NewRoomId().substr(1, 10);
               t.desk = d->first;
               t.subject = subject;
               t.requester = u.id;
               t.room = r->id;
               t.notes_room = std::get<Room*>(notes)->id;
               t.created_ms = base::WallClockMs();
               if (!c_.SaveTicket(t).ok()) return respond(Response::Error(503, "unavailable", "could not store the request"));
               c_.tickets_[t.id] = t;
               c_.ticket_rooms_[t.room] = t.id;
               c_.Audit(u.id, "helpdesk.request", Json::Obj({{"request", t.id}, {"desk", t.desk}}));
               Chat::PostRequest pr;
               pr.room = r->id;
               pr.text = text;
               Json out = t.ToJson();
               c_.Post(u, std::move(pr), [respond, out](int status, Json) {
                 respond(Response::Json(status >= 400 ? 503 : 201, out));
               });
               std::string frame = Json::Obj({{"type", "helpdesk"}, {"request", t.ToJson()}}).Dump();
               for (const auto& a : agents) c_.SendToUser(a, frame);
             }));
  http.Route("GET", "/api/v1/helpdesk/{desk}/requests", Authed([this](const Request& req, const Caller& c, Responder respond) {
    const User& u = *c.user;
    auto d = c_.desks_.find(req.params.at("desk"));
    if (d == c_.desks_.end()) return respond(Response::Error(404, "not_found", "no such helpdesk"));
    bool agent = d->second.agents.count(u.id) > 0;
    std::string status = req.QueryParam("status");
    if (!status.empty() && status != "open" && status != "claimed" && status != "resolved")
      return respond(Response::Error(400, "bad_request", "status must be open, claimed or resolved"));
    Json list = Json::MakeArray();
    for (auto it = c_.tickets_.rbegin(); it != c_.tickets_.rend(); ++it) {
      const Chat::Ticket& t = it->second;
      if (t.desk != d->first || (!agent && t.requester != u.id) || (!status.empty() && t.status != status)) continue;
      Json j = t.ToJson();
      if (!agent) j.Set("notes_room", nullptr);
      list.Push(std::move(j));
    }
    std::sort(list.as_array().begin(), list.as_array().end(),
              [](const Json& a, const Json& b) { return a.GetInt("created_at") > b.GetInt("created_at"); });
    respond(Response::Json(200, Json::Obj({{"requests", std::move(list)}, {"agent", agent}})));
  }));
  TicketAction(http, "/api/v1/helpdesk/{desk}/requests/{id}/claim", "claim");
  TicketAction(http, "/api/v1/helpdesk/{desk}/requests/{id}/handover", "handover");
  TicketAction(http, "/api/v1/helpdesk/{desk}/requests/{id}/resolve", "resolve");
  TicketAction(http, "/api/v1/helpdesk/{desk}/requests/{id}/reopen", "reopen");
  http.Route("GET", "/api/v1/helpdesk/{desk}/search", Authed([this](const Request& req, const Caller& c, Responder respond) {
    const User& u = *c.user;
    auto d = c_.desks_.find(req.params.at("desk"));
    if (d == c_.desks_.end()) return respond(Response::Error(404, "not_found", "no such helpdesk"));
    if (!d->second.agents.count(u.id)) return respond(Response::Error(403, "forbidden", "only agents search past requests"));
    std::string q = req.QueryParam("q");
    if (q.empty() || q.size() > 200 || !ValidText(q)) return respond(Response::Error(400, "bad_request", "q must be 1 to 200 bytes of text"));
    std::string ql = q;
    for (char& c : ql) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    // Resolved requests are small conversations: a scan of their rooms answers exactly.
    Json hits = Json::MakeArray();
    for (auto it = c_.tickets_.rbegin(); it != c_.tickets_.rend() && hits.size() < 50; ++it) {
      const Chat::Ticket& t = it->second;
      if (t.desk != d->first || t.status != "resolved") continue;
      bool match = false;
      std::string subj = t.subject;
      for (char& c : subj) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (subj.find(ql) != std::string::npos) match = true;
      Json snippets = Json::MakeArray();
      for (const std::string& rid : {t.room, t.notes_room}) {
        std::string prefix = MessagePrefix(rid);
        auto mit = c_.db_->NewIterator(kCfMessages, store::IterOptions{prefix, store::PrefixUpperBound(prefix)});
        if (!mit) continue;
        for ((*mit)->SeekToFirst(); (*mit)->Valid(); (*mit)->Next()) {
          auto m = Message::FromStored((*mit)->value());
          if (!m || m->deleted) continue;
          std::string tl = m->text;
          for (char& c : tl) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          if (tl.find(ql) == std::string::npos) continue;
          match = true;
          if (snippets.size() < 3) snippets.Push(m->ToClient(0, false));
        }
      }
      if (!match) continue;
      Json j = t.ToJson();
      j.Set("matches", std::move(snippets));
      hits.Push(std::move(j));
    }
    respond(Response::Json(200, Json::Obj({{"requests", std::move(hits)}})));
  }));
}

void Chat::RegisterHelpdesk(ipc::Server& control) {
  control.Register("helpdesk.add", "create or update a desk: {id, name, agents: [...]}",
                   [this](const ipc::Request& req, ipc::Reply reply) {
                     std::string id = NormalizeUserId(req.args.GetString("id"));
                     if (!ValidDeskId(id)) return reply(MakeError(base::kExitUsage, "id must be a short name of a-z 0-9 . _ -"));
                     Desk d;
                     d.id = id;
                     d.name = req.args.GetString("name", id);
                     if (!ValidRoomName(d.name) || d.name.size() > 60) return reply(MakeError(base::kExitDataErr, "name must be short text"));
                     if (const Json* a = req.args.Find("agents"); a && a->is_array())
                       for (const Json& x : a->as_array()) {
                         std::string ag = NormalizeUserId(x.is_string() ? x.as_string() : "");
                         if (!FindUser(ag)) return reply(MakeError(base::kExitNoUser, "no such user: " + ag));
                         d.agents.insert(ag);
                       }
                     if (d.agents.empty()) return reply(MakeError(base::kExitUsage, "a desk needs at least one agent"));
                     store::WriteBatch b;
                     b.Put(kCfDesk, "desk:" + id, d.ToJson().Dump());
                     if (!db_->Write(std::move(b), true).ok()) return reply(MakeError(base::kExitIoErr, "could not store the desk"));
                     desks_[id] = d;
                     Audit("admin", "helpdesk.add", d.ToJson());
                     reply(d.ToJson());
                   });
  control.Register("helpdesk.list", "list desks", [this](const ipc::Request&, ipc::Reply reply) {
    Json list = Json::MakeArray();
    for (const auto& [id, d] : desks_) list.Push(d.ToJson());
    reply(Json::Obj({{"desks", std::move(list)}}));
  });
  control.Register("helpdesk.stats", "request counts and response times: {desk?}",
                   [this](const ipc::Request& req, ipc::Reply reply) {
                     std::string desk = req.args.GetString("desk");
                     if (!desk.empty() && !desks_.count(desk)) return reply(MakeError(base::kExitNoUser, "no such desk: " + desk));
                     reply(HelpdeskStats(desk));
                   });
}

}  // namespace collab::chat
