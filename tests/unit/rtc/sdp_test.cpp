// SDP parser, writer and answer/offer builder against real Chromium offers
// (tests/data/rtc/sdp, made by capture-offers.mjs there).
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>

#include "lib/base/fs.hpp"
#include "lib/rtc/sdp.hpp"
#include "lib/rtc/sdp_answer.hpp"

using namespace collab::rtc;

namespace {

std::string DataDir() {
  return (std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "data" / "rtc" / "sdp").string();
}

std::string ReadData(const std::string& name) {
  auto r = collab::base::ReadFile(DataDir() + "/" + name);
  REQUIRE(r.ok());
  return *r;
}

SdpSession ParseOk(std::string_view text) {
  auto r = ParseSdp(text);
  if (!r.ok()) FAIL(r.error().message);
  return std::move(r).value();
}

SdpSession ParseFile(const std::string& name) { return ParseOk(ReadData(name)); }

std::string ParseError(std::string_view text, const SdpParseLimits& limits = {}) {
  auto r = ParseSdp(text, limits);
  if (r.ok()) return "(parsed)";
  CHECK(r.error().code == collab::base::kExitDataErr);
  return r.error().message;
}

const std::vector<std::string> kOffers = {"plain.sdp", "simulcast.sdp",        "h264.sdp",
                                          "vp9.sdp",   "recvonly.sdp",         "datachannel.sdp",
                                          "mixed.sdp", "plain-candidates.sdp", "datachannel-candidates.sdp"};

SdpLocalParams Local() {
  SdpLocalParams p;
  p.ice_ufrag = "sfuA";
  p.ice_pwd = "abcdefghijklmnopqrstuvwx";
  p.fingerprint.hash = "sha-256";
  for (int i = 0; i < 32; ++i) p.fingerprint.digest.push_back(static_cast<uint8_t>(i * 7));
  p.candidates = {MakeHostCandidate("1", "udp", "127.0.0.1", 40000), MakeHostCandidate("2", "tcp", "127.0.0.1", 40001)};
  p.session_id = "4611731400430051336";
  return p;
}

std::vector<int> Pts(const SdpMedia& m) {
  std::vector<int> v;
  for (const auto& c : m.codecs) v.push_back(c.pt);
  return v;
}

// The JSEP invariants every answer must satisfy, checked on the re-parsed text.
SdpSession CheckAnswer(const SdpSession& offer, const SdpSession& built, const SdpAnswerOptions& opt = {}) {
  std::string text = WriteSdp(built);
  REQUIRE(text.size() >= 2);
  CHECK(text.substr(text.size() - 2) == "\r\n");
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\n') REQUIRE((i > 0 && text[i - 1] == '\r'));
  SdpSession a = ParseOk(text);
  CHECK(WriteSdp(a) == text);
  CHECK(a.ice_lite);
  REQUIRE(a.media.size() == offer.media.size());
  std::vector<std::string> accepted;
  for (size_t i = 0; i < a.media.size(); ++i) {
    const SdpMedia& om = offer.media[i];
    const SdpMedia& am = a.media[i];
    INFO("mid " << om.mid);
    CHECK(am.mid == om.mid);
    CHECK(am.media == om.media);
    CHECK(am.proto == om.proto);
    if (am.port == 0) continue;
    accepted.push_back(am.mid);
    CHECK(am.ice_ufrag == "sfuA");
    CHECK(am.ice_pwd == "abcdefghijklmnopqrstuvwx");
    REQUIRE(am.fingerprints.size() == 1);
    CHECK(am.fingerprints[0].hash == "sha-256");
    CHECK(am.fingerprints[0].digest.size() == 32);
    CHECK(am.setup == SdpSetup::kPassive);
    CHECK(am.port == 40000);
    CHECK(am.candidates.size() == 2);
    CHECK(am.end_of_candidates);
    if (!am.IsRtp()) continue;
    CHECK(am.rtcp_mux);
    CHECK(a.Direction(am) == ReverseDirection(offer.Direction(om)));
    // Header extensions: a subset of the offer's, same ids, only configured URIs.
    for (const auto& e : am.extmaps) {
      const SdpExtmap* o = om.FindExtmap(e.uri);
      REQUIRE(o != nullptr);
      CHECK(o->id == e.id);
      CHECK(std::find(opt.header_extensions.begin(), opt.header_extensions.end(), e.uri) !=
            opt.header_extensions.end());
    }
    for (const auto& oe : om.extmaps) {
      bool wanted =
          std::find(opt.header_extensions.begin(), opt.header_extensions.end(), oe.uri) != opt.header_extensions.end();
      CHECK((am.FindExtmap(oe.uri) != nullptr) == wanted);
    }
    // Codecs: a non-empty subset of the offer's with the same rtpmap; rtx only for accepted.
    REQUIRE(!am.codecs.empty());
    std::set<int> pts;
    for (const auto& c : am.codecs) pts.insert(c.pt);
    CHECK(pts.size() == am.codecs.size());
    for (const auto& c : am.codecs) {
      const SdpCodec* o = om.FindCodec(c.pt);
      REQUIRE(o != nullptr);
      CHECK(o->name == c.name);
      CHECK(o->clock_rate == c.clock_rate);
      CHECK(o->fmtp == c.fmtp);
      CHECK_FALSE(c.Is("ulpfec"));
      CHECK_FALSE(c.Is("red"));
      if (c.Is("rtx")) {
        INFO("rtx " << c.pt);
        CHECK(pts.count(c.RtxApt()) == 1);
        CHECK_FALSE(am.FindCodec(c.RtxApt())->Is("rtx"));
      }
      if (c.Is("VP9")) CHECK(c.FmtpParam("profile-id").value_or("0") == "0");
      for (const auto& fb : c.feedback)
        CHECK(std::find(o->feedback.begin(), o->feedback.end(), fb) != o->feedback.end());
    }
    CHECK_FALSE(am.codecs.front().Is("rtx"));
  }
  const SdpGroup* g = a.FindGroup("BUNDLE");
  if (accepted.empty()) {
    CHECK(g == nullptr);
  } else {
    REQUIRE(g != nullptr);
    CHECK(g->mids == accepted);
  }
  return a;
}

}  // namespace

