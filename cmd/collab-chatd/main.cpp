// collab-chatd: collab business chat server. Flags in, exit status out; the work is in lib/chat.
#include "cmd/daemon_main.hpp"
#include "lib/chat/service.hpp"

int main(int argc, char** argv) {
  auto service = collab::chat::MakeService();
  return collab::cmd::DaemonMain(argc, argv, "collab-chatd", "chatd", "collab business chat server", *service);
}
