#include "lib/rtc/transport.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_map>

#include "lib/base/exit_codes.hpp"
#include "lib/base/log.hpp"
#include "lib/rtc/ice_tcp_framing.hpp"
#include "lib/rtc/srtp.hpp"

namespace collab::rtc {

namespace {

using base::Error;
using base::MakeError;

struct AddrHash {
  size_t operator()(const TransportAddress& a) const {
    size_t h = static_cast<size_t>(a.family) * 1000003u ^ a.port;
    for (uint8_t b : a.ip) h = h * 131u + b;
    return h;
  }
};

// "*:port" means every IPv4 address; otherwise an IP literal as TransportAddress reads it.
base::Result<TransportAddress> ParseListen(const std::string& text) {
  std::string t = text;
  if (t.rfind("*:", 0) == 0) t = "0.0.0.0" + t.substr(1);
  auto a = TransportAddress::FromString(t);
  if (!a) return MakeError(base::kExitConfig, "'" + text + "' is not IP:PORT (host names are not resolved here)");
  return *a;
}

TransportAddress SockName(const uv_handle_t* h, bool udp) {
  sockaddr_storage ss{};
  int len = sizeof(ss);
  int rc = udp ? uv_udp_getsockname(reinterpret_cast<const uv_udp_t*>(h), reinterpret_cast<sockaddr*>(&ss), &len)
               : uv_tcp_getsockname(reinterpret_cast<const uv_tcp_t*>(h), reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc != 0) return {};
  return TransportAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), static_cast<socklen_t>(len))
      .value_or(TransportAddress{});
}

Error UvError(const char* what, int rc) { return MakeError(base::kExitOsErr, std::string(what) + ": " + uv_strerror(rc)); }

}  // namespace

struct TcpConn {
  uv_tcp_t handle{};
  RtcSocketsImpl* sockets = nullptr;
  uint64_t accepted_ms = 0;
  IceTcpFrameDecoder decoder;
  TransportAddress remote;
  WebRtcTransport* peer = nullptr;  // set by the first valid check
  bool closing = false;
};

struct TcpWrite {
  uv_write_t req{};
  std::vector<uint8_t> bytes;
};

struct RtcSocketsImpl {
  uv_loop_t* loop = nullptr;
  RtcSocketsConfig config;
  uv_udp_t* udp = nullptr;  // heap: freed by its close callback, which may run after we are gone
  uv_tcp_t* tcp = nullptr;
  TransportAddress udp_addr;
  std::optional<TransportAddress> tcp_addr;
  bool udp_v6 = false;
  std::vector<uint8_t> recv_buf = std::vector<uint8_t>(65536);
  std::vector<uint8_t> frame_buf;
  std::unordered_map<std::string, WebRtcTransport*> by_ufrag;
  std::unordered_map<TransportAddress, WebRtcTransport*, AddrHash> udp_routes;
  std::unordered_map<const WebRtcTransport*, size_t> route_counts;  // udp_routes per transport
  std::unordered_map<TransportAddress, TcpConn*, AddrHash> tcp_conns;  // by remote address
  uint64_t dropped = 0;
  uv_timer_t* sweep = nullptr;  // closes TCP connections that never sent a valid check

