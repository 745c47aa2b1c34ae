// Server tests: the server runs on a uv loop in the test thread and a blocking client runs on a
// second thread (WithLoop), so every exchange goes through real sockets on 127.0.0.1.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <thread>

#include "lib/base/time.hpp"
#include "lib/http/server.hpp"
#include "tests/unit/http/test_client.hpp"

using namespace collab::http;
using namespace collab::http::testing;
using collab::base::Json;

namespace {

struct Harness {
  uv_loop_t loop;
  std::unique_ptr<Server> server;
  bool closed = false;

  explicit Harness(const ServerOptions& opts = {}) {
    uv_loop_init(&loop);
    auto s = Server::Start(&loop, opts);
    if (!s.ok()) FAIL("Start failed: " << s.error().message);
    server = std::move(*s);
  }
  ~Harness() {
    if (!closed) Stop();
  }
  int port() const { return server->port(); }

  // Shuts the server down and closes the loop; true when both went cleanly.
  bool Stop() {
    closed = true;
    bool done = false;
    bool ok = true;
    if (server) {
      server->Shutdown([&] { done = true; });
      ok = RunUntil(
          &loop, [&] { return done; }, 15000);
      server.reset();
    }
    if (!ok) WARN("Shutdown did not call done");
    return DrainAndClose(&loop) && ok;
  }

  static bool DrainAndClose(uv_loop_t* loop) {
    int64_t deadline = collab::base::MonotonicMs() + 5000;
    while (uv_run(loop, UV_RUN_NOWAIT) != 0 && collab::base::MonotonicMs() < deadline) usleep(1000);
    int rc = uv_loop_close(loop);
    if (rc != 0) {
      WARN("uv_loop_close: " << uv_strerror(rc));
      uv_walk(
          loop,
          [](uv_handle_t* h, void*) {
            fprintf(stderr, "open handle: %s active=%d closing=%d\n", uv_handle_type_name(h->type), uv_is_active(h),
                    uv_is_closing(h));
          },
          nullptr);
    }
    return rc == 0;
  }
};

void AddApiRoutes(Server& s) {
  s.Route("GET", "/api/v1/ping", [](const Request& req, Responder respond) {
    respond(Response::Json(200, Json::Obj({{"pong", true}, {"tls", req.tls}})));
  });
  s.Route("POST", "/api/v1/echo", [](const Request& req, Responder respond) {
    auto body = req.JsonBody();
    if (!body.ok()) return respond(Response::FromError(body.error()));
    respond(Response::Json(200, Json::Obj({{"got", *body},
                                           {"ua", req.Header("user-agent")},
                                           {"rid", req.Header("x-request-id")},
                                           {"auth", req.Header("authorization")}})));
  });
  s.Route("POST", "/api/v1/raw", [](const Request& req, Responder respond) {
    Response r;
    r.content_type = "application/octet-stream";
    r.body = req.body;
    respond(std::move(r));
  });
  s.Route("GET", "/api/v1/rooms/{id}/messages/{msg}", [](const Request& req, Responder respond) {
    respond(Response::Json(200, Json::Obj({{"id", req.params.at("id")},
                                           {"msg", req.params.at("msg")},
                                           {"q", req.QueryParam("q")},
                                           {"n", req.QueryParam("n")},
                                           {"path", req.path},
                                           {"peer", req.peer_ip}})));
  });
}

Json BodyJson(const HttpResponse& r) {
  auto j = Json::Parse(r.body);
  return j.ok() ? *j : Json();
}

void CheckSecurityHeaders(const HttpResponse& r) {
  CHECK(r.Header("x-content-type-options") == "nosniff");
  CHECK(r.Header("referrer-policy") == "no-referrer");
  CHECK(r.Header("x-frame-options") == "DENY");
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary);
  f << data;
}

}  // namespace

TEST_CASE("JSON GET and POST routes", "[http][server]") {
  Harness h;
  AddApiRoutes(*h.server);
  REQUIRE(h.port() > 0);
  auto get = WithLoop(&h.loop, [&] { return Fetch(h.port(), "GET", "/api/v1/ping"); });
  REQUIRE(get.status == 200);
  CHECK(get.Header("content-type") == "application/json");
  CHECK(get.Header("cache-control") == "no-store");
  CHECK_FALSE(get.HasHeader("strict-transport-security"));
  CheckSecurityHeaders(get);
  CHECK(BodyJson(get).GetBool("pong"));
  CHECK_FALSE(BodyJson(get).GetBool("tls", true));

  auto post = WithLoop(&h.loop, [&] {
    return Fetch(h.port(), "POST", "/api/v1/echo",
                 {{"Content-Type", "application/json"},
                  {"User-Agent", "t/1"},
                  {"X-Request-Id", "r-42"},
                  {"Authorization", "Bearer abc"}},
                 R"({"text":"こんにちは","n":[1,2]})");
  });
  REQUIRE(post.status == 200);
  Json got = BodyJson(post);
  CHECK(got.Find("got")->GetString("text") == "こんにちは");
  CHECK(got.GetString("ua") == "t/1");
  CHECK(got.GetString("rid") == "r-42");
  CHECK(got.GetString("auth") == "Bearer abc");

  // Keep-alive: several requests on one connection, including a body with Expect: 100-continue.
  auto results = WithLoop(&h.loop, [&] {
    std::vector<int> statuses;
    Conn c;
    if (!c.Connect(h.port())) return statuses;
    for (int i = 0; i < 3; ++i) {
      c.Write(BuildRequest("GET", "/api/v1/ping", {}, "", false));
      statuses.push_back(ReadResponse(c).status);
    }
    std::string body = R"({"k":1})";
    c.Write(
        "POST /api/v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
        "Content-Length: " +
        std::to_string(body.size()) + "\r\n\r\n");
    char buf[64] = {0};
    int n = c.Read(buf, sizeof(buf) - 1);
    statuses.push_back(n > 12 ? std::atoi(buf + 9) : 0);
    c.Write(body);
    statuses.push_back(ReadResponse(c).status);
    return statuses;
  });
  CHECK(results == std::vector<int>{200, 200, 200, 100, 200});
  CHECK(h.Stop());
}

