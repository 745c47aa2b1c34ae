#include "cmd/collab-stream/publish.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/exit_codes.hpp"
#include "lib/base/fs.hpp"
#include "lib/base/json.hpp"
#include "lib/base/time.hpp"
#include "lib/config/config.hpp"
#include "lib/daemon/listen_address.hpp"
#include "lib/ipc/client.hpp"

namespace collab::cmd {

namespace {

constexpr int kProbeTimeoutMs = 20 * 1000;
constexpr int kControlTimeoutMs = 3000;
// After forwarding SIGINT/SIGTERM, ffmpeg gets this long to write its trailer and close the
// connection before it is killed.
constexpr int kStopGraceMs = 10 * 1000;
constexpr size_t kStderrLinesKept = 40;
// When stderr is not a terminal, one progress line per this many ffmpeg reports (one a second),
// so a journal is not flooded.
constexpr int kPipedProgressEvery = 10;

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "collab-stream publish: %s\n", message.c_str());
  return code;
}

bool ValidStreamName(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// collab-stream compares the key byte for byte with the query value it receives and decodes
// nothing, so a key must travel in the URL as is: characters that end or split a URL query
// cannot be sent.
bool KeyFitsUrl(const std::string& k) {
  return !k.empty() && std::none_of(k.begin(), k.end(), [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '&' || c == '#' || c == '?' || c == '/' ||
           c == '%';
  });
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string FindProgram(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path && *path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t pos = 0;
  while (pos <= dirs.size()) {
    size_t colon = dirs.find(':', pos);
    std::string dir = dirs.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    struct stat st {};
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(candidate.c_str(), X_OK) == 0)
      return candidate;
    if (colon == std::string::npos) break;
    pos = colon + 1;
  }
  return "";
}

// ---- child processes

struct Child {
  pid_t pid = -1;
  int out = -1;  // the child's stdout
  int err = -1;  // the child's stderr
};

// Starts argv[0] (a full path) with stdin on /dev/null and stdout/stderr on pipes, in its own
// process group so a terminal's Ctrl-C reaches only us (we forward it exactly once), and with a
// parent-death signal so a publisher killed with SIGKILL does not leave ffmpeg pushing alone.
base::Result<Child> Spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) return base::MakeError(base::kExitOsErr, "pipe: " + base::ErrnoText(errno));
  if (pipe2(err, O_CLOEXEC) != 0) {
    int e = errno;
    close(out[0]);
    close(out[1]);
    return base::MakeError(base::kExitOsErr, "pipe: " + base::ErrnoText(e));
  }
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls from here on.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int fork_errno = errno;
  if (devnull >= 0) close(devnull);
  close(out[1]);
  close(err[1]);
  if (pid < 0) {
    close(out[0]);
    close(err[0]);
    return base::MakeError(base::kExitOsErr, "fork: " + base::ErrnoText(fork_errno));
  }
  return Child{pid, out[0], err[0]};
}

// Waits for the child, killing it when deadline_ms (monotonic) passes. Returns the wait status.
int Reap(pid_t pid, int64_t deadline_ms) {
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return 0;
    if (base::MonotonicMs() > deadline_ms) {
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return status;
    }
    poll(nullptr, 0, 20);
  }
}

struct Captured {
  int status = 0;
  bool timed_out = false;
  std::string out, err;
};