TEST_CASE("sdp parses Chromium's audio+video offer field by field", "[sdp]") {
  SdpSession s = ParseFile("plain.sdp");
  CHECK(s.version == 0);
  CHECK(s.origin.username == "-");
  CHECK(s.origin.session_version == "2");
  CHECK(s.origin.address == "127.0.0.1");
  CHECK(s.session_name == "-");
  CHECK(s.start_time == 0);
  CHECK(s.stop_time == 0);
  REQUIRE(s.groups.size() == 1);
  CHECK(s.groups[0].semantics == "BUNDLE");
  CHECK(s.groups[0].mids == std::vector<std::string>{"0", "1"});
  CHECK(s.extmap_allow_mixed);
  REQUIRE(s.msid_semantic);
  CHECK(s.msid_semantic->rfind("WMS ", 0) == 0);
  CHECK_FALSE(s.ice_lite);
  REQUIRE(s.media.size() == 2);

  const SdpMedia& audio = s.media[0];
  CHECK(audio.kind == SdpMediaKind::kAudio);
  CHECK(audio.port == 9);
  CHECK(audio.proto == "UDP/TLS/RTP/SAVPF");
  CHECK(Pts(audio) == std::vector<int>{111, 63, 9, 0, 8, 13, 110, 126});
  CHECK(audio.mid == "0");
  CHECK(s.Direction(audio) == SdpDirection::kSendRecv);
  REQUIRE(audio.connection);
  CHECK(audio.connection->address == "0.0.0.0");
  CHECK(audio.ice_ufrag.size() == 4);
  CHECK(audio.ice_pwd.size() == 24);
  CHECK(audio.ice_options == std::vector<std::string>{"trickle"});
  REQUIRE(audio.fingerprints.size() == 1);
  CHECK(audio.fingerprints[0].hash == "sha-256");
  CHECK(audio.fingerprints[0].digest.size() == 32);
  CHECK(audio.setup == SdpSetup::kActPass);
  CHECK(audio.rtcp_mux);
  CHECK(audio.rtcp_rsize);
  CHECK(audio.extmaps.size() == 4);
  CHECK(audio.FindExtmap(kExtAudioLevel)->id == 1);
  CHECK(audio.FindExtmap(kExtAbsSendTime)->id == 2);
  CHECK(audio.FindExtmap(kExtTransportCc)->id == 3);
  CHECK(audio.FindExtmap(kExtMid)->id == 4);
  const SdpCodec* opus = audio.FindCodec(111);
  REQUIRE(opus != nullptr);
  CHECK(opus->Is("OPUS"));
  CHECK(opus->clock_rate == 48000);
  CHECK(opus->channels == 2);
  CHECK(opus->fmtp == "minptime=10;useinbandfec=1");
  CHECK(opus->FmtpParam("useinbandfec") == "1");
  CHECK(opus->feedback == std::vector<SdpRtcpFb>{{"transport-cc", ""}});
  CHECK(audio.FindCodec(63)->Is("red"));
  CHECK(audio.FindCodec(63)->fmtp == "111/111");
  CHECK(audio.FindCodec(0)->Is("PCMU"));
  CHECK(audio.FindCodec(0)->channels == 0);  // "PCMU/8000": no channel count written
  REQUIRE(audio.msids.size() == 1);
  CHECK(audio.msids[0].stream_id.size() == 36);
  CHECK(audio.msids[0].track_id.size() == 36);
  REQUIRE(audio.ssrcs.size() == 2);
  CHECK(audio.ssrcs[0].attribute == "cname");
  CHECK(audio.ssrcs[1].attribute == "msid");
  CHECK(audio.ssrcs[0].ssrc == audio.ssrcs[1].ssrc);
  REQUIRE(audio.FindAttribute("rtcp") != nullptr);  // kept as an unknown attribute
  CHECK(audio.FindAttribute("rtcp")->value == "9 IN IP4 0.0.0.0");
  CHECK(audio.FindAttribute("rtcp-xr")->value == "rcvr-rtt=all");
  CHECK(audio.candidates.empty());

  const SdpMedia& video = s.media[1];
  CHECK(video.kind == SdpMediaKind::kVideo);
  CHECK(video.mid == "1");
  CHECK(video.codecs.size() == 23);
  CHECK(video.codecs.front().Is("VP8"));
  CHECK(video.FindExtmap(kExtMid)->id == 4);
  CHECK(video.FindExtmap(kExtRid)->id == 10);
  CHECK(video.FindExtmap(kExtRepairedRid)->id == 11);
  CHECK(video.extmaps.size() == 11);  // no dependency-descriptor/layers-allocation without simulcast
  const SdpCodec* vp8 = video.FindCodec(96);
  REQUIRE(vp8 != nullptr);
  CHECK(vp8->feedback ==
        std::vector<SdpRtcpFb>{{"goog-remb", ""}, {"transport-cc", ""}, {"ccm", "fir"}, {"nack", ""}, {"nack", "pli"}});
  CHECK(video.FindCodec(97)->Is("rtx"));
  CHECK(video.FindCodec(97)->RtxApt() == 96);
  CHECK(video.FindCodec(120)->Is("ulpfec"));
  REQUIRE(video.ssrc_groups.size() == 1);
  CHECK(video.ssrc_groups[0].semantics == "FID");
  CHECK(video.ssrc_groups[0].ssrcs.size() == 2);
  CHECK(video.ssrcs.size() == 4);
  CHECK(video.rids.empty());
  CHECK_FALSE(video.simulcast);
  CHECK(s.IceUfrag(video) == s.IceUfrag(audio));
}

TEST_CASE("sdp parses Chromium's simulcast offer: rids q/h/f", "[sdp]") {
  SdpSession s = ParseFile("simulcast.sdp");
  REQUIRE(s.media.size() == 2);
  CHECK(s.Direction(s.media[0]) == SdpDirection::kSendOnly);
  const SdpMedia& v = s.media[1];
  CHECK(s.Direction(v) == SdpDirection::kSendOnly);
  REQUIRE(v.rids.size() == 3);
  const char* names[] = {"q", "h", "f"};
  for (int i = 0; i < 3; ++i) {
    CHECK(v.rids[i].id == names[i]);
    CHECK(v.rids[i].direction == SdpRidDirection::kSend);
    CHECK(v.rids[i].payload_types.empty());
    CHECK(v.rids[i].restrictions.empty());
  }
  REQUIRE(v.simulcast);
  CHECK(v.simulcast->recv.empty());
  REQUIRE(v.simulcast->send.size() == 3);
  for (int i = 0; i < 3; ++i) CHECK(v.simulcast->send[i] == std::vector<SdpSimulcastRid>{{names[i], false}});
  CHECK(v.FindExtmap(kExtRid)->id == 10);
  CHECK(v.FindExtmap(kExtRepairedRid)->id == 11);
  CHECK(v.ssrcs.empty());  // with rids Chromium signals no SSRCs
}

TEST_CASE("sdp parses the H.264-first offer with every profile-level-id", "[sdp]") {
  SdpSession s = ParseFile("h264.sdp");
  const SdpMedia& v = s.media[1];
  REQUIRE(v.codecs.size() == 23);
  CHECK(v.codecs[0].Is("H264"));
  CHECK(v.codecs[0].pt == 102);
  std::multiset<std::string> profiles;
  std::multiset<std::string> modes;
  for (const auto& c : v.codecs) {
    if (!c.Is("H264")) continue;
    CHECK(c.clock_rate == 90000);
    CHECK(c.FmtpParam("level-asymmetry-allowed") == "1");
    profiles.insert(std::string(*c.FmtpParam("profile-level-id")));
    modes.insert(std::string(*c.FmtpParam("packetization-mode")));
  }
  CHECK(profiles == std::multiset<std::string>{"42001f", "42001f", "42e01f", "42e01f", "4d001f", "4d001f"});
  CHECK(modes == std::multiset<std::string>{"0", "0", "0", "1", "1", "1"});
  // Every H.264 entry has its own rtx.
  for (const auto& c : v.codecs)
    if (c.Is("rtx")) CHECK(v.FindCodec(c.RtxApt()) != nullptr);
}

TEST_CASE("sdp parses the VP9-first offer", "[sdp]") {
  SdpSession s = ParseFile("vp9.sdp");
  const SdpMedia& v = s.media[1];
  CHECK(v.codecs[0].Is("VP9"));
  CHECK(v.codecs[0].FmtpParam("profile-id") == "0");
  CHECK(v.codecs[2].Is("VP9"));
  CHECK(v.codecs[2].FmtpParam("profile-id") == "2");
  CHECK(v.FindCodec(45)->Is("AV1"));
  CHECK(v.FindCodec(45)->FmtpParam("profile") == "0");
}

