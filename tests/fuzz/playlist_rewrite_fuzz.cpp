// Fuzzes the playlist rewrite of viewer tokens (lib/stream/viewer_auth.hpp): any playlist text
// with a URL-safe token. Checks that only additions are made: with every "?vt=TOKEN" and
// "&vt=TOKEN" removed from both, output and input are the same, so no line is lost or invented.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lib/stream/viewer_auth.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string token = "v1.tok-EN_9";
  auto out = collab::stream::RewritePlaylist(in, token);
  if (!out.ok()) std::abort();  // the token is URL-safe: every input must be accepted
  auto strip = [&token](std::string s) {
    for (std::string add : {"?vt=" + token, "&vt=" + token})
      for (size_t p; (p = s.find(add)) != std::string::npos;) s.erase(p, add.size());
    return s;
  };
  if (strip(*out) != strip(std::string(in))) std::abort();
  return 0;
}
