// The libuv socket layer (RtcSockets + WebRtcTransport) over real 127.0.0.1 sockets: a client
// made of the socket-free pieces (BuildBindingRequest, a DtlsTransport in the client role, an
// SrtpSession) talks to a server transport over UDP and over ICE-TCP (RFC 4571 framing): the
// check is answered, DTLS completes, RTP and RTCP arrive decrypted both ways. Also: unroutable
// garbage is dropped without a reply, a second peer on the same port is kept apart, and consent
// expiry / a missing first check close the peer.
#include <catch2/catch.hpp>

#include <uv.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lib/rtc/certificate.hpp"
#include "lib/rtc/dtls.hpp"
#include "lib/rtc/ice_tcp_framing.hpp"
#include "lib/rtc/local_params.hpp"
#include "lib/rtc/rtp.hpp"
#include "lib/rtc/srtp.hpp"
#include "lib/rtc/stun.hpp"
#include "lib/rtc/transport.hpp"

using namespace collab::rtc;

namespace {

constexpr const char* kClientUfrag = "clnt";
constexpr const char* kClientPwd = "clientpassword0123456789";

std::shared_ptr<const Certificate> NewCert() {
  auto c = Certificate::Generate();
  REQUIRE(c.ok());
  return *c;
}

std::vector<uint8_t> MakeRtp(uint32_t ssrc, uint16_t seq, std::string_view payload) {
  RtpPacketSpec spec;
  spec.payload_type = 96;
  spec.sequence_number = seq;
  spec.timestamp = 1000u * seq;
  spec.ssrc = ssrc;
  spec.payload = {reinterpret_cast<const uint8_t*>(payload.data()), payload.size()};
  auto p = BuildRtpPacket(spec);
  REQUIRE(p.ok());
  return *p;
}

// The loop plus a ticking timer so uv_run(UV_RUN_ONCE) always returns within a few ms.
struct Loop {
  uv_loop_t loop{};
  uv_timer_t tick{};
  std::function<void()> on_tick;
  Loop() {
    uv_loop_init(&loop);
    uv_timer_init(&loop, &tick);
    tick.data = this;
    uv_timer_start(
        &tick,
        [](uv_timer_t* t) {
          auto* self = static_cast<Loop*>(t->data);
          if (self->on_tick) self->on_tick();
        },
        5, 5);
  }
  ~Loop() {
    uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
    for (int i = 0; i < 1000 && uv_run(&loop, UV_RUN_NOWAIT) != 0; ++i) {
    }
    CHECK(uv_loop_close(&loop) == 0);
  }
  bool Pump(const std::function<bool()>& cond, int timeout_ms = 10000) {
    uint64_t deadline = uv_now(&loop) + static_cast<uint64_t>(timeout_ms);
    while (!cond()) {
      if (uv_now(&loop) > deadline) return false;
      uv_run(&loop, UV_RUN_ONCE);
    }
    return true;
  }
};

// What the server side saw.
struct ServerSide {
  std::unique_ptr<WebRtcTransport> t;
  bool connected = false;
  std::vector<std::vector<uint8_t>> rtp;  // decrypted packets
  std::vector<std::vector<uint8_t>> rtcp;
  std::optional<collab::base::Error> closed;
};

void MakeServer(RtcSockets& sockets, const std::shared_ptr<const Certificate>& cert,
                const std::shared_ptr<const Certificate>& client_cert, ServerSide* s, IceLiteConfig ice = {}) {
  WebRtcTransportOptions o;
  o.remote_ufrag = kClientUfrag;
  o.remote_pwd = kClientPwd;
  o.remote_fingerprint = client_cert->fingerprint();
  o.ice = ice;
  WebRtcTransport::Callbacks cb;
  cb.on_connected = [s] { s->connected = true; };
  cb.on_rtp = [s](MutableRtpView& v) { s->rtp.emplace_back(v.bytes().begin(), v.bytes().end()); };
  cb.on_rtcp = [s](std::span<uint8_t> c) { s->rtcp.emplace_back(c.begin(), c.end()); };
  cb.on_closed = [s](const collab::base::Error& e) { s->closed = e; };
  auto t = WebRtcTransport::Create(sockets, cert, o, cb);
  REQUIRE(t.ok());
  s->t = std::move(t).value();
}

// A browser-like client built from the socket-free pieces; `send` writes one packet.
struct Client {
  std::function<void(std::span<const uint8_t>)> send;
  std::unique_ptr<DtlsTransport> dtls;
  std::unique_ptr<SrtpSession> srtp;
  int stun_success = 0, stun_error = 0;
  std::vector<std::vector<uint8_t>> rtp, rtcp;
  uv_loop_t* loop = nullptr;

