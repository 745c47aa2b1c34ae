#include "lib/base/ip_prefix.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <string>

#include "lib/base/exit_codes.hpp"

namespace collab::base {

namespace {

// Parses a textual address; false when it is neither IPv4 nor IPv6. IPv4-mapped IPv6 becomes IPv4.
bool ParseAddress(std::string_view text, bool* v6, std::array<uint8_t, 16>* out) {
  if (text.empty() || text.size() > 45) return false;
  std::string s(text);
  out->fill(0);
  if (inet_pton(AF_INET, s.c_str(), out->data()) == 1) {
    *v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), out->data()) != 1) return false;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kMapped, kMapped + 12, out->begin())) {
    std::array<uint8_t, 16> v4{};
    std::copy(out->begin() + 12, out->end(), v4.begin());
    *out = v4;
    *v6 = false;
    return true;
  }
  *v6 = true;
  return true;
}

bool SamePrefix(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int bits) {
  int full = bits / 8;
  for (int i = 0; i < full; ++i)
    if (a[i] != b[i]) return false;
  int rest = bits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

}  // namespace

Result<IpPrefix> ParseIpPrefix(std::string_view text) {
  auto fail = [&](const std::string& why) {
    return Error{kExitConfig, "'" + std::string(text.substr(0, 64)) + "' " + why};
  };
  IpPrefix p;
  size_t slash = text.find('/');
  if (!ParseAddress(text.substr(0, slash), &p.v6, &p.addr))
    return fail("is not an IP address or ADDRESS/BITS range");
  int max_bits = p.v6 ? 128 : 32;
  p.bits = max_bits;
  if (slash != std::string_view::npos) {
    std::string_view b = text.substr(slash + 1);
    int bits = -1;
    auto [end, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
    if (b.empty() || b.size() > 3 || ec != std::errc() || end != b.data() + b.size() || bits < 0 || bits > max_bits)
      return fail("has a prefix length outside 0.." + std::to_string(max_bits));
    // A mapped IPv4 address with an IPv6 length is ambiguous; ask for the IPv4 form.
    if (!p.v6 && text.find(':') != std::string_view::npos) return fail("mixes IPv6 and IPv4 notation; write a.b.c.d/N");
    p.bits = bits;
  }
  // Host bits below the prefix must be zero: "10.1.2.3/8" is more likely a typo than a range.
  std::array<uint8_t, 16> net{};
  int full = p.bits / 8;
  std::copy(p.addr.begin(), p.addr.begin() + full, net.begin());
  if (p.bits % 8) net[full] = static_cast<uint8_t>(p.addr[full] & (0xff << (8 - p.bits % 8)));
  if (net != p.addr) return fail("has bits set after the first " + std::to_string(p.bits));
  return p;
}

bool IpPrefixContains(const IpPrefix& prefix, std::string_view ip) {
  bool v6 = false;
  std::array<uint8_t, 16> a{};
  if (!ParseAddress(ip, &v6, &a) || v6 != prefix.v6) return false;
  return SamePrefix(a, prefix.addr, prefix.bits);
}

bool AnyIpPrefixContains(const std::vector<IpPrefix>& prefixes, std::string_view ip) {
  for (const auto& p : prefixes)
    if (IpPrefixContains(p, ip)) return true;
  return false;
}

}  // namespace collab::base