  ~RtcSocketsImpl() {
    if (sweep) uv_close(reinterpret_cast<uv_handle_t*>(sweep), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    auto free_handle = [](uv_handle_t* h) {
      if (h->type == UV_UDP) delete reinterpret_cast<uv_udp_t*>(h);
      else delete reinterpret_cast<uv_tcp_t*>(h);
    };
    if (udp) uv_close(reinterpret_cast<uv_handle_t*>(udp), free_handle);
    if (tcp) uv_close(reinterpret_cast<uv_handle_t*>(tcp), free_handle);
    for (auto& [addr, c] : tcp_conns) CloseConnHandle(c);
    tcp_conns.clear();
  }

  static void CloseConnHandle(TcpConn* c) {
    if (c->closing) return;
    c->closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->handle),
             [](uv_handle_t* h) { delete static_cast<TcpConn*>(h->data); });
  }

  void CloseConn(TcpConn* c) {
    auto it = tcp_conns.find(c->remote);
    if (it != tcp_conns.end() && it->second == c) tcp_conns.erase(it);
    CloseConnHandle(c);
  }

  WebRtcTransport* ByUfrag(std::span<const uint8_t> stun) {
    auto ufrag = ParseUsernameLocalUfrag(stun);
    if (!ufrag) return nullptr;
    auto it = by_ufrag.find(std::string(*ufrag));
    return it == by_ufrag.end() ? nullptr : it->second;
  }

  void OnUdp(ssize_t nread, const sockaddr* addr) {
    if (nread <= 0 || addr == nullptr) return;
    auto from_opt = TransportAddress::FromSockaddr(addr, sizeof(sockaddr_storage));
    if (!from_opt) return;
    TransportAddress from = from_opt->Unmapped();
    std::span<uint8_t> data(recv_buf.data(), static_cast<size_t>(nread));
    // STUN goes by ufrag even from a known address: a browser may reuse a port for a new
    // session, whose checks must reach the new peer (a valid one then moves the route).
    WebRtcTransport* t = ClassifyPacket(data) == PacketClass::kStun ? ByUfrag(data) : nullptr;
    if (t == nullptr) {
      auto it = udp_routes.find(from);
      if (it != udp_routes.end()) t = it->second;
    }
    if (t == nullptr) {
      ++dropped;
      return;
    }
    t->HandlePacket(data, from, IceProtocol::kUdp, nullptr);
  }

  // false: stop feeding (the connection is closing).
  bool OnTcpFrame(TcpConn* c, std::span<const uint8_t> frame) {
    frame_buf.assign(frame.begin(), frame.end());
    WebRtcTransport* t = c->peer;
    if (t == nullptr && ClassifyPacket(frame) == PacketClass::kStun) t = ByUfrag(frame);
    if (t == nullptr) {
      ++dropped;
      return true;
    }
    t->HandlePacket(frame_buf, c->remote, IceProtocol::kTcp, c);
    return !c->closing;
  }

  void OnTcpRead(TcpConn* c, ssize_t nread) {
    if (nread == 0) return;
    if (nread < 0) {
      CloseConn(c);
      return;
    }
    auto st = c->decoder.Feed(std::span<const uint8_t>(recv_buf.data(), static_cast<size_t>(nread)),
                              [this, c](std::span<const uint8_t> f) { return OnTcpFrame(c, f); });
    if (!st && !c->closing) {
      LOG_DEBUG("rtc: ice-tcp %s: %s", c->remote.ToString().c_str(), st.error().message.c_str());
      CloseConn(c);
    }
  }

  void Sweep() {
    uint64_t now = uv_now(loop);
    std::vector<TcpConn*> idle;
    for (auto& [addr, c] : tcp_conns)
      if (c->peer == nullptr && now - c->accepted_ms >= config.unclaimed_tcp_timeout_ms) idle.push_back(c);
    for (TcpConn* c : idle) CloseConn(c);
  }

  void OnConnection(int status) {
    if (status < 0) return;
    auto* c = new TcpConn;
    c->sockets = this;
    uv_tcp_init(loop, &c->handle);
    c->handle.data = c;
    if (uv_accept(reinterpret_cast<uv_stream_t*>(tcp), reinterpret_cast<uv_stream_t*>(&c->handle)) != 0 ||
        tcp_conns.size() >= config.max_tcp_connections) {
      CloseConnHandle(c);
      return;
    }
    sockaddr_storage ss{};
    int len = sizeof(ss);
    std::optional<TransportAddress> remote;
    if (uv_tcp_getpeername(&c->handle, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
      remote = TransportAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), static_cast<socklen_t>(len));
    if (!remote || tcp_conns.count(remote->Unmapped())) {
      CloseConnHandle(c);
      return;
    }
    c->remote = remote->Unmapped();
    c->accepted_ms = uv_now(loop);
    tcp_conns[c->remote] = c;
    uv_tcp_nodelay(&c->handle, 1);
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->handle),
        [](uv_handle_t* h, size_t, uv_buf_t* buf) {
          auto* conn = static_cast<TcpConn*>(h->data);
          buf->base = reinterpret_cast<char*>(conn->sockets->recv_buf.data());
          buf->len = conn->sockets->recv_buf.size();
        },
        [](uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
          auto* conn = static_cast<TcpConn*>(s->data);
          if (!conn->closing) conn->sockets->OnTcpRead(conn, nread);
        });
  }

  // A valid check from `from` belongs to `t`: remember the route / adopt the connection.
  // The agent keeps at most max_pairs remote addresses and evicts old ones; the routes of a
  // transport are pruned to the agent's pairs when they grow past `route_limit`.
  void Adopt(WebRtcTransport* t, const TransportAddress& from, IceProtocol protocol, void* conn, size_t route_limit) {
    if (protocol == IceProtocol::kTcp) {
      if (conn != nullptr) static_cast<TcpConn*>(conn)->peer = t;
      return;
    }
    auto [it, inserted] = udp_routes.try_emplace(from, t);
    if (!inserted) {
      if (it->second == t) return;
      // The address moved to another peer (a new session from the same port): its check was valid.
      if (--route_counts[it->second] == 0) route_counts.erase(it->second);
      it->second = t;
    }
    if (++route_counts[t] > route_limit) PruneRoutes(t);
  }

  void PruneRoutes(WebRtcTransport* t) {
    size_t kept = 0;
    for (auto it = udp_routes.begin(); it != udp_routes.end();) {
      if (it->second != t) {
        ++it;
      } else if (!t->ice().IsValidPair(it->first, IceProtocol::kUdp)) {
        it = udp_routes.erase(it);
      } else {
        ++kept;
        ++it;
      }
    }
    route_counts[t] = kept;
  }

  void Unregister(WebRtcTransport* t) {
    auto it = by_ufrag.find(t->local_credentials().ufrag);
    if (it != by_ufrag.end() && it->second == t) by_ufrag.erase(it);
    if (route_counts.erase(t) != 0) {
      for (auto r = udp_routes.begin(); r != udp_routes.end();) {
        if (r->second == t) r = udp_routes.erase(r);
        else ++r;
      }
    }
    std::vector<TcpConn*> owned;
    for (auto& [addr, c] : tcp_conns)
      if (c->peer == t) owned.push_back(c);
    for (TcpConn* c : owned) CloseConn(c);
  }

  base::Status SendUdp(const TransportAddress& to, std::span<const uint8_t> data) {
    TransportAddress dst = to;
    if (udp_v6 && to.family == TransportAddress::Family::kIpv4) {
      std::array<uint8_t, 16> ip{};
      ip[10] = ip[11] = 0xff;
      std::memcpy(ip.data() + 12, to.ip.data(), 4);
      dst = TransportAddress::Ipv6(ip, to.port);
    }
    sockaddr_storage ss{};
    if (dst.ToSockaddr(&ss) == 0) return MakeError(base::kExitDataErr, "bad address");
    uv_buf_t buf = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(data.data())),
                               static_cast<unsigned>(data.size()));
    int rc = uv_udp_try_send(udp, &buf, 1, reinterpret_cast<const sockaddr*>(&ss));
    if (rc < 0) return MakeError(base::kExitTempFail, std::string("udp send: ") + uv_strerror(rc));
    return base::Ok();
  }

  base::Status SendTcp(TcpConn* c, std::span<const uint8_t> data) {
    if (c == nullptr || c->closing) return MakeError(base::kExitUnavailable, "tcp connection gone");
    if (c->handle.write_queue_size > config.max_tcp_queue_bytes)
      return MakeError(base::kExitTempFail, "tcp send queue full");
    auto* w = new TcpWrite;
    if (auto st = AppendIceTcpFrame(data, &w->bytes); !st) {
      delete w;
      return st;
    }
    w->req.data = w;
    uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(w->bytes.data()), static_cast<unsigned>(w->bytes.size()));
    int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->handle), &buf, 1,
                      [](uv_write_t* req, int) { delete static_cast<TcpWrite*>(req->data); });
    if (rc < 0) {
      delete w;
      return MakeError(base::kExitTempFail, std::string("tcp send: ") + uv_strerror(rc));
    }
    return base::Ok();
  }

  TcpConn* ConnTo(const TransportAddress& remote) {
    auto it = tcp_conns.find(remote);
    return it == tcp_conns.end() ? nullptr : it->second;
  }
};

