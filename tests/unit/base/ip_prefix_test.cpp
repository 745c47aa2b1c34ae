#include <catch2/catch.hpp>

#include <string>

#include "lib/base/ip_prefix.hpp"

using collab::base::AnyIpPrefixContains;
using collab::base::IpPrefixContains;
using collab::base::ParseIpPrefix;

TEST_CASE("ParseIpPrefix reads ranges and single addresses of both families", "[base][ip]") {
  auto lo = ParseIpPrefix("127.0.0.0/8");
  REQUIRE(lo.ok());
  CHECK_FALSE(lo->v6);
  CHECK(lo->bits == 8);
  CHECK(IpPrefixContains(*lo, "127.0.0.1"));
  CHECK(IpPrefixContains(*lo, "127.255.255.254"));
  CHECK_FALSE(IpPrefixContains(*lo, "128.0.0.1"));
  CHECK_FALSE(IpPrefixContains(*lo, "::1"));
  CHECK(IpPrefixContains(*lo, "::ffff:127.0.0.1"));  // what a dual-stack socket reports

  auto host = ParseIpPrefix("192.0.2.7");
  REQUIRE(host.ok());
  CHECK(host->bits == 32);
  CHECK(IpPrefixContains(*host, "192.0.2.7"));
  CHECK_FALSE(IpPrefixContains(*host, "192.0.2.8"));

  auto odd = ParseIpPrefix("10.0.0.0/9");  // a length that is not a byte boundary
  REQUIRE(odd.ok());
  CHECK(IpPrefixContains(*odd, "10.127.255.255"));
  CHECK_FALSE(IpPrefixContains(*odd, "10.128.0.0"));

  auto v6 = ParseIpPrefix("2001:db8::/32");
  REQUIRE(v6.ok());
  CHECK(v6->v6);
  CHECK(IpPrefixContains(*v6, "2001:db8:1::5"));
  CHECK_FALSE(IpPrefixContains(*v6, "2001:db9::1"));
  CHECK_FALSE(IpPrefixContains(*v6, "10.0.0.1"));
  auto one6 = ParseIpPrefix("::1/128");
  REQUIRE(one6.ok());
  CHECK(IpPrefixContains(*one6, "::1"));
  CHECK_FALSE(IpPrefixContains(*one6, "::2"));

  auto all4 = ParseIpPrefix("0.0.0.0/0");
  REQUIRE(all4.ok());
  CHECK(IpPrefixContains(*all4, "203.0.113.9"));
  CHECK_FALSE(IpPrefixContains(*all4, "2001:db8::1"));
  auto all6 = ParseIpPrefix("::/0");
  REQUIRE(all6.ok());
  CHECK(IpPrefixContains(*all6, "2001:db8::1"));

  CHECK(AnyIpPrefixContains({*lo, *one6}, "::1"));
  CHECK_FALSE(AnyIpPrefixContains({*lo, *one6}, "192.0.2.1"));
  CHECK_FALSE(AnyIpPrefixContains({}, "127.0.0.1"));
}

TEST_CASE("ParseIpPrefix refuses what is not a range, saying why", "[base][ip]") {
  for (const char* bad : {"", "localhost", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/8x", "10.0.0/8",
                          "::1/129", "1.2.3.4.5", "10.0.0.0/0008", "::ffff:10.0.0.0/104", "/8", "10.0.0.0//8",
                          "10.0.0.0/ 8", " 10.0.0.0/8", "fe80::1%eth0"}) {
    auto r = ParseIpPrefix(bad);
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK_FALSE(r.error().message.empty());
  }
  auto host_bits = ParseIpPrefix("10.1.2.3/8");
  REQUIRE_FALSE(host_bits.ok());
  CHECK(host_bits.error().message.find("bits set after the first 8") != std::string::npos);
  auto v6_host_bits = ParseIpPrefix("2001:db8::1/64");
  CHECK_FALSE(v6_host_bits.ok());
  // Nothing that is not an address is inside any range.
  auto all = ParseIpPrefix("0.0.0.0/0");
  REQUIRE(all.ok());
  for (const char* notip : {"", "unknown", "127.0.0.1:80", "[::1]"}) CHECK_FALSE(IpPrefixContains(*all, notip));
}
