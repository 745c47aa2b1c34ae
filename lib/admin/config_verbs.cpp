#include <cstdio>
#include <utility>
#include <vector>

#include "lib/admin/common.hpp"
#include "lib/base/json.hpp"

namespace collab::admin {

namespace {

base::Json ConfigJson(const config::Config& cfg, bool non_default) {
  base::Json out = base::Json::MakeObject();
  for (const auto& def : config::Registry()) {
    std::string full = def.FullName();
    if (non_default && cfg.IsDefault(full)) continue;
    base::Json v;
    switch (def.type) {
      case config::KeyType::kString: v = cfg.GetString(full); break;
      case config::KeyType::kInt: v = cfg.GetInt(full); break;
      case config::KeyType::kBool: v = cfg.GetBool(full); break;
      case config::KeyType::kStringList: {
        v = base::Json::MakeArray();
        for (const auto& s : cfg.GetStringList(full)) v.Push(s);
        break;
      }
    }
    out[std::string(def.section)].Set(def.name, std::move(v));
  }
  return out;
}

}  // namespace

int ConfigCheck(const GlobalOptions& g) {
  auto cfg = LoadConfig(g);
  if (!cfg.ok()) return Fail(cfg.error());
  if (g.json) {
    std::printf("%s\n", base::Json::Obj({{"ok", true}, {"config_file", cfg->source_path()}}).Dump().c_str());
  } else {
    std::printf("configuration OK\n");
  }
  return 0;
}

int ConfigShow(const GlobalOptions& g, bool non_default) {
  auto cfg = LoadConfig(g);
  if (!cfg.ok()) return Fail(cfg.error());
  if (g.json) {
    std::printf("%s\n", ConfigJson(*cfg, non_default).Dump().c_str());
    return 0;
  }
  config::DumpOptions o;
  o.non_default_only = non_default;
  std::fputs(config::Dump(*cfg, o).c_str(), stdout);
  return 0;
}

int ConfigDefaults(const GlobalOptions& g) {
  auto cfg = config::LoadDefaults();
  if (!cfg.ok()) return Fail(cfg.error());
  if (g.json) {
    for (const auto& def : config::Registry()) {
      base::Json line = ConfigJson(*cfg, false)[std::string(def.section)][std::string(def.name)];
      std::printf("%s\n", base::Json::Obj({{"key", def.FullName()},
                                           {"type", config::TypeName(def)},
                                           {"default", line},
                                           {"doc", std::string(def.doc)}})
                              .Dump()
                              .c_str());
    }
    return 0;
  }
  config::DumpOptions o;
  o.with_docs = true;
  std::fputs(config::Dump(*cfg, o).c_str(), stdout);
  return 0;
}

int Complete(const GlobalOptions& g, const std::string& kind) {
  static const std::vector<std::pair<std::string, std::vector<const char*>>> kWords = {
      {"areas",
       {"init", "config", "status", "reload", "cert", "user", "room", "retention", "backup", "restore", "audit",
        "webhook", "helpdesk", "stream", "token"}},
      {"verbs:webhook", {"add", "list", "remove"}},
      {"verbs:stream", {"list", "kick", "record", "recordings"}},
      {"verbs:helpdesk", {"add", "list", "stats"}},
      {"verbs:config", {"check", "show", "defaults"}},
      {"verbs:cert", {"ca", "issue"}},
      {"verbs:user",
       {"add", "list", "show", "disable", "enable", "set-role", "passwd", "import", "token", "ldap-sync"}},
      {"verbs:room", {"create", "list", "show", "archive", "unarchive", "members", "set"}},
      {"verbs:members", {"add", "remove"}},
      {"verbs:retention", {"apply"}},
      {"user-roles", {"user", "admin"}},
      {"room-kinds", {"public", "private", "announcement"}},
      {"room-roles", {"member", "moderator", "owner"}},
  };
  for (const auto& [k, words] : kWords) {
    if (k != kind) continue;
    for (const char* w : words) std::printf("%s\n", w);
    return 0;
  }
  if (kind == "daemons") {
    for (const auto& d : DaemonSections()) std::printf("%s\n", d.c_str());
  } else if (kind == "users" || kind == "rooms") {
    // Live values from a running collab-chatd; nothing (and success) when it does not answer,
    // so a completion simply offers no candidates.
    auto cfg = LoadConfig(g);
    if (!cfg.ok()) return 0;
    bool users = kind == "users";
    auto r = CallDaemon(*cfg, "chatd", users ? "user.list" : "room.list", base::Json::MakeObject(), 3000);
    if (!r.ok()) return 0;
    if (const base::Json* list = r->Find(users ? "users" : "rooms"))
      for (const auto& x : list->as_array())
        if (users || x.GetString("kind") != "dm") std::printf("%s\n", x.GetString("id").c_str());
  } else if (kind == "keys-mdoc") {
    // The key reference of collab.toml(5), generated from the registry (scripts/gen-man-keys.sh).
    std::fputs(config::RegistryMdoc().c_str(), stdout);
  } else if (kind == "keys") {
    for (const auto& def : config::Registry()) std::printf("%s\n", def.FullName().c_str());
  } else {
    return Fail(base::kExitUsage, "unknown completion kind '" + kind + "'");
  }
  return 0;
}

}  // namespace collab::admin
