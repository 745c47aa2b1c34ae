// `collab-admin token`: mints a v1 token with the shared key file, without asking collab-chatd,
// so scripts can call collab-sfu and collab-stream (which verify tokens locally).
#include <cstdio>
#include <ctime>

#include "lib/admin/common.hpp"
#include "lib/auth/token.hpp"
#include "lib/base/json.hpp"

namespace collab::admin {

int Token(const GlobalOptions& g, const TokenOptions& o) {
  if (o.user.empty()) return Fail(base::kExitUsage, "--user is required");
  if (o.ttl_s < 1 || o.ttl_s > 366LL * 86400) return Fail(base::kExitUsage, "--ttl must be 1 to 31622400 seconds");
  auto cfg = LoadConfig(g);
  if (!cfg.ok()) return Fail(cfg.error());
  std::string key_file = cfg->GetPath("auth.key_file");
  auto key = auth::LoadKeyFile(key_file);
  if (!key.ok()) return Fail(key.error());
  auth::TokenClaims c;
  c.sub = o.user;
  c.name = o.name.empty() ? o.user : o.name;
  c.scope = o.scopes;
  c.iat = static_cast<int64_t>(::time(nullptr));
  c.exp = c.iat + o.ttl_s;
  auto tok = auth::MintToken(*key, c);
  if (!tok.ok()) return Fail(tok.error());
  if (g.json) {
    base::Json scope = base::Json::MakeArray();
    for (const auto& s : o.scopes) scope.Push(s);
    PrintJson(base::Json::Obj({{"token", *tok}, {"sub", c.sub}, {"name", c.name}, {"scope", scope}, {"exp", c.exp}}));
  } else {
    std::printf("%s\n", tok->c_str());
  }
  return 0;
}

}  // namespace collab::admin
