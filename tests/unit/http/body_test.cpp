// Large response bodies: plain HTTP/1.1 writes them to the socket itself (sendmsg, or sendfile
// for static files and Response::body_fd), TLS keeps libwebsockets' path. Every body is checked
// byte for byte, read slowly, pipelined on a keep-alive connection, and abandoned mid-way by
// other clients.
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "lib/base/time.hpp"
#include "lib/http/server.hpp"
#include "tests/unit/http/test_client.hpp"

using namespace collab::http;
using namespace collab::http::testing;

namespace {

// Bytes that differ at every offset, so a lost, doubled or reordered chunk shows.
std::string Pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s[i] = static_cast<char>(x);
  }
  return s;
}

// A sealed memfd holding bytes, as the stream packager keeps complete segments.
struct MemFile {
  int fd = -1;
  void* map = nullptr;
  size_t size = 0;
  explicit MemFile(const std::string& data) : size(data.size()) {
    fd = memfd_create("body-test", MFD_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()));
    map = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    REQUIRE(map != MAP_FAILED);
  }
  ~MemFile() {
    munmap(map, size);
    ::close(fd);
  }
  std::string_view bytes() const { return {static_cast<const char*>(map), size}; }
};

struct BodyHarness {
  uv_loop_t loop;
  std::unique_ptr<Server> server;
  TempDir dir;
  std::string mem = Pattern(5 << 20, 1);
  std::string file_bytes = Pattern((3 << 20) + 17, 2);
  std::shared_ptr<MemFile> shared = std::make_shared<MemFile>(Pattern((4 << 20) + 3, 3));
  static constexpr size_t kSliceOffset = 123457;
  static constexpr size_t kSliceSize = (2 << 20) + 5;

  explicit BodyHarness(ServerOptions opts = {}) {
    uv_loop_init(&loop);
    {
      std::ofstream f(dir.path + "/big.bin", std::ios::binary);
      f << file_bytes;
    }
    opts.static_dir = dir.path;
    auto s = Server::Start(&loop, opts);
    if (!s.ok()) FAIL("Start failed: " << s.error().message);
    server = std::move(*s);
    server->Route("GET", "/mem", [this](const Request&, Responder respond) {
      Response r;
      r.content_type = "application/octet-stream";
      r.body = mem;
      respond(std::move(r));
    });
    // The whole memfd, and a slice of it (body_fd_offset), with the bytes also in body_view.
    server->Route("GET", "/fd", [this](const Request&, Responder respond) {
      Response r;
      r.content_type = "video/mp4";
      r.body_owner = shared;
      r.body_view = shared->bytes();
      r.body_fd = shared->fd;
      respond(std::move(r));
    });
    server->Route("GET", "/fd-slice", [this](const Request&, Responder respond) {
      Response r;
      r.content_type = "video/mp4";
      r.body_owner = shared;
      r.body_view = shared->bytes().substr(kSliceOffset, kSliceSize);
      r.body_fd = shared->fd;
      r.body_fd_offset = kSliceOffset;
      respond(std::move(r));
    });
  }
  ~BodyHarness() {
    bool done = false;
    server->Shutdown([&] { done = true; });
    RunUntil(
        &loop, [&] { return done; }, 15000);
    server.reset();
    int64_t deadline = collab::base::MonotonicMs() + 5000;
    while (uv_run(&loop, UV_RUN_NOWAIT) != 0 && collab::base::MonotonicMs() < deadline) usleep(1000);
    CHECK(uv_loop_close(&loop) == 0);
  }
  int port() const { return server->port(); }
  std::string Expected(const std::string& path) const {
    if (path == "/mem") return mem;
    if (path == "/fd") return std::string(shared->bytes());
    if (path == "/fd-slice") return std::string(shared->bytes().substr(kSliceOffset, kSliceSize));
    return file_bytes;
  }
};

const char* const kPaths[] = {"/mem", "/fd", "/fd-slice", "/big.bin"};

// Reads one response whose body is read in small pieces with pauses, like a player on a slow link.
HttpResponse ReadSlowly(Conn& c, size_t piece, int pause_us) {
  std::string head;
  char buf[65536];
  while (head.find("\r\n\r\n") == std::string::npos) {
    int n = c.Read(buf, 1);
    if (n <= 0) return {};
    head.append(buf, static_cast<size_t>(n));
  }
  c.pending = head;
  HttpResponse r = ReadResponse(c, true);
  size_t len = static_cast<size_t>(std::stoull(r.Header("content-length")));
  r.body = c.pending;
  c.pending.clear();
  while (r.body.size() < len) {
    int n = c.Read(buf, std::min(piece, len - r.body.size()));
    if (n <= 0) break;
    r.body.append(buf, static_cast<size_t>(n));
    usleep(pause_us);
  }
  return r;
}

}  // namespace

