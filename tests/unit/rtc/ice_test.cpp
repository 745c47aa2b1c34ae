// ICE-lite agent: full check exchanges, nomination, consent expiry on a fake clock, wrong
// credentials, role conflict, and routing by ufrag.
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include "lib/rtc/ice.hpp"

using namespace collab::rtc;

namespace {

const IceCredentials kLocal{"LoCa1", "localpasswordlocalpassword+/"};
const IceCredentials kRemote{"ReMo", "remotepasswordremotepassword"};

TransportAddress Addr(const char* s) {
  auto a = TransportAddress::FromString(s);
  REQUIRE(a.has_value());
  return *a;
}

struct CheckOptions {
  std::string username = "LoCa1:ReMo";
  std::string password = "localpasswordlocalpassword+/";
  bool use_candidate = false;
  bool controlling = true;
  bool controlled = false;
  bool fingerprint = true;
  uint32_t priority = 1845501695;
};

std::vector<uint8_t> Check(const CheckOptions& o, StunTransactionId tid = StunTransactionId::Random()) {
  StunBindingRequestParams p;
  p.transaction_id = tid;
  p.username = o.username;
  p.password = o.password;
  p.priority = o.priority;
  p.use_candidate = o.use_candidate;
  if (o.controlling) p.ice_controlling = 0x1122334455667788ULL;
  if (o.controlled) p.ice_controlled = 0x0102030405060708ULL;
  p.fingerprint = o.fingerprint;
  auto b = BuildBindingRequest(p);
  REQUIRE(b.ok());
  return std::move(b).value();
}

StunMessage ParseResponse(const IceCheckOutcome& out) {
  auto m = StunMessage::Parse(out.response);
  REQUIRE(m.ok());
  return *m;
}

IceLiteAgent MakeAgent(int64_t now = 0, IceLiteConfig config = {}) {
  IceLiteAgent a(kLocal, std::move(config), now);
  a.SetRemoteCredentials(kRemote.ufrag, kRemote.pwd);
  return a;
}

}  // namespace

TEST_CASE("ice: credentials are random ice-chars of the required length", "[ice]") {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    IceCredentials c = IceCredentials::Generate();
    CHECK(IsValidIceUfrag(c.ufrag));
    CHECK(IsValidIcePwd(c.pwd));
    CHECK(c.ufrag.size() >= kIceUfragMinLength);
    CHECK(c.pwd.size() >= kIcePwdMinLength);
    seen.insert(c.ufrag);
    seen.insert(c.pwd);
  }
  CHECK(seen.size() == 100);
  CHECK_FALSE(IsValidIceUfrag("abc"));
  CHECK(IsValidIceUfrag("ab+/"));
  CHECK_FALSE(IsValidIceUfrag("ab:c"));
  CHECK_FALSE(IsValidIceUfrag("abc-"));
  CHECK_FALSE(IsValidIceUfrag(std::string(257, 'a')));
  CHECK(IsValidIceUfrag(std::string(256, 'a')));
  CHECK_FALSE(IsValidIcePwd("shortpassword"));
  CHECK_FALSE(IsValidIcePwd("passwordpasswordpassw rd"));
  CHECK(IsValidIcePwd(kLocal.pwd));
}

