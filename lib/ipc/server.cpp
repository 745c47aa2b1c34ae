#include "lib/ipc/server.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "lib/base/fs.hpp"
#include "lib/base/log.hpp"
#include "lib/ipc/protocol.hpp"

namespace collab::ipc {

using base::Error;
using base::Json;
using base::Result;

namespace detail {

struct VerbEntry {
  std::string doc;
  Server::Handler handler;
};

struct ListenHandle {
  uv_pipe_t pipe;
  ServerImpl* server = nullptr;  // null once the Server closed; the handle may outlive it
};

struct ServerImpl {
  uv_loop_t* loop = nullptr;
  ServerOptions opts;
  bool has_group = false;
  gid_t group_gid = 0;
  uid_t euid = 0;
  dev_t sock_dev = 0;
  ino_t sock_ino = 0;
  ListenHandle* listener = nullptr;
  std::map<std::string, VerbEntry> verbs;  // ordered, so "help" lists verbs sorted
  std::unordered_map<uint64_t, std::shared_ptr<Conn>> conns;
  uint64_t next_conn_id = 1;
  std::string hello_line;
  bool closed = false;

  void Close();
  bool PeerAllowed(const PeerCred& peer) const;
  Json HelpResult() const;
};

// One accepted connection. Heap-allocated and kept alive by `self` until libuv's close callback,
// because libuv owns the handle's memory until then, whatever happens to the Server.
struct Conn : std::enable_shared_from_this<Conn> {
  enum class State { kOpen, kDraining, kClosing };

  uv_pipe_t pipe;
  ServerImpl* server = nullptr;  // null after Server::Close
  uint64_t id = 0;
  PeerCred peer;
  FrameDecoder decoder;
  State state = State::kOpen;
  bool hello_done = false;
  bool busy = false;  // a request is being handled; later frames wait so replies stay in order
  bool eof = false;   // the client half-closed; answer what was sent, then close
  bool reading = false;
  bool pumping = false;  // guards against re-entering Pump from a handler's synchronous reply
  std::shared_ptr<Conn> self;
  char readbuf[64 * 1024];

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&pipe); }
  void StartReading();
  void StopReading();
  void Send(std::string data);
  void Drain();     // flush queued replies, shut down, close
  void CloseNow();  // close at once; queued writes are cancelled
  void Pump();
  void HandleFrame(const std::string& frame);
  void Dispatch(ParsedRequest req);
  void ReplyDone(const Json& id, const base::Result<Json>& result);
};

struct ReplyState {
  std::weak_ptr<Conn> conn;
  Json id;
  std::string verb;
  bool done = false;

  void Finish(const base::Result<Json>& result) {
    done = true;
    if (auto c = conn.lock()) c->ReplyDone(id, result);
  }

  ~ReplyState() {
    if (done) return;
    try {
      Finish(Error{base::kExitSoftware, "internal error: verb \"" + verb + "\" finished without a reply"});
    } catch (...) {
      // A destructor must not throw; the connection then simply gets no reply.
    }
  }
};

namespace {

struct WriteOp {
  uv_write_t req;
  std::string data;
  std::shared_ptr<Conn> conn;
};

struct ShutdownOp {
  uv_shutdown_t req;
  std::shared_ptr<Conn> conn;
};

void OnAlloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  auto* c = static_cast<Conn*>(handle->data);
  *buf = uv_buf_init(c->readbuf, sizeof c->readbuf);
}

void OnConnClosed(uv_handle_t* handle) {
  auto* c = static_cast<Conn*>(handle->data);
  std::shared_ptr<Conn> last = std::move(c->self);  // may free c when this scope ends
}

void OnWrite(uv_write_t* req, int status) {
  std::unique_ptr<WriteOp> op(static_cast<WriteOp*>(req->data));
  if (status < 0 && status != UV_ECANCELED) {
    LOG_DEBUG("ipc: write to connection %llu failed: %s", static_cast<unsigned long long>(op->conn->id),
              uv_strerror(status));
    op->conn->CloseNow();
  }
}

void OnShutdown(uv_shutdown_t* req, int /*status*/) {
  std::unique_ptr<ShutdownOp> op(static_cast<ShutdownOp*>(req->data));
  op->conn->CloseNow();
}

