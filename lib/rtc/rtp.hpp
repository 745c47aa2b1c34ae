// RTP packets (RFC 3550) and their header extensions (RFC 8285): a zero-copy view for parsing,
// in-place rewriting of the fields an SFU changes per subscriber, a builder for whole packets,
// RTX wrap/unwrap (RFC 4588), and the first-byte demultiplexing of RFC 7983 / RFC 5761.
// Parsing and extension lookup never allocate: the SFU runs them on every packet.
// Deliberately not here: SRTP, jitter buffers, sequence-number unwrapping or any other per-stream
// state, and the meaning of extension ids (rtp_ext.hpp maps ids to kinds).
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>
#include <vector>

#include "lib/base/result.hpp"

namespace collab::rtc {

namespace rtp_detail {
inline uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t Get32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}
inline void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void Put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
}  // namespace rtp_detail

// ---- Demultiplexing one UDP/TCP-framed datagram (RFC 7983 section 7, RFC 5761 section 4) ----

enum class PacketClass : uint8_t { kStun, kZrtp, kDtls, kTurnChannel, kRtpOrRtcp, kUnknown };

constexpr PacketClass ClassifyFirstByte(uint8_t b) {
  if (b <= 3) return PacketClass::kStun;
  if (b >= 16 && b <= 19) return PacketClass::kZrtp;
  if (b >= 20 && b <= 63) return PacketClass::kDtls;
  if (b >= 64 && b <= 79) return PacketClass::kTurnChannel;
  if (b >= 128 && b <= 191) return PacketClass::kRtpOrRtcp;
  return PacketClass::kUnknown;
}
// An empty datagram is kUnknown.
PacketClass ClassifyPacket(std::span<const uint8_t> datagram);
// True when an RTP/RTCP-class datagram is RTCP: its second byte (RTCP packet type, or RTP
// marker+payload type) is 192..223. RTP payload types 64..95 are therefore unusable with rtcp-mux.
bool IsRtcp(std::span<const uint8_t> datagram);

// ---- Parsing ----

inline constexpr size_t kRtpFixedHeaderSize = 12;
inline constexpr uint16_t kOneByteExtensionProfile = 0xBEDE;
inline constexpr uint16_t kTwoByteExtensionProfile = 0x1000;  // low 4 bits are "appbits"

enum class RtpError : uint8_t {
  kNone,
  kTooShort,           // fewer than 12 bytes
  kBadVersion,         // version field is not 2
  kCsrcOverrun,        // CSRC list runs past the end
  kExtensionOverrun,   // extension header or its declared length runs past the end
  kBadPadding,         // padding count is 0 or larger than what follows the header
};
const char* RtpErrorText(RtpError error);

enum class ExtensionForm : uint8_t { kNone, kOneByte, kTwoByte, kOther };

struct RtpExtension {
  uint8_t id = 0;
  std::span<const uint8_t> data;
};

// Walks the elements of a one-byte or two-byte extension block. Padding bytes are skipped; in the
// one-byte form id 15 ends the walk. An element that runs past the block (or a one-byte element
// with id 0 and a non-zero length) also ends it, and malformed() says so.
class RtpExtensionIterator {
 public:
  using value_type = RtpExtension;
  using difference_type = std::ptrdiff_t;

  RtpExtensionIterator() = default;
  RtpExtensionIterator(const uint8_t* block, size_t size, ExtensionForm form);

  const RtpExtension& operator*() const { return current_; }
  const RtpExtension* operator->() const { return &current_; }
  RtpExtensionIterator& operator++() {
    Advance();
    return *this;
  }
  void operator++(int) { Advance(); }
  bool operator==(std::default_sentinel_t) const { return done_; }
  bool malformed() const { return malformed_; }

 private:
  void Advance();

  const uint8_t* block_ = nullptr;
  size_t size_ = 0;
  size_t pos_ = 0;
  ExtensionForm form_ = ExtensionForm::kNone;
  bool done_ = true;
  bool malformed_ = false;
  RtpExtension current_;
};

struct RtpExtensionRange {
  RtpExtensionIterator first;
  RtpExtensionIterator begin() const { return first; }
  std::default_sentinel_t end() const { return {}; }
};

// A validated, read-only view of one RTP packet. It points into the caller's buffer, which must
// outlive it. Accessors read the bytes directly.
class RtpView {
 public:
  RtpView() = default;

  // Allocation-free parse; on failure *out is untouched.
  [[nodiscard]] static RtpError TryParse(std::span<const uint8_t> packet, RtpView* out);
  static base::Result<RtpView> Parse(std::span<const uint8_t> packet);

  uint8_t version() const { return data_[0] >> 6; }
  bool has_padding() const { return (data_[0] & 0x20) != 0; }
  bool has_extension() const { return (data_[0] & 0x10) != 0; }
  size_t csrc_count() const { return data_[0] & 0x0F; }
  bool marker() const { return (data_[1] & 0x80) != 0; }
  uint8_t payload_type() const { return data_[1] & 0x7F; }
  uint16_t sequence_number() const { return rtp_detail::Get16(data_ + 2); }
  uint32_t timestamp() const { return rtp_detail::Get32(data_ + 4); }
  uint32_t ssrc() const { return rtp_detail::Get32(data_ + 8); }
  uint32_t csrc(size_t i) const { return rtp_detail::Get32(data_ + 12 + 4 * i); }

