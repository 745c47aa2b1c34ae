#include "lib/base/exit_codes.hpp"

namespace collab::base {

const char* ExitCodeName(int code) {
  switch (code) {
    case kExitOk: return "ok";
    case kExitUsage: return "usage";
    case kExitDataErr: return "dataerr";
    case kExitNoInput: return "noinput";
    case kExitNoUser: return "nouser";
    case kExitUnavailable: return "unavailable";
    case kExitSoftware: return "software";
    case kExitOsErr: return "oserr";
    case kExitCantCreat: return "cantcreat";
    case kExitIoErr: return "ioerr";
    case kExitTempFail: return "tempfail";
    case kExitNoPerm: return "noperm";
    case kExitConfig: return "config";
    default: return "error";
  }
}

}  // namespace collab::base
