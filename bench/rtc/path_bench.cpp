// path_bench: the SFU's whole per-packet path in packets/s per core, as a ratio to the crypto
// it contains. The server side is the real socket layer (RtcSockets + WebRtcTransport on a libuv
// loop in its own thread); its on_rtp does what the SFU forwarder does per packet: the packet
// arrives already unprotected and parsed, its SSRC is rewritten, and SendRtp protects and sends
// it back. The client (this thread) does ICE and DTLS like a browser, then sends pre-encrypted
// 1200-byte SRTP packets over blocking 127.0.0.1 UDP with a bounded window in flight, counting
// the echoes without decrypting them. The figure is packets the server processed divided by the
// server thread's CPU time (CLOCK_THREAD_CPUTIME_ID, sampled on the loop thread at the start and
// end of each timed window), so the client's own cost and a neighbour's load do not count.
// In the same run, the crypto-only figure: the same unprotect + SSRC rewrite + protect on
// SrtpSession alone (with the two copies the transport makes), also per thread CPU second.
// Not a test: it asserts only that the handshake completes and packets come back.
//
// usage: path_bench [--rounds N] [--packets P] [--window W] [--max-seconds S] [--suite gcm|cm|both]
// Each suite: N rounds (default 5) of P packets (default 40000, window W default 64), path and crypto-only
// interleaved round by round; every round's send phase stops after S seconds (default 10) at most.
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "lib/rtc/certificate.hpp"
#include "lib/rtc/dtls.hpp"
#include "lib/rtc/rtp.hpp"
#include "lib/rtc/srtp.hpp"
#include "lib/rtc/stun.hpp"
#include "lib/rtc/transport.hpp"

using namespace collab::rtc;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kPacketSize = 1200;  // RTP header (12) + payload, before the SRTP tag
constexpr uint32_t kClientSsrc = 0x11223344;
constexpr uint32_t kForwardSsrc = 0x55667788;  // what the "SFU" rewrites it to
constexpr const char* kClientUfrag = "bnch";
constexpr const char* kClientPwd = "benchpassword0123456789x";
constexpr int kSendBatch = 32;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "path_bench: %s\n", what.c_str());
  std::exit(70);
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

std::vector<uint8_t> MakeRtpTemplate() {
  std::vector<uint8_t> p(kPacketSize);
  p[0] = 0x80;
  p[1] = 96;
  p[8] = static_cast<uint8_t>(kClientSsrc >> 24);
  p[9] = static_cast<uint8_t>(kClientSsrc >> 16);
  p[10] = static_cast<uint8_t>(kClientSsrc >> 8);
  p[11] = static_cast<uint8_t>(kClientSsrc);
  std::mt19937 rng(1);
  for (size_t i = 12; i < p.size(); ++i) p[i] = static_cast<uint8_t>(rng());
  return p;
}

// A batch of SRTP packets protected ahead of a timed phase, sequence numbers continuing from
// the previous fill so the receiver's replay window and rollover counter stay consistent.
struct Chunk {
  size_t stride = kPacketSize + kSrtpMaxRtpOverhead;
  std::vector<uint8_t> data;
  std::vector<size_t> len;
  void Fill(SrtpSession& tx, size_t count, uint32_t* seq) {
    static const std::vector<uint8_t> tmpl = MakeRtpTemplate();
    data.resize(count * stride);
    len.resize(count);
    for (size_t i = 0; i < count; ++i) {
      std::span<uint8_t> buf(data.data() + i * stride, stride);
      std::memcpy(buf.data(), tmpl.data(), kPacketSize);
      const uint32_t s = (*seq)++;
      buf[2] = static_cast<uint8_t>(s >> 8);
      buf[3] = static_cast<uint8_t>(s);
      buf[4] = static_cast<uint8_t>(s >> 24);  // timestamp moves too, like real media
      buf[5] = static_cast<uint8_t>(s >> 16);
      auto n = tx.ProtectRtp(buf, kPacketSize);
      if (!n.ok()) Die("client protect: " + n.error().message);
      len[i] = *n;
    }
  }
  size_t size() const { return len.size(); }
  uint8_t* at(size_t i) { return data.data() + i * stride; }
};

