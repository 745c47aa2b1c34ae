// HttpApi: the /api/v1 routes of collab-chatd (http_api.cpp, helpdesk.cpp). Internal to
// lib/chat; a friend of Chat, so its handlers reach the chat state directly.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "lib/base/json.hpp"
#include "lib/chat/chat.hpp"
#include "lib/http/server.hpp"

namespace collab::chat {

using base::Json;
using http::Request;
using http::Responder;
using http::Response;

class HttpApi {
 public:
  explicit HttpApi(Chat& chat) : c_(chat), max_json_body_(chat.options().max_body_bytes) {}
  void Register(http::Server& http);

 private:
  struct Caller {
    const User* user;
    std::string session_hash;
  };
  using AuthedHandler = std::function<void(const Request&, const Caller&, Responder)>;

  http::Handler Authed(AuthedHandler h);
  static void Send(const Responder& respond, int status, Json body);
  static void Fail(const Responder& respond, int status, std::string code, std::string message) {
    respond(Response::Error(status, std::move(code), std::move(message)));
  }
  static void Fail(const Responder& respond, const Chat::ApiError& e) { Fail(respond, e.status, e.code, e.message); }
  // The room of {id} when the caller may see it; otherwise answers 404 and returns null.
  Room* VisibleRoom(const Request& req, const Caller& c, const Responder& respond);
  Room* MemberRoom(const Request& req, const Caller& c, const Responder& respond);
  static bool ParseSeq(const std::string& s, uint64_t* out);
  // A JSON object body, or answers 400 (413 over chatd.max_body_bytes).
  std::optional<Json> Body(const Request& req, const Responder& respond);
  // collab-stream's base URL as the browser should use it: chatd.public_stream_url, or the host
  // the browser used for chatd with stream.listen's port.
  std::string StreamBase(const Request& req) const;
  // GET /api/v1/streams/{name}/watch: the playlist URL a viewer plays, signed unless open.
  void RegisterWatch(http::Server& http);
  // The helpdesk's routes (helpdesk.cpp), with the same authentication and error shapes.
  void RegisterHelpdesk(http::Server& http);
  void TicketAction(http::Server& http, const char* path, std::string act);

  Chat& c_;
  size_t max_json_body_ = 1 << 20;
};

}  // namespace collab::chat
