// Fuzzes the RFC 6544 ICE-TCP frame decoder. The input chooses the frame limit, a chunking of
// the stream (so frames are split at arbitrary points), and the stream itself. Invariants: the
// chunked decode yields exactly the frames and the failure of a straightforward one-pass
// reference decode; the decoder's buffered() count matches the incomplete tail; and encoding
// the frames again gives the stream back without its zero-length frames.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "lib/rtc/ice_tcp_framing.hpp"

using namespace collab::rtc;
using Bytes = std::vector<uint8_t>;

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

struct Reference {
  std::vector<Bytes> frames;
  Bytes normalized;  // the consumed stream without zero-length frames
  bool failed = false;
  size_t tail = 0;  // bytes of an incomplete frame at the end
};

Reference Decode(std::span<const uint8_t> s, size_t max) {
  Reference r;
  size_t i = 0;
  while (i < s.size()) {
    if (s.size() - i < 2) {
      r.tail = s.size() - i;
      break;
    }
    size_t len = static_cast<size_t>(s[i]) << 8 | s[i + 1];
    if (len > max) {
      r.failed = true;
      break;
    }
    if (s.size() - i - 2 < len) {
      r.tail = s.size() - i - 2;  // the decoder keeps the payload part, not the complete prefix
      break;
    }
    if (len > 0) {
      r.frames.emplace_back(s.begin() + static_cast<std::ptrdiff_t>(i + 2),
                            s.begin() + static_cast<std::ptrdiff_t>(i + 2 + len));
      r.normalized.insert(r.normalized.end(), s.begin() + static_cast<std::ptrdiff_t>(i),
                          s.begin() + static_cast<std::ptrdiff_t>(i + 2 + len));
    }
    i += 2 + len;
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  // A small limit most of the time, so the fuzzer meets oversized frames without 64 KiB inputs.
  size_t max = (static_cast<size_t>(data[0]) << 8 | data[1]) % 300;
  if (data[0] == 0xFF) max = kIceTcpDefaultMaxFrame;
  uint32_t rng = data[2] * 2654435761u + 1;
  std::span<const uint8_t> stream(data + 3, size - 3);

  Reference ref = Decode(stream, max);

  IceTcpFrameDecoder chunked(max);
  std::vector<Bytes> got;
  bool failed = false;
  size_t i = 0;
  while (i < stream.size()) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    size_t n = std::min<size_t>(rng % 9 == 0 ? rng % 600 : rng % 5, stream.size() - i);  // 0-byte reads too
    auto st = chunked.Feed(stream.subspan(i, n), [&](std::span<const uint8_t> f) {
      Check(!f.empty() && f.size() <= max);
      got.emplace_back(f.begin(), f.end());
    });
    i += n;
    if (!st.ok()) {
      failed = true;
      Check(chunked.failed());
      break;
    }
  }
  Check(got == ref.frames);
  Check(failed == ref.failed);
  if (!failed) Check(chunked.buffered() == ref.tail);

  IceTcpFrameDecoder whole(max);
  std::vector<Bytes> got_whole;
  auto st = whole.Feed(stream, [&](std::span<const uint8_t> f) { got_whole.emplace_back(f.begin(), f.end()); });
  Check(st.ok() != ref.failed);
  Check(got_whole == ref.frames);

  Bytes encoded;
  for (const Bytes& f : ref.frames) Check(AppendIceTcpFrame(f, &encoded).ok());
  Check(encoded == ref.normalized);
  return 0;
}
