// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. A no-op when the variable
// is unset (not under systemd), so daemons call it unconditionally.
#pragma once

#include <string_view>

namespace collab::daemon {

// Sends e.g. "READY=1\nSTATUS=serving". Returns false only when NOTIFY_SOCKET is set but
// the datagram could not be sent (logged by the caller if it cares).
bool SdNotify(std::string_view state);

}  // namespace collab::daemon
