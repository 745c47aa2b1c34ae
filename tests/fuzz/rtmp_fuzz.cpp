// Fuzzes RTMP ingest end to end without sockets: the server session (lib/stream/rtmp_session.hpp:
// handshake, chunk stream, AMF0 commands), the FLV tag and codec configuration parsers
// (flv.hpp) and the LL-HLS packager (packager.hpp, fmp4.hpp) fed by whatever media gets
// through, then the playlist and every part are rendered.
// Input: one mode byte, then the bytes a client sends. Mode bit 0 set: the input starts at the
// chunk stream (a handshake is prepended, so the fuzzer need not find 3 KB of it); bits 1-3
// pick how the bytes are split into reads.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "lib/stream/flv.hpp"
#include "lib/stream/packager.hpp"
#include "lib/stream/rtmp_session.hpp"

using namespace collab::stream;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t mode = data[0];
  std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  if (mode & 1) input = std::string(1, '\x03') + std::string(1536, '\0') + std::string(1536, '\0') + input;
  static constexpr size_t kSplits[8] = {1, 7, 128, 1000, 4096, 65536, 13, 3073};
  size_t split = kSplits[(mode >> 1) & 7];

  PackagerOptions po;
  po.part_ms = 100;
  po.segment_ms = 500;
  po.window_segments = 3;
  Packager packager(po);
  size_t sent = 0;
  RtmpSession::Callbacks cb;
  cb.send = [&sent](std::string_view b) { sent += b.size(); };
  cb.on_publish = [&packager](const RtmpPublishRequest& r) {
    RtmpPublishDecision d;
    d.ok = r.name.size() % 2 == 0;  // both outcomes get exercised
    if (d.ok) packager.BeginSession();
    return d;
  };
  cb.on_media = [&packager](const RtmpMedia& m) {
    if (m.type == 9) {
      auto v = ParseFlvVideo(m.payload);
      if (v.ok()) (void)packager.AddVideo(m.timestamp_ms, *v, 0);
    } else {
      auto a = ParseFlvAudio(m.payload);
      if (a.ok()) (void)packager.AddAudio(m.timestamp_ms, *a, 0);
    }
  };
  cb.on_unpublish = [&packager] { packager.EndSession(); };
  RtmpSession session(std::move(cb));
  for (size_t off = 0; off < input.size(); off += split) {
    if (!session.Feed(std::string_view(input).substr(off, split)).ok()) break;
  }
  packager.EndSession();
  std::string pl = packager.Playlist(false);
  std::string delta = packager.Playlist(true);
  for (int64_t msn = packager.next_msn() - 4; msn <= packager.next_msn(); ++msn) {
    (void)packager.Segment(msn);
    for (int p = 0; p < 40; ++p) (void)packager.Part(msn, p);
    (void)packager.CheckBlocking(msn, 0);
  }
  return 0;
}