  void Init(uv_loop_t* l, const std::shared_ptr<const Certificate>& cert, const std::string& server_fp) {
    loop = l;
    DtlsTransport::Callbacks cb;
    cb.send = [this](std::span<const uint8_t> d) { send(d); };
    cb.on_connected = [this](const SrtpKeys& k) {
      auto s = SrtpSession::Create(k);
      REQUIRE(s.ok());
      srtp = std::move(s).value();
    };
    auto d = DtlsTransport::Create(*cert, DtlsRole::kClient, server_fp, cb);
    REQUIRE(d.ok());
    dtls = std::move(d).value();
  }
  void Tick() {
    if (dtls && dtls->state() == DtlsState::kConnecting) dtls->HandleTimeout(static_cast<int64_t>(uv_now(loop)));
  }
  void SendCheck(const IceCredentials& server) {
    std::string username = server.ufrag + ":" + kClientUfrag;
    StunBindingRequestParams p;
    p.transaction_id = StunTransactionId::Random();
    p.username = username;
    p.password = server.pwd;
    p.priority = 12345;
    p.use_candidate = true;
    p.ice_controlling = 42;
    auto req = BuildBindingRequest(p);
    REQUIRE(req.ok());
    send(*req);
  }
  void OnPacket(std::span<const uint8_t> d) {
    switch (ClassifyPacket(d)) {
      case PacketClass::kStun: {
        auto m = StunMessage::Parse(d);
        if (!m.ok()) return;
        if (m->message_class() == StunClass::kSuccessResponse) ++stun_success;
        if (m->message_class() == StunClass::kErrorResponse) ++stun_error;
        return;
      }
      case PacketClass::kDtls:
        dtls->HandleDatagram(d, static_cast<int64_t>(uv_now(loop)));
        return;
      case PacketClass::kRtpOrRtcp: {
        if (!srtp) return;
        std::vector<uint8_t> buf(d.begin(), d.end());
        bool is_rtcp = IsRtcp(d);
        auto n = is_rtcp ? srtp->UnprotectRtcp(buf, buf.size()) : srtp->UnprotectRtp(buf, buf.size());
        if (!n.ok()) return;
        buf.resize(*n);
        (is_rtcp ? rtcp : rtp).push_back(std::move(buf));
        return;
      }
      default:
        return;
    }
  }
  void SendRtp(std::span<const uint8_t> pkt) {
    std::vector<uint8_t> buf(pkt.begin(), pkt.end());
    buf.resize(pkt.size() + kSrtpMaxRtpOverhead);
    auto n = srtp->ProtectRtp(buf, pkt.size());
    REQUIRE(n.ok());
    send(std::span<const uint8_t>(buf.data(), *n));
  }
  void SendRtcp(std::span<const uint8_t> pkt) {
    std::vector<uint8_t> buf(pkt.begin(), pkt.end());
    buf.resize(pkt.size() + kSrtpMaxRtcpOverhead);
    auto n = srtp->ProtectRtcp(buf, pkt.size());
    REQUIRE(n.ok());
    send(std::span<const uint8_t>(buf.data(), *n));
  }
};

// A plain UDP socket on the test loop delivering datagrams to a callback.
struct UdpPeer {
  uv_udp_t h{};
  std::vector<uint8_t> buf = std::vector<uint8_t>(65536);
  std::function<void(std::span<const uint8_t>)> on_packet;
  int received = 0;
  explicit UdpPeer(uv_loop_t* loop, const char* ip = "127.0.0.1") {
    uv_udp_init(loop, &h);
    h.data = this;
    sockaddr_storage a{};
    if (std::strchr(ip, ':')) uv_ip6_addr(ip, 0, reinterpret_cast<sockaddr_in6*>(&a));
    else uv_ip4_addr(ip, 0, reinterpret_cast<sockaddr_in*>(&a));
    REQUIRE(uv_udp_bind(&h, reinterpret_cast<sockaddr*>(&a), 0) == 0);
    uv_udp_recv_start(
        &h,
        [](uv_handle_t* hh, size_t, uv_buf_t* b) {
          auto* self = static_cast<UdpPeer*>(hh->data);
          b->base = reinterpret_cast<char*>(self->buf.data());
          b->len = self->buf.size();
        },
        [](uv_udp_t* hh, ssize_t n, const uv_buf_t*, const sockaddr* addr, unsigned) {
          auto* self = static_cast<UdpPeer*>(hh->data);
          if (n <= 0 || addr == nullptr) return;
          ++self->received;
          if (self->on_packet) self->on_packet({self->buf.data(), static_cast<size_t>(n)});
        });
  }
  ~UdpPeer() { uv_close(reinterpret_cast<uv_handle_t*>(&h), nullptr); }
  void SendTo(const TransportAddress& to, std::span<const uint8_t> d) {
    sockaddr_storage ss{};
    to.ToSockaddr(&ss);
    uv_buf_t b = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(d.data())), static_cast<unsigned>(d.size()));
    REQUIRE(uv_udp_try_send(&h, &b, 1, reinterpret_cast<sockaddr*>(&ss)) >= 0);
  }
};