// Runs a short-lived program (ffprobe) to completion, or kills it at the deadline.
base::Result<Captured> RunCapture(const std::vector<std::string>& args, int timeout_ms) {
  auto child = Spawn(args);
  if (!child.ok()) return child.error();
  Captured c;
  int64_t deadline = base::MonotonicMs() + timeout_ms;
  pollfd fds[2] = {{child->out, POLLIN, 0}, {child->err, POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    int64_t left = deadline - base::MonotonicMs();
    if (left <= 0) {
      c.timed_out = true;
      kill(child->pid, SIGKILL);
      break;
    }
    int n = poll(fds, 2, static_cast<int>(left));
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        std::string& to = i == 0 ? c.out : c.err;
        if (to.size() < 1024 * 1024) to.append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  close(child->out);
  close(child->err);
  c.status = Reap(child->pid, base::MonotonicMs() + 2000);
  return c;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  size_t start = s.find_first_not_of(' ');
  return start == std::string::npos ? "" : s.substr(start);
}

std::string FirstLine(const std::string& s) { return Trim(s.substr(0, s.find('\n'))); }

// ---- input and codecs

struct Codecs {
  std::string video, audio;  // codec names of the first video and audio streams; empty: none
};

std::vector<std::string> InputArgs(const PublishInput& in) {
  switch (in.kind) {
    case PublishInput::Kind::kV4l2:
      return {"-f", "v4l2", "-i", in.source};
    case PublishInput::Kind::kAlsa:
      return {"-f", "alsa", "-i", in.source};
    case PublishInput::Kind::kPulse:
      return {"-f", "pulse", "-i", in.source};
    case PublishInput::Kind::kLavfi:
      return {"-f", "lavfi", "-i", in.source};
    case PublishInput::Kind::kFile:
      // "file:" keeps a name such as "a:b.mp4" from being read as a protocol.
      return {"-i", in.source.find(':') != std::string::npos ? "file:" + in.source : in.source};
    case PublishInput::Kind::kUrl:
      return {"-i", in.source};
  }
  return {};
}

// Asks ffprobe which codecs the input carries. Errors: 66 for a URL that does not answer, 65 for
// a file ffprobe cannot read or one with neither video nor audio.
base::Result<Codecs> Probe(const std::string& ffprobe, const PublishInput& in, const std::string& shown) {
  std::vector<std::string> args = {ffprobe, "-v",     "error", "-show_entries", "stream=codec_type,codec_name",
                                   "-of",   "csv=p=0"};
  for (auto& a : InputArgs(in)) args.push_back(a);
  auto r = RunCapture(args, kProbeTimeoutMs);
  if (!r.ok()) return r.error();
  bool is_file = in.kind == PublishInput::Kind::kFile;
  if (r->timed_out)
    return base::MakeError(
        is_file ? base::kExitDataErr : base::kExitNoInput,
        "ffprobe could not read " + shown + " within " + std::to_string(kProbeTimeoutMs / 1000) + " s");
  if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != 0) {
    std::string why = FirstLine(r->err);
    return base::MakeError(is_file ? base::kExitDataErr : base::kExitNoInput,
                           "cannot read " + shown + (why.empty() ? "" : ": " + why));
  }
  Codecs c;
  size_t pos = 0;
  while (pos < r->out.size()) {
    size_t nl = r->out.find('\n', pos);
    std::string line = Trim(r->out.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
    pos = nl == std::string::npos ? r->out.size() : nl + 1;
    size_t comma = line.find(',');
    if (comma == std::string::npos) continue;
    std::string name = line.substr(0, comma), type = Trim(line.substr(comma + 1));
    if (type == "video" && c.video.empty()) c.video = name;
    if (type == "audio" && c.audio.empty()) c.audio = name;
  }
  if (c.video.empty() && c.audio.empty())
    return base::MakeError(base::kExitDataErr, shown + " has neither video nor audio");
  return c;
}

// ---- where to publish

struct Target {
  std::string host;  // as it goes into a URL (IPv6 in brackets)
  int port = 0;
};

std::string UrlHost(const std::string& host) {
  // A wildcard listener is reached on loopback: the publisher runs on the daemon's machine.
  if (host == "0.0.0.0" || host.empty()) return "127.0.0.1";
  if (host == "::") return "[::1]";
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

// The running daemon knows the port it bound (stream.rtmp_listen may say port 0); its control
// socket also tells "not running" apart from "refused". Without access to the socket (mode 0660,
// another group) the config's address is the best we know.
base::Result<Target> FindTarget(const config::Config& cfg) {
  std::string sock = cfg.ControlSocketPath("stream");
  std::string configured = cfg.GetString("stream.rtmp_listen");
  auto addr = daemon::ParseListenAddress(configured);
  if (!addr.ok()) return base::MakeError(base::kExitConfig, "stream.rtmp_listen: " + addr.error().message);
  auto client = ipc::Client::Connect(sock, kControlTimeoutMs);
  if (client.ok()) {
    auto status = client->Call("status", base::Json::MakeObject(), kControlTimeoutMs);
    if (status.ok()) {
      const base::Json* rtmp = status->Find("rtmp");
      std::string bound = rtmp ? rtmp->GetString("address") : "";
      if (bound.empty())
        return base::MakeError(base::kExitUnavailable, "collab-stream is running but reports no RTMP listener");
      auto b = daemon::ParseListenAddress(bound);
      if (b.ok()) return Target{UrlHost(b->host), b->port};
    }
  } else if (client.error().code == base::kExitUnavailable) {
    return base::MakeError(base::kExitUnavailable, "collab-stream is not running (no control socket at " + sock + ")");
  }
  if (addr->port == 0)
    return base::MakeError(base::kExitUnavailable,
                           "stream.rtmp_listen takes a free port, and the running daemon's port cannot be asked: " +
                               (client.ok() ? std::string("status failed") : client.error().message));
  return Target{UrlHost(addr->host), addr->port};
}

// The key for NAME: --key, else NAME:KEY, else *:KEY from stream.publish_keys. No keys configured
// means collab-stream takes loopback publishers without one.
base::Result<std::string> FindKey(const config::Config& cfg, const PublishOptions& o) {
  if (o.key_given) {
    if (!KeyFitsUrl(o.key))
      return base::MakeError(base::kExitUsage, "--key must be non-empty, without spaces or any of & # ? / %");
    return o.key;
  }
  const auto& keys = cfg.GetStringList("stream.publish_keys");
  if (keys.empty()) return std::string();
  std::string any;
  for (const std::string& e : keys) {
    size_t colon = e.find(':');
    if (colon == std::string::npos) continue;
    std::string n = e.substr(0, colon), k = e.substr(colon + 1);
    if (n == o.name) {
      if (!KeyFitsUrl(k))
        return base::MakeError(base::kExitConfig, "stream.publish_keys: the key for '" + o.name +
                                                      "' has a space or one of & # ? / %, which cannot be sent in "
                                                      "an RTMP URL");
      return k;
    }
    if (n == "*" && any.empty()) any = k;
  }
  if (any.empty())
    return base::MakeError(base::kExitConfig, "stream.publish_keys has no key for '" + o.name + "' (add " + o.name +
                                                  ":KEY or *:KEY, or give --key)");
  if (!KeyFitsUrl(any))
    return base::MakeError(base::kExitConfig,
                           "stream.publish_keys: the *: key has a space or one of & # ? / %, which cannot be sent "
                           "in an RTMP URL");
  return any;
}

// ---- running ffmpeg

// Hides the key where it travels: in the URL's query. (Masking every occurrence would also eat
// ordinary words of ffmpeg's messages when a key happens to be one.)
std::string Mask(std::string line, const std::string& key) {
  if (key.empty()) return line;
  const std::string needle = "key=" + key;
  for (size_t p = line.find(needle); p != std::string::npos; p = line.find(needle, p + 7))
    line.replace(p, needle.size(), "key=***");
  return line;
}

struct Progress {
  std::map<std::string, std::string> kv;
  int reports = 0;
};

std::string FormatProgress(const std::string& name, const Progress& p) {
  auto get = [&](const char* k) {
    auto it = p.kv.find(k);
    return it == p.kv.end() || it->second == "N/A" ? std::string("-") : it->second;
  };
  std::string t = get("out_time");
  if (size_t dot = t.find('.'); dot != std::string::npos) t = t.substr(0, dot);
  std::string fps = get("fps");
  if (size_t dot = fps.find('.'); dot != std::string::npos) fps = fps.substr(0, dot);
  std::string rate = get("bitrate");
  if (std::atoll(get("out_time_us").c_str()) < 500000) rate = "-";  // bytes over almost no time: noise
  if (rate != "-") {
    double kbit = std::atof(rate.c_str());
    char buf[32];
    std::snprintf(buf, sizeof buf, kbit >= 1000 ? "%.1f Mbit/s" : "%.0f kbit/s", kbit >= 1000 ? kbit / 1000 : kbit);
    rate = buf;
  }
  return name + "  " + t + "  " + (get("frame") == "-" ? "" : "frame " + get("frame") + "  ") +
         (fps == "-" || fps == "0" ? "" : fps + " fps  ") + rate + "  speed " + get("speed");
}

struct FfmpegOutcome {
  int status = 0;
  int forwarded_signal = 0;  // the signal we passed on, 0 if none
  bool progressed = false;   // ffmpeg reported output time: the publish was under way
  std::deque<std::string> err_lines;
};

// Runs ffmpeg, forwarding SIGINT/SIGTERM/SIGHUP and drawing its progress on stderr.
base::Result<FfmpegOutcome> RunFfmpeg(const std::vector<std::string>& args, const PublishOptions& o,
                                      const std::string& key) {
  sigset_t sigs, old;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);
  sigprocmask(SIG_BLOCK, &sigs, &old);
  int sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) {
    int e = errno;
    sigprocmask(SIG_SETMASK, &old, nullptr);
    return base::MakeError(base::kExitOsErr, "signalfd: " + base::ErrnoText(e));
  }
  auto child = Spawn(args);
  if (!child.ok()) {
    close(sfd);
    sigprocmask(SIG_SETMASK, &old, nullptr);
    return child.error();
  }
  bool tty = isatty(STDERR_FILENO);
  bool line_open = false;  // a progress line drawn with \r and not yet ended
  auto end_line = [&] {
    if (line_open) std::fputs("\n", stderr);
    line_open = false;
  };
  FfmpegOutcome out;
  Progress progress;
  std::string out_buf, err_buf;
  int64_t kill_at = 0;
  pollfd fds[3] = {{child->out, POLLIN, 0}, {child->err, POLLIN, 0}, {sfd, POLLIN, 0}};
  int open_pipes = 2;

  auto on_err_line = [&](std::string line) {
    line = Mask(Trim(std::move(line)), key);
    if (line.empty()) return;
    if (o.verbosity > 0) {
      end_line();
      std::fprintf(stderr, "ffmpeg: %s\n", line.c_str());
    }
    out.err_lines.push_back(std::move(line));
    if (out.err_lines.size() > kStderrLinesKept) out.err_lines.pop_front();
  };
  auto on_out_line = [&](const std::string& line) {
    size_t eq = line.find('=');
    if (eq == std::string::npos) return;
    std::string k = line.substr(0, eq), v = Trim(line.substr(eq + 1));
    if (k != "progress") {
      progress.kv[k] = v;
      if (k == "out_time_us" && std::atoll(v.c_str()) > 0) out.progressed = true;
      return;
    }
    ++progress.reports;
    std::string text = FormatProgress(o.name, progress);
    if (tty) {
      std::fprintf(stderr, "\r%s\x1b[K", text.c_str());
      line_open = true;
    } else if (progress.reports % kPipedProgressEvery == 1 || v == "end") {
      std::fprintf(stderr, "%s\n", text.c_str());
    }
    std::fflush(stderr);
  };

  while (open_pipes > 0) {
    int timeout = kill_at ? 100 : -1;
    int n = poll(fds, 3, timeout);
    if (n < 0 && errno != EINTR) break;
    if (kill_at && base::MonotonicMs() > kill_at) {
      kill(child->pid, SIGKILL);
      kill_at = 0;
    }
    if (fds[2].revents & POLLIN) {
      signalfd_siginfo si{};
      while (read(sfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        if (out.forwarded_signal == 0) {
          // SIGHUP (the terminal went away) stops the publish like SIGTERM.
          out.forwarded_signal = si.ssi_signo == SIGHUP ? SIGTERM : static_cast<int>(si.ssi_signo);
          kill(child->pid, out.forwarded_signal);
          kill_at = base::MonotonicMs() + kStopGraceMs;
        } else {
          kill(child->pid, SIGKILL);  // a second signal: the operator wants it gone now
        }
      }
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        fds[i].fd = -1;
        --open_pipes;
        continue;
      }
      std::string& b = i == 0 ? out_buf : err_buf;
      b.append(buf, static_cast<size_t>(got));
      size_t nl;
      // ffmpeg ends some stderr lines with \r only; both end a line here.
      while ((nl = b.find_first_of("\r\n")) != std::string::npos) {
        std::string line = b.substr(0, nl);
        b.erase(0, nl + 1);
        if (i == 0)
          on_out_line(line);
        else
          on_err_line(line);
      }
      if (b.size() > 64 * 1024) b.clear();  // a line that long is not one we need
    }
  }
  if (!err_buf.empty()) on_err_line(err_buf);
  end_line();
  close(child->out);
  close(child->err);
  out.status = Reap(child->pid, kill_at ? kill_at : base::MonotonicMs() + kStopGraceMs);
  close(sfd);
  sigprocmask(SIG_SETMASK, &old, nullptr);
  return out;
}

bool AnyLine(const std::deque<std::string>& lines, std::string_view needle) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(needle) != std::string::npos; });
}

