// Reading collab.toml with toml++ and applying -o overrides. This file and value.cpp are the
// only ones that see toml++; every toml++ exception is caught here and becomes an Error that
// keeps the file:line:col.
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <exception>
#include <new>
#include <optional>
#include <utility>

#include <toml++/toml.h>

#include "lib/base/fs.hpp"
#include "lib/config/config.hpp"
#include "lib/config/internal.hpp"

namespace collab::config {

using base::Error;
using base::Result;
using internal::ConfigError;
using internal::Printable;

namespace {

// Larger than any sane config; stops a wrong -c (a disk image, /dev/zero) early.
constexpr size_t kMaxConfigBytes = 1024 * 1024;

struct Problem {
  uint32_t line = 0;
  uint32_t column = 0;
  std::string message;  // already prefixed with the position
};

std::string Position(const std::string& name, const toml::source_position& p) {
  if (!p) return name;
  return name + ":" + std::to_string(p.line) + ":" + std::to_string(p.column);
}

// The key's own position when toml++ recorded one, else its value's.
toml::source_position KeyPosition(const toml::key& k, const toml::node& n) {
  return k.source().begin ? k.source().begin : n.source().begin;
}

// The value of a node if it has the key's type, else nullopt.
std::optional<Value> Convert(const KeyDef& def, const toml::node& n) {
  switch (def.type) {
    case KeyType::kString:
      if (const auto* s = n.as_string()) return Value{s->get()};
      return std::nullopt;
    case KeyType::kInt:
      if (const auto* i = n.as_integer()) return Value{static_cast<int64_t>(i->get())};
      return std::nullopt;
    case KeyType::kBool:
      if (const auto* b = n.as_boolean()) return Value{b->get()};
      return std::nullopt;
    case KeyType::kStringList: {
      const auto* arr = n.as_array();
      if (!arr) return std::nullopt;
      StringList list;
      for (const toml::node& e : *arr) {
        const auto* s = e.as_string();
        if (!s) return std::nullopt;
        list.push_back(s->get());
      }
      return Value{std::move(list)};
    }
  }
  return std::nullopt;
}

std::string TypeMessage(const KeyDef& def) {
  std::string q = "'" + def.FullName() + "'";
  switch (def.type) {
    case KeyType::kString:
      return q + " must be a string";
    case KeyType::kInt:
      return q + " must be an integer";
    case KeyType::kBool:
      return q + " must be true or false";
    case KeyType::kStringList:
      return q + " must be an array of strings";
  }
  return q + " has the wrong type";
}

}  // namespace

class Loader {
 public:
  static Result<Config> Load(const std::vector<KeyDef>& registry, std::string_view text, const std::string& source_name,
                             const std::string& base_dir, const std::vector<Override>& overrides) {
    Config config(registry);
    config.source_path_ = source_name;
    config.base_dir_ = base_dir;
    const std::string name = source_name.empty() ? "<config>" : source_name;

    if (!text.empty()) {
      toml::table table;
      try {
        table = toml::parse(text, std::string{name});
      } catch (const toml::parse_error& e) {
        return ConfigError(Position(name, e.source().begin) + ": " + Printable(e.description()));
      } catch (const std::bad_alloc&) {
        return ConfigError(name + ": out of memory while parsing");
      } catch (const std::exception& e) {
        return ConfigError(name + ": " + e.what());
      }
      std::vector<Problem> problems;
      ReadTable(config, table, name, &problems);
      if (!problems.empty()) {
        // toml++ iterates keys sorted by name; report what comes first in the file instead.
        const Problem* first = &problems[0];
        for (const Problem& p : problems)
          if (std::pair(p.line, p.column) < std::pair(first->line, first->column)) first = &p;
        return ConfigError(first->message);
      }
    }

    for (const Override& o : overrides) {
      std::string arg = "-o " + Printable(o.key) + "=" + Printable(o.value);
      const KeyDef* def = FindKeyIn(registry, o.key);
      if (!def)
        return ConfigError(arg + ": unknown key '" + Printable(o.key) + "'" + internal::SuggestKey(registry, o.key));
      Value v;
      std::string m = internal::ParseValueText(*def, o.value, &v);
      if (!m.empty()) return ConfigError(arg + ": " + m);
      size_t i = static_cast<size_t>(def - registry.data());
      config.values_[i] = std::move(v);
      config.origins_[i] = arg;
    }

    COLLAB_TRY(internal::CheckWholeConfig(config));
    return config;
  }

 private:
  static void Add(std::vector<Problem>* out, const std::string& name, const toml::source_position& p,
                  std::string message) {
    out->push_back(Problem{p.line, p.column, Position(name, p) + ": " + std::move(message)});
  }

