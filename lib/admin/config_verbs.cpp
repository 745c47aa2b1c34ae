#include <cstdio>

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
  if (kind == "daemons") {
    for (const auto& d : DaemonSections()) std::printf("%s\n", d.c_str());
  } else if (kind == "areas") {
    for (const char* a : {"init", "config", "status", "reload", "cert"}) std::printf("%s\n", a);
  } else if (kind == "verbs:config") {
    for (const char* a : {"check", "show", "defaults"}) std::printf("%s\n", a);
  } else if (kind == "verbs:cert") {
    for (const char* a : {"ca", "issue"}) std::printf("%s\n", a);
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