// ---- Server: the real transport on its own loop thread ----

struct Sample {
  double cpu_s = 0;
  double sys_s = 0;  // the kernel's share of cpu_s (socket syscalls), from RUSAGE_THREAD
  uint64_t processed = 0, send_errors = 0, srtp_errors = 0;
};

class Server {
 public:
  Server(std::shared_ptr<const Certificate> cert, const std::string& client_fp, SrtpProfile profile) {
    uv_loop_init(&loop_);
    RtcSocketsConfig sc;
    sc.udp_listen = "127.0.0.1:0";
    sc.tcp_listen = "";  // UDP only: the path measured is the UDP one
    auto s = RtcSockets::Start(&loop_, sc);
    if (!s.ok()) Die("rtc sockets: " + s.error().message);
    sockets_ = std::move(s).value();

    WebRtcTransportOptions o;
    o.remote_ufrag = kClientUfrag;
    o.remote_pwd = kClientPwd;
    o.remote_fingerprint = client_fp;
    o.dtls.srtp_profiles = {profile};
    // The client checks between rounds, but a slow machine must not lose the peer mid-run.
    o.ice.consent_timeout_ms = 120000;
    o.ice.disconnected_after_ms = 120000;
    WebRtcTransport::Callbacks cb;
    cb.on_connected = [this] { connected_.store(true); };
    cb.on_rtp = [this](MutableRtpView& pkt) {
      // The forwarder's work: the packet is already unprotected and parsed; rewrite, send.
      ++processed_;
      pkt.SetSsrc(kForwardSsrc);
      if (!transport_->SendRtp(pkt.bytes()).ok()) ++send_errors_;
    };
    cb.on_closed = [this](const collab::base::Error& e) {
      std::fprintf(stderr, "path_bench: server transport closed: %s\n", e.message.c_str());
      failed_.store(true);
    };
    auto t = WebRtcTransport::Create(*sockets_, std::move(cert), o, cb);
    if (!t.ok()) Die("transport: " + t.error().message);
    transport_ = std::move(t).value();
    address_ = sockets_->udp_address();
    credentials_ = transport_->local_credentials();

    uv_async_init(&loop_, &async_, [](uv_async_t* a) { static_cast<Server*>(a->data)->OnAsync(); });
    async_.data = this;
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }

  ~Server() {
    Command(kQuit);
    thread_.join();
    uv_loop_close(&loop_);
  }

  // Sampled on the loop thread, so the CPU time is that thread's own.
  Sample Mark() {
    Command(kMark);
    std::lock_guard lock(mu_);
    return sample_;
  }

  const TransportAddress& address() const { return address_; }
  const IceCredentials& credentials() const { return credentials_; }
  bool connected() const { return connected_.load(); }
  bool failed() const { return failed_.load(); }

 private:
  enum Cmd { kNone, kMark, kQuit };

  // Runs `cmd` on the loop thread and waits until it has been done.
  void Command(Cmd cmd) {
    std::unique_lock lock(mu_);
    cmd_ = cmd;
    const uint64_t want = done_ + 1;
    uv_async_send(&async_);
    if (!cv_.wait_for(lock, std::chrono::seconds(30), [&] { return done_ >= want; }))
      Die("server loop thread did not answer");
  }

  void OnAsync() {
    Cmd cmd;
    {
      std::lock_guard lock(mu_);
      cmd = cmd_;
      cmd_ = kNone;
    }
    if (cmd == kMark) {
      Sample s;
      s.cpu_s = ThreadCpuSeconds();
      rusage ru{};
      if (getrusage(RUSAGE_THREAD, &ru) == 0)
        s.sys_s = static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) * 1e-6;
      s.processed = processed_;
      s.send_errors = send_errors_;
      s.srtp_errors = transport_ ? transport_->srtp_errors() : 0;
      std::lock_guard lock(mu_);
      sample_ = s;
    } else if (cmd == kQuit) {
      transport_.reset();
      sockets_.reset();
      uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
    }
    std::lock_guard lock(mu_);
    ++done_;
    cv_.notify_all();
  }

  uv_loop_t loop_{};
  uv_async_t async_{};
  std::unique_ptr<RtcSockets> sockets_;
  std::unique_ptr<WebRtcTransport> transport_;
  TransportAddress address_;
  IceCredentials credentials_;
  std::thread thread_;
  std::atomic<bool> connected_{false}, failed_{false};
  uint64_t processed_ = 0, send_errors_ = 0;  // loop thread only

  std::mutex mu_;
  std::condition_variable cv_;
  Cmd cmd_ = kNone;
  uint64_t done_ = 0;
  Sample sample_;
};