TEST_CASE("sdp parses the recvonly offer", "[sdp]") {
  SdpSession s = ParseFile("recvonly.sdp");
  REQUIRE(s.media.size() == 2);
  for (const auto& m : s.media) {
    CHECK(s.Direction(m) == SdpDirection::kRecvOnly);
    CHECK(m.msids.empty());
    CHECK(m.ssrcs.empty());
  }
  CHECK(s.media[1].codecs.size() == 34);  // receive capabilities: more profiles than a sender offers
  CHECK(s.media[1].FindCodec(49)->Is("flexfec-03"));
  CHECK(s.media[1].FindCodec(41)->FmtpParam("profile-level-id") == "f4001f");
}

TEST_CASE("sdp parses the data-channel-only offer", "[sdp]") {
  SdpSession s = ParseFile("datachannel.sdp");
  REQUIRE(s.media.size() == 1);
  const SdpMedia& m = s.media[0];
  CHECK(m.kind == SdpMediaKind::kApplication);
  CHECK(m.proto == "UDP/DTLS/SCTP");
  CHECK(m.formats == std::vector<std::string>{"webrtc-datachannel"});
  CHECK_FALSE(m.IsRtp());
  CHECK(m.codecs.empty());
  CHECK(m.sctp_port == 5000);
  CHECK(m.max_message_size == 262144);
  CHECK_FALSE(m.direction);
  CHECK(s.msid_semantic == "WMS");
}

TEST_CASE("sdp parses offers with gathered candidates", "[sdp]") {
  SdpSession s = ParseFile("plain-candidates.sdp");
  for (const auto& m : s.media) {
    REQUIRE(m.candidates.size() == 2);
    const SdpCandidate& udp = m.candidates[0];
    CHECK(udp.component == 1);
    CHECK(udp.transport == "udp");
    CHECK(udp.priority == 2122260223u);
    CHECK(udp.address == "127.0.0.1");
    CHECK(udp.port == m.port);
    CHECK(udp.type == "host");
    CHECK(udp.tcp_type.empty());
    CHECK(udp.extensions == std::vector<std::pair<std::string, std::string>>{
                                {"generation", "0"}, {"network-id", "1"}, {"network-cost", "50"}});
    const SdpCandidate& tcp = m.candidates[1];
    CHECK(tcp.transport == "tcp");
    CHECK(tcp.priority == 1518280447u);
    CHECK(tcp.port == 9);
    CHECK(tcp.tcp_type == "active");
    REQUIRE(m.connection);
    CHECK(m.connection->address == "127.0.0.1");
  }
  SdpSession d = ParseFile("datachannel-candidates.sdp");
  CHECK(d.media[0].candidates.size() == 2);
}

TEST_CASE("sdp parses related addresses and candidate extensions", "[sdp]") {
  std::string sdp =
      "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
      "a=candidate:842163049 1 udp 1677729535 203.0.113.7 61665 typ srflx raddr 10.0.0.5 rport 61665 generation 0 "
      "ufrag EsAw network-cost 999\r\n"
      "a=candidate:3 1 tcp 1518280447 uuid-1.local 9 typ host tcptype active\r\n"
      "a=end-of-candidates\r\n";
  SdpSession s = ParseOk(sdp);
  const auto& c = s.media[0].candidates;
  REQUIRE(c.size() == 2);
  CHECK(c[0].type == "srflx");
  CHECK(c[0].related_address == "10.0.0.5");
  CHECK(c[0].related_port == 61665);
  CHECK(c[0].extensions.size() == 3);
  CHECK(c[0].ToString() ==
        "842163049 1 udp 1677729535 203.0.113.7 61665 typ srflx raddr 10.0.0.5 rport 61665 generation 0 ufrag EsAw "
        "network-cost 999");
  CHECK(c[1].address == "uuid-1.local");
  CHECK(s.media[0].end_of_candidates);
}

TEST_CASE("sdp parses rid restrictions and simulcast alternatives", "[sdp]") {
  std::string sdp =
      "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nt=0 0\nm=video 9 UDP/TLS/RTP/SAVPF 96 97 98\n"
      "a=rid:1 send pt=96,97;max-width=1280;max-height=720\n"
      "a=rid:2 send max-fps=30;depend=1\n"
      "a=rid:3 recv\n"
      "a=rid:4 send\n"
      "a=simulcast:send 1,~4;2 recv 3\n";
  SdpSession s = ParseOk(sdp);
  const SdpMedia& m = s.media[0];
  REQUIRE(m.rids.size() == 4);
  CHECK(m.rids[0].payload_types == std::vector<int>{96, 97});
  CHECK(m.rids[0].restrictions ==
        std::vector<std::pair<std::string, std::string>>{{"max-width", "1280"}, {"max-height", "720"}});
  CHECK(m.rids[1].restrictions.size() == 2);
  CHECK(m.rids[2].direction == SdpRidDirection::kRecv);
  REQUIRE(m.simulcast);
  REQUIRE(m.simulcast->send.size() == 2);
  CHECK(m.simulcast->send[0] == std::vector<SdpSimulcastRid>{{"1", false}, {"4", true}});
  CHECK(m.simulcast->send[1] == std::vector<SdpSimulcastRid>{{"2", false}});
  CHECK(m.simulcast->recv == SdpSimulcastList{{{"3", false}}});
  std::string out = WriteSdp(s);
  CHECK(out.find("a=rid:1 send pt=96,97;max-width=1280;max-height=720\r\n") != std::string::npos);
  CHECK(out.find("a=simulcast:send 1,~4;2 recv 3\r\n") != std::string::npos);
}

