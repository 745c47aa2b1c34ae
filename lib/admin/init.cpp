#include <cstdio>
#include <string>

#include <sys/random.h>

#include "lib/admin/common.hpp"
#include "lib/base/fs.hpp"

namespace collab::admin {

namespace {

base::Status WriteKey(const std::string& path) {
  unsigned char raw[32];
  size_t got = 0;
  while (got < sizeof raw) {
    ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
    if (n < 0) return base::Error{base::kExitOsErr, "getrandom failed"};
    got += static_cast<size_t>(n);
  }
  static const char* hex = "0123456789abcdef";
  std::string text;
  for (unsigned char c : raw) {
    text += hex[c >> 4];
    text += hex[c & 15];
  }
  text += '\n';
  return base::WriteFileAtomic(path, text, 0600);
}

}  // namespace

int Init(const GlobalOptions& g, const InitOptions& o) {
  if (base::PathExists(g.config_path) && !o.force)
    return Fail(base::kExitCantCreat, g.config_path + " exists; use --force to overwrite it");

  std::vector<config::Override> overrides;
  auto add = [&](const char* key, const std::string& value) -> base::Status {
    if (value.empty()) return base::Ok();
    auto ov = config::ParseOverride(std::string(key) + "=" + value);
    if (!ov.ok()) return ov.error();
    overrides.push_back(*ov);
    return base::Ok();
  };
  for (const auto& raw : g.overrides) {
    auto ov = config::ParseOverride(raw);
    if (!ov.ok()) return Fail(ov.error());
    overrides.push_back(*ov);
  }
  for (auto [k, v] : {std::pair{"paths.state_dir", &o.state_dir}, {"paths.run_dir", &o.run_dir},
                      {"paths.web_dir", &o.web_dir}, {"auth.key_file", &o.key_file}}) {
    auto st = add(k, *v);
    if (!st.ok()) return Fail(st.error());
  }
  // The new file is made from the registry, so it documents every key and always validates.
  auto cfg = config::LoadString("", g.config_path, overrides);
  if (!cfg.ok()) return Fail(cfg.error());
  config::DumpOptions dopt;
  dopt.with_docs = true;
  std::string text = "# collab configuration, written by collab-admin init. See collab.toml(5).\n\n" +
                     config::Dump(*cfg, dopt);

  auto st = base::MakeDirs(base::DirName(g.config_path), 0755);
  if (!st.ok()) return Fail(st.error());
  st = base::WriteFileAtomic(g.config_path, text, 0644);
  if (!st.ok()) return Fail(st.error());
  // Re-load from disk so relative paths resolve exactly as the daemons will resolve them.
  auto written = config::LoadFile(g.config_path, {});
  if (!written.ok()) return Fail(written.error());
  std::printf("wrote %s\n", g.config_path.c_str());

  for (auto [key, mode] : {std::pair{"paths.state_dir", 0750u}, {"paths.run_dir", 0755u}}) {
    std::string dir = written->GetPath(key);
    st = base::MakeDirs(dir, mode);
    if (!st.ok()) return Fail(st.error());
    std::printf("directory %s\n", dir.c_str());
  }
  std::string key = written->GetPath("auth.key_file");
  if (base::PathExists(key)) {
    std::printf("kept existing token key %s\n", key.c_str());
  } else {
    st = base::MakeDirs(base::DirName(key), 0755);
    if (st.ok()) st = WriteKey(key);
    if (!st.ok()) return Fail(st.error());
    std::printf("created token key %s (mode 0600)\n", key.c_str());
  }
  return 0;
}

}  // namespace collab::admin
