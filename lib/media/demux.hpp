// A blocking demuxer over libavformat for ingest threads: opens an input (for collab-stream an
// SRT listener carrying MPEG-TS) and hands out H.264 and AAC packets with millisecond times.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lib/base/result.hpp"

namespace collab::media {

struct Packet {
  enum class Codec { kOther, kH264, kAac };
  Codec codec = Codec::kOther;
  bool has_time = false;  // false when the packet carries no timestamp at all
  int64_t dts_ms = 0;
  int32_t cts_ms = 0;     // pts - dts
  bool key = false;
  std::string data;
};

class Demuxer {
 public:
  ~Demuxer();
  Demuxer(const Demuxer&) = delete;
  Demuxer& operator=(const Demuxer&) = delete;

  // Opens url with the given format ("mpegts", or "" to probe) and protocol options (for SRT:
  // mode=listener, passphrase=...). Blocks until a peer connects or `interrupted` returns true,
  // which it polls; the error then says why (FFmpeg's text).
  static base::Result<std::unique_ptr<Demuxer>> Open(const std::string& url, const std::string& format,
                                                     const std::vector<std::pair<std::string, std::string>>& options,
                                                     std::function<bool()> interrupted);

  // The next packet; false at the end of the input, on an error or when interrupted.
  bool Read(Packet* out);

 private:
  struct Impl;
  explicit Demuxer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace collab::media