  static void ReadTable(Config& config, const toml::table& table, const std::string& name,
                        std::vector<Problem>* problems) {
    const std::vector<KeyDef>& registry = *config.registry_;
    const std::vector<std::string> sections = Sections(registry);
    for (auto&& [key, node] : table) {
      const std::string section(key.str());
      const toml::source_position pos = KeyPosition(key, node);
      const bool known = std::find(sections.begin(), sections.end(), section) != sections.end();
      const toml::table* body = node.as_table();
      if (!body) {
        if (node.is_array_of_tables()) {
          Add(problems, name, pos,
              known ? "[[" + section + "]] must be written [" + section + "]"
                    : "unknown section [" + Printable(section) + "]" + internal::SuggestSection(registry, section));
        } else {
          Add(problems, name, pos,
              known ? "'" + section + "' is a section: write [" + section + "]"
                    : "key '" + Printable(section) + "' must be inside a section such as [" + sections.front() + "]");
        }
        continue;
      }
      if (!known) {
        Add(problems, name, pos,
            "unknown section [" + Printable(section) + "]" + internal::SuggestSection(registry, section));
        continue;
      }
      for (auto&& [k, v] : *body) {
        const std::string full = section + "." + std::string(k.str());
        const KeyDef* def = FindKeyIn(registry, full);
        if (!def) {
          Add(problems, name, KeyPosition(k, v),
              "unknown key '" + Printable(full) + "'" + internal::SuggestKey(registry, full));
          continue;
        }
        const toml::source_position vpos = v.source().begin ? v.source().begin : KeyPosition(k, v);
        std::optional<Value> value = Convert(*def, v);
        if (!value) {
          Add(problems, name, vpos, TypeMessage(*def));
          continue;
        }
        std::string m = internal::CheckValue(*def, *value);
        if (!m.empty()) {
          Add(problems, name, vpos, std::move(m));
          continue;
        }
        size_t i = static_cast<size_t>(def - registry.data());
        config.values_[i] = std::move(*value);
        config.origins_[i] = Position(name, KeyPosition(k, v));
      }
    }
  }
};

Result<Override> ParseOverrideIn(const std::vector<KeyDef>& registry, std::string_view arg) {
  std::string shown = "-o " + Printable(arg);
  size_t eq = arg.find('=');
  if (eq == std::string_view::npos) return ConfigError(shown + ": expected section.key=value");
  std::string_view key = arg.substr(0, eq);
  while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.remove_suffix(1);
  while (!key.empty() && (key.front() == ' ' || key.front() == '\t')) key.remove_prefix(1);
  std::string_view value = arg.substr(eq + 1);
  const KeyDef* def = FindKeyIn(registry, key);
  if (!def) {
    if (key.find('.') == std::string_view::npos)
      return ConfigError(shown + ": expected section.key=value, not '" + Printable(key) + "'");
    return ConfigError(shown + ": unknown key '" + Printable(key) + "'" + internal::SuggestKey(registry, key));
  }
  Value v;
  std::string m = internal::ParseValueText(*def, value, &v);
  if (!m.empty()) return ConfigError(shown + ": " + m);
  return Override{def->FullName(), std::string(value)};
}

Result<Override> ParseOverride(std::string_view arg) { return ParseOverrideIn(Registry(), arg); }

Result<Config> LoadStringIn(const std::vector<KeyDef>& registry, std::string_view text, const std::string& source_name,
                            const std::vector<Override>& overrides) {
  std::string base_dir = source_name.empty() ? std::string() : base::DirName(source_name);
  return Loader::Load(registry, text, source_name, base_dir, overrides);
}

Result<Config> LoadString(std::string_view text, const std::string& source_name,
                          const std::vector<Override>& overrides) {
  return LoadStringIn(Registry(), text, source_name, overrides);
}

Result<Config> LoadDefaults(const std::vector<Override>& overrides) {
  return Loader::Load(Registry(), "", "", "", overrides);
}

Result<Config> LoadFile(const std::string& path, const std::vector<Override>& overrides) {
  auto text = base::ReadFile(path, kMaxConfigBytes);
  // -t promises exit 78 for every config problem, a missing file included.
  if (!text.ok()) return ConfigError(text.error().message);
  // Relative path values must keep their meaning if the program changes directory later.
  std::string absolute = path;
  if (!path.empty() && path.front() != '/') {
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof cwd)) absolute = base::JoinPath(cwd, path);
  }
  return Loader::Load(Registry(), *text, path, base::DirName(absolute), overrides);
}

}  // namespace collab::config
