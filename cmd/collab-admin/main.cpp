// collab-admin: the admin CLI. The grammar `collab-admin AREA VERB [args]` is declared here as a
// table of CLI11 subcommands; each verb's work is a function in lib/admin.
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "lib/admin/admin.hpp"
#include "lib/base/exit_codes.hpp"
#include "lib/base/version.hpp"

namespace {

constexpr const char* kDefaultConfig = "/etc/collab/collab.toml";

}  // namespace

int main(int argc, char** argv) {
  using namespace collab;
  CLI::App app{"collab administration: configuration, status, reload, certificates", "collab-admin"};
  app.set_version_flag("--version", std::string("collab-admin ") + base::kVersion);
  app.require_subcommand(1);
  app.fallthrough();

  admin::GlobalOptions g;
  g.config_path = kDefaultConfig;
  app.add_option("-c,--config", g.config_path, "configuration file (default " + std::string(kDefaultConfig) + ")")
      ->envname("COLLAB_CONFIG")
      ->type_name("FILE");
  app.add_option("-o,--option", g.overrides, "override a configuration key")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  app.add_flag("-v,--verbose", g.verbosity, "more output (repeatable)");
  app.add_flag("--json", g.json, "machine-readable output (JSON, or JSON Lines for lists)");

  std::function<int()> action;

  // init
  admin::InitOptions init;
  auto* init_cmd = app.add_subcommand("init", "create the config file, state directory and token key");
  init_cmd->add_option("--state-dir", init.state_dir, "state directory")->type_name("DIR");
  init_cmd->add_option("--run-dir", init.run_dir, "directory for control sockets")->type_name("DIR");
  init_cmd->add_option("--web-dir", init.web_dir, "static files of the web app")->type_name("DIR");
  init_cmd->add_option("--key-file", init.key_file, "shared token key file")->type_name("FILE");
  init_cmd->add_flag("--force", init.force, "overwrite an existing config file");
  init_cmd->callback([&] { action = [&] { return admin::Init(g, init); }; });

  // config check|show|defaults
  auto* config_cmd = app.add_subcommand("config", "check or print the configuration");
  config_cmd->require_subcommand(1);
  config_cmd->add_subcommand("check", "validate the configuration file")->callback([&] {
    action = [&] { return admin::ConfigCheck(g); };
  });
  bool non_default = false;
  auto* show = config_cmd->add_subcommand("show", "print the effective configuration");
  show->add_flag("--non-default", non_default, "only keys that differ from their defaults");
  show->callback([&] { action = [&] { return admin::ConfigShow(g, non_default); }; });
  config_cmd->add_subcommand("defaults", "print every key with its default and documentation")->callback([&] {
    action = [&] { return admin::ConfigDefaults(g); };
  });

  // status [DAEMON...]
  std::vector<std::string> status_daemons;
  auto* status_cmd = app.add_subcommand("status", "show whether each daemon runs, with version, uptime and listeners");
  status_cmd->add_option("daemon", status_daemons, "chatd, sfu or stream (default: all)");
  status_cmd->callback([&] { action = [&] { return admin::Status(g, status_daemons); }; });

  // reload DAEMON
  std::string reload_daemon;
  auto* reload_cmd = app.add_subcommand("reload", "make a daemon re-read its configuration");
  reload_cmd->add_option("daemon", reload_daemon, "chatd, sfu, stream or all")->required();
  reload_cmd->callback([&] { action = [&] { return admin::Reload(g, reload_daemon); }; });

  // cert ca|issue
  auto* cert_cmd = app.add_subcommand("cert", "intranet certificate authority and server certificates");
  cert_cmd->require_subcommand(1);
  admin::CertCaOptions ca;
  auto* ca_cmd = cert_cmd->add_subcommand("ca", "create the intranet certificate authority");
  ca_cmd->add_option("--dir", ca.dir, "where to write ca.crt and ca.key (default STATE_DIR/ca)")->type_name("DIR");
  ca_cmd->add_option("--cn", ca.common_name, "the CA's common name")->type_name("NAME");
  ca_cmd->add_flag("--force", ca.force, "replace an existing CA");
  ca_cmd->callback([&] { action = [&] { return admin::CertCa(g, ca); }; });
  admin::CertIssueOptions issue;
  auto* issue_cmd = cert_cmd->add_subcommand("issue", "issue a server certificate for HOST names and addresses");
  issue_cmd->add_option("--dir", issue.ca_dir, "the CA directory (default STATE_DIR/ca)")->type_name("DIR");
  issue_cmd->add_option("--cert", issue.cert, "certificate output (default STATE_DIR/tls/server.crt)")->type_name("FILE");
  issue_cmd->add_option("--key", issue.key, "key output (default STATE_DIR/tls/server.key)")->type_name("FILE");
  issue_cmd->add_option("host", issue.hosts, "DNS names and IP addresses")->required();
  issue_cmd->callback([&] { action = [&] { return admin::CertIssue(g, issue); }; });

  // Hidden: live values for the shell completions.
  std::string complete_kind;
  auto* complete_cmd = app.add_subcommand("__complete", "");
  complete_cmd->group("");
  complete_cmd->add_option("kind", complete_kind)->required();
  complete_cmd->callback([&] { action = [&] { return admin::Complete(g, complete_kind); }; });

  for (auto* sub : {init_cmd, config_cmd, status_cmd, reload_cmd, cert_cmd, complete_cmd}) sub->fallthrough();
  for (auto* sub : config_cmd->get_subcommands({})) sub->fallthrough();
  for (auto* sub : cert_cmd->get_subcommands({})) sub->fallthrough();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : base::kExitUsage;
  }
  if (!action) return base::kExitUsage;
  return action();
}
