// STUN message parsing and writing. See stun.hpp for scope.
#include "lib/rtc/stun.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace collab::rtc {
namespace {

using base::Error;
using base::kExitDataErr;
using base::kExitSoftware;

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 |
         p[3];
}
uint64_t Be64(const uint8_t* p) { return static_cast<uint64_t>(Be32(p)) << 32 | Be32(p + 4); }
void PutBe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void PutBe32(uint8_t* p, uint32_t v) {
  PutBe16(p, static_cast<uint16_t>(v >> 16));
  PutBe16(p + 2, static_cast<uint16_t>(v));
}
void PutBe64(uint8_t* p, uint64_t v) {
  PutBe32(p, static_cast<uint32_t>(v >> 32));
  PutBe32(p + 4, static_cast<uint32_t>(v));
}

// CRC-32 as used by FINGERPRINT (the ISO-HDLC / zlib polynomial, reflected 0xEDB88320).
constexpr std::array<uint32_t, 256> kCrcTable = [] {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}();

uint32_t Crc32(std::span<const uint8_t> data) {
  uint32_t c = 0xFFFFFFFFu;
  for (uint8_t b : data) c = kCrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

// HMAC-SHA1 over a header whose length field is replaced, followed by the attributes before
// MESSAGE-INTEGRITY. Fed in two pieces so the received packet is never copied or modified.
bool HmacSha1(std::span<const uint8_t> key, const uint8_t* header20, std::span<const uint8_t> rest,
              uint8_t out[kStunMessageIntegritySize]) {
  // Fetched once for the process: the provider lookup is the expensive part.
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) return false;
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  if (ctx == nullptr) return false;
  char digest[] = "SHA1";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  // A null key means "keep the previous key" to EVP_MAC_init, so an empty key needs a real pointer.
  static const uint8_t kEmpty = 0;
  const uint8_t* k = key.empty() ? &kEmpty : key.data();
  size_t out_len = 0;
  bool ok = EVP_MAC_init(ctx, k, key.size(), params) == 1 && EVP_MAC_update(ctx, header20, kStunHeaderSize) == 1 &&
            (rest.empty() || EVP_MAC_update(ctx, rest.data(), rest.size()) == 1) &&
            EVP_MAC_final(ctx, out, &out_len, kStunMessageIntegritySize) == 1 && out_len == kStunMessageIntegritySize;
  EVP_MAC_CTX_free(ctx);
  return ok;
}

std::span<const uint8_t> AsBytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

std::string_view AsText(std::span<const uint8_t> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

Error ParseError(const char* why) { return Error{kExitDataErr, std::string("STUN: ") + why}; }

// Longest USERNAME RFC 8489 allows (513 bytes); an ICE username is two ufrags of <= 256 each.
constexpr size_t kMaxUsername = 513;

}  // namespace

const char* StunReasonPhrase(int code) {
  switch (code) {
    case 300:
      return "Try Alternate";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 420:
      return "Unknown Attribute";
    case 438:
      return "Stale Nonce";
    case 487:
      return "Role Conflict";
    case 500:
      return "Server Error";
    default:
      return "";
  }
}

uint16_t StunMessageType(StunClass cls, uint16_t method) {
  uint16_t c = static_cast<uint16_t>(cls);
  return static_cast<uint16_t>((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) |
                               ((c & 1) << 4) | ((c & 2) << 7));
}

// ---- TransportAddress ----------------------------------------------------------------------

TransportAddress TransportAddress::Ipv4(const std::array<uint8_t, 4>& ip, uint16_t port) {
  TransportAddress a;
  a.family = Family::kIpv4;
  std::memcpy(a.ip.data(), ip.data(), 4);
  a.port = port;
  return a;
}

TransportAddress TransportAddress::Ipv6(const std::array<uint8_t, 16>& ip, uint16_t port) {
  TransportAddress a;
  a.family = Family::kIpv6;
  a.ip = ip;
  a.port = port;
  return a;
}