// ---------------------------------------------------------------------------------------------
// RtcSockets

RtcSockets::RtcSockets(std::unique_ptr<RtcSocketsImpl> impl) : impl_(std::move(impl)) {}
RtcSockets::~RtcSockets() = default;

base::Result<std::unique_ptr<RtcSockets>> RtcSockets::Start(uv_loop_t* loop, const RtcSocketsConfig& config) {
  auto impl = std::make_unique<RtcSocketsImpl>();
  impl->loop = loop;
  impl->config = config;
  COLLAB_ASSIGN_OR_RETURN(TransportAddress udp_want, ParseListen(config.udp_listen));
  sockaddr_storage ss{};
  udp_want.ToSockaddr(&ss);
  impl->udp = new uv_udp_t;
  uv_udp_init(loop, impl->udp);
  impl->udp->data = impl.get();  // set after init, which may clear it
  impl->udp_v6 = udp_want.family == TransportAddress::Family::kIpv6;
  if (int rc = uv_udp_bind(impl->udp, reinterpret_cast<sockaddr*>(&ss), 0); rc != 0)
    return UvError(("rtc udp bind " + config.udp_listen).c_str(), rc);
  impl->udp_addr = SockName(reinterpret_cast<uv_handle_t*>(impl->udp), true).Unmapped();
  int rc = uv_udp_recv_start(
      impl->udp,
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* s = static_cast<RtcSocketsImpl*>(h->data);
        buf->base = reinterpret_cast<char*>(s->recv_buf.data());
        buf->len = s->recv_buf.size();
      },
      [](uv_udp_t* h, ssize_t nread, const uv_buf_t*, const sockaddr* addr, unsigned) {
        static_cast<RtcSocketsImpl*>(h->data)->OnUdp(nread, addr);
      });
  if (rc != 0) return UvError("rtc udp recv", rc);

  if (!config.tcp_listen.empty()) {
    COLLAB_ASSIGN_OR_RETURN(TransportAddress tcp_want, ParseListen(config.tcp_listen));
    sockaddr_storage ts{};
    tcp_want.ToSockaddr(&ts);
    impl->tcp = new uv_tcp_t;
    uv_tcp_init(loop, impl->tcp);
    impl->tcp->data = impl.get();
    if (int r = uv_tcp_bind(impl->tcp, reinterpret_cast<sockaddr*>(&ts), 0); r != 0)
      return UvError(("rtc tcp bind " + config.tcp_listen).c_str(), r);
    if (int r = uv_listen(reinterpret_cast<uv_stream_t*>(impl->tcp), 128,
                          [](uv_stream_t* s, int status) { static_cast<RtcSocketsImpl*>(s->data)->OnConnection(status); });
        r != 0)
      return UvError(("rtc tcp listen " + config.tcp_listen).c_str(), r);
    impl->tcp_addr = SockName(reinterpret_cast<uv_handle_t*>(impl->tcp), false).Unmapped();
    impl->sweep = new uv_timer_t;
    uv_timer_init(loop, impl->sweep);
    impl->sweep->data = impl.get();
    uint64_t every = std::max<uint64_t>(config.unclaimed_tcp_timeout_ms / 2, 10);
    uv_timer_start(
        impl->sweep, [](uv_timer_t* t) { static_cast<RtcSocketsImpl*>(t->data)->Sweep(); }, every, every);
    uv_unref(reinterpret_cast<uv_handle_t*>(impl->sweep));  // does not keep the loop alive by itself
  }
  return std::unique_ptr<RtcSockets>(new RtcSockets(std::move(impl)));
}