void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* raw = static_cast<Conn*>(stream->data);
  std::shared_ptr<Conn> c = raw->shared_from_this();
  // Nothing a client sends may take the daemon down, not even an allocation failure.
  try {
    if (nread > 0) {
      if (c->state != Conn::State::kOpen) return;
      c->decoder.Feed(std::string_view(buf->base, static_cast<size_t>(nread)));
      // A client pipelining faster than a slow verb answers: stop reading rather than buffer without bound.
      if (c->busy && c->decoder.buffered() > 2 * kMaxFrameBytes) c->StopReading();
      c->Pump();
    } else if (nread == UV_EOF) {
      c->eof = true;
      c->StopReading();
      c->Pump();
    } else if (nread < 0) {
      LOG_DEBUG("ipc: read from connection %llu failed: %s", static_cast<unsigned long long>(c->id),
                uv_strerror(static_cast<int>(nread)));
      c->CloseNow();
    }
  } catch (const std::exception& e) {
    LOG_ERROR("ipc: dropping connection %llu: %s", static_cast<unsigned long long>(c->id), e.what());
    c->CloseNow();
  }
}

Result<PeerCred> GetPeerCred(uv_pipe_t* pipe) {
  uv_os_fd_t fd;
  int rc = uv_fileno(reinterpret_cast<uv_handle_t*>(pipe), &fd);
  if (rc != 0) return Error{base::kExitOsErr, uv_strerror(rc)};
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return Error{base::kExitOsErr, "SO_PEERCRED: " + base::ErrnoText(errno)};
  return PeerCred{cred.uid, cred.gid, cred.pid};
}

// Supplementary groups of a process, from /proc/<pid>/status ("Groups:\t4 24 27").
std::vector<gid_t> SupplementaryGroups(pid_t pid) {
  std::vector<gid_t> out;
  if (pid <= 0) return out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Groups:", 0) != 0) continue;
    std::istringstream fields(line.substr(7));
    unsigned long g;
    while (fields >> g) out.push_back(static_cast<gid_t>(g));
    break;
  }
  return out;
}

void OnConnection(uv_stream_t* listener, int status) {
  auto* lh = static_cast<ListenHandle*>(listener->data);
  ServerImpl* s = lh->server;
  if (s == nullptr) return;
  if (status < 0) {
    LOG_WARN("ipc: accept on %s failed: %s", s->opts.path.c_str(), uv_strerror(status));
    return;
  }
  auto c = std::make_shared<Conn>();
  uv_pipe_init(s->loop, &c->pipe, 0);
  c->pipe.data = c.get();
  c->self = c;
  int rc = uv_accept(listener, c->stream());
  if (rc != 0) {
    LOG_WARN("ipc: accept on %s failed: %s", s->opts.path.c_str(), uv_strerror(rc));
    c->state = Conn::State::kClosing;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->pipe), OnConnClosed);
    return;
  }
  c->server = s;
  c->id = s->next_conn_id++;
  s->conns.emplace(c->id, c);

  auto cred = GetPeerCred(&c->pipe);
  if (!cred.ok()) {
    LOG_WARN("ipc: %s: cannot read peer credentials: %s", s->opts.path.c_str(), cred.error().message.c_str());
    c->CloseNow();
    return;
  }
  c->peer = *cred;
  if (!s->PeerAllowed(c->peer)) {
    std::string why = "permission denied: uid " + std::to_string(c->peer.uid) + " may not use " + s->opts.path;
    why += s->has_group ? " (root, the daemon's user and members of group " + s->opts.group + " may)"
                        : " (only root and the daemon's user may)";
    LOG_NOTICE("ipc: refused connection from uid %u gid %u pid %d on %s", static_cast<unsigned>(c->peer.uid),
               static_cast<unsigned>(c->peer.gid), static_cast<int>(c->peer.pid), s->opts.path.c_str());
    c->Send(EncodeReply(Json(), Error{base::kExitNoPerm, why}));
    c->Drain();
    return;
  }
  LOG_DEBUG("ipc: connection %llu from uid %u pid %d", static_cast<unsigned long long>(c->id),
            static_cast<unsigned>(c->peer.uid), static_cast<int>(c->peer.pid));
  c->Send(s->hello_line);
  c->StartReading();
}

}  // namespace

