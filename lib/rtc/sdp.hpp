// SDP (RFC 8866) as WebRTC uses it (JSEP, RFC 8829): a parser for the offers and answers
// browsers send, a typed model of the session and its media sections, and a writer that
// serializes that model back to canonical CRLF text. The answer/offer policy (which codecs,
// directions, simulcast) lives in sdp_answer.hpp; this module only understands the syntax.
//
// The model keeps the attributes WebRTC needs as typed fields (ICE, DTLS fingerprint/setup,
// codecs with rtpmap/fmtp/rtcp-fb, extmap, rid/simulcast, ssrc/ssrc-group, msid, candidates,
// SCTP) and every other attribute as an opaque (name, value) pair, written back last.
// The writer emits one canonical order, so Write(Parse(x)) is not byte-identical to x, but
// Write(Parse(Write(Parse(x)))) == Write(Parse(x)) for any accepted x.
//
// Deliberately not here: Plan B, SDES keys (a=crypto), legacy a=sctpmap data channels as a
// feature (parsed as unknown attributes), multicast semantics, and any cross-section
// validation beyond what the answerer needs. The parser takes untrusted bytes: inputs are
// bounded by SdpParseLimits and every failure names the 1-based line and the reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/base/result.hpp"

namespace collab::rtc {

enum class SdpMediaKind : uint8_t { kAudio, kVideo, kApplication, kOther };
enum class SdpDirection : uint8_t { kSendRecv, kSendOnly, kRecvOnly, kInactive };
enum class SdpSetup : uint8_t { kNone, kActPass, kActive, kPassive, kHoldConn };
enum class SdpRidDirection : uint8_t { kSend, kRecv };

std::string_view SdpDirectionName(SdpDirection d);  // "sendrecv", ...
std::string_view SdpSetupName(SdpSetup s);          // "actpass", ... ("" for kNone)
// The direction the other side must use: sendonly <-> recvonly, the others unchanged.
SdpDirection ReverseDirection(SdpDirection d);
bool DirectionSends(SdpDirection d);
bool DirectionReceives(SdpDirection d);

// RFC 8866 token (mid, msid ids, attribute names) and RFC 8839 ice-char string checks, for
// code that puts its own strings into a description.
bool IsSdpToken(std::string_view s);
bool IsIceCredential(std::string_view s, size_t min_length);  // min..256 ice-chars

struct SdpConnection {  // c=<nettype> <addrtype> <address>
  std::string net_type = "IN";
  std::string addr_type = "IP4";
  std::string address = "0.0.0.0";
};

struct SdpOrigin {  // o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>
  std::string username = "-";
  std::string session_id = "0";       // decimal digits, kept as text (may exceed 64 bits)
  std::string session_version = "0";  // decimal digits
  std::string net_type = "IN";
  std::string addr_type = "IP4";
  std::string address = "127.0.0.1";
};

struct SdpBandwidth {  // b=<bwtype>:<bandwidth>
  std::string type;
  uint64_t value = 0;
};

// A line of a type the model has no field for (i= u= e= p= r= z= k=), kept for the writer.
struct SdpLine {
  char type = 0;
  std::string value;
};

struct SdpAttribute {  // a=<name>[:<value>]
  std::string name;
  std::string value;
  bool has_value = false;
};

struct SdpFingerprint {          // a=fingerprint:<hash> <XX:XX:...>
  std::string hash;              // lower case, e.g. "sha-256"
  std::vector<uint8_t> digest;   // 1..64 bytes
  std::string ToString() const;  // "sha-256 AB:CD:..." (upper-case hex, as browsers write it)
};

struct SdpExtmap {  // a=extmap:<id>[/<direction>] <uri> [<attributes>]
  int id = 0;       // 1..255 (15+ need the two-byte header form)
  std::optional<SdpDirection> direction;
  std::string uri;
  std::string attributes;  // rest of the line, trimmed; usually empty
};

struct SdpRtcpFb {    // a=rtcp-fb:<pt> <type> [<param>]
  std::string type;   // "nack", "ccm", "goog-remb", "transport-cc", ...
  std::string param;  // "pli", "fir", or empty
  bool operator==(const SdpRtcpFb&) const = default;
};

// One payload type of an RTP media section: the m= line entry plus its rtpmap/fmtp/rtcp-fb.
struct SdpCodec {
  int pt = 0;               // 0..127
  std::string name;         // as written ("VP8", "opus", "H264"); empty if no rtpmap
  uint32_t clock_rate = 0;  // 0 if no rtpmap
  uint32_t channels = 0;    // 0 when the rtpmap has no channel count
  std::string fmtp;         // raw a=fmtp value after the PT, empty if none
  std::vector<SdpRtcpFb> feedback;

