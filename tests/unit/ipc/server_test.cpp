// The control socket server on a real libuv loop (in a background thread) driven by the
// blocking Client and by raw sockets that send exactly the bytes a script or an attacker would.
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "lib/base/fs.hpp"
#include "lib/base/time.hpp"
#include "lib/ipc/client.hpp"
#include "lib/ipc/protocol.hpp"
#include "lib/ipc/server.hpp"

using namespace collab;
using collab::base::Json;
using collab::ipc::Client;
using collab::ipc::Reply;
using collab::ipc::Request;
using collab::ipc::Server;
using collab::ipc::ServerOptions;

namespace {

constexpr int kTimeoutMs = 5000;
const std::string kHello = "{\"hello\":\"collab-ipc\",\"version\":1}\n";

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/collab-ipc-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

// Runs a Server on its own loop in a background thread. Verbs are registered before Start();
// after that only the loop thread touches the server.
class LoopServer {
 public:
  explicit LoopServer(ServerOptions opts) {
    REQUIRE(uv_loop_init(&loop_) == 0);
    opts.program = opts.program.empty() ? "collab-test" : opts.program;
    auto s = Server::Listen(&loop_, opts);
    if (!s.ok()) FAIL("Listen: " << s.error().message);
    server_ = std::move(*s);
    path_ = opts.path;
    RegisterTestVerbs();
  }
  ~LoopServer() { Stop(); }

  Server& server() { return *server_; }
  uv_loop_t* loop() { return &loop_; }
  const std::string& path() const { return path_; }

  void Start() {
    REQUIRE(uv_async_init(&loop_, &stop_, [](uv_async_t* a) {
              auto* self = static_cast<LoopServer*>(a->data);
              if (self->destroy_on_stop_) {
                self->server_.reset();  // the destructor alone must be enough
              } else {
                self->server_->Close();
              }
              uv_close(reinterpret_cast<uv_handle_t*>(a), nullptr);
            }) == 0);
    stop_.data = this;
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
    started_ = true;
  }

  void Stop(bool destroy = false) {
    if (stopped_) return;
    stopped_ = true;
    if (started_) {
      destroy_on_stop_ = destroy;
      uv_async_send(&stop_);
      thread_.join();
    } else {
      server_->Close();
      uv_run(&loop_, UV_RUN_DEFAULT);
    }
    server_.reset();
    held_.clear();
    uv_run(&loop_, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop_) == 0);
  }

  std::atomic<int> later_started{0};

