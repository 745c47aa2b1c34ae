// libwebsockets glue for Server: one lws context with one explicit vhost on the daemon's uv
// loop, and one protocol callback that turns lws events into Exchanges (one per HTTP request)
// and WebSocket sessions. The only file in the tree that includes libwebsockets.h.
//
// libwebsockets 4.1.6 (Debian bookworm) behaviours this file works around, each found the hard
// way; the code that handles one says so where it does:
// - Foreign libuv loop: a failing lws_create_context() may return a context that is already
//   being destroyed, so the vhost is created explicitly (failure is then a plain NULL); and
//   lws_context_destroy() only closes handles: a second call, after lws's own handles are
//   gone, frees the context (OnReap).
// - lws_context_deprecate() SIGINTs the whole process once its last connection closes, so
//   "stop accepting" is done in FILTER_NETWORK_CONNECTION.
// - Per-session data is freed on every HTTP/1.1 transaction: state lives in maps keyed by wsi.
// - Debian builds lws with _DEBUG, whose libuv "repeat close" self-test kills a socket before
//   a WebSocket Close frame asked for by "lws_close_reason + return -1" goes out.
// - Forced service (decrypted TLS bytes, parked h2 DATA) runs once per socket event, and lws
//   reads 4 KiB at a time by default: TLS uploads stalled until pt_serv_buf_size was raised
//   and a prepare handle re-kicks lws when it still has work (StartKicker).
// - h2: DATA arriving before the request is dispatched never has its window returned (uploads
//   stall at 256 KiB); one lws_write is one DATA frame whatever the peer's frame size or
//   window; a WebSocket over h2 (RFC 8441, used by Chromium) needs more than LWS_PRE headroom
//   for big frames, and returning -1 from its RECEIVE corrupts lws's buffers; h2c upgrades
//   hang the connection and are refused.
// - lws_write copies whatever the kernel does not take at once into its own buffer, and sends
//   at most tx_packet_size per call: for big bodies that was most of the cost after the kernel's
//   own copy. Plain HTTP/1.1 responses are therefore written to the socket here (WriteDirect),
//   once lws has nothing buffered for the connection; the h1 role keeps no count of body bytes,
//   so lws_http_transaction_completed afterwards works as if lws had sent them. TLS and h2 keep
//   lws_write (h2 gets copies with headroom).
// - No "Expect: 100-continue" support; POST/PUT/PATCH without Content-Length wait for 100 MB.
// - Subprotocol names are matched against the vhost's protocol list, fixed at vhost creation;
//   the list points at name buffers owned here so routes added later can claim a slot.
// - lws percent-decodes the URI itself (and forbids bad escapes), collapses "..", and splits
//   the query into decoded "name=value" fragments; Request::query is rebuilt from those.
#include "lib/http/server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "lib/base/ascii.hpp"
#include "lib/base/exit_codes.hpp"
#include "lib/base/fs.hpp"
#include "lib/base/log.hpp"
#include "lib/base/time.hpp"
#include "lib/http/parse.hpp"

namespace collab::http {

using base::Error;
using base::Result;
using base::Status;

namespace {

constexpr int kMaxSubprotocols = 16;
constexpr size_t kSubprotocolNameMax = 64;
constexpr size_t kH1Chunk = 256 * 1024;
constexpr size_t kH1ChunksPerWriteable = 4;  // 1 MiB per WRITEABLE callback at most
constexpr size_t kDirectBudget = 1 << 20;    // body bytes per WRITEABLE callback, plain HTTP/1.1
constexpr size_t kH2Chunk = 16 * 1024;       // the smallest SETTINGS_MAX_FRAME_SIZE a peer may set
constexpr const char* kHttpProtocolName = "collab-http";
// WebSockets over HTTP/2 (RFC 8441, which Chromium uses whenever the page came over h2): lws
// 4.1.6 writes each WebSocket frame as one DATA frame, ignoring the peer's frame size, and puts
// up to 9 + 10 header bytes in front of the payload, more than LWS_PRE. Messages are therefore
// sent in fragments that fit a 16 KiB DATA frame, from buffers with extra headroom.
constexpr size_t kWsFragmentH2 = 16 * 1024 - 64;
constexpr size_t kWsHeadroom = LWS_PRE + 32;
// Frames up to this size are written at once when nothing is pending (WebSocket::Queue); larger
// ones go through the queue, so what lws may have to buffer for a slow reader stays small.
constexpr size_t kWsDirectWriteMax = 64 * 1024;

// Queued frames written in one WRITEABLE callback over HTTP/1.1 (h2: always one).
constexpr int kWsFramesPerWriteable = 64;

// CorkWrites state (loop thread): nesting depth and the sockets holding corked frames.
thread_local int g_cork_depth = 0;
thread_local std::vector<WebSocket*> g_corked;

// Headers lws does not know by token, fetched by name (HTTP/1.1 only: lws keeps unknown
// headers of h2 streams nowhere).
constexpr const char* kCustomHeaders[] = {
    "x-request-id",    "x-forwarded-proto", "x-forwarded-host", "access-control-request-method",
    "idempotency-key", "last-event-id",     "x-csrf-token"};

// Sent on every response, including the ones lws writes itself (403 for a forbidden URI).
const lws_protocol_vhost_options kSecurityHeaders[] = {
    {&kSecurityHeaders[1], nullptr, "x-content-type-options:", "nosniff"},
    {&kSecurityHeaders[2], nullptr, "referrer-policy:", "no-referrer"},
    {nullptr, nullptr, "x-frame-options:", "DENY"},
};

// Idle WebSocket and h2 connections get a PING after 30 s and are dropped after 75 s of
// silence, so half-open TCP connections of sleeping laptops do not pile up.
const lws_retry_bo_t kIdlePolicy = {nullptr, 0, 0, 30, 75, 0};

// lws logs go through our logger. Errors are mostly about clients (garbage, resets), so they
// are info, not error; during Start the first error line (the most specific one) is kept for
// the returned message.
thread_local std::string* g_lws_capture = nullptr;

void LwsLogEmit(int level, const char* line) {
  std::string_view s(line);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  // Drop lws's own "[date time] E: " prefix; our logger adds its own.
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find("] ");
    if (close != std::string_view::npos) s.remove_prefix(close + 2);
  }
  if (s.size() > 3 && s[1] == ':' && s[2] == ' ') s.remove_prefix(3);
  if ((level & LLL_ERR) && g_lws_capture && g_lws_capture->empty()) *g_lws_capture = std::string(s);
  if (level & LLL_ERR) {
    LOG_INFO("lws: %.*s", static_cast<int>(s.size()), s.data());
  } else {
    LOG_DEBUG("lws: %.*s", static_cast<int>(s.size()), s.data());
  }
}

std::string OpensslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

bool IsH2Stream(lws* wsi) { return lws_get_network_wsi(wsi) != wsi; }

std::string PeerIp(lws* wsi) {
  char buf[128] = {0};
  const char* p = lws_get_peer_simple(lws_get_network_wsi(wsi), buf, sizeof(buf) - 1);
  std::string ip = p ? p : "";
  if (ip.rfind("::ffff:", 0) == 0 && ip.find('.') != std::string::npos) ip.erase(0, 7);
  return ip;
}

std::string CopyHeader(lws* wsi, lws_token_indexes token) {
  int len = lws_hdr_total_length(wsi, token);
  if (len <= 0) return "";
  std::string buf(static_cast<size_t>(len) + 1, '\0');
  int n = lws_hdr_copy(wsi, buf.data(), len + 1, token);
  if (n < 0) return "";
  buf.resize(static_cast<size_t>(n));
  return buf;
}

// Fragments of one header (repeated header lines, or the '&'-separated query arguments).
std::vector<std::string> HeaderFragments(lws* wsi, lws_token_indexes token) {
  std::vector<std::string> out;
  for (int i = 0; i < 256; ++i) {
    int len = lws_hdr_fragment_length(wsi, token, i);
    if (len <= 0) break;
    std::string buf(static_cast<size_t>(len) + 1, '\0');
    int n = lws_hdr_copy_fragment(wsi, buf.data(), len + 1, token, i);
    if (n < 0) break;
    buf.resize(static_cast<size_t>(n));
    out.push_back(std::move(buf));
  }
  return out;
}

struct MethodToken {
  lws_token_indexes token;
  const char* name;
};
constexpr MethodToken kMethods[] = {
    {WSI_TOKEN_GET_URI, "GET"},   {WSI_TOKEN_POST_URI, "POST"},   {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
    {WSI_TOKEN_PUT_URI, "PUT"},   {WSI_TOKEN_PATCH_URI, "PATCH"}, {WSI_TOKEN_DELETE_URI, "DELETE"},
    {WSI_TOKEN_HEAD_URI, "HEAD"},
};

bool SkipToken(int t) {
  switch (t) {
    case WSI_TOKEN_GET_URI:
    case WSI_TOKEN_POST_URI:
    case WSI_TOKEN_OPTIONS_URI:
    case WSI_TOKEN_PUT_URI:
    case WSI_TOKEN_PATCH_URI:
    case WSI_TOKEN_DELETE_URI:
    case WSI_TOKEN_HEAD_URI:
    case WSI_TOKEN_CONNECT:
    case WSI_TOKEN_HTTP_URI_ARGS:
    case WSI_TOKEN_HTTP:
    case WSI_TOKEN_HTTP1_0:
    case WSI_TOKEN_CHALLENGE:
    case WSI_TOKEN_PROXY:
    case WSI_TOKEN_HTTP_COLON_METHOD:
    case WSI_TOKEN_HTTP_COLON_PATH:
    case WSI_TOKEN_HTTP_COLON_SCHEME:
    case WSI_TOKEN_HTTP_COLON_STATUS:
    case WSI_TOKEN_COLON_PROTOCOL:
      return true;
    default:
      return t >= _WSI_TOKEN_CLIENT_SENT_PROTOCOLS;
  }
}

// Everything the handshake or request tells us, copied out while lws still holds the headers.
Request ReadRequest(lws* wsi, const char* uri, size_t uri_len) {
  Request req;
  for (const auto& m : kMethods) {
    if (lws_hdr_total_length(wsi, m.token) > 0) {
      req.method = m.name;
      break;
    }
  }
  req.path.assign(uri ? uri : "", uri ? uri_len : 0);
  QueryList args;
  for (std::string& frag : HeaderFragments(wsi, WSI_TOKEN_HTTP_URI_ARGS)) {
    size_t eq = frag.find('=');
    if (eq == std::string::npos) {
      args.emplace_back(std::move(frag), "");
    } else {
      args.emplace_back(frag.substr(0, eq), frag.substr(eq + 1));
    }
  }
  req.query = BuildQuery(args);
  for (int t = 0; t < WSI_TOKEN_COUNT; ++t) {
    if (SkipToken(t)) continue;
    auto token = static_cast<lws_token_indexes>(t);
    if (lws_hdr_total_length(wsi, token) <= 0) continue;
    const char* raw_name = reinterpret_cast<const char*>(lws_token_to_string(token));
    if (!raw_name) continue;
    std::string name(raw_name);
    while (!name.empty() && (name.back() == ':' || name.back() == ' ')) name.pop_back();
    if (name == ":authority") name = "host";
    if (name.empty() || name[0] == ':') continue;
    std::string value;
    if (token == WSI_TOKEN_HTTP_COOKIE) {
      // h2 clients send one cookie per field and lws would glue them together without "; ".
      for (const std::string& frag : HeaderFragments(wsi, token)) {
        if (!value.empty()) value += "; ";
        value += frag;
      }
    } else {
      value = CopyHeader(wsi, token);
    }
    if (name == "host" && !FindHeader(req.headers, "host").empty()) continue;
    req.headers.emplace_back(std::move(name), std::move(value));
  }
  if (!IsH2Stream(wsi)) {
    for (const char* name : kCustomHeaders) {
      std::string key = std::string(name) + ":";
      int len = lws_hdr_custom_length(wsi, key.c_str(), static_cast<int>(key.size()));
      if (len < 0) continue;
      std::string buf(static_cast<size_t>(len) + 1, '\0');
      int n = lws_hdr_custom_copy(wsi, buf.data(), len + 1, key.c_str(), static_cast<int>(key.size()));
      if (n < 0) continue;
      buf.resize(static_cast<size_t>(n));
      req.headers.emplace_back(name, std::move(buf));
    }
  }
  req.peer_ip = PeerIp(wsi);
  req.tls = lws_is_ssl(lws_get_network_wsi(wsi)) != 0;
  return req;
}

struct PemCert {
  X509* cert = nullptr;
  STACK_OF(X509) * chain = nullptr;
  EVP_PKEY* key = nullptr;
  PemCert() = default;
  PemCert(const PemCert&) = delete;
  PemCert& operator=(const PemCert&) = delete;
  PemCert(PemCert&& o) noexcept { *this = std::move(o); }
  PemCert& operator=(PemCert&& o) noexcept {
    std::swap(cert, o.cert);
    std::swap(chain, o.chain);
    std::swap(key, o.key);
    return *this;
  }
  ~PemCert() {
    X509_free(cert);
    if (chain) sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
  }
};

// Reads a certificate chain and a private key and checks that they belong together, all on a
// scratch SSL_CTX so nothing live changes when something is wrong.
Result<PemCert> LoadCertificate(const std::string& cert_path, const std::string& key_path) {
  ERR_clear_error();
  PemCert out;
  BIO* bio = BIO_new_file(cert_path.c_str(), "r");
  if (!bio) return Error{base::kExitConfig, "cannot read TLS certificate " + cert_path + ": " + OpensslErrors()};
  out.cert = PEM_read_bio_X509_AUX(bio, nullptr, nullptr, nullptr);
  if (out.cert) {
    out.chain = sk_X509_new_null();
    while (X509* extra = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) sk_X509_push(out.chain, extra);
    ERR_clear_error();  // the loop ends on "no start line"
  }
  BIO_free(bio);
  if (!out.cert) return Error{base::kExitConfig, "no PEM certificate in " + cert_path + ": " + OpensslErrors()};

  bio = BIO_new_file(key_path.c_str(), "r");
  if (!bio) return Error{base::kExitConfig, "cannot read TLS key " + key_path + ": " + OpensslErrors()};
  out.key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!out.key) return Error{base::kExitConfig, "no PEM private key in " + key_path + ": " + OpensslErrors()};

  SSL_CTX* scratch = SSL_CTX_new(TLS_server_method());
  if (!scratch) return Error{base::kExitSoftware, "SSL_CTX_new: " + OpensslErrors()};
  bool ok = SSL_CTX_use_certificate(scratch, out.cert) == 1 && SSL_CTX_use_PrivateKey(scratch, out.key) == 1 &&
            SSL_CTX_check_private_key(scratch) == 1;
  std::string why = ok ? "" : OpensslErrors();
  SSL_CTX_free(scratch);
  if (!ok)
    return Error{base::kExitConfig, "TLS key " + key_path + " does not match certificate " + cert_path + ": " + why};
  return out;
}

// lws reports a busy port as "ERROR on binding fd 19 to port 8080 (-1 98)"; trying the bind
// first gives the admin a sentence. Only for numeric hosts and fixed ports (port 0 cannot clash).
Status PreflightBind(const std::string& host, int port) {
  if (port == 0) return base::Ok();
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (host.empty() || host == "*") {
    v4->sin_family = AF_INET;
    v4->sin_addr.s_addr = htonl(INADDR_ANY);
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof(*v4);
  } else if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof(*v4);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof(*v6);
  } else {
    return base::Ok();  // an interface name: lws resolves it
  }
  int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return base::Ok();
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len);
  int err = errno;
  ::close(fd);
  if (rc != 0) {
    return Error{err == EACCES ? base::kExitNoPerm : base::kExitUnavailable,
                 "cannot listen on " + host + ":" + std::to_string(port) + ": " + base::ErrnoText(err)};
  }
  return base::Ok();
}

}  // namespace

