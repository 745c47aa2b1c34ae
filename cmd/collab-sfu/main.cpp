// collab-sfu: collab web meeting media server (WebRTC SFU). Flags in, exit status out; the work is in lib/sfu.
#include "cmd/daemon_main.hpp"
#include "lib/sfu/service.hpp"

int main(int argc, char** argv) {
  auto service = collab::sfu::MakeService();
  return collab::cmd::DaemonMain(argc, argv, "collab-sfu", "sfu", "collab web meeting media server (WebRTC SFU)", *service);
}
