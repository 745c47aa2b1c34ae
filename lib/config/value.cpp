// Checking values against their key's declaration, and reading -o text by the key's type.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <exception>

#include <toml++/toml.h>

#include "lib/config/internal.hpp"

namespace collab::config::internal {
namespace {

std::string Quoted(const KeyDef& def) { return "'" + def.FullName() + "'"; }

std::string CheckString(const KeyDef& def, const std::string& s, bool element) {
  // A NUL would silently cut a path or name short when handed to the system.
  if (s.find('\0') != std::string::npos) return Quoted(def) + " must not contain a NUL character";
  if (!IsValidUtf8(s)) return Quoted(def) + " must be valid UTF-8";
  if (!def.choices.empty() && std::find(def.choices.begin(), def.choices.end(), s) == def.choices.end()) {
    std::string list;
    for (size_t i = 0; i < def.choices.size(); ++i) list += (i ? ", " : "") + def.choices[i];
    if (element) return Quoted(def) + " has '" + Printable(s) + "', which is not one of " + list;
    return Quoted(def) + " must be one of " + list;
  }
  return "";
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                                          std::tolower(static_cast<unsigned char>(b[j - 1]))
                                      ? 0
                                      : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// The closest candidate within one or two edits, if any: typos, not guesses.
std::string Closest(std::string_view word, const std::vector<std::string>& candidates) {
  if (word.size() > 200) return "";  // keeps a hostile key from costing time
  // Two edits on a short word would make anything look like anything ("foo" -> "log").
  const size_t limit = word.size() >= 6 ? 2 : 1;
  std::string best;
  size_t best_d = limit + 1;
  for (const std::string& c : candidates) {
    size_t d = EditDistance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string ParseListText(const KeyDef& def, std::string_view text, StringList* out) {
  std::string_view t = Trim(text);
  out->clear();
  if (!t.empty() && t.front() == '[') {
    std::string doc = "v = " + std::string(t);
    try {
      toml::table tbl = toml::parse(std::string_view{doc}, std::string{"-o"});
      const toml::array* arr = tbl["v"].as_array();
      // A newline in the value could smuggle in more keys; only the one array is accepted.
      if (tbl.size() != 1 || !arr) return Quoted(def) + " must be an array of strings";
      for (const toml::node& n : *arr) {
        const auto* s = n.as_string();
        if (!s) return Quoted(def) + " must be an array of strings";
        out->push_back(s->get());
      }
    } catch (const toml::parse_error& e) {
      return Quoted(def) + " must be a TOML array of strings: " + std::string(e.description());
    } catch (const std::exception& e) {
      return Quoted(def) + " must be a TOML array of strings: " + e.what();
    }
    return "";
  }
  if (t.empty()) return "";
  size_t pos = 0;
  for (;;) {
    size_t comma = t.find(',', pos);
    std::string_view item = Trim(t.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    if (item.empty()) return Quoted(def) + " has an empty element (write \"\" for an empty list)";
    out->emplace_back(item);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return "";
}

}  // namespace

std::string CheckValue(const KeyDef& def, const Value& value) {
  switch (def.type) {
    case KeyType::kString: {
      if (!std::holds_alternative<std::string>(value)) return Quoted(def) + " must be a string";
      std::string m = CheckString(def, std::get<std::string>(value), false);
      if (!m.empty()) return m;
      break;
    }
    case KeyType::kInt: {
      if (!std::holds_alternative<int64_t>(value)) return Quoted(def) + " must be an integer";
      int64_t n = std::get<int64_t>(value);
      if (def.min && n < *def.min) {
        if (def.max)
          return Quoted(def) + " must be from " + std::to_string(*def.min) + " to " + std::to_string(*def.max);
        return Quoted(def) + " must be at least " + std::to_string(*def.min);
      }
      if (def.max && n > *def.max) {
        if (def.min)
          return Quoted(def) + " must be from " + std::to_string(*def.min) + " to " + std::to_string(*def.max);
        return Quoted(def) + " must be at most " + std::to_string(*def.max);
      }
      break;
    }
    case KeyType::kBool:
      if (!std::holds_alternative<bool>(value)) return Quoted(def) + " must be true or false";
      break;
    case KeyType::kStringList: {
      if (!std::holds_alternative<StringList>(value)) return Quoted(def) + " must be an array of strings";
      for (const std::string& s : std::get<StringList>(value)) {
        std::string m = CheckString(def, s, true);
        if (!m.empty()) return m;
      }
      break;
    }
  }
  if (def.validate) {
    std::string m = def.validate(value);
    if (!m.empty()) return Quoted(def) + " " + m;
  }
  return "";
}

std::string ParseValueText(const KeyDef& def, std::string_view text, Value* out) {
  switch (def.type) {
    case KeyType::kString:
      *out = std::string(text);
      break;
    case KeyType::kInt: {
      int64_t n = 0;
      const char* end = text.data() + text.size();
      bool digits = !text.empty() && text.front() != '+';
      auto [ptr, ec] = std::from_chars(text.data(), end, n, 10);
      if (!digits || ptr != end || ec == std::errc::invalid_argument) return Quoted(def) + " must be an integer";
      if (ec == std::errc::result_out_of_range) return Quoted(def) + " is out of range";
      *out = n;
      break;
    }
    case KeyType::kBool: {
      std::string t(text);
      for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (t == "true" || t == "yes" || t == "on" || t == "1") {
        *out = true;
      } else if (t == "false" || t == "no" || t == "off" || t == "0") {
        *out = false;
      } else {
        return Quoted(def) + " must be true or false (or yes/no, on/off, 1/0)";
      }
      break;
    }
    case KeyType::kStringList: {
      StringList list;
      std::string m = ParseListText(def, text, &list);
      if (!m.empty()) return m;
      *out = std::move(list);
      break;
    }
  }
  return CheckValue(def, *out);
}

std::string Printable(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  // Broken UTF-8 is shown byte by byte so the message itself stays valid text.
  const bool utf8 = IsValidUtf8(s);
  std::string out;
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F || (c >= 0x80 && !utf8)) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

std::string SuggestKey(const std::vector<KeyDef>& registry, std::string_view full_name) {
  std::vector<std::string> names;
  for (const KeyDef& k : registry) names.push_back(k.FullName());
  std::string best = Closest(full_name, names);
  return best.empty() ? "" : " (did you mean '" + best + "'?)";
}

std::string SuggestSection(const std::vector<KeyDef>& registry, std::string_view section) {
  std::string best = Closest(section, Sections(registry));
  return best.empty() ? "" : " (did you mean [" + best + "]?)";
}

}  // namespace collab::config::internal