TEST_CASE("ice: a valid check gets an authenticated success response and selects the pair", "[ice]") {
  IceLiteAgent agent = MakeAgent();
  CHECK(agent.state() == IceState::kNew);
  CHECK_FALSE(agent.selected_pair().has_value());
  TransportAddress from = Addr("192.0.2.10:50000");
  StunTransactionId tid = StunTransactionId::Random();
  IceCheckOutcome out = agent.HandleBindingRequest(Check({}, tid), from, IceProtocol::kUdp, 1000);
  REQUIRE(out.kind == IceCheckOutcome::Kind::kSuccess);
  CHECK(out.selected_pair_changed);
  CHECK(out.state_changed);
  CHECK(out.error_code == 0);

  StunMessage resp = ParseResponse(out);
  CHECK(resp.message_class() == StunClass::kSuccessResponse);
  CHECK(resp.method() == kStunMethodBinding);
  CHECK(resp.transaction_id() == tid);
  CHECK(resp.XorMappedAddress() == std::optional<TransportAddress>(from));
  CHECK(resp.CheckMessageIntegrity(kLocal.pwd));
  CHECK_FALSE(resp.CheckMessageIntegrity(kRemote.pwd));
  CHECK(resp.CheckFingerprint());

  CHECK(agent.state() == IceState::kConnected);
  REQUIRE(agent.selected_pair().has_value());
  CHECK(agent.selected_pair()->remote == from);
  CHECK(agent.selected_pair()->protocol == IceProtocol::kUdp);
  CHECK_FALSE(agent.nominated());
  CHECK(agent.IsValidPair(from, IceProtocol::kUdp));
  CHECK_FALSE(agent.IsValidPair(from, IceProtocol::kTcp));
  CHECK_FALSE(agent.IsValidPair(Addr("192.0.2.10:50001"), IceProtocol::kUdp));
  REQUIRE(agent.pairs().size() == 1);
  CHECK(agent.pairs()[0].priority == 1845501695);
  CHECK(agent.pairs()[0].checks == 1);
  CHECK(agent.last_consent_ms() == 1000);

  // Nomination on the same pair: nominated, but the media destination does not move.
  CheckOptions nominate;
  nominate.use_candidate = true;
  IceCheckOutcome out2 = agent.HandleBindingRequest(Check(nominate), from, IceProtocol::kUdp, 1500);
  REQUIRE(out2.kind == IceCheckOutcome::Kind::kSuccess);
  CHECK_FALSE(out2.selected_pair_changed);
  CHECK_FALSE(out2.state_changed);
  CHECK(agent.nominated());
  CHECK(agent.pairs()[0].nominated);
  CHECK(agent.pairs()[0].checks == 2);
}

TEST_CASE("ice: nomination moves the selected pair; plain checks on other pairs do not", "[ice]") {
  IceLiteAgent agent = MakeAgent();
  TransportAddress a = Addr("10.0.0.1:1000");
  TransportAddress b = Addr("[2001:db8::2]:2000");
  TransportAddress c = Addr("10.0.0.3:3000");
  CHECK(agent.HandleBindingRequest(Check({}), a, IceProtocol::kUdp, 0).selected_pair_changed);
  IceCheckOutcome ob = agent.HandleBindingRequest(Check({}), b, IceProtocol::kUdp, 10);
  CHECK(ob.kind == IceCheckOutcome::Kind::kSuccess);
  CHECK_FALSE(ob.selected_pair_changed);
  CHECK(agent.selected_pair()->remote == a);
  CHECK(agent.IsValidPair(b, IceProtocol::kUdp));
  CHECK(ParseResponse(ob).XorMappedAddress() == std::optional<TransportAddress>(b));

  CheckOptions nominate;
  nominate.use_candidate = true;
  IceCheckOutcome nb = agent.HandleBindingRequest(Check(nominate), b, IceProtocol::kUdp, 20);
  CHECK(nb.selected_pair_changed);
  CHECK(agent.selected_pair()->remote == b);
  CHECK(agent.nominated());

  // After nomination a plain check elsewhere changes nothing; a new nomination (renomination) does.
  CHECK_FALSE(agent.HandleBindingRequest(Check({}), c, IceProtocol::kUdp, 30).selected_pair_changed);
  CHECK(agent.selected_pair()->remote == b);
  IceCheckOutcome nc = agent.HandleBindingRequest(Check(nominate), c, IceProtocol::kTcp, 40);
  CHECK(nc.selected_pair_changed);
  CHECK(agent.selected_pair() == std::optional<IceCandidatePair>(IceCandidatePair{c, IceProtocol::kTcp}));
  CHECK(agent.state() == IceState::kConnected);
}