 private:
  void RegisterTestVerbs() {
    server_->Register("echo", "returns its args", [](const Request& req, Reply reply) { reply(req.args); });
    server_->Register("whoami", "peer credentials", [](const Request& req, Reply reply) {
      reply(Json::Obj({{"uid", static_cast<long>(req.peer.uid)},
                       {"gid", static_cast<long>(req.peer.gid)},
                       {"pid", static_cast<long>(req.peer.pid)}}));
    });
    server_->Register("conns", "connection count", [this](const Request&, Reply reply) {
      reply(Json::Obj({{"connections", static_cast<long>(server_->ConnectionCount())}}));
    });
    server_->Register("fail", "replies with the error status in args", [](const Request& req, Reply reply) {
      reply(base::Error{static_cast<int>(req.args.GetInt("status", 65)), req.args.GetString("message", "failed")});
    });
    server_->Register("throw", "throws", [](const Request& req, Reply) {
      if (req.args.GetBool("weird")) throw 42;
      throw std::runtime_error("boom");
    });
    server_->Register("forget", "drops its reply", [](const Request&, Reply) {});
    server_->Register("twice", "replies twice", [](const Request&, Reply reply) {
      reply(Json::Obj({{"n", 1}}));
      reply(Json::Obj({{"n", 2}}));
    });
    server_->Register("hold", "never replies while the server runs",
                      [this](const Request&, Reply reply) { held_.push_back(reply); });
    // Replies from a timer after args.ms milliseconds.
    server_->Register("later", "replies from a timer", [this](const Request& req, Reply reply) {
      auto* timer = new uv_timer_t;
      uv_timer_init(&loop_, timer);
      timer->data = new Reply(reply);
      later_started++;
      uv_timer_start(
          timer,
          [](uv_timer_t* t) {
            auto* r = static_cast<Reply*>(t->data);
            bool was_pending = r->pending();
            (*r)(Json::Obj({{"later", true}, {"was_pending", was_pending}}));
            delete r;
            uv_close(reinterpret_cast<uv_handle_t*>(t),
                     [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
          },
          static_cast<uint64_t>(req.args.GetInt("ms", 20)), 0);
    });
    // Doubles args.n on the libuv thread pool.
    server_->Register("work", "replies from uv_queue_work", [this](const Request& req, Reply reply) {
      struct Job {
        uv_work_t work;
        Reply reply;
        int64_t n;
        int64_t out;
      };
      auto* job = new Job{{}, reply, req.args.GetInt("n"), 0};
      job->work.data = job;
      uv_queue_work(
          &loop_, &job->work, [](uv_work_t* w) { static_cast<Job*>(w->data)->out = static_cast<Job*>(w->data)->n * 2; },
          [](uv_work_t* w, int) {
            std::unique_ptr<Job> j(static_cast<Job*>(w->data));
            j->reply(Json::Obj({{"doubled", j->out}}));
          });
    });
  }

  uv_loop_t loop_;
  uv_async_t stop_;
  std::unique_ptr<Server> server_;
  std::string path_;
  std::thread thread_;
  std::vector<Reply> held_;
  bool started_ = false;
  bool stopped_ = false;
  bool destroy_on_stop_ = false;
};

ServerOptions Opts(const std::string& path) {
  ServerOptions o;
  o.path = path;
  return o;
}

// A raw client socket: what socat or a hostile peer would send.
class Raw {
 public:
  explicit Raw(const std::string& path) : decoder_(ipc::kMaxReplyBytes) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path.c_str());
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~Raw() {
    if (fd_ >= 0) ::close(fd_);
  }
  void Send(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // the server may close on us (oversized frame): reading tells the rest
      off += static_cast<size_t>(n);
    }
  }
  void ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }
  void Close() {
    ::close(fd_);
    fd_ = -1;
  }
  // Next line, or nullopt at end of stream; fails the test on timeout.
  std::optional<std::string> Line() {
    int64_t deadline = base::MonotonicMs() + kTimeoutMs;
    for (;;) {
      std::string f;
      if (decoder_.Next(&f) == ipc::FrameDecoder::Status::kFrame) return f;
      if (eof_) return std::nullopt;
      int left = static_cast<int>(deadline - base::MonotonicMs());
      if (left <= 0) FAIL("timed out waiting for a line");
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, left) <= 0) continue;
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        decoder_.Feed(std::string_view(buf, static_cast<size_t>(n)));
      } else if (n == 0 || errno == ECONNRESET) {
        eof_ = true;
      }
    }
  }
  Json Frame() {
    auto line = Line();
    REQUIRE(line.has_value());
    auto j = Json::Parse(*line);
    REQUIRE(j.ok());
    return *j;
  }
  bool AtEof() { return !Line().has_value(); }

 private:
  int fd_ = -1;
  ipc::FrameDecoder decoder_;
  bool eof_ = false;
};

void CheckError(const Json& reply, const Json& id, const char* code, int status) {
  INFO(reply.Dump());
  CHECK(reply.Find("id") != nullptr);
  CHECK(*reply.Find("id") == id);
  CHECK(reply.GetBool("ok", true) == false);
  const Json* err = reply.Find("error");
  REQUIRE(err != nullptr);
  CHECK(err->GetString("code") == code);
  CHECK(err->GetInt("status") == status);
  CHECK_FALSE(err->GetString("message").empty());
}

Json Echo(Client& c, int n) {
  auto r = c.Call("echo", Json::Obj({{"n", n}}), kTimeoutMs);
  REQUIRE(r.ok());
  return *r;
}

}  // namespace

