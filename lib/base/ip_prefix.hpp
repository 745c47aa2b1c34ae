// Address ranges in CIDR notation ("10.0.0.0/8", "2001:db8::/32", or a single address), for
// settings that say which clients may use something (chatd.metrics_allow, stream.metrics_allow).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "lib/base/result.hpp"

namespace collab::base {

struct IpPrefix {
  bool v6 = false;
  std::array<uint8_t, 16> addr{};  // network byte order; IPv4 uses the first 4 bytes
  int bits = 0;                    // 0..32 or 0..128
};

// "ADDRESS" (a single host) or "ADDRESS/BITS". Errors (kExitConfig) say what is wrong: not an
// address, bits out of range, or host bits set below the prefix ("10.1.2.3/8": write 10.0.0.0/8).
Result<IpPrefix> ParseIpPrefix(std::string_view text);

// Whether `ip` (a textual IPv4 or IPv6 address, as a socket peer is reported) is inside the
// prefix. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) counts as the IPv4 address. False for
// anything that is not an address.
bool IpPrefixContains(const IpPrefix& prefix, std::string_view ip);
bool AnyIpPrefixContains(const std::vector<IpPrefix>& prefixes, std::string_view ip);

}  // namespace collab::base
