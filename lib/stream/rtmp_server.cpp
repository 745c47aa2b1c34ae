#include "lib/stream/rtmp_server.hpp"

#include <arpa/inet.h>

#include <cstring>

#include "lib/base/log.hpp"
#include "lib/base/time.hpp"

namespace collab::stream {

struct RtmpServer::Conn {
  uv_tcp_t tcp{};
  uv_shutdown_t shutdown{};
  RtmpServer* server = nullptr;
  uint64_t id = 0;
  std::string peer;
  std::unique_ptr<RtmpSession> session;
  int64_t accepted_ms = 0;
  int64_t last_data_ms = 0;
  bool closing = false;
  bool was_publishing = false;
};

namespace {

struct WriteReq {
  uv_write_t req{};
  std::string data;
};

std::string PeerAddress(uv_tcp_t* tcp) {
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
  char buf[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) uv_ip4_name(reinterpret_cast<sockaddr_in*>(&ss), buf, sizeof buf);
  else if (ss.ss_family == AF_INET6) uv_ip6_name(reinterpret_cast<sockaddr_in6*>(&ss), buf, sizeof buf);
  return buf;
}

// Single-threaded loop: one read buffer serves every connection.
char g_read_buf[64 * 1024];

}  // namespace

RtmpServer::RtmpServer(uv_loop_t* loop, RtmpServerOptions options, Handlers handlers)
    : loop_(loop), options_(std::move(options)), handlers_(std::move(handlers)) {}

base::Result<std::unique_ptr<RtmpServer>> RtmpServer::Listen(uv_loop_t* loop, const RtmpServerOptions& options,
                                                              Handlers handlers) {
  sockaddr_storage addr{};
  if (uv_ip4_addr(options.host.c_str(), options.port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
      uv_ip6_addr(options.host.c_str(), options.port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0)
    return base::MakeError(base::kExitConfig, "rtmp listen address '" + options.host + "' is not an IP address");
  std::unique_ptr<RtmpServer> s(new RtmpServer(loop, options, std::move(handlers)));
  s->listener_ = new uv_tcp_t;
  uv_tcp_init(loop, s->listener_);
  s->listener_->data = s.get();
  int rc = uv_tcp_bind(s->listener_, reinterpret_cast<sockaddr*>(&addr), 0);
  if (rc == 0)
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(s->listener_), 64, [](uv_stream_t* h, int status) {
      if (status == 0) static_cast<RtmpServer*>(h->data)->OnConnection();
    });
  if (rc != 0) {
    std::string msg = "rtmp listener " + options.host + ":" + std::to_string(options.port) + ": " + uv_strerror(rc);
    s->Close();
    return base::MakeError(rc == UV_EACCES ? base::kExitNoPerm : base::kExitUnavailable, msg);
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(s->listener_, reinterpret_cast<sockaddr*>(&bound), &len);
  s->port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                               : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  s->timer_ = new uv_timer_t;
  uv_timer_init(loop, s->timer_);
  s->timer_->data = s.get();
  uv_timer_start(s->timer_, [](uv_timer_t* t) { static_cast<RtmpServer*>(t->data)->OnTick(); }, 1000, 1000);
  return s;
}

RtmpServer::~RtmpServer() { Close(); }

std::string RtmpServer::address() const {
  std::string h = options_.host.find(':') != std::string::npos ? "[" + options_.host + "]" : options_.host;
  return h + ":" + std::to_string(port_);
}

void RtmpServer::Close() {
  if (closed_) return;
  closed_ = true;
  if (listener_) {
    uv_close(reinterpret_cast<uv_handle_t*>(listener_), [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    listener_ = nullptr;
  }
  if (timer_) {
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
  while (!conns_.empty()) CloseConn(conns_.begin()->second, "server shutting down", false);
}

void RtmpServer::OnConnection() {
  auto* c = new Conn;
  c->server = this;
  uv_tcp_init(loop_, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(reinterpret_cast<uv_stream_t*>(listener_), reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) { delete static_cast<Conn*>(h->data); });
    return;
  }
  c->peer = PeerAddress(&c->tcp);
  if (conns_.size() >= options_.max_connections) {
    LOG_WARN("rtmp: refusing %s: already %zu connections", c->peer.c_str(), conns_.size());
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) { delete static_cast<Conn*>(h->data); });
    return;
  }
  c->id = next_id_++;
  c->accepted_ms = c->last_data_ms = base::MonotonicMs();
  uv_tcp_nodelay(&c->tcp, 1);
  RtmpSession::Callbacks cb;
  cb.send = [c](std::string_view bytes) {
    if (c->closing) return;
    auto* w = new WriteReq;
    w->data = std::string(bytes);
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1,
                 [](uv_write_t* r, int) { delete reinterpret_cast<WriteReq*>(r); }) != 0)
      delete w;
  };
  cb.on_publish = [this, c](const RtmpPublishRequest& req) {
    RtmpPublishDecision d = handlers_.on_publish ? handlers_.on_publish(c->id, c->peer, req) : RtmpPublishDecision{};
    if (d.ok) c->was_publishing = true;
    return d;
  };
  cb.on_media = [this, c](const RtmpMedia& m) {
    if (handlers_.on_media) handlers_.on_media(c->id, m);
  };
  cb.on_unpublish = [this, c] {
    if (c->was_publishing) {
      c->was_publishing = false;
      if (handlers_.on_end) handlers_.on_end(c->id);
    }
  };
  c->session = std::make_unique<RtmpSession>(std::move(cb));
  conns_[c->id] = c;
  LOG_DEBUG("rtmp: connection %llu from %s", static_cast<unsigned long long>(c->id), c->peer.c_str());
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->tcp),
      [](uv_handle_t*, size_t, uv_buf_t* buf) { *buf = uv_buf_init(g_read_buf, sizeof g_read_buf); },
      [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
        auto* c = static_cast<Conn*>(s->data);
        if (c->closing) return;
        RtmpServer* self = c->server;
        if (n < 0) {
          self->CloseConn(c, n == UV_EOF ? "" : uv_strerror(static_cast<int>(n)), false);
          return;
        }
        if (n == 0) return;
        c->last_data_ms = base::MonotonicMs();
        auto st = c->session->Feed(std::string_view(buf->base, static_cast<size_t>(n)));
        if (!st.ok()) self->CloseConn(c, st.error().message, true);
      });
}