std::string LastLines(const std::deque<std::string>& lines, size_t n) {
  std::string s;
  for (size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i) s += "\n  ffmpeg: " + lines[i];
  return s;
}

// Turns how ffmpeg ended into our exit status and one message naming the cause.
int Outcome(const FfmpegOutcome& f, const PublishOptions& o, const std::string& url_shown, const std::string& shown) {
  if (f.forwarded_signal) {
    std::fprintf(stderr, "collab-stream publish: stopped publishing '%s' (%s)\n", o.name.c_str(),
                 strsignal(f.forwarded_signal));
    return 0;
  }
  if (WIFEXITED(f.status) && WEXITSTATUS(f.status) == 0) {
    std::fprintf(stderr, "collab-stream publish: %s ended; stream '%s' published\n", shown.c_str(), o.name.c_str());
    return 0;
  }
  const auto& L = f.err_lines;
  std::string detail = LastLines(L, 3);
  if (WIFSIGNALED(f.status) && !AnyLine(L, "Server error"))
    return Fail(base::kExitSoftware, std::string("ffmpeg was killed by ") + strsignal(WTERMSIG(f.status)) + detail);
  // ffmpeg logs an RTMP onStatus error as "Server error: <description>".
  for (const std::string& l : L)
    if (size_t p = l.find("Server error:"); p != std::string::npos)
      return Fail(base::kExitUnavailable, "collab-stream refused stream '" + o.name + "': " + Trim(l.substr(p + 13)));
  if (AnyLine(L, "Connection refused") && !f.progressed)
    return Fail(base::kExitUnavailable, "collab-stream is not reachable at " + url_shown + " (connection refused)");
  if (f.progressed && (AnyLine(L, "Broken pipe") || AnyLine(L, "Connection reset") || AnyLine(L, "End of file") ||
                       AnyLine(L, "I/O error")))
    return Fail(base::kExitUnavailable, "collab-stream ended the publish of '" + o.name +
                                            "' (kicked by an operator, or the daemon stopped)" + detail);
  if (AnyLine(L, "not currently supported in container") || AnyLine(L, "Could not write header"))
    return Fail(base::kExitDataErr, "the codecs of " + shown +
                                        " cannot be sent as they are (RTMP carries H.264 and AAC); use --transcode "
                                        "auto or always" +
                                        detail);
  if (AnyLine(L, "Invalid data found")) return Fail(base::kExitDataErr, "ffmpeg cannot read " + shown + detail);
  if (AnyLine(L, "No such file or directory") && !f.progressed)
    return Fail(base::kExitNoInput, "cannot open " + shown + detail);
  return Fail(base::kExitSoftware,
              "ffmpeg failed (exit " + std::to_string(WIFEXITED(f.status) ? WEXITSTATUS(f.status) : -1) + ")" + detail);
}

}  // namespace