TEST_CASE("The server greets with its hello; the client checks it") {
  TempDir tmp;
  LoopServer s(Opts(tmp.path + "/d.sock"));
  s.Start();
  Raw raw(s.path());
  Json hello = raw.Frame();
  CHECK(hello.GetString("hello") == "collab-ipc");
  CHECK(hello.GetInt("version") == 1);
  CHECK(hello.GetString("program") == "collab-test");
  CHECK(hello.GetInt("pid") == ::getpid());
  CHECK(hello.Dump() == "{\"hello\":\"collab-ipc\",\"version\":1,\"program\":\"collab-test\",\"pid\":" +
                            std::to_string(::getpid()) + "}");

  auto c = Client::Connect(s.path(), kTimeoutMs);
  REQUIRE(c.ok());
  CHECK(c->hello().GetString("program") == "collab-test");
}

TEST_CASE("Requests round-trip through the client") {
  TempDir tmp;
  LoopServer s(Opts(tmp.path + "/d.sock"));
  s.Start();
  auto c = Client::Connect(s.path(), kTimeoutMs);
  REQUIRE(c.ok());
  auto echo = c->Call("echo", Json::Obj({{"text", "日本語"}, {"n", 3}}), kTimeoutMs);
  REQUIRE(echo.ok());
  CHECK(echo->GetString("text") == "日本語");
  CHECK(echo->GetInt("n") == 3);

  auto who = c->Call("whoami", Json(), kTimeoutMs);
  REQUIRE(who.ok());
  CHECK(who->GetInt("uid") == static_cast<int64_t>(::getuid()));
  CHECK(who->GetInt("pid") == ::getpid());

  auto fail = c->Call("fail", Json::Obj({{"status", 67}, {"message", "no such user: bob"}}), kTimeoutMs);
  REQUIRE_FALSE(fail.ok());
  CHECK(fail.error().code == base::kExitNoUser);
  CHECK(fail.error().message == "no such user: bob");

  auto unknown = c->Call("frobnicate", Json(), kTimeoutMs);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == base::kExitUsage);
  CHECK(unknown.error().message.find("frobnicate") != std::string::npos);

  // A second reply to one request is dropped, so the next reply still matches its request.
  auto twice = c->Call("twice", Json(), kTimeoutMs);
  REQUIRE(twice.ok());
  CHECK(twice->GetInt("n") == 1);
  CHECK(Echo(*c, 9).GetInt("n") == 9);
}

TEST_CASE("help lists every verb with its doc, sorted") {
  TempDir tmp;
  LoopServer s(Opts(tmp.path + "/d.sock"));
  s.Start();
  auto c = Client::Connect(s.path(), kTimeoutMs);
  REQUIRE(c.ok());
  auto help = c->Call("help", Json(), kTimeoutMs);
  REQUIRE(help.ok());
  CHECK(help->GetString("program") == "collab-test");
  const Json* verbs = help->Find("verbs");
  REQUIRE(verbs != nullptr);
  REQUIRE(verbs->is_array());
  std::vector<std::string> names;
  for (const Json& v : verbs->as_array()) {
    names.push_back(v.GetString("verb"));
    CHECK_FALSE(v.GetString("doc").empty());
  }
  CHECK(names == std::vector<std::string>{"conns", "echo", "fail", "forget", "help", "hold", "later", "throw", "twice",
                                          "whoami", "work"});
}

TEST_CASE("Pipelined frames in one write are all answered in order, even after a half-close") {
  TempDir tmp;
  LoopServer s(Opts(tmp.path + "/d.sock"));
  s.Start();
  Raw raw(s.path());
  // What `printf ... | socat - UNIX-CONNECT:...` does: everything in one go, then EOF.
  raw.Send(kHello + "{\"id\":1,\"verb\":\"echo\",\"args\":{\"a\":1}}\n" +
           "{\"id\":2,\"verb\":\"later\",\"args\":{\"ms\":30}}\n" + "\n" +  // blank lines are skipped
           "{\"id\":3,\"verb\":\"echo\",\"args\":{\"a\":3}}\r\n" +
           "{\"id\":\"four\",\"verb\":\"work\",\"args\":{\"n\":21}}\n" +
           "{\"id\":5,\"verb\":\"echo\"}");  // no final newline before EOF
  raw.ShutdownWrite();
  CHECK(raw.Frame().GetString("hello") == "collab-ipc");
  Json r1 = raw.Frame();
  CHECK(r1.Dump() == "{\"id\":1,\"ok\":true,\"result\":{\"a\":1}}");
  Json r2 = raw.Frame();
  CHECK(r2.GetInt("id") == 2);
  CHECK(r2.Find("result")->GetBool("later"));
  CHECK(raw.Frame().Find("result")->GetInt("a") == 3);
  Json r4 = raw.Frame();
  CHECK(r4.GetString("id") == "four");
  CHECK(r4.Find("result")->GetInt("doubled") == 42);
  Json r5 = raw.Frame();
  CHECK(r5.GetInt("id") == 5);
  CHECK(r5.GetBool("ok"));
  CHECK(raw.AtEof());  // the server closes once everything is answered
}

