// Request and Response helpers: pure data, no libwebsockets.
#include "lib/base/exit_codes.hpp"
#include "lib/http/parse.hpp"
#include "lib/http/server.hpp"

namespace collab::http {

std::string Request::Header(std::string_view name) const { return FindHeader(headers, name); }

std::string Request::QueryParam(std::string_view name) const {
  auto pairs = ParseQuery(query);
  if (!pairs.ok()) return "";
  for (const auto& [n, v] : *pairs)
    if (n == name) return v;
  return "";
}

base::Result<base::Json> Request::JsonBody() const {
  std::string type = MediaType(Header("content-type"));
  if (type != "application/json") return base::Error{base::kExitDataErr, "Content-Type must be application/json"};
  auto parsed = base::Json::Parse(body);
  if (!parsed.ok()) return parsed.error();
  return parsed;
}

Response Response::Json(int status, const base::Json& body) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.Dump();
  r.headers.emplace_back("cache-control", "no-store");
  return r;
}

Response Response::Error(int status, std::string code, std::string message) {
  base::Json err = base::Json::Obj({{"status", status}, {"code", std::move(code)}, {"message", std::move(message)}});
  return Json(status, base::Json::Obj({{"error", std::move(err)}}));
}

Response Response::Text(int status, std::string body) {
  Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

Response Response::FromError(const base::Error& error) {
  switch (error.code) {
    case base::kExitUsage:
    case base::kExitDataErr:
      return Error(400, "bad_request", error.message);
    case base::kExitNoInput:
    case base::kExitNoUser:
      return Error(404, "not_found", error.message);
    case base::kExitNoPerm:
      return Error(403, "forbidden", error.message);
    case base::kExitUnavailable:
    case base::kExitTempFail:
      return Error(503, "unavailable", error.message);
    default:
      // Internal details (paths, errno text) stay in the daemon's log, not in the reply.
      return Error(500, "internal", "internal error");
  }
}

}  // namespace collab::http