// A TCP client connection with RFC 4571 framing.
struct TcpPeer {
  uv_tcp_t h{};
  uv_connect_t req{};
  bool connected = false, closed = false;
  IceTcpFrameDecoder decoder;
  std::vector<uint8_t> buf = std::vector<uint8_t>(65536);
  std::function<void(std::span<const uint8_t>)> on_frame;
  TcpPeer(uv_loop_t* loop, const TransportAddress& to) {
    uv_tcp_init(loop, &h);
    h.data = this;
    req.data = this;
    sockaddr_storage ss{};
    to.ToSockaddr(&ss);
    REQUIRE(uv_tcp_connect(&req, &h, reinterpret_cast<sockaddr*>(&ss), [](uv_connect_t* r, int status) {
              auto* self = static_cast<TcpPeer*>(r->data);
              if (status != 0) return;
              self->connected = true;
              uv_read_start(
                  reinterpret_cast<uv_stream_t*>(&self->h),
                  [](uv_handle_t* hh, size_t, uv_buf_t* b) {
                    auto* s = static_cast<TcpPeer*>(hh->data);
                    b->base = reinterpret_cast<char*>(s->buf.data());
                    b->len = s->buf.size();
                  },
                  [](uv_stream_t* st, ssize_t n, const uv_buf_t*) {
                    auto* s = static_cast<TcpPeer*>(st->data);
                    if (n < 0) {
                      s->closed = true;
                      uv_read_stop(st);
                      return;
                    }
                    (void)s->decoder.Feed(std::span<const uint8_t>(s->buf.data(), static_cast<size_t>(n)),
                                          [s](std::span<const uint8_t> f) {
                                            if (s->on_frame) s->on_frame(f);
                                          });
                  });
            }) == 0);
  }
  ~TcpPeer() {
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&h))) uv_close(reinterpret_cast<uv_handle_t*>(&h), nullptr);
  }
  void Send(std::span<const uint8_t> d) {
    auto* w = new std::pair<uv_write_t, std::vector<uint8_t>>();
    REQUIRE(AppendIceTcpFrame(d, &w->second).ok());
    w->first.data = w;
    uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(w->second.data()), static_cast<unsigned>(w->second.size()));
    REQUIRE(uv_write(&w->first, reinterpret_cast<uv_stream_t*>(&h), &b, 1, [](uv_write_t* r, int) {
              delete static_cast<std::pair<uv_write_t, std::vector<uint8_t>>*>(r->data);
            }) == 0);
  }
};

