#include "lib/admin/common.hpp"

#include <cstdio>

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

}  // namespace collab::admin
