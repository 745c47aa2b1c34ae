// libFuzzer target for ParseIpPrefix and IpPrefixContains (chatd.metrics_allow,
// stream.metrics_allow): any bytes give a range or an error, never a crash; a parsed range
// contains its own network address.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lib/base/ip_prefix.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto p = collab::base::ParseIpPrefix(text);
  static const auto lo = collab::base::ParseIpPrefix("127.0.0.0/8");
  static const auto v6 = collab::base::ParseIpPrefix("2001:db8::/32");
  (void)collab::base::IpPrefixContains(*lo, text);
  (void)collab::base::IpPrefixContains(*v6, text);
  if (p.ok()) {
    std::string_view addr = text.substr(0, text.find('/'));
    if (!collab::base::IpPrefixContains(*p, addr)) std::abort();
  } else if (p.error().message.empty()) {
    std::abort();
  }
  return 0;
}
