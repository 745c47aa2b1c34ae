// Helpers shared by the admin verbs: loading the config the way the daemons do, and printing
// errors in one format ("collab-admin: message").
#pragma once

#include <string>

#include "lib/admin/admin.hpp"
#include "lib/base/result.hpp"
#include "lib/config/config.hpp"

namespace collab::admin {

base::Result<config::Config> LoadConfig(const GlobalOptions& g);
// Prints "collab-admin: <message>" to stderr and returns the error's exit code.
int Fail(const base::Error& e);
int Fail(int code, const std::string& message);

}  // namespace collab::admin
