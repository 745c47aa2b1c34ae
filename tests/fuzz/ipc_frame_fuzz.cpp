// Fuzzes the control-socket framing the way the server sees client bytes: the frame decoder fed
// in arbitrary chunks, then each frame through the hello check, the request parser, the reply
// encoder and the client's reply decoder. Invariants: chunking never changes the frames, no
// frame holds a "\n" or exceeds the limit, and every reply is exactly one parseable line.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/json.hpp"
#include "lib/ipc/protocol.hpp"

using collab::base::Json;
using collab::ipc::FrameDecoder;

namespace {

struct Outcome {
  std::vector<std::string> frames;
  bool oversized = false;
  std::string partial;
};

Outcome Split(std::string_view input, size_t max_frame, size_t chunk) {
  Outcome out;
  FrameDecoder d(max_frame);
  size_t off = 0;
  while (off < input.size() && !out.oversized) {
    size_t n = chunk == 0 ? input.size() - off : std::min(chunk, input.size() - off);
    d.Feed(input.substr(off, n));
    off += n;
    std::string f;
    for (;;) {
      FrameDecoder::Status st = d.Next(&f);
      if (st == FrameDecoder::Status::kFrame) {
        out.frames.push_back(f);
        continue;
      }
      out.oversized = st == FrameDecoder::Status::kOversized;
      break;
    }
  }
  if (!out.oversized) out.partial = d.TakePartial();
  return out;
}

void CheckOneLine(const std::string& line) {
  if (line.empty() || line.back() != '\n' || line.find('\n') != line.size() - 1) std::abort();
  auto parsed = Json::Parse(std::string_view(line).substr(0, line.size() - 1));
  if (!parsed.ok()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // First two bytes pick the chunk size and a small frame limit so the oversized path is reached.
  size_t chunk = data[0] % 17;
  size_t max_frame = 1 + data[1] * 64;
  std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);

  Outcome whole = Split(input, max_frame, 0);
  Outcome chunked = Split(input, max_frame, chunk);
  if (whole.oversized != chunked.oversized || whole.frames != chunked.frames) std::abort();
  if (!whole.oversized && whole.partial != chunked.partial) std::abort();

  if (!whole.oversized && !whole.partial.empty()) whole.frames.push_back(whole.partial);
  for (const std::string& frame : whole.frames) {
    if (frame.find('\n') != std::string::npos || frame.size() > max_frame) std::abort();
    if (collab::ipc::IsBlankFrame(frame)) continue;
    (void)collab::ipc::CheckHelloFrame(frame);
    Json id;
    auto req = collab::ipc::ParseRequest(frame, &id);
    if (!id.is_null() && !id.is_number() && !id.is_string()) std::abort();
    if (req.ok()) {
      if (req->verb.empty() || !req->args.is_object()) std::abort();
      CheckOneLine(collab::ipc::EncodeReply(req->id, req->args));
    } else {
      if (req.error().code != collab::base::kExitDataErr) std::abort();
      CheckOneLine(collab::ipc::EncodeReply(id, req.error()));
    }
    // The same bytes arriving at a client as a reply must not crash its decoder either.
    auto parsed = Json::Parse(frame);
    if (parsed.ok()) (void)collab::ipc::DecodeReply(*parsed);
  }
  return 0;
}
