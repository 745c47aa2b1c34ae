// Incoming webhooks: POST /hooks/{id}/{token} with Slack-compatible payloads (JSON bodies, or a
// form field payload=<JSON>), so existing shell scripts and monitoring tools can post into a
// room. Each hook posts as its own bot account; "username" and "icon_emoji" from the payload
// are shown instead of the bot's name. Answers follow the systems scripts were written for:
// "ok" (text) for Slack-style form posts, {"success":true} for JSON posts.
#include <algorithm>

#include "lib/auth/token.hpp"
#include "lib/base/log.hpp"
#include "lib/base/time.hpp"
#include "lib/chat/chat.hpp"
#include "lib/http/parse.hpp"
#include "lib/http/server.hpp"
#include "lib/ipc/server.hpp"
#include "lib/store/db.hpp"

namespace collab::chat {

using base::Json;
using base::MakeError;
using base::Result;

namespace {

// Keeps the Slack attachment fields collab shows; everything must be short text.
Result<Json> CleanAttachments(const Json& in, size_t max_bytes) {
  if (!in.is_array()) return MakeError(base::kExitDataErr, "attachments must be a list");
  if (in.size() > 20) return MakeError(base::kExitDataErr, "at most 20 attachments");
  Json out = Json::MakeArray();
  for (const Json& a : in.as_array()) {
    if (!a.is_object()) return MakeError(base::kExitDataErr, "each attachment must be an object");
    Json c = Json::MakeObject();
    for (const char* k : {"fallback", "color", "pretext", "author_name", "title", "title_link", "text", "footer"}) {
      const Json* v = a.Find(k);
      if (!v) continue;
      if (!v->is_string() || !ValidText(v->as_string()))
        return MakeError(base::kExitDataErr, std::string("attachment field ") + k + " must be text");
      c.Set(k, v->as_string());
    }
    if (const Json* f = a.Find("fields"); f && f->is_array()) {
      Json fields = Json::MakeArray();
      for (const Json& x : f->as_array()) {
        if (!x.is_object() || fields.size() >= 20) continue;
        fields.Push(Json::Obj({{"title", x.GetString("title")}, {"value", x.GetString("value")}, {"short", x.GetBool("short")}}));
      }
      c.Set("fields", std::move(fields));
    }
    out.Push(std::move(c));
  }
  if (out.Dump().size() > max_bytes) return MakeError(base::kExitDataErr, "attachments are too large");
  return out;
}

std::string UrlDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

Json Chat::Webhook::ToStored() const {
  return Json::Obj({{"id", id}, {"token", token}, {"room", room}, {"name", name}, {"user", user},
                    {"created_by", created_by}, {"created_at", created_ms}});
}

base::Status Chat::LoadHooks() {
  auto it = db_->NewIterator(kCfHooks);
  if (!it) return it.error();
  for ((*it)->SeekToFirst(); (*it)->Valid(); (*it)->Next()) {
    auto j = Json::Parse((*it)->value());
    if (!j) continue;
    Webhook h{j->GetString("id"),   j->GetString("token"),      j->GetString("room"), j->GetString("name"),
              j->GetString("user"), j->GetString("created_by"), j->GetInt("created_at")};
    hooks_[h.id] = h;
  }
  return (*it)->status();
}

void Chat::HandleHook(const http::Request& req, std::function<void(http::Response)> respond) {
  bool form = req.Header("content-type").rfind("application/x-www-form-urlencoded", 0) == 0;
  auto fail = [&](int status, const std::string& code, const std::string& message) {
    if (form) return respond(http::Response::Text(status, code));
    http::Response r = http::Response::Json(status, Json::Obj({{"success", false}, {"error", code}, {"message", message}}));
    respond(std::move(r));
  };
  auto it = hooks_.find(req.params.at("id"));
  if (it == hooks_.end()) return fail(404, "no_service", "no such webhook");
  const Webhook& h = it->second;
  const std::string& token = req.params.at("token");
  if (token.size() != h.token.size() || !auth::ConstantTimeEqual(token.data(), h.token.data(), token.size()))
    return fail(403, "invalid_token", "wrong webhook token");
  if (req.body.size() > opts_.max_body_bytes) return fail(413, "payload_too_large", "the payload is too large");
  std::string text = req.body;
  if (form) {
    std::string payload;
    for (std::string_view rest = req.body; !rest.empty();) {
      size_t amp = rest.find('&');
      std::string_view pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      if (pair.rfind("payload=", 0) == 0) payload = UrlDecode(pair.substr(8));
    }
    if (payload.empty()) return fail(400, "invalid_payload", "the form has no payload field");
    text = payload;
  }
  auto j = Json::Parse(text, Json::ParseLimits{16, opts_.max_body_bytes});
  if (!j || !j->is_object()) return fail(400, "invalid_payload", j ? "the payload must be a JSON object" : j.error().message);
  PostRequest pr;
  pr.room = h.room;
  if (const Json* t = j->Find("text")) {
    if (!t->is_string()) return fail(400, "invalid_payload", "text must be a string");
    pr.text = t->as_string();
  }
  if (const Json* a = j->Find("attachments"); a && !a->is_null()) {
    auto clean = CleanAttachments(*a, opts_.max_message_bytes);
    if (!clean) return fail(400, "invalid_payload", clean.error().message);
    if (clean->size() > 0) pr.attachments = *clean;
  }
  if (pr.text.empty() && !pr.attachments.is_array()) return fail(400, "no_text", "the payload has no text");
  std::string alias = j->GetString("username");
  if (alias.size() > 80 || !ValidText(alias)) return fail(400, "invalid_payload", "username must be short text");
  std::string emoji = j->GetString("icon_emoji");
  if (emoji.size() > 64 || !ValidText(emoji)) return fail(400, "invalid_payload", "icon_emoji must be short text");
  pr.alias = alias;
  pr.emoji = emoji;
  // Scripts mention people with <@id> in Slack syntax; collab's syntax is @id.
  for (size_t p = pr.text.find("<@"); p != std::string::npos; p = pr.text.find("<@", p)) {
    size_t e = pr.text.find('>', p);
    if (e == std::string::npos || e - p > 70) break;
    pr.text = pr.text.substr(0, p) + "@" + pr.text.substr(p + 2, e - p - 2) + pr.text.substr(e + 1);
  }
  const User* bot = FindUser(h.user);
  if (!bot || bot->disabled) return fail(403, "action_prohibited", "the webhook's account is disabled");
  Post(*bot, std::move(pr), [respond, form](int status, Json body) {
    if (status >= 400) {
      std::string code = body.GetString("code");
      if (form) return respond(http::Response::Text(status, code));
      return respond(http::Response::Json(status, Json::Obj({{"success", false}, {"error", code},
                                                             {"message", body.GetString("message")}})));
    }
    if (form) return respond(http::Response::Text(200, "ok"));
    respond(http::Response::Json(200, Json::Obj({{"success", true}, {"room", body.GetString("room")},
                                                 {"seq", body.GetInt("seq")}})));
  });
}

void Chat::RegisterWebhooks(http::Server& http, ipc::Server& control) {
  http.Route("POST", "/hooks/{id}/{token}",
             [this](const http::Request& req, http::Responder respond) { HandleHook(req, respond); });
  control.Register("webhook.add", "add an incoming webhook: {room, name, user?} -> {id, token, path}",
                   [this](const ipc::Request& req, ipc::Reply reply) {
                     Room* r = FindRoom(req.args.GetString("room"));
                     if (!r) return reply(MakeError(base::kExitNoUser, "no such room: " + req.args.GetString("room")));
                     std::string name = req.args.GetString("name");
                     if (name.empty() || !ValidRoomName(name)) return reply(MakeError(base::kExitUsage, "name (short text) is required"));
                     std::string user = NormalizeUserId(req.args.GetString("user"));
                     Webhook h;
                     h.id = auth::RandomToken(9);
                     std::replace(h.id.begin(), h.id.end(), '-', 'x');
                     std::replace(h.id.begin(), h.id.end(), '_', 'y');
                     h.token = auth::RandomToken(24);
                     h.room = r->id;
                     h.name = name;
                     h.created_by = "admin";
                     h.created_ms = base::WallClockMs();
                     if (user.empty()) {
                       // Its own bot account, named after the hook.
                       user = "hook-" + NormalizeUserId(h.id);
                       User bot;
                       bot.id = user;
                       bot.name = name;
                       bot.source = "local";
                       bot.created_ms = h.created_ms;
                       if (!PutUser(bot).ok()) return reply(MakeError(base::kExitIoErr, "could not store the bot account"));
                     } else if (!FindUser(user)) {
                       return reply(MakeError(base::kExitNoUser, "no such user: " + user));
                     }
                     h.user = user;
                     // Bots post into announcement rooms too: the admin chose the room.
                     auto res = SetMember(*r, user, r->OnlyModeratorsPost() ? Role::kModerator : Role::kMember, "admin");
                     if (std::holds_alternative<ApiError>(res)) return reply(MakeError(base::kExitDataErr, std::get<ApiError>(res).message));
                     store::WriteBatch b;
                     b.Put(kCfHooks, h.id, h.ToStored().Dump());
                     if (!db_->Write(std::move(b), true).ok()) return reply(MakeError(base::kExitIoErr, "could not store the webhook"));
                     hooks_[h.id] = h;
                     Audit("admin", "webhook.add", Json::Obj({{"hook", h.id}, {"room", h.room}, {"name", h.name}}));
                     Json out = h.ToStored();
                     out.Set("path", "/hooks/" + h.id + "/" + h.token);
                     reply(out);
                   });
  control.Register("webhook.list", "list incoming webhooks (without their tokens)", [this](const ipc::Request&, ipc::Reply reply) {
    Json list = Json::MakeArray();
    for (const auto& [id, h] : hooks_) {
      Json j = h.ToStored();
      j.Set("token", nullptr);
      const Room* r = FindRoom(h.room);
      j.Set("room_name", r ? r->name : "");
      list.Push(std::move(j));
    }
    reply(Json::Obj({{"hooks", std::move(list)}}));
  });
  control.Register("webhook.remove", "remove an incoming webhook: {id}", [this](const ipc::Request& req, ipc::Reply reply) {
    std::string id = req.args.GetString("id");
    auto it = hooks_.find(id);
    if (it == hooks_.end()) return reply(MakeError(base::kExitNoUser, "no such webhook: " + id));
    store::WriteBatch b;
    b.Delete(kCfHooks, id);
    if (!db_->Write(std::move(b), true).ok()) return reply(MakeError(base::kExitIoErr, "could not remove the webhook"));
    hooks_.erase(it);
    Audit("admin", "webhook.remove", Json::Obj({{"hook", id}}));
    reply(Json::Obj({{"removed", id}}));
  });
}

}  // namespace collab::chat