std::unique_ptr<RtcSockets> StartSockets(uv_loop_t* loop) {
  RtcSocketsConfig c;
  c.udp_listen = "127.0.0.1:0";
  c.tcp_listen = "127.0.0.1:0";
  auto s = RtcSockets::Start(loop, c);
  REQUIRE(s.ok());
  return std::move(s).value();
}

// Check, handshake and media both ways over whatever `client.send` writes to.
void HandshakeAndMedia(Loop& L, RtcSockets& sockets, ServerSide& server, Client& client) {
  client.SendCheck(server.t->local_credentials());
  REQUIRE(L.Pump([&] { return client.stun_success == 1; }));
  REQUIRE(server.t->ice().selected_pair().has_value());
  REQUIRE(client.dtls->Start(static_cast<int64_t>(uv_now(&L.loop))).ok());
  L.on_tick = [&] { client.Tick(); };
  REQUIRE(L.Pump([&] { return server.connected && client.srtp != nullptr; }));
  CHECK(server.t->connected());
  CHECK(server.t->dtls_state() == DtlsState::kConnected);

  auto up = MakeRtp(0x11111111, 7, "hello from the client");
  client.SendRtp(up);
  REQUIRE(L.Pump([&] { return server.rtp.size() == 1; }));
  CHECK(server.rtp[0] == up);

  auto down = MakeRtp(0x22222222, 9, "hello from the server");
  REQUIRE(server.t->SendRtp(down).ok());
  REQUIRE(L.Pump([&] { return client.rtp.size() == 1; }));
  CHECK(client.rtp[0] == down);

  // A PLI each way as RTCP.
  std::vector<uint8_t> pli = {0x81, 206, 0, 2, 0, 0, 0, 1, 0x22, 0x22, 0x22, 0x22};
  client.SendRtcp(pli);
  REQUIRE(L.Pump([&] { return server.rtcp.size() == 1; }));
  CHECK(server.rtcp[0] == pli);
  REQUIRE(server.t->SendRtcp(pli).ok());
  REQUIRE(L.Pump([&] { return client.rtcp.size() == 1; }));
  CHECK(client.rtcp[0] == pli);
  CHECK(server.t->srtp_errors() == 0);
  (void)sockets;
}

}  // namespace

TEST_CASE("transport: UDP check, DTLS and SRTP both ways", "[transport]") {
  Loop L;
  auto sockets = StartSockets(&L.loop);
  CHECK(sockets->udp_address().port != 0);
  REQUIRE(sockets->tcp_address().has_value());
  auto cert = NewCert(), client_cert = NewCert();
  {
    ServerSide server;
    MakeServer(*sockets, cert, client_cert, &server);
    CHECK(sockets->transport_count() == 1);
    UdpPeer udp(&L.loop);
    Client client;
    client.send = [&](std::span<const uint8_t> d) { udp.SendTo(sockets->udp_address(), d); };
    udp.on_packet = [&](std::span<const uint8_t> d) { client.OnPacket(d); };
    client.Init(&L.loop, client_cert, cert->fingerprint());
    HandshakeAndMedia(L, *sockets, server, client);
    L.on_tick = nullptr;

    // A check with a wrong password is refused (401) and does not disturb the session.
    StunBindingRequestParams p;
    p.transaction_id = StunTransactionId::Random();
    std::string username = server.t->local_credentials().ufrag + ":" + kClientUfrag;
    p.username = username;
    p.password = "wrongpassword0123456789x";
    auto bad = BuildBindingRequest(p);
    REQUIRE(bad.ok());
    client.send(*bad);
    REQUIRE(L.Pump([&] { return client.stun_error == 1; }));
    CHECK(server.t->connected());
    CHECK(!server.closed);

    server.t->Close();
    CHECK(sockets->transport_count() == 0);
    CHECK(!server.closed);  // no callback for our own Close
    CHECK(!server.t->SendRtp(MakeRtp(1, 1, "x")).ok());
    server.t.reset();
  }
  sockets.reset();
}

