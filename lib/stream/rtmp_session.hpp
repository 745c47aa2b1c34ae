// The server side of one RTMP publishing connection as a pure state machine: bytes in, bytes to
// send and events out, no sockets (lib/stream/rtmp_server.cpp does the I/O), so unit tests and
// the fuzzer drive it directly. Covers the plain handshake (C0/C1/C2, no digest: ffmpeg and OBS
// accept it), the chunk stream (all four header types, extended timestamps, set chunk size,
// abort, acknowledgements) and the publish command flow (connect, releaseStream, FCPublish,
// createStream, publish, FCUnpublish, deleteStream).
// Deliberately not here: playing (this server only ingests), AMF3 payloads beyond the one-byte
// prefix of type 17 commands, the digest handshake (RTMPE), what a stream name means or who may
// publish (the owner decides through on_publish).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "lib/base/result.hpp"
#include "lib/stream/amf0.hpp"

namespace collab::stream {

// Limits a hostile or broken peer cannot exceed without the connection being closed.
inline constexpr uint32_t kRtmpMaxChunkSize = 1 << 22;        // 4 MiB (spec allows 16 MiB; no encoder uses it)
inline constexpr uint32_t kRtmpMaxMessageBytes = 0xffffff;      // what the 3-byte length field allows
inline constexpr size_t kRtmpMaxPendingBytes = 16u << 20;       // partial messages over all chunk streams
inline constexpr uint32_t kRtmpMaxSetupMessageBytes = 64 << 10;  // any message before publishing starts
inline constexpr size_t kRtmpMaxChunkStreams = 64;

struct RtmpPublishRequest {
  std::string app;    // connect's app without any query ("live")
  std::string name;   // publish name without the query ("cam1")
  std::string query;  // the query of the publish name, or else of the app / tcUrl ("key=abc")
  std::string tc_url;
};

struct RtmpPublishDecision {
  bool ok = false;
  std::string code;         // onStatus code for a refusal, e.g. "NetStream.Publish.BadName"
  std::string description;  // human text sent to the publisher
};

// One audio (type 8) or video (type 9) message: an FLV tag body.
struct RtmpMedia {
  uint8_t type = 0;
  uint32_t timestamp_ms = 0;
  std::string_view payload;  // valid during the callback only
};

class RtmpSession {
 public:
  struct Callbacks {
    std::function<void(std::string_view bytes)> send;
    std::function<RtmpPublishDecision(const RtmpPublishRequest&)> on_publish;
    std::function<void(const RtmpMedia&)> on_media;
    // The publisher ended the stream (FCUnpublish/deleteStream); the connection may stay.
    std::function<void()> on_unpublish;
  };

  explicit RtmpSession(Callbacks cb) : cb_(std::move(cb)) {}

  // Consumes received bytes. An error means the connection must be closed (after sending what
  // was queued through send, e.g. a refusal); the message says why, for the log.
  [[nodiscard]] base::Status Feed(std::string_view data);

  bool publishing() const { return publishing_; }
  // True once a refusal was sent: the owner closes after flushing.
  bool refused() const { return refused_; }
  uint64_t bytes_received() const { return bytes_in_; }
  const std::string& stream_name() const { return name_; }

 private:
  struct ChunkStream {
    uint32_t timestamp = 0;
    uint32_t delta = 0;
    uint32_t length = 0;
    uint8_t type = 0;
    uint32_t stream_id = 0;
    bool extended = false;  // the last header used an extended timestamp
    bool has_header = false;
    std::string payload;    // the message being assembled
  };

  base::Status ParseChunks();
  base::Status OnMessage(const ChunkStream& cs, std::string_view payload);
  base::Status OnCommand(uint32_t stream_id, std::string_view payload);
  void SendMessage(uint32_t csid, uint8_t type, uint32_t stream_id, std::string_view payload);
  void SendCommand(uint32_t csid, uint32_t stream_id, std::initializer_list<Amf0Value> values);
  void SendStatus(uint32_t stream_id, const std::string& level, const std::string& code, const std::string& desc);

  Callbacks cb_;
  enum class State { kC0, kC1, kC2, kChunks } state_ = State::kC0;
  std::string in_;
  size_t pos_ = 0;
  std::map<uint32_t, ChunkStream> streams_;
  size_t pending_bytes_ = 0;
  uint32_t in_chunk_size_ = 128;
  uint32_t out_chunk_size_ = 4096;
  uint32_t ack_window_ = 0;  // the peer's Window Acknowledgement Size; 0 = never ack
  uint64_t bytes_in_ = 0;
  uint64_t last_ack_ = 0;
  bool connected_ = false;
  bool publishing_ = false;
  bool refused_ = false;
  uint32_t publish_stream_id_ = 0;
  uint32_t next_stream_id_ = 1;
  std::string app_, app_query_, tc_url_, name_;
};

}  // namespace collab::stream
