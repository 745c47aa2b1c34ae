// collab-stream's service: RTMP, SRT and WHIP ingest (rtmp_server, srt_ingest, whip_ingest) feeding
// one in-memory LL-HLS packager per stream (packager.hpp), served over the daemon's HTTP listener
// with blocking playlist reload and viewer tokens (viewer_auth.hpp), plus the stream.* control
// verbs and Prometheus metrics. The pieces live in their own files; this one wires them.
#pragma once

#include <memory>

#include "lib/daemon/daemon.hpp"

namespace collab::stream {

std::unique_ptr<daemon::Service> MakeService();

}  // namespace collab::stream
