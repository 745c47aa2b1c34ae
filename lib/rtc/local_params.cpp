#include "lib/rtc/local_params.hpp"

#include <openssl/rand.h>

#include <array>

#include "lib/rtc/certificate.hpp"

namespace collab::rtc {

uint32_t RandomSsrc() {
  uint32_t v = 0;
  while (v == 0) {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof(v)) != 1) v = 0x5eed0001;
  }
  return v;
}

std::vector<std::string> CandidateAddresses(const TransportAddress& bound, const std::vector<std::string>& announced) {
  if (!announced.empty()) return announced;
  static const std::array<uint8_t, 16> kZero{};
  if (bound.ip == kZero) return {bound.family == TransportAddress::Family::kIpv6 ? "::1" : "127.0.0.1"};
  std::string s = bound.ToString();
  s = s.substr(0, s.rfind(':'));
  if (!s.empty() && s.front() == '[') s = s.substr(1, s.size() - 2);
  return {s};
}

base::Result<SdpLocalParams> LocalParamsFor(const WebRtcTransportOptions& to, const RtcSockets& sockets,
                                            const std::string& certificate_fingerprint,
                                            const std::vector<std::string>& announced) {
  SdpLocalParams local;
  local.ice_ufrag = to.local_ice.ufrag;
  local.ice_pwd = to.local_ice.pwd;
  COLLAB_ASSIGN_OR_RETURN(auto fp, CertificateFingerprint::Parse(certificate_fingerprint));
  local.fingerprint.hash = "sha-256";
  local.fingerprint.digest = fp.digest;
  local.session_id = std::to_string(RandomSsrc());
  int n = 1;
  for (const auto& a : CandidateAddresses(sockets.udp_address(), announced))
    local.candidates.push_back(MakeHostCandidate(std::to_string(n++), "udp", a, sockets.udp_address().port));
  if (sockets.tcp_address())
    for (const auto& a : CandidateAddresses(*sockets.tcp_address(), announced))
      local.candidates.push_back(MakeHostCandidate(std::to_string(n++), "tcp", a, sockets.tcp_address()->port));
  return local;
}

}  // namespace collab::rtc