  // True if name matches case-insensitively (codec names are case-insensitive, RFC 4855).
  bool Is(std::string_view codec_name) const;
  // Value of key in a "k=v;k=v" fmtp, case-insensitive key; nullopt if absent.
  std::optional<std::string_view> FmtpParam(std::string_view key) const;
  // For rtx (RFC 4588): the associated payload type from apt=, or -1.
  int RtxApt() const;
};

struct SdpSsrc {  // a=ssrc:<ssrc> <attribute>[:<value>]
  uint32_t ssrc = 0;
  std::string attribute;  // "cname", "msid", ...
  std::string value;
  bool has_value = false;
};

struct SdpSsrcGroup {     // a=ssrc-group:<semantics> <ssrc>...
  std::string semantics;  // "FID", "SIM", "FEC-FR", ...
  std::vector<uint32_t> ssrcs;
};

struct SdpMsid {  // a=msid:<stream-id> [<track-id>]
  std::string stream_id;
  std::string track_id;  // may be empty
};

struct SdpRid {  // a=rid:<id> <send|recv> [pt=<fmt>,...][;<key>[=<value>]...]
  std::string id;
  SdpRidDirection direction = SdpRidDirection::kSend;
  std::vector<int> payload_types;
  std::vector<std::pair<std::string, std::string>> restrictions;  // "max-width" -> "1280"
};

struct SdpSimulcastRid {
  std::string rid;
  bool paused = false;  // written "~rid"
  bool operator==(const SdpSimulcastRid&) const = default;
};
// A simulcast stream list: streams separated by ';', each with ','-separated alternatives.
using SdpSimulcastList = std::vector<std::vector<SdpSimulcastRid>>;

struct SdpSimulcast {  // a=simulcast:send <list> [recv <list>]
  SdpSimulcastList send;
  SdpSimulcastList recv;
};

struct SdpCandidate {  // a=candidate: (RFC 8839 section 5.1)
  std::string foundation;
  uint32_t component = 1;
  std::string transport = "udp";  // lower case
  uint32_t priority = 0;
  std::string address;  // IPv4, IPv6 or a host name (mDNS .local)
  uint16_t port = 0;
  std::string type = "host";    // host, srflx, prflx, relay
  std::string related_address;  // raddr, empty if absent
  std::optional<uint16_t> related_port;
  std::string tcp_type;                                         // active, passive, so; empty for UDP
  std::vector<std::pair<std::string, std::string>> extensions;  // generation 0, network-id 1, ...

  std::string ToString() const;  // the attribute value, without "candidate:"
};

struct SdpMedia {
  SdpMediaKind kind = SdpMediaKind::kOther;
  std::string media;  // the m= token as written: "audio", "video", "application", ...
  uint16_t port = 9;
  std::optional<uint32_t> port_count;  // m=<media> <port>/<count>
  std::string proto = "UDP/TLS/RTP/SAVPF";
  std::vector<std::string> formats;  // the m= format list as written (PTs for RTP)
  std::vector<SdpLine> extra_lines;  // i= and k=
  std::optional<SdpConnection> connection;
  std::vector<SdpBandwidth> bandwidths;

