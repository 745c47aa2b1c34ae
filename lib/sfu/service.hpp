// collab-sfu's service: plugs web meetings: the WebRTC selective forwarding unit arrives with the lib/rtc and meetings issues. Until then the daemon has only the
// common skeleton (health route, control socket, reload, drain).
#pragma once

#include <memory>

#include "lib/daemon/daemon.hpp"

namespace collab::sfu {

std::unique_ptr<daemon::Service> MakeService();

}  // namespace collab::sfu
