#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/daemon/listen_address.hpp"
#include "lib/daemon/sd_notify.hpp"

using namespace collab::daemon;

TEST_CASE("listen addresses parse IPv4, bracketed IPv6 and the wildcard", "[listen]") {
  auto a = ParseListenAddress("127.0.0.1:8080");
  REQUIRE(a.ok());
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 8080);
  auto b = ParseListenAddress("[::1]:443");
  REQUIRE(b.ok());
  CHECK(b->host == "::1");
  CHECK(b->port == 443);
  auto c = ParseListenAddress("*:80");
  REQUIRE(c.ok());
  CHECK(c->host == "0.0.0.0");
  auto z = ParseListenAddress("127.0.0.1:0");  // 0: any free port, reported by status
  REQUIRE(z.ok());
  CHECK(z->port == 0);
}

TEST_CASE("bad listen addresses are config errors naming the text", "[listen][bad-input]") {
  for (const char* bad : {"", "8080", "host:", ":80", "::1:80", "[::1:80", "h:65536", "h:-1", "h:80x", "[]:80"}) {
    INFO(bad);
    auto r = ParseListenAddress(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == collab::base::kExitConfig);
    CHECK(r.error().message.find("bad listen address") == 0);
  }
}

TEST_CASE("sd_notify sends one datagram to NOTIFY_SOCKET and is a no-op without it", "[sd_notify]") {
  unsetenv("NOTIFY_SOCKET");
  CHECK(SdNotify("READY=1"));

  std::string path = "/tmp/collab-notify-" + std::to_string(getpid());
  unlink(path.c_str());
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  REQUIRE(fd >= 0);
  struct sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  setenv("NOTIFY_SOCKET", path.c_str(), 1);
  REQUIRE(SdNotify("READY=1\nSTATUS=serving"));
  char buf[256];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  REQUIRE(n > 0);
  CHECK(std::string(buf, static_cast<size_t>(n)) == "READY=1\nSTATUS=serving");
  setenv("NOTIFY_SOCKET", "/nonexistent/notify.sock", 1);
  CHECK_FALSE(SdNotify("READY=1"));
  unsetenv("NOTIFY_SOCKET");
  close(fd);
  unlink(path.c_str());
}