TEST_CASE("sdp keeps unknown attributes and lines, inherits session-level values", "[sdp]") {
  std::string sdp =
      "v=0\r\no=alice 2890844526 2890844527 IN IP4 198.51.100.1\r\ns=Talk\r\ni=about\r\nc=IN IP4 0.0.0.0\r\n"
      "b=AS:512\r\nt=0 0\r\nr=7d 1h 0 25h\r\na=recvonly\r\na=ice-ufrag:F7gI\r\na=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\n"
      "a=fingerprint:SHA-256 00:11\r\na=setup:active\r\na=x-custom:some value\r\na=flag\r\n"
      "m=audio 49170/2 RTP/SAVPF 0 96\r\ni=voice\r\nb=TIAS:64000\r\na=rtpmap:96 telephone-event/8000\r\n"
      "a=fmtp:96 0-15\r\na=rtcp-fb:* nack\r\na=rtcp-fb:96 ccm tmmbr smaxpr=120\r\na=x-media:1\r\n"
      "a=rtpmap:100 unknown/1\r\n";
  SdpSession s = ParseOk(sdp);
  CHECK(s.origin.username == "alice");
  CHECK(s.session_name == "Talk");
  CHECK(s.connection->address == "0.0.0.0");
  REQUIRE(s.bandwidths.size() == 1);
  CHECK(s.bandwidths[0].type == "AS");
  CHECK(s.bandwidths[0].value == 512);
  CHECK(s.extra_lines.size() == 2);
  CHECK(s.fingerprints[0].hash == "sha-256");
  CHECK(s.fingerprints[0].digest == std::vector<uint8_t>{0x00, 0x11});
  REQUIRE(s.attributes.size() == 2);
  CHECK(s.attributes[0].name == "x-custom");
  CHECK(s.attributes[0].value == "some value");
  CHECK(s.attributes[1].name == "flag");
  CHECK_FALSE(s.attributes[1].has_value);
  const SdpMedia& m = s.media[0];
  CHECK(m.port == 49170);
  CHECK(m.port_count == 2u);
  CHECK(m.IsRtp());
  CHECK_FALSE(m.direction);
  CHECK(s.Direction(m) == SdpDirection::kRecvOnly);
  CHECK(s.IceUfrag(m) == "F7gI");
  CHECK(s.Setup(m) == SdpSetup::kActive);
  CHECK(s.Fingerprints(m).size() == 1);
  CHECK(m.FindCodec(0)->Is("PCMU"));  // static payload type without rtpmap
  CHECK(m.FindCodec(96)->fmtp == "0-15");
  CHECK(m.FindCodec(96)->feedback == std::vector<SdpRtcpFb>{{"ccm", "tmmbr smaxpr=120"}});
  CHECK(m.feedback_all == std::vector<SdpRtcpFb>{{"nack", ""}});
  CHECK(m.FindCodec(100) == nullptr);  // rtpmap for a PT not in the m= line is ignored
  CHECK(m.FindAttribute("x-media")->value == "1");
  CHECK(m.bandwidths[0].value == 64000);

  std::string once = WriteSdp(s);
  CHECK(once.find("a=x-custom:some value\r\n") != std::string::npos);
  CHECK(once.find("m=audio 49170/2 RTP/SAVPF 0 96\r\ni=voice\r\n") != std::string::npos);
  CHECK(once.find("s=Talk\r\ni=about\r\nc=IN IP4 0.0.0.0\r\nb=AS:512\r\nt=0 0\r\nr=7d 1h 0 25h\r\n") !=
        std::string::npos);
  CHECK(WriteSdp(ParseOk(once)) == once);
}

TEST_CASE("sdp write/parse is idempotent on every captured offer and accepts bare LF", "[sdp]") {
  for (const auto& name : kOffers) {
    INFO(name);
    std::string raw = ReadData(name);
    SdpSession s = ParseOk(raw);
    std::string once = WriteSdp(s);
    SdpSession again = ParseOk(once);
    CHECK(WriteSdp(again) == once);
    CHECK(again.media.size() == s.media.size());
    for (size_t i = 0; i < s.media.size(); ++i) {
      CHECK(Pts(again.media[i]) == Pts(s.media[i]));
      CHECK(again.media[i].extmaps.size() == s.media[i].extmaps.size());
      CHECK(again.media[i].candidates.size() == s.media[i].candidates.size());
      CHECK(again.media[i].attributes.size() == s.media[i].attributes.size());
    }
    // Every line of the capture survives (in canonical order), so nothing was dropped.
    size_t raw_lines = std::count(raw.begin(), raw.end(), '\n');
    CHECK(static_cast<size_t>(std::count(once.begin(), once.end(), '\n')) == raw_lines);
    std::string lf;
    for (char c : raw)
      if (c != '\r') lf += c;
    CHECK(WriteSdp(ParseOk(lf)) == once);
  }
}

TEST_CASE("sdp answers every captured offer within the JSEP invariants", "[sdp][answer]") {
  for (const auto& name : kOffers) {
    INFO(name);
    SdpSession offer = ParseFile(name);
    auto answer = BuildSdpAnswer(offer, Local());
    REQUIRE(answer.ok());
    CheckAnswer(offer, *answer);
  }
}

TEST_CASE("sdp answer to the plain offer: sendrecv, Opus and VP8, our SSRCs", "[sdp][answer]") {
  SdpSession offer = ParseFile("plain.sdp");
  SdpAnswerOptions opt;
  opt.send_streams = {{"0", 1111, 0, "sfucname", "room", "a0"}, {"1", 2222, 3333, "sfucname", "room", "v0"}};
  auto built = BuildSdpAnswer(offer, Local(), opt);
  REQUIRE(built.ok());
  SdpSession a = CheckAnswer(offer, *built, opt);
  std::string text = WriteSdp(a);
  CHECK(text.rfind("v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
                   "a=group:BUNDLE 0 1\r\na=ice-lite\r\n",
                   0) == 0);
  CHECK(a.extmap_allow_mixed);
  CHECK(a.msid_semantic == "WMS room");
  const SdpMedia& audio = a.media[0];
  CHECK(Pts(audio) == std::vector<int>{111});
  CHECK(audio.codecs[0].fmtp == "minptime=10;useinbandfec=1");
  CHECK(audio.rtcp_rsize);
  CHECK(audio.extmaps.size() == 4);
  CHECK(audio.ssrc_groups.empty());
  REQUIRE(audio.ssrcs.size() == 2);
  CHECK(audio.ssrcs[0].ssrc == 1111);
  CHECK(audio.ssrcs[0].value == "sfucname");
  CHECK(audio.msids[0].stream_id == "room");
  const SdpMedia& video = a.media[1];
  // Offer order, mode-0 H.264 dropped (mode 1 offered for each profile), VP9 profile 2,
  // red and ulpfec dropped; each kept codec followed by its rtx.
  CHECK(Pts(video) == std::vector<int>{96, 97, 102, 103, 108, 109, 116, 117, 45, 46, 98, 99});
  CHECK(video.extmaps.size() == 5);  // abs-send-time, transport-cc, mid, rid, repaired-rid
  CHECK(video.FindExtmap(kExtRid)->id == 10);
  CHECK(video.FindCodec(96)->feedback.size() == 5);
  REQUIRE(video.ssrc_groups.size() == 1);
  CHECK(video.ssrc_groups[0].semantics == "FID");
  CHECK(video.ssrc_groups[0].ssrcs == std::vector<uint32_t>{2222, 3333});
  CHECK(video.ssrcs.size() == 4);
  CHECK(text.find("a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n") != std::string::npos);
  CHECK(text.find("a=candidate:2 1 tcp 1518280447 127.0.0.1 40001 typ host tcptype passive\r\n") != std::string::npos);
  CHECK(text.find("c=IN IP4 127.0.0.1\r\n") != std::string::npos);
  CHECK(text.find("a=setup:passive\r\n") != std::string::npos);
}

TEST_CASE("sdp answer to simulcast asks for q/h/f", "[sdp][answer]") {
  SdpSession offer = ParseFile("simulcast.sdp");
  auto built = BuildSdpAnswer(offer, Local());
  REQUIRE(built.ok());
  SdpSession a = CheckAnswer(offer, *built);
  const SdpMedia& v = a.media[1];
  CHECK(a.Direction(v) == SdpDirection::kRecvOnly);
  REQUIRE(v.rids.size() == 3);
  for (const auto& r : v.rids) CHECK(r.direction == SdpRidDirection::kRecv);
  REQUIRE(v.simulcast);
  CHECK(v.simulcast->send.empty());
  CHECK(v.simulcast->recv == SdpSimulcastList{{{"q", false}}, {{"h", false}}, {{"f", false}}});
  std::string text = WriteSdp(a);
  CHECK(text.find("a=rid:q recv\r\na=rid:h recv\r\na=rid:f recv\r\na=simulcast:recv q;h;f\r\n") != std::string::npos);
  CHECK(v.msids.empty());  // we do not send in a recvonly section
  CHECK(a.media[0].msids.empty());

  // Limiting the section to send-only drops the simulcast answer.
  SdpAnswerOptions opt;
  opt.direction_limits = {{"1", true, false}};
  auto limited = BuildSdpAnswer(offer, Local(), opt);
  REQUIRE(limited.ok());
  CHECK(limited->Direction(limited->media[1]) == SdpDirection::kInactive);
  CHECK_FALSE(limited->media[1].simulcast);
}