TEST_CASE("ice: wrong credentials get 401 without integrity and change nothing", "[ice]") {
  IceLiteAgent agent = MakeAgent();
  TransportAddress from = Addr("192.0.2.1:4000");
  auto expect_401 = [&](const CheckOptions& o) {
    IceCheckOutcome out = agent.HandleBindingRequest(Check(o), from, IceProtocol::kUdp, 100);
    REQUIRE(out.kind == IceCheckOutcome::Kind::kError);
    CHECK(out.error_code == 401);
    StunMessage m = ParseResponse(out);
    CHECK(m.message_class() == StunClass::kErrorResponse);
    REQUIRE(m.ErrorCode().has_value());
    CHECK(m.ErrorCode()->code == 401);
    CHECK_FALSE(m.HasMessageIntegrity());
    CHECK(m.CheckFingerprint());
    CHECK_FALSE(out.selected_pair_changed);
  };
  CheckOptions wrong_pwd;
  wrong_pwd.password = kRemote.pwd;
  expect_401(wrong_pwd);
  CheckOptions wrong_local;
  wrong_local.username = "LoCa2:ReMo";
  expect_401(wrong_local);
  CheckOptions wrong_remote;
  wrong_remote.username = "LoCa1:Other";
  expect_401(wrong_remote);
  CheckOptions prefix_only;
  prefix_only.username = "LoCa1ReMo";
  expect_401(prefix_only);
  CheckOptions empty_remote;
  empty_remote.username = "LoCa1:";
  expect_401(empty_remote);
  CheckOptions swapped;
  swapped.username = "ReMo:LoCa1";
  expect_401(swapped);
  CheckOptions longer_local;
  longer_local.username = "LoCa1x:ReMo";
  expect_401(longer_local);
  CHECK(agent.state() == IceState::kNew);
  CHECK(agent.pairs().empty());
  CHECK_FALSE(agent.IsValidPair(from, IceProtocol::kUdp));
}

TEST_CASE("ice: any remote ufrag is accepted until the remote credentials are known", "[ice]") {
  IceLiteAgent agent(kLocal, {}, 0);
  CheckOptions o;
  o.username = "LoCa1:whatever";
  CHECK(agent.HandleBindingRequest(Check(o), Addr("192.0.2.1:1"), IceProtocol::kUdp, 0).kind ==
        IceCheckOutcome::Kind::kSuccess);
  agent.SetRemoteCredentials("ReMo", kRemote.pwd);
  CHECK(agent.HandleBindingRequest(Check(o), Addr("192.0.2.1:1"), IceProtocol::kUdp, 1).error_code == 401);
  CHECK(agent.HandleBindingRequest(Check({}), Addr("192.0.2.1:1"), IceProtocol::kUdp, 2).kind ==
        IceCheckOutcome::Kind::kSuccess);
}

TEST_CASE("ice: missing USERNAME or MESSAGE-INTEGRITY gets 400", "[ice]") {
  IceLiteAgent agent = MakeAgent();
  TransportAddress from = Addr("192.0.2.1:4000");
  CheckOptions no_user;
  no_user.username = "";
  IceCheckOutcome out = agent.HandleBindingRequest(Check(no_user), from, IceProtocol::kUdp, 0);
  CHECK(out.kind == IceCheckOutcome::Kind::kError);
  CHECK(out.error_code == 400);
  CHECK(ParseResponse(out).ErrorCode()->code == 400);
  CHECK_FALSE(ParseResponse(out).HasMessageIntegrity());
  CheckOptions no_mi;
  no_mi.password = "";
  CHECK(agent.HandleBindingRequest(Check(no_mi), from, IceProtocol::kUdp, 0).error_code == 400);
  CHECK(agent.state() == IceState::kNew);

  // A request for another method is a 400 for that method.
  StunWriter w(StunClass::kRequest, 0x003, StunTransactionId::Random());
  w.AddString(stun_attr::kUsername, "LoCa1:ReMo").AddMessageIntegrity(std::string_view(kLocal.pwd)).AddFingerprint();
  auto allocate = std::move(w).Finish();
  REQUIRE(allocate.ok());
  IceCheckOutcome oa = agent.HandleBindingRequest(*allocate, from, IceProtocol::kUdp, 0);
  CHECK(oa.error_code == 400);
  CHECK(ParseResponse(oa).method() == 0x003);
}

