// The HTTP/WebSocket server every collab daemon serves its API, web app and WebSockets through:
// libwebsockets on the daemon's own libuv loop. Routes with {param} patterns, JSON helpers,
// static files with ETags, CORS for the configured origins, security headers on every response,
// WebSocket sessions with queued writes and reassembled messages, plain HTTP and TLS (with h2
// via ALPN) on one port, certificate reload for new handshakes, and a draining shutdown.
//
// Threading: everything here, including Responders and WebSocket::Send, must be called on the
// loop thread; work done elsewhere reports back to the loop first (uv_async / uv_queue_work).
//
// Deliberately not here: authentication (lib/auth checks tokens inside handlers), request
// routing beyond method + path, compression, range requests, HTTP/2 without TLS (h2c upgrades
// get a 400), response streaming and server push. Plain requests that reach a TLS port are
// served as they are, not redirected: on an intranet port the admin decides whether plain HTTP
// is allowed by choosing whether to configure a certificate, and loopback health checks stay
// simple.
//
// Plain HTTP/1.1 response bodies bypass libwebsockets' output buffer: headers and body are written
// to the socket here (sendmsg, or sendfile for static files and Response::body_fd), keeping our
// own offset and waiting for POLLOUT when the kernel takes no more; nothing is copied in user
// space. TLS and HTTP/2 responses go through libwebsockets.
//
// What clients see at the edges: request lines with bad percent-escapes are refused by
// libwebsockets itself (403, or a reset h2 stream) before any route runs; a body over
// max_body_bytes gets 413 at once; HTTP/1.1 chunked request bodies are accepted (the
// connection then closes after the answer); HTTP/2 POST/PUT/PATCH without Content-Length get
// 411 (browsers always send one); WebSockets work over HTTP/1.1 and over h2 (RFC 8441).
#pragma once

#include <uv.h>

#include <any>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/base/json.hpp"
#include "lib/base/result.hpp"

namespace collab::http {

namespace detail {
struct ServerImpl;
}

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // "GET", "POST", ...; HEAD requests reach GET routes with "HEAD" here
  std::string path;    // percent-decoded path without the query, dot-segments removed
  std::string query;   // canonical percent-encoded query ("a=1&b=x%20y"), "" when none
  HeaderList headers;  // lowercase names; see Server for which headers are captured
  std::string body;    // the whole body (read before the handler runs)
  std::string peer_ip;
  bool tls = false;
  std::map<std::string, std::string> params;  // values of {name} segments of the route

  // First value of a header (name case-insensitive), "" when absent.
  std::string Header(std::string_view name) const;
  // First value of a query parameter, URL-decoded; "" when absent.
  std::string QueryParam(std::string_view name) const;
  // The body as JSON. Errors (kExitDataErr, for a 400) when the Content-Type is not
  // application/json or the body does not parse; Response::FromError turns them into replies.
  base::Result<base::Json> JsonBody() const;
};

struct Response {
  int status = 200;
  std::string content_type;
  std::string body;
  // Instead of `body`: bytes owned elsewhere and sent without a copy (e.g. a media segment held
  // by a packager); `body_owner` keeps `body_view` alive until the response is sent.
  std::shared_ptr<const void> body_owner;
  std::string_view body_view;
  // Optional, with body_owner: the same bytes as body_view are also readable from this file
  // descriptor starting at body_fd_offset (e.g. a sealed memfd that body_owner keeps open), so a
  // plain HTTP/1.1 response sends them with sendfile(2) and the kernel copies nothing. TLS and h2
  // responses use body_view. -1 when there is no such file.
  int body_fd = -1;
  uint64_t body_fd_offset = 0;
  HeaderList headers;  // extra headers; names are sent lowercase, unsafe values are dropped

  // application/json with Cache-Control: no-store (API replies must not be cached on staff PCs).
  static Response Json(int status, const base::Json& body);
  // {"error":{"status":..,"code":..,"message":..}} as Json() does.
  static Response Error(int status, std::string code, std::string message);
  static Response Text(int status, std::string body);
  // Maps a lib Error onto an HTTP error: dataerr/usage 400, nouser/noinput 404, noperm 403,
  // unavailable/tempfail 503, anything else 500 (whose message is not shown to the client).
  static Response FromError(const base::Error& error);