// ---- Client: blocking UDP, the socket-free ICE/DTLS/SRTP pieces ----

class Client {
 public:
  Client(const Server& server, std::shared_ptr<const Certificate> cert, const std::string& server_fp,
         SrtpProfile profile)
      : server_(server) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    if (fd_ < 0) Die(std::string("socket: ") + std::strerror(errno));
    int buf = 4 << 20;
    (void)setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    (void)setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    sockaddr_storage ss{};
    socklen_t sl = server.address().ToSockaddr(&ss);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&ss), sl) != 0) Die(std::string("connect: ") + std::strerror(errno));
    SetRecvTimeoutMs(20);

    DtlsTransport::Callbacks cb;
    cb.send = [this](std::span<const uint8_t> d) { (void)::send(fd_, d.data(), d.size(), 0); };
    cb.on_connected = [this](const SrtpKeys& k) {
      auto s = SrtpSession::Create(k);
      if (!s.ok()) Die("client srtp: " + s.error().message);
      srtp_ = std::move(s).value();
    };
    cb.on_closed = [](const collab::base::Error& e) { Die("client dtls closed: " + e.message); };
    DtlsTransport::Options opts;
    opts.srtp_profiles = {profile};
    auto d = DtlsTransport::Create(*cert, DtlsRole::kClient, server_fp, cb, opts);
    if (!d.ok()) Die("client dtls: " + d.error().message);
    dtls_ = std::move(d).value();
  }
  ~Client() { ::close(fd_); }

  // One consent/nomination check; the answer is consumed by whatever reads next.
  void SendCheck() {
    std::string username = server_.credentials().ufrag + ":" + kClientUfrag;
    StunBindingRequestParams p;
    p.transaction_id = StunTransactionId::Random();
    p.username = username;
    p.password = server_.credentials().pwd;
    p.priority = 12345;
    p.use_candidate = true;
    p.ice_controlling = 42;
    auto req = BuildBindingRequest(p);
    if (!req.ok()) Die("binding request: " + req.error().message);
    (void)::send(fd_, req->data(), req->size(), 0);
  }

  // ICE check until answered, then the DTLS handshake until both sides have SRTP keys.
  void Connect() {
    const int64_t deadline = NowMs() + 15000;
    bool checked = false;
    int64_t next_check = 0;
    while (!checked) {
      if (NowMs() > deadline) Die("no answer to the ICE check");
      if (NowMs() >= next_check) {
        SendCheck();
        next_check = NowMs() + 200;
      }
      ssize_t n = ::recv(fd_, rbuf_.data(), rbuf_.size(), 0);
      if (n <= 0) continue;
      std::span<const uint8_t> d(rbuf_.data(), static_cast<size_t>(n));
      if (ClassifyPacket(d) != PacketClass::kStun) continue;
      auto m = StunMessage::Parse(d);
      if (m.ok() && m->message_class() == StunClass::kSuccessResponse) checked = true;
    }
    if (!dtls_->Start(NowMs()).ok()) Die("client dtls start");
    while (!(srtp_ && server_.connected())) {
      if (NowMs() > deadline) Die("DTLS handshake did not finish");
      if (server_.failed()) Die("server side failed during the handshake");
      ssize_t n = ::recv(fd_, rbuf_.data(), rbuf_.size(), 0);
      if (n > 0) {
        std::span<const uint8_t> d(rbuf_.data(), static_cast<size_t>(n));
        if (ClassifyPacket(d) == PacketClass::kDtls) dtls_->HandleDatagram(d, NowMs());
      }
      if (dtls_->state() == DtlsState::kConnecting) dtls_->HandleTimeout(NowMs());
    }
  }

  struct Result {
    uint64_t sent = 0, received = 0;
    double wall_s = 0;
  };

  // Sends every packet of `chunk` keeping at most `window` unanswered, counts the echoes (any
  // RTP-class datagram of the expected size) and waits briefly for the stragglers.
  Result Blast(Chunk& chunk, size_t window, double max_seconds) {
    const size_t expect_len = chunk.len.empty() ? 0 : chunk.len[0];
    Result r;
    uint64_t written_off = 0;  // in-flight packets given up on after a silence (lost)
    const auto start = Clock::now();
    const auto until = start + std::chrono::duration<double>(max_seconds);
    std::vector<mmsghdr> sm(kSendBatch), rm(kSendBatch);
    std::vector<iovec> siov(kSendBatch), riov(kSendBatch);
    std::vector<std::vector<uint8_t>> rbufs(kSendBatch, std::vector<uint8_t>(2048));
    for (int i = 0; i < kSendBatch; ++i) {
      riov[i] = {rbufs[i].data(), rbufs[i].size()};
      rm[i] = {};
      rm[i].msg_hdr.msg_iov = &riov[i];
      rm[i].msg_hdr.msg_iovlen = 1;
    }
    // Late echoes of written-off packets may push received + written_off past sent.
    auto in_flight = [&] { return r.sent > r.received + written_off ? r.sent - r.received - written_off : 0; };
    auto last_progress = Clock::now();
    while (r.received + written_off < chunk.size()) {
      const auto now = Clock::now();
      if (now > until) break;
      // Refill in whole batches (not one packet per echo) so both sides see bursts, as an SFU
      // fed by many peers does, instead of a ping-pong of single datagrams.
      const size_t batch = std::min<size_t>({size_t{kSendBatch}, window, chunk.size() - r.sent});
      while (r.sent < chunk.size() && in_flight() + batch <= window) {
        const size_t room = window - in_flight();
        const int k = static_cast<int>(std::min<size_t>({room, chunk.size() - r.sent, size_t{kSendBatch}}));
        for (int i = 0; i < k; ++i) {
          siov[i] = {chunk.at(r.sent + i), chunk.len[r.sent + i]};
          sm[i] = {};
          sm[i].msg_hdr.msg_iov = &siov[i];
          sm[i].msg_hdr.msg_iovlen = 1;
        }
        int n = ::sendmmsg(fd_, sm.data(), static_cast<unsigned>(k), 0);
        if (n <= 0) break;
        r.sent += static_cast<uint64_t>(n);
      }
      int n = ::recvmmsg(fd_, rm.data(), kSendBatch, MSG_WAITFORONE, nullptr);
      if (n > 0) {
        for (int i = 0; i < n; ++i) {
          const auto* b = rbufs[i].data();
          if (rm[i].msg_len == expect_len && (b[0] & 0xC0) == 0x80) ++r.received;
        }
        last_progress = Clock::now();
      } else if (Clock::now() - last_progress > std::chrono::milliseconds(50)) {
        // Nothing back for a while: what is in flight is lost; free the window.
        written_off = r.sent > r.received ? r.sent - r.received : 0;
        last_progress = Clock::now();
        if (r.sent >= chunk.size()) break;
      }
    }
    r.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
    // Late echoes of written-off packets: drain without extending the timed window.
    for (int i = 0; i < 5; ++i) {
      int n = ::recvmmsg(fd_, rm.data(), kSendBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) break;
      for (int j = 0; j < n; ++j)
        if (rm[j].msg_len == expect_len) ++r.received;
    }
    return r;
  }

  SrtpSession& srtp() { return *srtp_; }

 private:
  void SetRecvTimeoutMs(int ms) {
    timeval tv{ms / 1000, (ms % 1000) * 1000};
    (void)setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

  const Server& server_;
  int fd_ = -1;
  std::unique_ptr<DtlsTransport> dtls_;
  std::unique_ptr<SrtpSession> srtp_;
  std::vector<uint8_t> rbuf_ = std::vector<uint8_t>(65536);
};