TEST_CASE("ice: bad fingerprint, malformed input, responses and indications are dropped", "[ice]") {
  IceLiteAgent agent = MakeAgent();
  TransportAddress from = Addr("192.0.2.1:4000");
  std::vector<uint8_t> good = Check({});
  std::vector<uint8_t> bad_fp = good;
  bad_fp.back() ^= 0xFF;
  IceCheckOutcome out = agent.HandleBindingRequest(bad_fp, from, IceProtocol::kUdp, 0);
  CHECK(out.kind == IceCheckOutcome::Kind::kDrop);
  CHECK(out.response.empty());
  CHECK(std::string(out.reason) == "bad FINGERPRINT");

  // A check without FINGERPRINT is still accepted (it is only a demultiplexing aid).
  CheckOptions no_fp;
  no_fp.fingerprint = false;
  CHECK(agent.HandleBindingRequest(Check(no_fp), from, IceProtocol::kUdp, 0).kind == IceCheckOutcome::Kind::kSuccess);

  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    IceCheckOutcome o = agent.HandleBindingRequest(cut, from, IceProtocol::kUdp, 0);
    INFO("length " << n);
    CHECK(o.kind == IceCheckOutcome::Kind::kDrop);
  }

  auto success = BuildBindingSuccess(StunTransactionId::Random(), from, kLocal.pwd);
  REQUIRE(success.ok());
  CHECK(agent.HandleBindingRequest(*success, from, IceProtocol::kUdp, 0).kind == IceCheckOutcome::Kind::kDrop);
  StunWriter ind(StunClass::kIndication, kStunMethodBinding, StunTransactionId::Random());
  ind.AddFingerprint();
  auto indication = std::move(ind).Finish();
  REQUIRE(indication.ok());
  IceCheckOutcome oi = agent.HandleBindingRequest(*indication, from, IceProtocol::kUdp, 0);
  CHECK(oi.kind == IceCheckOutcome::Kind::kDrop);
  CHECK(std::string(oi.reason) == "indication");
  CHECK(agent.HandleBindingRequest(good, TransportAddress{}, IceProtocol::kUdp, 0).kind ==
        IceCheckOutcome::Kind::kDrop);
}

TEST_CASE("ice: a peer claiming the controlled role gets 487 Role Conflict", "[ice]") {
  IceLiteAgent agent = MakeAgent();
  CheckOptions o;
  o.controlling = false;
  o.controlled = true;
  o.use_candidate = true;
  IceCheckOutcome out = agent.HandleBindingRequest(Check(o), Addr("192.0.2.1:4000"), IceProtocol::kUdp, 0);
  REQUIRE(out.kind == IceCheckOutcome::Kind::kError);
  CHECK(out.error_code == 487);
  StunMessage m = ParseResponse(out);
  CHECK(m.ErrorCode()->code == 487);
  CHECK(m.ErrorCode()->reason == "Role Conflict");
  CHECK(m.CheckMessageIntegrity(kLocal.pwd));  // authenticated request: the error is too
  CHECK(m.CheckFingerprint());
  CHECK_FALSE(agent.selected_pair().has_value());
  CHECK(agent.state() == IceState::kNew);

  // Neither role attribute (pre-RFC 8445 peers) is accepted.
  CheckOptions none;
  none.controlling = false;
  CHECK(agent.HandleBindingRequest(Check(none), Addr("192.0.2.1:4000"), IceProtocol::kUdp, 0).kind ==
        IceCheckOutcome::Kind::kSuccess);
}

