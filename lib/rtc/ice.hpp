// ICE-lite agent logic (RFC 8445 lite side, RFC 7675 consent freshness) for one peer, with no
// sockets and no clock of its own: the transport hands it each STUN packet with the address it
// came from and the current time, sends back whatever response it returns, and asks it where
// media should go (the selected pair) and whether the peer is still there.
//
// Deliberately not here: sending connectivity checks (a lite agent never does), candidate
// gathering, SDP (ufrag/pwd go in and out as strings), ICE restarts (make a new agent), and
// demultiplexing sockets between peers (see ParseUsernameLocalUfrag for the routing key).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/rtc/stun.hpp"

namespace collab::rtc {

enum class IceProtocol : uint8_t { kUdp, kTcp };
const char* IceProtocolName(IceProtocol p);  // "udp" / "tcp"

// RFC 8445 section 5.3: ufrag >= 4 and pwd >= 22 ice-chars (ALPHA / DIGIT / "+" / "/"), <= 256.
inline constexpr size_t kIceUfragMinLength = 4;
inline constexpr size_t kIcePwdMinLength = 22;
inline constexpr size_t kIceCredentialMaxLength = 256;
bool IsValidIceUfrag(std::string_view ufrag);
bool IsValidIcePwd(std::string_view pwd);

struct IceCredentials {
  std::string ufrag;
  std::string pwd;
  // 8-char ufrag (48 random bits, unique enough to route packets on a shared port) and
  // 24-char pwd (144 bits), from a cryptographic RNG.
  static IceCredentials Generate();
};

// The remote end of a candidate pair; the local end is whichever socket received the check.
struct IceCandidatePair {
  TransportAddress remote;
  IceProtocol protocol = IceProtocol::kUdp;
  bool operator==(const IceCandidatePair&) const = default;
};

struct IcePairInfo {
  IceCandidatePair pair;
  int64_t last_check_ms = 0;  // last valid (authenticated) check on this pair
  uint32_t priority = 0;      // from the latest check's PRIORITY
  uint64_t checks = 0;        // valid checks seen
  bool nominated = false;     // a valid check carried USE-CANDIDATE
};

enum class IceState : uint8_t {
  kNew,           // no valid check yet
  kConnected,     // a pair is selected and its checks are arriving
  kDisconnected,  // the selected pair has been quiet for disconnected_after_ms; may recover
  kFailed,        // consent expired (or never obtained): terminal, tear the peer down
};
const char* IceStateName(IceState s);

struct IceLiteConfig {
  // RFC 7675: no valid check on the selected pair for this long means consent is gone.
  int64_t consent_timeout_ms = 30000;
  // The selected pair is reported disconnected after this much silence (browsers check every ~2.5 s).
  int64_t disconnected_after_ms = 10000;
  // A peer whose first valid check has not arrived by then fails.
  int64_t initial_timeout_ms = 30000;
  // Remote addresses remembered per peer; the least recently checked non-selected one is evicted.
  size_t max_pairs = 8;
  std::string software;  // SOFTWARE attribute in our responses; empty = none
};

// What to do with one received STUN packet.
struct IceCheckOutcome {
  enum class Kind : uint8_t {
    kDrop,     // send nothing (not a request for us, bad fingerprint, agent failed, ...)
    kSuccess,  // valid check: send `response` (a Binding success) back to the sender
    kError,    // send `response` (an error response with `error_code`) back to the sender
  };
  Kind kind = Kind::kDrop;
  std::vector<uint8_t> response;       // complete STUN message; empty for kDrop
  int error_code = 0;                  // 400, 401, 420, 487 for kError
  const char* reason = "";             // short static text for logs: why dropped or refused
  bool selected_pair_changed = false;  // send media to selected_pair() from now on
  bool state_changed = false;          // state() differs from before this call
};

class IceLiteAgent {
 public:
  // `local` must satisfy IsValidIceUfrag/IsValidIcePwd (asserted). now_ms starts initial_timeout_ms.
  IceLiteAgent(IceCredentials local, IceLiteConfig config, int64_t now_ms);

  const IceCredentials& local_credentials() const { return local_; }
  // The remote ufrag from the peer's SDP. Until it is set, checks with any remote ufrag part are
  // accepted (a check may arrive before the answer is applied); afterwards it must match. The
  // remote pwd is kept for completeness: a lite agent sends no checks and never needs it.
  void SetRemoteCredentials(std::string ufrag, std::string pwd);
  const std::optional<IceCredentials>& remote_credentials() const { return remote_; }

  // Processes one packet that looked like STUN (LooksLikeStun) from `from` over `protocol`.
  IceCheckOutcome HandleBindingRequest(std::span<const uint8_t> bytes, const TransportAddress& from,
                                       IceProtocol protocol, int64_t now_ms);

  // Advances the consent and disconnection timers. Returns true when state() changed.
  bool UpdateTime(int64_t now_ms);
  // When UpdateTime should next be called (INT64_MAX once failed).
  int64_t NextDeadlineMs() const;

  IceState state() const { return state_; }
  // Where to send media; nullopt until the first valid check. Before any USE-CANDIDATE the
  // first valid pair is selected so DTLS can start; a nomination (USE-CANDIDATE) overrides it.
  const std::optional<IceCandidatePair>& selected_pair() const { return selected_; }
  bool nominated() const { return nominated_; }
  // True when a valid check has arrived from this remote address over this protocol, i.e.
  // packets from it may be accepted as this peer's.
  bool IsValidPair(const TransportAddress& remote, IceProtocol protocol) const;
  const std::vector<IcePairInfo>& pairs() const { return pairs_; }
  // Time of the last valid check on the selected pair (consent), or 0 before any.
  int64_t last_consent_ms() const;

 private:
  // An error response; MESSAGE-INTEGRITY only when the request itself was authenticated.
  IceCheckOutcome Refuse(IceCheckOutcome out, const StunMessage& msg, int code, const char* reason, bool authenticated,
                         std::span<const uint16_t> unknown = {}) const;
  IcePairInfo* FindPair(const IceCandidatePair& pair);
  IcePairInfo& TouchPair(const IceCandidatePair& pair, int64_t now_ms);
  void SetState(IceState s, bool* changed);

  IceCredentials local_;
  std::optional<IceCredentials> remote_;
  IceLiteConfig config_;
  int64_t created_ms_;
  IceState state_ = IceState::kNew;
  std::optional<IceCandidatePair> selected_;
  bool nominated_ = false;
  std::vector<IcePairInfo> pairs_;
};

// The local ufrag ("<local>" of USERNAME "<local>:<remote>") of a Binding request, so a shared
// UDP port can route a packet from an unknown 5-tuple to the agent that owns that ufrag. The
// view points into `stun`. nullopt when it is not a well-formed Binding request with a USERNAME
// of that shape. Nothing is authenticated here: the owning agent still checks the integrity.
std::optional<std::string_view> ParseUsernameLocalUfrag(std::span<const uint8_t> stun);

}  // namespace collab::rtc