// ---- Crypto only: the same per-packet crypto on SrtpSession, no sockets ----

class CryptoOnly {
 public:
  explicit CryptoOnly(SrtpProfile profile) {
    std::mt19937 rng(static_cast<uint32_t>(profile) + 7);
    SrtpKeys a, b;
    a.profile = b.profile = profile;
    for (size_t i = 0; i < SrtpKeySaltLength(profile); ++i) {
      a.local_key_salt.push_back(static_cast<uint8_t>(rng()));
      a.remote_key_salt.push_back(static_cast<uint8_t>(rng()));
    }
    b.local_key_salt = a.remote_key_salt;
    b.remote_key_salt = a.local_key_salt;
    auto c = SrtpSession::Create(a);
    auto s = SrtpSession::Create(b);
    if (!c.ok() || !s.ok()) Die("crypto-only sessions");
    client_ = std::move(c).value();
    server_ = std::move(s).value();
  }

  SrtpSession& client() { return *client_; }

  // Unprotects each packet of `chunk` (after copying it, as the socket read does), rewrites the
  // SSRC, copies it into a send buffer and protects it, as WebRtcTransport does. Returns the
  // thread CPU seconds spent.
  double Run(Chunk& chunk) {
    const double t0 = ThreadCpuSeconds();
    for (size_t i = 0; i < chunk.size(); ++i) {
      std::memcpy(rx_.data(), chunk.at(i), chunk.len[i]);
      auto n = server_->UnprotectRtp(rx_, chunk.len[i]);
      if (!n.ok() || *n != kPacketSize) Die("crypto-only unprotect: " + (n.ok() ? "size" : n.error().message));
      rx_[8] = static_cast<uint8_t>(kForwardSsrc >> 24);
      rx_[9] = static_cast<uint8_t>(kForwardSsrc >> 16);
      rx_[10] = static_cast<uint8_t>(kForwardSsrc >> 8);
      rx_[11] = static_cast<uint8_t>(kForwardSsrc);
      std::memcpy(tx_.data(), rx_.data(), *n);
      auto m = server_->ProtectRtp(tx_, *n);
      if (!m.ok()) Die("crypto-only protect: " + m.error().message);
    }
    return ThreadCpuSeconds() - t0;
  }