TEST_CASE("Route params, query strings and percent-decoding", "[http][server]") {
  Harness h;
  AddApiRoutes(*h.server);
  auto r = WithLoop(&h.loop, [&] {
    return Fetch(h.port(), "GET", "/api/v1/rooms/%E6%97%A5%E6%9C%AC/messages/7?q=a%20b+c&n=1&x=%26");
  });
  REQUIRE(r.status == 200);
  Json j = BodyJson(r);
  CHECK(j.GetString("id") == "日本");
  CHECK(j.GetString("msg") == "7");
  CHECK(j.GetString("q") == "a b c");
  CHECK(j.GetString("n") == "1");
  CHECK(j.GetString("peer") == "127.0.0.1");
  CHECK(j.GetString("path") == "/api/v1/rooms/日本/messages/7");

  // Bad percent-escapes never reach a handler.
  auto bad = WithLoop(&h.loop, [&] { return Fetch(h.port(), "GET", "/api/v1/rooms/%zz/messages/1"); });
  CHECK(bad.status != 200);
  auto bad_q = WithLoop(&h.loop, [&] { return Fetch(h.port(), "GET", "/api/v1/rooms/1/messages/1?q=%G0"); });
  CHECK(bad_q.status != 200);
  auto nul = WithLoop(&h.loop, [&] { return Fetch(h.port(), "GET", "/api/v1/rooms/a%00b/messages/1"); });
  CHECK(nul.status != 200);
  // And the server is fine afterwards.
  auto ok = WithLoop(&h.loop, [&] { return Fetch(h.port(), "GET", "/api/v1/ping"); });
  CHECK(ok.status == 200);
  CHECK(h.Stop());
}

TEST_CASE("Unknown paths get 404 and wrong methods 405", "[http][server]") {
  Harness h;
  AddApiRoutes(*h.server);
  auto nf = WithLoop(&h.loop, [&] { return Fetch(h.port(), "GET", "/nope"); });
  REQUIRE(nf.status == 404);
  CHECK(nf.Header("content-type") == "application/json");
  CheckSecurityHeaders(nf);
  CHECK(BodyJson(nf).Find("error")->GetString("code") == "not_found");
  CHECK(BodyJson(nf).Find("error")->GetInt("status") == 404);

  auto na = WithLoop(&h.loop, [&] { return Fetch(h.port(), "DELETE", "/api/v1/ping"); });
  REQUIRE(na.status == 405);
  CHECK(na.Header("allow") == "GET, HEAD, OPTIONS");
  CHECK(BodyJson(na).Find("error")->GetString("code") == "method_not_allowed");

  auto head = WithLoop(&h.loop, [&] { return Fetch(h.port(), "HEAD", "/api/v1/ping"); });
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(std::atoi(head.Header("content-length").c_str()) > 0);

  auto opts = WithLoop(&h.loop, [&] { return Fetch(h.port(), "OPTIONS", "/api/v1/echo"); });
  CHECK(opts.status == 204);
  CHECK(opts.Header("allow") == "OPTIONS, POST");
  CHECK(h.Stop());
}

