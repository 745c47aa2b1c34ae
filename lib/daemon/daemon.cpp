#include <algorithm>
#include "lib/daemon/daemon.hpp"

#include <csignal>
#include <cstdio>
#include <unistd.h>

#include "lib/base/exit_codes.hpp"
#include "lib/base/log.hpp"
#include "lib/base/time.hpp"
#include "lib/base/version.hpp"
#include "lib/config/config.hpp"
#include "lib/daemon/listen_address.hpp"
#include "lib/daemon/sd_notify.hpp"
#include "lib/http/server.hpp"
#include "lib/ipc/server.hpp"

namespace collab::daemon {

using base::Error;
using base::Json;
using base::Result;
using base::Status;

namespace {

Result<config::Config> Load(const Options& opts) {
  std::vector<config::Override> overrides;
  for (const auto& raw : opts.overrides) {
    auto o = config::ParseOverride(raw);
    if (!o.ok()) return o.error();
    overrides.push_back(std::move(*o));
  }
  return config::LoadFile(opts.config_path, overrides);
}

int LevelVerbosity(const std::string& level, int extra) {
  // [log] level sets the floor; each -v adds one step towards debug.
  int base = 0;
  if (level == "error") base = -3;
  else if (level == "warning") base = -2;
  else if (level == "notice") base = -1;
  else if (level == "debug") base = 1;
  return base + extra;
}

std::string Key(const Options& o, const char* name) { return o.section + "." + name; }

class Daemon final : public Context {
 public:
  Daemon(const Options& opts, Service& svc, config::Config cfg)
      : opts_(opts), svc_(svc), cfg_(std::make_unique<config::Config>(std::move(cfg))) {}

  uv_loop_t* loop() override { return &loop_; }
  const config::Config& config() const override { return *cfg_; }
  http::Server& http() override { return *http_; }
  ipc::Server& control() override { return *control_; }
  const Options& options() const override { return opts_; }

  int Main() {
    if (uv_loop_init(&loop_) != 0) {
      LOG_ERROR("cannot initialise the event loop");
      return base::kExitOsErr;
    }
    int rc = Setup();
    if (rc == 0) {
      std::string status = "READY=1\nSTATUS=serving on " + ListenerText() + "\nMAINPID=" + std::to_string(getpid());
      SdNotify(status);
      LOG_NOTICE("%s %s started (pid %d): http%s on %s, control socket %s", opts_.program.c_str(), base::kVersion,
                 static_cast<int>(getpid()), http_->tls() ? "s" : "", ListenerText().c_str(), socket_path_.c_str());
      uv_run(&loop_, UV_RUN_DEFAULT);
      rc = exit_code_;
    }
    Teardown();
    return rc;
  }

 private:
  int Setup() {
    started_mono_ = base::MonotonicMs();
    started_wall_ = base::WallClockMs();

    socket_path_ = cfg_->ControlSocketPath(opts_.section);
    ipc::ServerOptions io;
    io.path = socket_path_;
    io.program = opts_.program;
    io.group = cfg_->GetString("control.group");
    auto ctl = ipc::Server::Listen(&loop_, io);
    if (!ctl.ok()) {
      LOG_ERROR("control socket: %s", ctl.error().message.c_str());
      return ctl.error().code;
    }
    control_ = std::move(*ctl);

    auto addr = ParseListenAddress(cfg_->GetString(Key(opts_, "listen")));
    if (!addr.ok()) {
      LOG_ERROR("%s: %s", Key(opts_, "listen").c_str(), addr.error().message.c_str());
      return base::kExitConfig;
    }
    http::ServerOptions ho;
    ho.host = addr->host;
    ho.port = addr->port;
    ho.tls_cert = cfg_->GetPath(Key(opts_, "tls_cert"));
    ho.tls_key = cfg_->GetPath(Key(opts_, "tls_key"));
    ho.max_body_bytes = static_cast<size_t>(cfg_->GetInt(Key(opts_, "max_body_bytes")));
    ho.max_body_bytes = std::max(ho.max_body_bytes, svc_.MaxUploadBytes(*cfg_));
    ho.max_ws_message_bytes = static_cast<size_t>(cfg_->GetInt(Key(opts_, "max_ws_message_bytes")));
    ho.server_name = opts_.program;
    ho.static_dir = svc_.StaticDir(*cfg_);
    auto srv = http::Server::Start(&loop_, ho);
    if (!srv.ok()) {
      LOG_ERROR("http listener %s: %s", cfg_->GetString(Key(opts_, "listen")).c_str(), srv.error().message.c_str());
      return srv.error().code;
    }
    http_ = std::move(*srv);
    listen_host_ = addr->host;

    RegisterCommon();
    auto st = svc_.Start(*this);
    if (!st.ok()) {
      LOG_ERROR("%s", st.error().message.c_str());
      return st.error().code;
    }
    SetupSignals();
    return 0;
  }