TEST_CASE("sdp answer keeps the H.264 profile the browser prefers", "[sdp][answer]") {
  SdpSession offer = ParseFile("h264.sdp");
  SdpAnswerOptions opt;
  opt.max_codecs = 1;
  auto built = BuildSdpAnswer(offer, Local(), opt);
  REQUIRE(built.ok());
  SdpSession a = CheckAnswer(offer, *built, opt);
  const SdpMedia& v = a.media[1];
  REQUIRE(v.codecs.size() == 2);
  CHECK(v.codecs[0].Is("H264"));
  CHECK(v.codecs[0].FmtpParam("profile-level-id") == offer.media[1].codecs[0].FmtpParam("profile-level-id"));
  CHECK(v.codecs[0].FmtpParam("packetization-mode") == "1");
  CHECK(v.codecs[1].Is("rtx"));
  CHECK(v.codecs[1].RtxApt() == v.codecs[0].pt);

  // Mode 0 stays when asked for, and is the only H.264 left when mode 1 is not offered.
  opt.max_codecs = 0;
  opt.h264_mode0_with_mode1 = true;
  opt.video_codecs = {"H264"};
  auto both = BuildSdpAnswer(offer, Local(), opt);
  REQUIRE(both.ok());
  CHECK(CheckAnswer(offer, *both, opt).media[1].codecs.size() == 12);
  SdpSession only0 = offer;
  auto& codecs = only0.media[1].codecs;
  codecs.erase(std::remove_if(codecs.begin(), codecs.end(),
                              [](const SdpCodec& c) { return c.FmtpParam("packetization-mode") == "1"; }),
               codecs.end());
  opt.h264_mode0_with_mode1 = false;
  auto mode0 = BuildSdpAnswer(only0, Local(), opt);
  REQUIRE(mode0.ok());
  REQUIRE(!mode0->media[1].codecs.empty());
  CHECK(mode0->media[1].codecs[0].FmtpParam("packetization-mode") == "0");
}

TEST_CASE("sdp answer to the VP9-first offer keeps profile 0 only, and honours preferences", "[sdp][answer]") {
  SdpSession offer = ParseFile("vp9.sdp");
  auto built = BuildSdpAnswer(offer, Local());
  REQUIRE(built.ok());
  SdpSession a = CheckAnswer(offer, *built);
  CHECK(a.media[1].codecs[0].Is("VP9"));
  CHECK(a.media[1].codecs[0].pt == 98);
  CHECK(a.media[1].FindCodec(100) == nullptr);

  SdpAnswerOptions opt;
  opt.codec_preference = {"VP8", "H264"};
  auto pref = BuildSdpAnswer(offer, Local(), opt);
  REQUIRE(pref.ok());
  SdpSession p = CheckAnswer(offer, *pref, opt);
  CHECK(p.media[1].codecs[0].Is("VP8"));
  CHECK(p.media[1].codecs[2].Is("H264"));
  CHECK(p.media[1].codecs.back().Is("rtx"));

  opt = {};
  opt.red = true;
  opt.ulpfec = true;
  auto fec = BuildSdpAnswer(offer, Local(), opt);
  REQUIRE(fec.ok());
  CHECK(fec->media[0].FindCodec(63) != nullptr);  // audio red 111/111 with opus accepted
  CHECK(fec->media[1].FindCodec(118) != nullptr);
  CHECK(fec->media[1].FindCodec(119) != nullptr);  // rtx for red
  CHECK(fec->media[1].FindCodec(120) != nullptr);
  CHECK(ParseSdp(WriteSdp(*fec)).ok());

  opt = {};
  opt.rtx = false;
  opt.header_extensions = {kExtMid};
  opt.rtcp_feedback = {"nack"};
  auto bare = BuildSdpAnswer(offer, Local(), opt);
  REQUIRE(bare.ok());
  SdpSession b = CheckAnswer(offer, *bare, opt);
  for (const auto& m : b.media) {
    CHECK(m.extmaps.size() == 1);
    for (const auto& c : m.codecs) {
      CHECK_FALSE(c.Is("rtx"));
      for (const auto& fb : c.feedback) CHECK(fb == SdpRtcpFb{"nack", ""});
    }
  }
}

TEST_CASE("sdp answer to a recvonly offer sends with our SSRCs", "[sdp][answer]") {
  SdpSession offer = ParseFile("recvonly.sdp");
  SdpAnswerOptions opt;
  opt.send_streams = {{"1", 5000, 5001, "c", "s", "t"}};
  auto built = BuildSdpAnswer(offer, Local(), opt);
  REQUIRE(built.ok());
  SdpSession a = CheckAnswer(offer, *built, opt);
  CHECK(a.Direction(a.media[0]) == SdpDirection::kSendOnly);
  CHECK(a.Direction(a.media[1]) == SdpDirection::kSendOnly);
  CHECK(a.media[0].ssrcs.empty());
  CHECK(a.media[1].ssrc_groups[0].ssrcs == std::vector<uint32_t>{5000, 5001});
  // Receive profiles the sender did not offer: f4001f (High 4:4:4) H.264 is kept as offered.
  CHECK(a.media[1].FindCodec(41) != nullptr);
  CHECK(a.media[1].FindCodec(43) == nullptr);  // its mode-0 twin
  CHECK(a.media[1].FindCodec(35) == nullptr);  // VP9 profile 1
  CHECK(a.media[1].FindCodec(47) == nullptr);  // AV1 profile 1
  CHECK(a.media[1].FindCodec(49) == nullptr);  // flexfec
}

TEST_CASE("sdp answer rejects data channels unless configured", "[sdp][answer]") {
  SdpSession offer = ParseFile("datachannel.sdp");
  auto built = BuildSdpAnswer(offer, Local());
  REQUIRE(built.ok());
  SdpSession a = CheckAnswer(offer, *built);
  CHECK(a.media[0].port == 0);
  CHECK(a.media[0].mid == "0");
  CHECK(a.groups.empty());
  CHECK(WriteSdp(a).find("m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n") !=
        std::string::npos);

  SdpAnswerOptions opt;
  opt.accept_data_channel = true;
  auto dc = BuildSdpAnswer(offer, Local(), opt);
  REQUIRE(dc.ok());
  SdpSession d = CheckAnswer(offer, *dc, opt);
  CHECK(d.media[0].port == 40000);
  CHECK(d.media[0].sctp_port == 5000);
  CHECK(d.media[0].max_message_size == 262144);
  CHECK_FALSE(d.media[0].direction);
}

