// RFC 6544 framing for ICE-TCP. See ice_tcp_framing.hpp for scope.
#include "lib/rtc/ice_tcp_framing.hpp"

namespace collab::rtc {

IceTcpFrameDecoder::IceTcpFrameDecoder(size_t max_frame_size)
    : max_frame_(std::min(max_frame_size, kIceTcpMaxFrameField)) {}

base::Status IceTcpFrameDecoder::Oversized(size_t length) {
  bool first = !failed_;
  failed_ = true;
  partial_.clear();
  partial_.shrink_to_fit();
  in_frame_ = false;
  header_have_ = 0;
  if (!first) return base::MakeError(base::kExitDataErr, "ICE-TCP: stream already failed");
  return base::MakeError(base::kExitDataErr, "ICE-TCP: frame of " + std::to_string(length) +
                                                 " bytes exceeds the limit of " + std::to_string(max_frame_));
}

std::optional<std::array<uint8_t, 2>> IceTcpFrameHeader(size_t payload_size) {
  if (payload_size > kIceTcpMaxFrameField) return std::nullopt;
  return std::array<uint8_t, 2>{static_cast<uint8_t>(payload_size >> 8), static_cast<uint8_t>(payload_size)};
}

base::Status AppendIceTcpFrame(std::span<const uint8_t> payload, std::vector<uint8_t>* out) {
  auto header = IceTcpFrameHeader(payload.size());
  if (!header) {
    return base::MakeError(base::kExitDataErr,
                           "ICE-TCP: packet of " + std::to_string(payload.size()) + " bytes does not fit a frame");
  }
  out->insert(out->end(), header->begin(), header->end());
  out->insert(out->end(), payload.begin(), payload.end());
  return base::Ok();
}

}  // namespace collab::rtc