TEST_CASE("socat can drive the control socket") {
  if (::access("/usr/bin/socat", X_OK) != 0) {
    WARN("socat not installed; skipping");
    return;
  }
  TempDir tmp;
  LoopServer s(Opts(tmp.path + "/d.sock"));
  s.Start();
  std::string cmd =
      "printf '{\"hello\":\"collab-ipc\",\"version\":1}\\n{\"id\":1,\"verb\":\"echo\",\"args\":{\"x\":1}}\\n' "
      "| socat - UNIX-CONNECT:" +
      s.path();
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  CHECK(::pclose(p) == 0);
  auto nl = out.find('\n');
  REQUIRE(nl != std::string::npos);
  CHECK(Json::Parse(out.substr(0, nl))->GetString("hello") == "collab-ipc");
  CHECK(out.substr(nl + 1) == "{\"id\":1,\"ok\":true,\"result\":{\"x\":1}}\n");
}

TEST_CASE("Malformed frames get error replies and the connection keeps working") {
  TempDir tmp;
  LoopServer s(Opts(tmp.path + "/d.sock"));
  s.Start();
  Raw raw(s.path());
  raw.Frame();  // hello
  raw.Send(kHello);
  struct Case {
    std::string frame;
    Json id;
    const char* code;
    int status;
  };
  std::vector<Case> cases = {
      {"garbage \x01\xff", Json(), "dataerr", 65},
      {"[1,2,3]", Json(), "dataerr", 65},
      {"42", Json(), "dataerr", 65},
      {"{\"id\":7}", Json(7), "dataerr", 65},
      {"{\"id\":8,\"verb\":\"\"}", Json(8), "dataerr", 65},
      {"{\"id\":9,\"verb\":\"echo\",\"args\":\"x\"}", Json(9), "dataerr", 65},
      {"{\"id\":10,\"verb\":\"nope\"}", Json(10), "usage", 64},
      {"{\"id\":11,\"verb\":\"echo\"", Json(), "dataerr", 65},
      {std::string(100, '[') + std::string(100, ']'), Json(), "dataerr", 65},  // deeper than the JSON limit
      {"{\"id\":12,\"verb\":\"throw\"}", Json(12), "software", 70},
      {"{\"id\":13,\"verb\":\"throw\",\"args\":{\"weird\":true}}", Json(13), "software", 70},
      {"{\"id\":14,\"verb\":\"forget\"}", Json(14), "software", 70},
      {"{\"id\":15,\"verb\":\"hello\"}", Json(15), "usage", 64},
      {"{\"hello\":\"collab-ipc\",\"version\":1}", Json(), "dataerr", 65},  // a second hello is not a request
  };
  for (const auto& c : cases) {
    INFO("frame: " << c.frame);
    raw.Send(c.frame + "\n");
    Json reply = raw.Frame();
    CheckError(reply, c.id, c.code, c.status);
    if (c.status == 70 && c.id == Json(12))
      CHECK(reply.Find("error")->GetString("message").find("boom") != std::string::npos);
    raw.Send("{\"id\":100,\"verb\":\"echo\",\"args\":{\"still\":\"here\"}}\n");
    Json ok = raw.Frame();
    CHECK(ok.GetInt("id") == 100);
    CHECK(ok.Find("result")->GetString("still") == "here");
  }
}

