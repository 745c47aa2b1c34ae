// ASCII-only case folding for protocol tokens (SDP codec names, HTTP header names, LDAP
// attribute names, user ids, hash names): bytes outside A-Z, UTF-8 included, stay as they are,
// whatever the process locale.
#pragma once

#include <string>
#include <string_view>

namespace collab::base {

constexpr char LowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string LowerAscii(std::string s) {
  for (char& c : s) c = LowerAscii(c);
  return s;
}

inline std::string LowerAscii(std::string_view s) { return LowerAscii(std::string(s)); }
inline std::string LowerAscii(const char* s) { return LowerAscii(std::string(s)); }

constexpr bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  return true;
}

}  // namespace collab::base