TEST_CASE("Bodies over the limit get 413 and the server keeps serving", "[http][server]") {
  ServerOptions o;
  o.max_body_bytes = 1024;
  Harness h(o);
  AddApiRoutes(*h.server);

  // Content-Length over the limit: answered before any body byte is sent. The body is then
  // read and dropped (a browser that keeps uploading must not get a reset instead of the 413),
  // after which the connection is still good.
  auto big = WithLoop(&h.loop, [&] {
    std::vector<int> out;
    Conn c;
    c.Connect(h.port());
    c.Write(
        "POST /api/v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n");
    HttpResponse r = ReadResponse(c);
    out.push_back(r.status);
    out.push_back(r.Header("connection") == "close");
    out.push_back(BodyJson(r).Find("error") ? BodyJson(r).Find("error")->GetString("code") == "payload_too_large" : 0);
    c.Write(std::string(100000, 'x'));
    c.Write(BuildRequest("GET", "/api/v1/ping", {}, "", false));
    out.push_back(ReadResponse(c).status);
    return out;
  });
  CHECK(big == std::vector<int>{413, 0, 1, 200});

  // Far over the limit: answered, then the connection is closed without reading.
  auto huge = WithLoop(&h.loop, [&] {
    Conn c;
    c.Connect(h.port());
    c.Write("POST /api/v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n");
    HttpResponse r = ReadResponse(c);
    char buf[16];
    int after = c.Read(buf, sizeof(buf));
    return std::make_pair(r, after);
  });
  CHECK(huge.first.status == 413);
  CHECK(huge.first.Header("connection") == "close");
  CHECK(huge.second == 0);

  // A chunked body growing past the limit.
  auto chunked = WithLoop(&h.loop, [&] {
    Conn c;
    c.Connect(h.port());
    c.Write(
        "POST /api/v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n");
    std::string chunk(600, ' ');
    for (int i = 0; i < 3; ++i) {
      char len[16];
      snprintf(len, sizeof(len), "%zx\r\n", chunk.size());
      if (!c.Write(std::string(len) + chunk + "\r\n")) break;
    }
    return ReadResponse(c);
  });
  CHECK(chunked.status == 413);

  // A chunked body within the limit works.
  auto small = WithLoop(&h.loop, [&] {
    Conn c;
    c.Connect(h.port());
    c.Write(
        "POST /api/v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n");
    return ReadResponse(c);
  });
  REQUIRE(small.status == 200);
  CHECK(BodyJson(small).Find("got")->GetInt("a") == 1);

  // Bad framing and a bad Content-Length are 400s.
  auto bad_chunks = WithLoop(&h.loop, [&] {
    Conn c;
    c.Connect(h.port());
    c.Write("POST /api/v1/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    return ReadResponse(c);
  });
  CHECK(bad_chunks.status == 400);
  auto bad_cl = WithLoop(&h.loop, [&] {
    return Fetch(h.port(), "POST", "/api/v1/echo", {{"Content-Length", "12abc"}}, "");
  });
  CHECK(bad_cl.status == 400);
  auto smuggle = WithLoop(&h.loop, [&] {
    return Fetch(h.port(), "POST", "/api/v1/echo", {{"Content-Length", "4"}, {"Transfer-Encoding", "chunked"}}, "");
  });
  CHECK(smuggle.status == 400);

  // POST without any length has an empty body.
  auto nolen = WithLoop(&h.loop, [&] {
    Conn c;
    c.Connect(h.port());
    c.Write("POST /api/v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n");
    return ReadResponse(c);
  });
  CHECK(nolen.status == 400);  // empty body is not JSON

  auto ok = WithLoop(&h.loop, [&] {
    return Fetch(h.port(), "POST", "/api/v1/echo", {{"Content-Type", "application/json"}}, std::string("[1]"));
  });
  CHECK(ok.status == 200);
  CHECK(h.Stop());
}

TEST_CASE("Malformed JSON and wrong content types are 400", "[http][server]") {
  Harness h;
  AddApiRoutes(*h.server);
  auto bad = WithLoop(&h.loop, [&] {
    return Fetch(h.port(), "POST", "/api/v1/echo", {{"Content-Type", "application/json"}}, "{\"a\":");
  });
  REQUIRE(bad.status == 400);
  CHECK(BodyJson(bad).Find("error")->GetString("code") == "bad_request");
  auto type = WithLoop(&h.loop, [&] {
    return Fetch(h.port(), "POST", "/api/v1/echo", {{"Content-Type", "text/plain"}}, "{}");
  });
  CHECK(type.status == 400);
  CHECK(h.Stop());
}

TEST_CASE("A throwing handler gets 500 and the server stays up", "[http][server]") {
  Harness h;
  AddApiRoutes(*h.server);
  h.server->Route("GET", "/boom", [](const Request&, Responder) { throw std::runtime_error("kaboom"); });
  h.server->Route("GET", "/boom2", [](const Request&, Responder) { throw 42; });
  auto a = WithLoop(&h.loop, [&] { return Fetch(h.port(), "GET", "/boom"); });
  CHECK(a.status == 500);
  CHECK(a.body.find("kaboom") == std::string::npos);
  auto b = WithLoop(&h.loop, [&] { return Fetch(h.port(), "GET", "/boom2"); });
  CHECK(b.status == 500);
  auto c = WithLoop(&h.loop, [&] { return Fetch(h.port(), "GET", "/api/v1/ping"); });
  CHECK(c.status == 200);
  CHECK(h.Stop());
}

TEST_CASE("Asynchronous responders", "[http][server]") {
  Harness h;
  struct Later {
    uv_timer_t timer;
    Responder respond;
    int calls = 0;
  };
  std::vector<std::unique_ptr<Later>> pending;
  h.server->Route("GET", "/slow", [&](const Request& req, Responder respond) {
    auto l = std::make_unique<Later>();
    l->respond = respond;
    uv_timer_init(&h.loop, &l->timer);
    l->timer.data = l.get();
    uv_timer_start(
        &l->timer,
        [](uv_timer_t* t) {
          auto* later = static_cast<Later*>(t->data);
          later->respond(Response::Text(200, "late"));
          later->respond(Response::Text(500, "second call is ignored"));
          ++later->calls;
        },
        50, 0);
    pending.push_back(std::move(l));
  });
  auto r = WithLoop(&h.loop, [&] { return Fetch(h.port(), "GET", "/slow"); });
  CHECK(r.status == 200);
  CHECK(r.body == "late");

  // The client goes away before the answer: the responder becomes a no-op.
  WithLoop(&h.loop, [&] {
    Conn c;
    c.Connect(h.port());
    c.Write(BuildRequest("GET", "/slow"));
    c.Close();
    return 0;
  });
  REQUIRE(RunUntil(&h.loop, [&] { return pending.size() == 2 && pending[1]->calls == 1; }));
  auto again = WithLoop(&h.loop, [&] { return Fetch(h.port(), "GET", "/slow"); });
  CHECK(again.status == 200);
  for (auto& l : pending) uv_close(reinterpret_cast<uv_handle_t*>(&l->timer), nullptr);
  CHECK(h.Stop());
  // A responder kept past the server's life is still harmless.
  pending[0]->respond(Response::Text(200, "after shutdown"));
}

TEST_CASE("Static files: types, index, traversal, conditional requests", "[http][server]") {
  TempDir dir;
  std::string root = dir.path + "/web";
  std::filesystem::create_directories(root + "/sub");
  std::filesystem::create_directories(root + "/.git");
  WriteFile(root + "/index.html", "<!doctype html><title>collab</title>");
  WriteFile(root + "/app.js", "export const x = 1;\n");
  WriteFile(root + "/style.css", "body{}");
  WriteFile(root + "/data.json", "{}");
  WriteFile(root + "/logo.svg", "<svg/>");
  WriteFile(root + "/m.wasm", std::string("\0asm", 4));
  WriteFile(root + "/sub/index.html", "sub index");
  WriteFile(root + "/.git/config", "secret");
  WriteFile(dir.path + "/outside.txt", "outside");
  std::string big(300 * 1024, 'x');
  for (size_t i = 0; i < big.size(); i += 97) big[i] = static_cast<char>('a' + i % 26);
  WriteFile(root + "/big.txt", big);
  REQUIRE(symlink((dir.path + "/outside.txt").c_str(), (root + "/link.txt").c_str()) == 0);

  ServerOptions o;
  o.static_dir = root;
  Harness h(o);
  AddApiRoutes(*h.server);
  int port = h.port();

  auto index = WithLoop(&h.loop, [&] { return Fetch(port, "GET", "/"); });
  REQUIRE(index.status == 200);
  CHECK(index.body == "<!doctype html><title>collab</title>");
  CHECK(index.Header("content-type") == "text/html; charset=utf-8");
  CHECK(index.Header("cache-control") == "no-cache");
  CheckSecurityHeaders(index);
  std::string etag = index.Header("etag");
  CHECK_FALSE(etag.empty());
  CHECK_FALSE(index.Header("last-modified").empty());

  struct TypeCase {
    const char* path;
    const char* type;
  };
  for (auto tc : {TypeCase{"/app.js", "text/javascript; charset=utf-8"},
                  TypeCase{"/style.css", "text/css; charset=utf-8"}, TypeCase{"/data.json", "application/json"},
                  TypeCase{"/logo.svg", "image/svg+xml"}, TypeCase{"/m.wasm", "application/wasm"}}) {
    auto r = WithLoop(&h.loop, [&] { return Fetch(port, "GET", tc.path); });
    CHECK(r.status == 200);
    CHECK(r.Header("content-type") == tc.type);
  }
  auto wasm = WithLoop(&h.loop, [&] { return Fetch(port, "GET", "/m.wasm"); });
  CHECK(wasm.body == std::string("\0asm", 4));
  CHECK(wasm.Header("cache-control") == "public, max-age=3600");

  auto large = WithLoop(&h.loop, [&] { return Fetch(port, "GET", "/big.txt"); });
  CHECK(large.status == 200);
  CHECK(large.body == big);

  auto redirect = WithLoop(&h.loop, [&] { return Fetch(port, "GET", "/sub?x=1"); });
  CHECK(redirect.status == 308);
  CHECK(redirect.Header("location") == "/sub/?x=1");
  auto sub = WithLoop(&h.loop, [&] { return Fetch(port, "GET", "/sub/"); });
  CHECK(sub.status == 200);
  CHECK(sub.body == "sub index");

  for (const char* evil : {"/../outside.txt", "/sub/../../outside.txt", "/%2e%2e/outside.txt", "/.git/config",
                           "/link.txt", "/..%2foutside.txt", "/sub/%2e%2e/%2e%2e/outside.txt"}) {
    auto r = WithLoop(&h.loop, [&] { return Fetch(port, "GET", evil); });
    INFO(evil);
    CHECK((r.status == 404 || r.status == 400 || r.status == 403));
    CHECK(r.body.find("outside") == std::string::npos);
    CHECK(r.body.find("secret") == std::string::npos);
  }

  auto cached = WithLoop(&h.loop, [&] { return Fetch(port, "GET", "/", {{"If-None-Match", etag}}); });
  CHECK(cached.status == 304);
  CHECK(cached.body.empty());
  CHECK(cached.Header("etag") == etag);
  auto changed = WithLoop(&h.loop, [&] { return Fetch(port, "GET", "/", {{"If-None-Match", "\"other\""}}); });
  CHECK(changed.status == 200);
  auto ims = WithLoop(&h.loop, [&] {
    return Fetch(port, "GET", "/app.js", {{"If-Modified-Since", index.Header("last-modified")}});
  });
  CHECK(ims.status == 304);
  auto old = WithLoop(&h.loop, [&] {
    return Fetch(port, "GET", "/app.js", {{"If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT"}});
  });
  CHECK(old.status == 200);

  auto head = WithLoop(&h.loop, [&] { return Fetch(port, "HEAD", "/app.js"); });
  CHECK(head.status == 200);
  CHECK(head.Header("content-length") == "20");
  CHECK(head.body.empty());

  auto post = WithLoop(&h.loop, [&] { return Fetch(port, "POST", "/app.js", {}, "x"); });
  CHECK(post.status == 405);
  auto missing = WithLoop(&h.loop, [&] { return Fetch(port, "GET", "/missing.js"); });
  CHECK(missing.status == 404);
  CHECK(missing.Header("content-type") == "application/json");
  // Routes still win over files.
  auto api = WithLoop(&h.loop, [&] { return Fetch(port, "GET", "/api/v1/ping"); });
  CHECK(api.status == 200);
  CHECK(h.Stop());
}

TEST_CASE("CORS for configured origins", "[http][server]") {
  ServerOptions o;
  o.cors_origins = {"https://app.example"};
  Harness h(o);
  AddApiRoutes(*h.server);
  auto pre = WithLoop(&h.loop, [&] {
    return Fetch(h.port(), "OPTIONS", "/api/v1/echo",
                 {{"Origin", "https://app.example"},
                  {"Access-Control-Request-Method", "POST"},
                  {"Access-Control-Request-Headers", "authorization, content-type"}});
  });
  REQUIRE(pre.status == 204);
  CHECK(pre.Header("access-control-allow-origin") == "https://app.example");
  CHECK(pre.Header("access-control-allow-methods").find("POST") != std::string::npos);
  CHECK(pre.Header("access-control-allow-headers") == "Authorization, Content-Type");
  CHECK(pre.Header("access-control-max-age") == "600");
  CHECK(pre.Header("vary") == "Origin");
  CHECK_FALSE(pre.HasHeader("access-control-allow-credentials"));

  auto get = WithLoop(&h.loop, [&] {
    return Fetch(h.port(), "GET", "/api/v1/ping", {{"Origin", "https://app.example"}});
  });
  CHECK(get.status == 200);
  CHECK(get.Header("access-control-allow-origin") == "https://app.example");
  CHECK(get.Header("vary") == "Origin");

  auto other = WithLoop(&h.loop, [&] {
    return Fetch(h.port(), "GET", "/api/v1/ping", {{"Origin", "https://evil.example"}});
  });
  CHECK(other.status == 200);
  CHECK_FALSE(other.HasHeader("access-control-allow-origin"));
  auto other_pre = WithLoop(&h.loop, [&] {
    return Fetch(h.port(), "OPTIONS", "/api/v1/echo",
                 {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}});
  });
  CHECK(other_pre.status == 403);
  CHECK_FALSE(other_pre.HasHeader("access-control-allow-origin"));
  CHECK(h.Stop());

  ServerOptions any;
  any.cors_origins = {"*"};
  Harness h2(any);
  AddApiRoutes(*h2.server);
  auto star = WithLoop(&h2.loop, [&] {
    return Fetch(h2.port(), "GET", "/api/v1/ping", {{"Origin", "http://x.example"}});
  });
  CHECK(star.Header("access-control-allow-origin") == "*");
  CHECK(h2.Stop());
}