TEST_CASE("An oversized frame gets an error and a close; a 1 MiB frame is fine") {
  TempDir tmp;
  LoopServer s(Opts(tmp.path + "/d.sock"));
  s.Start();
  {
    Raw raw(s.path());
    raw.Frame();
    raw.Send(kHello);
    // Exactly kMaxFrameBytes bytes before the newline.
    std::string head = "{\"id\":1,\"verb\":\"echo\",\"args\":{\"s\":\"";
    std::string tail = "\"}}";
    std::string frame = head + std::string(ipc::kMaxFrameBytes - head.size() - tail.size(), 'x') + tail;
    REQUIRE(frame.size() == ipc::kMaxFrameBytes);
    raw.Send(frame + "\n");
    Json ok = raw.Frame();
    CHECK(ok.GetBool("ok"));
    CHECK(ok.Find("result")->GetString("s").size() == ipc::kMaxFrameBytes - head.size() - tail.size());

    raw.Send(std::string(ipc::kMaxFrameBytes + 1, 'y') + "\n");
    Json err = raw.Frame();
    CheckError(err, Json(), "dataerr", 65);
    CHECK(err.Find("error")->GetString("message").find("1048576") != std::string::npos);
    CHECK(raw.AtEof());
  }
  {
    // Endless bytes without a newline are cut off the same way.
    Raw raw(s.path());
    raw.Frame();
    raw.Send(kHello + std::string(ipc::kMaxFrameBytes + 4096, '{'));
    CheckError(raw.Frame(), Json(), "dataerr", 65);
    CHECK(raw.AtEof());
  }
  auto c = Client::Connect(s.path(), kTimeoutMs);
  REQUIRE(c.ok());
  CHECK(Echo(*c, 1).GetInt("n") == 1);
}

TEST_CASE("A wrong hello is answered and the connection closed") {
  TempDir tmp;
  LoopServer s(Opts(tmp.path + "/d.sock"));
  s.Start();
  {
    Raw raw(s.path());
    raw.Frame();
    raw.Send("{\"hello\":\"collab-ipc\",\"version\":2}\n{\"id\":1,\"verb\":\"echo\"}\n");
    Json err = raw.Frame();
    CheckError(err, Json(), "unavailable", 69);
    CHECK(err.Find("error")->GetString("message").find("version 2") != std::string::npos);
    CHECK(raw.AtEof());  // the request after the bad hello is not answered
  }
  {
    Raw raw(s.path());
    raw.Frame();
    raw.Send("{\"id\":1,\"verb\":\"echo\"}\n");
    CheckError(raw.Frame(), Json(), "dataerr", 65);
    CHECK(raw.AtEof());
  }
  {
    Raw raw(s.path());
    raw.Frame();
    raw.Send("\x16\x03\x01\x02\x7f tls or http garbage\n");
    CheckError(raw.Frame(), Json(), "dataerr", 65);
    CHECK(raw.AtEof());
  }
  auto c = Client::Connect(s.path(), kTimeoutMs);
  REQUIRE(c.ok());
  CHECK(Echo(*c, 2).GetInt("n") == 2);
}

TEST_CASE("Asynchronous replies arrive later and in request order") {
  TempDir tmp;
  LoopServer s(Opts(tmp.path + "/d.sock"));
  s.Start();
  auto c = Client::Connect(s.path(), kTimeoutMs);
  REQUIRE(c.ok());
  int64_t t0 = base::MonotonicMs();
  auto later = c->Call("later", Json::Obj({{"ms", 50}}), kTimeoutMs);
  REQUIRE(later.ok());
  CHECK(later->GetBool("later"));
  CHECK(later->GetBool("was_pending"));
  CHECK(base::MonotonicMs() - t0 >= 45);
  auto work = c->Call("work", Json::Obj({{"n", 50}}), kTimeoutMs);
  REQUIRE(work.ok());
  CHECK(work->GetInt("doubled") == 100);

  // A timed-out call leaves a late reply behind; the client skips it by id.
  auto slow = c->Call("later", Json::Obj({{"ms", 300}}), 50);
  REQUIRE_FALSE(slow.ok());
  CHECK(slow.error().code == base::kExitTempFail);
  CHECK(Echo(*c, 5).GetInt("n") == 5);
}

