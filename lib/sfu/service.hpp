// collab-sfu's service: the shared WebRTC sockets (lib/rtc/transport.hpp) and, until the meetings
// issue brings rooms, the /echo test page (echo.hpp) on top of the common skeleton (health route,
// control socket, reload, drain).
#pragma once

#include <memory>

#include "lib/daemon/daemon.hpp"

namespace collab::sfu {

std::unique_ptr<daemon::Service> MakeService();

}  // namespace collab::sfu
