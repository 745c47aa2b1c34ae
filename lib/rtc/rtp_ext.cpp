// Typed RTP header extensions and the extension map; see rtp_ext.hpp.
#include "lib/rtc/rtp_ext.hpp"

namespace collab::rtc {

namespace {

struct UriEntry {
  RtpExtensionKind kind;
  std::string_view uri;
};

constexpr UriEntry kUris[] = {
    {RtpExtensionKind::kMid, "urn:ietf:params:rtp-hdrext:sdes:mid"},
    {RtpExtensionKind::kRid, "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"},
    {RtpExtensionKind::kRepairedRid, "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"},
    {RtpExtensionKind::kAbsSendTime, "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"},
    {RtpExtensionKind::kTransportWideCc,
     "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"},
    {RtpExtensionKind::kAudioLevel, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"},
    {RtpExtensionKind::kTransmissionOffset, "urn:ietf:params:rtp-hdrext:toffset"},
    {RtpExtensionKind::kVideoOrientation, "urn:3gpp:video-orientation"},
    {RtpExtensionKind::kPlayoutDelay, "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"},
    {RtpExtensionKind::kAbsCaptureTime,
     "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time"},
};

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kAbsSendTimePeriodMicros = 64 * kMicrosPerSecond;

}  // namespace

std::string_view RtpExtensionUri(RtpExtensionKind kind) {
  for (const UriEntry& e : kUris)
    if (e.kind == kind) return e.uri;
  return {};
}

RtpExtensionKind RtpExtensionKindFromUri(std::string_view uri) {
  for (const UriEntry& e : kUris)
    if (e.uri == uri) return e.kind;
  return RtpExtensionKind::kUnknown;
}

// ---- ExtensionMap ----

bool ExtensionMap::Set(uint8_t id, RtpExtensionKind kind) {
  if (id == 0 || kind >= RtpExtensionKind::kCount) return false;
  Erase(id);
  if (kind == RtpExtensionKind::kUnknown) return true;
  uint8_t& old_id = by_kind_[static_cast<size_t>(kind)];
  if (old_id != 0) by_id_[old_id] = RtpExtensionKind::kUnknown;
  old_id = id;
  by_id_[id] = kind;
  return true;
}

void ExtensionMap::Erase(uint8_t id) {
  RtpExtensionKind old = by_id_[id];
  if (old == RtpExtensionKind::kUnknown) return;
  by_id_[id] = RtpExtensionKind::kUnknown;
  if (by_kind_[static_cast<size_t>(old)] == id) by_kind_[static_cast<size_t>(old)] = 0;
}

void ExtensionMap::Clear() {
  by_id_.fill(RtpExtensionKind::kUnknown);
  by_kind_.fill(0);
}

bool ExtensionMap::empty() const {
  for (uint8_t id : by_kind_)
    if (id != 0) return false;
  return true;
}

// ---- ExtensionIndex ----

std::optional<std::span<const uint8_t>> ExtensionIndex::Get(RtpExtensionKind kind) const {
  if (kind == RtpExtensionKind::kUnknown || kind >= RtpExtensionKind::kCount) return std::nullopt;
  size_t k = static_cast<size_t>(kind);
  if (!(present_ & (1u << k))) return std::nullopt;
  return data_[k];
}

ExtensionIndex IndexExtensions(const RtpView& packet, const ExtensionMap& map) {
  ExtensionIndex index;
  for (const RtpExtension& e : packet.extensions()) {
    RtpExtensionKind kind = map.Lookup(e.id);
    if (kind == RtpExtensionKind::kUnknown) continue;
    size_t k = static_cast<size_t>(kind);
    if (index.present_ & (1u << k)) continue;
    index.present_ |= 1u << k;
    index.data_[k] = e.data;
  }
  return index;
}

std::optional<std::span<const uint8_t>> FindExtension(const RtpView& packet, const ExtensionMap& map,
                                                      RtpExtensionKind kind) {
  uint8_t id = map.IdOf(kind);
  if (id == 0) return std::nullopt;
  return packet.FindExtension(id);
}

// ---- Codecs ----

std::optional<std::string_view> ParseSdesText(std::span<const uint8_t> data) {
  size_t n = data.size();
  while (n > 0 && data[n - 1] == 0) --n;
  if (n == 0) return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(data.data()), n);
}

std::optional<uint32_t> ParseAbsSendTime(std::span<const uint8_t> data) {
  if (data.size() != 3) return std::nullopt;
  return static_cast<uint32_t>(data[0]) << 16 | static_cast<uint32_t>(data[1]) << 8 | data[2];
}

std::array<uint8_t, 3> EncodeAbsSendTime(uint32_t value) {
  return {static_cast<uint8_t>(value >> 16), static_cast<uint8_t>(value >> 8),
          static_cast<uint8_t>(value)};
}

uint32_t AbsSendTimeFromMicros(int64_t micros) {
  // Reduce first: the 24-bit value wraps exactly every 64 s, and the shift must not overflow.
  int64_t in_period = micros % kAbsSendTimePeriodMicros;
  if (in_period < 0) in_period += kAbsSendTimePeriodMicros;
  return static_cast<uint32_t>((in_period << 18) / kMicrosPerSecond) & kAbsSendTimeMask;
}

int64_t AbsSendTimeToMicros(uint32_t value) {
  return (static_cast<int64_t>(value & kAbsSendTimeMask) * kMicrosPerSecond) >> 18;
}

std::optional<uint16_t> ParseTransportSequence(std::span<const uint8_t> data) {
  if (data.size() != 2) return std::nullopt;
  return rtp_detail::Get16(data.data());
}

std::array<uint8_t, 2> EncodeTransportSequence(uint16_t seq) {
  return {static_cast<uint8_t>(seq >> 8), static_cast<uint8_t>(seq)};
}

std::optional<AudioLevel> ParseAudioLevel(std::span<const uint8_t> data) {
  if (data.empty()) return std::nullopt;
  return AudioLevel{(data[0] & 0x80) != 0, static_cast<uint8_t>(data[0] & 0x7F)};
}

uint8_t EncodeAudioLevel(AudioLevel level) {
  uint8_t l = level.level > 127 ? 127 : level.level;
  return static_cast<uint8_t>((level.voice_activity ? 0x80 : 0) | l);
}

// ---- Shortcuts ----

namespace {

std::optional<std::string_view> GetText(const RtpView& packet, const ExtensionMap& map,
                                        RtpExtensionKind kind) {
  auto data = FindExtension(packet, map, kind);
  if (!data) return std::nullopt;
  return ParseSdesText(*data);
}

}  // namespace

std::optional<std::string_view> GetMid(const RtpView& packet, const ExtensionMap& map) {
  return GetText(packet, map, RtpExtensionKind::kMid);
}

std::optional<std::string_view> GetRid(const RtpView& packet, const ExtensionMap& map) {
  return GetText(packet, map, RtpExtensionKind::kRid);
}

std::optional<std::string_view> GetRepairedRid(const RtpView& packet, const ExtensionMap& map) {
  return GetText(packet, map, RtpExtensionKind::kRepairedRid);
}

std::optional<uint32_t> GetAbsSendTime(const RtpView& packet, const ExtensionMap& map) {
  auto data = FindExtension(packet, map, RtpExtensionKind::kAbsSendTime);
  if (!data) return std::nullopt;
  return ParseAbsSendTime(*data);
}

std::optional<uint16_t> GetTransportSequence(const RtpView& packet, const ExtensionMap& map) {
  auto data = FindExtension(packet, map, RtpExtensionKind::kTransportWideCc);
  if (!data) return std::nullopt;
  return ParseTransportSequence(*data);
}

std::optional<AudioLevel> GetAudioLevel(const RtpView& packet, const ExtensionMap& map) {
  auto data = FindExtension(packet, map, RtpExtensionKind::kAudioLevel);
  if (!data) return std::nullopt;
  return ParseAudioLevel(*data);
}

bool SetTransportSequence(MutableRtpView& packet, const ExtensionMap& map, uint16_t seq) {
  uint8_t id = map.IdOf(RtpExtensionKind::kTransportWideCc);
  if (id == 0) return false;
  auto bytes = EncodeTransportSequence(seq);
  return packet.SetExtension(id, bytes);
}

bool SetAbsSendTime(MutableRtpView& packet, const ExtensionMap& map, uint32_t value) {
  uint8_t id = map.IdOf(RtpExtensionKind::kAbsSendTime);
  if (id == 0) return false;
  auto bytes = EncodeAbsSendTime(value);
  return packet.SetExtension(id, bytes);
}

}  // namespace collab::rtc