const TransportAddress& RtcSockets::udp_address() const { return impl_->udp_addr; }
const std::optional<TransportAddress>& RtcSockets::tcp_address() const { return impl_->tcp_addr; }
uv_loop_t* RtcSockets::loop() const { return impl_->loop; }
size_t RtcSockets::transport_count() const { return impl_->by_ufrag.size(); }
size_t RtcSockets::tcp_connection_count() const { return impl_->tcp_conns.size(); }
uint64_t RtcSockets::dropped_unrouted() const { return impl_->dropped; }

// ---------------------------------------------------------------------------------------------
// WebRtcTransport

struct WebRtcTransport::TimerBox {
  uv_timer_t timer{};
  WebRtcTransport* owner = nullptr;
};

WebRtcTransport::WebRtcTransport(RtcSockets& sockets, WebRtcTransportOptions options, Callbacks callbacks)
    : sockets_(&sockets),
      callbacks_(std::move(callbacks)),
      max_pairs_(std::max<size_t>(options.ice.max_pairs, 1)),
      agent_(std::move(options.local_ice), options.ice, static_cast<int64_t>(uv_now(sockets.loop()))) {}

base::Result<std::unique_ptr<WebRtcTransport>> WebRtcTransport::Create(RtcSockets& sockets,
                                                                      std::shared_ptr<const Certificate> certificate,
                                                                      WebRtcTransportOptions options,
                                                                      Callbacks callbacks) {
  RtcSocketsImpl* s = sockets.impl();
  if (!certificate) return MakeError(base::kExitSoftware, "no certificate");
  if (s->by_ufrag.count(options.local_ice.ufrag)) return MakeError(base::kExitTempFail, "ice ufrag already in use");
  std::string remote_ufrag = options.remote_ufrag, remote_pwd = options.remote_pwd;
  std::string fingerprint = options.remote_fingerprint;
  DtlsRole role = options.dtls_role;
  DtlsTransport::Options dtls_options = options.dtls;
  std::unique_ptr<WebRtcTransport> t(new WebRtcTransport(sockets, std::move(options), std::move(callbacks)));
  if (!remote_ufrag.empty()) t->agent_.SetRemoteCredentials(remote_ufrag, remote_pwd);
  WebRtcTransport* self = t.get();
  DtlsTransport::Callbacks dc;
  dc.send = [self](std::span<const uint8_t> d) { self->SendOnPair(d); };
  dc.on_connected = [self](const SrtpKeys& keys) { self->OnDtlsConnected(keys); };
  dc.on_closed = [self](const base::Error& e) { self->Fail(MakeError(e.code, "dtls: " + e.message)); };
  COLLAB_ASSIGN_OR_RETURN(t->dtls_, DtlsTransport::Create(*certificate, role, fingerprint, std::move(dc), dtls_options));
  t->timer_ = new TimerBox;
  t->timer_->owner = self;
  uv_timer_init(sockets.loop(), &t->timer_->timer);
  t->timer_->timer.data = t->timer_;
  s->by_ufrag[t->agent_.local_credentials().ufrag] = self;
  // A server starts its handshake timeout now; a client waits for a selected pair (see HandleStun).
  if (role == DtlsRole::kServer) COLLAB_TRY(t->dtls_->Start(static_cast<int64_t>(uv_now(sockets.loop()))));
  t->ArmTimer();
  return t;
}

