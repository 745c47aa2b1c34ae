// collab-admin's verbs. Each returns a process exit status (sysexits) and prints its own
// output: human text on stdout, or JSON (one object, or JSON Lines for lists) with --json.
// The command-line grammar lives in cmd/collab-admin; this module only does the work, so the
// verbs can be called from tests without a shell.
#pragma once

#include <string>
#include <vector>

namespace collab::admin {

struct GlobalOptions {
  std::string config_path;
  std::vector<std::string> overrides;  // -o key=value
  int verbosity = 0;
  bool json = false;
};

struct InitOptions {
  std::string state_dir, run_dir, web_dir, key_file;  // empty: keep the default
  bool force = false;
};

int Init(const GlobalOptions& g, const InitOptions& o);

int ConfigCheck(const GlobalOptions& g);
int ConfigShow(const GlobalOptions& g, bool non_default);
int ConfigDefaults(const GlobalOptions& g);

// daemons: "chatd", "sfu", "stream" (empty: all three).
int Status(const GlobalOptions& g, std::vector<std::string> daemons);
// daemon: one of the above or "all".
int Reload(const GlobalOptions& g, const std::string& daemon);

struct CertCaOptions {
  std::string dir;  // empty: <state_dir>/ca
  std::string common_name;
  bool force = false;
};
struct CertIssueOptions {
  std::string ca_dir;  // empty: <state_dir>/ca
  std::string cert, key;  // empty: <state_dir>/tls/server.{crt,key}
  std::vector<std::string> hosts;
};
int CertCa(const GlobalOptions& g, const CertCaOptions& o);
int CertIssue(const GlobalOptions& g, const CertIssueOptions& o);

// Hidden `__complete KIND`: live values for shell completions, one per line.
int Complete(const GlobalOptions& g, const std::string& kind);

// The daemons collab-admin can address, as config sections.
const std::vector<std::string>& DaemonSections();

}  // namespace collab::admin