TEST_CASE("transport: IPv6 UDP", "[transport]") {
  Loop L;
  RtcSocketsConfig c;
  c.udp_listen = "[::1]:0";
  c.tcp_listen = "";
  auto started = RtcSockets::Start(&L.loop, c);
  if (!started.ok()) {
    WARN("no IPv6 loopback here: " << started.error().message);
    return;
  }
  auto sockets = std::move(started).value();
  CHECK(sockets->udp_address().family == TransportAddress::Family::kIpv6);
  CHECK(!sockets->tcp_address().has_value());
  auto cert = NewCert(), client_cert = NewCert();
  {
    ServerSide server;
    MakeServer(*sockets, cert, client_cert, &server);
    UdpPeer udp(&L.loop, "::1");
    Client client;
    client.send = [&](std::span<const uint8_t> d) { udp.SendTo(sockets->udp_address(), d); };
    udp.on_packet = [&](std::span<const uint8_t> d) { client.OnPacket(d); };
    client.Init(&L.loop, client_cert, cert->fingerprint());
    HandshakeAndMedia(L, *sockets, server, client);
    L.on_tick = nullptr;
    CHECK(server.t->ice().selected_pair()->remote.family == TransportAddress::Family::kIpv6);
  }
  sockets.reset();
}

TEST_CASE("transport: bad listen addresses are errors", "[transport]") {
  Loop L;
  for (const char* bad : {"", "localhost:1000", "127.0.0.1", "1.2.3.4.5:10", "[::1:10"}) {
    RtcSocketsConfig c;
    c.udp_listen = bad;
    c.tcp_listen = "";
    auto s = RtcSockets::Start(&L.loop, c);
    CHECK_FALSE(s.ok());
  }
  RtcSocketsConfig c;
  c.udp_listen = "127.0.0.1:0";
  c.tcp_listen = "nonsense";
  CHECK_FALSE(RtcSockets::Start(&L.loop, c).ok());
}

TEST_CASE("transport: ICE-TCP check, DTLS and SRTP both ways", "[transport]") {
  Loop L;
  auto sockets = StartSockets(&L.loop);
  auto cert = NewCert(), client_cert = NewCert();
  {
    ServerSide server;
    MakeServer(*sockets, cert, client_cert, &server);
    TcpPeer tcp(&L.loop, *sockets->tcp_address());
    REQUIRE(L.Pump([&] { return tcp.connected && sockets->tcp_connection_count() == 1; }));
    Client client;
    client.send = [&](std::span<const uint8_t> d) { tcp.Send(d); };
    tcp.on_frame = [&](std::span<const uint8_t> d) { client.OnPacket(d); };
    client.Init(&L.loop, client_cert, cert->fingerprint());
    HandshakeAndMedia(L, *sockets, server, client);
    CHECK(server.t->ice().selected_pair()->protocol == IceProtocol::kTcp);
    L.on_tick = nullptr;

    // Closing the transport drops the TCP connection it owns.
    server.t.reset();
    CHECK(sockets->tcp_connection_count() == 0);
    REQUIRE(L.Pump([&] { return tcp.closed; }));
  }
  sockets.reset();
}