TEST_CASE("sdp answer to audio+video+data bundles the media and rejects the data section", "[sdp][answer]") {
  SdpSession offer = ParseFile("mixed.sdp");
  REQUIRE(offer.media.size() == 3);
  CHECK(offer.media[2].kind == SdpMediaKind::kApplication);
  CHECK(offer.groups[0].mids == std::vector<std::string>{"0", "1", "2"});
  auto built = BuildSdpAnswer(offer, Local());
  REQUIRE(built.ok());
  SdpSession a = CheckAnswer(offer, *built);
  CHECK(a.groups[0].mids == std::vector<std::string>{"0", "1"});
  CHECK(a.media[2].port == 0);
  SdpAnswerOptions opt;
  opt.accept_data_channel = true;
  auto with_data = BuildSdpAnswer(offer, Local(), opt);
  REQUIRE(with_data.ok());
  CHECK(CheckAnswer(offer, *with_data, opt).groups[0].mids == std::vector<std::string>{"0", "1", "2"});
}

TEST_CASE("sdp answer rejects sections without a common codec or outside the bundle", "[sdp][answer]") {
  SdpSession offer = ParseFile("plain.sdp");
  SdpAnswerOptions opt;
  opt.video_codecs = {"H265"};
  auto built = BuildSdpAnswer(offer, Local(), opt);
  REQUIRE(built.ok());
  SdpSession a = CheckAnswer(offer, *built, opt);
  CHECK(a.media[0].port == 40000);
  CHECK(a.media[1].port == 0);
  CHECK(a.Direction(a.media[1]) == SdpDirection::kInactive);
  CHECK(a.groups[0].mids == std::vector<std::string>{"0"});

  SdpSession unbundled = offer;
  unbundled.groups[0].mids = {"1"};
  auto b = BuildSdpAnswer(unbundled, Local());
  REQUIRE(b.ok());
  CHECK(b->media[0].port == 0);
  CHECK(b->media[1].port == 40000);

  SdpSession nobundle = offer;  // no group: one transport, so only the first section
  nobundle.groups.clear();
  auto n = BuildSdpAnswer(nobundle, Local());
  REQUIRE(n.ok());
  CHECK(n->media[0].port == 40000);
  CHECK(n->media[1].port == 0);
  CHECK(n->groups.empty());

  SdpSession removed = offer;  // a section the offerer itself rejected stays rejected
  removed.media[0].port = 0;
  auto r = BuildSdpAnswer(removed, Local());
  REQUIRE(r.ok());
  CHECK(r->media[0].port == 0);
  CHECK(r->groups[0].mids == std::vector<std::string>{"1"});
}

TEST_CASE("sdp answer DTLS roles and missing transport parameters", "[sdp][answer]") {
  SdpSession offer = ParseFile("plain.sdp");
  for (auto& m : offer.media) m.setup = SdpSetup::kActive;
  auto active = BuildSdpAnswer(offer, Local());
  REQUIRE(active.ok());
  CHECK(active->media[0].setup == SdpSetup::kPassive);

  for (auto& m : offer.media) m.setup = SdpSetup::kPassive;
  auto passive = BuildSdpAnswer(offer, Local());
  REQUIRE_FALSE(passive.ok());
  CHECK(passive.error().code == collab::base::kExitDataErr);
  CHECK(passive.error().message.find("DTLS client") != std::string::npos);
  SdpAnswerOptions opt;
  opt.allow_dtls_client = true;
  auto client = BuildSdpAnswer(offer, Local(), opt);
  REQUIRE(client.ok());
  CHECK(client->media[1].setup == SdpSetup::kActive);

  SdpSession no_ice = ParseFile("plain.sdp");
  for (auto& m : no_ice.media) m.ice_pwd.clear();
  auto e = BuildSdpAnswer(no_ice, Local());
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().message.find("ICE credentials") != std::string::npos);

  SdpSession no_fp = ParseFile("plain.sdp");
  for (auto& m : no_fp.media) m.fingerprints.clear();
  CHECK_FALSE(BuildSdpAnswer(no_fp, Local()).ok());

  // Only the tagged section carries transport parameters (bundle-only style): fine.
  SdpSession tagged_only = ParseFile("plain.sdp");
  tagged_only.media[1].ice_ufrag.clear();
  tagged_only.media[1].ice_pwd.clear();
  tagged_only.media[1].fingerprints.clear();
  tagged_only.media[1].setup = SdpSetup::kNone;
  CHECK(BuildSdpAnswer(tagged_only, Local()).ok());
}

TEST_CASE("sdp answer refuses bad local parameters", "[sdp][answer]") {
  SdpSession offer = ParseFile("plain.sdp");
  auto expect_config = [&](const SdpLocalParams& p, const SdpAnswerOptions& o = {}) {
    auto r = BuildSdpAnswer(offer, p, o);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == collab::base::kExitConfig);
  };
  SdpLocalParams p = Local();
  p.ice_ufrag = "ab";
  expect_config(p);
  p = Local();
  p.ice_pwd = "short";
  expect_config(p);
  p = Local();
  p.ice_ufrag = "has space";
  expect_config(p);
  p = Local();
  p.fingerprint.digest.clear();
  expect_config(p);
  p = Local();
  p.candidates[0].address = "1.2.3.4\r\na=evil";
  expect_config(p);
  p = Local();
  p.session_id = "12ab";
  expect_config(p);
  SdpAnswerOptions o;
  o.send_streams = {{"1", 1, 2, "cname with space", "s", "t"}};
  expect_config(Local(), o);
  o.send_streams = {{"1", 0, 2, "c", "s", "t"}};
  expect_config(Local(), o);
}

TEST_CASE("sdp host candidates are written as the SFU advertises them", "[sdp]") {
  CHECK(MakeHostCandidate("1", "udp", "192.0.2.10", 3478).ToString() == "1 1 udp 2130706431 192.0.2.10 3478 typ host");
  CHECK(MakeHostCandidate("2", "tcp", "192.0.2.10", 3478).ToString() ==
        "2 1 tcp 1518280447 192.0.2.10 3478 typ host tcptype passive");
  SdpLocalParams p = Local();
  p.candidates = {MakeHostCandidate("1", "udp", "2001:db8::1", 5000)};
  auto a = BuildSdpAnswer(ParseFile("plain.sdp"), p);
  REQUIRE(a.ok());
  CHECK(a->media[0].connection->addr_type == "IP6");
  p.candidates.clear();
  auto none = BuildSdpAnswer(ParseFile("plain.sdp"), p);
  REQUIRE(none.ok());
  CHECK(none->media[0].port == 9);
  CHECK(none->media[0].connection->address == "0.0.0.0");
}

