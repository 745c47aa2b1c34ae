// Loading, checking, overriding and dumping collab.toml against the key registry.
// A Config holds a value for every registry key (defaults filled in), so callers never handle
// "missing". Every problem is an Error with code kExitConfig (78) and a message that points at
// the place to fix: "FILE:LINE:COL: ..." for the file, "-o key=value: ..." for overrides.
// Deliberately not here: watching the file, SIGHUP handling (lib/daemon reloads by loading
// again), and interpreting values (listen addresses, log levels) beyond validating them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.hpp"
#include "lib/config/registry.hpp"

namespace collab::config {

// Where the daemons look when no -c is given.
inline constexpr const char* kDefaultConfigPath = "/etc/collab/collab.toml";

// One `-o section.key=value`. The value is kept as typed on the command line and interpreted
// by the key's type when applied.
struct Override {
  std::string key;  // "chatd.listen"
  std::string value;
};

// Parses and checks "section.key=value" against the registry: the key must exist and the value
// must be valid for it. Values by type: int decimal; bool true/false/yes/no/on/off/1/0; string
// literally; list a TOML array literal (["a", "b"]) or comma separated (a, b; "" is empty).
[[nodiscard]] base::Result<Override> ParseOverride(std::string_view arg);
[[nodiscard]] base::Result<Override> ParseOverrideIn(const std::vector<KeyDef>& registry, std::string_view arg);

class Config {
 public:
  // Every key at its default, no source file (real registry).
  Config();
  // Every key of `registry` at its default; the registry must outlive the Config.
  explicit Config(const std::vector<KeyDef>& registry);

  // The file the values came from; empty when none.
  const std::string& source_path() const { return source_path_; }
  const std::vector<KeyDef>& registry() const { return *registry_; }

  // Getters abort on an unknown key or a key of another type: that is a programmer bug.
  const Value& Get(std::string_view key) const;
  const std::string& GetString(std::string_view key) const;
  int64_t GetInt(std::string_view key) const;
  bool GetBool(std::string_view key) const;
  const StringList& GetStringList(std::string_view key) const;
  // A string key's value; for a path key a relative value is resolved against the directory of
  // the config file (made absolute when loaded with LoadFile). Empty stays empty.
  std::string GetPath(std::string_view key) const;
  // Resolves a relative path the way GetPath does; empty and absolute paths are unchanged.
  std::string ResolvePath(const std::string& path) const;
  // True when the value equals the default (whether or not the file sets it).
  bool IsDefault(std::string_view key) const;
  // Where the value was set: "FILE:LINE:COL", "-o key=value", or "" for a default.
  const std::string& Origin(std::string_view key) const;

  // The control socket of a program section ("chatd"): <section>.control_socket, or when that
  // is empty <paths.run_dir>/collab-<section>.sock. Resolved like GetPath.
  std::string ControlSocketPath(std::string_view program_section) const;

 private:
  friend class Loader;
  size_t IndexOf(std::string_view key) const;

  const std::vector<KeyDef>* registry_;
  std::vector<Value> values_;
  std::vector<std::string> origins_;
  std::string source_path_;
  std::string base_dir_;  // for resolving relative path values; empty: leave them as they are
};

// Reads and checks a config file, then applies the overrides in order (a later one wins).
// A missing or unreadable file is a config error too (exit 78), naming the path.
[[nodiscard]] base::Result<Config> LoadFile(const std::string& path, const std::vector<Override>& overrides = {});
// The same for text already in memory. source_name is used in messages and, unless empty, as
// the file's path for resolving relative path values.
[[nodiscard]] base::Result<Config> LoadString(std::string_view text, const std::string& source_name,
                                              const std::vector<Override>& overrides = {});
// The same against another registry (tests; the registry must outlive the Config).
[[nodiscard]] base::Result<Config> LoadStringIn(const std::vector<KeyDef>& registry, std::string_view text,
                                                const std::string& source_name,
                                                const std::vector<Override>& overrides = {});
// Defaults plus overrides, for running without a config file.
[[nodiscard]] base::Result<Config> LoadDefaults(const std::vector<Override>& overrides = {});

struct DumpOptions {
  bool non_default_only = false;  // omit keys equal to their default, and sections left empty
  bool with_docs = false;         // a "# doc" comment above each key (collab-admin config defaults)
  // Write path keys as GetPath() gives them (absolute when loaded from a file); defaults are
  // then judged on the resolved value.
  bool resolve_paths = false;
};

// The config as TOML: sections in registry order, `key = value` lines. The output is itself a
// valid config, and loading it and dumping again gives the same bytes.
std::string Dump(const Config& config, const DumpOptions& options = {});

// TOML text for one value: a basic string with escapes, a decimal integer, true/false, or an
// array of strings. UTF-8 text is kept as is.
std::string FormatValue(const Value& value);

}  // namespace collab::config
