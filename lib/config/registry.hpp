// The key registry: every configuration key of every program, declared once with its section,
// type, default, one line of doc and its validation. It is the single source for loading and
// checking collab.toml, for `-T` / `collab-admin config defaults`, and for the key list in
// collab.toml(5). Deliberately plain data: no toml++ types here (see config.hpp for loading),
// and no per-program logic beyond what a key's declaration can say.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace collab::config {

enum class KeyType { kString, kInt, kBool, kStringList };

// One key's value; the alternative in use always matches the key's KeyType.
using StringList = std::vector<std::string>;
using Value = std::variant<std::string, int64_t, bool, StringList>;

// Extra check of a value that already has the right type and passed min/max/choices.
// Returns "" when the value is fine, else the rest of a sentence that starts with the key's
// name, e.g. "must be HOST:PORT".
using Validator = std::string (*)(const Value& value);

struct KeyDef {
  std::string section;  // "chatd"
  std::string name;     // "listen"
  KeyType type = KeyType::kString;
  Value default_value;
  std::string doc;  // one line, no trailing period: shown as a comment and in the man page
  // Path keys: a relative value is resolved against the directory of the config file.
  bool is_path = false;
  std::optional<int64_t> min;  // kInt only
  std::optional<int64_t> max;  // kInt only
  // kString / kStringList: when not empty, the value (each element) must be one of these.
  std::vector<std::string> choices;
  Validator validate = nullptr;

  std::string FullName() const { return section + "." + name; }
};

// All keys in the order they are dumped and documented; sections appear in the order of their
// first key. Built once; the reference stays valid for the life of the process.
const std::vector<KeyDef>& Registry();
// Section names of a registry in order of first appearance.
std::vector<std::string> Sections(const std::vector<KeyDef>& registry);
// "chatd.listen" -> its definition, or nullptr.
const KeyDef* FindKey(std::string_view full_name);
const KeyDef* FindKeyIn(const std::vector<KeyDef>& registry, std::string_view full_name);

// "string", "path", "integer", "boolean", "array of strings".
std::string TypeName(const KeyDef& def);
// A short human summary of the key's validation ("at least 1024", "one of: a, b"), or "".
std::string ConstraintText(const KeyDef& def);

// An mdoc fragment documenting every key (one .Ss per section, a .Bl -tag list of keys) for
// embedding in collab.toml(5); it starts with .Ss, so the page supplies the .Sh around it.
// One stream.ladder entry, "HEIGHTp:BITRATE" (bitrate with k or M, e.g. "360p:800k"): "" and the
// height and bits per second, or why it is not one. Shared by the key's validation (file:line
// errors) and collab-stream, so both read entries the same way.
std::string ParseLadderEntry(std::string_view entry, int64_t& height, int64_t& bits_per_s);

std::string RegistryMdoc();
std::string RegistryMdoc(const std::vector<KeyDef>& registry);

}  // namespace collab::config
