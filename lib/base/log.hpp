// Line-oriented logging to stderr: one event per line, with a syslog "<N>" priority prefix
// when running under the journal (JOURNAL_STREAM set), and a timestamp otherwise.
// Deliberately no log files, rotation or async queues: systemd/journald does that.
#pragma once

#include <cstdarg>

namespace collab::base {

enum class LogLevel { kError = 3, kWarning = 4, kNotice = 5, kInfo = 6, kDebug = 7 };

// Verbosity: 0 shows error..notice+info, each -v adds one level (debug at 1+).
void SetLogVerbosity(int verbosity);
int LogVerbosity();
// Program tag printed on each line when not under the journal (e.g. "collab-chatd").
void SetLogTag(const char* tag);
bool LogEnabled(LogLevel level);

void Log(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void VLog(LogLevel level, const char* fmt, va_list ap);

}  // namespace collab::base

#define LOG_ERROR(...) ::collab::base::Log(::collab::base::LogLevel::kError, __VA_ARGS__)
#define LOG_WARN(...) ::collab::base::Log(::collab::base::LogLevel::kWarning, __VA_ARGS__)
#define LOG_NOTICE(...) ::collab::base::Log(::collab::base::LogLevel::kNotice, __VA_ARGS__)
#define LOG_INFO(...) ::collab::base::Log(::collab::base::LogLevel::kInfo, __VA_ARGS__)
#define LOG_DEBUG(...)                                                         \
  do {                                                                         \
    if (::collab::base::LogEnabled(::collab::base::LogLevel::kDebug))          \
      ::collab::base::Log(::collab::base::LogLevel::kDebug, __VA_ARGS__);      \
  } while (0)