  std::string ListenerText() const {
    std::string host = listen_host_.find(':') != std::string::npos ? "[" + listen_host_ + "]" : listen_host_;
    return host + ":" + std::to_string(http_ ? http_->port() : 0);
  }

  Json StatusJson() const {
    Json s = Json::MakeObject();
    s.Set("program", opts_.program);
    s.Set("version", base::kVersion);
    s.Set("pid", static_cast<int64_t>(getpid()));
    s.Set("started_at", base::FormatRfc3339(started_wall_));
    s.Set("uptime_s", (base::MonotonicMs() - started_mono_) / 1000);
    s.Set("config_file", cfg_->source_path());
    s.Set("state", draining_ ? "draining" : "serving");
    Json listeners = Json::MakeArray();
    listeners.Push(Json::Obj({{"kind", "http"}, {"address", ListenerText()}, {"tls", http_->tls()}}));
    listeners.Push(Json::Obj({{"kind", "control"}, {"address", socket_path_}}));
    s.Set("listeners", std::move(listeners));
    s.Set("connections", static_cast<int64_t>(http_->connection_count()));
    s.Set("reloads", reloads_);
    svc_.AddStatus(*this, s);
    return s;
  }

  void RegisterCommon() {
    control_->Register("status", "version, uptime, config file and listeners", [this](const ipc::Request&, ipc::Reply reply) {
      reply(StatusJson());
    });
    control_->Register("reload", "re-read the config file; the old one stays on error",
                       [this](const ipc::Request&, ipc::Reply reply) {
                         auto st = Reload();
                         if (!st.ok()) {
                           reply(st.error());
                         } else {
                           reply(Json::Obj({{"reloaded", true}, {"config_file", cfg_->source_path()}}));
                         }
                       });
    http_->Route("GET", "/api/v1/health", [this](const http::Request&, http::Responder respond) {
      respond(http::Response::Json(
          200, Json::Obj({{"status", draining_ ? "draining" : "ok"}, {"program", opts_.program}, {"version", base::kVersion}})));
    });
  }

  Status Reload() {
    SdNotify("RELOADING=1");
    auto next = Load(opts_);
    if (!next.ok()) {
      LOG_ERROR("reload failed, keeping the old configuration: %s", next.error().message.c_str());
      SdNotify("READY=1\nSTATUS=reload failed; old configuration kept");
      return Error{base::kExitConfig, next.error().message};
    }
    for (const char* k : {"listen", "control_socket"}) {
      if (next->GetString(Key(opts_, k)) != cfg_->GetString(Key(opts_, k)) ||
          next->GetPath(Key(opts_, k)) != cfg_->GetPath(Key(opts_, k)))
        LOG_WARN("%s changed: it takes effect on restart", Key(opts_, k).c_str());
    }
    std::string cert = next->GetPath(Key(opts_, "tls_cert"));
    std::string key = next->GetPath(Key(opts_, "tls_key"));
    if (!cert.empty() && http_->tls()) {
      // Renewed certificate files are picked up here, for new connections.
      auto st = http_->ReloadTls(cert, key);
      if (!st.ok()) {
        LOG_ERROR("reload failed, keeping the old configuration: %s", st.error().message.c_str());
        SdNotify("READY=1\nSTATUS=reload failed; old configuration kept");
        return Error{base::kExitConfig, st.error().message};
      }
    } else if (cert.empty() != !http_->tls()) {
      LOG_WARN("switching TLS on or off takes effect on restart");
    }
    auto st = svc_.Reload(*this, *next);
    if (!st.ok()) {
      LOG_ERROR("reload failed, keeping the old configuration: %s", st.error().message.c_str());
      SdNotify("READY=1\nSTATUS=reload failed; old configuration kept");
      return st.error();
    }
    cfg_ = std::make_unique<config::Config>(std::move(*next));
    base::SetLogVerbosity(LevelVerbosity(cfg_->GetString("log.level"), opts_.verbosity));
    ++reloads_;
    LOG_NOTICE("configuration reloaded from %s", cfg_->source_path().c_str());
    SdNotify("READY=1\nSTATUS=serving on " + ListenerText());
    return base::Ok();
  }

