// Turns elementary streams into the FLV tag bodies the packager takes (what an RTMP publisher
// sends), for ingest paths that are not RTMP: SRT (H.264 in Annex B, AAC in ADTS) and WHIP
// (H.264 access units from RTP, AAC from the Opus transcoder). It remembers the codec setup of
// one publisher session and emits a sequence header whenever that setup changes.
// Deliberately not here: timestamps beyond passing them through, codecs other than H.264/AAC,
// and the transports themselves.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace collab::stream {

struct IngestTag {
  uint8_t type = 9;  // 8 audio, 9 video (FLV/RTMP message types)
  int64_t timestamp_ms = 0;
  std::string body;
};

class IngestTagWriter {
 public:
  // A new publisher session: the next media repeats its sequence headers.
  void Reset();

  // One H.264 access unit as an Annex B byte stream. Parameter sets in it update the avcC
  // (a sequence header tag first when they changed); units before the first SPS/PPS are dropped.
  void VideoAnnexB(std::string_view annexb, int64_t dts_ms, int32_t cts_ms, bool key, std::vector<IngestTag>& out);
  // Back-to-back ADTS frames starting at dts_ms. False when a header was bad (frames before it
  // are still written).
  bool AudioAdts(std::string_view adts, int64_t dts_ms, std::vector<IngestTag>& out);
  // One raw AAC frame with its AudioSpecificConfig.
  void AudioRaw(std::string_view asc, std::string_view frame, int64_t ts_ms, std::vector<IngestTag>& out);

 private:
  std::string sps_, pps_, asc_;
  bool have_avcc_ = false;
};

}  // namespace collab::stream
