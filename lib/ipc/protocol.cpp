#include "lib/ipc/protocol.hpp"

#include <cstring>

#include "lib/base/exit_codes.hpp"

namespace collab::ipc {

using base::Error;
using base::Json;

void FrameDecoder::Feed(std::string_view bytes) {
  if (oversized_) return;  // nothing after an oversized line is trusted or kept
  // Compact lazily so a long pipelined burst is not copied once per frame.
  if (start_ > 0 && start_ >= buf_.size() / 2) {
    buf_.erase(0, start_);
    scan_ -= start_;
    start_ = 0;
  }
  buf_.append(bytes.data(), bytes.size());
}

FrameDecoder::Status FrameDecoder::Next(std::string* frame) {
  if (oversized_) return Status::kOversized;
  const char* base = buf_.data();
  const void* nl = std::memchr(base + scan_, '\n', buf_.size() - scan_);
  if (nl == nullptr) {
    scan_ = buf_.size();
    // Even if the next byte were "\n" this line would already be too long.
    if (buffered() > max_frame_) {
      oversized_ = true;
      return Status::kOversized;
    }
    return Status::kNeedMore;
  }
  size_t end = static_cast<size_t>(static_cast<const char*>(nl) - base);
  size_t len = end - start_;
  if (len > max_frame_) {
    oversized_ = true;
    return Status::kOversized;
  }
  if (len > 0 && buf_[end - 1] == '\r') --len;
  frame->assign(buf_, start_, len);
  start_ = end + 1;
  scan_ = start_;
  if (start_ == buf_.size()) {
    buf_.clear();
    start_ = scan_ = 0;
  }
  return Status::kFrame;
}

std::string FrameDecoder::TakePartial() {
  if (oversized_) return {};
  std::string out = buf_.substr(start_);
  if (!out.empty() && out.back() == '\r') out.pop_back();
  buf_.clear();
  start_ = scan_ = 0;
  return out;
}

bool IsBlankFrame(std::string_view frame) {
  for (char c : frame) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

Json MakeServerHello(const std::string& program, long pid) {
  return Json::Obj({{"hello", kProtocolName}, {"version", kProtocolVersion}, {"program", program}, {"pid", pid}});
}

Json MakeClientHello() { return Json::Obj({{"hello", kProtocolName}, {"version", kProtocolVersion}}); }

base::Status CheckHello(const Json& frame) {
  const std::string expected = std::string("expected a hello {\"hello\":\"") + kProtocolName +
                               "\",\"version\":" + std::to_string(kProtocolVersion) + "} as the first frame";
  if (!frame.is_object()) return Error{base::kExitDataErr, expected};
  const Json* hello = frame.Find("hello");
  if (hello == nullptr || !hello->is_string()) return Error{base::kExitDataErr, expected};
  if (hello->as_string() != kProtocolName)
    return Error{base::kExitDataErr, "unknown protocol \"" + hello->as_string() + "\"; " + expected};
  const Json* version = frame.Find("version");
  if (version == nullptr || !version->is_number())
    return Error{base::kExitDataErr, "hello without a numeric \"version\"; " + expected};
  if (version->as_double() != kProtocolVersion) {
    return Error{base::kExitUnavailable, "unsupported protocol version " + version->Dump() +
                                             " (this end speaks collab-ipc version " +
                                             std::to_string(kProtocolVersion) + ")"};
  }
  return base::Ok();
}

base::Status CheckHelloFrame(std::string_view frame) {
  Json::ParseLimits limits;
  limits.max_bytes = kMaxFrameBytes;
  auto parsed = Json::Parse(frame, limits);
  if (!parsed.ok()) return parsed.error().Wrap("bad hello");
  return CheckHello(*parsed);
}

base::Result<ParsedRequest> ParseRequest(std::string_view frame, Json* id_out) {
  Json::ParseLimits limits;
  limits.max_bytes = kMaxFrameBytes;
  auto parsed = Json::Parse(frame, limits);
  if (!parsed.ok()) return parsed.error().Wrap("bad request");
  Json& obj = *parsed;
  if (!obj.is_object()) return Error{base::kExitDataErr, "bad request: a request must be a JSON object"};

  ParsedRequest req;
  if (Json* id = obj.Find("id")) {
    if (!id->is_null() && !id->is_number() && !id->is_string())
      return Error{base::kExitDataErr, "bad request: \"id\" must be a number or a string"};
    req.id = std::move(*id);
    if (id_out != nullptr) *id_out = req.id;
  }
  const Json* verb = obj.Find("verb");
  if (verb == nullptr || !verb->is_string() || verb->as_string().empty())
    return Error{base::kExitDataErr, "bad request: missing \"verb\" (a non-empty string)"};
  req.verb = verb->as_string();
  if (Json* args = obj.Find("args"); args != nullptr && !args->is_null()) {
    if (!args->is_object()) return Error{base::kExitDataErr, "bad request: \"args\" must be a JSON object"};
    req.args = std::move(*args);
  } else {
    req.args = Json::MakeObject();
  }
  return req;
}

std::string EncodeFrame(const Json& frame) {
  std::string out = frame.Dump();
  out.push_back('\n');
  return out;
}

std::string EncodeReply(const Json& id, const base::Result<Json>& result) {
  Json reply = Json::MakeObject();
  reply.Set("id", id);
  if (result.ok()) {
    reply.Set("ok", true);
    reply.Set("result", result.value());
  } else {
    const Error& e = result.error();
    reply.Set("ok", false);
    reply.Set("error", Json::Obj({{"code", base::ExitCodeName(e.code)}, {"status", e.code}, {"message", e.message}}));
  }
  return EncodeFrame(reply);
}

base::Result<Json> DecodeReply(const Json& reply) {
  if (!reply.is_object() || reply.Find("ok") == nullptr || !reply.Find("ok")->is_bool())
    return Error{base::kExitDataErr, "malformed reply from daemon: " + reply.Dump()};
  if (reply.GetBool("ok")) {
    const Json* result = reply.Find("result");
    return result != nullptr ? *result : Json::MakeObject();
  }
  const Json* err = reply.Find("error");
  if (err == nullptr || !err->is_object())
    return Error{base::kExitDataErr, "malformed error reply from daemon: " + reply.Dump()};
  int64_t status = err->GetInt("status", base::kExitSoftware);
  // A status outside the sysexits range would make a confusing process exit code.
  if (status < base::kExitUsage || status > base::kExitConfig) status = base::kExitSoftware;
  std::string message = err->GetString("message");
  if (message.empty()) message = err->GetString("code", "error");
  return Error{static_cast<int>(status), message};
}

}  // namespace collab::ipc
