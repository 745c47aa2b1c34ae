// H.264 over RTP (RFC 6184, non-interleaved mode: single NAL unit packets, STAP-A and FU-A)
// back into access units, for WHIP ingest. A small reorder window absorbs LAN-sized reordering;
// a gap that the window cannot close is loss, and then everything is dropped until the next
// complete IDR access unit, because an HLS segment must start decodable. needs_keyframe() tells
// the caller when to ask the sender for one (RTCP PLI).
// Deliberately not here: RTCP, timers, NACK/retransmission, interleaved mode (STAP-B, MTAP,
// FU-B), RTP timestamp to wall clock mapping, and parsing slices beyond the NAL unit type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace collab::stream {

struct H264AccessUnit {
  uint32_t rtp_timestamp = 0;
  std::vector<std::string> nals;  // NAL units with their header byte, in decoding order
  bool idr = false;               // holds an IDR slice (NAL type 5)
  // The units as an Annex B byte stream (4-byte start codes), the form annexb.hpp converts.
  std::string AnnexB() const;
};

struct H264DepacketizerStats {
  uint64_t packets = 0;
  uint64_t late_or_duplicate = 0;  // older than what was already released; dropped
  uint64_t lost = 0;               // sequence numbers never seen
  uint64_t malformed = 0;          // payloads that violate RFC 6184 (or use unsupported modes)
  uint64_t units = 0;              // access units released
  uint64_t dropped_units = 0;      // incomplete, or waiting for a keyframe
};

class H264Depacketizer {
 public:
  // reorder_window: packets held while a sequence number is missing; when more arrive, the
  // missing ones count as lost.
  explicit H264Depacketizer(size_t reorder_window = 8);

  // One RTP packet of the H.264 stream. Complete, decodable access units are appended to out.
  void Push(uint16_t sequence_number, uint32_t timestamp, bool marker, std::span<const uint8_t> payload,
            std::vector<H264AccessUnit>& out);

  // True from the start and after a loss until a complete IDR access unit was released.
  bool needs_keyframe() const { return waiting_for_key_; }
  const H264DepacketizerStats& stats() const { return stats_; }

 private:
  struct Held {
    uint32_t timestamp = 0;
    bool marker = false;
    std::vector<uint8_t> payload;
  };
  void Release(std::vector<H264AccessUnit>& out);
  void Process(const Held& p, std::vector<H264AccessUnit>& out);
  void AddNal(std::span<const uint8_t> nal);
  void Finish(std::vector<H264AccessUnit>& out);
  void MarkLoss();

  size_t window_;
  bool started_ = false;
  int64_t next_ = 0;  // extended sequence number expected next
  std::map<int64_t, Held> held_;
  bool gap_ = false;  // the next processed packet follows a loss
  bool waiting_for_key_ = true;
  // The access unit being assembled.
  H264AccessUnit cur_;
  bool cur_open_ = false;
  bool cur_corrupt_ = false;
  size_t cur_bytes_ = 0;
  std::string fragment_;  // FU-A reassembly; empty when none is open
  bool fragment_open_ = false;
  H264DepacketizerStats stats_;
};

}  // namespace collab::stream
