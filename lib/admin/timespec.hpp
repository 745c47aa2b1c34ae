// Times typed by an administrator: dates (YYYY-MM-DD, local midnight), RFC 3339 timestamps and
// durations back from now (30m, 24h, 7d, 2w). Deliberately no natural language ("yesterday").
#pragma once

#include <cstdint>
#include <string_view>

#include "lib/base/result.hpp"

namespace collab::admin {

// YYYY-MM-DD (00:00 local time) or RFC 3339 (YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), 'T' or
// ' ' between). Returns Unix milliseconds; kExitUsage when the text is neither.
base::Result<int64_t> ParseDate(std::string_view text);

// A duration N followed by s, m, h, d or w: now_ms minus it; otherwise ParseDate.
base::Result<int64_t> ParseSince(std::string_view text, int64_t now_ms);

}  // namespace collab::admin