namespace detail {

struct HttpRoute {
  std::string method;
  RoutePattern pattern;
  Handler handler;
};

struct WsRoute {
  RoutePattern pattern;
  WebSocketHandlers handlers;
};

// One HTTP request on one wsi (an h1 connection or an h2 stream), from its headers to the last
// byte of its response.
struct Exchange {
  lws* wsi = nullptr;
  Request req;
  bool h2 = false;
  // request body
  bool expect_body = false;
  bool dispatched = false;
  bool ignore_body = false;
  bool draining = false;        // reading and dropping a body we already refused
  bool drain_credit = false;    // h2: keep opening the window while draining
  bool body_done = false;       // the drained body has been read to its end
  bool finish_pending = false;  // the response is out, the drain is not
  std::unique_ptr<ChunkedDecoder> chunked;
  // response
  bool responded = false;
  bool headers_sent = false;
  bool head_only = false;
  bool close_after = false;
  int status = 0;
  std::string content_type;
  HeaderList out_headers;
  std::string out_body;
  std::shared_ptr<const void> body_owner;  // keeps body_ptr valid when the bytes are shared
  const char* body_ptr = nullptr;          // out_body's or the shared bytes
  int fd = -1;                             // a static file's descriptor, owned
  int body_fd = -1;                        // Response::body_fd: not owned (body_owner keeps it open)
  uint64_t body_fd_offset = 0;
  uint64_t body_len = 0;
  uint64_t sent = 0;
  // Plain HTTP/1.1: headers and body go to the socket from WriteDirect, past lws's buffer.
  bool direct = false;
  std::string head;  // the header block while direct
  size_t head_sent = 0;
  bool write_inline = false;  // answered inside its own HTTP callback: written before it returns

  ~Exchange() {
    if (fd >= 0) ::close(fd);
  }
};

struct PendingUpgrade {
  Request req;
  std::shared_ptr<WsRoute> route;
  std::string subprotocol;
};

}  // namespace detail

struct WebSocket::Internal {
  detail::ServerImpl* server = nullptr;
  lws* wsi = nullptr;
  std::shared_ptr<detail::WsRoute> route;
  struct Out {
    std::string buf;  // kWsHeadroom bytes of headroom, then the payload
    bool binary;
    size_t sent = 0;  // payload bytes already written (as fragments)
  };
  std::deque<Out> queue;
  size_t queued = 0;
  // Frames (with their headers) held by a CorkWrites scope, written in one go when it ends.
  std::string corked;
  bool in_cork_list = false;
  bool h2 = false;            // a WebSocket over an HTTP/2 stream (RFC 8441): writes only from WRITEABLE
  bool write_failed = false;  // a direct write failed; the next WRITEABLE closes the connection
  bool open = false;
  bool close_requested = false;
  bool close_sent = false;
  int close_code = 1000;
  std::string close_reason;
  std::string rx;
  bool rx_binary = false;
};

namespace detail {

struct ServerImpl {
  enum class State { kRunning, kDraining, kDestroying, kDone };

  uv_loop_t* loop = nullptr;
  ServerOptions opts;
  lws_context* ctx = nullptr;  // lws sets it to null (pcontext) once the context is gone
  lws_vhost* vhost = nullptr;
  int port = 0;
  bool tls = false;
  std::string static_root;  // realpath of opts.static_dir, "" when none
  SSL_CTX* ssl_ctx = nullptr;
  PemCert reloaded;  // certificate installed by ReloadTls (none until then)

  std::vector<std::shared_ptr<HttpRoute>> routes;
  std::vector<std::shared_ptr<WsRoute>> ws_routes;
  std::unordered_map<lws*, std::shared_ptr<Exchange>> exchanges;
  std::unordered_map<lws*, std::shared_ptr<WebSocket>> sockets;
  std::unordered_map<lws*, PendingUpgrade> upgrades;
  std::unordered_set<lws*> connections;
  uint64_t next_ws_id = 1;

  char subprotocol_names[kMaxSubprotocols][kSubprotocolNameMax] = {};
  int subprotocols_used = 0;
  lws_protocols protocols[kMaxSubprotocols + 2] = {};
  std::vector<unsigned char> scratch;
  lws* inline_wsi = nullptr;  // set while OnHttp dispatches a request that may be written inline

