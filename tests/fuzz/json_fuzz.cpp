// Fuzzes the JSON parser used for HTTP bodies and control frames: parse, dump, re-parse must
// agree, and nothing may crash or leak on any input.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lib/base/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = collab::base::Json::Parse(text);
  if (!r.ok()) return 0;
  std::string once = r->Dump();
  auto again = collab::base::Json::Parse(once);
  if (!again.ok()) std::abort();
  if (again->Dump() != once) std::abort();
  (void)r->Dump(2);
  return 0;
}