TEST_CASE("ice: the RFC 5769 sample request (ICE-CONTROLLED) authenticates and gets 487", "[ice]") {
  const uint8_t sample[] = {
      0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87,
      0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c,
      0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff, 0x80, 0x29, 0x00, 0x08, 0x93, 0x2f,
      0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
      0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e,
      0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};
  IceLiteAgent agent(IceCredentials{"evtj", "VOkJxbRl1RmTxUk/WvJxBt"}, {}, 0);
  agent.SetRemoteCredentials("h6vY", "unused-remote-password");
  CHECK(ParseUsernameLocalUfrag(sample) == std::optional<std::string_view>("evtj"));
  IceCheckOutcome out = agent.HandleBindingRequest(sample, Addr("192.0.2.1:32853"), IceProtocol::kUdp, 0);
  CHECK(out.error_code == 487);
  StunMessage m = ParseResponse(out);
  CHECK(m.transaction_id().bytes[0] == 0xb7);
  CHECK(m.CheckMessageIntegrity("VOkJxbRl1RmTxUk/WvJxBt"));

  IceLiteAgent other(IceCredentials{"evtj", "VOkJxbRl1RmTxUk/WvJxBX"}, {}, 0);
  CHECK(other.HandleBindingRequest(sample, Addr("192.0.2.1:32853"), IceProtocol::kUdp, 0).error_code == 401);
}

TEST_CASE("ice: unknown comprehension-required attributes get 420 after authentication", "[ice]") {
  IceLiteAgent agent = MakeAgent();
  StunWriter w(StunClass::kRequest, kStunMethodBinding, StunTransactionId::Random());
  w.AddString(stun_attr::kUsername, "LoCa1:ReMo")
      .AddUint64(stun_attr::kIceControlling, 1)
      .AddUint32(0x7F11, 1)
      .AddUint32(0xC057, 2)  // comprehension-optional (Chrome's GOOG-NETWORK-INFO): fine
      .AddMessageIntegrity(std::string_view(kLocal.pwd))
      .AddFingerprint();
  auto req = std::move(w).Finish();
  REQUIRE(req.ok());
  IceCheckOutcome out = agent.HandleBindingRequest(*req, Addr("192.0.2.1:4000"), IceProtocol::kUdp, 0);
  REQUIRE(out.kind == IceCheckOutcome::Kind::kError);
  CHECK(out.error_code == 420);
  StunMessage m = ParseResponse(out);
  REQUIRE(m.UnknownAttributes().has_value());
  CHECK(*m.UnknownAttributes() == std::vector<uint16_t>{0x7F11});
  CHECK(m.CheckMessageIntegrity(kLocal.pwd));
  CHECK(agent.pairs().empty());
}

TEST_CASE("ice: consent freshness, disconnection and expiry on a fake clock", "[ice]") {
  IceLiteConfig config;
  config.consent_timeout_ms = 30000;
  config.disconnected_after_ms = 10000;
  IceLiteAgent agent = MakeAgent(0, config);
  TransportAddress from = Addr("192.0.2.1:4000");
  CheckOptions nominate;
  nominate.use_candidate = true;
  int64_t t = 500;
  REQUIRE(agent.HandleBindingRequest(Check(nominate), from, IceProtocol::kUdp, t).kind ==
          IceCheckOutcome::Kind::kSuccess);
  // Regular checks keep the peer connected.
  for (; t <= 20500; t += 2500) {
    CHECK_FALSE(agent.UpdateTime(t));
    CHECK(agent.HandleBindingRequest(Check({}), from, IceProtocol::kUdp, t).kind == IceCheckOutcome::Kind::kSuccess);
    CHECK(agent.state() == IceState::kConnected);
  }
  int64_t last = t - 2500;
  CHECK(agent.last_consent_ms() == last);
  CHECK(agent.NextDeadlineMs() == last + 10000);
  CHECK_FALSE(agent.UpdateTime(last + 9999));
  CHECK(agent.state() == IceState::kConnected);
  CHECK(agent.UpdateTime(last + 10000));
  CHECK(agent.state() == IceState::kDisconnected);
  CHECK(agent.NextDeadlineMs() == last + 30000);
  CHECK_FALSE(agent.UpdateTime(last + 15000));

  // A check brings it back.
  last += 20000;
  IceCheckOutcome back = agent.HandleBindingRequest(Check({}), from, IceProtocol::kUdp, last);
  CHECK(back.state_changed);
  CHECK(agent.state() == IceState::kConnected);

  // Checks that fail authentication do not refresh consent.
  CheckOptions wrong;
  wrong.password = "wrongpasswordwrongpassword";
  for (int64_t s = last + 1000; s < last + 30000; s += 1000) {
    agent.HandleBindingRequest(Check(wrong), from, IceProtocol::kUdp, s);
  }
  CHECK(agent.state() == IceState::kDisconnected);
  CHECK(agent.UpdateTime(last + 30000));
  CHECK(agent.state() == IceState::kFailed);
  CHECK(agent.NextDeadlineMs() == INT64_MAX);
  CHECK_FALSE(agent.UpdateTime(last + 100000));

  // Failed is terminal: even a valid check is dropped.
  IceCheckOutcome late = agent.HandleBindingRequest(Check({}), from, IceProtocol::kUdp, last + 30001);
  CHECK(late.kind == IceCheckOutcome::Kind::kDrop);
  CHECK(agent.state() == IceState::kFailed);
}