TEST_CASE("transport: unroutable packets are dropped without a reply", "[transport]") {
  Loop L;
  auto sockets = StartSockets(&L.loop);
  auto cert = NewCert(), client_cert = NewCert();
  ServerSide server;
  MakeServer(*sockets, cert, client_cert, &server);
  UdpPeer stranger(&L.loop);

  std::vector<std::vector<uint8_t>> junk;
  junk.push_back({0xde, 0xad, 0xbe, 0xef});                    // unknown first byte
  junk.push_back(MakeRtp(5, 5, "rtp from nobody"));           // RTP from an unknown address
  junk.push_back({22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});  // DTLS-looking
  StunBindingRequestParams p;
  p.transaction_id = StunTransactionId::Random();
  p.username = "nosuchufrag:clnt";
  p.password = "whatever0123456789abcdef";
  junk.push_back(*BuildBindingRequest(p));  // a check for a ufrag nobody owns
  std::vector<uint8_t> stun_no_user = *BuildBindingRequest(StunBindingRequestParams{});
  junk.push_back(stun_no_user);              // a check without USERNAME
  junk.push_back({0x00, 0x01, 0x00});        // truncated STUN
  for (auto& j : junk) stranger.SendTo(sockets->udp_address(), j);
  REQUIRE(L.Pump([&] { return sockets->dropped_unrouted() == junk.size(); }));

  // A truncated/garbage TCP stream is dropped as well: an oversized frame closes the connection.
  TcpPeer tcp(&L.loop, *sockets->tcp_address());
  REQUIRE(L.Pump([&] { return tcp.connected; }));
  uint8_t oversized[4] = {0xff, 0xff, 0, 0};
  uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(oversized), 4);
  REQUIRE(uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp.h), &b, 1) == 4);
  REQUIRE(L.Pump([&] { return tcp.closed; }));
  CHECK(sockets->tcp_connection_count() == 0);

  // Nothing was ever sent back, and the peer is untouched.
  CHECK(stranger.received == 0);
  CHECK(!server.closed);
  CHECK(!server.t->ice().selected_pair());
  server.t.reset();
  sockets.reset();
}

TEST_CASE("transport: a DTLS certificate that does not match the SDP fingerprint closes the peer", "[transport]") {
  Loop L;
  auto sockets = StartSockets(&L.loop);
  auto cert = NewCert(), client_cert = NewCert(), impostor = NewCert();
  ServerSide server;
  MakeServer(*sockets, cert, client_cert, &server);
  UdpPeer udp(&L.loop);
  Client client;
  client.send = [&](std::span<const uint8_t> d) { udp.SendTo(sockets->udp_address(), d); };
  udp.on_packet = [&](std::span<const uint8_t> d) { client.OnPacket(d); };
  client.Init(&L.loop, impostor, cert->fingerprint());
  client.SendCheck(server.t->local_credentials());
  REQUIRE(L.Pump([&] { return client.stun_success == 1; }));
  REQUIRE(client.dtls->Start(static_cast<int64_t>(uv_now(&L.loop))).ok());
  L.on_tick = [&] { client.Tick(); };
  REQUIRE(L.Pump([&] { return server.closed.has_value(); }));
  L.on_tick = nullptr;
  CHECK(server.closed->message.find("dtls") != std::string::npos);
  CHECK(!server.connected);
  CHECK(sockets->transport_count() == 0);
  server.t.reset();
  sockets.reset();
}

TEST_CASE("transport: a second session from the same address reaches the new peer", "[transport]") {
  Loop L;
  auto sockets = StartSockets(&L.loop);
  auto cert = NewCert(), client_cert = NewCert();
  ServerSide first, second;
  MakeServer(*sockets, cert, client_cert, &first);
  UdpPeer udp(&L.loop);
  Client a;
  a.send = [&](std::span<const uint8_t> d) { udp.SendTo(sockets->udp_address(), d); };
  udp.on_packet = [&](std::span<const uint8_t> d) { a.OnPacket(d); };
  a.Init(&L.loop, client_cert, cert->fingerprint());
  a.SendCheck(first.t->local_credentials());
  REQUIRE(L.Pump([&] { return a.stun_success == 1; }));
  // Same client port, new peer: its check is routed by ufrag, not by the remembered address.
  MakeServer(*sockets, cert, client_cert, &second);
  a.SendCheck(second.t->local_credentials());
  REQUIRE(L.Pump([&] { return a.stun_success == 2; }));
  CHECK(second.t->ice().selected_pair().has_value());
  first.t.reset();
  second.t.reset();
  sockets.reset();
}

