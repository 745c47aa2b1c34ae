#include "lib/daemon/listen_address.hpp"

#include <charconv>

namespace collab::daemon {

base::Result<ListenAddress> ParseListenAddress(std::string_view text) {
  auto bad = [&](const char* why) {
    return base::Error{base::kExitConfig, "bad listen address '" + std::string(text) + "': " + why};
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("expected HOST:PORT");
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return bad("unbalanced brackets");
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("IPv6 addresses need brackets, as in [::1]:8080");
  }
  if (host.empty()) return bad("empty host");
  // Port 0 asks the kernel for a free port; the bound port is reported by `status`.
  int p = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || p < 0 || p > 65535)
    return bad("port must be 0..65535");
  ListenAddress a;
  a.host = host == "*" ? "0.0.0.0" : std::string(host);
  a.port = p;
  return a;
}

}  // namespace collab::daemon
