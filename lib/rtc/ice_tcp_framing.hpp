// RFC 6544 (RFC 4571) framing for ICE-TCP: on the TCP stream every packet (STUN, DTLS, SRTP,
// SRTCP) is preceded by its length as a 16-bit big-endian number. A decoder that turns stream
// reads of any size into whole packets, and the matching encoder.
//
// Deliberately not here: sockets, write queues, and deciding what a packet is (the transport
// demultiplexes frames exactly as it does UDP datagrams).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "lib/base/result.hpp"

namespace collab::rtc {

// The most the 16-bit length field can say.
inline constexpr size_t kIceTcpMaxFrameField = 0xFFFF;
// Default limit: the largest DTLS record (2^14 plaintext + 2048 expansion + 13-byte header).
// STUN, SRTP and SRTCP packets from browsers are MTU-sized, far below it, so a larger length
// means a broken or hostile peer and the connection is dropped.
inline constexpr size_t kIceTcpDefaultMaxFrame = 16384 + 2048 + 13;

class IceTcpFrameDecoder {
 public:
  // max_frame_size is clamped to kIceTcpMaxFrameField.
  explicit IceTcpFrameDecoder(size_t max_frame_size = kIceTcpDefaultMaxFrame);

  // Consumes one read from the stream, calling on_frame(std::span<const uint8_t>) for each
  // complete frame in order; zero-length frames are skipped. The span is valid only during the
  // call. Frames wholly inside `bytes` are passed without copying; only a frame split across
  // reads is buffered. on_frame may return void, or bool where false means "stop": Feed then
  // returns at once without touching the decoder again (so the callback may destroy it), and
  // the decoder must not be fed again. Must not be re-entered from on_frame.
  // Returns an error (kExitDataErr) when a length exceeds the limit; the decoder then stays
  // failed and the connection should be closed.
  template <typename OnFrame>
  base::Status Feed(std::span<const uint8_t> bytes, OnFrame&& on_frame);

  bool failed() const { return failed_; }
  size_t max_frame_size() const { return max_frame_; }
  // Bytes held for the next Feed: a partial length prefix or the start of a split payload.
  size_t buffered() const { return header_have_ + (in_frame_ ? partial_.size() : 0); }

 private:
  base::Status Oversized(size_t length);

  size_t max_frame_;
  uint8_t header_[2] = {0, 0};
  size_t header_have_ = 0;
  bool in_frame_ = false;  // partial_ holds the start of a frame of length need_
  size_t need_ = 0;
  std::vector<uint8_t> partial_;
  bool failed_ = false;
};

// The two-byte prefix for a payload, for writing header and payload as two buffers without a
// copy; nullopt when payload_size > 65535.
std::optional<std::array<uint8_t, 2>> IceTcpFrameHeader(size_t payload_size);
// Appends prefix + payload to *out. Error (kExitDataErr) when the payload is over 65535 bytes.
base::Status AppendIceTcpFrame(std::span<const uint8_t> payload, std::vector<uint8_t>* out);

// ---- implementation ----

template <typename OnFrame>
base::Status IceTcpFrameDecoder::Feed(std::span<const uint8_t> bytes, OnFrame&& on_frame) {
  // Calls the callback; true means keep going.
  auto deliver = [&on_frame](std::span<const uint8_t> frame) -> bool {
    if constexpr (std::is_same_v<std::invoke_result_t<OnFrame&, std::span<const uint8_t>>, bool>) {
      return on_frame(frame);
    } else {
      on_frame(frame);
      return true;
    }
  };
  if (failed_) return Oversized(0);
  const size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    if (in_frame_) {
      size_t take = std::min(need_ - partial_.size(), n - i);
      partial_.insert(partial_.end(), bytes.begin() + static_cast<std::ptrdiff_t>(i),
                      bytes.begin() + static_cast<std::ptrdiff_t>(i + take));
      i += take;
      if (partial_.size() < need_) break;
      in_frame_ = false;  // partial_ is cleared when the next split frame starts
      if (!deliver(partial_)) return base::Ok();
      continue;
    }
    size_t length;
    if (header_have_ == 0 && n - i >= 2) {
      length = static_cast<size_t>(bytes[i]) << 8 | bytes[i + 1];
      i += 2;
    } else {
      header_[header_have_++] = bytes[i++];
      if (header_have_ < 2) break;
      header_have_ = 0;
      length = static_cast<size_t>(header_[0]) << 8 | header_[1];
    }
    if (length > max_frame_) return Oversized(length);
    if (length == 0) continue;
    if (n - i >= length) {
      auto frame = bytes.subspan(i, length);
      i += length;
      if (!deliver(frame)) return base::Ok();
      continue;
    }
    partial_.clear();
    partial_.reserve(length);
    partial_.assign(bytes.begin() + static_cast<std::ptrdiff_t>(i), bytes.end());
    need_ = length;
    in_frame_ = true;
    i = n;
  }
  return base::Ok();
}

}  // namespace collab::rtc