  ExtensionForm extension_form() const { return ext_form_; }
  // The 16-bit "defined by profile" field (0xBEDE, 0x100x, or anything else); 0 without X bit.
  uint16_t extension_profile() const { return ext_profile_; }
  // The extension data after its 4-byte header (elements plus their padding).
  std::span<const uint8_t> extension_block() const { return {data_ + ext_offset_, ext_size_}; }
  RtpExtensionRange extensions() const;
  // The first element with this id; nullopt when absent (a two-byte element may be empty).
  std::optional<std::span<const uint8_t>> FindExtension(uint8_t id) const;
  // False when the extension walk stopped at a malformed element (the packet is still usable).
  bool ExtensionsWellFormed() const;

  // Fixed header + CSRCs + extension block.
  size_t header_size() const { return header_size_; }
  std::span<const uint8_t> payload() const { return {data_ + header_size_, payload_size_}; }
  size_t payload_size() const { return payload_size_; }
  // Bytes of RTP padding (including the count byte) stripped from the end.
  size_t padding_size() const { return padding_size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  size_t size() const { return size_; }

 protected:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t header_size_ = 0;
  size_t ext_offset_ = 0;
  size_t ext_size_ = 0;
  size_t payload_size_ = 0;
  size_t padding_size_ = 0;
  uint16_t ext_profile_ = 0;
  ExtensionForm ext_form_ = ExtensionForm::kNone;
};

// A view over a writable buffer: the per-subscriber rewrites of an SFU, done in place without
// changing the packet size.
class MutableRtpView : public RtpView {
 public:
  MutableRtpView() = default;
  [[nodiscard]] static RtpError TryParse(std::span<uint8_t> packet, MutableRtpView* out);
  static base::Result<MutableRtpView> Parse(std::span<uint8_t> packet);

  void SetMarker(bool marker);
  void SetPayloadType(uint8_t payload_type);  // low 7 bits are used
  void SetSequenceNumber(uint16_t seq) { rtp_detail::Put16(mutable_data() + 2, seq); }
  void SetTimestamp(uint32_t ts) { rtp_detail::Put32(mutable_data() + 4, ts); }
  void SetSsrc(uint32_t ssrc) { rtp_detail::Put32(mutable_data() + 8, ssrc); }
  // Overwrites the data of the first element with this id when the sizes are equal; false when
  // the element is absent or has another size (the packet is then unchanged).
  bool SetExtension(uint8_t id, std::span<const uint8_t> data);
  std::optional<std::span<uint8_t>> MutableExtension(uint8_t id);
  std::span<uint8_t> mutable_payload() { return {mutable_data() + header_size_, payload_size_}; }

 private:
  // The view was made from a writable span, so dropping const is sound.
  uint8_t* mutable_data() { return const_cast<uint8_t*>(data_); }
};

// ---- Building ----

// The parts of a packet to build. Spans are read during the call only.
struct RtpPacketSpec {
  bool marker = false;
  uint8_t payload_type = 0;  // 0..127
  uint16_t sequence_number = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0;
  std::span<const uint32_t> csrcs;           // at most 15
  std::span<const RtpExtension> extensions;  // written in this order; empty = no X bit
  // Without it the one-byte form is used when every element fits it (id 1..14, 1..16 bytes).
  bool force_two_byte_extensions = false;
  std::span<const uint8_t> payload;
  uint8_t padding = 0;  // RTP padding bytes to append including the count byte; 0 = none
};

base::Result<size_t> RtpPacketSize(const RtpPacketSpec& spec);
// Writes into out (at least RtpPacketSize bytes); returns the size written.
base::Result<size_t> WriteRtpPacket(const RtpPacketSpec& spec, std::span<uint8_t> out);
base::Result<std::vector<uint8_t>> BuildRtpPacket(const RtpPacketSpec& spec);

// ---- RTX (RFC 4588) ----

// The original sequence number carried in the first two payload bytes; nullopt for a payload
// shorter than that (e.g. a padding-only probe).
std::optional<uint16_t> RtxOriginalSequenceNumber(const RtpView& rtx);
// Header (CSRCs and extensions kept) + original sequence number + original payload; padding is
// dropped. The timestamp and marker are kept. out may start at the original's own buffer
// (in-place wrap) when that buffer has RtxWrappedSize bytes.
inline size_t RtxWrappedSize(const RtpView& original) {
  return original.header_size() + 2 + original.payload_size();
}
base::Result<size_t> RtxWrap(const RtpView& original, uint8_t rtx_payload_type, uint32_t rtx_ssrc,
                             uint16_t rtx_sequence_number, std::span<uint8_t> out);
base::Result<std::vector<uint8_t>> RtxWrap(const RtpView& original, uint8_t rtx_payload_type,
                                           uint32_t rtx_ssrc, uint16_t rtx_sequence_number);
// Restores the original packet: sequence number from the payload, the given payload type and
// SSRC, RTX padding dropped. Needs rtx.size() - rtx.padding_size() - 2 bytes of out, which may
// be the RTX packet's own buffer (in-place unwrap).
base::Result<size_t> RtxUnwrap(const RtpView& rtx, uint8_t original_payload_type,
                               uint32_t original_ssrc, std::span<uint8_t> out);
base::Result<std::vector<uint8_t>> RtxUnwrap(const RtpView& rtx, uint8_t original_payload_type,
                                             uint32_t original_ssrc);

}  // namespace collab::rtc
