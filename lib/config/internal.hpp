// Helpers shared by the files of lib/config; not part of its API.
#pragma once

#include "lib/base/utf8.hpp"

#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.hpp"
#include "lib/config/registry.hpp"

namespace collab::config {

class Config;

namespace internal {

inline base::Error ConfigError(std::string message) { return base::Error{base::kExitConfig, std::move(message)}; }

// Checks a value of the right type against the key's min/max/choices/validator. Returns "" or
// a message naming the key: "'chatd.max_body_bytes' must be at least 1024".
std::string CheckValue(const KeyDef& def, const Value& value);

// Interprets command-line text by the key's type (see ParseOverride) and checks it. Returns ""
// and sets *out, or a message naming the key.
std::string ParseValueText(const KeyDef& def, std::string_view text, Value* out);

// Rules that involve more than one key (tls_cert/tls_key pairs, socket path length). Keys a
// registry lacks are skipped, so test registries pass. Messages start with the origin of the
// offending value.
base::Status CheckWholeConfig(const Config& config);

using base::IsValidUtf8;
// Text safe to put in a one-line message: control bytes become \xNN.
std::string Printable(std::string_view s);
// " (did you mean 'chatd.listen'?)" for a near miss among the registry's keys, else "".
std::string SuggestKey(const std::vector<KeyDef>& registry, std::string_view full_name);
std::string SuggestSection(const std::vector<KeyDef>& registry, std::string_view section);

}  // namespace internal
}  // namespace collab::config
