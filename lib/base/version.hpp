// The suite's version, shared by every program and protocol hello.
#pragma once

namespace collab::base {
inline constexpr const char* kVersion = "0.1.0";
}  // namespace collab::base