namespace {

struct WsCounters {
  int opened = 0, closed = 0, messages = 0;
};

void AddEcho(Server& s, WsCounters* counters, const std::string& path = "/ws/echo", const std::string& sub = "") {
  WebSocketHandlers hs;
  hs.subprotocol = sub;
  hs.on_open = [counters](std::shared_ptr<WebSocket> ws) {
    ++counters->opened;
    ws->user_data() = std::string("hello ") + ws->request().QueryParam("name");
    ws->Send(std::any_cast<std::string>(ws->user_data()));
  };
  hs.on_message = [counters](std::shared_ptr<WebSocket> ws, std::string_view msg, bool binary) {
    ++counters->messages;
    if (msg == "close-me") return ws->Close(4000, "asked to");
    if (binary) {
      ws->SendBinary(msg);
    } else {
      ws->Send(msg);
    }
  };
  hs.on_close = [counters](std::shared_ptr<WebSocket> ws) {
    ++counters->closed;
    CHECK_FALSE(ws->is_open());
    ws->Send("ignored after close");
  };
  s.WebSocketRoute(path, std::move(hs));
}

}  // namespace

TEST_CASE("WebSocket echo with fragments and binary", "[http][server][ws]") {
  Harness h;
  WsCounters counters;
  AddEcho(*h.server, &counters);
  std::string big(100 * 1024, 'q');
  struct Result {
    int status = 0;
    std::vector<WsFrame> frames;
    int close_code = 0;
  };
  auto r = WithLoop(&h.loop, [&] {
    Result out;
    WsClient ws;
    out.status = ws.Connect(h.port(), "/ws/echo?name=%E5%A4%AA%E9%83%8E");
    if (out.status != 101) return out;
    out.frames.push_back(ws.Read());  // greeting
    ws.Send("hi");
    out.frames.push_back(ws.Read());
    ws.Send("frag-mented-message", false, 3);
    out.frames.push_back(ws.Read());
    ws.Send(std::string("\x00\x01\xff", 3), true);
    out.frames.push_back(ws.Read());
    ws.Send(big, false, 4);
    out.frames.push_back(ws.Read());
    ws.Send("close-me");
    WsFrame close = ws.Read();
    out.close_code = close.close_code();
    return out;
  });
  REQUIRE(r.status == 101);
  REQUIRE(r.frames.size() == 5);
  CHECK(r.frames[0].payload == "hello 太郎");
  CHECK(r.frames[1].payload == "hi");
  CHECK(r.frames[1].opcode == 1);
  CHECK(r.frames[2].payload == "frag-mented-message");
  CHECK(r.frames[3].opcode == 2);
  CHECK(r.frames[3].payload == std::string("\x00\x01\xff", 3));
  CHECK(r.frames[4].payload == big);
  CHECK(r.close_code == 4000);
  REQUIRE(RunUntil(&h.loop, [&] { return counters.closed == 1; }));
  CHECK(counters.opened == 1);
  CHECK(counters.messages == 5);
  CHECK(h.server->websocket_count() == 0);

  // Client-initiated close and abrupt disconnects both end in on_close.
  WithLoop(&h.loop, [&] {
    WsClient a;
    a.Connect(h.port(), "/ws/echo");
    a.Read();
    a.SendClose(1000);
    a.Read();
    WsClient b;
    b.Connect(h.port(), "/ws/echo");
    b.Read();
    b.conn().Close();
    return 0;
  });
  REQUIRE(RunUntil(&h.loop, [&] { return counters.closed == 3; }));

  // Unknown WebSocket paths are refused with an HTTP error.
  auto unknown = WithLoop(&h.loop, [&] {
    WsClient c;
    return c.Connect(h.port(), "/ws/nope");
  });
  CHECK(unknown == 404);
  CHECK(h.Stop());
}

