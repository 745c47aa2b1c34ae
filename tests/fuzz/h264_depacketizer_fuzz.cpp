// Fuzzes WHIP's H.264 depacketizer (lib/stream/h264_depacketizer.hpp) with a sequence of RTP
// payloads: each record is a 2-byte header (sequence number offset, timestamp step and marker
// packed) plus a length byte and that many payload bytes, so reordering, loss, duplicates,
// wrap-around and malformed STAP-A/FU-A all come up. Every released unit must be an IDR or follow
// one, hold NAL units no larger than the input, and convert to FLV tags.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "lib/stream/h264_depacketizer.hpp"
#include "lib/stream/ingest_tags.hpp"

using namespace collab::stream;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  H264Depacketizer d(1 + data[0] % 16);
  IngestTagWriter tags;
  std::vector<H264AccessUnit> out;
  std::vector<IngestTag> tag_out;
  uint16_t seq = 65500;
  uint32_t ts = 4294900000u;
  size_t pos = 1;
  bool seen_idr = false;
  while (pos + 3 <= size) {
    uint8_t a = data[pos], b = data[pos + 1];
    size_t n = data[pos + 2];
    pos += 3;
    if (n > size - pos) n = size - pos;
    // Mostly the next sequence number, sometimes a jump back or ahead.
    seq = static_cast<uint16_t>(seq + static_cast<int8_t>(a & 0xF0) / 16 + 1);
    ts += (b & 0x7F) * 300u;
    bool marker = (b & 0x80) != 0;
    out.clear();
    d.Push(seq, ts, marker, {data + pos, n}, out);
    pos += n;
    for (const auto& u : out) {
      if (u.nals.empty()) std::abort();
      if (u.idr) seen_idr = true;
      if (!seen_idr) std::abort();  // nothing before the first keyframe
      for (const auto& nal : u.nals)
        if (nal.empty() || nal.size() > size) std::abort();
      tag_out.clear();
      tags.VideoAnnexB(u.AnnexB(), 0, 0, u.idr, tag_out);
    }
  }
  const auto& st = d.stats();
  if (st.units > st.packets) std::abort();
  return 0;
}