  std::string mid;
  std::optional<SdpDirection> direction;  // nullopt: not written (see SdpSession::Direction)
  std::string ice_ufrag, ice_pwd;         // empty: inherit the session's
  std::vector<std::string> ice_options;
  std::vector<SdpFingerprint> fingerprints;  // empty: inherit the session's
  SdpSetup setup = SdpSetup::kNone;          // kNone: inherit the session's
  bool rtcp_mux = false;
  bool rtcp_mux_only = false;
  bool rtcp_rsize = false;
  bool bundle_only = false;
  bool extmap_allow_mixed = false;
  std::vector<SdpExtmap> extmaps;
  std::vector<SdpCodec> codecs;         // RTP only, in m= order
  std::vector<SdpRtcpFb> feedback_all;  // a=rtcp-fb:* (applies to every codec)
  std::vector<SdpMsid> msids;
  std::vector<SdpSsrc> ssrcs;
  std::vector<SdpSsrcGroup> ssrc_groups;
  std::vector<SdpRid> rids;
  std::optional<SdpSimulcast> simulcast;
  std::vector<SdpCandidate> candidates;
  bool end_of_candidates = false;
  std::optional<uint16_t> sctp_port;
  std::optional<uint64_t> max_message_size;
  std::vector<SdpAttribute> attributes;  // everything else, in input order

  bool IsRtp() const;  // proto has an RTP profile (formats are payload types)
  // Port 0 without a=bundle-only: the section is rejected or removed (JSEP 5.2.2).
  bool IsRejected() const { return port == 0 && !bundle_only; }
  const SdpCodec* FindCodec(int pt) const;
  const SdpExtmap* FindExtmap(std::string_view uri) const;
  const SdpRid* FindRid(std::string_view id) const;
  const SdpAttribute* FindAttribute(std::string_view name) const;
};

struct SdpGroup {         // a=group:<semantics> <mid>...
  std::string semantics;  // "BUNDLE", "LS", ...
  std::vector<std::string> mids;
};

struct SdpSession {
  int version = 0;
  SdpOrigin origin;
  std::string session_name = "-";
  uint64_t start_time = 0, stop_time = 0;
  std::vector<SdpLine> extra_lines;  // i= u= e= p= r= z= k=, in input order
  std::optional<SdpConnection> connection;
  std::vector<SdpBandwidth> bandwidths;

  std::vector<SdpGroup> groups;
  bool ice_lite = false;
  std::string ice_ufrag, ice_pwd;
  std::vector<std::string> ice_options;
  std::vector<SdpFingerprint> fingerprints;
  SdpSetup setup = SdpSetup::kNone;
  std::optional<SdpDirection> direction;  // session-level default for the media sections
  bool extmap_allow_mixed = false;
  std::optional<std::string> msid_semantic;  // value after "msid-semantic:", trimmed ("WMS ...")
  std::vector<SdpExtmap> extmaps;            // session-level extmaps (rare)
  std::vector<SdpAttribute> attributes;      // everything else, in input order
  std::vector<SdpMedia> media;

  const SdpGroup* FindGroup(std::string_view semantics) const;  // first such group
  // Media-level value when present, else the session-level one.
  std::string_view IceUfrag(const SdpMedia& m) const;
  std::string_view IcePwd(const SdpMedia& m) const;
  const std::vector<SdpFingerprint>& Fingerprints(const SdpMedia& m) const;
  SdpSetup Setup(const SdpMedia& m) const;
  // The media's direction, else the session-level one, else sendrecv (RFC 8866 6.7).
  SdpDirection Direction(const SdpMedia& m) const;
};

// Bounds for untrusted input. The parsed model is linear in the input size; these keep a
// hostile body from costing more than a few megabytes.
struct SdpParseLimits {
  size_t max_bytes = 256 * 1024;
  size_t max_lines = 8192;
  size_t max_line_length = 4096;
  size_t max_media = 128;
  size_t max_attributes_per_section = 2048;
};

// Parses an SDP body (CRLF or bare LF line ends). Errors carry kExitDataErr and a message
// "sdp line N: reason" (N = 0 for whole-body problems such as size or encoding).
[[nodiscard]] base::Result<SdpSession> ParseSdp(std::string_view text, const SdpParseLimits& limits = {});

// Serializes in RFC 8866 line order with CRLF line ends. Assumes the strings in the model
// hold no CR, LF or NUL (true for anything ParseSdp produced; the builders in
// sdp_answer.hpp validate what they are given).
std::string WriteSdp(const SdpSession& session);

}  // namespace collab::rtc
