// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates (U+D800..U+DFFF), nothing above
// U+10FFFF. The one decoder behind every text check in the tree (JSON strings, config values,
// CSV fields, token claims, chat text).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace collab::base {

// Length (1-4) of the well-formed sequence that starts at s[i], with its code point in *cp;
// 0 when the bytes there are not well-formed (or cut short by the end of s). i < s.size().
size_t DecodeUtf8(std::string_view s, size_t i, uint32_t* cp);

bool IsValidUtf8(std::string_view s);

}  // namespace collab::base
