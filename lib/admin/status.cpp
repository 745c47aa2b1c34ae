#include <cstdio>

#include "lib/admin/common.hpp"
#include "lib/base/json.hpp"
#include "lib/ipc/client.hpp"

namespace collab::admin {

namespace {

constexpr int kTimeoutMs = 5000;

std::string Uptime(int64_t s) {
  char buf[64];
  if (s < 60) std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  else if (s < 86400) std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600), static_cast<long long>(s / 60 % 60));
  else std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400), static_cast<long long>(s / 3600 % 24));
  return buf;
}

base::Status CheckDaemonName(const std::string& d) {
  for (const auto& known : DaemonSections())
    if (d == known) return base::Ok();
  return base::Error{base::kExitUsage, "unknown daemon '" + d + "' (expected chatd, sfu or stream)"};
}

base::Result<base::Json> Ask(const config::Config& cfg, const std::string& section, const std::string& verb) {
  std::string path = cfg.ControlSocketPath(section);
  auto client = ipc::Client::Connect(path, kTimeoutMs);
  if (!client.ok()) return client.error();
  return client->Call(verb, base::Json::MakeObject(), kTimeoutMs);
}

}  // namespace

const std::vector<std::string>& DaemonSections() {
  static const std::vector<std::string> k = {"chatd", "sfu", "stream"};
  return k;
}

int Status(const GlobalOptions& g, std::vector<std::string> daemons) {
  auto cfg = LoadConfig(g);
  if (!cfg.ok()) return Fail(cfg.error());
  if (daemons.empty()) daemons = DaemonSections();
  for (const auto& d : daemons) {
    auto st = CheckDaemonName(d);
    if (!st.ok()) return Fail(st.error());
  }
  int rc = 0;
  for (const auto& d : daemons) {
    auto r = Ask(*cfg, d, "status");
    if (!r.ok()) {
      rc = r.error().code == base::kExitNoPerm ? base::kExitNoPerm : base::kExitUnavailable;
      if (g.json) {
        std::printf("%s\n", base::Json::Obj({{"program", "collab-" + d},
                                             {"running", false},
                                             {"error", r.error().message}})
                                .Dump()
                                .c_str());
      } else {
        const std::string& m = r.error().message;
        if (m.find("not running") != std::string::npos)
          std::printf("%s\n", m.c_str());
        else
          std::printf("collab-%-7s not running: %s\n", d.c_str(), m.c_str());
      }
      continue;
    }
    base::Json s = std::move(*r);
    if (g.json) {
      base::Json line = base::Json::Obj({{"running", true}});
      for (auto& [k, v] : s.as_object()) line.Set(k, v);
      std::printf("%s\n", line.Dump().c_str());
      continue;
    }
    std::string listeners;
    if (const base::Json* ls = s.Find("listeners")) {
      for (const auto& l : ls->as_array()) {
        if (!listeners.empty()) listeners += ", ";
        listeners += l.GetString("kind") + " " + l.GetString("address") + (l.GetBool("tls") ? " (tls)" : "");
      }
    }
    std::printf("collab-%-7s %s  version %s  pid %lld  up %s  connections %lld\n", d.c_str(),
                s.GetString("state", "running").c_str(), s.GetString("version").c_str(),
                static_cast<long long>(s.GetInt("pid")), Uptime(s.GetInt("uptime_s")).c_str(),
                static_cast<long long>(s.GetInt("connections")));
    std::printf("  config %s\n  listening %s\n", s.GetString("config_file").c_str(), listeners.c_str());
  }
  return rc;
}

int Reload(const GlobalOptions& g, const std::string& daemon) {
  auto cfg = LoadConfig(g);
  if (!cfg.ok()) return Fail(cfg.error());
  std::vector<std::string> targets;
  if (daemon == "all") {
    targets = DaemonSections();
  } else {
    auto st = CheckDaemonName(daemon);
    if (!st.ok()) return Fail(st.error());
    targets = {daemon};
  }
  int rc = 0;
  for (const auto& d : targets) {
    auto r = Ask(*cfg, d, "reload");
    if (!r.ok()) {
      // With "all", a daemon that is not running is reported but others still reload.
      Fail(r.error().code, "collab-" + d + ": " + r.error().message);
      if (rc == 0 || r.error().code == base::kExitConfig) rc = r.error().code;
      continue;
    }
    if (g.json) {
      std::printf("%s\n", base::Json::Obj({{"program", "collab-" + d}, {"reloaded", true}}).Dump().c_str());
    } else {
      std::printf("collab-%s reloaded\n", d.c_str());
    }
  }
  return rc;
}

}  // namespace collab::admin