void RtmpServer::CloseConn(Conn* c, const std::string& why, bool flush) {
  if (c->closing) return;
  c->closing = true;
  conns_.erase(c->id);
  if (!why.empty()) LOG_NOTICE("rtmp: closing connection %llu from %s: %s", static_cast<unsigned long long>(c->id),
                               c->peer.c_str(), why.c_str());
  if (c->was_publishing) {
    c->was_publishing = false;
    if (handlers_.on_end) handlers_.on_end(c->id);
  }
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
  auto close = [](uv_handle_t* h) {
    uv_close(h, [](uv_handle_t* h) { delete static_cast<Conn*>(h->data); });
  };
  // Flushing lets a refusal (onStatus error) reach the publisher before the close.
  if (flush && uv_shutdown(&c->shutdown, reinterpret_cast<uv_stream_t*>(&c->tcp), [](uv_shutdown_t* r, int) {
        uv_handle_t* h = reinterpret_cast<uv_handle_t*>(r->handle);
        if (!uv_is_closing(h)) uv_close(h, [](uv_handle_t* h) { delete static_cast<Conn*>(h->data); });
      }) == 0)
    return;
  close(reinterpret_cast<uv_handle_t*>(&c->tcp));
}

bool RtmpServer::Disconnect(uint64_t conn) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return false;
  CloseConn(it->second, "disconnected by the operator", false);
  return true;
}

void RtmpServer::OnTick() {
  int64_t now = base::MonotonicMs();
  std::vector<Conn*> stale;
  for (auto& [id, c] : conns_) {
    if (!c->session->publishing() && now - c->accepted_ms > options_.setup_timeout_ms && !c->was_publishing)
      stale.push_back(c);
    else if (now - c->last_data_ms > options_.idle_timeout_ms)
      stale.push_back(c);
  }
  for (Conn* c : stale) CloseConn(c, "timed out", false);
}

}  // namespace collab::stream
