// JSEP answer/offer building. See sdp_answer.hpp for the scope.
#include "lib/rtc/sdp_answer.hpp"

#include <algorithm>
#include <set>

#include "lib/base/ascii.hpp"

namespace collab::rtc {
namespace {

using base::Error;
using base::Result;

Error ConfigError(const std::string& what) { return base::MakeError(base::kExitConfig, "sdp: " + what); }
Error OfferError(const std::string& what) { return base::MakeError(base::kExitDataErr, "sdp offer: " + what); }

bool ListHasNoCase(const std::vector<std::string>& list, const SdpCodec& c) {
  return std::any_of(list.begin(), list.end(), [&](const std::string& x) { return c.Is(x); });
}

size_t PreferenceIndex(const std::vector<std::string>& pref, const SdpCodec& c) {
  for (size_t i = 0; i < pref.size(); ++i)
    if (c.Is(pref[i])) return i;
  return pref.size();
}

bool IsRepairOrFec(const SdpCodec& c) { return c.Is("rtx") || c.Is("red") || c.Is("ulpfec") || c.Is("flexfec-03"); }

std::string_view FmtpOr(const SdpCodec& c, std::string_view key, std::string_view fallback) {
  auto v = c.FmtpParam(key);
  return v ? *v : fallback;
}

// The fixed codec rules on top of the configured name lists.
bool PrimaryAcceptable(const SdpMedia& m, const SdpCodec& c, const SdpAnswerOptions& opt) {
  if (c.name.empty() || IsRepairOrFec(c)) return false;
  const auto& names = m.kind == SdpMediaKind::kAudio ? opt.audio_codecs : opt.video_codecs;
  if (!ListHasNoCase(names, c)) return false;
  if (c.Is("VP9")) return FmtpOr(c, "profile-id", "0") == "0";
  if (c.Is("AV1")) return FmtpOr(c, "profile", "0") == "0";
  if (c.Is("H264")) {
    std::string_view mode = FmtpOr(c, "packetization-mode", "0");
    if (mode != "0" && mode != "1") return false;  // interleaved mode 2: not supported
    if (mode == "0" && !opt.h264_mode0_with_mode1) {
      // RFC 6184 8.1: profile-level-id defaults to 420010.
      std::string_view plid = FmtpOr(c, "profile-level-id", "420010");
      for (const auto& other : m.codecs) {
        if (other.Is("H264") && FmtpOr(other, "packetization-mode", "0") == "1" &&
            base::EqualsIgnoreAsciiCase(FmtpOr(other, "profile-level-id", "420010"), plid))
          return false;
      }
    }
  }
  return true;
}

bool FeedbackWanted(const SdpRtcpFb& fb, const SdpAnswerOptions& opt, bool have_transport_cc) {
  std::string text = fb.param.empty() ? fb.type : fb.type + " " + fb.param;
  if (fb.type == "transport-cc" && !have_transport_cc) return false;
  return std::find(opt.rtcp_feedback.begin(), opt.rtcp_feedback.end(), text) != opt.rtcp_feedback.end();
}

std::vector<SdpRtcpFb> FilterFeedback(const std::vector<SdpRtcpFb>& in, const SdpAnswerOptions& opt,
                                      bool have_transport_cc) {
  std::vector<SdpRtcpFb> out;
  for (const auto& fb : in)
    if (FeedbackWanted(fb, opt, have_transport_cc)) out.push_back(fb);
  return out;
}

// Chooses the payload types of one RTP section. Returns an empty list when nothing fits.
std::vector<SdpCodec> NegotiateCodecs(const SdpMedia& m, const SdpAnswerOptions& opt, bool have_transport_cc) {
  std::vector<const SdpCodec*> primary;
  for (const auto& c : m.codecs)
    if (PrimaryAcceptable(m, c, opt)) primary.push_back(&c);
  if (!opt.codec_preference.empty()) {
    std::stable_sort(primary.begin(), primary.end(), [&](const SdpCodec* a, const SdpCodec* b) {
      return PreferenceIndex(opt.codec_preference, *a) < PreferenceIndex(opt.codec_preference, *b);
    });
  }
  if (opt.max_codecs != 0 && primary.size() > opt.max_codecs) primary.resize(opt.max_codecs);
  if (primary.empty()) return {};

  std::set<int> accepted;
  for (const auto* c : primary) accepted.insert(c->pt);
  // red's fmtp lists the payload types it carries ("111/111"); keep it only if those are ours.
  std::vector<const SdpCodec*> fec;
  for (const auto& c : m.codecs) {
    if (c.Is("red") && opt.red) {
      bool inner_ok = true;
      if (!c.fmtp.empty()) {
        std::string_view rest = c.fmtp;
        while (!rest.empty()) {
          size_t slash = rest.find('/');
          std::string_view pt = rest.substr(0, slash);
          int v = -1;
          if (!pt.empty() && pt.size() <= 3 &&
              std::all_of(pt.begin(), pt.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
            v = std::stoi(std::string(pt));
          if (!accepted.count(v)) inner_ok = false;
          if (slash == std::string_view::npos) break;
          rest.remove_prefix(slash + 1);
        }
      }
      if (inner_ok) fec.push_back(&c);
    } else if (c.Is("ulpfec") && opt.ulpfec) {
      fec.push_back(&c);
    }
  }
  for (const auto* c : fec) accepted.insert(c->pt);

  auto rtx_for = [&](int pt) -> const SdpCodec* {
    if (!opt.rtx) return nullptr;
    for (const auto& c : m.codecs)
      if (c.Is("rtx") && c.RtxApt() == pt) return &c;
    return nullptr;
  };
  std::vector<SdpCodec> out;
  auto push = [&](const SdpCodec& c) {
    SdpCodec copy = c;
    copy.feedback = FilterFeedback(c.feedback, opt, have_transport_cc);
    out.push_back(std::move(copy));
    if (const SdpCodec* rtx = rtx_for(c.pt)) {
      SdpCodec r = *rtx;
      r.feedback = FilterFeedback(rtx->feedback, opt, have_transport_cc);
      out.push_back(std::move(r));
    }
  };
  for (const auto* c : primary) push(*c);
  for (const auto* c : fec) push(*c);
  return out;
}

// The recv side of the offer's send simulcast, restricted to rids declared "send" whose
// pt= restriction (if any) still names an accepted payload type.
std::optional<std::pair<SdpSimulcastList, std::vector<SdpRid>>> AnswerSimulcast(const SdpMedia& m,
                                                                                const std::vector<SdpCodec>& codecs) {
  if (!m.simulcast || m.simulcast->send.empty()) return std::nullopt;
  std::set<int> pts;
  for (const auto& c : codecs) pts.insert(c.pt);
  SdpSimulcastList list;
  std::vector<SdpRid> rids;
  std::set<std::string> seen;
  for (const auto& stream : m.simulcast->send) {
    std::vector<SdpSimulcastRid> alts;
    for (const auto& alt : stream) {
      const SdpRid* rid = m.FindRid(alt.rid);
      if (rid == nullptr || rid->direction != SdpRidDirection::kSend || seen.count(alt.rid)) continue;
      SdpRid answer_rid;
      answer_rid.id = rid->id;
      answer_rid.direction = SdpRidDirection::kRecv;
      for (int pt : rid->payload_types)
        if (pts.count(pt)) answer_rid.payload_types.push_back(pt);
      if (!rid->payload_types.empty() && answer_rid.payload_types.empty()) continue;
      seen.insert(alt.rid);
      rids.push_back(std::move(answer_rid));
      alts.push_back(alt);
    }
    if (!alts.empty()) list.push_back(std::move(alts));
  }
  if (list.empty()) return std::nullopt;
  return std::make_pair(std::move(list), std::move(rids));
}

base::Status ValidateLocal(const SdpLocalParams& local) {
  if (!IsIceCredential(local.ice_ufrag, 4)) return ConfigError("local ice-ufrag must be 4..256 ice-chars");
  if (!IsIceCredential(local.ice_pwd, 22)) return ConfigError("local ice-pwd must be 22..256 ice-chars");
  if (!IsSdpToken(local.fingerprint.hash) || local.fingerprint.digest.empty() || local.fingerprint.digest.size() > 64)
    return ConfigError("local DTLS fingerprint is missing or malformed");
  if (local.session_id.empty() || local.session_id.size() > 64 ||
      !std::all_of(local.session_id.begin(), local.session_id.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return ConfigError("session id must be decimal");
  auto addr_ok = [](const std::string& a) {
    return !a.empty() && a.size() <= 255 && std::all_of(a.begin(), a.end(), [](char ch) {
      return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '.' ||
             ch == ':' || ch == '-' || ch == '_' || ch == '%';
    });
  };
  for (const auto& c : local.candidates) {
    bool foundation_ok = IsIceCredential(c.foundation, 1) && c.foundation.size() <= 32;
    bool tcp_ok = c.tcp_type.empty() || c.tcp_type == "active" || c.tcp_type == "passive" || c.tcp_type == "so";
    bool ext_ok = std::all_of(c.extensions.begin(), c.extensions.end(),
                              [](const auto& kv) { return IsSdpToken(kv.first) && IsSdpToken(kv.second); });
    if (!foundation_ok || !addr_ok(c.address) || !IsSdpToken(c.transport) || !IsSdpToken(c.type) || !tcp_ok ||
        c.component == 0 || c.component > 256 || (!c.related_address.empty() && !addr_ok(c.related_address)) || !ext_ok)
      return ConfigError("bad local candidate '" + c.ToString() + "'");
  }
  return base::Ok();
}

base::Status ValidateSendStream(const SdpSendStream& s) {
  auto id_ok = [](const std::string& x) { return IsSdpToken(x) && x.size() <= 64; };
  if (s.ssrc == 0 || s.ssrc == s.rtx_ssrc) return ConfigError("send stream for mid " + s.mid + " needs distinct SSRCs");
  if (!IsSdpToken(s.cname) || !id_ok(s.stream_id) || !id_ok(s.track_id))
    return ConfigError("send stream for mid " + s.mid + " needs token cname, stream and track ids");
  return base::Ok();
}

// ICE, DTLS and candidate lines shared by every section we accept or offer.
void AddTransport(SdpMedia& a, const SdpLocalParams& local, SdpSetup setup) {
  a.ice_ufrag = local.ice_ufrag;
  a.ice_pwd = local.ice_pwd;
  a.fingerprints = {local.fingerprint};
  a.setup = setup;
  a.candidates = local.candidates;
  a.end_of_candidates = true;  // ICE-lite: everything we have is listed
  // RFC 8839 4.2.1.2: m=/c= carry the default candidate; the discard port when there is none.
  if (!local.candidates.empty()) {
    const SdpCandidate& d = local.candidates.front();
    a.port = d.port;
    a.connection = SdpConnection{"IN", d.address.find(':') != std::string::npos ? "IP6" : "IP4", d.address};
  } else {
    a.port = 9;
    a.connection = SdpConnection{};
  }
}

void AddSendStream(SdpMedia& a, const SdpSendStream& s, bool with_rtx) {
  a.msids.push_back({s.stream_id, s.track_id});
  const std::string msid = s.stream_id + " " + s.track_id;
  std::vector<uint32_t> ssrcs{s.ssrc};
  if (with_rtx && s.rtx_ssrc != 0) {
    ssrcs.push_back(s.rtx_ssrc);
    a.ssrc_groups.push_back({"FID", ssrcs});
  }
  for (uint32_t x : ssrcs) {
    a.ssrcs.push_back({x, "cname", s.cname, true});
    a.ssrcs.push_back({x, "msid", msid, true});
  }
}

SdpOrigin MakeOrigin(const SdpLocalParams& local) {
  SdpOrigin o;
  o.session_id = local.session_id;
  o.session_version = std::to_string(local.session_version);
  return o;
}

std::optional<std::string> MsidSemantic(const std::vector<SdpMedia>& media) {
  std::string v = "WMS";
  std::set<std::string> seen;
  for (const auto& m : media)
    for (const auto& ms : m.msids)
      if (ms.stream_id != "-" && seen.insert(ms.stream_id).second) v += " " + ms.stream_id;
  return v;
}

// Our own output is checked for syntax only: an answer to a large (but acceptable) offer
// may legitimately be a little larger than the offer.
SdpParseLimits SelfCheckLimits() {
  SdpParseLimits l;
  l.max_bytes = 64u << 20;
  l.max_lines = 1u << 22;
  l.max_line_length = 1u << 20;
  l.max_media = 1u << 16;
  l.max_attributes_per_section = 1u << 22;
  return l;
}

bool IsDtlsRtpProto(std::string_view proto) {
  return proto == "UDP/TLS/RTP/SAVPF" || proto == "TCP/TLS/RTP/SAVPF" || proto == "TCP/DTLS/RTP/SAVPF" ||
         proto == "UDP/TLS/RTP/SAVP" || proto == "TCP/DTLS/RTP/SAVP";
}

bool IsDataChannel(const SdpMedia& m) {
  return (m.proto == "UDP/DTLS/SCTP" || m.proto == "TCP/DTLS/SCTP") && m.formats.size() == 1 &&
         m.formats[0] == "webrtc-datachannel";
}

// Port 0 and the mid: "we do not use this section" (JSEP 5.3.1). The m= line still needs a
// format; for RTP we name the offer's first one (bare rtpmap, no fmtp or feedback).
SdpMedia RejectedSection(const SdpMedia& m) {
  SdpMedia a;
  a.kind = m.kind;
  a.media = m.media;
  a.port = 0;
  a.proto = m.proto;
  a.connection = SdpConnection{};
  a.mid = m.mid;
  if (m.IsRtp() && !m.codecs.empty()) {
    SdpCodec c = m.codecs.front();
    c.fmtp.clear();
    c.feedback.clear();
    a.formats = {std::to_string(c.pt)};
    a.codecs = {std::move(c)};
    a.direction = SdpDirection::kInactive;
  } else {
    a.formats = m.formats;
  }
  return a;
}

}  // namespace

SdpCandidate MakeHostCandidate(std::string foundation, std::string_view transport, std::string address, uint16_t port) {
  SdpCandidate c;
  c.foundation = std::move(foundation);
  c.component = 1;
  c.address = std::move(address);
  c.port = port;
  c.type = "host";
  if (transport == "tcp") {
    c.transport = "tcp";
    c.priority = kHostTcpPriority;
    c.tcp_type = "passive";
  } else {
    c.transport = "udp";
    c.priority = kHostUdpPriority;
  }
  return c;
}

base::Result<SdpSession> BuildSdpAnswer(const SdpSession& offer, const SdpLocalParams& local,
                                        const SdpAnswerOptions& opt) {
  COLLAB_TRY(ValidateLocal(local));
  for (const auto& s : opt.send_streams) COLLAB_TRY(ValidateSendStream(s));

  const SdpGroup* bundle = offer.FindGroup("BUNDLE");
  auto in_bundle = [&](const std::string& mid) {
    return bundle != nullptr && !mid.empty() &&
           std::find(bundle->mids.begin(), bundle->mids.end(), mid) != bundle->mids.end();
  };
  // The offerer's tagged section (RFC 8843 7.2.1): its transport parameters are the bundle's.
  const SdpMedia* tagged = nullptr;
  if (bundle != nullptr && !bundle->mids.empty())
    for (const auto& m : offer.media)
      if (m.mid == bundle->mids.front()) tagged = &m;

  SdpSession answer;
  answer.origin = MakeOrigin(local);
  answer.ice_lite = local.ice_lite;
  answer.extmap_allow_mixed = offer.extmap_allow_mixed;

  std::optional<SdpSetup> our_setup;
  bool accepted_any = false;
  for (const auto& m : offer.media) {
    bool eligible = !m.IsRejected() && (bundle != nullptr ? in_bundle(m.mid) : !accepted_any);
    bool rtp =
        eligible && (m.kind == SdpMediaKind::kAudio || m.kind == SdpMediaKind::kVideo) && IsDtlsRtpProto(m.proto);
    bool data = eligible && m.kind == SdpMediaKind::kApplication && IsDataChannel(m) && opt.accept_data_channel;
    if (!rtp && !data) {
      answer.media.push_back(RejectedSection(m));
      continue;
    }

    // Header extensions: the offer's ids for the URIs we handle (session-level ones too).
    std::vector<SdpExtmap> extmaps;
    if (rtp) {
      std::set<int> used;
      auto consider = [&](const SdpExtmap& e) {
        if (std::find(opt.header_extensions.begin(), opt.header_extensions.end(), e.uri) == opt.header_extensions.end())
          return;
        if (!used.insert(e.id).second) return;
        SdpExtmap x{e.id, std::nullopt, e.uri, {}};
        if (e.direction) x.direction = ReverseDirection(*e.direction);
        extmaps.push_back(std::move(x));
      };
      for (const auto& e : m.extmaps) consider(e);
      for (const auto& e : offer.extmaps) consider(e);
    }
    bool have_tcc =
        std::any_of(extmaps.begin(), extmaps.end(), [](const SdpExtmap& e) { return e.uri == kExtTransportCc; });
    std::vector<SdpCodec> codecs;
    if (rtp) {
      codecs = NegotiateCodecs(m, opt, have_tcc);
      if (codecs.empty()) {  // no common codec
        answer.media.push_back(RejectedSection(m));
        continue;
      }
    }

    // Transport: the section's own parameters, else the tagged section's, else the session's.
    std::string_view ufrag = offer.IceUfrag(m), pwd = offer.IcePwd(m);
    if (tagged != nullptr && ufrag.empty()) ufrag = offer.IceUfrag(*tagged);
    if (tagged != nullptr && pwd.empty()) pwd = offer.IcePwd(*tagged);
    const auto* fps = &offer.Fingerprints(m);
    if (tagged != nullptr && fps->empty()) fps = &offer.Fingerprints(*tagged);
    if (ufrag.empty() || pwd.empty()) return OfferError("section mid '" + m.mid + "' has no ICE credentials");
    if (fps->empty()) return OfferError("section mid '" + m.mid + "' has no DTLS fingerprint");
    if (!our_setup) {
      SdpSetup theirs = offer.Setup(m);
      if (theirs == SdpSetup::kNone && tagged != nullptr) theirs = offer.Setup(*tagged);
      switch (theirs) {
        case SdpSetup::kNone:  // RFC 4145: an offer without a=setup means active
        case SdpSetup::kActPass:
        case SdpSetup::kActive:
          our_setup = SdpSetup::kPassive;
          break;
        case SdpSetup::kPassive:
          if (!opt.allow_dtls_client) return OfferError("a=setup:passive would make us the DTLS client");
          our_setup = SdpSetup::kActive;
          break;
        case SdpSetup::kHoldConn:
          return OfferError("a=setup:holdconn is not supported");
      }
    }

    SdpMedia a;
    a.kind = m.kind;
    a.media = m.media;
    a.proto = m.proto;
    a.mid = m.mid;
    AddTransport(a, local, *our_setup);
    if (data) {
      a.formats = m.formats;
      a.sctp_port = m.sctp_port.value_or(5000);
      a.max_message_size = opt.max_message_size;
      answer.media.push_back(std::move(a));
      accepted_any = true;
      continue;
    }

    SdpDirection dir = ReverseDirection(offer.Direction(m));
    for (const auto& limit : opt.direction_limits) {
      if (limit.mid != m.mid) continue;
      bool send = DirectionSends(dir) && limit.may_send, recv = DirectionReceives(dir) && limit.may_receive;
      dir = send ? (recv ? SdpDirection::kSendRecv : SdpDirection::kSendOnly)
                 : (recv ? SdpDirection::kRecvOnly : SdpDirection::kInactive);
    }
    a.direction = dir;
    a.extmaps = std::move(extmaps);
    a.extmap_allow_mixed = m.extmap_allow_mixed;
    a.rtcp_mux = true;
    a.rtcp_rsize = m.rtcp_rsize;
    a.feedback_all = FilterFeedback(m.feedback_all, opt, have_tcc);
    for (const auto& c : codecs) a.formats.push_back(std::to_string(c.pt));
    a.codecs = std::move(codecs);
    if (DirectionReceives(dir)) {
      if (auto sim = AnswerSimulcast(m, a.codecs)) {
        a.rids = std::move(sim->second);
        a.simulcast = SdpSimulcast{{}, std::move(sim->first)};
      }
    }
    if (DirectionSends(dir)) {
      bool has_rtx = std::any_of(a.codecs.begin(), a.codecs.end(), [](const SdpCodec& c) { return c.Is("rtx"); });
      for (const auto& s : opt.send_streams)
        if (s.mid == m.mid) AddSendStream(a, s, has_rtx);
    }
    answer.media.push_back(std::move(a));
    accepted_any = true;
  }

  if (bundle != nullptr) {
    SdpGroup g{"BUNDLE", {}};
    for (const auto& mid : bundle->mids)
      for (const auto& a : answer.media)
        if (a.mid == mid && !a.IsRejected() && std::find(g.mids.begin(), g.mids.end(), mid) == g.mids.end())
          g.mids.push_back(mid);
    if (!g.mids.empty()) answer.groups.push_back(std::move(g));
  }
  if (std::any_of(answer.media.begin(), answer.media.end(), [](const SdpMedia& a) { return !a.msids.empty(); }))
    answer.msid_semantic = MsidSemantic(answer.media);

  // Whatever we hand out must be something we (and so, we trust, a browser) can parse.
  if (auto check = ParseSdp(WriteSdp(answer), SelfCheckLimits()); !check.ok())
    return base::MakeError(base::kExitSoftware, "sdp answer: internal: " + check.error().message);
  return answer;
}

SdpCodec OpusCodec(int pt) {
  SdpCodec c;
  c.pt = pt;
  c.name = "opus";
  c.clock_rate = 48000;
  c.channels = 2;
  c.fmtp = "minptime=10;useinbandfec=1";
  c.feedback = {{"transport-cc", ""}};
  return c;
}

namespace {
SdpCodec VideoCodec(int pt, const char* name, std::string fmtp) {
  SdpCodec c;
  c.pt = pt;
  c.name = name;
  c.clock_rate = 90000;
  c.fmtp = std::move(fmtp);
  c.feedback = {{"goog-remb", ""}, {"transport-cc", ""}, {"ccm", "fir"}, {"nack", ""}, {"nack", "pli"}};
  return c;
}
}  // namespace

SdpCodec Vp8Codec(int pt) { return VideoCodec(pt, "VP8", ""); }
SdpCodec Vp9Codec(int pt) { return VideoCodec(pt, "VP9", "profile-id=0"); }
SdpCodec H264Codec(int pt, std::string_view profile_level_id) {
  return VideoCodec(pt, "H264",
                    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=" + std::string(profile_level_id));
}
SdpCodec Av1Codec(int pt) { return VideoCodec(pt, "AV1", "level-idx=5;profile=0;tier=0"); }

std::vector<SdpExtmap> DefaultOfferExtensions(SdpMediaKind kind) {
  std::vector<SdpExtmap> v;
  if (kind == SdpMediaKind::kAudio) v.push_back({1, std::nullopt, kExtAudioLevel, {}});
  v.push_back({2, std::nullopt, kExtAbsSendTime, {}});
  v.push_back({3, std::nullopt, kExtTransportCc, {}});
  v.push_back({4, std::nullopt, kExtMid, {}});
  return v;
}

base::Result<SdpSession> BuildSdpOffer(const SdpLocalParams& local, const std::vector<SdpOfferTrack>& tracks) {
  COLLAB_TRY(ValidateLocal(local));
  SdpSession offer;
  offer.origin = MakeOrigin(local);
  offer.ice_lite = local.ice_lite;
  SdpGroup bundle{"BUNDLE", {}};
  std::set<std::string> mids;
  for (const auto& t : tracks) {
    if (!IsSdpToken(t.mid) || t.mid.size() > 64 || !mids.insert(t.mid).second)
      return ConfigError("offer track mid '" + t.mid + "' must be a unique token");
    if (t.kind != SdpMediaKind::kAudio && t.kind != SdpMediaKind::kVideo)
      return ConfigError("offer track " + t.mid + " must be audio or video");
    if (t.codec.pt < 0 || t.codec.pt > 127 || !IsSdpToken(t.codec.name) || t.codec.clock_rate == 0 || t.rtx_pt > 127 ||
        t.rtx_pt == t.codec.pt)
      return ConfigError("offer track " + t.mid + " has a bad codec");
    COLLAB_TRY(ValidateSendStream(t.stream));

    SdpMedia m;
    m.kind = t.kind;
    m.media = t.kind == SdpMediaKind::kAudio ? "audio" : "video";
    m.mid = t.mid;
    AddTransport(m, local, SdpSetup::kActPass);
    m.extmaps = t.header_extensions.empty() ? DefaultOfferExtensions(t.kind) : t.header_extensions;
    m.direction = t.direction;
    m.rtcp_mux = true;
    m.rtcp_rsize = true;
    m.codecs.push_back(t.codec);
    if (t.rtx_pt >= 0) {
      SdpCodec rtx;
      rtx.pt = t.rtx_pt;
      rtx.name = "rtx";
      rtx.clock_rate = t.codec.clock_rate;
      rtx.fmtp = "apt=" + std::to_string(t.codec.pt);
      m.codecs.push_back(std::move(rtx));
    }
    for (const auto& c : m.codecs) m.formats.push_back(std::to_string(c.pt));
    if (DirectionSends(t.direction)) AddSendStream(m, t.stream, t.rtx_pt >= 0);
    bundle.mids.push_back(t.mid);
    offer.media.push_back(std::move(m));
  }
  if (!bundle.mids.empty()) offer.groups.push_back(std::move(bundle));
  offer.msid_semantic = MsidSemantic(offer.media);
  if (auto check = ParseSdp(WriteSdp(offer), SelfCheckLimits()); !check.ok())
    return base::MakeError(base::kExitSoftware, "sdp offer: internal: " + check.error().message);
  return offer;
}

}  // namespace collab::rtc