  State state = State::kRunning;
  std::function<void()> done;
  int64_t drain_deadline_ms = 0;
  bool owner_gone = false;
  bool finishing = false;
  uv_timer_t* drain_timer = nullptr;
  uv_prepare_t* reaper = nullptr;
  uv_timer_t* starved_timer = nullptr;
  uv_prepare_t* kicker = nullptr;
  std::vector<lws*> starved;  // h2 streams waiting for the peer's window to open
  int handles_closing = 0;

  ~ServerImpl() {
    for (auto& [wsi, ws] : sockets) {
      ws->in_->open = false;
      ws->in_->server = nullptr;
      ws->in_->wsi = nullptr;
    }
  }

  // ---- lws entry point ---------------------------------------------------------------------

  static int Callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
    lws_context* c = lws_get_context(wsi);
    auto* self = c ? static_cast<ServerImpl*>(lws_context_user(c)) : nullptr;
    if (!self) return lws_callback_http_dummy(wsi, reason, user, in, len);
    try {
      return self->Dispatch(wsi, reason, user, in, len);
    } catch (const std::exception& e) {
      LOG_ERROR("http: unexpected exception in lws callback %d: %s", static_cast<int>(reason), e.what());
    } catch (...) {
      LOG_ERROR("http: unexpected exception in lws callback %d", static_cast<int>(reason));
    }
    return -1;
  }

  int Dispatch(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
    switch (reason) {
      case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        return state == State::kRunning ? 0 : 1;
      case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
        connections.insert(wsi);
        return 0;
      case LWS_CALLBACK_WSI_DESTROY:
        connections.erase(wsi);
        EndExchange(wsi);
        upgrades.erase(wsi);
        if (sockets.count(wsi)) OnWsClosed(wsi);
        return 0;
      case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
        OnSslCtx(static_cast<SSL_CTX*>(user));
        return 0;
      case LWS_CALLBACK_HTTP:
        return OnHttp(wsi, static_cast<const char*>(in), len);
      case LWS_CALLBACK_HTTP_BODY:
        return OnBody(wsi, static_cast<const char*>(in), len);
      case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return OnBodyComplete(wsi);
      case LWS_CALLBACK_HTTP_WRITEABLE:
        return OnHttpWriteable(wsi);
      case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
      case LWS_CALLBACK_CLOSED_HTTP:
        EndExchange(wsi);
        return 0;
      case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return OnConfirmUpgrade(wsi, static_cast<const char*>(in));
      case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return OnFilterWs(wsi);
      case LWS_CALLBACK_ESTABLISHED:
        return OnWsEstablished(wsi);
      case LWS_CALLBACK_RECEIVE:
        return OnWsReceive(wsi, static_cast<const char*>(in), len);
      case LWS_CALLBACK_SERVER_WRITEABLE:
        return OnWsWriteable(wsi);
      case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        return OnWsPeerClose(wsi, static_cast<const unsigned char*>(in), len);
      case LWS_CALLBACK_CLOSED:
        OnWsClosed(wsi);
        return 0;
      default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
  }

  // ---- TLS -----------------------------------------------------------------------------------

  void OnSslCtx(SSL_CTX* ctx_ssl) {
    if (!ctx_ssl) return;
    ssl_ctx = ctx_ssl;
    SSL_CTX_set_min_proto_version(ctx_ssl, TLS1_2_VERSION);
    SSL_CTX_set_cert_cb(ctx_ssl, &ServerImpl::CertCallback, this);
  }

  // Runs for every handshake before the certificate is chosen: after a reload, the SSL gets
  // the new certificate in place of every one it inherited from the SSL_CTX.
  static int CertCallback(SSL* ssl, void* arg) {
    auto* self = static_cast<ServerImpl*>(arg);
    if (!self->reloaded.cert) return 1;
    SSL_certs_clear(ssl);
    if (SSL_use_certificate(ssl, self->reloaded.cert) != 1 || SSL_use_PrivateKey(ssl, self->reloaded.key) != 1)
      return 0;
    if (self->reloaded.chain && sk_X509_num(self->reloaded.chain) > 0 && SSL_set1_chain(ssl, self->reloaded.chain) != 1)
      return 0;
    return 1;
  }

  // ---- HTTP ----------------------------------------------------------------------------------

  std::shared_ptr<Exchange> FindExchange(lws* wsi) {
    auto it = exchanges.find(wsi);
    return it == exchanges.end() ? nullptr : it->second;
  }

  void EndExchange(lws* wsi) {
    auto it = exchanges.find(wsi);
    if (it == exchanges.end()) return;
    it->second->wsi = nullptr;
    exchanges.erase(it);
  }

  int OnHttp(lws* wsi, const char* uri, size_t uri_len) {
    EndExchange(wsi);  // a stale one would mean a transaction lws ended without telling us
    auto ex = std::make_shared<Exchange>();
    ex->wsi = wsi;
    ex->h2 = IsH2Stream(wsi);
    ex->req = ReadRequest(wsi, uri, uri_len);
    exchanges[wsi] = ex;
    if (state != State::kRunning) ex->close_after = true;
    if (ex->req.method.empty()) return RejectNow(ex, 405, "method_not_allowed", "method not supported");

    const std::string te = ex->req.Header("transfer-encoding");
    const std::string cl = ex->req.Header("content-length");
    const std::string& m = ex->req.method;
    bool body_method = m == "POST" || m == "PUT" || m == "PATCH";
    if (!te.empty()) {
      if (ex->h2) return RejectNow(ex, 400, "bad_request", "transfer-encoding is not allowed in HTTP/2");
      if (base::LowerAscii(te) != "chunked") return RejectNow(ex, 501, "not_implemented", "only chunked transfer-encoding");
      if (!cl.empty()) return RejectNow(ex, 400, "bad_request", "both content-length and transfer-encoding");
      if (!body_method) return RejectNow(ex, 400, "bad_request", "chunked body on a method without a body");
      ex->chunked = std::make_unique<ChunkedDecoder>(opts.max_body_bytes);
      ex->expect_body = true;
      // lws thinks the body is 100 MB long; the connection cannot be reused after it.
      ex->close_after = true;
    } else if (!cl.empty()) {
      auto n = ParseContentLength(cl);
      if (!n.ok()) return RejectNow(ex, 400, "bad_request", n.error().message);
      if (*n > opts.max_body_bytes) {
        // Answer at once, then read the body and drop it: closing with unread bytes makes
        // the kernel send a reset, and a browser then loses the 413 it was already sent.
        // Beyond a sane amount an HTTP/1.1 connection is simply closed instead, and an h2
        // stream gets no more window, so the client gives up on the upload by itself.
        bool sane = *n <= std::max<uint64_t>(16 << 20, 4 * static_cast<uint64_t>(opts.max_body_bytes));
        // A client that sent "Expect: 100-continue" sends no body after a final answer.
        bool expects = base::LowerAscii(ex->req.Header("expect")) == "100-continue";
        ex->drain_credit = ex->h2 && sane;
        return RejectNow(ex, 413, "payload_too_large",
                         "request body over " + std::to_string(opts.max_body_bytes) + " bytes",
                         ex->h2 || (sane && !expects));
      }
      ex->expect_body = *n > 0;
    } else if (body_method) {
      if (ex->h2) return RejectNow(ex, 411, "length_required", "Content-Length is required");
      // No length means no body (RFC 9112 6.3), but lws waits for one: answer, then close.
      ex->close_after = true;
    }

    if (ex->expect_body && !ex->h2 && base::LowerAscii(ex->req.Header("expect")) == "100-continue") {
      static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      std::string buf(LWS_PRE, '\0');
      buf += kContinue;
      size_t n = sizeof(kContinue) - 1;
      if (lws_write(wsi, reinterpret_cast<unsigned char*>(buf.data()) + LWS_PRE, n, LWS_WRITE_HTTP) < 0) return -1;
    }
    if (ex->expect_body) return 0;
    // A plain HTTP/1.1 GET answered at once (segments, parts, playlists) is written before this
    // callback returns, as lws's own status replies are: asking for WRITEABLE first would cost
    // two epoll_ctl calls and a loop turn per request.
    inline_wsi = (!ex->h2 && !ex->req.tls && (ex->req.method == "GET" || ex->req.method == "HEAD")) ? wsi : nullptr;
    DispatchRequest(ex);
    inline_wsi = nullptr;
    if (ex->write_inline) {
      ex->write_inline = false;
      return OnHttpWriteable(wsi);
    }
    return 0;
  }

  int OnBody(lws* wsi, const char* data, size_t len) {
    auto ex = FindExchange(wsi);
    if (!ex) return 0;
    if (ex->h2 && (ex->draining ? ex->drain_credit : (!ex->ignore_body && !ex->dispatched))) {
      // lws 4.1.6 parks DATA that arrives before the request is dispatched on the stream and
      // never returns that window to the peer, so uploads over ~256 KiB stalled. Returning
      // credit for every byte consumed keeps lws's estimate from ever running low, so its own
      // (skipped) replenishing is not doubled.
      lws_h2_update_peer_txcredit(wsi, LWS_H2_STREAM_SID, static_cast<int>(len));
    }
    if (ex->ignore_body || ex->dispatched) return 0;
    if (ex->chunked) {
      auto used = ex->chunked->Feed(std::string_view(data, len), &ex->req.body);
      if (!used.ok()) {
        ex->ignore_body = true;
        bool too_large = used.error().message == ChunkedDecoder::kTooLarge;
        if (too_large) {
          RejectNow(ex, 413, "payload_too_large",
                    "request body over " + std::to_string(opts.max_body_bytes) + " bytes");
        } else {
          RejectNow(ex, 400, "bad_request", "bad chunked body: " + used.error().message);
        }
        return 0;
      }
      if (ex->chunked->done()) DispatchRequest(ex);
      return 0;
    }
    if (ex->req.body.size() + len > opts.max_body_bytes) {
      ex->ignore_body = true;
      RejectNow(ex, 413, "payload_too_large", "request body too large");
      return 0;
    }
    ex->req.body.append(data, len);
    return 0;
  }

  int OnBodyComplete(lws* wsi) {
    auto ex = FindExchange(wsi);
    if (!ex) return 0;
    if (ex->draining) {
      ex->body_done = true;
      if (ex->finish_pending) lws_callback_on_writable(wsi);  // end it from WRITEABLE, as usual
      return 0;
    }
    if (ex->ignore_body || ex->dispatched) return 0;
    if (ex->chunked) {
      // lws believed the body ended before the terminating chunk arrived.
      RejectNow(ex, 400, "bad_request", "incomplete chunked body");
      return 0;
    }
    DispatchRequest(ex);
    return 0;
  }

  // Answers before (or instead of) reading the body. Without drain the connection closes
  // afterwards, since unread body bytes would otherwise be parsed as the next request; with
  // drain the body is read and dropped first and the connection may then be reused.
  int RejectNow(const std::shared_ptr<Exchange>& ex, int status, const std::string& code, const std::string& msg,
                bool drain = false) {
    if (!drain) ex->close_after = true;
    ex->ignore_body = true;
    ex->dispatched = true;
    ex->draining = drain;
    Respond(ex, Response::Error(status, code, msg));
    return 0;
  }

  void DispatchRequest(const std::shared_ptr<Exchange>& ex) {
    if (ex->dispatched) return;
    ex->dispatched = true;
    // The handler may take its time (long polls); lws's body timeout would cut it short.
    lws_set_timeout(ex->wsi, PENDING_TIMEOUT_USER_OK, opts.request_timeout_s);

    Request& req = ex->req;
    const bool head = req.method == "HEAD";
    ex->head_only = head;
    std::shared_ptr<HttpRoute> hit;
    auto find = [&](const std::string& method) {
      for (const auto& r : routes)
        if (r->method == method && r->pattern.Match(req.path, &req.params)) return r;
      return std::shared_ptr<HttpRoute>();
    };
    hit = find(req.method);
    if (!hit && head) hit = find("GET");
    std::set<std::string> allowed;
    for (const auto& r : routes)
      if (r->pattern.Match(req.path, nullptr)) allowed.insert(r->method);
    if (hit) {
      RunHandler(ex, hit);
      return;
    }
    if (req.method == "OPTIONS") {
      std::string origin = req.Header("origin");
      if (!origin.empty() && OriginAllowed(origin)) {
        Response r;
        r.status = 204;
        std::string methods = allowed.empty() ? "GET, HEAD, POST, PUT, PATCH, DELETE" : AllowList(allowed);
        r.AddHeader("access-control-allow-methods", methods);
        r.AddHeader("access-control-allow-headers", "Authorization, Content-Type");
        r.AddHeader("access-control-max-age", "600");
        Respond(ex, std::move(r));
        return;
      }
      if (!origin.empty() && !opts.cors_origins.empty()) {
        Respond(ex, Response::Error(403, "forbidden", "origin not allowed"));
        return;
      }
      if (!allowed.empty()) {
        Response r;
        r.status = 204;
        r.AddHeader("allow", AllowList(allowed));
        Respond(ex, std::move(r));
        return;
      }
    }
    if (!allowed.empty()) {
      Response r = Response::Error(405, "method_not_allowed", req.method + " is not allowed here");
      r.AddHeader("allow", AllowList(allowed));
      Respond(ex, std::move(r));
      return;
    }
    if (!static_root.empty() && ServeStatic(ex)) return;
    Respond(ex, Response::Error(404, "not_found", "no such resource"));
  }

  static std::string AllowList(std::set<std::string> methods) {
    if (methods.count("GET")) methods.insert("HEAD");
    methods.insert("OPTIONS");
    std::string out;
    for (const auto& m : methods) {
      if (!out.empty()) out += ", ";
      out += m;
    }
    return out;
  }

  void RunHandler(const std::shared_ptr<Exchange>& ex, const std::shared_ptr<HttpRoute>& route) {
    std::weak_ptr<Exchange> weak = ex;
    ServerImpl* self = this;
    Responder responder = [weak, self](Response r) {
      if (auto e = weak.lock()) self->Respond(e, std::move(r));
    };
    try {
      route->handler(ex->req, responder);
    } catch (const std::exception& e) {
      LOG_ERROR("http: %s %s: handler failed: %s", ex->req.method.c_str(), route->pattern.text().c_str(), e.what());
      Respond(ex, Response::Error(500, "internal", "internal error"));
    } catch (...) {
      LOG_ERROR("http: %s %s: handler failed with a non-standard exception", ex->req.method.c_str(),
                route->pattern.text().c_str());
      Respond(ex, Response::Error(500, "internal", "internal error"));
    }
  }

  bool OriginAllowed(const std::string& origin) const {
    for (const auto& o : opts.cors_origins)
      if (o == "*" || o == origin) return true;
    return false;
  }

  // Returns false when the path names nothing in the static tree (the caller answers 404).
  bool ServeStatic(const std::shared_ptr<Exchange>& ex) {
    const Request& req = ex->req;
    auto rel = StaticRelativePath(req.path);
    if (!rel.ok()) return false;
    std::string full = static_root + (rel->empty() ? "" : "/" + *rel);
    char* real = ::realpath(full.c_str(), nullptr);
    if (!real) return false;
    std::string resolved(real);
    free(real);
    if (resolved != static_root && resolved.rfind(static_root + "/", 0) != 0) return false;  // symlink out of the tree

    int fd = ::open(resolved.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return false;
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      return false;
    }
    if (S_ISDIR(st.st_mode)) {
      if (req.path.empty() || req.path.back() != '/') {
        ::close(fd);
        // The path we hold is decoded; the Location must be encoded again, segment by segment.
        std::string enc = "/";
        std::string_view r = *rel;
        while (!r.empty()) {
          size_t slash = r.find('/');
          enc += PercentEncode(r.substr(0, slash));
          enc += "/";
          r = slash == std::string_view::npos ? std::string_view() : r.substr(slash + 1);
        }
        if (!req.query.empty()) enc += "?" + req.query;
        Response resp = Response::Text(308, "moved to " + enc + "\n");
        resp.AddHeader("location", enc);
        Respond(ex, std::move(resp));
        return true;
      }
      int index = ::openat(fd, "index.html", O_RDONLY | O_CLOEXEC | O_NOCTTY);
      ::close(fd);
      if (index < 0) return false;
      fd = index;
      resolved += "/index.html";
      if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return false;
      }
    } else if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      return false;
    }