 private:
  std::unique_ptr<SrtpSession> client_, server_;
  std::vector<uint8_t> rx_ = std::vector<uint8_t>(2048), tx_ = std::vector<uint8_t>(2048);
};

struct Options {
  int rounds = 5;
  size_t packets = 40000;
  size_t window = 64;  // the default 208 KiB socket buffer holds ~90 such datagrams
  double max_seconds = 10;
  std::vector<SrtpProfile> suites = {SrtpProfile::kAeadAes128Gcm, SrtpProfile::kAes128CmHmacSha1_80};
};

void RunSuite(const Options& opt, SrtpProfile profile) {
  auto server_cert = Certificate::Generate();
  auto client_cert = Certificate::Generate();
  if (!server_cert.ok() || !client_cert.ok()) Die("certificate generation");
  Server server(*server_cert, (*client_cert)->fingerprint(), profile);
  Client client(server, *client_cert, (*server_cert)->fingerprint(), profile);
  client.Connect();
  if (client.srtp().profile() != profile) Die("negotiated another SRTP profile");

  CryptoOnly crypto(profile);
  Chunk chunk;
  uint32_t path_seq = 1, crypto_seq = 1;
  // Warm-up: both paths once, not counted.
  chunk.Fill(client.srtp(), 2000, &path_seq);
  (void)client.Blast(chunk, opt.window, opt.max_seconds);
  chunk.Fill(crypto.client(), 2000, &crypto_seq);
  (void)crypto.Run(chunk);

  double path_cpu = 0, path_sys = 0, path_wall = 0, crypto_cpu = 0;
  uint64_t processed = 0, sent = 0, received = 0, send_errors = 0, crypto_packets = 0;
  Sample first{}, last{};
  for (int r = 0; r < opt.rounds; ++r) {
    if (server.failed()) Die("server transport failed");
    client.SendCheck();  // consent freshness, as a browser keeps doing
    chunk.Fill(client.srtp(), opt.packets, &path_seq);
    const Sample a = server.Mark();
    auto res = client.Blast(chunk, opt.window, opt.max_seconds);
    const Sample b = server.Mark();
    if (r == 0) first = a;
    last = b;
    path_cpu += b.cpu_s - a.cpu_s;
    path_sys += b.sys_s - a.sys_s;
    processed += b.processed - a.processed;
    send_errors += b.send_errors - a.send_errors;
    path_wall += res.wall_s;
    sent += res.sent;
    received += res.received;

    chunk.Fill(crypto.client(), opt.packets, &crypto_seq);
    crypto_cpu += crypto.Run(chunk);
    crypto_packets += chunk.size();
  }
  if (processed == 0 || path_cpu <= 0 || crypto_cpu <= 0) Die("nothing was measured");

  const double path_pps = static_cast<double>(processed) / path_cpu;
  const double crypto_pps = static_cast<double>(crypto_packets) / crypto_cpu;
  const double wall_pps = static_cast<double>(received) / path_wall;
  const double loss =
      sent ? 100.0 * static_cast<double>(sent - std::min(sent, received)) / static_cast<double>(sent) : 0;
  std::printf("%s\n", SrtpProfileName(profile));
  std::printf("  crypto only (unprotect+protect)   %10.0f packets/s per core\n", crypto_pps);
  std::printf(
      "  full path (recv..send), server    %10.0f packets/s per core  (%.0f%% of a core busy, "
      "%.0f%% of it in the kernel)\n",
      path_pps, 100.0 * path_cpu / path_wall, 100.0 * std::min(path_sys, path_cpu) / path_cpu);
  std::printf("  full path, wall clock echoed      %10.0f packets/s  (%.2f Gbit/s each way)\n", wall_pps,
              wall_pps * kPacketSize * 8 / 1e9);
  std::printf("  sent %llu, echoed %llu, loss %.3f%%, server send errors %llu, srtp errors %llu\n",
              static_cast<unsigned long long>(sent), static_cast<unsigned long long>(received), loss,
              static_cast<unsigned long long>(send_errors),
              static_cast<unsigned long long>(last.srtp_errors - first.srtp_errors));
  std::printf("  ratio path / crypto-only:         %.2f\n", path_pps / crypto_pps);
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has = i + 1 < argc;
    if (a == "--rounds" && has) {
      opt.rounds = std::atoi(argv[++i]);
    } else if (a == "--packets" && has) {
      opt.packets = static_cast<size_t>(std::atol(argv[++i]));
    } else if (a == "--window" && has) {
      opt.window = static_cast<size_t>(std::atol(argv[++i]));
    } else if (a == "--max-seconds" && has) {
      opt.max_seconds = std::atof(argv[++i]);
    } else if (a == "--suite" && has) {
      std::string s = argv[++i];
      if (s == "gcm")
        opt.suites = {SrtpProfile::kAeadAes128Gcm};
      else if (s == "cm")
        opt.suites = {SrtpProfile::kAes128CmHmacSha1_80};
      else if (s != "both")
        a = "";
    } else {
      a = "";
    }
    if (a.empty()) {
      std::fprintf(stderr,
                   "usage: path_bench [--rounds N] [--packets P] [--window W] [--max-seconds S] "
                   "[--suite gcm|cm|both]\n");
      return 64;
    }
  }
  if (opt.rounds < 1 || opt.rounds > 100 || opt.packets < 1000 || opt.packets > 200000 || opt.window < 1 ||
      opt.window > 4096 || !(opt.max_seconds > 0 && opt.max_seconds <= 60)) {
    std::fprintf(stderr,
                 "path_bench: --rounds 1..100, --packets 1000..200000, --window 1..4096, "
                 "--max-seconds in (0, 60]\n");
    return 64;
  }
  std::printf(
      "path_bench: %zu-byte RTP packets over 127.0.0.1 UDP through RtcSockets+WebRtcTransport "
      "(recv -> unprotect -> parse -> SSRC rewrite -> protect -> send), %d rounds x %zu packets, "
      "window %zu; per core = per CPU second of the thread doing the work\n",
      kPacketSize, opt.rounds, opt.packets, opt.window);
  for (SrtpProfile p : opt.suites) RunSuite(opt, p);
  return 0;
}
