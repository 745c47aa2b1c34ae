#include "lib/admin/common.hpp"

#include <cstdio>

#include "lib/base/fs.hpp"
#include "lib/ipc/client.hpp"

namespace collab::admin {

base::Result<config::Config> LoadConfig(const GlobalOptions& g) {
  std::vector<config::Override> overrides;
  for (const auto& raw : g.overrides) {
    auto o = config::ParseOverride(raw);
    if (!o.ok()) return o.error();
    overrides.push_back(std::move(*o));
  }
  return config::LoadFile(g.config_path, overrides);
}

int Fail(const base::Error& e) { return Fail(e.code, e.message); }

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "collab-admin: %s\n", message.c_str());
  return code;
}

base::Result<base::Json> CallDaemon(const config::Config& cfg, const std::string& section, const std::string& verb,
                                    const base::Json& args, int timeout_ms) {
  auto client = ipc::Client::Connect(cfg.ControlSocketPath(section), 5000);
  if (!client.ok()) return client.error();
  return client->Call(verb, args, timeout_ms);
}

std::string ChatDbDir(const config::Config& cfg) {
  std::string dir = cfg.GetPath("chatd.db_dir");
  if (dir.empty()) dir = cfg.GetPath("paths.state_dir") + "/chat.db";  // as collab-chatd does
  return dir;
}

void PrintJson(const base::Json& j) { std::printf("%s\n", j.Dump().c_str()); }

}  // namespace collab::admin