TEST_CASE("WebSocket messages over the limit close with 1009", "[http][server][ws]") {
  ServerOptions o;
  o.max_ws_message_bytes = 1000;
  Harness h(o);
  WsCounters counters;
  AddEcho(*h.server, &counters);
  auto codes = WithLoop(&h.loop, [&] {
    std::vector<int> out;
    for (int fragments : {1, 5}) {
      WsClient ws;
      if (ws.Connect(h.port(), "/ws/echo") != 101) return out;
      ws.Read();
      ws.Send(std::string(999, 'a'));
      out.push_back(static_cast<int>(ws.Read().payload.size()));
      ws.Send(std::string(2000, 'b'), false, fragments);
      out.push_back(ws.Read().close_code());
    }
    return out;
  });
  CHECK(codes == std::vector<int>{999, 1009, 999, 1009});
  REQUIRE(RunUntil(&h.loop, [&] { return counters.closed == 2; }));
  CHECK(h.Stop());
}

TEST_CASE("A WebSocket whose client does not keep up is closed with 1008", "[http][server][ws]") {
  ServerOptions o;
  o.max_ws_queue_bytes = 1 << 20;
  Harness h(o);
  int closed = 0;
  size_t buffered_seen = 0;
  WebSocketHandlers hs;
  hs.on_message = [&](std::shared_ptr<WebSocket> ws, std::string_view, bool) {
    // 32 MiB in one go: more than the loopback socket buffers of both ends take, so whatever
    // the kernel absorbs, the rest piles up in the send queue.
    std::string chunk(64 * 1024, 'f');
    for (int i = 0; i < 512 && ws->is_open(); ++i) {
      ws->Send(chunk);
      buffered_seen = std::max(buffered_seen, ws->buffered_amount());
    }
  };
  hs.on_close = [&](std::shared_ptr<WebSocket>) { ++closed; };
  h.server->WebSocketRoute("/ws/flood", std::move(hs));
  auto code = WithLoop(&h.loop, [&] {
    WsClient ws;
    if (ws.Connect(h.port(), "/ws/flood") != 101) return -1;
    ws.Send("go");
    for (int i = 0; i < 600; ++i) {
      WsFrame f = ws.Read();
      if (f.opcode == 8) return f.close_code();
      if (f.opcode < 0) return -2;
    }
    return -3;
  });
  CHECK(code == 1008);
  CHECK(buffered_seen > 512 * 1024);
  CHECK(buffered_seen <= (1u << 20));
  REQUIRE(RunUntil(&h.loop, [&] { return closed == 1; }));
  CHECK(h.Stop());
}