std::optional<TransportAddress> TransportAddress::FromString(std::string_view text) {
  std::string_view host;
  std::string_view port_text;
  bool v6 = false;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
    v6 = true;
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  if (port_text.empty() || port_text.size() > 5 || host.empty() || host.size() >= INET6_ADDRSTRLEN) {
    return std::nullopt;
  }
  uint32_t port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9') return std::nullopt;
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port > 65535) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, host.data(), host.size());
  buf[host.size()] = '\0';
  TransportAddress a;
  a.port = static_cast<uint16_t>(port);
  if (v6) {
    if (inet_pton(AF_INET6, buf, a.ip.data()) != 1) return std::nullopt;
    a.family = Family::kIpv6;
  } else {
    if (inet_pton(AF_INET, buf, a.ip.data()) != 1) return std::nullopt;
    a.family = Family::kIpv4;
  }
  return a;
}

std::optional<TransportAddress> TransportAddress::FromSockaddr(const sockaddr* sa, socklen_t len) {
  if (sa == nullptr) return std::nullopt;
  TransportAddress a;
  if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    sockaddr_in in;
    std::memcpy(&in, sa, sizeof in);
    a.family = Family::kIpv4;
    std::memcpy(a.ip.data(), &in.sin_addr, 4);
    a.port = ntohs(in.sin_port);
    return a;
  }
  if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    sockaddr_in6 in6;
    std::memcpy(&in6, sa, sizeof in6);
    a.family = Family::kIpv6;
    std::memcpy(a.ip.data(), &in6.sin6_addr, 16);
    a.port = ntohs(in6.sin6_port);
    return a;
  }
  return std::nullopt;
}

bool TransportAddress::IsV4MappedV6() const {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  return family == Family::kIpv6 && std::memcmp(ip.data(), kPrefix, sizeof kPrefix) == 0;
}

TransportAddress TransportAddress::Unmapped() const {
  if (!IsV4MappedV6()) return *this;
  return Ipv4({ip[12], ip[13], ip[14], ip[15]}, port);
}

socklen_t TransportAddress::ToSockaddr(sockaddr_storage* out) const {
  std::memset(out, 0, sizeof *out);
  if (family == Family::kIpv4) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    std::memcpy(&in.sin_addr, ip.data(), 4);
    std::memcpy(out, &in, sizeof in);
    return sizeof in;
  }
  if (family == Family::kIpv6) {
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
    std::memcpy(&in6.sin6_addr, ip.data(), 16);
    std::memcpy(out, &in6, sizeof in6);
    return sizeof in6;
  }
  return 0;
}

