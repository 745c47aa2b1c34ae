// The skeleton under every collab daemon (after Postfix's multi_server): it loads the config,
// binds the HTTP listener and the control socket, wires signals (SIGHUP reload, SIGTERM/SIGINT
// drain), answers the common control verbs (status, reload) and talks to systemd. A program
// only declares its Service. It deliberately knows nothing of chat, meetings or streaming.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <uv.h>

#include "lib/base/json.hpp"
#include "lib/base/result.hpp"

namespace collab::config { class Config; }
namespace collab::http { class Server; }
namespace collab::ipc { class Server; }

namespace collab::daemon {

// What the command line said.
struct Options {
  std::string program;      // "collab-chatd"
  std::string section;      // config section: "chatd"
  std::string config_path;  // -c
  std::vector<std::string> overrides;  // -o key=value, raw
  int verbosity = 0;        // -v count
};

class Context;

class Service {
 public:
  virtual ~Service() = default;
  // Called once the HTTP listener and control socket exist: register routes and verbs here.
  virtual base::Status Start(Context& ctx) = 0;
  // A new config was loaded and validated; return an error to reject it (the old one stays).
  virtual base::Status Reload(Context& ctx, const config::Config& next) { return base::Ok(); }
  // Stop taking work and finish what is in flight, then call done (on the loop).
  virtual void Drain(Context& ctx, std::function<void()> done) { done(); }
  // Largest request body any route of this service takes (uploads); 0 = <section>.max_body_bytes.
  // Routes with smaller limits check them themselves.
  virtual size_t MaxUploadBytes(const config::Config& cfg) const { return 0; }
  // Directory of static files the HTTP listener serves ("" = none).
  virtual std::string StaticDir(const config::Config& cfg) const { return ""; }
  // Adds service-specific fields to the `status` reply.
  virtual void AddStatus(const Context& ctx, base::Json& status) const {}
};

class Context {
 public:
  virtual ~Context() = default;
  virtual uv_loop_t* loop() = 0;
  virtual const config::Config& config() const = 0;
  virtual http::Server& http() = 0;
  virtual ipc::Server& control() = 0;
  virtual const Options& options() const = 0;
};

// Runs the daemon until drained; returns the process exit status (sysexits).
int Run(const Options& opts, Service& service);

// -t: prints "configuration OK" (exit 0) or the error (exit 78).
int CheckConfig(const Options& opts);
// -T: prints the effective config (exit 0) or the error (exit 78).
int DumpConfig(const Options& opts);

}  // namespace collab::daemon