base::Result<PublishInput> ClassifyInput(const std::string& input) {
  PublishInput in;
  auto device = [&](PublishInput::Kind kind, size_t prefix) -> base::Result<PublishInput> {
    in.kind = kind;
    in.source = input.substr(prefix);
    if (in.source.empty()) return base::MakeError(base::kExitUsage, "no device after '" + input + "'");
    return in;
  };
  if (StartsWith(input, "v4l2:")) return device(PublishInput::Kind::kV4l2, 5);
  if (StartsWith(input, "/dev/video")) return device(PublishInput::Kind::kV4l2, 0);
  if (StartsWith(input, "alsa:")) return device(PublishInput::Kind::kAlsa, 5);
  if (StartsWith(input, "pulse:")) return device(PublishInput::Kind::kPulse, 6);
  if (StartsWith(input, "lavfi:")) {
    auto r = device(PublishInput::Kind::kLavfi, 6);
    if (r.ok()) r->realtime = true;  // a generator runs as fast as the CPU allows
    return r;
  }
  size_t scheme = input.find("://");
  if (scheme != std::string::npos && scheme > 0 &&
      std::all_of(input.begin(), input.begin() + static_cast<long>(scheme), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
               c == '.';
      })) {
    in.kind = PublishInput::Kind::kUrl;
    in.source = input;
    std::string s = input.substr(0, scheme);
    // Files served over HTTP (or named by a file: URL) are read as fast as the network allows;
    // streaming protocols deliver at their own pace.
    in.realtime = s == "http" || s == "https" || s == "file" || s == "ftp";
    return in;
  }
  if (input.empty()) return base::MakeError(base::kExitUsage, "INPUT is empty");
  in.kind = PublishInput::Kind::kFile;
  in.source = input;
  in.realtime = true;
  return in;
}

