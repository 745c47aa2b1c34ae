#include "lib/ipc/client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "lib/base/fs.hpp"
#include "lib/base/time.hpp"
#include "lib/ipc/server.hpp"

namespace collab::ipc {

using base::Error;
using base::Json;

namespace {

// "/run/collab/collab-chatd.sock" -> "collab-chatd": names the daemon in "not running" messages.
std::string ProgramFromPath(const std::string& path) {
  std::string name = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  if (name.size() > 5 && name.compare(name.size() - 5, 5, ".sock") == 0) name.resize(name.size() - 5);
  return name.empty() ? "the daemon" : name;
}

int Remaining(int64_t deadline_ms) {
  int64_t left = deadline_ms - base::MonotonicMs();
  return left <= 0 ? 0 : static_cast<int>(left);
}

}  // namespace

Client::Client(Client&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      decoder_(std::move(other.decoder_)),
      eof_(other.eof_),
      next_id_(other.next_id_),
      hello_(std::move(other.hello_)) {}

Client& Client::operator=(Client&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    decoder_ = std::move(other.decoder_);
    eof_ = other.eof_;
    next_id_ = other.next_id_;
    hello_ = std::move(other.hello_);
  }
  return *this;
}

Client::~Client() { Close(); }

void Client::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

base::Result<Client> Client::Connect(const std::string& path, int timeout_ms) {
  if (path.empty()) return Error{base::kExitUsage, "control socket path is empty"};
  if (path.size() > MaxSocketPathLength()) {
    return Error{base::kExitUsage, "control socket path " + path + " is longer than the " +
                                       std::to_string(MaxSocketPathLength()) + " bytes a UNIX socket path may have"};
  }
  const int64_t deadline = base::MonotonicMs() + timeout_ms;
  // Non-blocking so a daemon with a full backlog cannot make us hang past the deadline.
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Error{base::kExitOsErr, "socket: " + base::ErrnoText(errno)};
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    ::close(fd);
    const std::string program = ProgramFromPath(path);
    switch (e) {
      case ENOENT:
      case ENOTDIR:
        return Error{base::kExitUnavailable, program + " is not running (no socket at " + path + ")"};
      case ECONNREFUSED:
        return Error{base::kExitUnavailable, program + " is not running (nothing answers on " + path + ")"};
      case EACCES:
      case EPERM:
        return Error{base::kExitNoPerm, "permission denied connecting to " + path + " (" + base::ErrnoText(e) +
                                            "): run as root, the daemon's user or a member of its group"};
      case EAGAIN:
        return Error{base::kExitTempFail, program + " is too busy to accept a connection on " + path};
      default:
        return Error{base::kExitUnavailable, "cannot connect to " + path + ": " + base::ErrnoText(e)};
    }
  }
  Client client(fd, path);
  auto first = client.ReadFrame(deadline);
  if (!first.ok()) return first.error().Wrap("no hello");
  // A refused peer gets an error reply instead of the hello.
  if (first->Find("hello") == nullptr && first->Find("ok") != nullptr) {
    auto refused = DecodeReply(*first);
    if (!refused.ok()) return refused.error();
  }
  auto hello_ok = CheckHello(*first);
  if (!hello_ok.ok()) return hello_ok.error().Wrap("daemon on " + path);
  client.hello_ = std::move(*first);
  COLLAB_TRY(client.SendAll(EncodeFrame(MakeClientHello()), deadline));
  return client;
}

base::Status Client::SendAll(std::string_view data, int64_t deadline_ms) {
  if (fd_ < 0) return Error{base::kExitUnavailable, "not connected to " + path_};
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      int rc = ::poll(&p, 1, Remaining(deadline_ms));
      if (rc == 0) return Error{base::kExitTempFail, "timed out writing to " + path_};
      if (rc < 0 && errno != EINTR) return Error{base::kExitIoErr, "poll: " + base::ErrnoText(errno)};
      continue;
    }
    int e = errno;
    if (e == EPIPE || e == ECONNRESET)
      return Error{base::kExitUnavailable, "the daemon on " + path_ + " closed the connection"};
    return Error{base::kExitIoErr, "cannot write to " + path_ + ": " + base::ErrnoText(e)};
  }
  return base::Ok();
}

base::Result<Json> Client::ReadFrame(int64_t deadline_ms) {
  if (fd_ < 0) return Error{base::kExitUnavailable, "not connected to " + path_};
  Json::ParseLimits limits;
  limits.max_bytes = kMaxReplyBytes;
  for (;;) {
    std::string frame;
    FrameDecoder::Status st = decoder_.Next(&frame);
    if (st == FrameDecoder::Status::kOversized)
      return Error{base::kExitDataErr,
                   "reply from " + path_ + " longer than " + std::to_string(kMaxReplyBytes) + " bytes"};
    if (st == FrameDecoder::Status::kNeedMore && eof_) {
      if (decoder_.buffered() == 0)
        return Error{base::kExitUnavailable, "the daemon on " + path_ + " closed the connection"};
      frame = decoder_.TakePartial();
      st = FrameDecoder::Status::kFrame;
    }
    if (st == FrameDecoder::Status::kFrame) {
      if (IsBlankFrame(frame)) continue;
      auto parsed = Json::Parse(frame, limits);
      if (!parsed.ok()) return parsed.error().Wrap("bad frame from " + path_);
      return parsed;
    }
    pollfd p{fd_, POLLIN, 0};
    int rc = ::poll(&p, 1, Remaining(deadline_ms));
    if (rc == 0) return Error{base::kExitTempFail, "timed out waiting for " + path_};
    if (rc < 0) {
      if (errno == EINTR) continue;
      return Error{base::kExitIoErr, "poll: " + base::ErrnoText(errno)};
    }
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      decoder_.Feed(std::string_view(buf, static_cast<size_t>(n)));
    } else if (n == 0) {
      eof_ = true;
    } else if (errno == ECONNRESET) {
      eof_ = true;
    } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      return Error{base::kExitIoErr, "cannot read from " + path_ + ": " + base::ErrnoText(errno)};
    }
  }
}

base::Result<Json> Client::Call(const std::string& verb, const Json& args, int timeout_ms) {
  const int64_t deadline = base::MonotonicMs() + timeout_ms;
  const int64_t id = next_id_++;
  Json request = Json::Obj({{"id", id}, {"verb", verb}, {"args", args.is_null() ? Json::MakeObject() : args}});
  COLLAB_TRY(SendAll(EncodeFrame(request), deadline));
  for (;;) {
    auto frame = ReadFrame(deadline);
    if (!frame.ok()) {
      if (frame.error().code == base::kExitTempFail)
        return Error{base::kExitTempFail, "timed out after " + std::to_string(timeout_ms) +
                                              " ms waiting for the reply to \"" + verb + "\" from " + path_};
      return frame.error();
    }
    const Json* reply_id = frame->Find("id");
    if (reply_id != nullptr && reply_id->is_int() && reply_id->as_int() == id) return DecodeReply(*frame);
    // An error about the connection itself (oversized frame, ...) carries a null id.
    if ((reply_id == nullptr || reply_id->is_null()) && frame->Find("ok") != nullptr && !frame->GetBool("ok", true))
      return DecodeReply(*frame);
    // Anything else answers an earlier request that timed out: skip it.
  }
}

}  // namespace collab::ipc
