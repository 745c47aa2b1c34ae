// ICE-lite agent logic. See ice.hpp for scope.
#include "lib/rtc/ice.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace collab::rtc {
namespace {

constexpr char kIceChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static_assert(sizeof kIceChars - 1 == 64, "64 ice-chars map exactly onto 6 random bits");

bool IsIceChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

bool IsIceString(std::string_view s, size_t min_len) {
  if (s.size() < min_len || s.size() > kIceCredentialMaxLength) return false;
  return std::all_of(s.begin(), s.end(), IsIceChar);
}

std::string RandomIceString(size_t n) {
  std::vector<uint8_t> raw(n);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    // Guessable credentials would let anyone hijack a peer's media path: stop instead.
    std::fprintf(stderr, "collab: RAND_bytes failed\n");
    std::abort();
  }
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = kIceChars[raw[i] & 63];  // unbiased: 256 is a multiple of 64
  return s;
}

}  // namespace

const char* IceProtocolName(IceProtocol p) { return p == IceProtocol::kTcp ? "tcp" : "udp"; }

const char* IceStateName(IceState s) {
  switch (s) {
    case IceState::kNew:
      return "new";
    case IceState::kConnected:
      return "connected";
    case IceState::kDisconnected:
      return "disconnected";
    case IceState::kFailed:
      return "failed";
  }
  return "?";
}

bool IsValidIceUfrag(std::string_view ufrag) { return IsIceString(ufrag, kIceUfragMinLength); }
bool IsValidIcePwd(std::string_view pwd) { return IsIceString(pwd, kIcePwdMinLength); }

IceCredentials IceCredentials::Generate() { return IceCredentials{RandomIceString(8), RandomIceString(24)}; }

IceLiteAgent::IceLiteAgent(IceCredentials local, IceLiteConfig config, int64_t now_ms)
    : local_(std::move(local)), config_(std::move(config)), created_ms_(now_ms) {
  assert(IsValidIceUfrag(local_.ufrag) && IsValidIcePwd(local_.pwd));
  // Room for the selected pair plus the one that may replace it.
  config_.max_pairs = std::max<size_t>(config_.max_pairs, 2);
}

void IceLiteAgent::SetRemoteCredentials(std::string ufrag, std::string pwd) {
  remote_ = IceCredentials{std::move(ufrag), std::move(pwd)};
}

void IceLiteAgent::SetState(IceState s, bool* changed) {
  if (state_ == s) return;
  state_ = s;
  *changed = true;
}

IcePairInfo* IceLiteAgent::FindPair(const IceCandidatePair& pair) {
  for (IcePairInfo& p : pairs_) {
    if (p.pair == pair) return &p;
  }
  return nullptr;
}

IcePairInfo& IceLiteAgent::TouchPair(const IceCandidatePair& pair, int64_t now_ms) {
  IcePairInfo* info = FindPair(pair);
  if (info == nullptr) {
    if (pairs_.size() >= config_.max_pairs) {
      // Evict the stalest pair that is not carrying media.
      auto victim = pairs_.end();
      for (auto it = pairs_.begin(); it != pairs_.end(); ++it) {
        if (selected_ && it->pair == *selected_) continue;
        if (victim == pairs_.end() || it->last_check_ms < victim->last_check_ms) victim = it;
      }
      if (victim != pairs_.end()) pairs_.erase(victim);
    }
    pairs_.push_back(IcePairInfo{pair});
    info = &pairs_.back();
  }
  info->last_check_ms = now_ms;
  ++info->checks;
  return *info;
}

bool IceLiteAgent::IsValidPair(const TransportAddress& remote, IceProtocol protocol) const {
  IceCandidatePair want{remote, protocol};
  return std::any_of(pairs_.begin(), pairs_.end(), [&](const IcePairInfo& p) { return p.pair == want; });
}

int64_t IceLiteAgent::last_consent_ms() const {
  if (!selected_) return 0;
  for (const IcePairInfo& p : pairs_) {
    if (p.pair == *selected_) return p.last_check_ms;
  }
  return 0;
}

bool IceLiteAgent::UpdateTime(int64_t now_ms) {
  bool changed = false;
  if (state_ == IceState::kFailed) return false;
  // Forget pairs that lost consent long ago, so a stale address is no longer accepted.
  std::erase_if(pairs_, [&](const IcePairInfo& p) {
    return !(selected_ && p.pair == *selected_) && now_ms - p.last_check_ms >= config_.consent_timeout_ms;
  });
  if (!selected_) {
    if (now_ms - created_ms_ >= config_.initial_timeout_ms) SetState(IceState::kFailed, &changed);
    return changed;
  }
  int64_t quiet = now_ms - last_consent_ms();
  if (quiet >= config_.consent_timeout_ms) {
    SetState(IceState::kFailed, &changed);
  } else if (quiet >= config_.disconnected_after_ms && state_ == IceState::kConnected) {
    SetState(IceState::kDisconnected, &changed);
  }
  return changed;
}

int64_t IceLiteAgent::NextDeadlineMs() const {
  if (state_ == IceState::kFailed) return std::numeric_limits<int64_t>::max();
  if (!selected_) return created_ms_ + config_.initial_timeout_ms;
  int64_t last = last_consent_ms();
  if (state_ == IceState::kConnected && config_.disconnected_after_ms < config_.consent_timeout_ms) {
    return last + config_.disconnected_after_ms;
  }
  return last + config_.consent_timeout_ms;
}

