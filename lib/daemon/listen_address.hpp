// Parses the HOST:PORT form of `listen` keys ("127.0.0.1:8080", "[::1]:8080", "*:8080").
// Only syntax: whether the address can be bound is the listener's business.
#pragma once

#include <string>
#include <string_view>

#include "lib/base/result.hpp"

namespace collab::daemon {

struct ListenAddress {
  std::string host;  // without brackets; "0.0.0.0" for "*"
  int port = 0;
};

base::Result<ListenAddress> ParseListenAddress(std::string_view text);

}  // namespace collab::daemon