void Conn::StartReading() {
  if (reading || state != State::kOpen || eof) return;
  int rc = uv_read_start(stream(), OnAlloc, OnRead);
  if (rc != 0) {
    CloseNow();
    return;
  }
  reading = true;
}

void Conn::StopReading() {
  if (!reading) return;
  uv_read_stop(stream());
  reading = false;
}

void Conn::Send(std::string data) {
  if (state == State::kClosing) return;
  auto* op = new WriteOp{{}, std::move(data), shared_from_this()};
  op->req.data = op;
  uv_buf_t buf = uv_buf_init(op->data.data(), static_cast<unsigned>(op->data.size()));
  int rc = uv_write(&op->req, stream(), &buf, 1, OnWrite);
  if (rc != 0) {
    delete op;
    CloseNow();
  }
}

void Conn::Drain() {
  if (state != State::kOpen) return;
  state = State::kDraining;
  StopReading();
  auto* op = new ShutdownOp{{}, shared_from_this()};
  op->req.data = op;
  if (uv_shutdown(&op->req, stream(), OnShutdown) != 0) {
    delete op;
    CloseNow();
  }
}

void Conn::CloseNow() {
  if (state == State::kClosing) return;
  state = State::kClosing;
  reading = false;
  if (server != nullptr) {
    LOG_DEBUG("ipc: connection %llu closed", static_cast<unsigned long long>(id));
    server->conns.erase(id);  // `self` still holds us
    server = nullptr;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&pipe), OnConnClosed);
}

void Conn::Pump() {
  if (pumping || state != State::kOpen) return;
  pumping = true;
  std::shared_ptr<Conn> keep = shared_from_this();
  while (state == State::kOpen && !busy) {
    std::string frame;
    FrameDecoder::Status st = decoder.Next(&frame);
    if (st == FrameDecoder::Status::kOversized) {
      Send(EncodeReply(Json(), Error{base::kExitDataErr, "frame longer than " + std::to_string(kMaxFrameBytes) +
                                                             " bytes; closing the connection"}));
      Drain();
      break;
    }
    if (st == FrameDecoder::Status::kNeedMore) {
      if (!eof) break;
      if (decoder.buffered() > 0) {
        HandleFrame(decoder.TakePartial());  // last line without "\n" before the half-close
        continue;
      }
      Drain();
      break;
    }
    HandleFrame(frame);
  }
  if (state == State::kOpen && !busy) StartReading();
  pumping = false;
}

void Conn::HandleFrame(const std::string& frame) {
  if (IsBlankFrame(frame)) return;
  if (!hello_done) {
    auto st = CheckHelloFrame(frame);
    if (!st.ok()) {
      Send(EncodeReply(Json(), Error{st.error().code, st.error().message + "; closing the connection"}));
      Drain();
      return;
    }
    hello_done = true;
    return;
  }
  Json id;
  auto req = ParseRequest(frame, &id);
  if (!req.ok()) {
    Send(EncodeReply(id, req.error()));
    return;
  }
  Dispatch(std::move(*req));
}

void Conn::Dispatch(ParsedRequest req) {
  if (server == nullptr) return;
  busy = true;
  auto state_ptr = std::make_shared<ReplyState>();
  state_ptr->conn = weak_from_this();
  state_ptr->id = req.id;
  state_ptr->verb = req.verb;
  Reply reply(std::move(state_ptr));

  if (req.verb == "help") {
    reply(server->HelpResult());
    return;
  }
  auto it = server->verbs.find(req.verb);
  if (it == server->verbs.end()) {
    reply(Error{base::kExitUsage, "unknown verb \"" + req.verb + "\"; the verb \"help\" lists the verbs"});
    return;
  }
  // A copy: the handler may Register() or Close() while it runs.
  Server::Handler handler = it->second.handler;
  Request request{std::move(req.id), std::move(req.verb), std::move(req.args), peer};
  try {
    handler(request, reply);
  } catch (const std::exception& e) {
    LOG_ERROR("ipc: verb \"%s\" failed: %s", request.verb.c_str(), e.what());
    reply(Error{base::kExitSoftware, "internal error in verb \"" + request.verb + "\": " + e.what()});
  } catch (...) {
    LOG_ERROR("ipc: verb \"%s\" failed with an unknown exception", request.verb.c_str());
    reply(Error{base::kExitSoftware, "internal error in verb \"" + request.verb + "\""});
  }
}