TEST_CASE("ice: a check arriving after consent expired reports the failure, not success", "[ice]") {
  IceLiteAgent agent = MakeAgent();
  TransportAddress from = Addr("192.0.2.1:4000");
  REQUIRE(agent.HandleBindingRequest(Check({}), from, IceProtocol::kUdp, 0).kind == IceCheckOutcome::Kind::kSuccess);
  // No UpdateTime calls at all in between: the check itself advances the clock.
  IceCheckOutcome out = agent.HandleBindingRequest(Check({}), from, IceProtocol::kUdp, 30000);
  CHECK(out.kind == IceCheckOutcome::Kind::kDrop);
  CHECK(out.state_changed);
  CHECK(agent.state() == IceState::kFailed);
}

TEST_CASE("ice: a peer that never checks in fails after the initial timeout", "[ice]") {
  IceLiteConfig config;
  config.initial_timeout_ms = 5000;
  IceLiteAgent agent = MakeAgent(1000, config);
  CHECK(agent.NextDeadlineMs() == 6000);
  CHECK_FALSE(agent.UpdateTime(5999));
  CHECK(agent.state() == IceState::kNew);
  CHECK(agent.UpdateTime(6000));
  CHECK(agent.state() == IceState::kFailed);
}

TEST_CASE("ice: a quiet provisional pair is replaced by a live one", "[ice]") {
  IceLiteAgent agent = MakeAgent();
  TransportAddress a = Addr("10.0.0.1:1000");
  TransportAddress b = Addr("10.0.0.2:2000");
  agent.HandleBindingRequest(Check({}), a, IceProtocol::kUdp, 0);
  CHECK(agent.UpdateTime(10000));
  CHECK(agent.state() == IceState::kDisconnected);
  IceCheckOutcome ob = agent.HandleBindingRequest(Check({}), b, IceProtocol::kUdp, 10500);
  CHECK(ob.selected_pair_changed);
  CHECK(ob.state_changed);
  CHECK(agent.selected_pair()->remote == b);
  CHECK(agent.state() == IceState::kConnected);
}