IceCheckOutcome IceLiteAgent::Refuse(IceCheckOutcome out, const StunMessage& msg, int code, const char* reason,
                                     bool authenticated, std::span<const uint16_t> unknown) const {
  out.reason = reason;
  auto resp = BuildErrorResponse(msg.method(), msg.transaction_id(), code, {},
                                 authenticated ? std::string_view(local_.pwd) : std::string_view(), unknown);
  if (!resp.ok()) {
    out.reason = "could not build the error response";
    return out;
  }
  out.kind = IceCheckOutcome::Kind::kError;
  out.error_code = code;
  out.response = std::move(resp).value();
  return out;
}

IceCheckOutcome IceLiteAgent::HandleBindingRequest(std::span<const uint8_t> bytes, const TransportAddress& from,
                                                   IceProtocol protocol, int64_t now_ms) {
  IceCheckOutcome out;
  out.state_changed = UpdateTime(now_ms);
  if (state_ == IceState::kFailed) {
    out.reason = "agent failed";
    return out;
  }
  if (!from.valid()) {
    out.reason = "no source address";
    return out;
  }
  auto parsed = StunMessage::Parse(bytes);
  if (!parsed.ok()) {
    out.reason = "malformed STUN message";
    return out;
  }
  const StunMessage& msg = *parsed;
  if (msg.message_class() != StunClass::kRequest) {
    // Indications (keepalives) need no answer; responses are not ours since we send no requests.
    out.reason = msg.message_class() == StunClass::kIndication ? "indication" : "unexpected response";
    return out;
  }
  // A bad FINGERPRINT means the packet is not STUN at all (RFC 7983 demux): never answer it.
  if (msg.HasFingerprint() && !msg.CheckFingerprint()) {
    out.reason = "bad FINGERPRINT";
    return out;
  }
  if (msg.method() != kStunMethodBinding)
    return Refuse(std::move(out), msg, stun_error::kBadRequest, "not a Binding request", false);

  std::optional<std::string_view> username = msg.Username();
  if (!username || !msg.HasMessageIntegrity()) {
    return Refuse(std::move(out), msg, stun_error::kBadRequest, "missing USERNAME or MESSAGE-INTEGRITY", false);
  }
  // USERNAME is "<our ufrag>:<their ufrag>" (the receiver's fragment first).
  std::string_view u = *username;
  bool user_ok = u.size() > local_.ufrag.size() + 1 && u.substr(0, local_.ufrag.size()) == local_.ufrag &&
                 u[local_.ufrag.size()] == ':';
  if (user_ok && remote_) user_ok = u.substr(local_.ufrag.size() + 1) == remote_->ufrag;
  if (!user_ok) return Refuse(std::move(out), msg, stun_error::kUnauthorized, "wrong USERNAME", false);
  if (!msg.CheckMessageIntegrity(local_.pwd)) {
    return Refuse(std::move(out), msg, stun_error::kUnauthorized, "bad MESSAGE-INTEGRITY", false);
  }

  // A lite agent is always controlled and cannot switch roles (RFC 8445 section 7.3.1.1), so a
  // peer that also thinks it is controlled must be told to take the controlling role.
  if (msg.IceControlled()) {
    return Refuse(std::move(out), msg, stun_error::kRoleConflict, "peer claims the controlled role", true);
  }
  if (!msg.UnknownComprehensionRequired().empty()) {
    return Refuse(std::move(out), msg, stun_error::kUnknownAttribute, "unknown comprehension-required attribute", true,
                  msg.UnknownComprehensionRequired());
  }

  auto resp = BuildBindingSuccess(msg.transaction_id(), from, local_.pwd, config_.software);
  if (!resp.ok()) {
    out.reason = "could not build the success response";
    return out;
  }

  IceCandidatePair pair{from, protocol};
  IcePairInfo& info = TouchPair(pair, now_ms);
  info.priority = msg.Priority().value_or(info.priority);
  bool use_candidate = msg.UseCandidate();
  std::optional<IceCandidatePair> before = selected_;
  if (use_candidate) {
    info.nominated = true;
    selected_ = pair;
    nominated_ = true;
  } else if (!selected_ || (!nominated_ && state_ == IceState::kDisconnected)) {
    // Select the first valid pair before any nomination so DTLS can start, and follow a live
    // pair if that provisional choice went quiet.
    selected_ = pair;
  }
  out.selected_pair_changed = selected_ != before;
  if (*selected_ == pair) {
    bool changed = false;
    SetState(IceState::kConnected, &changed);
    out.state_changed = out.state_changed || changed;
  }
  out.kind = IceCheckOutcome::Kind::kSuccess;
  out.reason = use_candidate ? "valid check, nominated" : "valid check";
  out.response = std::move(resp).value();
  return out;
}

std::optional<std::string_view> ParseUsernameLocalUfrag(std::span<const uint8_t> stun) {
  if (!LooksLikeStun(stun)) return std::nullopt;
  auto msg = StunMessage::Parse(stun);
  if (!msg.ok() || !msg->IsBindingRequest()) return std::nullopt;
  std::optional<std::string_view> username = msg->Username();
  if (!username) return std::nullopt;
  size_t colon = username->find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  return username->substr(0, colon);
}

}  // namespace collab::rtc
