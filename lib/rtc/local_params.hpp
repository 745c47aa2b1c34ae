// What our side of an SDP answer says about a transport: shared by every service that answers
// a browser's offer over the shared RTC sockets (collab-sfu's echo, collab-stream's WHIP).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/base/result.hpp"
#include "lib/rtc/sdp_answer.hpp"
#include "lib/rtc/stun.hpp"
#include "lib/rtc/transport.hpp"

namespace collab::rtc {

// A random nonzero 32-bit value from OpenSSL's generator (SSRCs, SDP session ids).
uint32_t RandomSsrc();

// The addresses host candidates for a socket bound to `bound` carry: `announced` when the
// operator set it; else the bound IP, or loopback of its family for a wildcard bind (a real
// deployment bound to every address announces the ones clients reach).
std::vector<std::string> CandidateAddresses(const TransportAddress& bound, const std::vector<std::string>& announced);

// Our side of an answer for a transport made with `to` on `sockets`: its ICE credentials, the
// digest of `certificate_fingerprint` ("sha-256 AB:CD:..."), a fresh session id, and one host
// candidate per address for the UDP socket and, when ICE-TCP is on, for the TCP one.
base::Result<SdpLocalParams> LocalParamsFor(const WebRtcTransportOptions& to, const RtcSockets& sockets,
                                            const std::string& certificate_fingerprint,
                                            const std::vector<std::string>& announced);

}  // namespace collab::rtc