  void SetupSignals() {
    struct Sig { uv_signal_t* h; int signum; };
    for (auto [h, signum] : {Sig{&sighup_, SIGHUP}, Sig{&sigterm_, SIGTERM}, Sig{&sigint_, SIGINT}}) {
      uv_signal_init(&loop_, h);
      h->data = this;
      uv_signal_start(h, [](uv_signal_t* h, int signum) { static_cast<Daemon*>(h->data)->OnSignal(signum); }, signum);
    }
    signals_ = true;
  }

  void OnSignal(int signum) {
    if (signum == SIGHUP) {
      LOG_NOTICE("SIGHUP: reloading %s", opts_.config_path.c_str());
      (void)Reload();
      return;
    }
    if (draining_) {
      if (signum == SIGINT) {
        LOG_WARN("second SIGINT: exiting at once");
        ::unlink(socket_path_.c_str());
        _exit(base::kExitTempFail);
      }
      return;
    }
    LOG_NOTICE("%s: draining", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    draining_ = true;
    SdNotify("STOPPING=1\nSTATUS=draining");
    svc_.Drain(*this, [this] {
      control_->Close();  // removes the socket file
      http_->Shutdown([this] {
        for (uv_signal_t* h : {&sighup_, &sigterm_, &sigint_})
          if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(h))) uv_close(reinterpret_cast<uv_handle_t*>(h), nullptr);
        signals_ = false;
        // Closing the uv handles restores the default actions; a late SIGTERM (a supervisor
        // sending both INT and TERM) must not turn a clean exit into "killed by signal".
        for (int s : {SIGHUP, SIGTERM, SIGINT}) std::signal(s, SIG_IGN);
        LOG_NOTICE("%s stopped", opts_.program.c_str());
      });
    });
  }

  void Teardown() {
    if (signals_) {
      for (uv_signal_t* h : {&sighup_, &sigterm_, &sigint_}) uv_close(reinterpret_cast<uv_handle_t*>(h), nullptr);
      signals_ = false;
    }
    if (control_) control_->Close();
    if (http_ && !draining_) {
      http_->Shutdown([] {});
    }
    // Let close callbacks run; bounded so a stuck handle cannot hang exit forever.
    for (int i = 0; i < 1000 && uv_run(&loop_, UV_RUN_NOWAIT) != 0; ++i) {
      uv_run(&loop_, UV_RUN_ONCE);
    }
    http_.reset();
    control_.reset();
    if (uv_loop_close(&loop_) != 0) LOG_DEBUG("event loop closed with handles still open");
  }

  const Options& opts_;
  Service& svc_;
  std::unique_ptr<config::Config> cfg_;
  uv_loop_t loop_{};
  uv_signal_t sighup_{}, sigterm_{}, sigint_{};
  bool signals_ = false;
  std::unique_ptr<http::Server> http_;
  std::unique_ptr<ipc::Server> control_;
  std::string socket_path_;
  std::string listen_host_;
  int64_t started_mono_ = 0;
  int64_t started_wall_ = 0;
  int64_t reloads_ = 0;
  bool draining_ = false;
  int exit_code_ = 0;
};

}  // namespace

int CheckConfig(const Options& opts) {
  auto cfg = Load(opts);
  if (!cfg.ok()) {
    std::fprintf(stderr, "%s: %s\n", opts.program.c_str(), cfg.error().message.c_str());
    return base::kExitConfig;
  }
  std::printf("configuration OK\n");
  return 0;
}

int DumpConfig(const Options& opts) {
  auto cfg = Load(opts);
  if (!cfg.ok()) {
    std::fprintf(stderr, "%s: %s\n", opts.program.c_str(), cfg.error().message.c_str());
    return base::kExitConfig;
  }
  std::fputs(config::Dump(*cfg, config::DumpOptions{}).c_str(), stdout);
  return 0;
}

int Run(const Options& opts, Service& service) {
  base::SetLogTag(opts.program.c_str());
  base::SetLogVerbosity(opts.verbosity);
  std::signal(SIGPIPE, SIG_IGN);
  auto cfg = Load(opts);
  if (!cfg.ok()) {
    LOG_ERROR("%s", cfg.error().message.c_str());
    return base::kExitConfig;
  }
  base::SetLogVerbosity(LevelVerbosity(cfg->GetString("log.level"), opts.verbosity));
  Daemon d(opts, service, std::move(*cfg));
  return d.Main();
}

}  // namespace collab::daemon
