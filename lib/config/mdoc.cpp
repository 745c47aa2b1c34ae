// The key list of collab.toml(5), generated from the registry so the page cannot drift from
// the code.
#include <cctype>

#include "lib/config/config.hpp"
#include "lib/config/registry.hpp"

namespace collab::config {
namespace {

// One roff text line: backslashes escaped, and no leading '.' or '\'' that would make it a request.
std::string TextLine(const std::string& s) {
  std::string out;
  if (!s.empty() && (s.front() == '.' || s.front() == '\'')) out = "\\&";
  for (char c : s) {
    if (c == '\\')
      out += "\\e";
    else
      out += c;
  }
  return out;
}

// Text as lines of at most about 72 bytes, broken at spaces (mandoc's style check wants <= 80).
std::string TextLines(const std::string& s) {
  std::string out;
  std::string line;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t sp = s.find(' ', pos);
    std::string word = s.substr(pos, sp == std::string::npos ? std::string::npos : sp - pos);
    pos = sp == std::string::npos ? s.size() : sp + 1;
    if (word.empty()) continue;
    if (!line.empty() && line.size() + 1 + word.size() > 72) {
      out += TextLine(line) + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  if (!line.empty()) out += TextLine(line) + "\n";
  return out;
}

// One macro argument, quoted and shielded so it is never taken as a macro name or delimiter.
std::string Arg(const std::string& s) {
  std::string out = "\"\\&";
  for (char c : s) {
    if (c == '\\')
      out += "\\e";
    else if (c == '"')
      out += "\\(dq";
    else
      out += c;
  }
  return out + "\"";
}

// "keep short" -> "Keep short."
std::string Sentence(std::string s) {
  if (s.empty()) return s;
  s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  if (s.back() != '.') s += '.';
  return s;
}

std::string DefaultText(const KeyDef& def) {
  if (const auto* s = std::get_if<std::string>(&def.default_value)) return *s;
  return FormatValue(def.default_value);
}

bool DefaultIsEmpty(const KeyDef& def) {
  if (const auto* s = std::get_if<std::string>(&def.default_value)) return s->empty();
  if (const auto* l = std::get_if<StringList>(&def.default_value)) return l->empty();
  return false;
}

}  // namespace

std::string RegistryMdoc(const std::vector<KeyDef>& registry) {
  std::string out;
  for (const std::string& section : Sections(registry)) {
    // The trailing \& keeps "]" from being read as a closing delimiter.
    std::string title = Arg("[" + section + "]");
    title.insert(title.size() - 1, "\\&");
    out += ".Ss " + title + "\n";
    out += ".Bl -tag -width Ds\n";
    for (const KeyDef& def : registry) {
      if (def.section != section) continue;
      out += ".It Ic " + Arg(def.name) + " Pq Vt " + Arg(TypeName(def)) + " ,";
      if (DefaultIsEmpty(def))
        out += " No empty by default\n";
      else
        out += " No default Ql " + Arg(DefaultText(def)) + "\n";
      out += TextLines(Sentence(def.doc));
      std::string constraint = ConstraintText(def);
      if (!constraint.empty()) out += TextLines(Sentence(constraint));
    }
    out += ".El\n";
  }
  return out;
}

std::string RegistryMdoc() { return RegistryMdoc(Registry()); }

}  // namespace collab::config
