// sysexits(3) codes used as process exit statuses and as Error codes. Listed in every man page.
#pragma once

namespace collab::base {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 64;        // command line usage error
inline constexpr int kExitDataErr = 65;      // bad input data
inline constexpr int kExitNoInput = 66;      // input file missing or unreadable
inline constexpr int kExitNoUser = 67;       // named user or object does not exist
inline constexpr int kExitUnavailable = 69;  // service unavailable (daemon not running)
inline constexpr int kExitSoftware = 70;     // internal error
inline constexpr int kExitOsErr = 71;        // system call failed
inline constexpr int kExitCantCreat = 73;    // cannot create output file
inline constexpr int kExitIoErr = 74;        // I/O error
inline constexpr int kExitTempFail = 75;     // temporary failure: try again (cron)
inline constexpr int kExitNoPerm = 77;       // permission denied
inline constexpr int kExitConfig = 78;       // configuration error

// Short name for logs and JSON ("usage", "dataerr", ...).
const char* ExitCodeName(int code);

}  // namespace collab::base
