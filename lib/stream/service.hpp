// collab-stream's service: RTMP ingest (lib/stream/rtmp_server.hpp) feeding one in-memory LL-HLS
// packager per stream (lib/stream/packager.hpp), served over the daemon's HTTP listener with
// blocking playlist reload, plus the stream.* control verbs and Prometheus metrics.
// Deliberately not here (yet): SRT/WHIP/file ingest, transcoding, recording, viewer tokens.
#pragma once

#include <memory>

#include "lib/daemon/daemon.hpp"

namespace collab::stream {

std::unique_ptr<daemon::Service> MakeService();

}  // namespace collab::stream
