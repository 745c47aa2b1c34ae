// Fuzzes what collab-chatd takes from clients as message text and stored values: the UTF-8 /
// control-character check, @mention scanning, and the stored JSON decoders (a damaged value on
// disk must give an error, not a crash).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lib/chat/model.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  bool valid = collab::chat::ValidText(s);
  auto scan = collab::chat::ScanMentions(s);
  for (const auto& u : scan.users)
    if (!collab::chat::ValidUserId(u)) __builtin_trap();
  (void)valid;
  if (auto m = collab::chat::Message::FromStored(s); m.ok()) {
    auto again = collab::chat::Message::FromStored(m->ToStored().Dump());
    if (!again.ok() || again->text != m->text || again->seq != m->seq) __builtin_trap();
    (void)m->ToClient(1, true).Dump();
  }
  (void)collab::chat::User::FromStored(s);
  (void)collab::chat::Room::FromStored(s);
  (void)collab::chat::Member::FromStored(s);
  (void)collab::chat::SplitRoomSeqKey(s);
  return 0;
}
