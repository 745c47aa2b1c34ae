#include "lib/stream/rtmp_session.hpp"

#include <algorithm>

namespace collab::stream {

namespace {

constexpr size_t kHandshakeBytes = 1536;
constexpr uint32_t kOurWindow = 2500000;

enum MsgType : uint8_t {
  kSetChunkSize = 1,
  kAbort = 2,
  kAck = 3,
  kUserControl = 4,
  kWindowAckSize = 5,
  kSetPeerBandwidth = 6,
  kAudio = 8,
  kVideo = 9,
  kDataAmf3 = 15,
  kCommandAmf3 = 17,
  kDataAmf0 = 18,
  kCommandAmf0 = 20,
};

uint32_t Be(std::string_view s, size_t at, int n) {
  uint32_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(s[at + i]);
  return v;
}

void PutBe(std::string& out, uint32_t v, int n) {
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}

// Splits "name?query" at the first '?'.
std::pair<std::string, std::string> SplitQuery(const std::string& s) {
  size_t q = s.find('?');
  if (q == std::string::npos) return {s, ""};
  return {s.substr(0, q), s.substr(q + 1)};
}

base::Error Bad(std::string msg) { return base::MakeError(base::kExitDataErr, "rtmp: " + std::move(msg)); }

}  // namespace

base::Status RtmpSession::Feed(std::string_view data) {
  if (refused_) return Bad("connection already refused");
  bytes_in_ += data.size();
  in_.append(data);
  base::Status st = base::Ok();
  for (bool progress = true; progress && st.ok();) {
    progress = false;
    size_t avail = in_.size() - pos_;
    switch (state_) {
      case State::kC0:
        if (avail >= 1) {
          uint8_t version = static_cast<uint8_t>(in_[pos_]);
          // 3 is plain RTMP; 6 and 8 are RTMPE, which needs the digest handshake we do not do.
          if (version != 3) return Bad("unsupported handshake version " + std::to_string(version));
          ++pos_;
          state_ = State::kC1;
          progress = true;
        }
        break;
      case State::kC1:
        if (avail >= kHandshakeBytes) {
          std::string out;
          out.reserve(1 + 2 * kHandshakeBytes);
          out.push_back(3);
          // S1: time 0, zero, then filler; the client only echoes it back.
          out.append(8, '\0');
          uint32_t x = 0x9e3779b9u;
          for (size_t i = 8; i < kHandshakeBytes; ++i) {
            x = x * 1664525u + 1013904223u;
            out.push_back(static_cast<char>(x >> 24));
          }
          // S2 echoes C1.
          out.append(in_, pos_, kHandshakeBytes);
          pos_ += kHandshakeBytes;
          cb_.send(out);
          state_ = State::kC2;
          progress = true;
        }
        break;
      case State::kC2:
        if (avail >= kHandshakeBytes) {
          pos_ += kHandshakeBytes;  // C2 echoes S1; nothing in it matters to a plain handshake
          state_ = State::kChunks;
          progress = true;
        }
        break;
      case State::kChunks:
        st = ParseChunks();
        break;
    }
  }
  in_.erase(0, pos_);
  pos_ = 0;
  if (st.ok() && ack_window_ && bytes_in_ - last_ack_ >= ack_window_ && state_ == State::kChunks) {
    std::string ack;
    PutBe(ack, static_cast<uint32_t>(bytes_in_), 4);
    SendMessage(2, kAck, 0, ack);
    last_ack_ = bytes_in_;
  }
  return st;
}

base::Status RtmpSession::ParseChunks() {
  static constexpr size_t kHeaderSize[4] = {11, 7, 3, 0};
  while (!refused_) {
    std::string_view in(in_);
    size_t p = pos_;
    size_t avail = in.size() - p;
    if (avail < 1) break;
    uint8_t b0 = static_cast<uint8_t>(in[p]);
    int fmt = b0 >> 6;
    uint32_t csid = b0 & 0x3f;
    size_t basic = 1;
    if (csid == 0) {
      if (avail < 2) break;
      csid = 64 + static_cast<uint8_t>(in[p + 1]);
      basic = 2;
    } else if (csid == 1) {
      if (avail < 3) break;
      csid = 64 + static_cast<uint8_t>(in[p + 1]) + 256u * static_cast<uint8_t>(in[p + 2]);
      basic = 3;
    }
    size_t mh = kHeaderSize[fmt];
    if (avail < basic + mh) break;
    auto it = streams_.find(csid);
    if (it == streams_.end()) {
      if (fmt != 0) return Bad("chunk stream " + std::to_string(csid) + " starts without a full header");
      if (streams_.size() >= kRtmpMaxChunkStreams) return Bad("too many chunk streams");
    }
    ChunkStream fresh;
    const ChunkStream& cur = it == streams_.end() ? fresh : it->second;
    size_t h = p + basic;
    uint32_t ts_field = fmt < 3 ? Be(in, h, 3) : 0;
    bool ext = fmt < 3 ? ts_field == 0xffffff : cur.extended;
    size_t need = basic + mh + (ext ? 4 : 0);
    if (avail < need) break;
    if (ext) ts_field = Be(in, p + basic + mh, 4);
    bool starts = cur.payload.empty();
    ChunkStream next = ChunkStream{};
    next.timestamp = cur.timestamp;
    next.delta = cur.delta;
    next.length = cur.length;
    next.type = cur.type;
    next.stream_id = cur.stream_id;
    next.extended = ext;
    next.has_header = true;
    if (fmt == 0) {
      next.timestamp = ts_field;
      next.delta = ts_field;
      next.length = Be(in, h + 3, 3);
      next.type = static_cast<uint8_t>(in[h + 6]);
      next.stream_id = static_cast<uint32_t>(static_cast<uint8_t>(in[h + 7])) |
                       static_cast<uint32_t>(static_cast<uint8_t>(in[h + 8])) << 8 |
                       static_cast<uint32_t>(static_cast<uint8_t>(in[h + 9])) << 16 |
                       static_cast<uint32_t>(static_cast<uint8_t>(in[h + 10])) << 24;
    } else if (fmt == 1) {
      next.delta = ts_field;
      next.length = Be(in, h + 3, 3);
      next.type = static_cast<uint8_t>(in[h + 6]);
      next.timestamp = cur.timestamp + ts_field;
    } else if (fmt == 2) {
      next.delta = ts_field;
      next.timestamp = cur.timestamp + ts_field;
    } else if (starts) {
      next.timestamp = cur.timestamp + cur.delta;
    }
    // A full header in the middle of a message: the peer abandoned it; drop what we had.
    size_t dropped = 0;
    if (fmt < 3 && !starts) dropped = cur.payload.size();
    size_t have = (fmt < 3 || starts) ? 0 : cur.payload.size();
    if (fmt == 3 && starts && !cur.has_header) return Bad("continuation chunk without a message");
    // Before a publish is accepted only commands are expected: a peer without a key cannot
    // make us hold megabytes.
    if (!publishing_ && next.length > kRtmpMaxSetupMessageBytes)
      return Bad("message of " + std::to_string(next.length) + " bytes before publishing");
    uint32_t remaining = next.length - static_cast<uint32_t>(have);
    size_t take = std::min<size_t>(remaining, in_chunk_size_);
    if (avail < need + take) break;
    // The whole chunk is here: commit.
    ChunkStream& cs = streams_[csid];
    if (fmt < 3 || starts) {
      std::string keep = std::move(cs.payload);
      keep.clear();
      pending_bytes_ -= dropped;
      cs.timestamp = next.timestamp;
      cs.delta = next.delta;
      cs.length = next.length;
      cs.type = next.type;
      cs.stream_id = next.stream_id;
      cs.payload = std::move(keep);
    }
    cs.extended = next.extended;
    cs.has_header = true;
    if (pending_bytes_ + take > kRtmpMaxPendingBytes) return Bad("too many bytes in unfinished messages");
    cs.payload.append(in.substr(p + need, take));
    pending_bytes_ += take;
    pos_ = p + need + take;
    if (cs.payload.size() == cs.length) {
      std::string payload = std::move(cs.payload);
      cs.payload = std::string();
      pending_bytes_ -= payload.size();
      ChunkStream header = cs;  // OnMessage may change streams_ (abort) but never erase
      COLLAB_TRY(OnMessage(header, payload));
    }
  }
  return base::Ok();
}

base::Status RtmpSession::OnMessage(const ChunkStream& cs, std::string_view payload) {
  switch (cs.type) {
    case kSetChunkSize: {
      if (payload.size() < 4) return Bad("short set chunk size");
      uint32_t size = Be(payload, 0, 4) & 0x7fffffff;
      if (size < 1 || size > kRtmpMaxChunkSize) return Bad("chunk size " + std::to_string(size) + " out of range");
      in_chunk_size_ = size;
      return base::Ok();
    }
    case kAbort: {
      if (payload.size() < 4) return Bad("short abort");
      auto it = streams_.find(Be(payload, 0, 4));
      if (it != streams_.end()) {
        pending_bytes_ -= it->second.payload.size();
        it->second.payload.clear();
      }
      return base::Ok();
    }
    case kWindowAckSize:
      if (payload.size() < 4) return Bad("short window acknowledgement size");
      ack_window_ = Be(payload, 0, 4);
      return base::Ok();
    case kAudio:
    case kVideo:
      if (publishing_ && cs.stream_id == publish_stream_id_ && cb_.on_media) {
        RtmpMedia m;
        m.type = cs.type;
        m.timestamp_ms = cs.timestamp;
        m.payload = payload;
        cb_.on_media(m);
      }
      return base::Ok();
    case kCommandAmf3:
      // An AMF3 command message starts with one format byte, then AMF0 values.
      if (payload.empty()) return Bad("empty command");
      return OnCommand(cs.stream_id, payload.substr(1));
    case kCommandAmf0:
      return OnCommand(cs.stream_id, payload);
    case kAck:
    case kUserControl:
    case kSetPeerBandwidth:
    case kDataAmf0:  // @setDataFrame/onMetaData: the codec configuration arrives in-band anyway
    case kDataAmf3:
    default:
      return base::Ok();
  }
}

base::Status RtmpSession::OnCommand(uint32_t stream_id, std::string_view payload) {
  auto values = DecodeAmf0(payload);
  if (!values.ok()) return Bad(values.error().message);
  const auto& v = *values;
  if (v.empty() || !v[0].is_string()) return Bad("command without a name");
  const std::string& name = v[0].string();
  double txid = v.size() > 1 && v[1].is_number() ? v[1].number() : 0;
  if (name == "connect") {
    if (v.size() < 3 || !v[2].is_object()) return Bad("connect without a command object");
    auto [app, query] = SplitQuery(v[2].GetString("app"));
    app_ = app;
    app_query_ = query;
    tc_url_ = v[2].GetString("tcUrl");
    connected_ = true;
    std::string b;
    PutBe(b, kOurWindow, 4);
    SendMessage(2, kWindowAckSize, 0, b);
    b.clear();
    PutBe(b, kOurWindow, 4);
    b.push_back(2);  // dynamic limit
    SendMessage(2, kSetPeerBandwidth, 0, b);
    b.clear();
    PutBe(b, out_chunk_size_, 4);
    SendMessage(2, kSetChunkSize, 0, b);
    SendCommand(3, 0,
                {Amf0Value::String("_result"), Amf0Value::Number(txid),
                 Amf0Value::Object({{"fmsVer", Amf0Value::String("FMS/3,0,1,123")},
                                    {"capabilities", Amf0Value::Number(31)}}),
                 Amf0Value::Object({{"level", Amf0Value::String("status")},
                                    {"code", Amf0Value::String("NetConnection.Connect.Success")},
                                    {"description", Amf0Value::String("Connection succeeded.")},
                                    {"objectEncoding", Amf0Value::Number(0)}})});
    return base::Ok();
  }
  if (!connected_) return Bad("command '" + name.substr(0, 64) + "' before connect");
  if (name == "createStream") {
    if (next_stream_id_ > 16) return Bad("too many streams created");
    SendCommand(3, 0, {Amf0Value::String("_result"), Amf0Value::Number(txid), Amf0Value::Null(),
                       Amf0Value::Number(next_stream_id_++)});
    return base::Ok();
  }
  if (name == "publish") {
    if (v.size() < 4 || !v[3].is_string()) return Bad("publish without a stream name");
    if (publishing_) return Bad("second publish on one connection");
    auto [pname, pquery] = SplitQuery(v[3].string());
    RtmpPublishRequest req;
    req.app = app_;
    req.name = pname;
    req.query = !pquery.empty() ? pquery : app_query_;
    if (req.query.empty()) req.query = SplitQuery(tc_url_).second;
    req.tc_url = tc_url_;
    name_ = pname;
    RtmpPublishDecision d = cb_.on_publish ? cb_.on_publish(req) : RtmpPublishDecision{};
    if (!d.ok) {
      SendStatus(stream_id, "error", d.code.empty() ? "NetStream.Publish.BadName" : d.code, d.description);
      refused_ = true;
      return Bad("publish of '" + pname.substr(0, 64) + "' refused: " + d.description);
    }
    publishing_ = true;
    publish_stream_id_ = stream_id;
    std::string b;
    PutBe(b, 0, 2);  // StreamBegin
    PutBe(b, stream_id, 4);
    SendMessage(2, kUserControl, 0, b);
    SendStatus(stream_id, "status", "NetStream.Publish.Start", "Publishing " + pname + ".");
    return base::Ok();
  }
  if (name == "FCUnpublish" || name == "deleteStream" || name == "closeStream") {
    if (publishing_) {
      publishing_ = false;
      if (cb_.on_unpublish) cb_.on_unpublish();
    }
    return base::Ok();
  }
  // releaseStream, FCPublish, getStreamLength, _checkbw and the like: acknowledge when asked.
  if (txid != 0)
    SendCommand(3, 0, {Amf0Value::String("_result"), Amf0Value::Number(txid), Amf0Value::Null(), Amf0Value::Undefined()});
  return base::Ok();
}

void RtmpSession::SendMessage(uint32_t csid, uint8_t type, uint32_t stream_id, std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 12 + payload.size() / out_chunk_size_ + 1);
  out.push_back(static_cast<char>(csid & 0x3f));  // fmt 0; our csids are all < 64
  PutBe(out, 0, 3);                                // timestamp
  PutBe(out, static_cast<uint32_t>(payload.size()), 3);
  out.push_back(static_cast<char>(type));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(stream_id >> (8 * i)));  // little endian
  // Set Chunk Size applies to messages after it: it is itself short enough for any size.
  uint32_t chunk = type == kSetChunkSize ? 128 : out_chunk_size_;
  for (size_t off = 0; off < payload.size(); off += chunk) {
    if (off) out.push_back(static_cast<char>(0xc0 | (csid & 0x3f)));
    out.append(payload.substr(off, chunk));
  }
  cb_.send(out);
}

void RtmpSession::SendCommand(uint32_t csid, uint32_t stream_id, std::initializer_list<Amf0Value> values) {
  std::string payload;
  for (const auto& v : values) EncodeAmf0(v, payload);
  SendMessage(csid, kCommandAmf0, stream_id, payload);
}

void RtmpSession::SendStatus(uint32_t stream_id, const std::string& level, const std::string& code,
                             const std::string& desc) {
  SendCommand(5, stream_id,
              {Amf0Value::String("onStatus"), Amf0Value::Number(0), Amf0Value::Null(),
               Amf0Value::Object({{"level", Amf0Value::String(level)},
                                  {"code", Amf0Value::String(code)},
                                  {"description", Amf0Value::String(desc)},
                                  {"details", Amf0Value::String(name_)}})});
}

}  // namespace collab::stream
