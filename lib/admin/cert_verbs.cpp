#include <cstdio>

#include "lib/admin/cert.hpp"
#include "lib/admin/common.hpp"
#include "lib/base/fs.hpp"
#include "lib/base/json.hpp"

namespace collab::admin {

int CertCa(const GlobalOptions& g, const CertCaOptions& o) {
  std::string dir = o.dir;
  if (dir.empty()) {
    auto cfg = LoadConfig(g);
    if (!cfg.ok()) return Fail(cfg.error());
    dir = base::JoinPath(cfg->GetPath("paths.state_dir"), "ca");
  }
  CaOptions co;
  if (!o.common_name.empty()) co.common_name = o.common_name;
  co.force = o.force;
  auto st = CreateCa(dir, co);
  if (!st.ok()) return Fail(st.error());
  if (g.json) {
    std::printf("%s\n", base::Json::Obj({{"ca_cert", dir + "/ca.crt"}, {"ca_key", dir + "/ca.key"}}).Dump().c_str());
  } else {
    std::printf("created %s/ca.crt (install it on staff PCs as a trusted root) and %s/ca.key (mode 0600)\n",
                dir.c_str(), dir.c_str());
  }
  return 0;
}

int CertIssue(const GlobalOptions& g, const CertIssueOptions& o) {
  if (o.hosts.empty()) return Fail(base::kExitUsage, "cert issue needs at least one HOST");
  std::string ca_dir = o.ca_dir, cert = o.cert, key = o.key;
  if (ca_dir.empty() || cert.empty() || key.empty()) {
    auto cfg = LoadConfig(g);
    if (!cfg.ok()) return Fail(cfg.error());
    std::string state = cfg->GetPath("paths.state_dir");
    if (ca_dir.empty()) ca_dir = base::JoinPath(state, "ca");
    if (cert.empty()) cert = base::JoinPath(state, "tls/server.crt");
    if (key.empty()) key = base::JoinPath(state, "tls/server.key");
  }
  for (const auto& f : {cert, key}) {
    auto st = base::MakeDirs(base::DirName(f), 0755);
    if (!st.ok()) return Fail(st.error());
  }
  auto st = IssueCert(ca_dir, o.hosts, cert, key, IssueOptions{});
  if (!st.ok()) return Fail(st.error());
  if (g.json) {
    std::printf("%s\n", base::Json::Obj({{"cert", cert}, {"key", key}}).Dump().c_str());
  } else {
    std::printf("issued %s and %s; set tls_cert/tls_key and run `collab-admin reload all`\n", cert.c_str(),
                key.c_str());
  }
  return 0;
}

}  // namespace collab::admin