WebRtcTransport::~WebRtcTransport() {
  Close();
  alive_.reset();
}

const IceCredentials& WebRtcTransport::local_credentials() const { return agent_.local_credentials(); }
const IceLiteAgent& WebRtcTransport::ice() const { return agent_; }
DtlsState WebRtcTransport::dtls_state() const { return dtls_ ? dtls_->state() : DtlsState::kFailed; }
bool WebRtcTransport::connected() const { return !closed_ && srtp_ != nullptr; }
bool WebRtcTransport::closed() const { return closed_; }

void WebRtcTransport::Close() {
  if (closed_) return;
  if (dtls_ && dtls_->state() == DtlsState::kConnected) dtls_->Close();  // close_notify while a path exists
  closed_ = true;
  sockets_->impl()->Unregister(this);
  if (timer_ != nullptr) {
    timer_->owner = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_->timer),
             [](uv_handle_t* h) { delete static_cast<TimerBox*>(h->data); });
    timer_ = nullptr;
  }
}

void WebRtcTransport::Fail(const base::Error& reason) {
  if (closed_) return;
  Close();
  if (callbacks_.on_closed) callbacks_.on_closed(reason);
}

void WebRtcTransport::ArmTimer() {
  if (closed_ || timer_ == nullptr) return;
  int64_t now = static_cast<int64_t>(uv_now(sockets_->loop()));
  int64_t deadline = agent_.NextDeadlineMs();
  int64_t d = dtls_->NextTimeoutMs(now);
  if (d >= 0) deadline = std::min(deadline, d);
  if (deadline == INT64_MAX) {
    uv_timer_stop(&timer_->timer);
    return;
  }
  uint64_t delay = deadline > now ? static_cast<uint64_t>(deadline - now) : 0;
  uv_timer_start(
      &timer_->timer,
      [](uv_timer_t* h) {
        auto* box = static_cast<TimerBox*>(h->data);
        if (box->owner) box->owner->OnTimer();
      },
      delay, 0);
}

void WebRtcTransport::OnTimer() {
  std::weak_ptr<int> alive = alive_;
  int64_t now = static_cast<int64_t>(uv_now(sockets_->loop()));
  dtls_->HandleTimeout(now);
  if (alive.expired() || closed_) return;
  agent_.UpdateTime(now);
  if (agent_.state() == IceState::kFailed) {
    Fail(MakeError(base::kExitTempFail, agent_.selected_pair() ? "ice consent expired" : "no ice check arrived"));
    return;
  }
  ArmTimer();
}

