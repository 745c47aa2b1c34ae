// Fuzzes the incremental chunked-body decoder and Content-Length parsing of lib/http. The first
// two bytes choose the body limit and how the rest is split into Feed() calls, so framing split
// at every possible point is explored. Properties: the decoded body never exceeds the limit,
// Feed never claims more bytes than it was given, and the same input fed in one piece or in
// pieces gives the same result.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lib/http/parse.hpp"

using namespace collab::http;

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

struct Outcome {
  bool ok = true;
  bool done = false;
  std::string body;
  size_t used = 0;
};

Outcome Run(std::string_view wire, size_t max, size_t step) {
  ChunkedDecoder d(max);
  Outcome o;
  size_t off = 0;
  while (off < wire.size() && !d.done()) {
    std::string_view piece = wire.substr(off, step);
    auto used = d.Feed(piece, &o.body);
    if (!used.ok()) {
      o.ok = false;
      return o;
    }
    Check(*used <= piece.size());
    Check(*used == piece.size() || d.done());
    off += *used;
    Check(o.body.size() <= max);
  }
  o.done = d.done();
  o.used = off;
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t max = static_cast<size_t>(data[0]) * 16;
  size_t step = static_cast<size_t>(data[1] % 17) + 1;
  std::string_view wire(reinterpret_cast<const char*>(data) + 2, size - 2);

  Outcome whole = Run(wire, max, wire.size() + 1);
  Outcome pieces = Run(wire, max, step);
  Check(whole.ok == pieces.ok);
  if (whole.ok) {
    Check(whole.done == pieces.done);
    Check(whole.body == pieces.body);
    if (whole.done) Check(whole.used == pieces.used);
  }

  auto n = ParseContentLength(wire);
  if (n.ok()) Check(*n <= (uint64_t{1} << 53));
  return 0;
}