TEST_CASE("transport: a TCP connection that never checks is closed", "[transport]") {
  Loop L;
  RtcSocketsConfig c;
  c.tcp_listen = "127.0.0.1:0";
  c.unclaimed_tcp_timeout_ms = 100;
  c.max_tcp_connections = 2;
  auto started = RtcSockets::Start(&L.loop, c);
  REQUIRE(started.ok());
  auto sockets = std::move(started).value();
  {
    TcpPeer a(&L.loop, *sockets->tcp_address());
    TcpPeer b(&L.loop, *sockets->tcp_address());
    REQUIRE(L.Pump([&] { return a.connected && b.connected && sockets->tcp_connection_count() == 2; }));
    // Over max_tcp_connections: accepted by the kernel, closed by us at once.
    TcpPeer over(&L.loop, *sockets->tcp_address());
    REQUIRE(L.Pump([&] { return over.closed; }));
    CHECK(sockets->tcp_connection_count() == 2);
    uint64_t t0 = uv_now(&L.loop);
    REQUIRE(L.Pump([&] { return a.closed && b.closed; }, 5000));
    CHECK(uv_now(&L.loop) - t0 < 2000);
    CHECK(sockets->tcp_connection_count() == 0);
  }
  sockets.reset();
}

TEST_CASE("transport: two peers on one port stay apart", "[transport]") {
  Loop L;
  auto sockets = StartSockets(&L.loop);
  auto cert = NewCert(), c1 = NewCert(), c2 = NewCert();
  ServerSide s1, s2;
  MakeServer(*sockets, cert, c1, &s1);
  MakeServer(*sockets, cert, c2, &s2);
  UdpPeer u1(&L.loop), u2(&L.loop);
  Client a, b;
  a.send = [&](std::span<const uint8_t> d) { u1.SendTo(sockets->udp_address(), d); };
  b.send = [&](std::span<const uint8_t> d) { u2.SendTo(sockets->udp_address(), d); };
  u1.on_packet = [&](std::span<const uint8_t> d) { a.OnPacket(d); };
  u2.on_packet = [&](std::span<const uint8_t> d) { b.OnPacket(d); };
  a.Init(&L.loop, c1, cert->fingerprint());
  b.Init(&L.loop, c2, cert->fingerprint());
  HandshakeAndMedia(L, *sockets, s1, a);
  HandshakeAndMedia(L, *sockets, s2, b);
  L.on_tick = nullptr;
  CHECK(s1.rtp.size() == 1);
  CHECK(s2.rtp.size() == 1);
  // a's client sends an RTP packet: only s1 sees it.
  a.SendRtp(MakeRtp(0x33, 1, "only for s1"));
  REQUIRE(L.Pump([&] { return s1.rtp.size() == 2; }));
  CHECK(s2.rtp.size() == 1);
  s1.t.reset();
  s2.t.reset();
  sockets.reset();
}

TEST_CASE("transport: consent expiry and a missing first check close the peer", "[transport]") {
  Loop L;
  auto sockets = StartSockets(&L.loop);
  auto cert = NewCert(), client_cert = NewCert();
  IceLiteConfig ice;
  ice.consent_timeout_ms = 400;
  ice.disconnected_after_ms = 200;
  ice.initial_timeout_ms = 300;

  SECTION("no check at all") {
    ServerSide server;
    MakeServer(*sockets, cert, client_cert, &server, ice);
    REQUIRE(L.Pump([&] { return server.closed.has_value(); }, 5000));
    CHECK(server.t->closed());
    CHECK(sockets->transport_count() == 0);
    server.t.reset();
  }
  SECTION("consent stops after the session is up") {
    ServerSide server;
    MakeServer(*sockets, cert, client_cert, &server, ice);
    UdpPeer udp(&L.loop);
    Client client;
    client.send = [&](std::span<const uint8_t> d) { udp.SendTo(sockets->udp_address(), d); };
    udp.on_packet = [&](std::span<const uint8_t> d) { client.OnPacket(d); };
    client.Init(&L.loop, client_cert, cert->fingerprint());
    client.SendCheck(server.t->local_credentials());
    REQUIRE(L.Pump([&] { return client.stun_success == 1; }));
    REQUIRE(client.dtls->Start(static_cast<int64_t>(uv_now(&L.loop))).ok());
    L.on_tick = [&] { client.Tick(); };
    REQUIRE(L.Pump([&] { return server.connected && client.srtp != nullptr; }));
    L.on_tick = nullptr;
    uint64_t t0 = uv_now(&L.loop);
    REQUIRE(L.Pump([&] { return server.closed.has_value(); }, 5000));
    CHECK(uv_now(&L.loop) - t0 < 2000);
    CHECK(server.closed->message.find("consent") != std::string::npos);
    // The route is gone: media from the old address is now unroutable (the client may also
    // answer our close_notify, so count at least one drop).
    uint64_t before = sockets->dropped_unrouted();
    client.SendRtp(MakeRtp(1, 2, "late"));
    REQUIRE(L.Pump([&] { return sockets->dropped_unrouted() > before; }));
    CHECK(server.rtp.empty());
    server.t.reset();
  }
  sockets.reset();
}

