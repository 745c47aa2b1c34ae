// Writing a Config back as TOML. Hand-written rather than toml++'s formatter so the bytes are
// ours to keep stable: dumps are compared, diffed and fed back in as configs.
#include "lib/config/config.hpp"

namespace collab::config {
namespace {

std::string QuoteString(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out = "\"";
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        // TOML forbids raw control characters in basic strings; UTF-8 above ASCII is kept.
        if (c < 0x20 || c == 0x7F) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace

std::string FormatValue(const Value& value) {
  if (const auto* s = std::get_if<std::string>(&value)) return QuoteString(*s);
  if (const auto* i = std::get_if<int64_t>(&value)) return std::to_string(*i);
  if (const auto* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
  const auto& list = std::get<StringList>(value);
  std::string out = "[";
  for (size_t i = 0; i < list.size(); ++i) {
    if (i) out += ", ";
    out += QuoteString(list[i]);
  }
  return out + "]";
}

std::string Dump(const Config& config, const DumpOptions& options) {
  const std::vector<KeyDef>& registry = config.registry();
  std::string out;
  for (const std::string& section : Sections(registry)) {
    std::string body;
    for (const KeyDef& def : registry) {
      if (def.section != section) continue;
      const std::string full = def.FullName();
      const bool resolve = options.resolve_paths && def.is_path;
      // Resolved, "token.key" next to /etc/collab/collab.toml is the default /etc/collab/token.key;
      // judging it by the raw text would make the dump of the dump differ.
      const bool is_default = resolve
                                  ? config.GetPath(full) == config.ResolvePath(std::get<std::string>(def.default_value))
                                  : config.IsDefault(full);
      if (options.non_default_only && is_default) continue;
      if (options.with_docs) {
        if (!body.empty()) body += '\n';
        body += "# " + def.doc + "\n";
        std::string constraint = ConstraintText(def);
        if (!constraint.empty()) body += "# " + constraint + "\n";
      }
      const Value& v = config.Get(full);
      std::string text = resolve ? FormatValue(Value{config.GetPath(full)}) : FormatValue(v);
      body += def.name + " = " + text + "\n";
    }
    if (body.empty()) continue;
    if (!out.empty()) out += '\n';
    out += "[" + section + "]\n" + body;
  }
  return out;
}

}  // namespace collab::config
