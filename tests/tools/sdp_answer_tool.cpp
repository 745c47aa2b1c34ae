// sdp_answer_tool: drives lib/rtc's SDP answer/offer builder from the command line so a
// browser test can check that Chromium accepts what we write. Fixed local ICE/DTLS values;
// the candidates point at 127.0.0.1 port 9 (discard) unless --candidate says otherwise.
//
//   sdp_answer_tool [answer] [--send] [--accept-data] [--max-codecs N] [--no-candidates]
//                   [--candidate IP:PORT] [--video-codecs A,B|none]  < offer.sdp  > answer.sdp
//   sdp_answer_tool offer [--h264] [--no-candidates] > offer.sdp  (audio+video sendonly)
//   sdp_answer_tool check                            < any.sdp    (exit 0 if it parses)
//
// Exit status: 0 ok, 64 usage, 65 the input was refused (reason on stderr).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "lib/base/exit_codes.hpp"
#include "lib/rtc/sdp.hpp"
#include "lib/rtc/sdp_answer.hpp"

using namespace collab::rtc;

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: sdp_answer_tool [answer] [--send] [--accept-data] [--max-codecs N] [--no-candidates] "
               "[--candidate IP:PORT] [--video-codecs A,B|none]\n"
               "       sdp_answer_tool offer [--h264] [--no-candidates]\n"
               "       sdp_answer_tool check\n");
  return collab::base::kExitUsage;
}

SdpLocalParams Local(bool candidates, const std::string& ip, uint16_t port) {
  SdpLocalParams p;
  p.ice_ufrag = "sdpT";
  p.ice_pwd = "sdpanswertoolpassword00";
  p.fingerprint.hash = "sha-256";
  for (int i = 0; i < 32; ++i) p.fingerprint.digest.push_back(static_cast<uint8_t>(0xA0 + i));
  if (candidates) p.candidates = {MakeHostCandidate("1", "udp", ip, port), MakeHostCandidate("2", "tcp", ip, port)};
  p.session_id = "7345608034000000001";
  return p;
}

int Fail(const collab::base::Error& e) {
  std::fprintf(stderr, "sdp_answer_tool: %s\n", e.message.c_str());
  return e.code;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = "answer";
  int i = 1;
  if (i < argc && argv[i][0] != '-') mode = argv[i++];
  bool send = false, accept_data = false, candidates = true, h264 = false;
  size_t max_codecs = 0;
  std::optional<std::vector<std::string>> video_codecs;
  std::string ip = "127.0.0.1";
  uint16_t port = 9;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--send")
      send = true;
    else if (a == "--accept-data")
      accept_data = true;
    else if (a == "--no-candidates")
      candidates = false;
    else if (a == "--h264")
      h264 = true;
    else if (a == "--max-codecs" && i + 1 < argc)
      max_codecs = std::strtoul(argv[++i], nullptr, 10);
    else if (a == "--video-codecs" && i + 1 < argc) {
      std::string list = argv[++i];
      video_codecs.emplace();
      size_t start = 0;
      while (list != "none" && start <= list.size()) {
        size_t comma = list.find(',', start);
        if (comma == std::string::npos) comma = list.size();
        if (comma > start) video_codecs->push_back(list.substr(start, comma - start));
        start = comma + 1;
      }
    } else if (a == "--candidate" && i + 1 < argc) {
      std::string v = argv[++i];
      size_t colon = v.rfind(':');
      if (colon == std::string::npos) return Usage();
      ip = v.substr(0, colon);
      port = static_cast<uint16_t>(std::strtoul(v.c_str() + colon + 1, nullptr, 10));
    } else {
      return Usage();
    }
  }
  SdpLocalParams local = Local(candidates, ip, port);

  if (mode == "offer") {
    SdpOfferTrack audio;
    audio.mid = "0";
    audio.kind = SdpMediaKind::kAudio;
    audio.codec = OpusCodec();
    audio.stream = {"", 1001, 0, "sdptool", "sdptool-stream", "sdptool-audio"};
    SdpOfferTrack video;
    video.mid = "1";
    video.kind = SdpMediaKind::kVideo;
    video.codec = h264 ? H264Codec(102, "42e01f") : Vp8Codec(96);
    video.rtx_pt = h264 ? 103 : 97;
    video.stream = {"", 2001, 2002, "sdptool", "sdptool-stream", "sdptool-video"};
    auto offer = BuildSdpOffer(local, {audio, video});
    if (!offer.ok()) return Fail(offer.error());
    std::cout << WriteSdp(*offer);
    return 0;
  }

  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  auto parsed = ParseSdp(input);
  if (!parsed.ok()) return Fail(parsed.error());
  if (mode == "check") return 0;
  if (mode != "answer") return Usage();

  SdpAnswerOptions opt;
  opt.accept_data_channel = accept_data;
  opt.max_codecs = max_codecs;
  if (video_codecs) opt.video_codecs = *video_codecs;
  if (send) {
    uint32_t ssrc = 10000;
    for (const auto& m : parsed->media) {
      if (m.mid.empty() || !m.IsRtp()) continue;
      bool video = m.kind == SdpMediaKind::kVideo;
      opt.send_streams.push_back(
          {m.mid, ssrc, video ? ssrc + 1 : 0, "sdptool", "sdptool-stream", "sdptool-track" + m.mid});
      ssrc += 10;
    }
  }
  auto answer = BuildSdpAnswer(*parsed, local, opt);
  if (!answer.ok()) return Fail(answer.error());
  std::cout << WriteSdp(*answer);
  return 0;
}
