// File and directory helpers that return Result instead of throwing, with messages that name
// the path and the errno text. Writes are atomic (temp file + fsync + rename) so a crash never
// leaves a half-written config or key.
#pragma once

#include <string>
#include <string_view>

#include "lib/base/result.hpp"

namespace collab::base {

Result<std::string> ReadFile(const std::string& path, size_t max_bytes = 64 * 1024 * 1024);
// Writes data to path atomically with the given mode (applied before any byte is written).
Status WriteFileAtomic(const std::string& path, std::string_view data, unsigned mode = 0644);
// mkdir -p with the mode for created directories.
Status MakeDirs(const std::string& path, unsigned mode = 0755);
bool PathExists(const std::string& path);
// Directory part of a path ("a/b/c" -> "a/b", "c" -> ".").
std::string DirName(const std::string& path);
// Resolves a relative path against base_dir (absolute paths are returned unchanged).
std::string JoinPath(const std::string& base_dir, const std::string& path);
// strerror(errno) wording for messages.
std::string ErrnoText(int err);

}  // namespace collab::base
