// JSEP (RFC 8829) answer and offer building for an ICE-lite, DTLS-server endpoint such as
// collab-sfu or a WHIP ingest: from a browser's parsed offer and our local transport
// parameters, decide per media section what we accept (codecs, header extensions, RTCP
// feedback, direction, simulcast layers) and produce the answer; and, for paths where we
// only send (a subscriber, WHEP), produce an offer that Chromium accepts.
//
// Deliberately not here: room logic (which streams exist, who subscribes), renegotiation
// state (each call stands alone: pass the previous answer's choices back in if needed),
// SCTP data channels beyond accepting or rejecting the m=application section, and
// generating ICE credentials or certificates (the caller owns those).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/base/result.hpp"
#include "lib/rtc/sdp.hpp"

namespace collab::rtc {

// RTP header extension URIs we understand.
inline constexpr const char* kExtMid = "urn:ietf:params:rtp-hdrext:sdes:mid";
inline constexpr const char* kExtRid = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
inline constexpr const char* kExtRepairedRid = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id";
inline constexpr const char* kExtAbsSendTime = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";
inline constexpr const char* kExtTransportCc =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
inline constexpr const char* kExtAudioLevel = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

// ICE priorities of the host candidates we advertise (RFC 8445 5.1.2 with type preference
// 126 for UDP; TCP passive as Chromium ranks its own host TCP candidates).
inline constexpr uint32_t kHostUdpPriority = 2130706431;
inline constexpr uint32_t kHostTcpPriority = 1518280447;

// A host candidate: "udp" or "tcp" (written with tcptype passive: we only accept).
SdpCandidate MakeHostCandidate(std::string foundation, std::string_view transport, std::string address, uint16_t port);

// Our side of the transport, shared by every media section (we bundle everything).
struct SdpLocalParams {
  std::string ice_ufrag;       // 4..256 ice-chars
  std::string ice_pwd;         // 22..256 ice-chars
  SdpFingerprint fingerprint;  // of our DTLS certificate, normally sha-256
  std::vector<SdpCandidate> candidates;
  bool ice_lite = true;
  std::string session_id = "1";  // o= sess-id (decimal); keep it per peer connection
  uint64_t session_version = 2;  // bump on every new description in a session
};

// Media we send in a section: its msid and SSRCs (rtx_ssrc 0 = no RTX stream).
struct SdpSendStream {
  std::string mid;
  uint32_t ssrc = 0;
  uint32_t rtx_ssrc = 0;
  std::string cname;      // RTCP CNAME, token characters
  std::string stream_id;  // msid stream id ("-" for none)
  std::string track_id;   // msid track id
};

struct SdpAnswerOptions {
  // Codec names accepted, case-insensitive. Fixed rules apply on top: VP9 only with
  // profile-id 0, AV1 only with profile 0, H.264 packetization-mode 0 only when the offer
  // has no mode-1 entry with the same profile-level-id (see h264_mode0_with_mode1).
  std::vector<std::string> audio_codecs{"opus"};
  std::vector<std::string> video_codecs{"VP8", "VP9", "H264", "AV1"};
  // Order of the accepted codecs in the answer: empty keeps the offer's order (the
  // browser's preference); otherwise codecs are sorted by their position in this list.
  std::vector<std::string> codec_preference;
  // Keep at most this many primary codecs per section (0: all). 1 pins what the browser
  // sends, which an SFU forwarding to many receivers usually wants.
  size_t max_codecs = 0;
  bool h264_mode0_with_mode1 = false;
  bool red = false;     // keep red (RFC 2198) when its inner codec is accepted
  bool ulpfec = false;  // keep ulpfec
  bool rtx = true;      // keep rtx entries whose apt is accepted
  std::vector<std::string> header_extensions{kExtMid,         kExtRid,         kExtRepairedRid,
                                             kExtAbsSendTime, kExtTransportCc, kExtAudioLevel};
  // RTCP feedback kept for accepted codecs, as "type" or "type param".
  std::vector<std::string> rtcp_feedback{"nack", "nack pli", "ccm fir", "goog-remb", "transport-cc"};
  bool accept_data_channel = false;  // m=application UDP/DTLS/SCTP webrtc-datachannel
  uint64_t max_message_size = 262144;
  // When the offer says a=setup:passive we would have to be the DTLS client.
  bool allow_dtls_client = false;
  // Per-mid limits on the answer direction: the answer is the reverse of the offer's
  // direction, then stripped of send and/or receive where the entry says so.
  struct DirectionLimit {
    std::string mid;
    bool may_send = true;
    bool may_receive = true;
  };
  std::vector<DirectionLimit> direction_limits;
  std::vector<SdpSendStream> send_streams;  // written in sections whose answer sends
};

// Builds the answer to `offer`. Unsupported sections are rejected (port 0, mid kept);
// errors are for offers we cannot answer at all (no ICE credentials or fingerprint on an
// accepted section, a DTLS role we may not take) or invalid local parameters.
[[nodiscard]] base::Result<SdpSession> BuildSdpAnswer(const SdpSession& offer, const SdpLocalParams& local,
                                                      const SdpAnswerOptions& options = {});

// One track of an offer we make to a browser that will receive it.
struct SdpOfferTrack {
  std::string mid;
  SdpMediaKind kind = SdpMediaKind::kVideo;  // kAudio or kVideo
  SdpCodec codec;                            // pt, name, clock rate, channels, fmtp, feedback
  int rtx_pt = -1;                           // -1: no RTX
  SdpDirection direction = SdpDirection::kSendOnly;
  SdpSendStream stream;                      // ssrc, rtx_ssrc, cname, msid (its mid is ignored)
  std::vector<SdpExtmap> header_extensions;  // empty: DefaultOfferExtensions(kind)
};

// Codec presets as Chromium describes them, for SdpOfferTrack.codec.
SdpCodec OpusCodec(int pt = 111);
SdpCodec Vp8Codec(int pt = 96);
SdpCodec Vp9Codec(int pt = 98);                                                  // profile-id=0
SdpCodec H264Codec(int pt = 102, std::string_view profile_level_id = "42e01f");  // mode 1
SdpCodec Av1Codec(int pt = 45);
// mid, abs-send-time, transport-cc (and audio-level for audio) with Chromium's usual ids.
std::vector<SdpExtmap> DefaultOfferExtensions(SdpMediaKind kind);

// Builds an offer (a=setup:actpass, so the browser answers active and we stay DTLS server).
[[nodiscard]] base::Result<SdpSession> BuildSdpOffer(const SdpLocalParams& local,
                                                     const std::vector<SdpOfferTrack>& tracks);

}  // namespace collab::rtc