TEST_CASE("sdp offer for a send-only path", "[sdp][offer]") {
  SdpOfferTrack audio;
  audio.mid = "0";
  audio.kind = SdpMediaKind::kAudio;
  audio.codec = OpusCodec();
  audio.stream = {"", 100, 0, "sfu", "peer1", "mic"};
  SdpOfferTrack video;
  video.mid = "1";
  video.kind = SdpMediaKind::kVideo;
  video.codec = H264Codec(102, "42e01f");
  video.rtx_pt = 103;
  video.stream = {"", 200, 201, "sfu", "peer1", "cam"};
  auto built = BuildSdpOffer(Local(), {audio, video});
  REQUIRE(built.ok());
  std::string text = WriteSdp(*built);
  SdpSession o = ParseOk(text);
  CHECK(o.ice_lite);
  CHECK(o.groups[0].mids == std::vector<std::string>{"0", "1"});
  CHECK(o.msid_semantic == "WMS peer1");
  REQUIRE(o.media.size() == 2);
  CHECK(o.media[0].setup == SdpSetup::kActPass);
  CHECK(o.Direction(o.media[0]) == SdpDirection::kSendOnly);
  CHECK(Pts(o.media[0]) == std::vector<int>{111});
  CHECK(o.media[0].FindExtmap(kExtAudioLevel)->id == 1);
  CHECK(o.media[0].FindExtmap(kExtMid)->id == 4);
  CHECK(Pts(o.media[1]) == std::vector<int>{102, 103});
  CHECK(o.media[1].FindCodec(103)->RtxApt() == 102);
  CHECK(o.media[1].FindCodec(102)->FmtpParam("profile-level-id") == "42e01f");
  CHECK(o.media[1].FindExtmap(kExtAudioLevel) == nullptr);
  CHECK(o.media[1].ssrc_groups[0].ssrcs == std::vector<uint32_t>{200, 201});
  CHECK(o.media[1].msids[0].track_id == "cam");
  CHECK(o.media[1].rtcp_mux);
  CHECK(o.media[1].candidates.size() == 2);
  CHECK(text.find("a=fingerprint:sha-256 00:07:0E:15:") != std::string::npos);

  // The offer answers itself sensibly (the SFU reads the browser's answer with ParseSdp).
  auto answer = BuildSdpAnswer(o, Local());
  REQUIRE(answer.ok());
  CHECK(answer->Direction(answer->media[1]) == SdpDirection::kRecvOnly);

  SdpOfferTrack dup = video;
  dup.mid = "0";
  auto bad = BuildSdpOffer(Local(), {audio, dup});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == collab::base::kExitConfig);
  SdpOfferTrack badcodec = video;
  badcodec.rtx_pt = 102;
  CHECK_FALSE(BuildSdpOffer(Local(), {badcodec}).ok());
  SdpOfferTrack app = video;
  app.kind = SdpMediaKind::kApplication;
  CHECK_FALSE(BuildSdpOffer(Local(), {app}).ok());
}

