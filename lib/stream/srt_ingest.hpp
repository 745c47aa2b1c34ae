// SRT ingest: one SRT listener (libavformat's srt protocol in listener mode, MPEG-TS inside)
// feeding one configured stream. libavformat blocks, so a worker thread accepts and demuxes and
// hands packets to the loop through a uv_async; on the loop the H.264 (Annex B) and AAC (ADTS)
// packets are rewritten as the FLV tag bodies the RTMP path produces, so the owner sees the same
// callbacks as for an RTMP publisher (connection ids from a separate range).
// Deliberately not here: several streams on one port (FFmpeg 5.1 does not expose the caller's
// streamid), caller mode, codecs other than H.264/AAC. The only file of lib/stream that includes
// FFmpeg headers; it moves to lib/media once that library exists.
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "lib/base/result.hpp"
#include "lib/stream/rtmp_server.hpp"

namespace collab::stream {

// Connection ids of SRT sessions: kSrtConnectionBase + session number.
inline constexpr uint64_t kSrtConnectionBase = uint64_t{1} << 62;

struct SrtIngestOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // must be a real port: libavformat cannot report a kernel-chosen one
  std::string stream_name = "srt";
  std::string passphrase;  // "" = unencrypted
};

class SrtIngest {
 public:
  [[nodiscard]] static base::Result<std::unique_ptr<SrtIngest>> Start(uv_loop_t* loop, const SrtIngestOptions& options,
                                                                      RtmpServer::Handlers handlers);
  // Stops the worker (blocking calls are interrupted) and closes the async handle; run the loop
  // afterwards so libuv can free it.
  ~SrtIngest();
  SrtIngest(const SrtIngest&) = delete;
  SrtIngest& operator=(const SrtIngest&) = delete;

  std::string address() const;
  // Drops the current caller (kick); false when none.
  bool Disconnect(uint64_t conn);

  struct Impl;

 private:
  explicit SrtIngest(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace collab::stream
