#include <catch2/catch.hpp>

#include <vector>

#include "lib/stream/rtmp_session.hpp"

using namespace collab::stream;

namespace {

void Be(std::string& o, uint32_t v, int n) {
  for (int i = n - 1; i >= 0; --i) o.push_back(static_cast<char>(v >> (8 * i)));
}

// Builds what a publishing client sends.
struct Client {
  uint32_t chunk_size = 128;

  static std::string Hello() {
    std::string s(1 + 1536, '\x01');
    s[0] = 3;
    return s;
  }
  static std::string C2() { return std::string(1536, '\x02'); }

  // A whole message: a header of type fmt, then fmt 3 continuation chunks.
  std::string Message(int fmt, uint32_t csid, uint32_t ts, uint8_t type, uint32_t msid, const std::string& payload) const {
    std::string o;
    bool ext = ts >= 0xffffff;
    o.push_back(static_cast<char>((fmt << 6) | csid));
    if (fmt <= 2) Be(o, ext ? 0xffffff : ts, 3);
    if (fmt <= 1) {
      Be(o, static_cast<uint32_t>(payload.size()), 3);
      o.push_back(static_cast<char>(type));
    }
    if (fmt == 0)
      for (int i = 0; i < 4; ++i) o.push_back(static_cast<char>(msid >> (8 * i)));
    if (ext) Be(o, ts, 4);
    for (size_t off = 0; off < payload.size() || off == 0; off += chunk_size) {
      if (off) {
        o.push_back(static_cast<char>(0xc0 | csid));
        if (ext) Be(o, ts, 4);
      }
      o += payload.substr(off, chunk_size);
      if (payload.empty()) break;
    }
    return o;
  }

  std::string Command(uint32_t msid, std::vector<Amf0Value> values) const {
    std::string payload;
    for (const auto& v : values) EncodeAmf0(v, payload);
    return Message(0, 3, 0, 20, msid, payload);
  }

  std::string Connect(const std::string& app = "live") const {
    return Command(0, {Amf0Value::String("connect"), Amf0Value::Number(1),
                       Amf0Value::Object({{"app", Amf0Value::String(app)},
                                          {"tcUrl", Amf0Value::String("rtmp://127.0.0.1/" + app)}})});
  }
  std::string Publish(const std::string& name) const {
    std::string o = Command(0, {Amf0Value::String("releaseStream"), Amf0Value::Number(2), Amf0Value::Null(),
                                Amf0Value::String(name)});
    o += Command(0, {Amf0Value::String("createStream"), Amf0Value::Number(3), Amf0Value::Null()});
    o += Command(1, {Amf0Value::String("publish"), Amf0Value::Number(4), Amf0Value::Null(), Amf0Value::String(name),
                     Amf0Value::String("live")});
    return o;
  }
};

struct ServerMessage {
  uint8_t type;
  std::string payload;
};

// Splits what the server sent after the handshake (fmt 0 messages shorter than its chunk size).
std::vector<ServerMessage> ParseServer(const std::string& out) {
  std::vector<ServerMessage> msgs;
  size_t p = 0;
  while (p + 12 <= out.size()) {
    uint32_t len = (static_cast<uint8_t>(out[p + 4]) << 16) | (static_cast<uint8_t>(out[p + 5]) << 8) |
                   static_cast<uint8_t>(out[p + 6]);
    msgs.push_back({static_cast<uint8_t>(out[p + 7]), out.substr(p + 12, len)});
    p += 12 + len;
  }
  return msgs;
}

std::string StatusCode(const ServerMessage& m) {
  auto v = DecodeAmf0(m.payload);
  if (!v.ok() || v->size() < 4 || (*v)[0].string() != "onStatus") return "";
  return (*v)[3].GetString("level") + " " + (*v)[3].GetString("code");
}

struct Harness {
  std::string sent;
  std::vector<RtmpPublishRequest> publishes;
  std::vector<std::pair<uint8_t, uint32_t>> media;  // type, timestamp
  std::vector<size_t> media_sizes;
  int unpublished = 0;
  bool allow = true;
  RtmpSession session;

  Harness()
      : session(RtmpSession::Callbacks{
            [this](std::string_view b) { sent.append(b); },
            [this](const RtmpPublishRequest& r) {
              publishes.push_back(r);
              RtmpPublishDecision d;
              d.ok = allow;
              d.code = "NetStream.Publish.Unauthorized";
              d.description = "wrong key";
              return d;
            },
            [this](const RtmpMedia& m) {
              media.emplace_back(m.type, m.timestamp_ms);
              media_sizes.push_back(m.payload.size());
            },
            [this] { ++unpublished; }}) {}

