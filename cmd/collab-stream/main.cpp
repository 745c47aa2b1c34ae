// collab-stream: collab live streaming server (ingest, low-latency HLS). Flags in, exit status out; the work is in lib/stream.
#include "cmd/daemon_main.hpp"
#include "lib/stream/service.hpp"

int main(int argc, char** argv) {
  auto service = collab::stream::MakeService();
  return collab::cmd::DaemonMain(argc, argv, "collab-stream", "stream", "collab live streaming server (ingest, low-latency HLS)", *service);
}