    if (req.method != "GET" && req.method != "HEAD") {
      ::close(fd);
      Response r = Response::Error(405, "method_not_allowed", req.method + " is not allowed here");
      r.AddHeader("allow", "GET, HEAD, OPTIONS");
      Respond(ex, std::move(r));
      return true;
    }

    char etag[64];
    snprintf(etag, sizeof(etag), "\"%llx-%llx\"", static_cast<unsigned long long>(st.st_size),
             static_cast<unsigned long long>(st.st_mtim.tv_sec) * 1000000000ull +
                 static_cast<unsigned long long>(st.st_mtim.tv_nsec));
    std::string last_modified = FormatHttpDate(st.st_mtim.tv_sec);
    const char* type = MimeTypeForPath(resolved);
    bool revalidate = std::string_view(type).rfind("text/html", 0) == 0 ||
                      std::string_view(type).rfind("text/javascript", 0) == 0 ||
                      std::string_view(type).rfind("text/css", 0) == 0 || std::string_view(type) == "application/json";
    // The web app has no bundler, so its file names carry no content hash: HTML, scripts and
    // styles are revalidated on each use (cheap 304s) so an upgrade is never half-applied.
    std::string cache = revalidate ? "no-cache" : "public, max-age=3600";

    bool not_modified = false;
    std::string inm = req.Header("if-none-match");
    if (!inm.empty()) {
      not_modified = EtagMatches(inm, etag);
    } else if (auto ims = ParseHttpDate(req.Header("if-modified-since"))) {
      not_modified = st.st_mtim.tv_sec <= *ims;
    }

