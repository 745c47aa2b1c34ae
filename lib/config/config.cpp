// The Config value holder and its getters.
#include "lib/config/config.hpp"

#include <cstdio>
#include <cstdlib>

#include "lib/base/fs.hpp"

namespace collab::config {
namespace {

// Asking for a key that does not exist, or with the wrong type, is a bug in the caller; no
// configuration file can cause it, so it aborts (also in release builds) instead of returning.
[[noreturn]] void Misuse(std::string_view what, std::string_view key) {
  std::fprintf(stderr, "collab::config: %.*s '%.*s'\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(key.size()), key.data());
  std::abort();
}

const std::string& EmptyString() {
  static const std::string empty;
  return empty;
}

}  // namespace

Config::Config() : Config(Registry()) {}

Config::Config(const std::vector<KeyDef>& registry) : registry_(&registry) {
  values_.reserve(registry.size());
  for (const KeyDef& k : registry) values_.push_back(k.default_value);
  origins_.resize(registry.size());
}

size_t Config::IndexOf(std::string_view key) const {
  const KeyDef* def = FindKeyIn(*registry_, key);
  if (!def) Misuse("unknown key", key);
  return static_cast<size_t>(def - registry_->data());
}

const Value& Config::Get(std::string_view key) const { return values_[IndexOf(key)]; }

const std::string& Config::GetString(std::string_view key) const {
  const Value& v = Get(key);
  if (!std::holds_alternative<std::string>(v)) Misuse("not a string key", key);
  return std::get<std::string>(v);
}

int64_t Config::GetInt(std::string_view key) const {
  const Value& v = Get(key);
  if (!std::holds_alternative<int64_t>(v)) Misuse("not an integer key", key);
  return std::get<int64_t>(v);
}

bool Config::GetBool(std::string_view key) const {
  const Value& v = Get(key);
  if (!std::holds_alternative<bool>(v)) Misuse("not a boolean key", key);
  return std::get<bool>(v);
}

const StringList& Config::GetStringList(std::string_view key) const {
  const Value& v = Get(key);
  if (!std::holds_alternative<StringList>(v)) Misuse("not a string list key", key);
  return std::get<StringList>(v);
}

std::string Config::GetPath(std::string_view key) const {
  size_t i = IndexOf(key);
  const std::string& v = GetString(key);
  return (*registry_)[i].is_path ? ResolvePath(v) : v;
}

std::string Config::ResolvePath(const std::string& path) const {
  if (path.empty() || path.front() == '/' || base_dir_.empty()) return path;
  return base::JoinPath(base_dir_, path);
}

bool Config::IsDefault(std::string_view key) const {
  size_t i = IndexOf(key);
  return values_[i] == (*registry_)[i].default_value;
}

const std::string& Config::Origin(std::string_view key) const {
  size_t i = IndexOf(key);
  return i < origins_.size() ? origins_[i] : EmptyString();
}

std::string Config::ControlSocketPath(std::string_view program_section) const {
  std::string key = std::string(program_section) + ".control_socket";
  std::string path = GetPath(key);
  if (!path.empty()) return path;
  return base::JoinPath(GetPath("paths.run_dir"), "collab-" + std::string(program_section) + ".sock");
}

}  // namespace collab::config
