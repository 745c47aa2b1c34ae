// RTCP (RFC 3550, RFC 4585, RFC 5104) plus the two WebRTC congestion-control feedback formats,
// REMB (draft-alvestrand-rmcat-remb) and transport-wide CC feedback
// (draft-holmer-rmcat-transport-wide-cc-extensions-01): a compound-packet reader over a
// decrypted SRTCP payload, typed parsers for SR, RR, SDES, BYE, generic NACK, transport-cc,
// PLI, FIR and REMB, and a writer for each. Unknown packet types (APP, XR, ...) are the caller's to
// skip; a length that does not fit is an error.
// Deliberately not here: SRTCP, RTT/jitter/loss statistics, bandwidth estimation, and the
// scheduling of reports (which feedback to send when).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.hpp"

namespace collab::rtc {

// Packet types (the second header byte).
inline constexpr uint8_t kRtcpSr = 200;
inline constexpr uint8_t kRtcpRr = 201;
inline constexpr uint8_t kRtcpSdes = 202;
inline constexpr uint8_t kRtcpBye = 203;
inline constexpr uint8_t kRtcpApp = 204;
inline constexpr uint8_t kRtcpRtpfb = 205;  // transport-layer feedback (RFC 4585)
inline constexpr uint8_t kRtcpPsfb = 206;   // payload-specific feedback (RFC 4585)
inline constexpr uint8_t kRtcpXr = 207;
// Feedback message types (FMT, the low five bits of the first byte).
inline constexpr uint8_t kRtpfbNack = 1;
inline constexpr uint8_t kRtpfbTransportCc = 15;
inline constexpr uint8_t kPsfbPli = 1;
inline constexpr uint8_t kPsfbFir = 4;
inline constexpr uint8_t kPsfbAfb = 15;  // application layer feedback; REMB is one
// SDES item types.
inline constexpr uint8_t kSdesCname = 1;

inline constexpr size_t kRtcpHeaderSize = 4;
// The 16-bit length field counts 32-bit words minus one.
inline constexpr size_t kRtcpMaxPacketSize = 4 * 65536;

// One packet of a compound packet, pointing into the caller's buffer.
struct RtcpBlock {
  uint8_t type = 0;
  uint8_t count = 0;                // RC, SC or FMT: the low five bits of the first byte
  std::span<const uint8_t> packet;  // the whole packet: header, body and any padding
  std::span<const uint8_t> body;    // after the 4-byte header, padding removed
};

// Walks a compound packet (or a reduced-size one, RFC 5506) header by header. No allocation.
class RtcpReader {
 public:
  explicit RtcpReader(std::span<const uint8_t> compound);
  // The next packet; false at the end or on malformed input, and then error() is non-null.
  // An empty input is malformed.
  bool Next(RtcpBlock* out);
  const char* error() const { return error_; }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  const char* error_ = nullptr;
};

// Every packet's header, length and padding check out; an empty input fails.
base::Status ValidateRtcpCompound(std::span<const uint8_t> compound);

// ---- Typed packets ----

struct ReportBlock {
  uint32_t ssrc = 0;
  uint8_t fraction_lost = 0;
  int32_t cumulative_lost = 0;  // 24-bit signed on the wire; the writer clamps
  uint32_t highest_sequence = 0;
  uint32_t jitter = 0;
  uint32_t last_sr = 0;
  uint32_t delay_since_last_sr = 0;
  bool operator==(const ReportBlock&) const = default;
};

struct SenderReport {
  uint32_t ssrc = 0;
  uint64_t ntp_timestamp = 0;
  uint32_t rtp_timestamp = 0;
  uint32_t packet_count = 0;
  uint32_t octet_count = 0;
  std::vector<ReportBlock> reports;  // at most 31; profile extensions are ignored
  bool operator==(const SenderReport&) const = default;
};

struct ReceiverReport {
  uint32_t ssrc = 0;
  std::vector<ReportBlock> reports;  // at most 31
  bool operator==(const ReceiverReport&) const = default;
};

struct SdesItem {
  uint8_t type = 0;  // 1..255; kSdesCname = 1
  std::string text;  // at most 255 bytes
  bool operator==(const SdesItem&) const = default;
};

struct SdesChunk {
  uint32_t ssrc = 0;
  std::vector<SdesItem> items;
  bool operator==(const SdesChunk&) const = default;
};

struct Sdes {
  std::vector<SdesChunk> chunks;  // at most 31
  // The CNAME of ssrc, or nullopt.
  std::optional<std::string_view> Cname(uint32_t ssrc) const;
  bool operator==(const Sdes&) const = default;
};

struct Bye {
  std::vector<uint32_t> ssrcs;  // at most 31
  std::string reason;           // at most 255 bytes; empty = none
  bool operator==(const Bye&) const = default;
};

// Generic NACK (RTPFB FMT 1): the lost sequence numbers in the order the PID/BLP pairs list them.
struct Nack {
  uint32_t sender_ssrc = 0;
  uint32_t media_ssrc = 0;
  std::vector<uint16_t> lost;
  bool operator==(const Nack&) const = default;
};

struct Pli {
  uint32_t sender_ssrc = 0;
  uint32_t media_ssrc = 0;
  bool operator==(const Pli&) const = default;
};

struct FirEntry {
  uint32_t ssrc = 0;
  uint8_t seq = 0;  // command sequence number
  bool operator==(const FirEntry&) const = default;
};

// FIR (RFC 5104): the header's media SSRC is always 0, so it is not kept.
struct Fir {
  uint32_t sender_ssrc = 0;
  std::vector<FirEntry> entries;
  bool operator==(const Fir&) const = default;
};

// REMB: an 18-bit mantissa and 6-bit exponent, so the writer rounds bitrates above 2^18 down.
struct Remb {
  uint32_t sender_ssrc = 0;
  uint64_t bitrate_bps = 0;
  std::vector<uint32_t> ssrcs;  // at most 255
  bool operator==(const Remb&) const = default;
};

// Transport-wide CC feedback (RTPFB FMT 15).
struct TwccPacket {
  uint16_t seq = 0;
  bool received = false;
  // Arrival minus the previous received packet's (the reference time for the first), in 250 us
  // ticks; 0 when not received.
  int32_t delta_ticks = 0;
  bool operator==(const TwccPacket&) const = default;
};

struct TransportCcFeedback {
  static constexpr int64_t kDeltaTickMicros = 250;
  static constexpr int64_t kReferenceTimeMicros = 64000;

