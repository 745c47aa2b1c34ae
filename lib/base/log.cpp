#include "lib/base/log.hpp"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include <sys/time.h>

namespace collab::base {

namespace {
int g_verbosity = 0;
const char* g_tag = "collab";
int g_journal = -1;  // -1 unknown, 0 no, 1 yes

bool UnderJournal() {
  if (g_journal < 0) g_journal = std::getenv("JOURNAL_STREAM") != nullptr ? 1 : 0;
  return g_journal == 1;
}

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kError: return "error";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kNotice: return "notice";
    case LogLevel::kInfo: return "info";
    case LogLevel::kDebug: return "debug";
  }
  return "?";
}
}  // namespace

void SetLogVerbosity(int verbosity) { g_verbosity = verbosity; }
int LogVerbosity() { return g_verbosity; }
void SetLogTag(const char* tag) { g_tag = tag; }

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) <= static_cast<int>(LogLevel::kInfo) + g_verbosity;
}

void VLog(LogLevel level, const char* fmt, va_list ap) {
  if (!LogEnabled(level)) return;
  char msg[4096];
  std::vsnprintf(msg, sizeof msg, fmt, ap);
  // One write per line so lines from several processes sharing stderr do not interleave.
  std::string line;
  if (UnderJournal()) {
    line = "<" + std::to_string(static_cast<int>(level)) + ">" + msg;
  } else {
    struct timeval tv;
    gettimeofday(&tv, nullptr);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char ts[64];
    std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03ld", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long>(tv.tv_usec / 1000));
    line = std::string(ts) + " " + g_tag + " " + LevelName(level) + ": " + msg;
  }
  // Never let a message span lines: the journal and grep both rely on one event per line.
  for (char& c : line)
    if (c == '\n') c = ' ';
  line += '\n';
  fwrite(line.data(), 1, line.size(), stderr);
  fflush(stderr);
}

void Log(LogLevel level, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  VLog(level, fmt, ap);
  va_end(ap);
}

}  // namespace collab::base
