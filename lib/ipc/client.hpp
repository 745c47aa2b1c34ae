// The blocking side of the control socket, for collab-admin and tests: connect, exchange the
// hello, then one request at a time with a deadline. Errors come back as Error{status, message}
// with the daemon's sysexits status, so a CLI can print the message and exit with the code.
// Deliberately no event loop, no threads and no reconnecting: a CLI call is short-lived.
#pragma once

#include <string>
#include <string_view>

#include "lib/base/json.hpp"
#include "lib/base/result.hpp"
#include "lib/ipc/protocol.hpp"

namespace collab::ipc {

class Client {
 public:
  // Connects and exchanges hellos. Errors: kExitUnavailable when nothing listens at path
  // ("collab-chatd is not running (no socket at PATH)"), kExitNoPerm when the socket or its
  // directory is not ours to use or the daemon refuses our uid, kExitTempFail on timeout,
  // kExitUsage when path is too long.
  [[nodiscard]] static base::Result<Client> Connect(const std::string& path, int timeout_ms);

  Client(Client&& other) noexcept;
  Client& operator=(Client&& other) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  // Sends {"id":N,"verb":verb,"args":args} and waits for the reply with that id. Returns the
  // reply's "result", or Error{reply status, reply message}; kExitTempFail on timeout,
  // kExitUnavailable when the daemon closed the connection.
  [[nodiscard]] base::Result<base::Json> Call(const std::string& verb, const base::Json& args, int timeout_ms);

  // The server's hello frame: {"hello":"collab-ipc","version":1,"program":...,"pid":...}.
  const base::Json& hello() const { return hello_; }
  void Close();

 private:
  Client(int fd, std::string path) : fd_(fd), path_(std::move(path)), decoder_(kMaxReplyBytes) {}
  base::Status SendAll(std::string_view data, int64_t deadline_ms);
  // Next frame parsed as JSON; blank lines are skipped.
  base::Result<base::Json> ReadFrame(int64_t deadline_ms);

  int fd_ = -1;
  std::string path_;
  FrameDecoder decoder_;
  bool eof_ = false;
  int64_t next_id_ = 1;
  base::Json hello_;
};

}  // namespace collab::ipc