TEST_CASE("sdp rejects malformed input with the line and reason", "[sdp][bad-input]") {
  const std::string head = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";
  struct Case {
    std::string text;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"", "sdp line 0: empty description"},
      {"\r\n\r\n", "sdp line 0: empty description"},
      {"o=- 1 1 IN IP4 0.0.0.0\r\n", "sdp line 1: the first line must be v="},
      {"v=1\r\n", "sdp line 1: unsupported version"},
      {"v=0\r\nv=0\r\n", "sdp line 2: duplicate v="},
      {"v=0\r\no=- 1\r\n", "sdp line 2: o= needs 6 fields"},
      {"v=0\r\no=- x 1 IN IP4 0.0.0.0\r\n", "sdp line 2: o= session id"},
      {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n", "sdp line 3: missing t="},
      {"v=0\r\ns=-\r\nt=0 0\r\n", "sdp line 3: missing o="},
      {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=audio 9 RTP/AVP 0\r\n", "sdp line 3: m= before"},
      {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0\r\n", "sdp line 4: t= needs 2 fields"},
      {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=x 0\r\n", "sdp line 4: t= times"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF\r\n", "sdp line 5: m= needs"},
      {head + "m=audio\r\n", "sdp line 5: m= needs"},
      {head + "m=audio 70000 UDP/TLS/RTP/SAVPF 111\r\n", "sdp line 5: bad m= port '70000'"},
      {head + "m=audio -1 UDP/TLS/RTP/SAVPF 111\r\n", "sdp line 5: bad m= port"},
      {head + "m=audio 9x UDP/TLS/RTP/SAVPF 111\r\n", "sdp line 5: bad m= port"},
      {head + "m=audio 9/0 UDP/TLS/RTP/SAVPF 111\r\n", "sdp line 5: bad m= port count"},
      {head + "m=audio 99999999999999999999999 UDP/TLS/RTP/SAVPF 111\r\n", "sdp line 5: bad m= port"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF opus\r\n", "sdp line 5: payload type 'opus' is not a number"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 128\r\n", "sdp line 5: payload type '128'"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111 111\r\n", "sdp line 5: duplicate payload type"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus\r\n", "sdp line 6: a=rtpmap needs"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/0\r\n", "sdp line 6: bad a=rtpmap clock"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/99999\r\n",
       "sdp line 6: bad a=rtpmap channel"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:x opus/48000\r\n", "sdp line 6: bad a=rtpmap payload"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000\r\na=rtpmap:111 opus/48000\r\n",
       "sdp line 7: duplicate a=rtpmap"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=fmtp:111 a=1\r\na=fmtp:111 a=1\r\n",
       "sdp line 7: duplicate a=fmtp"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtcp-fb:111\r\n", "sdp line 6: a=rtcp-fb needs"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=extmap:0 urn:x\r\n", "sdp line 6: a=extmap id must be 1..255"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=extmap:300 urn:x\r\n", "sdp line 6: a=extmap id"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=extmap:1/bogus urn:x\r\n", "sdp line 6: bad a=extmap direction"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=extmap:1\r\n", "sdp line 6: a=extmap needs a URI"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=extmap:1 urn:a\r\na=extmap:1 urn:b\r\n",
       "sdp line 7: duplicate a=extmap id 1"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=mid:1\r\n", "sdp line 7: duplicate a=mid"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\n",
       "sdp line 8: a=mid:0 used by two"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:a;b\r\n", "sdp line 6: bad a=mid"},
      {head + "a=ice-ufrag:abc\r\n", "sdp line 5: bad a=ice-ufrag"},
      {head + "a=ice-pwd:short\r\n", "sdp line 5: bad a=ice-pwd"},
      {head + "a=ice-ufrag:ab!d\r\n", "sdp line 5: bad a=ice-ufrag"},
      {head + "a=fingerprint:sha-256 ZZ:00\r\n", "sdp line 5: bad a=fingerprint digest"},
      {head + "a=fingerprint:sha-256 00:1\r\n", "sdp line 5: bad a=fingerprint digest length"},
      {head + "a=fingerprint:sha-256 00;11\r\n", "sdp line 5: bad a=fingerprint digest"},
      {head + "a=fingerprint:sha-256\r\n", "sdp line 5: a=fingerprint needs"},
      {head + "a=setup:maybe\r\n", "sdp line 5: bad a=setup"},
      {head + "a=group:\r\n", "sdp line 5: a=group needs"},
      {head + "a=:x\r\n", "sdp line 5: bad attribute name"},
      {head + "a=bad name:x\r\n", "sdp line 5: bad attribute name"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=candidate:1 1 udp 1 1.2.3.4 5 host\r\n",
       "sdp line 6: a=candidate needs 8"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=candidate:1 1 udp 1 1.2.3.4 70000 typ host\r\n",
       "sdp line 6: bad candidate port"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=candidate:1 0 udp 1 1.2.3.4 5 typ host\r\n",
       "sdp line 6: bad candidate component"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=candidate:1 1 udp 99999999999 1.2.3.4 5 typ host\r\n",
       "sdp line 6: bad candidate priority"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=candidate:1 1 udp 1 1.2.3.4 5 type host\r\n",
       "sdp line 6: candidate needs typ"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=candidate:1 1 udp 1 1.2.3.4 5 typ host generation\r\n",
       "sdp line 6: candidate extension without a value"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=candidate:1 1 tcp 1 1.2.3.4 5 typ host tcptype sideways\r\n",
       "sdp line 6: bad candidate tcptype"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=candidate:1 1 udp 1 1.2.3.4 5 typ srflx rport x\r\n",
       "sdp line 6: bad candidate rport"},
      {head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=candidate:1 1 udp 1 1.2.3.4/8 5 typ host\r\n",
       "sdp line 6: bad candidate address"},
      {head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rid:q sideways\r\n", "sdp line 6: rid direction"},
      {head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rid:q!x send\r\n", "sdp line 6: bad rid id"},
      {head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rid:q send pt=x\r\n", "sdp line 6: bad rid payload type"},
      {head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rid:q send max-width=1;pt=96\r\n",
       "sdp line 6: rid pt= must come first"},
      {head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rid:q send a;;b\r\n", "sdp line 6: empty rid restriction"},
      {head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rid:q send\r\na=rid:q send\r\n", "sdp line 7: duplicate a=rid:q"},
      {head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=simulcast:send\r\n", "sdp line 6: a=simulcast needs"},
      {head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=simulcast:send q;;f\r\n", "sdp line 6: bad rid in a=simulcast"},
      {head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=simulcast:send rid=q\r\n", "sdp line 6: bad rid in a=simulcast"},
      {head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=simulcast:send q send h\r\n", "sdp line 6: a=simulcast direction"},
      {head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ssrc:x cname:a\r\n", "sdp line 6: bad a=ssrc id"},
      {head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ssrc:4294967296 cname:a\r\n", "sdp line 6: bad a=ssrc id"},
      {head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ssrc:1\r\n", "sdp line 6: bad a=ssrc attribute"},
      {head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ssrc-group:FID\r\n", "sdp line 6: a=ssrc-group needs"},
      {head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ssrc-group:FID 1 -2\r\n", "sdp line 6: bad ssrc in a=ssrc-group"},
      {head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=msid:a b c\r\n", "sdp line 6: bad a=msid"},
      {head + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=sctp-port:99999\r\n",
       "sdp line 6: bad a=sctp-port"},
      {head + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=max-message-size:99999999999999999999999\r\n",
       "sdp line 6: bad a=max-message-size"},
      {head + "m=application 9 UDP/DTLS/SCTP web,rtc\r\n", "sdp line 5: bad m= format"},
      {head + "x=unknown\r\n", "sdp line 5: unknown line type 'x='"},
      {head + "m=audio 9 RTP/AVP 0\r\ns=again\r\n", "sdp line 6: s= is not allowed in a media section"},
      {head + "c=IN IP4\r\n", "sdp line 5: bad c= line"},
      {head + "c=IN IP4 0.0.0.0\r\nc=IN IP4 0.0.0.0\r\n", "sdp line 6: duplicate c="},
      {head + "b=AS\r\n", "sdp line 5: b= needs"},
      {head + "b=AS:-1\r\n", "sdp line 5: bad b= line"},
      {"v=0\r\n\r\no=- 1 1 IN IP4 0.0.0.0\r\n", "sdp line 2: empty line"},
      {"v=0\r\nbogus\r\n", "sdp line 2: not a <type>=<value> line"},
      {"v=0\r\nA=b\r\n", "sdp line 2: not a <type>=<value> line"},
      {"v=0\r\na\r\n", "sdp line 2: not a <type>=<value> line"},
      {head + "a=x:1\rb\r\n", "sdp line 5: control character"},
      {head + "a=x:1\r\r\n", "sdp line 5: control character"},
      {head + std::string("a=x:1\0b\r\n", 9), "sdp line 5: NUL byte"},
      {head + "a=x:\xff\r\n", "sdp line 0: invalid UTF-8 at byte 45"},
      {head + "a=x:\xc0\xaf\r\n", "sdp line 0: invalid UTF-8"},          // overlong '/'
      {head + "a=x:\xed\xa0\x80\r\n", "sdp line 0: invalid UTF-8"},      // surrogate
      {head + "a=x:\xf4\x90\x80\x80\r\n", "sdp line 0: invalid UTF-8"},  // above U+10FFFF
      {head + "a=x:\xe3\x81\r\n", "sdp line 0: invalid UTF-8"},          // truncated sequence
  };
  for (const auto& c : cases) {
    INFO(c.text);
    std::string msg = ParseError(c.text);
    CHECK(msg.rfind(c.expect, 0) == 0);
  }
  // A repeated t= (several time descriptions) is kept verbatim, not an error.
  auto repeated = ParseSdp(head + "t=1 2\r\n");
  REQUIRE(repeated.ok());
  CHECK(repeated->extra_lines.size() == 1);
  // Valid UTF-8 in free text is fine.
  CHECK(ParseSdp("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=会議\r\nt=0 0\r\n").ok());
}

TEST_CASE("sdp limits bound hostile bodies", "[sdp][bad-input]") {
  const std::string head = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";
  SdpParseLimits small;
  small.max_bytes = 100;
  CHECK(ParseError(head + std::string(100, 'a'), small).rfind("sdp line 0: body of", 0) == 0);
  CHECK(ParseError(head + "a=x:" + std::string(5000, 'y') + "\r\n").rfind("sdp line 5: line longer than 4096", 0) == 0);
  std::string many = head;
  for (int i = 0; i < 9000; ++i) many += "r=x\r\n";
  CHECK(ParseError(many).rfind("sdp line 8193: more than 8192 lines", 0) == 0);
  std::string attrs = head + "m=audio 9 RTP/AVP 0\r\n";
  for (int i = 0; i < 2100; ++i) attrs += "a=x\r\n";
  CHECK(ParseError(attrs).find("too many attributes") != std::string::npos);
  std::string media = head;
  for (int i = 0; i < 130; ++i) media += "m=audio 9 RTP/AVP 0\r\n";
  CHECK(ParseError(media).rfind("sdp line 133: more than 128 media sections", 0) == 0);
  std::string huge = head + "m=video 9 RTP/AVP";  // 128 payload types is the most an m= line can hold
  for (int i = 0; i < 128; ++i) huge += " " + std::to_string(i);
  CHECK(ParseSdp(huge + "\r\n").ok());
  CHECK(ParseSdp(huge + " 5\r\n").ok() == false);
}

TEST_CASE("sdp survives truncation of a real offer at every length", "[sdp][bad-input]") {
  std::string raw = ReadData("simulcast.sdp");
  size_t t_end = raw.find("t=0 0\r\n") + 5;
  size_t parsed = 0;
  for (size_t n = 0; n <= raw.size(); ++n) {
    std::string_view prefix(raw.data(), n);
    auto r = ParseSdp(prefix);
    if (n < t_end) {
      REQUIRE_FALSE(r.ok());
    }
    if (!r.ok()) {
      CHECK(r.error().message.rfind("sdp line ", 0) == 0);
      continue;
    }
    ++parsed;
    std::string once = WriteSdp(*r);
    auto again = ParseSdp(once);
    REQUIRE(again.ok());
    REQUIRE(WriteSdp(*again) == once);
    auto answer = BuildSdpAnswer(*r, Local());
    if (answer.ok()) REQUIRE(ParseSdp(WriteSdp(*answer)).ok());
  }
  CHECK(parsed > 100);  // every line boundary and most cuts inside free-form values parse
}
