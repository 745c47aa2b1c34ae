// The collab-ipc wire protocol (collab-ipc(7)) as pure functions: splitting a byte stream into
// JSON Lines frames, validating hellos and requests, and encoding replies. No sockets and no
// event loop here, so the server, the blocking client, the unit tests and the fuzz target all
// share one definition of what a valid frame is. Deliberately knows nothing about verbs.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "lib/base/json.hpp"
#include "lib/base/result.hpp"

namespace collab::ipc {

inline constexpr const char* kProtocolName = "collab-ipc";
inline constexpr int kProtocolVersion = 1;
// Longest frame a client may send, not counting the terminating "\n".
inline constexpr size_t kMaxFrameBytes = 1024 * 1024;
// Longest reply the blocking client accepts: list verbs may answer with more than a request may carry.
inline constexpr size_t kMaxReplyBytes = 64 * 1024 * 1024;

// Accumulates bytes and yields complete lines. A frame is the bytes before a "\n", minus one
// trailing "\r" (so CRLF from a terminal works). Once a line is longer than the limit the decoder
// stays in the oversized state: the stream cannot be resynchronised safely.
class FrameDecoder {
 public:
  enum class Status { kFrame, kNeedMore, kOversized };

  explicit FrameDecoder(size_t max_frame = kMaxFrameBytes) : max_frame_(max_frame) {}

  void Feed(std::string_view bytes);
  // kFrame: *frame holds the next line. kNeedMore: no complete line buffered. kOversized: sticky.
  Status Next(std::string* frame);
  // Bytes after the last "\n": at end of stream a final unterminated line is still a frame.
  std::string TakePartial();
  size_t buffered() const { return buf_.size() - start_; }
  bool oversized() const { return oversized_; }

 private:
  std::string buf_;
  size_t start_ = 0;  // first unconsumed byte
  size_t scan_ = 0;   // bytes before this offset are known to hold no "\n"
  size_t max_frame_;
  bool oversized_ = false;
};

// True when a frame is empty or only whitespace; such lines are skipped, not answered.
bool IsBlankFrame(std::string_view frame);

// The server's first frame: {"hello":"collab-ipc","version":1,"program":...,"pid":...}.
base::Json MakeServerHello(const std::string& program, long pid);
// The client's first frame: {"hello":"collab-ipc","version":1}.
base::Json MakeClientHello();
// Checks a peer's hello frame. Errors: kExitDataErr when it is not a collab-ipc hello at all,
// kExitUnavailable when the protocol version is not ours.
base::Status CheckHello(const base::Json& frame);
base::Status CheckHelloFrame(std::string_view frame);

struct ParsedRequest {
  base::Json id;  // null when absent
  std::string verb;
  base::Json args;  // always an object
};

// Parses a request frame. On error, *id_out (if given) receives the request's id when it could be
// read, so the error reply can still be matched by the client.
base::Result<ParsedRequest> ParseRequest(std::string_view frame, base::Json* id_out = nullptr);

// One reply line including the terminating "\n":
//   {"id":ID,"ok":true,"result":RESULT}
//   {"id":ID,"ok":false,"error":{"code":"usage","status":64,"message":"..."}}
std::string EncodeReply(const base::Json& id, const base::Result<base::Json>& result);
std::string EncodeFrame(const base::Json& frame);

// Client side: turns a reply frame into its result or an Error{status, message}.
base::Result<base::Json> DecodeReply(const base::Json& reply);

}  // namespace collab::ipc