  Response& AddHeader(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

// Completes a request. Copyable; the first call wins and later calls are ignored; calling it
// after the client went away (or after Shutdown finished) is a harmless no-op.
using Responder = std::function<void(Response)>;
// The Request is valid only during the call: copy what an asynchronous handler needs later.
// A handler that throws gets a 500 and the server keeps going.
using Handler = std::function<void(const Request&, Responder)>;

// Coalesces WebSocket writes on this thread while an instance lives: the frames Send() would
// write at once to a socket with nothing pending are kept, and when the outermost instance ends
// each socket's frames go out in one write (one syscall and one wakeup of the reader instead of
// one per frame: a posted message's echo and its ack, say). Order per socket is kept; frames
// that would have been queued anyway (h2, a socket still sending, large frames) are unaffected.
// Nests; loop thread only.
class CorkWrites {
 public:
  CorkWrites();
  ~CorkWrites();
  CorkWrites(const CorkWrites&) = delete;
  CorkWrites& operator=(const CorkWrites&) = delete;
};

// One WebSocket session. The server owns the connection; users hold shared_ptrs that stay
// valid after the session closed (then Send/Close do nothing and is_open() is false).
class WebSocket {
 public:
  ~WebSocket();
  WebSocket(const WebSocket&) = delete;
  WebSocket& operator=(const WebSocket&) = delete;

  // Queue a message; it is written when the socket can take it, in order.
  void Send(std::string_view text);
  void SendBinary(std::string_view data);
  // Sends a Close frame after the queued messages (code 1000..4999, reason up to 123 bytes).
  void Close(int code = 1000, std::string_view reason = "");

  uint64_t id() const { return id_; }
  const std::string& peer_ip() const { return request_.peer_ip; }
  const std::string& path() const { return request_.path; }
  // The upgrade request (query, headers, route params); its body is empty.
  const Request& request() const { return request_; }
  // The subprotocol agreed in the handshake, "" when none.
  const std::string& subprotocol() const { return subprotocol_; }
  bool is_open() const;
  // Bytes queued and not yet handed to the socket, for callers that want backpressure.
  size_t buffered_amount() const;
  // The close code the peer sent (0 when none, or still open).
  int peer_close_code() const { return peer_close_code_; }

  // Free slot for the application's per-session state.
  std::any& user_data() { return user_data_; }

  struct Internal;

 private:
  friend struct detail::ServerImpl;
  WebSocket(uint64_t id, Request request);
  void Queue(std::string_view data, bool binary);
  void FlushCorked();
  friend class CorkWrites;

  uint64_t id_;
  Request request_;
  std::string subprotocol_;
  int peer_close_code_ = 0;
  std::any user_data_;
  std::unique_ptr<Internal> in_;
};

struct WebSocketHandlers {
  std::function<void(std::shared_ptr<WebSocket>)> on_open;
  // msg is valid only during the call.
  std::function<void(std::shared_ptr<WebSocket>, std::string_view msg, bool binary)> on_message;
  // Called once per opened session, however it ended.
  std::function<void(std::shared_ptr<WebSocket>)> on_close;
  // When set, clients must offer it in Sec-WebSocket-Protocol. At most 16 distinct
  // subprotocols per server (libwebsockets needs the names when the server starts).
  std::string subprotocol;
};

struct ServerOptions {
  std::string host = "127.0.0.1";  // an address; "" or "*" for all interfaces
  int port = 0;                    // 0 picks a free port (see Server::port)
  std::string tls_cert, tls_key;   // PEM files; both empty = plain HTTP only
  size_t max_body_bytes = 1 << 20;
  size_t max_ws_message_bytes = 256 << 10;
  // A session whose unsent messages exceed this is closed with 1008 (a stuck client must not
  // grow the daemon's memory without bound).
  size_t max_ws_queue_bytes = 16 << 20;
  std::string static_dir;  // "" = no static files
  std::string server_name = "collab";
  std::vector<std::string> cors_origins;  // exact origins ("https://chat.example"), or "*"
  bool http2 = true;                      // offer h2 by ALPN on TLS connections
  int request_timeout_s = 120;            // how long a handler may take before the client is dropped
  int shutdown_grace_ms = 5000;           // how long Shutdown waits for in-flight work
};

// Headers captured into Request::headers: every header libwebsockets knows by name (host,
// authorization, cookie, content-type, origin, user-agent, if-none-match, x-forwarded-for,
// x-real-ip, ... ) and, on HTTP/1.1 only, x-request-id, x-forwarded-proto, x-forwarded-host,
// access-control-request-method, idempotency-key, last-event-id and x-csrf-token.
class Server {
 public:
  // Listens on host:port. On error nothing listens, but libwebsockets may still be closing
  // handles on the loop: run the loop (it ends by itself) before uv_loop_close.
  [[nodiscard]] static base::Result<std::unique_ptr<Server>> Start(uv_loop_t* loop, const ServerOptions& options);
  // Without Shutdown first, drops every connection at once; run the loop afterwards so
  // libwebsockets can close its handles.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // method is an uppercase token ("GET"); pattern as RoutePattern (lib/http/parse.hpp).
  // Routes may be added at any time; the first matching route wins. An invalid pattern is a
  // programming error and aborts.
  void Route(std::string method, std::string pattern, Handler handler);
  // path may hold {param} segments too.
  void WebSocketRoute(std::string path, WebSocketHandlers handlers);

  int port() const;
  bool tls() const;
  // Validates the new certificate and key (files, match) and then uses them for every new
  // handshake; on any error keeps the old ones and returns the error (kExitConfig).
  [[nodiscard]] base::Status ReloadTls(const std::string& cert, const std::string& key);
  // Open TCP connections (HTTP and WebSocket).
  size_t connection_count() const;
  size_t websocket_count() const;

  // Stops accepting (new connections are closed at once), closes WebSockets with 1001, lets
  // in-flight requests finish (up to shutdown_grace_ms), then tears libwebsockets down. done
  // runs on the loop when nothing of the server is left on it, so the loop may be closed.
  void Shutdown(std::function<void()> done);

 private:
  explicit Server(detail::ServerImpl* impl) : impl_(impl) {}
  detail::ServerImpl* impl_;
};

}  // namespace collab::http