void Conn::ReplyDone(const Json& id, const base::Result<Json>& result) {
  if (state != State::kOpen) return;
  Send(EncodeReply(id, result));
  busy = false;
  Pump();
}

void ServerImpl::Close() {
  if (closed) return;
  closed = true;
  if (listener != nullptr) {
    listener->server = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener->pipe),
             [](uv_handle_t* h) { delete static_cast<ListenHandle*>(h->data); });
    listener = nullptr;
  }
  auto open = std::move(conns);
  conns.clear();
  for (auto& entry : open) {
    entry.second->server = nullptr;
    entry.second->CloseNow();
  }
  // Unlink only our own socket: a successor daemon may already have replaced the file.
  struct stat st;
  if (::lstat(opts.path.c_str(), &st) == 0 && st.st_dev == sock_dev && st.st_ino == sock_ino)
    ::unlink(opts.path.c_str());
}

bool ServerImpl::PeerAllowed(const PeerCred& peer) const {
  if (peer.uid == 0 || peer.uid == euid) return true;
  if (!has_group) return false;
  if (peer.gid == group_gid) return true;
  for (gid_t g : SupplementaryGroups(peer.pid)) {
    if (g == group_gid) return true;
  }
  return false;
}

Json ServerImpl::HelpResult() const {
  Json list = Json::MakeArray();
  bool help_listed = false;
  auto add_help = [&] {
    list.Push(Json::Obj({{"verb", "help"}, {"doc", "list the verbs this daemon answers"}}));
    help_listed = true;
  };
  for (const auto& [name, entry] : verbs) {
    if (!help_listed && name > "help") add_help();
    list.Push(Json::Obj({{"verb", name}, {"doc", entry.doc}}));
  }
  if (!help_listed) add_help();
  return Json::Obj({{"program", opts.program}, {"verbs", std::move(list)}});
}

}  // namespace detail

// ---- Reply ----

void Reply::operator()(base::Result<Json> result) const {
  if (!state_ || state_->done) return;
  state_->Finish(result);
}

bool Reply::pending() const {
  if (!state_ || state_->done) return false;
  auto c = state_->conn.lock();
  return c && c->state == detail::Conn::State::kOpen;
}

// ---- Server ----

size_t MaxSocketPathLength() { return sizeof(sockaddr_un::sun_path) - 1; }

namespace {

// Whether something accepts connections on path. Refused means a stale file from a dead daemon.
Result<bool> SocketAnswers(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Error{base::kExitOsErr, "socket: " + base::ErrnoText(errno)};
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  ::close(fd);
  if (rc == 0 || err == EAGAIN || err == EINPROGRESS) return true;  // EAGAIN: alive, backlog full
  if (err == ECONNREFUSED || err == ENOENT) return false;
  if (err == EACCES || err == EPERM)
    return Error{base::kExitNoPerm, "cannot probe existing socket " + path + ": " + base::ErrnoText(err)};
  return Error{base::kExitOsErr, "cannot probe existing socket " + path + ": " + base::ErrnoText(err)};
}

}  // namespace

Server::Server(std::unique_ptr<detail::ServerImpl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  if (impl_) impl_->Close();
}

