// Helpers shared by the admin verbs: loading the config the way the daemons do, calling a daemon's
// control socket, and printing errors in one format ("collab-admin: message").
#pragma once

#include <string>

#include "lib/admin/admin.hpp"
#include "lib/base/json.hpp"
#include "lib/base/result.hpp"
#include "lib/config/config.hpp"

namespace collab::admin {

base::Result<config::Config> LoadConfig(const GlobalOptions& g);
// Prints "collab-admin: <message>" to stderr and returns the error's exit code.
int Fail(const base::Error& e);
int Fail(int code, const std::string& message);

// One request to a daemon's control socket (connect, hello, call, close). Errors keep the
// daemon's sysexits code; a daemon that is not running gives kExitUnavailable.
base::Result<base::Json> CallDaemon(const config::Config& cfg, const std::string& section, const std::string& verb,
                                    const base::Json& args, int timeout_ms);
// The chat database directory: chatd.db_dir, or <paths.state_dir>/chat.db.
std::string ChatDbDir(const config::Config& cfg);
// Prints a JSON value as one line on stdout.
void PrintJson(const base::Json& j);

}  // namespace collab::admin