    Response resp;
    resp.AddHeader("etag", etag);
    resp.AddHeader("last-modified", last_modified);
    resp.AddHeader("cache-control", cache);
    if (not_modified) {
      ::close(fd);
      resp.status = 304;
      Respond(ex, std::move(resp));
      return true;
    }
    resp.status = 200;
    resp.content_type = type;
    Respond(ex, std::move(resp), fd, static_cast<uint64_t>(st.st_size));
    return true;
  }

  // Queues the response on the exchange; it is written from HTTP_WRITEABLE. With fd >= 0 the
  // body is file_size bytes read from fd (which the exchange then owns).
  void Respond(const std::shared_ptr<Exchange>& ex, Response r, int fd = -1, uint64_t file_size = 0) {
    if (ex->responded || !ex->wsi) {
      if (fd >= 0) ::close(fd);
      return;
    }
    ex->responded = true;
    ex->status = (r.status >= 200 && r.status <= 999) ? r.status : 500;
    ex->content_type = std::move(r.content_type);
    if (fd >= 0) {
      ex->fd = fd;
      ex->body_len = file_size;
    } else if (r.body_owner) {
      ex->body_owner = std::move(r.body_owner);
      ex->body_ptr = r.body_view.data();
      ex->body_len = r.body_view.size();
      ex->body_fd = r.body_fd;
      ex->body_fd_offset = r.body_fd_offset;
    } else {
      ex->out_body = std::move(r.body);
      ex->body_ptr = ex->out_body.data();
      ex->body_len = ex->out_body.size();
    }
    if (ex->status == 204 || ex->status == 304) {
      ex->out_body.clear();
      ex->body_owner.reset();
      ex->body_ptr = nullptr;
      ex->body_fd = -1;
      ex->body_len = 0;
    }
    for (auto& [name, value] : r.headers) {
      std::string n = base::LowerAscii(name);
      if (!IsToken(n) || !IsSafeHeaderValue(value)) {
        LOG_WARN("http: dropping unsafe response header %s", IsToken(n) ? n.c_str() : "(bad name)");
        continue;
      }
      if (n == "content-length" || n == "transfer-encoding" || n == "connection" || n == "keep-alive" ||
          n == "upgrade" || n == "server")
        continue;
      if (n == "content-type" && !ex->content_type.empty()) continue;
      ex->out_headers.emplace_back(std::move(n), std::move(value));
    }
    std::string origin = ex->req.Header("origin");
    if (!origin.empty() && OriginAllowed(origin) && IsSafeHeaderValue(origin)) {
      bool wildcard = std::find(opts.cors_origins.begin(), opts.cors_origins.end(), "*") != opts.cors_origins.end();
      ex->out_headers.emplace_back("access-control-allow-origin", wildcard ? "*" : origin);
      if (!wildcard) ex->out_headers.emplace_back("vary", "Origin");
    }
    if (ex->req.tls) ex->out_headers.emplace_back("strict-transport-security", "max-age=31536000");
    if (ex->close_after && !ex->h2) ex->out_headers.emplace_back("connection", "close");
    if (ex->wsi == inline_wsi && !lws_partial_buffered(ex->wsi)) {
      ex->write_inline = true;  // OnHttp writes it before returning to lws
      return;
    }
    lws_callback_on_writable(ex->wsi);
  }

  int OnHttpWriteable(lws* wsi) {
    auto ex = FindExchange(wsi);
    if (!ex || !ex->responded) return 0;
    if (ex->finish_pending) {
      if (!ex->body_done) return 0;
      ex->finish_pending = false;
      return Finish(ex);
    }
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, opts.request_timeout_s);
    if (ex->direct) return WriteDirect(ex);
    if (!ex->headers_sent) {
      size_t need = 1024 + ex->content_type.size();
      for (const auto& [n, v] : ex->out_headers) need += n.size() + v.size() + 8;
      if (scratch.size() < LWS_PRE + need) scratch.resize(LWS_PRE + need);
      unsigned char* start = scratch.data() + LWS_PRE;
      unsigned char* p = start;
      unsigned char* end = scratch.data() + scratch.size();
      if (lws_add_http_header_status(wsi, static_cast<unsigned>(ex->status), &p, end)) return -1;
      if (!ex->content_type.empty() &&
          lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                       reinterpret_cast<const unsigned char*>(ex->content_type.data()),
                                       static_cast<int>(ex->content_type.size()), &p, end))
        return -1;
      if (ex->status != 204 && ex->status != 304 && lws_add_http_header_content_length(wsi, ex->body_len, &p, end))
        return -1;
      for (const auto& [n, v] : ex->out_headers) {
        std::string name = n + ":";
        if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(name.c_str()),
                                        reinterpret_cast<const unsigned char*>(v.data()), static_cast<int>(v.size()),
                                        &p, end))
          return -1;
      }
      if (lws_finalize_http_header(wsi, &p, end)) return -1;
      bool no_body = ex->head_only || ex->body_len == 0;
      if (!ex->h2 && !ex->req.tls && !lws_partial_buffered(wsi)) {
        ex->direct = true;
        ex->head.assign(reinterpret_cast<const char*>(start), static_cast<size_t>(p - start));
        ex->headers_sent = true;
        if (no_body) ex->body_len = ex->sent = 0;
        return WriteDirect(ex);
      }
      int flags = LWS_WRITE_HTTP_HEADERS | (no_body ? LWS_WRITE_H2_STREAM_END : 0);
      int len = static_cast<int>(p - start);
      if (lws_write(wsi, start, static_cast<size_t>(len), static_cast<lws_write_protocol>(flags)) != len) return -1;
      ex->headers_sent = true;
      if (no_body) return Finish(ex);
      // h2: one DATA frame per callback. HTTP/1.1: the body follows at once (below).
      if (ex->h2 || lws_partial_buffered(wsi)) {
        lws_callback_on_writable(wsi);
        return 0;
      }
    }
    // HTTP/1.1 writes chunk after chunk while the kernel takes them whole (up to a bound per
    // callback, so one big download does not hold up every other connection); what it does not
    // take, lws keeps, and the next WRITEABLE goes on from there. One chunk per callback cost a
    // poll round trip per 64 KiB.
    for (size_t budget = ex->h2 ? 1 : kH1ChunksPerWriteable;; --budget) {
      int rc = WriteBodyChunk(ex);
      if (rc == 2) return 0;   // h2 window shut: Starve() asks again later
      if (rc != 1) return rc;  // finished (or failed)
      if (budget <= 1 || ex->h2 || lws_partial_buffered(wsi)) break;
    }
    lws_callback_on_writable(wsi);
    return 0;
  }

  // Plain HTTP/1.1: the rest of the header block and the body straight to the socket, until the
  // kernel takes no more (then POLLOUT brings us back) or kDirectBudget bytes went out in this
  // callback (so one big download does not hold up every other connection). Memory bodies go
  // with sendmsg (headers and body in one call); files and Response::body_fd with sendfile,
  // which on Linux hands the file's pages to TCP instead of copying them. 0 or -1 as a callback.
  int WriteDirect(const std::shared_ptr<Exchange>& ex) {
    lws* wsi = ex->wsi;
    int sock = lws_get_socket_fd(wsi);
    if (sock < 0) return -1;
    const int file = ex->fd >= 0 ? ex->fd : ex->body_fd;
    const uint64_t file_base = ex->fd >= 0 ? 0 : ex->body_fd_offset;
    size_t budget = kDirectBudget;
    for (int calls = 0; calls < 64; ++calls) {
      size_t head_left = ex->head.size() - ex->head_sent;
      uint64_t body_left = ex->body_len - ex->sent;
      if (head_left == 0 && body_left == 0) {
        ex->head.clear();
        return Finish(ex);
      }
      if (budget == 0) break;
      size_t want = 0;
      ssize_t n;
      if (head_left > 0 && (file < 0 || body_left == 0)) {
        iovec iov[2];
        iov[0] = {ex->head.data() + ex->head_sent, head_left};
        size_t body_n = static_cast<size_t>(std::min<uint64_t>(body_left, budget));
        iov[1] = {const_cast<char*>(ex->body_ptr) + ex->sent, body_n};
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = body_n > 0 ? 2 : 1;
        want = head_left + body_n;
        n = ::sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
      } else if (head_left > 0) {
        // The body follows from the file at once: MSG_MORE keeps the headers for its first packet.
        want = head_left;
        n = ::send(sock, ex->head.data() + ex->head_sent, head_left, MSG_DONTWAIT | MSG_NOSIGNAL | MSG_MORE);
      } else if (file >= 0) {
        want = static_cast<size_t>(std::min<uint64_t>(body_left, budget));
        off_t off = static_cast<off_t>(file_base + ex->sent);
        n = ::sendfile(sock, file, &off, want);
        if (n == 0) {
          LOG_WARN("http: body file for %s ended early while sending", ex->req.path.c_str());
          return -1;
        }
      } else {
        want = static_cast<size_t>(std::min<uint64_t>(body_left, budget));
        n = ::send(sock, ex->body_ptr + ex->sent, want, MSG_DONTWAIT | MSG_NOSIGNAL);
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return -1;  // the client went away (EPIPE, ECONNRESET): lws closes the connection
      }
      size_t got = static_cast<size_t>(n);
      size_t to_head = std::min(got, head_left);
      ex->head_sent += to_head;
      ex->sent += got - to_head;
      budget -= std::min(budget, got - to_head);
      // A short write means the socket buffer is full: the next call would only say EAGAIN.
      if (got < want) break;
    }
    lws_callback_on_writable(wsi);
    return 0;
  }

  // One chunk of the response body: 1 when more is left, 0 when the exchange is finished,
  // -1 on a failure (the connection closes), 2 when the h2 peer's window is shut (Starve()).
  int WriteBodyChunk(const std::shared_ptr<Exchange>& ex) {
    lws* wsi = ex->wsi;
    size_t chunk = ex->h2 ? kH2Chunk : kH1Chunk;
    int allowance = lws_get_peer_write_allowance(wsi);
    if (allowance == 0) {
      // The h2 peer's window is shut. lws wakes a starved stream only on connection-level
      // window updates, and asking for writable again at once would spin, so look again soon.
      Starve(wsi);
      return 2;
    }
    if (allowance > 0) chunk = std::min(chunk, static_cast<size_t>(allowance));
    uint64_t left = ex->body_len - ex->sent;
    size_t n = static_cast<size_t>(std::min<uint64_t>(chunk, left));
    bool last = n == left;
    if (!ex->h2 && ex->fd < 0) {
      // HTTP/1.1 with a Content-Length: lws passes the bytes to the socket as they are and never
      // writes in front of them (that LWS_PRE room is for h2 and WebSocket framing, and chunked
      // or compressed bodies, none of which we send this way), so the body goes out without a
      // copy. What the kernel does not take, lws copies into its own buffer.
      auto* p = reinterpret_cast<unsigned char*>(const_cast<char*>(ex->body_ptr + ex->sent));
      if (lws_write(wsi, p, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < 0) return -1;
      ex->sent += n;
      if (last) return Finish(ex);
      return 1;
    }
    if (scratch.size() < LWS_PRE + n) scratch.resize(LWS_PRE + n);
    unsigned char* buf = scratch.data() + LWS_PRE;
    if (ex->fd >= 0) {
      ssize_t got = ::pread(ex->fd, buf, n, static_cast<off_t>(ex->sent));
      if (got != static_cast<ssize_t>(n)) {
        LOG_WARN("http: static file for %s changed or failed while sending", ex->req.path.c_str());
        return -1;
      }
    } else {
      std::memcpy(buf, ex->body_ptr + ex->sent, n);
    }
    if (lws_write(wsi, buf, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < 0) return -1;
    ex->sent += n;
    if (last) return Finish(ex);
    return 1;
  }

  void Starve(lws* wsi) {
    starved.push_back(wsi);
    if (!starved_timer) {
      starved_timer = new uv_timer_t;
      uv_timer_init(loop, starved_timer);
      starved_timer->data = this;
    }
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(starved_timer)))
      uv_timer_start(starved_timer, &ServerImpl::OnStarvedTick, 25, 0);
  }

  static void OnStarvedTick(uv_timer_t* t) {
    auto* self = static_cast<ServerImpl*>(t->data);
    std::vector<lws*> retry;
    retry.swap(self->starved);
    for (lws* wsi : retry)
      if (self->exchanges.count(wsi)) lws_callback_on_writable(wsi);
  }

  int Finish(std::shared_ptr<Exchange> ex) {
    lws* wsi = ex->wsi;
    if (ex->draining && !ex->body_done) {
      ex->finish_pending = true;
      return 0;
    }
    if (ex->close_after) return -1;
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    // May end this exchange (DROP_PROTOCOL) and even start the next pipelined one; ex is ours.
    if (lws_http_transaction_completed(wsi)) return -1;
    return 0;
  }

  // Writes a small JSON error right away; used where lws expects the response to be written
  // inside the callback (upgrade refusals).
  int WriteNow(lws* wsi, int status, const std::string& code, const std::string& message) {
    Response r = Response::Error(status, code, message);
    size_t need = 1024 + r.body.size();
    std::vector<unsigned char> buf(LWS_PRE + need);
    unsigned char* start = buf.data() + LWS_PRE;
    unsigned char* p = start;
    unsigned char* end = buf.data() + buf.size();
    if (lws_add_http_header_status(wsi, static_cast<unsigned>(status), &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                     reinterpret_cast<const unsigned char*>("application/json"), 16, &p, end) ||
        lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>("cache-control:"),
                                    reinterpret_cast<const unsigned char*>("no-store"), 8, &p, end) ||
        lws_add_http_header_content_length(wsi, r.body.size(), &p, end) || lws_finalize_http_header(wsi, &p, end))
      return -1;
    int len = static_cast<int>(p - start);
    if (lws_write(wsi, start, static_cast<size_t>(len), LWS_WRITE_HTTP_HEADERS) != len) return -1;
    std::memcpy(start, r.body.data(), r.body.size());
    if (lws_write(wsi, start, r.body.size(), LWS_WRITE_HTTP_FINAL) < 0) return -1;
    return 1;
  }

  // ---- WebSocket -----------------------------------------------------------------------------

  std::shared_ptr<WsRoute> FindWsRoute(const std::string& path, std::map<std::string, std::string>* params) {
    for (const auto& r : ws_routes)
      if (r->pattern.Match(path, params)) return r;
    return nullptr;
  }

  // HTTP/1.1 upgrades pass here first, so a refusal can be a proper HTTP response.
  int OnConfirmUpgrade(lws* wsi, const char* what) {
    // lws's h2c upgrade path leaves the upgraded stream without send credit (the response
    // never completes and the connection spins), so plain-text HTTP/2 is refused outright.
    if (what && strcasecmp(what, "h2c") == 0)
      return WriteNow(wsi, 400, "bad_request", "HTTP/2 needs TLS here; use HTTP/1.1 or https");
    if (!what || strcasecmp(what, "websocket") != 0) return 0;
    if (state != State::kRunning) return WriteNow(wsi, 503, "unavailable", "server is shutting down");
    std::string path = CopyHeader(wsi, WSI_TOKEN_GET_URI);
    auto route = FindWsRoute(path, nullptr);
    if (!route) return WriteNow(wsi, 404, "not_found", "no WebSocket endpoint here");
    if (!route->handlers.subprotocol.empty()) {
      std::string offered = CopyHeader(wsi, WSI_TOKEN_PROTOCOL);
      bool found = false;
      size_t start = 0;
      while (start <= offered.size()) {
        size_t comma = offered.find(',', start);
        std::string item = offered.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        if (item == route->handlers.subprotocol) found = true;
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      if (!found) return WriteNow(wsi, 400, "bad_request", "subprotocol " + route->handlers.subprotocol + " required");
    }
    return 0;
  }

  // Every upgrade (h1 and ws-over-h2) passes here with the headers still readable.
  int OnFilterWs(lws* wsi) {
    if (state != State::kRunning) return 1;
    std::string path = CopyHeader(wsi, WSI_TOKEN_GET_URI);
    if (path.empty()) path = CopyHeader(wsi, WSI_TOKEN_HTTP_COLON_PATH);
    PendingUpgrade up;
    up.req = ReadRequest(wsi, path.c_str(), path.size());
    up.req.method = "GET";
    up.route = FindWsRoute(up.req.path, &up.req.params);
    if (!up.route) return 1;
    // lws has bound the connection to the first offered subprotocol it knows (or, when none
    // was offered, to protocols[0]).
    const lws_protocols* p = lws_get_protocol(wsi);
    std::string bound = (p && p->name) ? p->name : "";
    if (bound == kHttpProtocolName || lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL) <= 0) bound.clear();
    if (!up.route->handlers.subprotocol.empty() && bound != up.route->handlers.subprotocol) return 1;
    up.subprotocol = bound;
    upgrades[wsi] = std::move(up);
    return 0;
  }

  int OnWsEstablished(lws* wsi) {
    auto it = upgrades.find(wsi);
    if (it == upgrades.end()) return -1;
    PendingUpgrade up = std::move(it->second);
    upgrades.erase(it);
    std::shared_ptr<WebSocket> ws(new WebSocket(next_ws_id++, std::move(up.req)));
    ws->subprotocol_ = std::move(up.subprotocol);
    ws->in_->server = this;
    ws->in_->wsi = wsi;
    ws->in_->route = up.route;
    ws->in_->open = true;
    ws->in_->h2 = IsH2Stream(wsi);
    sockets[wsi] = ws;
    if (state != State::kRunning) ws->Close(1001, "server shutting down");
    auto& h = ws->in_->route->handlers;
    if (h.on_open) {
      if (!CallWs(ws, "on_open", [&] { h.on_open(ws); })) return 0;
    }
    return 0;
  }

  // Runs a user callback; a throw closes the session with 1011 instead of unwinding into lws.
  template <typename F>
  bool CallWs(const std::shared_ptr<WebSocket>& ws, const char* what, F&& f) {
    try {
      f();
      return true;
    } catch (const std::exception& e) {
      LOG_ERROR("http: WebSocket %s %s failed: %s", ws->path().c_str(), what, e.what());
    } catch (...) {
      LOG_ERROR("http: WebSocket %s %s failed with a non-standard exception", ws->path().c_str(), what);
    }
    ws->Close(1011, "internal error");
    return false;
  }

  int OnWsReceive(lws* wsi, const char* data, size_t len) {
    auto it = sockets.find(wsi);
    if (it == sockets.end()) return 0;
    std::shared_ptr<WebSocket> ws = it->second;
    auto& in = *ws->in_;
    if (lws_is_first_fragment(wsi)) {
      in.rx.clear();
      in.rx_binary = lws_frame_is_binary(wsi) != 0;
    }
    if (in.close_requested) return 0;  // the session is ending; drop what still arrives
    if (in.rx.size() + len > opts.max_ws_message_bytes) {
      // Not "return -1" here: on a WebSocket over h2, lws 4.1.6 corrupts its buffers when a
      // stream dies in the middle of a DATA frame. Closing politely ends it just as well.
      in.rx.clear();
      in.rx.shrink_to_fit();
      ws->Close(1009, "message too large");
      return 0;
    }
    in.rx.append(data, len);
    if (!lws_is_final_fragment(wsi)) return 0;
    std::string msg = std::move(in.rx);
    in.rx.clear();
    auto& h = in.route->handlers;
    if (h.on_message) CallWs(ws, "on_message", [&] { h.on_message(ws, msg, in.rx_binary); });
    return 0;
  }

  int OnWsWriteable(lws* wsi) {
    auto it = sockets.find(wsi);
    if (it == sockets.end()) return 0;
    std::shared_ptr<WebSocket> ws = it->second;
    auto& in = *ws->in_;
    if (in.write_failed) return -1;
    // Over HTTP/1.1 several queued frames go out in one callback (lws appends what the kernel does
    // not take to its own buffer, and lws_partial_buffered() then says to wait); over h2 one DATA
    // frame per callback, as lws requires there.
    for (int frames = 0; !in.queue.empty() && frames < kWsFramesPerWriteable; ++frames) {
      WebSocket::Internal::Out& m = in.queue.front();
      size_t total = m.buf.size() - kWsHeadroom;
      size_t n = total - m.sent;
      if (in.h2) n = std::min(n, kWsFragmentH2);
      bool first = m.sent == 0;
      bool last = m.sent + n == total;
      int wp = first ? (m.binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) : LWS_WRITE_CONTINUATION;
      if (!last) wp |= LWS_WRITE_NO_FIN;
      // lws writes the frame header in front of the pointer; for later fragments that
      // overwrites payload already handed to lws (which copies what it cannot send at once).
      auto* p = reinterpret_cast<unsigned char*>(m.buf.data()) + kWsHeadroom + m.sent;
      int wrote = lws_write(wsi, p, n, static_cast<lws_write_protocol>(wp));
      if (wrote < static_cast<int>(n)) return -1;
      m.sent += n;
      if (last) {
        in.queued -= total;
        in.queue.pop_front();
      }
      if (in.h2 || lws_partial_buffered(wsi)) break;
    }
    if (!in.queue.empty()) {
      lws_callback_on_writable(wsi);
      return 0;
    }
    if (in.close_requested && !in.close_sent) {
      // Not "lws_close_reason() + return -1": Debian's lws 4.1.6 is built with _DEBUG, whose
      // libuv "repeat close" self-test then kills the socket before the Close frame goes out.
      // A zero timeout of the keepalive kind closes through lws's polite path instead: it
      // sends the Close frame with our reason and waits (5 s) for the peer's answer.
      lws_close_reason(wsi, static_cast<lws_close_status>(in.close_code),
                       reinterpret_cast<unsigned char*>(in.close_reason.data()), in.close_reason.size());
      in.close_sent = true;
      lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_KEEPALIVE_IDLE, LWS_TO_KILL_ASYNC);
    }
    return 0;
  }

  int OnWsPeerClose(lws* wsi, const unsigned char* in, size_t len) {
    auto it = sockets.find(wsi);
    if (it == sockets.end()) return 0;
    if (in && len >= 2) it->second->peer_close_code_ = (in[0] << 8) | in[1];
    return 0;  // lws answers with a Close of its own
  }

  void OnWsClosed(lws* wsi) {
    auto it = sockets.find(wsi);
    if (it == sockets.end()) return;
    std::shared_ptr<WebSocket> ws = it->second;
    sockets.erase(it);
    auto& in = *ws->in_;
    in.open = false;
    in.wsi = nullptr;
    in.queue.clear();
    in.queued = 0;
    auto& h = in.route->handlers;
    if (h.on_close) {
      try {
        h.on_close(ws);
      } catch (const std::exception& e) {
        LOG_ERROR("http: WebSocket %s on_close failed: %s", ws->path().c_str(), e.what());
      } catch (...) {
        LOG_ERROR("http: WebSocket %s on_close failed", ws->path().c_str());
      }
    }
    in.server = nullptr;
  }

  // ---- shutdown ------------------------------------------------------------------------------

  void BeginShutdown(std::function<void()> cb, bool graceful) {
    if (state != State::kRunning) {
      if (cb) {
        if (state == State::kDone && !finishing) {
          cb();
        } else {
          auto prev = std::move(done);
          done = [prev = std::move(prev), cb = std::move(cb)] {
            if (prev) prev();
            cb();
          };
        }
      }
      return;
    }
    state = State::kDraining;
    done = std::move(cb);
    std::vector<std::shared_ptr<WebSocket>> open;
    for (auto& [wsi, ws] : sockets) open.push_back(ws);
    for (auto& ws : open) ws->Close(1001, "server shutting down");
    drain_deadline_ms = base::MonotonicMs() + (graceful ? opts.shutdown_grace_ms : 0);
    drain_timer = new uv_timer_t;
    uv_timer_init(loop, drain_timer);
    drain_timer->data = this;
    uv_timer_start(drain_timer, &ServerImpl::OnDrainTick, 0, 20);
  }

  static void OnDrainTick(uv_timer_t* t) {
    auto* self = static_cast<ServerImpl*>(t->data);
    if (!self->exchanges.empty() || !self->sockets.empty()) {
      if (base::MonotonicMs() < self->drain_deadline_ms) return;
      LOG_NOTICE("http: shutting down with %zu request(s) and %zu WebSocket(s) still open", self->exchanges.size(),
                 self->sockets.size());
    }
    uv_timer_stop(t);
    self->DestroyContext();
  }

  // lws's libuv glue runs its "forced service" (decrypted TLS bytes OpenSSL holds, h2 DATA
  // parked on a stream's buflist) once per socket event from a uv_idle handle that then stops
  // itself, so work left after that pass waits for a socket event that may never come (seen
  // as h2 uploads stalling). Just before the loop blocks, this asks lws whether it still has
  // such work and, if so, wakes it through its own event pipe.
  void StartKicker() {
    kicker = new uv_prepare_t;
    uv_prepare_init(loop, kicker);
    kicker->data = this;
    uv_prepare_start(kicker, [](uv_prepare_t* p) {
      auto* self = static_cast<ServerImpl*>(p->data);
      if (self->ctx && self->state != State::kDestroying && lws_service_adjust_timeout(self->ctx, 1, 0) == 0)
        lws_cancel_service(self->ctx);
    });
    uv_unref(reinterpret_cast<uv_handle_t*>(kicker));  // must not keep the loop alive
  }

  // Starts tearing lws down; OnReap notices when lws has finished on the loop.
  void DestroyContext() {
    state = State::kDestroying;
    if (kicker) uv_prepare_stop(kicker);
    if (ctx) lws_context_destroy(ctx);
    reaper = new uv_prepare_t;
    uv_prepare_init(loop, reaper);
    reaper->data = this;
    uv_prepare_start(reaper, &ServerImpl::OnReap);
  }

  // With a foreign loop, lws 4.1.6 closes its uv handles after the first lws_context_destroy()
  // but never frees the context by itself: a second lws_context_destroy() does, and it must
  // come only after the close callbacks of lws's own timer and idle handles (they live inside
  // the context). Those handles carry the context in handle->data, which is how we see them.
  static void OnReap(uv_prepare_t* p) {
    auto* self = static_cast<ServerImpl*>(p->data);
    if (self->ctx) {
      struct Walk {
        void* ctx;
        bool found;
      } walk{self->ctx, false};
      uv_walk(
          self->loop,
          [](uv_handle_t* h, void* arg) {
            auto* w = static_cast<Walk*>(arg);
            if (h->data == w->ctx) w->found = true;
          },
          &walk);
      if (walk.found) return;
      lws_context_destroy(self->ctx);
      if (self->ctx) return;
    }
    uv_prepare_stop(p);
    self->CloseOwnHandles();
  }

  void CloseOwnHandles() {
    auto closed = [](uv_handle_t* h) {
      auto* self = static_cast<ServerImpl*>(h->data);
      if (h->type == UV_TIMER) {
        delete reinterpret_cast<uv_timer_t*>(h);
      } else {
        delete reinterpret_cast<uv_prepare_t*>(h);
      }
      if (--self->handles_closing == 0) self->Finished();
    };
    if (kicker) {
      ++handles_closing;
      uv_close(reinterpret_cast<uv_handle_t*>(kicker), closed);
      kicker = nullptr;
    }
    for (uv_timer_t** t : {&drain_timer, &starved_timer}) {
      if (!*t) continue;
      ++handles_closing;
      uv_close(reinterpret_cast<uv_handle_t*>(*t), closed);
      *t = nullptr;
    }
    if (reaper) {
      ++handles_closing;
      uv_close(reinterpret_cast<uv_handle_t*>(reaper), closed);
      reaper = nullptr;
    }
    if (handles_closing == 0) Finished();
  }

  void Finished() {
    state = State::kDone;
    routes.clear();
    ws_routes.clear();
    finishing = true;
    auto cb = std::move(done);
    done = nullptr;
    if (cb) cb();
    finishing = false;
    if (owner_gone) delete this;
  }
};

}  // namespace detail