TEST_CASE("A client hanging up before its reply does not hurt the server") {
  TempDir tmp;
  LoopServer s(Opts(tmp.path + "/d.sock"));
  s.Start();
  for (int i = 0; i < 3; ++i) {
    Raw raw(s.path());
    raw.Send(kHello + "{\"id\":1,\"verb\":\"later\",\"args\":{\"ms\":30}}\n");
    raw.Close();  // the reply will hit a closed socket (EPIPE, no SIGPIPE death)
  }
  // Wait (bounded) for the hung-up connections to go away.
  auto c = Client::Connect(s.path(), kTimeoutMs);
  REQUIRE(c.ok());
  int64_t deadline = base::MonotonicMs() + kTimeoutMs;
  int64_t count = -1;
  while (base::MonotonicMs() < deadline) {
    auto r = c->Call("conns", Json(), kTimeoutMs);
    REQUIRE(r.ok());
    count = r->GetInt("connections");
    if (count == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(count == 1);
}

TEST_CASE("Connection count follows clients") {
  TempDir tmp;
  LoopServer s(Opts(tmp.path + "/d.sock"));
  s.Start();
  auto a = Client::Connect(s.path(), kTimeoutMs);
  auto b = Client::Connect(s.path(), kTimeoutMs);
  auto c = Client::Connect(s.path(), kTimeoutMs);
  REQUIRE((a.ok() && b.ok() && c.ok()));
  CHECK(a->Call("conns", Json(), kTimeoutMs)->GetInt("connections") == 3);
  b->Close();
  c->Close();
  int64_t deadline = base::MonotonicMs() + kTimeoutMs;
  while (a->Call("conns", Json(), kTimeoutMs)->GetInt("connections") != 1 && base::MonotonicMs() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(a->Call("conns", Json(), kTimeoutMs)->GetInt("connections") == 1);
}

TEST_CASE("A reply after the server closed is a no-op") {
  TempDir tmp;
  LoopServer s(Opts(tmp.path + "/d.sock"));
  s.Start();
  Raw raw(s.path());
  raw.Send(kHello + "{\"id\":1,\"verb\":\"later\",\"args\":{\"ms\":100}}\n");
  raw.Frame();  // hello
  int64_t deadline = base::MonotonicMs() + kTimeoutMs;
  while (s.later_started == 0 && base::MonotonicMs() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  REQUIRE(s.later_started == 1);
  s.Stop();  // the timer fires after Close(); the loop still ends and closes cleanly
  CHECK(raw.AtEof());
  CHECK_FALSE(base::PathExists(tmp.path + "/d.sock"));
}

TEST_CASE("Destroying the server without Close is safe and removes the socket") {
  TempDir tmp;
  LoopServer s(Opts(tmp.path + "/d.sock"));
  s.Start();
  auto c = Client::Connect(s.path(), kTimeoutMs);
  REQUIRE(c.ok());
  auto held = c->Call("hold", Json(), 20);  // leaves a Reply stored past the server's life
  CHECK(held.error().code == base::kExitTempFail);
  s.Stop(/*destroy=*/true);
  CHECK_FALSE(base::PathExists(tmp.path + "/d.sock"));
  auto after = c->Call("echo", Json(), 1000);
  REQUIRE_FALSE(after.ok());
  CHECK(after.error().code == base::kExitUnavailable);
}

TEST_CASE("Listen creates the directory and sets mode 0660") {
  TempDir tmp;
  std::string path = tmp.path + "/run/collab/d.sock";
  LoopServer s(Opts(path));
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 07777) == 0660);
  s.Stop();
  CHECK_FALSE(base::PathExists(path));

  ServerOptions o = Opts(tmp.path + "/m.sock");
  o.mode = 0600;
  LoopServer s2(o);
  REQUIRE(::stat(o.path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
}

TEST_CASE("Listen gives the socket to the configured group and rejects unknown groups") {
  TempDir tmp;
  struct group* g = ::getgrnam("nogroup");
  if (g == nullptr || ::geteuid() != 0) {
    WARN("needs root and group nogroup; skipping the chgrp part");
  } else {
    ServerOptions o = Opts(tmp.path + "/g.sock");
    o.group = "nogroup";
    gid_t gid = g->gr_gid;
    LoopServer s(o);
    struct stat st;
    REQUIRE(::stat(o.path.c_str(), &st) == 0);
    CHECK(st.st_gid == gid);
  }
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  ServerOptions bad = Opts(tmp.path + "/u.sock");
  bad.group = "no-such-group-collab";
  auto r = Server::Listen(&loop, bad);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == base::kExitConfig);
  CHECK(r.error().message.find("no-such-group-collab") != std::string::npos);
  CHECK_FALSE(base::PathExists(bad.path));
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("A socket path longer than sun_path is refused with a clear error") {
  std::string path = "/tmp/" + std::string(120, 'x') + ".sock";
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  auto r = Server::Listen(&loop, Opts(path));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == base::kExitUsage);
  CHECK(r.error().message.find(path) != std::string::npos);
  CHECK(r.error().message.find("108") != std::string::npos);
  CHECK(uv_loop_close(&loop) == 0);
  auto c = Client::Connect(path, 100);
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().code == base::kExitUsage);

  // The longest path that fits still works.
  TempDir tmp;
  std::string longest = tmp.path + "/" + std::string(ipc::MaxSocketPathLength() - tmp.path.size() - 1, 's');
  REQUIRE(longest.size() == 107);
  LoopServer s(Opts(longest));
  s.Start();
  auto ok = Client::Connect(longest, kTimeoutMs);
  REQUIRE(ok.ok());
  CHECK(Echo(*ok, 1).GetInt("n") == 1);
}

TEST_CASE("A stale socket is replaced; a live one is refused") {
  TempDir tmp;
  std::string path = tmp.path + "/d.sock";
  {
    // A socket file left behind by a crashed daemon: bound, never unlinked, nobody listening.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path.c_str());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    ::close(fd);
    REQUIRE(base::PathExists(path));
    auto refused = Client::Connect(path, 100);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == base::kExitUnavailable);
  }
  LoopServer live(Opts(path));
  live.Start();
  auto c = Client::Connect(path, kTimeoutMs);
  REQUIRE(c.ok());

  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  ServerOptions o = Opts(path);
  o.program = "collab-chatd";
  auto second = Server::Listen(&loop, o);
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().code == base::kExitTempFail);
  CHECK(second.error().message.find("already running") != std::string::npos);
  CHECK(second.error().message.find(path) != std::string::npos);
  CHECK(uv_loop_close(&loop) == 0);
  // The running server kept its socket.
  CHECK(Echo(*c, 4).GetInt("n") == 4);
  auto c2 = Client::Connect(path, kTimeoutMs);
  REQUIRE(c2.ok());

  // A regular file in the way is not ours to delete.
  std::string file = tmp.path + "/file.sock";
  REQUIRE(base::WriteFileAtomic(file, "keep me").ok());
  REQUIRE(uv_loop_init(&loop) == 0);
  auto blocked = Server::Listen(&loop, Opts(file));
  REQUIRE_FALSE(blocked.ok());
  CHECK(blocked.error().message.find("not a socket") != std::string::npos);
  CHECK(*base::ReadFile(file) == "keep me");
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("Close unlinks only its own socket file") {
  TempDir tmp;
  std::string path = tmp.path + "/d.sock";
  LoopServer s(Opts(path));
  // A successor replaced the file (e.g. after `rm` and a restart): Close must leave it alone.
  REQUIRE(::unlink(path.c_str()) == 0);
  REQUIRE(base::WriteFileAtomic(path, "successor").ok());
  s.Stop();
  CHECK(*base::ReadFile(path) == "successor");
}

TEST_CASE("The client names the path when the daemon is not running") {
  TempDir tmp;
  std::string path = tmp.path + "/collab-chatd.sock";
  auto c = Client::Connect(path, 100);
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().code == base::kExitUnavailable);
  CHECK(c.error().message == "collab-chatd is not running (no socket at " + path + ")");
}

