// Fuzzes the STUN parser and the ICE-lite agent on arbitrary packets. Invariants: Parse never
// reads out of bounds; a parsed message rebuilt attribute by attribute with the writer parses
// to the same attributes (and the same bytes when the padding was zero); the routing helper
// agrees with the parser; and the agent's answers are well-formed, authenticated STUN. Inputs
// that parse are also re-signed with the agent's password, so the fuzzer reaches the
// authenticated paths (nomination, role conflict, 420) that it could never forge an HMAC for.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "lib/rtc/ice.hpp"
#include "lib/rtc/stun.hpp"

using namespace collab::rtc;

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

const IceCredentials kLocal{"LoCa1", "localpasswordlocalpassword+/"};

void CheckOutcome(const IceCheckOutcome& out, const TransportAddress& from) {
  if (out.kind == IceCheckOutcome::Kind::kDrop) {
    Check(out.response.empty());
    return;
  }
  auto m = StunMessage::Parse(out.response);
  Check(m.ok());
  Check(m->CheckFingerprint());
  if (out.kind == IceCheckOutcome::Kind::kSuccess) {
    Check(m->message_class() == StunClass::kSuccessResponse);
    Check(m->CheckMessageIntegrity(kLocal.pwd));
    Check(m->XorMappedAddress() == std::optional<TransportAddress>(from.Unmapped()));
  } else {
    Check(m->message_class() == StunClass::kErrorResponse);
    Check(m->ErrorCode().has_value() && m->ErrorCode()->code == out.error_code);
    bool authenticated = out.error_code == 420 || out.error_code == 487;
    Check(m->HasMessageIntegrity() == authenticated);
    if (authenticated) Check(m->CheckMessageIntegrity(kLocal.pwd));
  }
}

void RunAgent(std::span<const uint8_t> bytes, uint8_t selector) {
  IceLiteAgent agent(kLocal, {}, 0);
  if (selector & 1) agent.SetRemoteCredentials("ReMo", "remotepasswordremotepassword");
  TransportAddress from =
      (selector & 2) ? *TransportAddress::FromString("[2001:db8::7]:9") : *TransportAddress::FromString("192.0.2.7:9");
  IceProtocol protocol = (selector & 4) ? IceProtocol::kTcp : IceProtocol::kUdp;
  IceCheckOutcome out = agent.HandleBindingRequest(bytes, from, protocol, 1000);
  CheckOutcome(out, from);
  if (out.kind == IceCheckOutcome::Kind::kSuccess) {
    Check(agent.selected_pair().has_value());
    Check(agent.IsValidPair(from, protocol));
    Check(agent.state() == IceState::kConnected);
  } else {
    Check(agent.pairs().empty());
    Check(agent.state() == IceState::kNew);
  }
  agent.UpdateTime(1000 + 60000);
  Check(agent.state() == IceState::kFailed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  bool looks = LooksLikeStun(in);
  auto parsed = StunMessage::Parse(in);
  auto ufrag = ParseUsernameLocalUfrag(in);
  uint8_t selector = size > 0 ? data[size - 1] : 0;
  RunAgent(in, selector);
  if (!parsed.ok()) {
    Check(!ufrag.has_value());
    return 0;
  }
  const StunMessage& m = *parsed;
  Check(size >= kStunHeaderSize && (data[0] > 3 || looks));

  // Every accessor on whatever the fuzzer made.
  size_t sink = 0;
  sink += m.Username().value_or("").size() + m.Software().value_or("").size();
  sink += m.Realm().value_or("").size() + m.Nonce().value_or("").size();
  if (auto a = m.XorMappedAddress()) sink += a->port + a->ToString().size();
  if (auto a = m.MappedAddress()) sink += a->port + a->ToString().size();
  if (auto e = m.ErrorCode()) {
    Check(e->code >= 300 && e->code <= 699);
    sink += e->reason.size();
  }
  if (auto u = m.UnknownAttributes()) sink += u->size();
  sink += m.Priority().value_or(0) + m.IceControlled().value_or(0) + m.IceControlling().value_or(0);
  sink += m.UseCandidate() + m.MessageIntegritySha256().size() + m.HasMessageIntegritySha256();
  sink += m.CheckMessageIntegrity("fuzz") + m.CheckFingerprint();
  Check(m.UnknownComprehensionRequired().size() <= StunMessage::kMaxUnknownRemembered);
  (void)sink;

  // The routing helper agrees with the full parser.
  std::optional<std::string_view> want;
  if (m.IsBindingRequest() && m.Username()) {
    size_t colon = m.Username()->find(':');
    if (colon != std::string_view::npos && colon > 0) want = m.Username()->substr(0, colon);
  }
  Check(ufrag == want);

  // Round trip through the writer.
  StunWriter w(m.message_class(), m.method(), m.transaction_id());
  std::vector<StunAttribute> attrs;
  m.ForEachAttribute([&](const StunAttribute& a) {
    attrs.push_back(a);
    w.AddBytes(a.type, a.value);
  });
  auto rebuilt = std::move(w).Finish();
  // A FINGERPRINT copied as raw bytes is a plain attribute to the writer, so nothing can fail.
  Check(rebuilt.ok());
  Check(rebuilt->size() == size);
  auto again = StunMessage::Parse(*rebuilt);
  Check(again.ok());
  Check(again->type() == m.type() && again->transaction_id() == m.transaction_id());
  size_t i = 0;
  again->ForEachAttribute([&](const StunAttribute& a) {
    Check(i < attrs.size() && a.type == attrs[i].type && a.value.size() == attrs[i].value.size() &&
          (a.value.empty() || std::memcmp(a.value.data(), attrs[i].value.data(), a.value.size()) == 0));
    ++i;
  });
  Check(i == attrs.size());
  Check(again->Username() == m.Username() && again->Priority() == m.Priority() &&
        again->XorMappedAddress() == m.XorMappedAddress() && again->UseCandidate() == m.UseCandidate());
  bool zero_padding = true;
  m.ForEachAttribute([&](const StunAttribute& a) {
    size_t pad = (4 - a.value.size() % 4) % 4;
    for (size_t k = 0; k < pad; ++k) zero_padding = zero_padding && a.value.data()[a.value.size() + k] == 0;
  });
  if (zero_padding) Check(*rebuilt == std::vector<uint8_t>(in.begin(), in.end()));

  // Re-signed with the agent's password: reaches the authenticated paths of the agent.
  if (m.message_class() == StunClass::kRequest) {
    StunWriter s(StunClass::kRequest, m.method(), m.transaction_id());
    for (const StunAttribute& a : attrs) {
      if (a.type == stun_attr::kMessageIntegrity || a.type == stun_attr::kFingerprint ||
          a.type == stun_attr::kMessageIntegritySha256) {
        continue;
      }
      s.AddBytes(a.type, a.value);
    }
    if (selector & 8) s.AddString(stun_attr::kUsername, "LoCa1:ReMo");  // after the fuzzer's own, if any
    s.AddMessageIntegrity(std::string_view(kLocal.pwd)).AddFingerprint();
    auto signed_msg = std::move(s).Finish();
    if (signed_msg.ok()) RunAgent(*signed_msg, selector);
  }
  return 0;
}