TEST_CASE("WebSocket subprotocols and route params", "[http][server][ws]") {
  Harness h;
  WsCounters c1, c2;
  AddEcho(*h.server, &c1, "/ws/rooms/{room}", "collab.v1");
  AddEcho(*h.server, &c2, "/ws/plain");
  auto r = WithLoop(&h.loop, [&] {
    std::vector<std::string> out;
    WsClient a;
    out.push_back(std::to_string(a.Connect(h.port(), "/ws/rooms/42", false, "other, collab.v1")));
    out.push_back(a.handshake().Header("sec-websocket-protocol"));
    out.push_back(a.Read().payload);
    WsClient b;
    out.push_back(std::to_string(b.Connect(h.port(), "/ws/rooms/42")));
    WsClient c;
    out.push_back(std::to_string(c.Connect(h.port(), "/ws/plain")));
    out.push_back(c.handshake().Header("sec-websocket-protocol"));
    return out;
  });
  CHECK(r == std::vector<std::string>{"101", "collab.v1", "hello ", "400", "101", ""});
  CHECK(h.Stop());
}

TEST_CASE("Garbage, partial requests and abrupt disconnects do not hurt", "[http][server]") {
  Harness h;
  AddApiRoutes(*h.server);
  std::string big(2 * 1024 * 1024, 'z');
  h.server->Route("GET", "/big", [&](const Request&, Responder respond) { respond(Response::Text(200, big)); });
  WithLoop(&h.loop, [&] {
    std::mt19937 rng(7);
    for (int i = 0; i < 20; ++i) {
      Conn c;
      if (!c.Connect(h.port())) continue;
      std::string junk(1 + rng() % 4000, '\0');
      for (char& ch : junk) ch = static_cast<char>(rng());
      c.Write(junk);
      char buf[256];
      c.Read(buf, sizeof(buf));
    }
    for (const char* junk :
         {"GARBAGE\r\n\r\n", "GET\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "GET http://evil/ HTTP/1.1\r\nHost: x\r\n\r\n",
          "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
          "BREW /pot HTTP/1.1\r\n\r\n"}) {
      Conn c;
      if (!c.Connect(h.port())) continue;
      c.Write(junk);
      char buf[256];
      c.Read(buf, sizeof(buf));
    }
    // A header far over the header buffer.
    Conn huge;
    if (huge.Connect(h.port())) {
      huge.Write("GET /api/v1/ping HTTP/1.1\r\nX-Big: " + std::string(100000, 'h') + "\r\n\r\n");
      char buf[256];
      huge.Read(buf, sizeof(buf));
    }
    // Partial request lines and headers, then gone.
    for (int i = 0; i < 5; ++i) {
      Conn c;
      if (c.Connect(h.port())) c.Write("GET /api/v1/pi");
    }
    // A big response abandoned after a few bytes.
    Conn partial;
    if (partial.Connect(h.port())) {
      partial.Write(BuildRequest("GET", "/big"));
      char buf[100];
      partial.Read(buf, sizeof(buf));
    }
    return 0;
  });
  // Plain-text HTTP/2 (h2c) upgrades are refused with an answer, not a hang.
  auto h2c = WithLoop(&h.loop, [&] {
    return Fetch(h.port(), "GET", "/api/v1/ping",
                 {{"Connection", "Upgrade, HTTP2-Settings"},
                  {"Upgrade", "h2c"},
                  {"HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA"}});
  });
  CHECK(h2c.status == 400);
  CHECK(h2c.body.find("TLS") != std::string::npos);
  auto ok = WithLoop(&h.loop, [&] { return Fetch(h.port(), "GET", "/api/v1/ping"); });
  CHECK(ok.status == 200);
  auto full = WithLoop(&h.loop, [&] { return Fetch(h.port(), "GET", "/big"); });
  CHECK(full.status == 200);
  CHECK(full.body.size() == big.size());
  REQUIRE(RunUntil(&h.loop, [&] { return h.server->connection_count() == 0; }));
  CHECK(h.Stop());
}