int Publish(const PublishOptions& o) {
  if (!ValidStreamName(o.name))
    return Fail(base::kExitUsage, "invalid stream name '" + o.name + "' (letters, digits, _ and -, up to 64)");
  auto in = ClassifyInput(o.input);
  if (!in.ok()) return Fail(in.error().code, in.error().message);
  bool is_file = in->kind == PublishInput::Kind::kFile;
  if (o.loop && !is_file) return Fail(base::kExitUsage, "--loop applies to files only");
  if (is_file || in->kind == PublishInput::Kind::kV4l2) {
    struct stat st {};
    if (stat(in->source.c_str(), &st) != 0)
      return Fail(base::kExitNoInput, "cannot open " + in->source + ": " + base::ErrnoText(errno));
    if (S_ISDIR(st.st_mode)) return Fail(base::kExitNoInput, in->source + " is a directory");
    if (access(in->source.c_str(), R_OK) != 0)
      return Fail(base::kExitNoInput, "cannot read " + in->source + ": " + base::ErrnoText(errno));
  }

  std::vector<config::Override> overrides;
  for (const auto& raw : o.overrides) {
    auto ov = config::ParseOverride(raw);
    if (!ov.ok()) return Fail(ov.error().code, ov.error().message);
    overrides.push_back(std::move(*ov));
  }
  auto cfg = config::LoadFile(o.config_path, overrides);
  if (!cfg.ok()) return Fail(cfg.error().code, cfg.error().message);
  auto key = FindKey(*cfg, o);
  if (!key.ok()) return Fail(key.error().code, key.error().message);

  std::string ffmpeg = FindProgram("ffmpeg");
  if (ffmpeg.empty()) return Fail(base::kExitUnavailable, "ffmpeg not found in PATH (Debian package ffmpeg)");

  auto target = FindTarget(*cfg);
  if (!target.ok()) return Fail(target.error().code, target.error().message);
  std::string base_url = "rtmp://" + target->host + ":" + std::to_string(target->port) + "/live/" + o.name;
  std::string url = key->empty() ? base_url : base_url + "?key=" + *key;

  // Decide per stream whether to copy: RTMP/FLV into collab-stream carries H.264 and AAC.
  bool copy_video = false, copy_audio = false;
  bool probe = in->kind == PublishInput::Kind::kFile || in->kind == PublishInput::Kind::kUrl;
  if (o.transcode == Transcode::kNever) copy_video = copy_audio = true;
  if (o.transcode != Transcode::kAlways && probe) {
    std::string ffprobe = FindProgram("ffprobe");
    if (ffprobe.empty()) return Fail(base::kExitUnavailable, "ffprobe not found in PATH (Debian package ffmpeg)");
    auto codecs = Probe(ffprobe, *in, o.input);
    if (!codecs.ok()) return Fail(codecs.error().code, codecs.error().message);
    bool h264 = codecs->video.empty() || codecs->video == "h264";
    bool aac = codecs->audio.empty() || codecs->audio == "aac";
    auto named = [](const std::string& c) { return c.empty() ? std::string("none") : c; };
    if (o.transcode == Transcode::kNever && (!h264 || !aac))
      return Fail(base::kExitDataErr, o.input + " has " + named(codecs->video) + " video and " + named(codecs->audio) +
                                          " audio; --transcode never sends only H.264 and AAC as they are");
    if (o.transcode == Transcode::kAuto) {
      copy_video = h264;
      copy_audio = aac;
    }
    if (o.verbosity > 0)
      std::fprintf(stderr, "collab-stream publish: %s: video %s, audio %s -> video %s, audio %s\n", o.input.c_str(),
                   named(codecs->video).c_str(), named(codecs->audio).c_str(), copy_video ? "copied" : "libx264",
                   copy_audio ? "copied" : "aac");
  }

  std::vector<std::string> args = {
      ffmpeg,      "-hide_banner", "-nostdin",      "-nostats", "-loglevel", o.verbosity > 1 ? "info" : "error",
      "-progress", "pipe:1",       "-stats_period", "1"};
  if (in->realtime) args.push_back("-re");
  if (o.loop) {
    args.push_back("-stream_loop");
    args.push_back("-1");
  }
  for (auto& a : InputArgs(*in)) args.push_back(a);
  // The first video and the first audio stream, whichever exist.
  for (const char* a : {"-map", "0:v:0?", "-map", "0:a:0?"}) args.push_back(a);
  if (copy_video) {
    for (const char* a : {"-c:v", "copy"}) args.push_back(a);
  } else {
    // Low latency (no look-ahead, no B-frames) and a key frame every second, so the packager can
    // cut ~1 s segments and a player joins fast.
    for (const char* a : {"-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
                          "-force_key_frames", "expr:gte(t,n_forced*1)", "-maxrate", "4500k", "-bufsize", "9000k"})
      args.push_back(a);
  }
  if (copy_audio) {
    for (const char* a : {"-c:a", "copy"}) args.push_back(a);
  } else {
    for (const char* a : {"-c:a", "aac", "-b:a", "128k", "-ar", "48000"}) args.push_back(a);
  }
  for (const char* a : {"-f", "flv"}) args.push_back(a);
  args.push_back(url);

  if (o.verbosity > 0) {
    std::string line;
    for (const auto& a : args) line += (line.empty() ? "" : " ") + Mask(a, *key);
    std::fprintf(stderr, "collab-stream publish: %s\n", line.c_str());
  }
  std::fprintf(stderr, "collab-stream publish: publishing %s as '%s' to %s%s\n", o.input.c_str(), o.name.c_str(),
               base_url.c_str(), o.loop ? " (looping)" : "");
  auto result = RunFfmpeg(args, o, *key);
  if (!result.ok()) return Fail(result.error().code, result.error().message);
  return Outcome(*result, o, base_url, o.input);
}

}  // namespace collab::cmd