// ---- WebSocket ---------------------------------------------------------------------------------

WebSocket::WebSocket(uint64_t id, Request request)
    : id_(id), request_(std::move(request)), in_(std::make_unique<Internal>()) {}

WebSocket::~WebSocket() {
  if (in_ && in_->in_cork_list) g_corked.erase(std::remove(g_corked.begin(), g_corked.end(), this), g_corked.end());
}

bool WebSocket::is_open() const { return in_->open && !in_->close_requested; }

size_t WebSocket::buffered_amount() const { return in_->queued; }

namespace {

// A server-to-client frame header (RFC 6455 5.2: FIN, opcode, no mask, shortest length form).
void AppendFrameHeader(std::string& out, size_t len, bool binary) {
  out.push_back(static_cast<char>(0x80 | (binary ? 0x2 : 0x1)));
  if (len < 126) {
    out.push_back(static_cast<char>(len));
  } else if (len < 65536) {
    out.push_back(static_cast<char>(126));
    out.push_back(static_cast<char>(len >> 8));
    out.push_back(static_cast<char>(len & 0xff));
  } else {
    out.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((uint64_t{len} >> shift) & 0xff));
  }
}

}  // namespace

CorkWrites::CorkWrites() { ++g_cork_depth; }

CorkWrites::~CorkWrites() {
  if (--g_cork_depth > 0) return;
  // lws_write only writes or buffers (no callbacks run), and a socket destroyed before this
  // point has unlisted itself in its destructor.
  std::vector<WebSocket*> list;
  list.swap(g_corked);
  for (WebSocket* ws : list) ws->FlushCorked();
}

