// collab-chatd's service: plugs the chat server into the daemon skeleton. For now it serves the
// web app's static files; accounts, rooms and messages arrive with the chat server issue.
#pragma once

#include <memory>

#include "lib/daemon/daemon.hpp"

namespace collab::chat {

std::unique_ptr<daemon::Service> MakeService();

}  // namespace collab::chat