  // Handshake done; returns what the server said after it.
  void Handshake() {
    REQUIRE(session.Feed(Client::Hello()).ok());
    REQUIRE(sent.size() == 1 + 2 * 1536);
    CHECK(sent[0] == 3);
    CHECK(sent.substr(1 + 1536) == Client::Hello().substr(1));  // S2 echoes C1
    sent.clear();
    REQUIRE(session.Feed(Client::C2()).ok());
  }
};

}  // namespace

TEST_CASE("rtmp: handshake, connect and publish as ffmpeg does it") {
  Harness h;
  h.Handshake();
  Client c;
  REQUIRE(h.session.Feed(c.Connect("live")).ok());
  auto msgs = ParseServer(h.sent);
  REQUIRE(msgs.size() == 4);
  CHECK(msgs[0].type == 5);  // window ack size
  CHECK(msgs[1].type == 6);  // peer bandwidth
  CHECK(msgs[2].type == 1);  // chunk size
  auto result = DecodeAmf0(msgs[3].payload);
  REQUIRE(result.ok());
  CHECK((*result)[0].string() == "_result");
  CHECK((*result)[3].GetString("code") == "NetConnection.Connect.Success");
  h.sent.clear();
  REQUIRE(h.session.Feed(c.Publish("cam1?key=secret")).ok());
  REQUIRE(h.publishes.size() == 1);
  CHECK(h.publishes[0].app == "live");
  CHECK(h.publishes[0].name == "cam1");
  CHECK(h.publishes[0].query == "key=secret");
  CHECK(h.session.publishing());
  msgs = ParseServer(h.sent);
  REQUIRE(msgs.size() == 4);  // releaseStream and createStream results, StreamBegin, onStatus
  auto created = DecodeAmf0(msgs[1].payload);
  REQUIRE(created.ok());
  CHECK((*created)[3].number() == 1);
  CHECK(StatusCode(msgs.back()) == "status NetStream.Publish.Start");
  // Media then unpublish.
  REQUIRE(h.session.Feed(c.Message(0, 6, 0, 9, 1, "video")).ok());
  REQUIRE(h.session.Feed(c.Message(0, 4, 0, 8, 1, "audio")).ok());
  REQUIRE(h.media.size() == 2);
  REQUIRE(h.session.Feed(c.Command(1, {Amf0Value::String("FCUnpublish"), Amf0Value::Number(5), Amf0Value::Null()})).ok());
  CHECK(h.unpublished == 1);
  CHECK_FALSE(h.session.publishing());
}

TEST_CASE("rtmp: the key may come with the app instead of the stream name") {
  Harness h;
  h.Handshake();
  Client c;
  REQUIRE(h.session.Feed(c.Connect("live?key=k2") + c.Publish("cam2")).ok());
  REQUIRE(h.publishes.size() == 1);
  CHECK(h.publishes[0].app == "live");
  CHECK(h.publishes[0].query == "key=k2");
}

TEST_CASE("rtmp: a refused publish sends an error status and ends the session") {
  Harness h;
  h.allow = false;
  h.Handshake();
  Client c;
  REQUIRE(h.session.Feed(c.Connect()).ok());
  h.sent.clear();
  auto st = h.session.Feed(c.Publish("cam1?key=wrong"));
  CHECK_FALSE(st.ok());
  CHECK(h.session.refused());
  CHECK_FALSE(h.session.publishing());
  auto msgs = ParseServer(h.sent);
  REQUIRE_FALSE(msgs.empty());
  CHECK(StatusCode(msgs.back()) == "error NetStream.Publish.Unauthorized");
  CHECK_FALSE(h.session.Feed(c.Message(0, 6, 0, 9, 1, "video")).ok());
  CHECK(h.media.empty());
}