TEST_CASE("transport: an answer's local parameters carry the transport's credentials and a candidate per socket",
          "[transport]") {
  Loop L;
  auto sockets = StartSockets(&L.loop);
  auto cert = NewCert();
  WebRtcTransportOptions to;
  auto local = LocalParamsFor(to, *sockets, cert->fingerprint(), {});
  REQUIRE(local.ok());
  CHECK(local->ice_ufrag == to.local_ice.ufrag);
  CHECK(local->ice_pwd == to.local_ice.pwd);
  auto fp = CertificateFingerprint::Parse(cert->fingerprint());
  REQUIRE(fp.ok());
  CHECK(local->fingerprint.hash == "sha-256");
  CHECK(local->fingerprint.digest == fp->digest);
  CHECK_FALSE(local->session_id.empty());
  REQUIRE(local->candidates.size() == 2);
  CHECK(local->candidates[0].transport == "udp");
  CHECK(local->candidates[0].address == "127.0.0.1");
  CHECK(local->candidates[0].port == sockets->udp_address().port);
  CHECK(local->candidates[1].transport == "tcp");
  CHECK(local->candidates[1].port == sockets->tcp_address()->port);
  CHECK(local->candidates[0].foundation != local->candidates[1].foundation);

  // Announced addresses replace the bound one on both sockets.
  auto announced = LocalParamsFor(to, *sockets, cert->fingerprint(), {"192.0.2.7", "2001:db8::7"});
  REQUIRE(announced.ok());
  REQUIRE(announced->candidates.size() == 4);
  CHECK(announced->candidates[0].address == "192.0.2.7");
  CHECK(announced->candidates[1].address == "2001:db8::7");
  CHECK(announced->candidates[3].transport == "tcp");
  CHECK(announced->candidates[3].address == "2001:db8::7");

  CHECK_FALSE(LocalParamsFor(to, *sockets, "sha-256 not-hex", {}).ok());
  sockets.reset();
}

TEST_CASE("transport: candidate addresses for wildcard, specific and announced binds", "[transport]") {
  auto any4 = TransportAddress::FromString("0.0.0.0:4000");
  auto any6 = TransportAddress::FromString("[::]:4000");
  auto one6 = TransportAddress::FromString("[2001:db8::1]:4000");
  auto one4 = TransportAddress::FromString("10.1.2.3:4000");
  REQUIRE((any4 && any6 && one6 && one4));
  CHECK(CandidateAddresses(*any4, {}) == std::vector<std::string>{"127.0.0.1"});
  CHECK(CandidateAddresses(*any6, {}) == std::vector<std::string>{"::1"});
  CHECK(CandidateAddresses(*one6, {}) == std::vector<std::string>{"2001:db8::1"});
  CHECK(CandidateAddresses(*one4, {}) == std::vector<std::string>{"10.1.2.3"});
  CHECK(CandidateAddresses(*any4, {"198.51.100.1"}) == std::vector<std::string>{"198.51.100.1"});
  std::vector<uint32_t> ssrcs;
  for (int i = 0; i < 8; ++i) ssrcs.push_back(RandomSsrc());
  for (uint32_t v : ssrcs) CHECK(v != 0);
  std::sort(ssrcs.begin(), ssrcs.end());
  CHECK(std::unique(ssrcs.begin(), ssrcs.end()) - ssrcs.begin() > 1);
}
