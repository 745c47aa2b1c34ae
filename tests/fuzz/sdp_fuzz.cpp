// Fuzzes the SDP parser, writer and answer builder. Invariants: nothing crashes or leaks;
// an accepted body writes out to text that parses again and writes out identically; an
// answer built from any accepted offer parses, keeps the offer's media count and mids, and
// writes out identically after a re-parse. Local parameters are valid, so the builder may
// only refuse the offer (kExitDataErr), never fail internally.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lib/rtc/sdp.hpp"
#include "lib/rtc/sdp_answer.hpp"

using namespace collab::rtc;

namespace {

// The writer may add bytes (CR before LF, rtpmap lines for static payload types), so the
// re-parse checks syntax under roomier limits than the first parse.
SdpParseLimits Roomy() {
  SdpParseLimits l;
  l.max_bytes = 64u << 20;
  l.max_lines = 1u << 22;
  l.max_line_length = 1u << 20;
  l.max_media = 1u << 16;
  l.max_attributes_per_section = 1u << 22;
  return l;
}

const SdpLocalParams& Local() {
  static const SdpLocalParams p = [] {
    SdpLocalParams l;
    l.ice_ufrag = "fuzz";
    l.ice_pwd = "0123456789abcdefghijkl";
    l.fingerprint.hash = "sha-256";
    l.fingerprint.digest.assign(32, 0xAB);
    l.candidates = {MakeHostCandidate("1", "udp", "127.0.0.1", 5000), MakeHostCandidate("2", "tcp", "::1", 5001)};
    return l;
  }();
  return p;
}

void CheckAnswer(const SdpSession& offer, const SdpAnswerOptions& opt) {
  auto a = BuildSdpAnswer(offer, Local(), opt);
  if (!a.ok()) {
    if (a.error().code != collab::base::kExitDataErr) std::abort();
    return;
  }
  std::string text = WriteSdp(*a);
  auto parsed = ParseSdp(text, Roomy());
  if (!parsed.ok()) std::abort();
  if (WriteSdp(*parsed) != text) std::abort();
  if (parsed->media.size() != offer.media.size()) std::abort();
  for (size_t i = 0; i < offer.media.size(); ++i)
    if (parsed->media[i].mid != offer.media[i].mid) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = ParseSdp(text);
  if (!r.ok()) return 0;
  std::string once = WriteSdp(*r);
  auto again = ParseSdp(once, Roomy());
  if (!again.ok()) std::abort();
  if (WriteSdp(*again) != once) std::abort();

  CheckAnswer(*r, SdpAnswerOptions{});
  SdpAnswerOptions wide;
  wide.accept_data_channel = true;
  wide.red = wide.ulpfec = wide.h264_mode0_with_mode1 = wide.allow_dtls_client = true;
  wide.codec_preference = {"H264", "opus"};
  wide.max_codecs = 2;
  for (const auto& m : r->media)
    if (!m.mid.empty()) wide.send_streams.push_back({m.mid, 1000, 1001, "fuzz", "stream", "track"});
  CheckAnswer(*r, wide);
  return 0;
}
