// STUN (RFC 5389 / RFC 8489) message parsing and writing, as needed by an ICE-lite agent:
// a zero-copy view over one received message with typed accessors for the attributes ICE
// uses, MESSAGE-INTEGRITY (HMAC-SHA1, short-term or long-term key) and FINGERPRINT checks,
// and a writer for Binding requests, success and error responses.
//
// Deliberately not here: client transactions and retransmission timers, TURN, the
// long-term credential nonce/realm dance (REALM and NONCE are only parsed), SASLprep,
// MESSAGE-INTEGRITY-SHA256 verification (parsed only: browsers do not send it to ICE
// agents), and any socket I/O. ICE semantics (which username, which key) live in ice.hpp.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.hpp"

namespace collab::rtc {

inline constexpr uint32_t kStunMagicCookie = 0x2112A442;
inline constexpr size_t kStunHeaderSize = 20;
inline constexpr uint32_t kStunFingerprintXor = 0x5354554e;
inline constexpr size_t kStunMessageIntegritySize = 20;  // HMAC-SHA1 output
inline constexpr uint16_t kStunMethodBinding = 0x001;

// Attribute types (RFC 8489 section 18.3, RFC 8445 section 16.1).
namespace stun_attr {
inline constexpr uint16_t kMappedAddress = 0x0001;
inline constexpr uint16_t kUsername = 0x0006;
inline constexpr uint16_t kMessageIntegrity = 0x0008;
inline constexpr uint16_t kErrorCode = 0x0009;
inline constexpr uint16_t kUnknownAttributes = 0x000A;
inline constexpr uint16_t kRealm = 0x0014;
inline constexpr uint16_t kNonce = 0x0015;
inline constexpr uint16_t kMessageIntegritySha256 = 0x001C;
inline constexpr uint16_t kPasswordAlgorithm = 0x001D;
inline constexpr uint16_t kUserhash = 0x001E;
inline constexpr uint16_t kXorMappedAddress = 0x0020;
inline constexpr uint16_t kPriority = 0x0024;
inline constexpr uint16_t kUseCandidate = 0x0025;
inline constexpr uint16_t kPasswordAlgorithms = 0x8002;
inline constexpr uint16_t kAlternateDomain = 0x8003;
inline constexpr uint16_t kSoftware = 0x8022;
inline constexpr uint16_t kAlternateServer = 0x8023;
inline constexpr uint16_t kFingerprint = 0x8028;
inline constexpr uint16_t kIceControlled = 0x8029;
inline constexpr uint16_t kIceControlling = 0x802A;
}  // namespace stun_attr

// Error codes used by an ICE-lite agent (RFC 8489 section 14.8, RFC 8445 section 7.3.1.1).
namespace stun_error {
inline constexpr int kBadRequest = 400;
inline constexpr int kUnauthorized = 401;
inline constexpr int kUnknownAttribute = 420;
inline constexpr int kRoleConflict = 487;
inline constexpr int kServerError = 500;
}  // namespace stun_error

// The standard reason phrase for a code ("Bad Request"), or "" when we have none.
const char* StunReasonPhrase(int code);

enum class StunClass : uint8_t { kRequest = 0, kIndication = 1, kSuccessResponse = 2, kErrorResponse = 3 };

// The 14-bit message type interleaves the 12-bit method with the 2 class bits.
uint16_t StunMessageType(StunClass cls, uint16_t method);

// An IP transport address (IPv4 or IPv6 plus port), as carried in STUN address attributes and
// used by ICE to name the remote side of a candidate pair.
struct TransportAddress {
  enum class Family : uint8_t { kNone = 0, kIpv4 = 1, kIpv6 = 2 };  // values are STUN's family codes

  Family family = Family::kNone;
  std::array<uint8_t, 16> ip{};  // network byte order; IPv4 uses the first 4 bytes, the rest stay 0
  uint16_t port = 0;

  static TransportAddress Ipv4(const std::array<uint8_t, 4>& ip, uint16_t port);
  static TransportAddress Ipv6(const std::array<uint8_t, 16>& ip, uint16_t port);
  // "192.0.2.1:3478" or "[2001:db8::1]:3478".
  static std::optional<TransportAddress> FromString(std::string_view text);
  static std::optional<TransportAddress> FromSockaddr(const sockaddr* sa, socklen_t len);

  bool valid() const { return family != Family::kNone; }
  // True for ::ffff:a.b.c.d (what a dual-stack socket reports for an IPv4 peer).
  bool IsV4MappedV6() const;
  // An IPv4-mapped IPv6 address as plain IPv4; any other address unchanged.
  TransportAddress Unmapped() const;
  // Returns the sockaddr length written, 0 when !valid().
  socklen_t ToSockaddr(sockaddr_storage* out) const;
  std::string ToString() const;