TEST_CASE("TLS: routes, WebSockets and plain HTTP on one port", "[http][server][tls]") {
  TempDir dir;
  std::string fp = MakeSelfSignedCert(dir.path, "a", "localhost");
  ServerOptions o;
  o.tls_cert = dir.path + "/a.crt";
  o.tls_key = dir.path + "/a.key";
  Harness h(o);
  AddApiRoutes(*h.server);
  WsCounters counters;
  AddEcho(*h.server, &counters);
  CHECK(h.server->tls());

  auto tls = WithLoop(&h.loop, [&] { return Fetch(h.port(), "GET", "/api/v1/ping", {}, "", true); });
  REQUIRE(tls.status == 200);
  CHECK(BodyJson(tls).GetBool("tls"));
  CHECK(tls.Header("strict-transport-security").find("max-age=") == 0);
  CheckSecurityHeaders(tls);

  auto post = WithLoop(&h.loop, [&] {
    return Fetch(h.port(), "POST", "/api/v1/echo", {{"Content-Type", "application/json"}}, "{\"a\":2}", true);
  });
  CHECK(post.status == 200);

  auto plain = WithLoop(&h.loop, [&] { return Fetch(h.port(), "GET", "/api/v1/ping"); });
  REQUIRE(plain.status == 200);
  CHECK_FALSE(BodyJson(plain).GetBool("tls", true));
  CHECK_FALSE(plain.HasHeader("strict-transport-security"));

  auto ws = WithLoop(&h.loop, [&] {
    std::vector<std::string> out;
    WsClient c;
    out.push_back(std::to_string(c.Connect(h.port(), "/ws/echo?name=tls", true)));
    out.push_back(c.Read().payload);
    c.Send("over tls");
    out.push_back(c.Read().payload);
    out.push_back(c.conn().PeerCertFingerprint() == fp ? "cert ok" : "cert mismatch");
    c.SendClose(1000);
    c.Read();
    return out;
  });
  CHECK(ws == std::vector<std::string>{"101", "hello tls", "over tls", "cert ok"});

  auto alpn = WithLoop(&h.loop, [&] {
    Conn c;
    c.Connect(h.port(), true, "h2");
    return c.AlpnSelected();
  });
  CHECK(alpn == "h2");

  // HTTP/2 end to end with curl when it is installed (it is not a build dependency).
  if (std::system("curl --version 2>/dev/null | grep -q HTTP2") == 0) {
    std::string out = dir.path + "/curl.out";
    std::string cmd = "curl -sk --http2 --max-time 10 -o " + dir.path + "/body -w '%{http_version} %{http_code}' " +
                      "https://127.0.0.1:" + std::to_string(h.port()) + "/api/v1/ping > " + out;
    int rc = WithLoop(&h.loop, [&] { return std::system(cmd.c_str()); });
    CHECK(rc == 0);
    std::ifstream f(out);
    std::string line;
    std::getline(f, line);
    CHECK(line == "2 200");
    std::string post_cmd =
        "curl -sk --http2 --max-time 10 -o " + dir.path + "/body2 -w '%{http_version} %{http_code}' " +
        "-H 'Content-Type: application/json' --data '{\"h2\":true}' https://127.0.0.1:" + std::to_string(h.port()) +
        "/api/v1/echo > " + out;
    rc = WithLoop(&h.loop, [&] { return std::system(post_cmd.c_str()); });
    CHECK(rc == 0);
    std::ifstream f2(out);
    std::getline(f2, line);
    CHECK(line == "2 200");
    std::ifstream b2(dir.path + "/body2");
    std::string body2((std::istreambuf_iterator<char>(b2)), std::istreambuf_iterator<char>());
    CHECK(body2.find("\"h2\":true") != std::string::npos);

    // Uploads past lws's initial 256 KiB stream window used to stall; the body must come back
    // byte for byte.
    std::string upload(600 * 1024, '\0');
    std::mt19937 rng(3);
    for (char& ch : upload) ch = static_cast<char>(rng());
    WriteFile(dir.path + "/upload", upload);
    std::string up_cmd = "curl -sk --http2 --max-time 20 -o " + dir.path +
                         "/echoed -w '%{http_version} %{http_code}' " +
                         "-H 'Content-Type: application/octet-stream' --data-binary @" + dir.path + "/upload " +
                         "https://127.0.0.1:" + std::to_string(h.port()) + "/api/v1/raw > " + out;
    rc = WithLoop(&h.loop, [&] { return std::system(up_cmd.c_str()); });
    CHECK(rc == 0);
    std::ifstream f3(out);
    std::getline(f3, line);
    CHECK(line == "2 200");
    std::ifstream e3(dir.path + "/echoed", std::ios::binary);
    std::string echoed((std::istreambuf_iterator<char>(e3)), std::istreambuf_iterator<char>());
    CHECK(echoed == upload);
  } else {
    WARN("curl with HTTP2 not found; h2 checked by ALPN only");
  }
  CHECK(h.Stop());
}

TEST_CASE("ReloadTls swaps the certificate for new connections", "[http][server][tls]") {
  TempDir dir;
  std::string fp_a = MakeSelfSignedCert(dir.path, "a", "localhost");
  std::string fp_b = MakeSelfSignedCert(dir.path, "b", "localhost");
  std::string fp_c = MakeSelfSignedCert(dir.path, "c", "localhost");
  ServerOptions o;
  o.tls_cert = dir.path + "/a.crt";
  o.tls_key = dir.path + "/a.key";
  Harness h(o);
  AddApiRoutes(*h.server);
  auto seen = [&] {
    return WithLoop(&h.loop, [&] {
      Conn c;
      c.Connect(h.port(), true, "http/1.1");
      return c.PeerCertFingerprint();
    });
  };
  CHECK(seen() == fp_a);
  REQUIRE(h.server->ReloadTls(dir.path + "/b.crt", dir.path + "/b.key").ok());
  CHECK(seen() == fp_b);

  // Failures keep the current certificate.
  auto missing = h.server->ReloadTls(dir.path + "/nope.crt", dir.path + "/b.key");
  CHECK_FALSE(missing.ok());
  CHECK(missing.error().code == collab::base::kExitConfig);
  auto mismatch = h.server->ReloadTls(dir.path + "/c.crt", dir.path + "/a.key");
  CHECK_FALSE(mismatch.ok());
  CHECK(mismatch.error().message.find("does not match") != std::string::npos);
  WriteFile(dir.path + "/junk.crt", "not a certificate");
  CHECK_FALSE(h.server->ReloadTls(dir.path + "/junk.crt", dir.path + "/c.key").ok());
  CHECK(seen() == fp_b);
  auto ok = WithLoop(&h.loop, [&] { return Fetch(h.port(), "GET", "/api/v1/ping", {}, "", true); });
  CHECK(ok.status == 200);

  Harness plain;
  CHECK_FALSE(plain.server->ReloadTls(dir.path + "/b.crt", dir.path + "/b.key").ok());
  CHECK(plain.Stop());
  CHECK(h.Stop());
}

