// The daemon side of the control socket: a UNIX stream listener on the process's libuv loop that
// checks peer credentials (SO_PEERCRED), exchanges the versioned hello and dispatches JSON Lines
// requests to registered verb handlers (framing in lib/ipc/protocol.hpp and collab-ipc(7)).
// Single-threaded: every call, including Reply, happens on the loop thread. Requests on one
// connection are answered in order, one at a time; a slow verb only delays its own connection.
// Deliberately not here: what the verbs do, authentication beyond the peer's uid/gid, TCP.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "lib/base/json.hpp"
#include "lib/base/result.hpp"

namespace collab::ipc {

struct ServerOptions {
  std::string path;     // socket path; must fit sun_path (107 bytes + NUL)
  std::string program;  // announced in the hello, e.g. "collab-chatd"
  std::string group;    // group that may connect (socket is chgrp'ed to it); empty: root and our euid only
  unsigned mode = 0660;
};

struct PeerCred {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
};

struct Request {
  base::Json id;  // as sent by the client (null when absent)
  std::string verb;
  base::Json args;  // always an object
  PeerCred peer;
};

namespace detail {
struct ReplyState;
struct ServerImpl;
struct Conn;
}  // namespace detail

// Answers one request. Copyable; may be kept and called later (after uv_queue_work, a timer...),
// but only on the loop thread. The first call wins and later calls are ignored; calling after
// the client went away is a no-op. If every copy is dropped without a call, the client gets an
// internal-error reply so its connection does not hang.
class Reply {
 public:
  Reply() = default;  // answers nothing; lets a Reply live in a struct before it is assigned
  void operator()(base::Result<base::Json> result) const;
  // False once the connection is gone or this request was answered: lets slow work stop early.
  bool pending() const;

 private:
  friend struct detail::Conn;
  explicit Reply(std::shared_ptr<detail::ReplyState> state) : state_(std::move(state)) {}
  std::shared_ptr<detail::ReplyState> state_;
};

class Server {
 public:
  using Handler = std::function<void(const Request& req, Reply reply)>;

  // Binds and listens. Creates the parent directory if missing; replaces a stale socket file
  // only when nothing answers on it. Errors: kExitUsage (path too long), kExitTempFail (another
  // daemon is answering on the path), kExitConfig (unknown group), kExitNoPerm, kExitCantCreat.
  // Ignores SIGPIPE process-wide: a client that hangs up mid-reply must not kill the daemon.
  [[nodiscard]] static base::Result<std::unique_ptr<Server>> Listen(uv_loop_t* loop, const ServerOptions& options);

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  // Calls Close(). The loop must still be run afterwards so libuv can free the handles.
  ~Server();

  // Adds a verb; doc is the one-line description "help" prints. "help" itself is built in.
  // Registering a verb twice is a programming error (asserts).
  void Register(std::string verb, std::string doc, Handler handler);

  // Stops listening, drops every connection (unsent replies are lost) and unlinks the socket
  // file if it is still ours. Idempotent. Must be called before uv_loop_close(); then run the
  // loop once more so the close callbacks free the handles.
  void Close();

  size_t ConnectionCount() const;
  const std::string& path() const;

 private:
  explicit Server(std::unique_ptr<detail::ServerImpl> impl);
  std::unique_ptr<detail::ServerImpl> impl_;
};

// Length limit of a UNIX socket path on this system, not counting the terminating NUL.
size_t MaxSocketPathLength();

}  // namespace collab::ipc