TEST_CASE("rtmp: all chunk header types, extended timestamps and set chunk size") {
  Harness h;
  h.Handshake();
  Client c;
  REQUIRE(h.session.Feed(c.Connect() + c.Publish("cam")).ok());
  std::string big(300, 'x');  // three chunks at the default 128
  std::string in;
  in += c.Message(0, 6, 1000, 9, 1, big);
  in += c.Message(1, 6, 33, 9, 1, "ab");
  in += c.Message(2, 6, 34, 9, 1, "cd");    // same length and type
  in += c.Message(3, 6, 0, 9, 1, "ef");     // same delta again
  in += c.Message(0, 4, 0x01000000, 8, 1, big);  // extended timestamp, also on fmt 3 chunks
  // Set chunk size 4096, then a 5000-byte message in two chunks.
  std::string cs;
  Be(cs, 4096, 4);
  in += c.Message(0, 2, 0, 1, 0, cs);
  Client c2;
  c2.chunk_size = 4096;
  in += c2.Message(0, 6, 2000, 9, 1, std::string(5000, 'y'));
  REQUIRE(h.session.Feed(in).ok());
  REQUIRE(h.media.size() == 6);
  CHECK(h.media[0].second == 1000);
  CHECK(h.media_sizes[0] == 300);
  CHECK(h.media[1].second == 1033);
  CHECK(h.media[2].second == 1067);
  CHECK(h.media[3].second == 1101);
  CHECK(h.media[4].second == 0x01000000);
  CHECK(h.media_sizes[4] == 300);
  CHECK(h.media[5].second == 2000);
  CHECK(h.media_sizes[5] == 5000);

  // The same bytes one at a time give the same messages.
  Harness h2;
  h2.Handshake();
  std::string all = c.Connect() + c.Publish("cam") + in;
  for (char ch : all) REQUIRE(h2.session.Feed(std::string_view(&ch, 1)).ok());
  CHECK(h2.media == h.media);
  CHECK(h2.media_sizes == h.media_sizes);
}

TEST_CASE("rtmp: acknowledgements follow the peer's window") {
  Harness h;
  h.Handshake();
  Client c;
  std::string win;
  Be(win, 1000, 4);
  REQUIRE(h.session.Feed(c.Message(0, 2, 0, 5, 0, win) + c.Connect() + c.Publish("cam")).ok());
  h.sent.clear();
  REQUIRE(h.session.Feed(c.Message(0, 6, 0, 9, 1, std::string(1200, 'z'))).ok());
  auto msgs = ParseServer(h.sent);
  REQUIRE(msgs.size() == 1);
  CHECK(msgs[0].type == 3);
}

TEST_CASE("rtmp: malformed input closes the session instead of breaking the server") {
  Client c;
  SECTION("wrong version") {
    Harness h;
    std::string hello = Client::Hello();
    hello[0] = 6;
    CHECK_FALSE(h.session.Feed(hello).ok());
  }
  SECTION("type 1 header on a new chunk stream") {
    Harness h;
    h.Handshake();
    CHECK_FALSE(h.session.Feed(c.Message(1, 9, 0, 9, 1, "x")).ok());
  }
  SECTION("chunk size zero or too large") {
    for (uint32_t size : {0u, kRtmpMaxChunkSize + 1}) {
      Harness h;
      h.Handshake();
      std::string cs;
      Be(cs, size, 4);
      CHECK_FALSE(h.session.Feed(c.Message(0, 2, 0, 1, 0, cs)).ok());
    }
  }
  SECTION("too many chunk streams with unfinished messages") {
    Harness h;
    h.Handshake();
    std::string in;
    for (uint32_t id = 0; id < 80; ++id) {
      std::string hdr;
      hdr.push_back(0);  // fmt 0, two-byte csid form
      hdr.push_back(static_cast<char>(id));
      Be(hdr, 0, 3);
      Be(hdr, 1000, 3);
      hdr.push_back(9);
      hdr.append(4, '\0');
      in += hdr + std::string(128, 'q');
    }
    CHECK_FALSE(h.session.Feed(in).ok());
  }
  SECTION("commands before connect and broken AMF") {
    Harness h;
    h.Handshake();
    CHECK_FALSE(h.session.Feed(c.Publish("cam")).ok());
    Harness h2;
    h2.Handshake();
    CHECK_FALSE(h2.session.Feed(c.Message(0, 3, 0, 20, 0, "\x02\x00\x09xx")).ok());
  }
  SECTION("a big message before publishing") {
    Harness h;
    h.Handshake();
    REQUIRE(h.session.Feed(c.Connect()).ok());
    std::string hdr;
    hdr.push_back(6);
    Be(hdr, 0, 3);
    Be(hdr, 1 << 20, 3);
    hdr.push_back(9);
    hdr.append(4, '\0');
    CHECK_FALSE(h.session.Feed(hdr + std::string(128, 'v')).ok());
  }
  SECTION("media before publish is ignored") {
    Harness h;
    h.Handshake();
    REQUIRE(h.session.Feed(c.Connect() + c.Message(0, 6, 0, 9, 1, "video")).ok());
    CHECK(h.media.empty());
  }
  SECTION("a second publish on one connection") {
    Harness h;
    h.Handshake();
    REQUIRE(h.session.Feed(c.Connect() + c.Publish("a")).ok());
    CHECK_FALSE(h.session.Feed(c.Publish("b")).ok());
  }
}
