// Clock helpers: monotonic milliseconds for timers and uptime, wall-clock for logs and JSON.
#pragma once

#include <cstdint>
#include <string>

namespace collab::base {

int64_t MonotonicMs();
int64_t WallClockMs();
// RFC 3339 UTC with milliseconds, e.g. "2026-11-25T17:49:44.123Z".
std::string FormatRfc3339(int64_t wall_ms);

}  // namespace collab::base