std::string TransportAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = "";
  if (family == Family::kIpv4) {
    inet_ntop(AF_INET, ip.data(), buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(port);
  }
  if (family == Family::kIpv6) {
    inet_ntop(AF_INET6, ip.data(), buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(port);
  }
  return "(none)";
}

StunTransactionId StunTransactionId::Random() {
  StunTransactionId id;
  if (RAND_bytes(id.bytes.data(), static_cast<int>(id.bytes.size())) != 1) {
    // No randomness means no safe transaction ids or credentials at all: stop rather than guess.
    std::fprintf(stderr, "collab: RAND_bytes failed\n");
    std::abort();
  }
  return id;
}

// ---- StunMessage ---------------------------------------------------------------------------

int StunMessage::SlotOf(uint16_t type) {
  switch (type) {
    case stun_attr::kMappedAddress:
      return kSlotMappedAddress;
    case stun_attr::kUsername:
      return kSlotUsername;
    case stun_attr::kMessageIntegrity:
      return kSlotMessageIntegrity;
    case stun_attr::kErrorCode:
      return kSlotErrorCode;
    case stun_attr::kUnknownAttributes:
      return kSlotUnknownAttributes;
    case stun_attr::kRealm:
      return kSlotRealm;
    case stun_attr::kNonce:
      return kSlotNonce;
    case stun_attr::kMessageIntegritySha256:
      return kSlotMessageIntegritySha256;
    case stun_attr::kXorMappedAddress:
      return kSlotXorMappedAddress;
    case stun_attr::kPriority:
      return kSlotPriority;
    case stun_attr::kUseCandidate:
      return kSlotUseCandidate;
    case stun_attr::kSoftware:
      return kSlotSoftware;
    case stun_attr::kFingerprint:
      return kSlotFingerprint;
    case stun_attr::kIceControlled:
      return kSlotIceControlled;
    case stun_attr::kIceControlling:
      return kSlotIceControlling;
    default:
      return -1;
  }
}

namespace {

// Checks the value of a known attribute so the accessors can read it without further checks.
const char* ValidateValue(uint16_t type, std::span<const uint8_t> v) {
  switch (type) {
    case stun_attr::kMappedAddress:
    case stun_attr::kXorMappedAddress:
      if (v.size() < 4) return "address attribute too short";
      if (v[1] == 1) return v.size() == 8 ? nullptr : "bad IPv4 address attribute length";
      if (v[1] == 2) return v.size() == 20 ? nullptr : "bad IPv6 address attribute length";
      return "unknown address family";
    case stun_attr::kUsername:
      return v.size() <= kMaxUsername ? nullptr : "USERNAME too long";
    case stun_attr::kMessageIntegrity:
      return v.size() == kStunMessageIntegritySize ? nullptr : "bad MESSAGE-INTEGRITY length";
    case stun_attr::kMessageIntegritySha256:
      return (v.size() >= 16 && v.size() <= 32 && v.size() % 4 == 0) ? nullptr : "bad MESSAGE-INTEGRITY-SHA256 length";
    case stun_attr::kErrorCode: {
      if (v.size() < 4) return "ERROR-CODE too short";
      int cls = v[2] & 0x07;
      if (cls < 3 || cls > 6 || v[3] > 99) return "bad ERROR-CODE value";
      return nullptr;
    }
    case stun_attr::kUnknownAttributes:
      return v.size() % 2 == 0 ? nullptr : "odd UNKNOWN-ATTRIBUTES length";
    case stun_attr::kPriority:
      return v.size() == 4 ? nullptr : "bad PRIORITY length";
    case stun_attr::kUseCandidate:
      return v.empty() ? nullptr : "USE-CANDIDATE has a value";
    case stun_attr::kFingerprint:
      return v.size() == 4 ? nullptr : "bad FINGERPRINT length";
    case stun_attr::kIceControlled:
    case stun_attr::kIceControlling:
      return v.size() == 8 ? nullptr : "bad ICE-CONTROLLED/ICE-CONTROLLING length";
    default:
      return nullptr;  // text attributes (SOFTWARE, REALM, NONCE): any bytes
  }
}

}  // namespace

base::Result<StunMessage> StunMessage::Parse(std::span<const uint8_t> bytes) {
  const size_t size = bytes.size();
  if (size < kStunHeaderSize) return ParseError("shorter than the 20-byte header");
  const uint8_t* p = bytes.data();
  if ((p[0] & 0xC0) != 0) return ParseError("first two bits are not zero");
  size_t length = Be16(p + 2);
  if (length % 4 != 0) return ParseError("length is not a multiple of 4");
  if (kStunHeaderSize + length != size) return ParseError("length field does not match the message size");
  if (Be32(p + 4) != kStunMagicCookie) return ParseError("bad magic cookie");

  StunMessage m;
  m.bytes_ = bytes;
  m.type_ = Be16(p);
  std::memcpy(m.transaction_id_.bytes.data(), p + 8, 12);

  bool after_integrity = false;  // only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT still count
  bool after_sha256 = false;     // only FINGERPRINT still counts
  bool after_fingerprint = false;
  size_t off = kStunHeaderSize;
  while (off < size) {
    if (size - off < 4) return ParseError("truncated attribute header");
    uint16_t type = Be16(p + off);
    size_t len = Be16(p + off + 2);
    size_t padded = (len + 3) & ~size_t{3};
    if (padded > size - off - 4) return ParseError("attribute runs past the end of the message");
    if (after_fingerprint) return ParseError("attribute after FINGERPRINT");
    bool ignored = (after_sha256 && type != stun_attr::kFingerprint) ||
                   (after_integrity && type != stun_attr::kFingerprint && type != stun_attr::kMessageIntegritySha256);
    if (!ignored) {
      int slot = SlotOf(type);
      if (slot >= 0) {
        if (m.slot_offset_[slot] == 0) {
          if (const char* why = ValidateValue(type, bytes.subspan(off + 4, len))) return ParseError(why);
          m.slot_offset_[slot] = static_cast<uint32_t>(off);
        }
      } else if (type < 0x8000) {
        bool seen = false;
        for (size_t i = 0; i < m.unknown_count_; ++i) seen = seen || m.unknown_[i] == type;
        if (!seen && m.unknown_count_ < kMaxUnknownRemembered) m.unknown_[m.unknown_count_++] = type;
      }
      if (type == stun_attr::kMessageIntegrity) after_integrity = true;
      if (type == stun_attr::kMessageIntegritySha256) after_sha256 = true;
      if (type == stun_attr::kFingerprint) after_fingerprint = true;
    }
    off += 4 + padded;
  }
  return m;
}

StunClass StunMessage::message_class() const { return static_cast<StunClass>(((type_ >> 4) & 1) | ((type_ >> 7) & 2)); }

uint16_t StunMessage::method() const {
  return static_cast<uint16_t>((type_ & 0x000F) | ((type_ & 0x00E0) >> 1) | ((type_ & 0x3E00) >> 2));
}

std::span<const uint8_t> StunMessage::SlotValue(Slot s) const {
  uint32_t off = slot_offset_[s];
  if (off == 0) return {};
  return bytes_.subspan(off + 4, Be16(bytes_.data() + off + 2));
}

std::optional<std::string_view> StunMessage::Username() const {
  if (slot_offset_[kSlotUsername] == 0) return std::nullopt;
  return AsText(SlotValue(kSlotUsername));
}
std::optional<std::string_view> StunMessage::Software() const {
  if (slot_offset_[kSlotSoftware] == 0) return std::nullopt;
  return AsText(SlotValue(kSlotSoftware));
}
std::optional<std::string_view> StunMessage::Realm() const {
  if (slot_offset_[kSlotRealm] == 0) return std::nullopt;
  return AsText(SlotValue(kSlotRealm));
}
std::optional<std::string_view> StunMessage::Nonce() const {
  if (slot_offset_[kSlotNonce] == 0) return std::nullopt;
  return AsText(SlotValue(kSlotNonce));
}

std::optional<TransportAddress> StunMessage::AddressAt(Slot s, bool xored) const {
  if (slot_offset_[s] == 0) return std::nullopt;
  std::span<const uint8_t> v = SlotValue(s);  // validated: family 1 with 8 bytes or 2 with 20
  TransportAddress a;
  uint16_t port = Be16(v.data() + 2);
  // XOR-MAPPED-ADDRESS masks the port with the cookie's high half and the address with the
  // cookie followed by the transaction id, so NATs that rewrite addresses in payloads miss it.
  uint8_t mask[16];
  PutBe32(mask, kStunMagicCookie);
  std::memcpy(mask + 4, transaction_id_.bytes.data(), 12);
  if (xored) port ^= static_cast<uint16_t>(kStunMagicCookie >> 16);
  a.port = port;
  size_t n = v[1] == 1 ? 4 : 16;
  a.family = v[1] == 1 ? TransportAddress::Family::kIpv4 : TransportAddress::Family::kIpv6;
  for (size_t i = 0; i < n; ++i) a.ip[i] = static_cast<uint8_t>(v[4 + i] ^ (xored ? mask[i] : 0));
  return a;
}

std::optional<TransportAddress> StunMessage::XorMappedAddress() const { return AddressAt(kSlotXorMappedAddress, true); }
std::optional<TransportAddress> StunMessage::MappedAddress() const { return AddressAt(kSlotMappedAddress, false); }

std::optional<StunErrorCodeValue> StunMessage::ErrorCode() const {
  if (slot_offset_[kSlotErrorCode] == 0) return std::nullopt;
  std::span<const uint8_t> v = SlotValue(kSlotErrorCode);
  StunErrorCodeValue e;
  e.code = (v[2] & 0x07) * 100 + v[3];
  e.reason = AsText(v.subspan(4));
  return e;
}

std::optional<std::vector<uint16_t>> StunMessage::UnknownAttributes() const {
  if (slot_offset_[kSlotUnknownAttributes] == 0) return std::nullopt;
  std::span<const uint8_t> v = SlotValue(kSlotUnknownAttributes);
  std::vector<uint16_t> types;
  types.reserve(v.size() / 2);
  for (size_t i = 0; i + 1 < v.size(); i += 2) types.push_back(Be16(v.data() + i));
  return types;
}

std::optional<uint32_t> StunMessage::Priority() const {
  if (slot_offset_[kSlotPriority] == 0) return std::nullopt;
  return Be32(SlotValue(kSlotPriority).data());
}

bool StunMessage::UseCandidate() const { return slot_offset_[kSlotUseCandidate] != 0; }

std::optional<uint64_t> StunMessage::IceControlled() const {
  if (slot_offset_[kSlotIceControlled] == 0) return std::nullopt;
  return Be64(SlotValue(kSlotIceControlled).data());
}

std::optional<uint64_t> StunMessage::IceControlling() const {
  if (slot_offset_[kSlotIceControlling] == 0) return std::nullopt;
  return Be64(SlotValue(kSlotIceControlling).data());
}

bool StunMessage::HasMessageIntegrity() const { return slot_offset_[kSlotMessageIntegrity] != 0; }
bool StunMessage::HasMessageIntegritySha256() const { return slot_offset_[kSlotMessageIntegritySha256] != 0; }
std::span<const uint8_t> StunMessage::MessageIntegritySha256() const { return SlotValue(kSlotMessageIntegritySha256); }
bool StunMessage::HasFingerprint() const { return slot_offset_[kSlotFingerprint] != 0; }

std::optional<StunAttribute> StunMessage::Find(uint16_t type) const {
  std::optional<StunAttribute> found;
  ForEachAttribute([&](const StunAttribute& a) {
    if (!found && a.type == type) found = a;
  });
  return found;
}

bool StunMessage::CheckMessageIntegrity(std::span<const uint8_t> key) const {
  uint32_t off = slot_offset_[kSlotMessageIntegrity];
  if (off == 0) return false;
  // The length field must read as if MESSAGE-INTEGRITY were the last attribute.
  uint8_t header[kStunHeaderSize];
  std::memcpy(header, bytes_.data(), kStunHeaderSize);
  PutBe16(header + 2, static_cast<uint16_t>(off + 4 + kStunMessageIntegritySize - kStunHeaderSize));
  uint8_t mac[kStunMessageIntegritySize];
  if (!HmacSha1(key, header, bytes_.subspan(kStunHeaderSize, off - kStunHeaderSize), mac)) return false;
  return CRYPTO_memcmp(mac, bytes_.data() + off + 4, kStunMessageIntegritySize) == 0;
}

bool StunMessage::CheckMessageIntegrity(std::string_view password) const {
  return CheckMessageIntegrity(AsBytes(password));
}

bool StunMessage::CheckFingerprint() const {
  uint32_t off = slot_offset_[kSlotFingerprint];
  if (off == 0) return false;
  // FINGERPRINT is last (Parse enforces it), so the length field already covers it.
  uint32_t want = Crc32(bytes_.first(off)) ^ kStunFingerprintXor;
  return Be32(bytes_.data() + off + 4) == want;
}

// ---- StunWriter ----------------------------------------------------------------------------

StunWriter::StunWriter(StunClass cls, uint16_t method, const StunTransactionId& transaction_id) {
  out_.reserve(128);
  out_.resize(kStunHeaderSize);
  PutBe16(out_.data(), StunMessageType(cls, method));
  PutBe16(out_.data() + 2, 0);
  PutBe32(out_.data() + 4, kStunMagicCookie);
  std::memcpy(out_.data() + 8, transaction_id.bytes.data(), 12);
  if (method > 0x0FFF) Fail("method does not fit in 12 bits");
}

void StunWriter::Fail(const char* why) {
  if (error_ == nullptr) error_ = why;
}

uint8_t* StunWriter::Reserve(uint16_t type, size_t value_len) {
  if (error_ != nullptr) return nullptr;
  if (has_fingerprint_) {
    Fail("attribute added after FINGERPRINT");
    return nullptr;
  }
  if (value_len > 0xFFFF) {
    Fail("attribute value longer than 65535 bytes");
    return nullptr;
  }
  size_t padded = (value_len + 3) & ~size_t{3};
  size_t start = out_.size();
  if (start - kStunHeaderSize + 4 + padded > 0xFFFC) {
    Fail("message longer than the 16-bit length field allows");
    return nullptr;
  }
  out_.resize(start + 4 + padded, padding_byte_);
  PutBe16(out_.data() + start, type);
  PutBe16(out_.data() + start + 2, static_cast<uint16_t>(value_len));
  return out_.data() + start + 4;
}

void StunWriter::PatchLength(size_t body_len) { PutBe16(out_.data() + 2, static_cast<uint16_t>(body_len)); }

StunWriter& StunWriter::AddBytes(uint16_t type, std::span<const uint8_t> value) {
  if (uint8_t* p = Reserve(type, value.size())) {
    if (!value.empty()) std::memcpy(p, value.data(), value.size());
  }
  return *this;
}

StunWriter& StunWriter::AddString(uint16_t type, std::string_view value) { return AddBytes(type, AsBytes(value)); }

StunWriter& StunWriter::AddUint32(uint16_t type, uint32_t value) {
  if (uint8_t* p = Reserve(type, 4)) PutBe32(p, value);
  return *this;
}

StunWriter& StunWriter::AddUint64(uint16_t type, uint64_t value) {
  if (uint8_t* p = Reserve(type, 8)) PutBe64(p, value);
  return *this;
}

StunWriter& StunWriter::AddFlag(uint16_t type) {
  Reserve(type, 0);
  return *this;
}

namespace {
// Shared by MAPPED-ADDRESS and XOR-MAPPED-ADDRESS; mask is all zero for the plain one.
void WriteAddress(uint8_t* p, const TransportAddress& a, uint16_t port_mask, const uint8_t* mask) {
  p[0] = 0;
  p[1] = static_cast<uint8_t>(a.family);
  PutBe16(p + 2, a.port ^ port_mask);
  size_t n = a.family == TransportAddress::Family::kIpv4 ? 4 : 16;
  for (size_t i = 0; i < n; ++i) p[4 + i] = static_cast<uint8_t>(a.ip[i] ^ mask[i]);
}
size_t AddressValueSize(const TransportAddress& a) { return a.family == TransportAddress::Family::kIpv4 ? 8 : 20; }
}  // namespace

StunWriter& StunWriter::AddXorMappedAddress(const TransportAddress& address) {
  TransportAddress a = address.Unmapped();
  if (!a.valid()) {
    Fail("XOR-MAPPED-ADDRESS without an address");
    return *this;
  }
  uint8_t mask[16];
  PutBe32(mask, kStunMagicCookie);
  std::memcpy(mask + 4, out_.data() + 8, 12);  // the transaction id from the header
  if (uint8_t* p = Reserve(stun_attr::kXorMappedAddress, AddressValueSize(a))) {
    WriteAddress(p, a, static_cast<uint16_t>(kStunMagicCookie >> 16), mask);
  }
  return *this;
}

StunWriter& StunWriter::AddMappedAddress(const TransportAddress& address) {
  if (!address.valid()) {
    Fail("MAPPED-ADDRESS without an address");
    return *this;
  }
  static constexpr uint8_t kZero[16] = {};
  if (uint8_t* p = Reserve(stun_attr::kMappedAddress, AddressValueSize(address))) {
    WriteAddress(p, address, 0, kZero);
  }
  return *this;
}

StunWriter& StunWriter::AddErrorCode(int code, std::string_view reason) {
  if (code < 300 || code > 699) {
    Fail("ERROR-CODE outside 300..699");
    return *this;
  }
  if (reason.empty()) reason = StunReasonPhrase(code);
  if (uint8_t* p = Reserve(stun_attr::kErrorCode, 4 + reason.size())) {
    p[0] = 0;
    p[1] = 0;
    p[2] = static_cast<uint8_t>(code / 100);
    p[3] = static_cast<uint8_t>(code % 100);
    if (!reason.empty()) std::memcpy(p + 4, reason.data(), reason.size());
  }
  return *this;
}

StunWriter& StunWriter::AddUnknownAttributes(std::span<const uint16_t> types) {
  if (uint8_t* p = Reserve(stun_attr::kUnknownAttributes, types.size() * 2)) {
    for (size_t i = 0; i < types.size(); ++i) PutBe16(p + 2 * i, types[i]);
  }
  return *this;
}

StunWriter& StunWriter::AddMessageIntegrity(std::span<const uint8_t> key) {
  uint8_t* p = Reserve(stun_attr::kMessageIntegrity, kStunMessageIntegritySize);
  if (p == nullptr) return *this;
  size_t value_off = static_cast<size_t>(p - out_.data());
  PatchLength(out_.size() - kStunHeaderSize);  // covers MESSAGE-INTEGRITY itself, nothing after
  uint8_t mac[kStunMessageIntegritySize];
  if (!HmacSha1(key, out_.data(),
                std::span<const uint8_t>(out_).subspan(kStunHeaderSize, value_off - 4 - kStunHeaderSize), mac)) {
    Fail("HMAC-SHA1 failed");
    return *this;
  }
  std::memcpy(out_.data() + value_off, mac, sizeof mac);
  return *this;
}

StunWriter& StunWriter::AddMessageIntegrity(std::string_view password) {
  return AddMessageIntegrity(AsBytes(password));
}

StunWriter& StunWriter::AddFingerprint() {
  uint8_t* p = Reserve(stun_attr::kFingerprint, 4);
  if (p == nullptr) return *this;
  size_t value_off = static_cast<size_t>(p - out_.data());
  PatchLength(out_.size() - kStunHeaderSize);
  uint32_t crc = Crc32(std::span<const uint8_t>(out_).first(value_off - 4)) ^ kStunFingerprintXor;
  PutBe32(out_.data() + value_off, crc);
  has_fingerprint_ = true;
  return *this;
}

base::Result<std::vector<uint8_t>> StunWriter::Finish() && {
  if (error_ != nullptr) return Error{kExitSoftware, std::string("STUN writer: ") + error_};
  PatchLength(out_.size() - kStunHeaderSize);
  return std::move(out_);
}

// ---- helpers -------------------------------------------------------------------------------

std::array<uint8_t, 16> StunLongTermKey(std::string_view username, std::string_view realm, std::string_view password) {
  std::array<uint8_t, 16> key{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned int len = 0;
  bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_md5(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx, username.data(), username.size()) == 1 && EVP_DigestUpdate(ctx, ":", 1) == 1 &&
            EVP_DigestUpdate(ctx, realm.data(), realm.size()) == 1 && EVP_DigestUpdate(ctx, ":", 1) == 1 &&
            EVP_DigestUpdate(ctx, password.data(), password.size()) == 1 &&
            EVP_DigestFinal_ex(ctx, key.data(), &len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) key.fill(0);  // MD5 missing (FIPS-only provider): the key then verifies nothing
  return key;
}

bool LooksLikeStun(std::span<const uint8_t> bytes) {
  return bytes.size() >= kStunHeaderSize && bytes[0] <= 3 && Be32(bytes.data() + 4) == kStunMagicCookie;
}

base::Result<std::vector<uint8_t>> BuildBindingRequest(const StunBindingRequestParams& params) {
  StunWriter w(StunClass::kRequest, kStunMethodBinding, params.transaction_id);
  w.set_padding_byte(params.padding_byte);
  if (!params.software.empty()) w.AddString(stun_attr::kSoftware, params.software);
  if (params.priority) w.AddUint32(stun_attr::kPriority, *params.priority);
  if (params.ice_controlled) w.AddUint64(stun_attr::kIceControlled, *params.ice_controlled);
  if (params.ice_controlling) w.AddUint64(stun_attr::kIceControlling, *params.ice_controlling);
  if (params.use_candidate) w.AddFlag(stun_attr::kUseCandidate);
  if (!params.username.empty()) w.AddString(stun_attr::kUsername, params.username);
  if (!params.password.empty()) w.AddMessageIntegrity(params.password);
  if (params.fingerprint) w.AddFingerprint();
  return std::move(w).Finish();
}

base::Result<std::vector<uint8_t>> BuildBindingSuccess(const StunTransactionId& transaction_id,
                                                       const TransportAddress& mapped, std::string_view password,
                                                       std::string_view software) {
  StunWriter w(StunClass::kSuccessResponse, kStunMethodBinding, transaction_id);
  if (!software.empty()) w.AddString(stun_attr::kSoftware, software);
  w.AddXorMappedAddress(mapped);
  if (!password.empty()) w.AddMessageIntegrity(password);
  w.AddFingerprint();
  return std::move(w).Finish();
}

base::Result<std::vector<uint8_t>> BuildErrorResponse(uint16_t method, const StunTransactionId& transaction_id,
                                                      int code, std::string_view reason, std::string_view password,
                                                      std::span<const uint16_t> unknown) {
  StunWriter w(StunClass::kErrorResponse, method, transaction_id);
  w.AddErrorCode(code, reason);
  if (!unknown.empty()) w.AddUnknownAttributes(unknown);
  if (!password.empty() && code != stun_error::kBadRequest && code != stun_error::kUnauthorized) {
    w.AddMessageIntegrity(password);
  }
  w.AddFingerprint();
  return std::move(w).Finish();
}

}  // namespace collab::rtc
