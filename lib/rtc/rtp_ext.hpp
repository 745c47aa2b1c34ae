// Typed RTP header extensions used by WebRTC: mid / rid / repaired-rid (RFC 8843, RFC 8852),
// abs-send-time, transport-wide-cc sequence numbers, client-to-mixer audio level (RFC 6464),
// and the id -> kind map that SDP a=extmap lines negotiate. All allocation-free.
// Deliberately not here: parsing SDP (the SDP module fills an ExtensionMap), and any state
// across packets (sequence unwrapping, send-time tracking).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "lib/rtc/rtp.hpp"

namespace collab::rtc {

enum class RtpExtensionKind : uint8_t {
  kUnknown = 0,
  kMid,
  kRid,
  kRepairedRid,
  kAbsSendTime,
  kTransportWideCc,
  kAudioLevel,
  kTransmissionOffset,
  kVideoOrientation,
  kPlayoutDelay,
  kAbsCaptureTime,
  kCount,  // not a kind
};

// The a=extmap URI of a kind ("" for kUnknown), and back (kUnknown for URIs we do not know).
std::string_view RtpExtensionUri(RtpExtensionKind kind);
RtpExtensionKind RtpExtensionKindFromUri(std::string_view uri);

// Negotiated ids (1..255; 1..14 fit the one-byte form) to kinds, both ways, in fixed arrays.
class ExtensionMap {
 public:
  // Maps id to kind, replacing what id meant before; a kind keeps only its latest id.
  // False (and no change) for id 0, which RFC 8285 reserves, or for kind kCount.
  bool Set(uint8_t id, RtpExtensionKind kind);
  void Erase(uint8_t id);
  void Clear();
  RtpExtensionKind Lookup(uint8_t id) const { return by_id_[id]; }
  // 0 when the kind is not mapped.
  uint8_t IdOf(RtpExtensionKind kind) const {
    return kind < RtpExtensionKind::kCount ? by_kind_[static_cast<size_t>(kind)] : 0;
  }
  bool empty() const;

 private:
  std::array<RtpExtensionKind, 256> by_id_{};
  std::array<uint8_t, static_cast<size_t>(RtpExtensionKind::kCount)> by_kind_{};
};

// The element data of each mapped kind present in one packet, found in a single walk over the
// extensions (the first element of each kind wins).
class ExtensionIndex {
 public:
  std::optional<std::span<const uint8_t>> Get(RtpExtensionKind kind) const;

 private:
  friend ExtensionIndex IndexExtensions(const RtpView& packet, const ExtensionMap& map);
  std::array<std::span<const uint8_t>, static_cast<size_t>(RtpExtensionKind::kCount)> data_{};
  uint32_t present_ = 0;
};
ExtensionIndex IndexExtensions(const RtpView& packet, const ExtensionMap& map);

// The element data of one kind in a packet; nullopt when unmapped or absent.
std::optional<std::span<const uint8_t>> FindExtension(const RtpView& packet, const ExtensionMap& map,
                                                      RtpExtensionKind kind);

// ---- Value codecs (data = one element's bytes) ----

// mid, rid and repaired-rid: the SDES text itself. Trailing NULs some senders add are dropped;
// empty values are rejected.
std::optional<std::string_view> ParseSdesText(std::span<const uint8_t> data);

// abs-send-time: 24 bits, seconds in 6.18 fixed point, wrapping every 64 s.
inline constexpr uint32_t kAbsSendTimeMask = 0xFFFFFF;
std::optional<uint32_t> ParseAbsSendTime(std::span<const uint8_t> data);  // exactly 3 bytes
std::array<uint8_t, 3> EncodeAbsSendTime(uint32_t value);                 // low 24 bits
// From a monotonic microsecond clock (any epoch): the 6.18 value, truncated, modulo 64 s.
uint32_t AbsSendTimeFromMicros(int64_t micros);
// The offset within the 64 s period, in microseconds (truncated).
int64_t AbsSendTimeToMicros(uint32_t value);

// transport-wide-cc (draft-holmer-rmcat-transport-wide-cc-extensions-01): a 16-bit sequence
// number shared by all streams of a transport.
std::optional<uint16_t> ParseTransportSequence(std::span<const uint8_t> data);  // exactly 2 bytes
std::array<uint8_t, 2> EncodeTransportSequence(uint16_t seq);

// RFC 6464: V flag (voice activity) and the level in -dBov, 0 (loudest) .. 127 (silence).
struct AudioLevel {
  bool voice_activity = false;
  uint8_t level = 127;
  bool operator==(const AudioLevel&) const = default;
};
// At least 1 byte (the two-byte form may carry padding after it).
std::optional<AudioLevel> ParseAudioLevel(std::span<const uint8_t> data);
uint8_t EncodeAudioLevel(AudioLevel level);  // level clamped to 127

// ---- Shortcuts over a packet ----

std::optional<std::string_view> GetMid(const RtpView& packet, const ExtensionMap& map);
std::optional<std::string_view> GetRid(const RtpView& packet, const ExtensionMap& map);
std::optional<std::string_view> GetRepairedRid(const RtpView& packet, const ExtensionMap& map);
std::optional<uint32_t> GetAbsSendTime(const RtpView& packet, const ExtensionMap& map);
std::optional<uint16_t> GetTransportSequence(const RtpView& packet, const ExtensionMap& map);
std::optional<AudioLevel> GetAudioLevel(const RtpView& packet, const ExtensionMap& map);
// In-place rewrites (the SFU stamps its own transport-cc sequence and send time per subscriber);
// false when the kind is unmapped, absent, or its element has another size.
bool SetTransportSequence(MutableRtpView& packet, const ExtensionMap& map, uint16_t seq);
bool SetAbsSendTime(MutableRtpView& packet, const ExtensionMap& map, uint32_t value);

}  // namespace collab::rtc