// Peer credential checks need other uids: fork children that drop privileges before the loop
// thread starts, so the forked process is single-threaded. Exit status = Connect/Call outcome.
TEST_CASE("Peer credentials decide who may talk to the daemon") {
  struct passwd* nobody = ::getpwnam("nobody");
  struct group* nogroup = ::getgrnam("nogroup");
  if (::geteuid() != 0 || nobody == nullptr || nogroup == nullptr) {
    WARN("needs root, user nobody and group nogroup; skipping");
    return;
  }
  const uid_t uid = nobody->pw_uid;
  const gid_t gid = nogroup->gr_gid;
  const gid_t other_gid = 1;  // "daemon" on Debian; any gid that is not nogroup
  REQUIRE(other_gid != gid);

  TempDir tmp;
  REQUIRE(::chmod(tmp.path.c_str(), 0755) == 0);  // let nobody reach the sockets
  ServerOptions grouped = Opts(tmp.path + "/g.sock");
  grouped.group = "nogroup";
  ServerOptions open_mode = Opts(tmp.path + "/o.sock");
  open_mode.mode = 0666;  // the filesystem lets everyone in; only SO_PEERCRED stands in the way
  LoopServer gs(grouped);
  LoopServer os(open_mode);

  auto spawn = [&](const std::string& path, gid_t primary, std::vector<gid_t> extra) -> pid_t {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      if (::setgroups(extra.size(), extra.data()) != 0 || ::setgid(primary) != 0 || ::setuid(uid) != 0) _exit(120);
      auto c = Client::Connect(path, kTimeoutMs);
      if (!c.ok()) _exit(c.error().code);
      auto r = c->Call("whoami", Json(), kTimeoutMs);
      if (!r.ok()) _exit(r.error().code);
      _exit(r->GetInt("uid") == static_cast<int64_t>(uid) ? 0 : 121);
    }
    return pid;
  };
  struct Child {
    const char* what;
    pid_t pid;
    int want;
  };
  std::vector<Child> children = {
      {"primary group member", spawn(grouped.path, gid, {}), 0},
      {"supplementary group member", spawn(grouped.path, other_gid, {other_gid, gid}), 0},
      {"not in the group: the 0660 mode stops it (EACCES)", spawn(grouped.path, other_gid, {other_gid}), 77},
      {"no group configured: SO_PEERCRED refuses", spawn(open_mode.path, gid, {gid}), 77},
  };
  gs.Start();
  os.Start();
  for (const auto& c : children) {
    INFO(c.what);
    int status = 0;
    REQUIRE(::waitpid(c.pid, &status, 0) == c.pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == c.want);
  }
  // Root is always allowed, and the refused peers did not hurt the server.
  auto root = Client::Connect(open_mode.path, kTimeoutMs);
  REQUIRE(root.ok());
  CHECK(Echo(*root, 1).GetInt("n") == 1);
}