TEST_CASE("Large bodies arrive intact: pipelined, HEAD, slow readers", "[http][server][body]") {
  BodyHarness h;
  // Every kind of body, pipelined on one keep-alive connection, with a HEAD between them.
  auto pipelined = WithLoop(&h.loop, [&] {
    Conn c;
    std::vector<HttpResponse> out;
    if (!c.Connect(h.port())) return out;
    std::string reqs;
    for (const char* p : kPaths) {
      reqs += BuildRequest("GET", p, {}, "", false);
      reqs += BuildRequest("HEAD", p, {}, "", false);
    }
    reqs += BuildRequest("GET", "/mem", {}, "", true);
    c.Write(reqs);
    for (const char* p : kPaths) {
      (void)p;
      out.push_back(ReadResponse(c));
      out.push_back(ReadResponse(c, true));
    }
    out.push_back(ReadResponse(c));
    return out;
  });
  REQUIRE(pipelined.size() == 9);
  for (size_t i = 0; i < 4; ++i) {
    const HttpResponse& get = pipelined[2 * i];
    const HttpResponse& head = pipelined[2 * i + 1];
    std::string want = h.Expected(kPaths[i]);
    INFO(kPaths[i]);
    CHECK(get.status == 200);
    CHECK(get.body.size() == want.size());
    CHECK(get.body == want);
    CHECK(head.status == 200);
    CHECK(head.Header("content-length") == std::to_string(want.size()));
    CHECK(head.body.empty());
  }
  CHECK(pipelined[8].body == h.mem);

  // A slow reader makes the server wait for the socket again and again.
  for (const char* p : {"/fd", "/mem", "/big.bin"}) {
    auto r = WithLoop(&h.loop, [&] {
      Conn c;
      if (!c.Connect(h.port())) return HttpResponse{};
      c.Write(BuildRequest("GET", p));
      return ReadSlowly(c, 16384, 300);
    });
    INFO(p);
    CHECK(r.status == 200);
    CHECK(r.body == h.Expected(p));
  }
  REQUIRE(RunUntil(&h.loop, [&] { return h.server->connection_count() == 0; }));
}

TEST_CASE("Many concurrent clients, some leaving mid-body, all others get intact bodies", "[http][server][body]") {
  BodyHarness h;
  constexpr int kClients = 12;
  auto results = WithLoop(&h.loop, [&] {
    std::vector<std::future<std::pair<std::string, bool>>> fs;
    for (int i = 0; i < kClients; ++i) {
      fs.push_back(std::async(std::launch::async, [&, i] {
        const char* p = kPaths[i % 4];
        Conn c;
        if (!c.Connect(h.port())) return std::make_pair(std::string(p), false);
        if (i % 3 == 2) {
          // Leaves after the first few bytes, or right after asking.
          c.Write(BuildRequest("GET", p, {}, "", false));
          char buf[4096];
          if (i % 2) c.Read(buf, sizeof(buf));
          c.Close();
          return std::make_pair(std::string("gone"), true);
        }
        bool ok = true;
        for (int round = 0; round < 2 && ok; ++round) {
          c.Write(BuildRequest("GET", p, {}, "", round == 1));
          HttpResponse r = round == 0 ? ReadSlowly(c, 65536, 50) : ReadResponse(c);
          ok = r.status == 200 && r.body == h.Expected(p);
        }
        return std::make_pair(std::string(p), ok);
      }));
    }
    std::vector<std::pair<std::string, bool>> out;
    for (auto& f : fs) out.push_back(f.get());
    return out;
  });
  REQUIRE(results.size() == kClients);
  for (const auto& [what, ok] : results) {
    INFO(what);
    CHECK(ok);
  }
  REQUIRE(RunUntil(&h.loop, [&] { return h.server->connection_count() == 0; }));
  // And the server still serves.
  auto after = WithLoop(&h.loop, [&] { return Fetch(h.port(), "GET", "/fd-slice"); });
  CHECK(after.body == h.Expected("/fd-slice"));
}

TEST_CASE("Over TLS the same bodies arrive intact (libwebsockets path)", "[http][server][body][tls]") {
  TempDir certs;
  MakeSelfSignedCert(certs.path, "srv", "localhost");
  ServerOptions opts;
  opts.tls_cert = certs.path + "/srv.crt";
  opts.tls_key = certs.path + "/srv.key";
  BodyHarness h(opts);
  for (const char* p : kPaths) {
    auto r = WithLoop(&h.loop, [&] { return Fetch(h.port(), "GET", p, {}, "", true); });
    INFO(p);
    CHECK(r.status == 200);
    CHECK(r.body == h.Expected(p));
  }
  // Plain HTTP on the TLS port takes the direct path.
  auto plain = WithLoop(&h.loop, [&] { return Fetch(h.port(), "GET", "/fd-slice"); });
  CHECK(plain.body == h.Expected("/fd-slice"));
}