TEST_CASE("Shutdown drains, says going away, and lets the loop close", "[http][server]") {
  Harness h;
  AddApiRoutes(*h.server);
  WsCounters counters;
  AddEcho(*h.server, &counters);
  Responder held;
  h.server->Route("GET", "/held", [&](const Request&, Responder respond) { held = respond; });

  std::promise<int> ws_close_code;
  std::promise<int> held_status;
  std::atomic<bool> ws_ready{false}, held_sent{false};
  auto client = std::async(std::launch::async, [&] {
    WsClient ws;
    if (ws.Connect(h.port(), "/ws/echo") != 101) {
      ws_close_code.set_value(-1);
      held_status.set_value(-1);
      return;
    }
    ws.Read();
    ws_ready = true;
    Conn c;
    c.Connect(h.port());
    c.Write(BuildRequest("GET", "/held"));
    held_sent = true;
    ws_close_code.set_value(ws.Read().close_code());
    held_status.set_value(ReadResponse(c).status);
  });
  REQUIRE(RunUntil(&h.loop, [&] { return ws_ready && held_sent && held != nullptr; }));
  bool done = false;
  h.server->Shutdown([&] { done = true; });
  // New connections are no longer served while it drains.
  auto refused = std::async(std::launch::async, [&] { return Fetch(h.port(), "GET", "/api/v1/ping").status; });
  REQUIRE(RunUntil(&h.loop, [&] { return refused.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }));
  CHECK(refused.get() == 0);
  // The in-flight request still gets its answer.
  held(Response::Text(200, "finished"));
  REQUIRE(RunUntil(
      &h.loop, [&] { return done; }, 15000));
  client.get();
  CHECK(ws_close_code.get_future().get() == 1001);
  CHECK(held_status.get_future().get() == 200);
  CHECK(counters.closed == 1);
  h.server.reset();
  CHECK(h.Stop());
}

TEST_CASE("Start reports errors clearly", "[http][server]") {
  Harness first;
  uv_loop_t loop;
  uv_loop_init(&loop);
  ServerOptions same;
  same.port = first.port();
  auto busy = Server::Start(&loop, same);
  REQUIRE_FALSE(busy.ok());
  CHECK(busy.error().message.find(std::to_string(first.port())) != std::string::npos);
  CHECK(busy.error().message.find("in use") != std::string::npos);

  ServerOptions half;
  half.tls_cert = "/nonexistent.crt";
  CHECK(Server::Start(&loop, half).error().code == collab::base::kExitConfig);
  ServerOptions missing;
  missing.tls_cert = "/nonexistent.crt";
  missing.tls_key = "/nonexistent.key";
  CHECK(Server::Start(&loop, missing).error().message.find("/nonexistent.crt") != std::string::npos);
  // An interface lws cannot bind: the vhost fails after the lws context exists, which must
  // still tear down cleanly on the loop.
  ServerOptions noif;
  noif.host = "nosuchif0";
  auto bad_if = Server::Start(&loop, noif);
  REQUIRE_FALSE(bad_if.ok());
  CHECK(bad_if.error().message.find("nosuchif0") != std::string::npos);
  ServerOptions nodir;
  nodir.static_dir = "/nonexistent-dir";
  CHECK_FALSE(Server::Start(&loop, nodir).ok());
  CHECK(Harness::DrainAndClose(&loop));
  CHECK(first.Stop());
}

TEST_CASE("Destroying a server without Shutdown still cleans up", "[http][server]") {
  Harness h;
  AddApiRoutes(*h.server);
  auto r = WithLoop(&h.loop, [&] { return Fetch(h.port(), "GET", "/api/v1/ping"); });
  CHECK(r.status == 200);
  h.server.reset();
  CHECK(h.Stop());
}

TEST_CASE("CorkWrites coalesces frames per socket and keeps their order", "[http][server][ws]") {
  Harness h;
  std::vector<std::shared_ptr<WebSocket>> open;
  WebSocketHandlers hs;
  hs.on_open = [&](std::shared_ptr<WebSocket> ws) { open.push_back(ws); };
  hs.on_message = [&](std::shared_ptr<WebSocket> ws, std::string_view msg, bool) {
    // Every open socket gets a burst; the sender's burst includes a frame too large to cork
    // (it must still come after the corked ones) and a nested scope.
    CorkWrites outer;
    for (auto& o : open) {
      o->Send("one");
      o->Send(std::string(300, 'm'));  // 16-bit length form
    }
    {
      CorkWrites inner;
      ws->SendBinary(std::string("\x00\x01", 2));
    }
    ws->Send(std::string(70 * 1024, 'L'));  // 64-bit length form, queued behind the corked frames
    ws->Send(std::string(msg) + " done");
  };
  h.server->WebSocketRoute("/ws/cork", std::move(hs));
  struct Result {
    std::vector<WsFrame> a, b;
  };
  auto r = WithLoop(&h.loop, [&] {
    Result out;
    WsClient a, b;
    if (a.Connect(h.port(), "/ws/cork") != 101 || b.Connect(h.port(), "/ws/cork") != 101) return out;
    a.Send("go");
    for (int i = 0; i < 5; ++i) out.a.push_back(a.Read());
    for (int i = 0; i < 2; ++i) out.b.push_back(b.Read());
    return out;
  });
  REQUIRE(r.a.size() == 5);
  CHECK(r.a[0].payload == "one");
  CHECK(r.a[1].payload == std::string(300, 'm'));
  CHECK(r.a[2].opcode == 2);
  CHECK(r.a[2].payload == std::string("\x00\x01", 2));
  CHECK(r.a[3].payload == std::string(70 * 1024, 'L'));
  CHECK(r.a[4].payload == "go done");
  REQUIRE(r.b.size() == 2);
  CHECK(r.b[0].payload == "one");
  CHECK(r.b[1].payload == std::string(300, 'm'));
  open.clear();
  CHECK(h.Stop());
}