void WebSocket::FlushCorked() {
  Internal& in = *in_;
  in.in_cork_list = false;
  if (in.corked.empty()) return;
  std::string frames = std::move(in.corked);
  in.corked.clear();
  if (!in.open || !in.wsi || in.write_failed) return;
  // The frames are already framed: lws writes them as they are (its raw path for HTTP bodies,
  // which a WebSocket connection uses too); what the kernel does not take it buffers, as for
  // a frame of its own.
  size_t len = frames.size() - kWsHeadroom;
  int wrote = lws_write(in.wsi, reinterpret_cast<unsigned char*>(frames.data()) + kWsHeadroom, len, LWS_WRITE_HTTP);
  if (wrote < static_cast<int>(len)) {
    in.write_failed = true;
    lws_callback_on_writable(in.wsi);
  }
}

void WebSocket::Send(std::string_view text) { Queue(text, false); }

void WebSocket::SendBinary(std::string_view data) { Queue(data, true); }

void WebSocket::Queue(std::string_view data, bool binary) {
  Internal& in = *in_;
  if (!in.open || in.close_requested || !in.wsi || !in.server || in.write_failed) return;
  // The common case, a socket with nothing pending over HTTP/1.1: write the frame now. Waiting
  // for a WRITEABLE callback costs two epoll_ctl calls and a wakeup per frame, which is most of
  // the work of a fan-out to a thousand sockets. What the kernel does not take, lws keeps and
  // sends itself (lws_partial_buffered() is then true and later frames queue behind it).
  bool direct = !in.h2 && in.queue.empty() && data.size() <= kWsDirectWriteMax && !lws_partial_buffered(in.wsi);
  if (direct && g_cork_depth > 0) {
    if (in.corked.empty()) in.corked.assign(kWsHeadroom, '\0');
    AppendFrameHeader(in.corked, data.size(), binary);
    in.corked.append(data);
    if (!in.in_cork_list) {
      in.in_cork_list = true;
      g_corked.push_back(this);
    }
    return;
  }
  // Frames held by a cork go first, so the order stays as sent.
  if (!in.corked.empty()) {
    FlushCorked();
    if (in.write_failed) return;
    direct = direct && !lws_partial_buffered(in.wsi);
  }
  if (direct) {
    thread_local std::string frame;
    frame.resize(kWsHeadroom + data.size());
    std::memcpy(frame.data() + kWsHeadroom, data.data(), data.size());
    int wrote = lws_write(in.wsi, reinterpret_cast<unsigned char*>(frame.data()) + kWsHeadroom, data.size(),
                          binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    if (wrote < static_cast<int>(data.size())) {
      // Only lws can close it, from one of its callbacks: ask for one and fail there.
      in.write_failed = true;
      lws_callback_on_writable(in.wsi);
    }
    return;
  }
  if (in.queued + data.size() > in.server->opts.max_ws_queue_bytes) {
    LOG_INFO("http: WebSocket %llu (%s) is not reading; closing it", static_cast<unsigned long long>(id_),
             request_.peer_ip.c_str());
    in.queue.clear();
    in.queued = 0;
    Close(1008, "send queue overflow");
    return;
  }
  Internal::Out out;
  out.buf.reserve(kWsHeadroom + data.size());
  out.buf.assign(kWsHeadroom, '\0');
  out.buf.append(data);
  out.binary = binary;
  in.queue.push_back(std::move(out));
  in.queued += data.size();
  lws_callback_on_writable(in.wsi);
}

void WebSocket::Close(int code, std::string_view reason) {
  Internal& in = *in_;
  if (!in.open || in.close_requested || !in.wsi) return;
  bool valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) || (code >= 3000 && code <= 4999);
  in.close_code = valid ? code : 1000;
  in.close_reason = std::string(reason.substr(0, 123));
  in.close_requested = true;
  lws_callback_on_writable(in.wsi);
}