  bool operator==(const TransportAddress&) const = default;
};

struct StunTransactionId {
  std::array<uint8_t, 12> bytes{};
  // From a cryptographic RNG: transaction ids must not be guessable (RFC 8489 section 6).
  static StunTransactionId Random();
  bool operator==(const StunTransactionId&) const = default;
};

struct StunErrorCodeValue {
  int code = 0;             // 300..699
  std::string_view reason;  // UTF-8, a view into the message
};

// One attribute as it appears on the wire; value excludes the padding.
struct StunAttribute {
  uint16_t type = 0;
  std::span<const uint8_t> value;
};

// A validated view over one STUN message. It borrows the bytes it was parsed from: they must
// outlive it. Every accessor is bounds-safe because Parse has checked each attribute ICE uses.
// As RFC 8489 says, only the first occurrence of an attribute counts, and attributes after
// MESSAGE-INTEGRITY are ignored except MESSAGE-INTEGRITY-SHA256 and FINGERPRINT.
class StunMessage {
 public:
  // Unknown comprehension-required attributes remembered for a 420 reply; more are counted.
  static constexpr size_t kMaxUnknownRemembered = 8;

  // Validates the header (first two bits zero, length a multiple of 4 equal to the bytes after the
  // header, magic cookie), every attribute's bounds and padding, the value size/shape of every
  // attribute listed above, and that FINGERPRINT is last. Error code is kExitDataErr.
  static base::Result<StunMessage> Parse(std::span<const uint8_t> bytes);

  uint16_t type() const { return type_; }
  StunClass message_class() const;
  uint16_t method() const;
  bool IsBindingRequest() const { return type_ == StunMessageType(StunClass::kRequest, kStunMethodBinding); }
  const StunTransactionId& transaction_id() const { return transaction_id_; }
  std::span<const uint8_t> bytes() const { return bytes_; }

  // Attribute accessors: nullopt / false when absent.
  std::optional<std::string_view> Username() const;
  std::optional<std::string_view> Software() const;
  std::optional<std::string_view> Realm() const;
  std::optional<std::string_view> Nonce() const;
  std::optional<TransportAddress> XorMappedAddress() const;
  std::optional<TransportAddress> MappedAddress() const;
  std::optional<StunErrorCodeValue> ErrorCode() const;
  // The types listed in an UNKNOWN-ATTRIBUTES attribute (in a 420 response).
  std::optional<std::vector<uint16_t>> UnknownAttributes() const;
  std::optional<uint32_t> Priority() const;
  bool UseCandidate() const;
  std::optional<uint64_t> IceControlled() const;   // the tie-breaker
  std::optional<uint64_t> IceControlling() const;  // the tie-breaker
  bool HasMessageIntegrity() const;
  bool HasMessageIntegritySha256() const;
  std::span<const uint8_t> MessageIntegritySha256() const;  // empty when absent
  bool HasFingerprint() const;
  // The first occurrence of any attribute type, or nullopt.
  std::optional<StunAttribute> Find(uint16_t type) const;

  // Comprehension-required attribute types (< 0x8000) this parser does not know, in order.
  std::span<const uint16_t> UnknownComprehensionRequired() const { return {unknown_.data(), unknown_count_}; }

  // Calls f(StunAttribute) for every attribute in wire order (including ignored ones).
  template <typename F>
  void ForEachAttribute(F&& f) const {
    size_t off = kStunHeaderSize;
    while (off + 4 <= bytes_.size()) {
      uint16_t t = static_cast<uint16_t>(bytes_[off] << 8 | bytes_[off + 1]);
      size_t len = static_cast<size_t>(bytes_[off + 2] << 8 | bytes_[off + 3]);
      f(StunAttribute{t, bytes_.subspan(off + 4, len)});
      off += 4 + ((len + 3) & ~size_t{3});
    }
  }

  // True when MESSAGE-INTEGRITY is present and equals HMAC-SHA1(key) over the message up to it,
  // with the header length adjusted as RFC 8489 section 14.5 says. For ICE the key is the
  // password itself (short-term credential); for long-term credentials see StunLongTermKey.
  bool CheckMessageIntegrity(std::span<const uint8_t> key) const;
  bool CheckMessageIntegrity(std::string_view password) const;
  // True when FINGERPRINT is present and matches CRC-32 XOR 0x5354554e.
  bool CheckFingerprint() const;

 private:
  enum Slot : uint8_t {
    kSlotMappedAddress,
    kSlotUsername,
    kSlotMessageIntegrity,
    kSlotErrorCode,
    kSlotUnknownAttributes,
    kSlotRealm,
    kSlotNonce,
    kSlotMessageIntegritySha256,
    kSlotXorMappedAddress,
    kSlotPriority,
    kSlotUseCandidate,
    kSlotSoftware,
    kSlotFingerprint,
    kSlotIceControlled,
    kSlotIceControlling,
    kSlotCount,
  };
  static int SlotOf(uint16_t type);
  std::span<const uint8_t> SlotValue(Slot s) const;
  std::optional<TransportAddress> AddressAt(Slot s, bool xored) const;