TEST_CASE("ice: stale pairs are forgotten and the pair table is bounded", "[ice]") {
  IceLiteConfig config;
  config.max_pairs = 3;
  IceLiteAgent agent = MakeAgent(0, config);
  TransportAddress sel = Addr("10.0.0.1:1");
  CheckOptions nominate;
  nominate.use_candidate = true;
  agent.HandleBindingRequest(Check(nominate), sel, IceProtocol::kUdp, 0);
  for (int i = 2; i <= 6; ++i) {
    std::string text = "10.0.0." + std::to_string(i) + ":1";
    agent.HandleBindingRequest(Check({}), Addr(text.c_str()), IceProtocol::kUdp, i);
    CHECK(agent.pairs().size() <= 3);
  }
  CHECK(agent.pairs().size() == 3);
  CHECK(agent.IsValidPair(sel, IceProtocol::kUdp));  // the selected pair is never evicted
  CHECK(agent.IsValidPair(Addr("10.0.0.6:1"), IceProtocol::kUdp));
  CHECK(agent.IsValidPair(Addr("10.0.0.5:1"), IceProtocol::kUdp));
  CHECK_FALSE(agent.IsValidPair(Addr("10.0.0.2:1"), IceProtocol::kUdp));

  // Keep the selected pair alive; the others lose validity after the consent timeout.
  for (int64_t t = 2000; t <= 31000; t += 2000) agent.HandleBindingRequest(Check({}), sel, IceProtocol::kUdp, t);
  agent.UpdateTime(31000);
  CHECK(agent.pairs().size() == 1);
  CHECK_FALSE(agent.IsValidPair(Addr("10.0.0.6:1"), IceProtocol::kUdp));
  CHECK(agent.state() == IceState::kConnected);
}

TEST_CASE("ice: ICE-TCP checks make TCP pairs", "[ice]") {
  IceLiteAgent agent = MakeAgent();
  TransportAddress from = Addr("127.0.0.1:40000");
  CheckOptions nominate;
  nominate.use_candidate = true;
  IceCheckOutcome out = agent.HandleBindingRequest(Check(nominate), from, IceProtocol::kTcp, 0);
  REQUIRE(out.kind == IceCheckOutcome::Kind::kSuccess);
  CHECK(agent.selected_pair() == std::optional<IceCandidatePair>(IceCandidatePair{from, IceProtocol::kTcp}));
  CHECK(agent.IsValidPair(from, IceProtocol::kTcp));
  CHECK_FALSE(agent.IsValidPair(from, IceProtocol::kUdp));
  CHECK(std::string(IceProtocolName(IceProtocol::kTcp)) == "tcp");
  CHECK(std::string(IceStateName(agent.state())) == "connected");
}

TEST_CASE("ice: SOFTWARE in responses when configured", "[ice]") {
  IceLiteConfig config;
  config.software = "collab-sfu";
  IceLiteAgent agent = MakeAgent(0, config);
  IceCheckOutcome out = agent.HandleBindingRequest(Check({}), Addr("192.0.2.1:1"), IceProtocol::kUdp, 0);
  StunMessage m = ParseResponse(out);
  CHECK(m.Software() == std::optional<std::string_view>("collab-sfu"));
  CHECK(m.CheckMessageIntegrity(kLocal.pwd));
}

TEST_CASE("ice: ParseUsernameLocalUfrag routes by the local ufrag", "[ice]") {
  std::vector<uint8_t> req = Check({});
  CHECK(ParseUsernameLocalUfrag(req) == std::optional<std::string_view>("LoCa1"));
  CheckOptions no_colon;
  no_colon.username = "LoCa1";
  CHECK_FALSE(ParseUsernameLocalUfrag(Check(no_colon)).has_value());
  CheckOptions leading_colon;
  leading_colon.username = ":ReMo";
  CHECK_FALSE(ParseUsernameLocalUfrag(Check(leading_colon)).has_value());
  CheckOptions no_user;
  no_user.username = "";
  CHECK_FALSE(ParseUsernameLocalUfrag(Check(no_user)).has_value());
  // Not a request, not STUN, truncated.
  auto resp = BuildBindingSuccess(StunTransactionId::Random(), Addr("192.0.2.1:1"), "pw");
  REQUIRE(resp.ok());
  CHECK_FALSE(ParseUsernameLocalUfrag(*resp).has_value());
  std::vector<uint8_t> rtp = req;
  rtp[0] = 0x80;
  CHECK_FALSE(ParseUsernameLocalUfrag(rtp).has_value());
  for (size_t n = 0; n < req.size(); ++n) {
    CHECK_FALSE(ParseUsernameLocalUfrag(std::span<const uint8_t>(req).first(n)).has_value());
  }
}