// ---- Server ------------------------------------------------------------------------------------

Result<std::unique_ptr<Server>> Server::Start(uv_loop_t* loop, const ServerOptions& options) {
  static std::once_flag log_once;
  std::call_once(log_once, [] { lws_set_log_level(LLL_ERR | LLL_WARN, LwsLogEmit); });

  if (!loop) return Error{base::kExitSoftware, "http: no event loop"};
  if (options.tls_cert.empty() != options.tls_key.empty())
    return Error{base::kExitConfig, "TLS needs both a certificate and a key"};
  if (options.port < 0 || options.port > 65535)
    return Error{base::kExitConfig, "port " + std::to_string(options.port) + " out of range"};

  auto impl = std::make_unique<detail::ServerImpl>();
  impl->loop = loop;
  impl->opts = options;
  impl->tls = !options.tls_cert.empty();
  if (!options.static_dir.empty()) {
    char* real = ::realpath(options.static_dir.c_str(), nullptr);
    if (!real)
      return Error{base::kExitConfig, "static files directory " + options.static_dir + ": " + base::ErrnoText(errno)};
    impl->static_root = real;
    free(real);
    struct stat st;
    if (::stat(impl->static_root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return Error{base::kExitConfig, "static files directory " + options.static_dir + " is not a directory"};
  }
  {
    Status bindable = PreflightBind(options.host, options.port);
    if (!bindable.ok()) return bindable.error();
  }
  if (impl->tls) {
    // lws's own messages about unusable certificates are terse; check first for a clear one.
    auto pem = LoadCertificate(options.tls_cert, options.tls_key);
    if (!pem.ok()) return pem.error();
  }

  // tx_packet_size: lws otherwise sends at most rx_buffer_size (4 KiB) per write and buffers
  // the rest, one more 4 KiB per POLLOUT.
  impl->protocols[0] = {kHttpProtocolName, &detail::ServerImpl::Callback, 0, 0, 0, nullptr, kH1Chunk};
  for (int i = 0; i < kMaxSubprotocols; ++i) {
    // Unused slots carry names no client can send (tokens cannot hold spaces).
    snprintf(impl->subprotocol_names[i], kSubprotocolNameMax, "unused slot %d", i);
    impl->protocols[i + 1] = {impl->subprotocol_names[i], &detail::ServerImpl::Callback, 0, 0, 0, nullptr, kH1Chunk};
  }

  std::string lws_error;
  g_lws_capture = &lws_error;
  struct CaptureReset {
    ~CaptureReset() { g_lws_capture = nullptr; }
  } capture_reset;

  uint64_t tls_opts = impl->tls ? (LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_ALLOW_NON_SSL_ON_SSL_PORT |
                                   LWS_SERVER_OPTION_ALLOW_HTTP_ON_HTTPS_LISTENER)
                                : 0;
  void* foreign_loops[1] = {loop};
  lws_context_creation_info cinfo;
  std::memset(&cinfo, 0, sizeof(cinfo));
  cinfo.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS | tls_opts;
  cinfo.foreign_loops = foreign_loops;
  cinfo.user = impl.get();
  cinfo.pcontext = &impl->ctx;
  cinfo.port = CONTEXT_PORT_NO_LISTEN;
  cinfo.server_string = impl->opts.server_name.c_str();
  cinfo.max_http_header_data = 16384;
  // lws reads at most this much per service call, and with the libuv loop it runs only one
  // extra "forced" read for decrypted bytes OpenSSL still holds; with the default 4 KiB, the
  // rest of a 16 KiB TLS record then waits for a POLLIN that never comes and the request
  // stalls. A buffer bigger than any TLS record empties the record on every read.
  cinfo.pt_serv_buf_size = 64 * 1024;
  cinfo.timeout_secs = 20;
  impl->ctx = lws_create_context(&cinfo);
  if (!impl->ctx) {
    return Error{base::kExitUnavailable, "cannot start libwebsockets" +
                                             (lws_error.empty() ? std::string() : ": " + lws_error) +
                                             " (is libwebsockets-evlib-uv installed?)"};
  }

  std::string host = options.host;
  lws_context_creation_info vinfo;
  std::memset(&vinfo, 0, sizeof(vinfo));
  vinfo.vhost_name = "default";
  vinfo.port = options.port;
  vinfo.iface = (host.empty() || host == "*") ? nullptr : host.c_str();
  vinfo.protocols = impl->protocols;
  vinfo.headers = kSecurityHeaders;
  vinfo.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND | tls_opts;
  vinfo.ssl_cert_filepath = impl->tls ? impl->opts.tls_cert.c_str() : nullptr;
  vinfo.ssl_private_key_filepath = impl->tls ? impl->opts.tls_key.c_str() : nullptr;
  vinfo.alpn = options.http2 ? nullptr : "http/1.1";
  vinfo.keepalive_timeout = 30;
  vinfo.timeout_secs_ah_idle = 10;
  vinfo.retry_and_idle_policy = &kIdlePolicy;
  vinfo.server_string = impl->opts.server_name.c_str();
  impl->vhost = lws_create_vhost(impl->ctx, &vinfo);
  if (!impl->vhost) {
    std::string where = (host.empty() ? "*" : host) + ":" + std::to_string(options.port);
    // The context still has handles on the loop; it frees itself (and impl) once the loop runs.
    detail::ServerImpl* orphan = impl.release();
    orphan->owner_gone = true;
    orphan->state = detail::ServerImpl::State::kDraining;
    orphan->DestroyContext();
    return Error{base::kExitUnavailable,
                 "cannot listen on " + where + (lws_error.empty() ? std::string() : ": " + lws_error)};
  }
  impl->port = lws_get_vhost_listen_port(impl->vhost);
  impl->StartKicker();
  LOG_INFO("http: listening on %s:%d (%s)", host.empty() ? "*" : host.c_str(), impl->port,
           impl->tls ? "TLS and plain" : "plain");
  return std::unique_ptr<Server>(new Server(impl.release()));
}

Server::~Server() {
  if (!impl_) return;
  if (impl_->state == detail::ServerImpl::State::kDone && !impl_->finishing) {
    delete impl_;
    return;
  }
  impl_->owner_gone = true;
  if (impl_->state == detail::ServerImpl::State::kRunning) impl_->BeginShutdown(nullptr, false);
}

void Server::Route(std::string method, std::string pattern, Handler handler) {
  auto parsed = RoutePattern::Parse(pattern);
  if (!parsed.ok() || !IsToken(method)) {
    LOG_ERROR("http: bad route %s %s: %s", method.c_str(), pattern.c_str(),
              parsed.ok() ? "bad method" : parsed.error().message.c_str());
    std::abort();
  }
  for (char& c : method)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  auto r = std::make_shared<detail::HttpRoute>();
  r->method = std::move(method);
  r->pattern = std::move(*parsed);
  r->handler = std::move(handler);
  impl_->routes.push_back(std::move(r));
}

void Server::WebSocketRoute(std::string path, WebSocketHandlers handlers) {
  auto parsed = RoutePattern::Parse(path);
  if (!parsed.ok()) {
    LOG_ERROR("http: bad WebSocket route %s: %s", path.c_str(), parsed.error().message.c_str());
    std::abort();
  }
  const std::string& sp = handlers.subprotocol;
  if (!sp.empty()) {
    if (!IsToken(sp) || sp.size() >= kSubprotocolNameMax || sp == kHttpProtocolName) {
      LOG_ERROR("http: bad WebSocket subprotocol name \"%s\"", sp.c_str());
      std::abort();
    }
    bool known = false;
    for (int i = 0; i < impl_->subprotocols_used; ++i)
      if (sp == impl_->subprotocol_names[i]) known = true;
    if (!known) {
      if (impl_->subprotocols_used >= kMaxSubprotocols) {
        LOG_ERROR("http: more than %d WebSocket subprotocols", kMaxSubprotocols);
        std::abort();
      }
      // lws compares against the name through the pointer it copied at vhost creation.
      std::snprintf(impl_->subprotocol_names[impl_->subprotocols_used++], kSubprotocolNameMax, "%s", sp.c_str());
    }
  }
  auto r = std::make_shared<detail::WsRoute>();
  r->pattern = std::move(*parsed);
  r->handlers = std::move(handlers);
  impl_->ws_routes.push_back(std::move(r));
}

int Server::port() const { return impl_->port; }

bool Server::tls() const { return impl_->tls; }

Status Server::ReloadTls(const std::string& cert, const std::string& key) {
  if (!impl_->tls) return Error{base::kExitConfig, "TLS is not enabled on this server"};
  auto pem = LoadCertificate(cert, key);
  if (!pem.ok()) return pem.error();
  impl_->reloaded = std::move(*pem);
  LOG_NOTICE("http: TLS certificate reloaded from %s", cert.c_str());
  return base::Ok();
}

size_t Server::connection_count() const { return impl_->connections.size(); }

size_t Server::websocket_count() const { return impl_->sockets.size(); }

void Server::Shutdown(std::function<void()> done) { impl_->BeginShutdown(std::move(done), true); }

}  // namespace collab::http