  std::span<const uint8_t> bytes_;
  uint16_t type_ = 0;
  StunTransactionId transaction_id_;
  // Offset of each known attribute's header in bytes_; 0 means absent (attributes start at 20).
  std::array<uint32_t, kSlotCount> slot_offset_{};
  std::array<uint16_t, kMaxUnknownRemembered> unknown_{};
  uint8_t unknown_count_ = 0;
};

// Builds one STUN message. Attributes are written in the order added; MESSAGE-INTEGRITY and
// FINGERPRINT must be added last (in that order) since they cover what precedes them.
// Size errors (a value over 65535 bytes, a message over 65535 + 20 bytes, adding after
// FINGERPRINT) are sticky and reported by Finish, so call sites can chain adds.
class StunWriter {
 public:
  StunWriter(StunClass cls, uint16_t method, const StunTransactionId& transaction_id);

  // Padding may be any value (RFC 8489 section 14); 0 unless a test needs to reproduce bytes.
  void set_padding_byte(uint8_t b) { padding_byte_ = b; }

  StunWriter& AddBytes(uint16_t type, std::span<const uint8_t> value);
  StunWriter& AddString(uint16_t type, std::string_view value);
  StunWriter& AddUint32(uint16_t type, uint32_t value);
  StunWriter& AddUint64(uint16_t type, uint64_t value);
  StunWriter& AddFlag(uint16_t type);  // an attribute with an empty value (USE-CANDIDATE)
  // Writes an IPv4-mapped IPv6 address as the IPv4 address the peer actually used.
  StunWriter& AddXorMappedAddress(const TransportAddress& address);
  StunWriter& AddMappedAddress(const TransportAddress& address);
  // code 300..699; reason is the UTF-8 phrase (StunReasonPhrase(code) when empty).
  StunWriter& AddErrorCode(int code, std::string_view reason = {});
  StunWriter& AddUnknownAttributes(std::span<const uint16_t> types);
  StunWriter& AddMessageIntegrity(std::span<const uint8_t> key);
  StunWriter& AddMessageIntegrity(std::string_view password);
  StunWriter& AddFingerprint();

  // The finished message, or why it could not be built (kExitSoftware: a caller bug).
  base::Result<std::vector<uint8_t>> Finish() &&;

 private:
  void Fail(const char* why);
  uint8_t* Reserve(uint16_t type, size_t value_len);  // nullptr once failed
  void PatchLength(size_t body_len);

  std::vector<uint8_t> out_;
  uint8_t padding_byte_ = 0;
  bool has_fingerprint_ = false;
  const char* error_ = nullptr;
};

// MD5(username ":" realm ":" password), the RFC 8489 long-term key; no SASLprep is applied.
std::array<uint8_t, 16> StunLongTermKey(std::string_view username, std::string_view realm, std::string_view password);

// Demultiplexing test for a packet on a shared port (RFC 7983: first byte 0..3), tightened with
// the minimum size and the magic cookie. Parse is still needed before trusting anything.
bool LooksLikeStun(std::span<const uint8_t> bytes);

struct StunBindingRequestParams {
  StunTransactionId transaction_id;
  std::string_view username;  // ICE: "<remote ufrag>:<local ufrag>"; empty = no USERNAME
  std::string_view password;  // MESSAGE-INTEGRITY key (ICE: the remote ice-pwd); empty = none
  std::optional<uint32_t> priority;
  bool use_candidate = false;
  std::optional<uint64_t> ice_controlling;  // tie-breaker
  std::optional<uint64_t> ice_controlled;   // tie-breaker
  std::string_view software;                // empty = no SOFTWARE
  bool fingerprint = true;
  uint8_t padding_byte = 0;
};
// Attribute order: SOFTWARE, PRIORITY, ICE-CONTROLLED, ICE-CONTROLLING, USE-CANDIDATE, USERNAME,
// MESSAGE-INTEGRITY, FINGERPRINT (the order of the RFC 5769 sample request).
base::Result<std::vector<uint8_t>> BuildBindingRequest(const StunBindingRequestParams& params);

// A Binding success response: XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY (when password is not
// empty), FINGERPRINT. SOFTWARE first when not empty.
base::Result<std::vector<uint8_t>> BuildBindingSuccess(const StunTransactionId& transaction_id,
                                                       const TransportAddress& mapped, std::string_view password,
                                                       std::string_view software = {});

// An error response for `method`: ERROR-CODE (reason defaults to the standard phrase),
// UNKNOWN-ATTRIBUTES when `unknown` is not empty, MESSAGE-INTEGRITY when password is not
// empty (never for 400/401: the request was not authenticated), FINGERPRINT.
base::Result<std::vector<uint8_t>> BuildErrorResponse(uint16_t method, const StunTransactionId& transaction_id,
                                                      int code, std::string_view reason = {},
                                                      std::string_view password = {},
                                                      std::span<const uint16_t> unknown = {});

}  // namespace collab::rtc
