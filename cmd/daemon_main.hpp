// The command line every collab daemon shares (-c -o -t -T -v --version). Included only by
// cmd/*/main.cpp: CLI11 is header-only and expensive to compile, so it stays out of lib/.
#pragma once

#include <cstdlib>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "lib/base/exit_codes.hpp"
#include "lib/base/version.hpp"
#include "lib/daemon/daemon.hpp"

namespace collab::cmd {

inline constexpr const char* kDefaultConfig = "/etc/collab/collab.toml";

inline int DaemonMain(int argc, char** argv, const char* program, const char* section, const char* about,
                      daemon::Service& service) {
  CLI::App app{about, program};
  app.set_version_flag("--version", std::string(program) + " " + base::kVersion);
  daemon::Options o;
  o.program = program;
  o.section = section;
  o.config_path = kDefaultConfig;
  bool check = false, dump = false;
  app.add_option("-c,--config", o.config_path, "configuration file (default " + std::string(kDefaultConfig) + ")")
      ->envname("COLLAB_CONFIG")
      ->type_name("FILE");
  app.add_option("-o,--option", o.overrides, "override a configuration key, e.g. -o chatd.listen=127.0.0.1:9000")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  app.add_flag("-t,--check-config", check, "check the configuration and exit (0 if valid, 78 if not)");
  app.add_flag("-T,--dump-config", dump, "print the effective configuration as TOML and exit");
  app.add_flag("-v,--verbose", o.verbosity, "log more (repeatable)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : base::kExitUsage;
  }
  if (check) return daemon::CheckConfig(o);
  if (dump) return daemon::DumpConfig(o);
  return daemon::Run(o, service);
}

}  // namespace collab::cmd
