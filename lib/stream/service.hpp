// collab-stream's service: plugs live streaming: ingest and the LL-HLS packager arrive with the streaming issue. Until then the daemon has only the
// common skeleton (health route, control socket, reload, drain).
#pragma once

#include <memory>

#include "lib/daemon/daemon.hpp"

namespace collab::stream {

std::unique_ptr<daemon::Service> MakeService();

}  // namespace collab::stream