TEST_CASE("A refused peer sees the permission error on the wire") {
  struct passwd* nobody = ::getpwnam("nobody");
  if (::geteuid() != 0 || nobody == nullptr) {
    WARN("needs root and user nobody; skipping");
    return;
  }
  TempDir tmp;
  REQUIRE(::chmod(tmp.path.c_str(), 0755) == 0);
  ServerOptions o = Opts(tmp.path + "/o.sock");
  o.mode = 0666;
  LoopServer s(o);
  int pipefd[2];
  REQUIRE(::pipe(pipefd) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(pipefd[0]);
    if (::setgroups(0, nullptr) != 0 || ::setgid(nobody->pw_gid) != 0 || ::setuid(nobody->pw_uid) != 0) _exit(120);
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, o.path.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) _exit(121);
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) {
      if (::write(pipefd[1], buf, static_cast<size_t>(n)) != n) _exit(122);
    }
    _exit(0);
  }
  ::close(pipefd[1]);
  s.Start();
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  REQUIRE(!out.empty());
  CHECK(out.back() == '\n');
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);  // the error, and no hello
  auto reply = Json::Parse(out);
  REQUIRE(reply.ok());
  CheckError(*reply, Json(), "noperm", 77);
  CHECK(reply->Find("error")->GetString("message").find("permission denied") != std::string::npos);
}