  uint32_t sender_ssrc = 0;
  uint32_t media_ssrc = 0;
  uint16_t base_seq = 0;
  uint32_t reference_time = 0;  // 24 bits, in 64 ms units; wraps, as the sender's clock does
  uint8_t feedback_count = 0;   // feedback packet count, for the receiver's loss detection
  std::vector<TwccPacket> packets;  // base_seq, base_seq+1, ... (the packet status count)
  bool operator==(const TransportCcFeedback&) const = default;
};

struct TwccArrival {
  uint16_t seq = 0;
  int64_t arrival_us = 0;
  bool operator==(const TwccArrival&) const = default;
};

// The received packets with their arrival times: reference time plus the running sum of deltas.
std::vector<TwccArrival> TwccArrivals(const TransportCcFeedback& feedback);

// Feedback for packets base_seq .. the highest seq among arrivals (16-bit wrap-aware offsets from
// base_seq; order does not matter); seqs without an arrival are reported lost. Arrival times
// (microseconds, any epoch) are rounded to 250 us ticks; the reference time is the first
// received packet's, rounded down to 64 ms. Fails on a duplicate seq, no arrivals, or two
// consecutive received packets more than about 8 s apart (the caller splits such feedback).
base::Result<TransportCcFeedback> BuildTransportCcFeedback(uint32_t sender_ssrc, uint32_t media_ssrc,
                                                           uint8_t feedback_count, uint16_t base_seq,
                                                           std::span<const TwccArrival> arrivals);

// ---- Parsers (a block of the wrong type or FMT is an error) ----

base::Result<SenderReport> ParseSr(const RtcpBlock& block);
base::Result<ReceiverReport> ParseRr(const RtcpBlock& block);
base::Result<Sdes> ParseSdes(const RtcpBlock& block);
base::Result<Bye> ParseBye(const RtcpBlock& block);
base::Result<Nack> ParseNack(const RtcpBlock& block);
base::Result<TransportCcFeedback> ParseTransportCc(const RtcpBlock& block);
base::Result<Pli> ParsePli(const RtcpBlock& block);
base::Result<Fir> ParseFir(const RtcpBlock& block);
// A PSFB/AFB block whose payload starts with "REMB".
bool IsRemb(const RtcpBlock& block);
base::Result<Remb> ParseRemb(const RtcpBlock& block);

// ---- Writers: each appends one complete, 32-bit aligned packet to *out (compound packing is
// appending several), or fails and leaves *out unchanged ----

base::Status WriteSr(const SenderReport& sr, std::vector<uint8_t>* out);
base::Status WriteRr(const ReceiverReport& rr, std::vector<uint8_t>* out);
base::Status WriteSdes(const Sdes& sdes, std::vector<uint8_t>* out);
base::Status WriteSdesCname(uint32_t ssrc, std::string_view cname, std::vector<uint8_t>* out);
base::Status WriteBye(const Bye& bye, std::vector<uint8_t>* out);
// Packs nack.lost into PID/BLP pairs: a seq joins the current pair when it is 1..16 after its PID
// and after the pair's last seq, so parsing gives back exactly the same list. Sorted input packs
// tightest. An empty list is an error (RFC 4585 needs one FCI entry; the parser agrees).
base::Status WriteNack(const Nack& nack, std::vector<uint8_t>* out);
base::Status WritePli(const Pli& pli, std::vector<uint8_t>* out);
base::Status WriteFir(const Fir& fir, std::vector<uint8_t>* out);  // at least one entry
base::Status WriteRemb(const Remb& remb, std::vector<uint8_t>* out);
// Needs packets[i].seq == base_seq + i and received deltas within int16; chooses run-length,
// 1-bit and 2-bit status-vector chunks.
base::Status WriteTransportCc(const TransportCcFeedback& feedback, std::vector<uint8_t>* out);

// Pads a compound packet to a multiple of `multiple` bytes (a multiple of 4, at most 256) with
// RTP-style padding on its last packet (P bit, count in the last byte). No-op when aligned.
base::Status PadRtcpCompound(std::vector<uint8_t>* compound, size_t multiple);

}  // namespace collab::rtc