void WebRtcTransport::HandlePacket(std::span<uint8_t> data, const TransportAddress& from, IceProtocol protocol,
                                   void* tcp_conn) {
  if (closed_) return;
  std::weak_ptr<int> alive = alive_;
  int64_t now = static_cast<int64_t>(uv_now(sockets_->loop()));
  switch (ClassifyPacket(data)) {
    case PacketClass::kStun:
      HandleStun(data, from, protocol, tcp_conn);
      return;
    case PacketClass::kDtls:
      if (!agent_.IsValidPair(from, protocol)) return;
      dtls_->HandleDatagram(data, now);
      if (!alive.expired()) ArmTimer();
      return;
    case PacketClass::kRtpOrRtcp: {
      if (!srtp_) return;
      if (IsRtcp(data)) {
        auto n = srtp_->UnprotectRtcp(data, data.size());
        if (!n) {
          ++srtp_errors_;
          return;
        }
        if (callbacks_.on_rtcp) callbacks_.on_rtcp(data.first(*n));
        return;
      }
      auto n = srtp_->UnprotectRtp(data, data.size());
      if (!n) {
        ++srtp_errors_;
        return;
      }
      MutableRtpView view;
      if (MutableRtpView::TryParse(data.first(*n), &view) != RtpError::kNone) return;
      ++rtp_received_;
      if (callbacks_.on_rtp) callbacks_.on_rtp(view);
      return;
    }
    default:
      return;
  }
}

void WebRtcTransport::HandleStun(std::span<const uint8_t> data, const TransportAddress& from, IceProtocol protocol,
                                 void* tcp_conn) {
  std::weak_ptr<int> alive = alive_;
  RtcSocketsImpl* s = sockets_->impl();
  int64_t now = static_cast<int64_t>(uv_now(sockets_->loop()));
  bool had_pair = agent_.selected_pair().has_value();
  IceCheckOutcome out = agent_.HandleBindingRequest(data, from, protocol, now);
  if (out.kind == IceCheckOutcome::Kind::kDrop) return;
  if (out.kind == IceCheckOutcome::Kind::kSuccess) {
    s->Adopt(this, from, protocol, tcp_conn, 2 * max_pairs_);
  }
  (void)(protocol == IceProtocol::kUdp ? s->SendUdp(from, out.response)
                                       : s->SendTcp(static_cast<TcpConn*>(tcp_conn), out.response));
  if (agent_.state() == IceState::kFailed) {
    Fail(MakeError(base::kExitTempFail, "ice failed"));
    return;
  }
  if (!had_pair && agent_.selected_pair() && dtls_->role() == DtlsRole::kClient && dtls_->state() == DtlsState::kNew)
    (void)dtls_->Start(now);
  if (!alive.expired()) ArmTimer();
}

void WebRtcTransport::SendOnPair(std::span<const uint8_t> data) {
  if (closed_) return;
  const auto& pair = agent_.selected_pair();
  if (!pair) return;
  RtcSocketsImpl* s = sockets_->impl();
  if (pair->protocol == IceProtocol::kUdp) (void)s->SendUdp(pair->remote, data);
  else (void)s->SendTcp(s->ConnTo(pair->remote), data);
}

void WebRtcTransport::OnDtlsConnected(const SrtpKeys& keys) {
  auto srtp = SrtpSession::Create(keys);
  if (!srtp) {
    Fail(MakeError(srtp.error().code, "srtp: " + srtp.error().message));
    return;
  }
  srtp_ = std::move(srtp).value();
  if (callbacks_.on_connected) callbacks_.on_connected();
}

base::Status WebRtcTransport::SendProtected(std::span<const uint8_t> data, bool rtcp) {
  if (closed_ || !srtp_) return MakeError(base::kExitUnavailable, "transport not connected");
  const auto& pair = agent_.selected_pair();
  if (!pair) return MakeError(base::kExitUnavailable, "no selected pair");
  send_buf_.resize(data.size() + kSrtpMaxRtcpOverhead);
  std::memcpy(send_buf_.data(), data.data(), data.size());
  auto n = rtcp ? srtp_->ProtectRtcp(send_buf_, data.size()) : srtp_->ProtectRtp(send_buf_, data.size());
  if (!n) return n.error();
  RtcSocketsImpl* s = sockets_->impl();
  std::span<const uint8_t> out(send_buf_.data(), *n);
  if (pair->protocol == IceProtocol::kUdp) return s->SendUdp(pair->remote, out);
  return s->SendTcp(s->ConnTo(pair->remote), out);
}

base::Status WebRtcTransport::SendRtp(std::span<const uint8_t> packet) {
  auto st = SendProtected(packet, false);
  if (st) ++rtp_sent_;
  return st;
}

base::Status WebRtcTransport::SendRtcp(std::span<const uint8_t> compound) { return SendProtected(compound, true); }

}  // namespace collab::rtc