base::Result<std::unique_ptr<Server>> Server::Listen(uv_loop_t* loop, const ServerOptions& options) {
  const std::string& path = options.path;
  if (path.empty()) return Error{base::kExitUsage, "control socket path is empty"};
  if (path.size() > MaxSocketPathLength()) {
    return Error{base::kExitUsage, "control socket path " + path + " is " + std::to_string(path.size()) +
                                       " bytes; a UNIX socket path must fit the 108-byte sun_path (at most " +
                                       std::to_string(MaxSocketPathLength()) + " bytes): use a shorter directory"};
  }

  auto impl = std::make_unique<detail::ServerImpl>();
  impl->loop = loop;
  impl->opts = options;
  impl->euid = ::geteuid();
  if (!options.group.empty()) {
    struct group gr;
    struct group* found = nullptr;
    std::vector<char> buf(16384);
    int rc = ::getgrnam_r(options.group.c_str(), &gr, buf.data(), buf.size(), &found);
    if (rc != 0 || found == nullptr)
      return Error{base::kExitConfig, "unknown group \"" + options.group + "\" for control socket " + path};
    impl->has_group = true;
    impl->group_gid = gr.gr_gid;
  }

  COLLAB_TRY(base::MakeDirs(base::DirName(path), 0755));

  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return Error{base::kExitCantCreat, path + " exists and is not a socket; refusing to replace it"};
    auto answers = SocketAnswers(path);
    if (!answers.ok()) return answers.error();
    if (*answers) {
      return Error{base::kExitTempFail, "something already answers on " + path + ": is " +
                                            (options.program.empty() ? "the daemon" : options.program) +
                                            " already running?"};
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return Error{base::kExitCantCreat, "cannot remove stale socket " + path + ": " + base::ErrnoText(errno)};
    LOG_INFO("ipc: removed stale socket %s", path.c_str());
  }

  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Error{base::kExitOsErr, "socket: " + base::ErrnoText(errno)};
  auto fail = [&](int code, const std::string& what, bool unlink_path) -> Error {
    int e = errno;
    ::close(fd);
    if (unlink_path) ::unlink(path.c_str());
    return Error{code, what + ": " + base::ErrnoText(e)};
  };
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    if (e == EADDRINUSE) {
      ::close(fd);
      return Error{base::kExitTempFail, "cannot bind " + path + ": another process just created it"};
    }
    return fail(e == EACCES ? base::kExitNoPerm : base::kExitCantCreat, "cannot bind " + path, false);
  }
  if (::chmod(path.c_str(), options.mode) != 0) return fail(base::kExitCantCreat, "cannot chmod " + path, true);
  if (impl->has_group && ::chown(path.c_str(), static_cast<uid_t>(-1), impl->group_gid) != 0) {
    return fail(errno == EPERM ? base::kExitNoPerm : base::kExitCantCreat,
                "cannot give " + path + " to group " + options.group, true);
  }
  if (::listen(fd, 64) != 0) return fail(base::kExitOsErr, "cannot listen on " + path, true);
  if (::lstat(path.c_str(), &st) != 0) return fail(base::kExitCantCreat, "cannot stat " + path, true);
  impl->sock_dev = st.st_dev;
  impl->sock_ino = st.st_ino;

  // libuv does not use MSG_NOSIGNAL: a peer hanging up mid-write would otherwise kill us.
  ::signal(SIGPIPE, SIG_IGN);

  auto* lh = new detail::ListenHandle;
  uv_pipe_init(loop, &lh->pipe, 0);
  lh->pipe.data = lh;
  int rc = uv_pipe_open(&lh->pipe, fd);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&lh->pipe), 64, detail::OnConnection);
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&lh->pipe),
             [](uv_handle_t* h) { delete static_cast<detail::ListenHandle*>(h->data); });
    ::unlink(path.c_str());
    return Error{base::kExitOsErr, "cannot listen on " + path + ": " + uv_strerror(rc)};
  }
  lh->server = impl.get();
  impl->listener = lh;
  impl->hello_line = EncodeFrame(MakeServerHello(options.program, static_cast<long>(::getpid())));
  LOG_DEBUG("ipc: listening on %s", path.c_str());
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

void Server::Register(std::string verb, std::string doc, Handler handler) {
  assert(verb != "help" && "\"help\" is built in");
  assert(impl_->verbs.count(verb) == 0 && "verb registered twice");
  impl_->verbs[std::move(verb)] = detail::VerbEntry{std::move(doc), std::move(handler)};
}

void Server::Close() { impl_->Close(); }

size_t Server::ConnectionCount() const { return impl_->conns.size(); }

const std::string& Server::path() const { return impl_->opts.path; }

}  // namespace collab::ipc
