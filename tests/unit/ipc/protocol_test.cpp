#include "lib/ipc/protocol.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace collab;
using collab::base::Json;
using collab::ipc::FrameDecoder;

namespace {

std::vector<std::string> Drain(FrameDecoder& d) {
  std::vector<std::string> out;
  std::string f;
  while (d.Next(&f) == FrameDecoder::Status::kFrame) out.push_back(f);
  return out;
}

}  // namespace

TEST_CASE("FrameDecoder splits pipelined lines and keeps the partial tail") {
  FrameDecoder d;
  d.Feed("{\"a\":1}\n{\"b\":2}\r\n\n{\"c\"");
  CHECK(Drain(d) == std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", ""});
  std::string f;
  CHECK(d.Next(&f) == FrameDecoder::Status::kNeedMore);
  CHECK(d.buffered() == 4);
  d.Feed(":3}\n");
  CHECK(Drain(d) == std::vector<std::string>{"{\"c\":3}"});
  CHECK(d.buffered() == 0);
  d.Feed("tail\r");
  CHECK(d.Next(&f) == FrameDecoder::Status::kNeedMore);
  CHECK(d.TakePartial() == "tail");
  CHECK(d.buffered() == 0);
}

TEST_CASE("FrameDecoder accepts byte-at-a-time input") {
  FrameDecoder d;
  std::string input = "{\"id\":1}\n{\"id\":2}\n";
  std::vector<std::string> got;
  for (char c : input) {
    d.Feed(std::string_view(&c, 1));
    auto more = Drain(d);
    got.insert(got.end(), more.begin(), more.end());
  }
  CHECK(got == std::vector<std::string>{"{\"id\":1}", "{\"id\":2}"});
}

TEST_CASE("FrameDecoder enforces the frame limit exactly") {
  SECTION("a frame of exactly the limit passes, CR not counted after stripping") {
    FrameDecoder d(8);
    d.Feed("12345678\n");
    std::string f;
    REQUIRE(d.Next(&f) == FrameDecoder::Status::kFrame);
    CHECK(f == "12345678");
  }
  SECTION("one byte over with a newline is oversized") {
    FrameDecoder d(8);
    d.Feed("123456789\n");
    std::string f;
    CHECK(d.Next(&f) == FrameDecoder::Status::kOversized);
    CHECK(d.Next(&f) == FrameDecoder::Status::kOversized);  // sticky
    d.Feed("ok\n");
    CHECK(d.Next(&f) == FrameDecoder::Status::kOversized);
    CHECK(d.oversized());
  }
  SECTION("an unterminated line is oversized as soon as it passes the limit") {
    FrameDecoder d(8);
    d.Feed("12345678");
    std::string f;
    CHECK(d.Next(&f) == FrameDecoder::Status::kNeedMore);
    d.Feed("9");
    CHECK(d.Next(&f) == FrameDecoder::Status::kOversized);
  }
  SECTION("the default limit is 1 MiB") {
    FrameDecoder d;
    d.Feed(std::string(ipc::kMaxFrameBytes, 'x'));
    std::string f;
    CHECK(d.Next(&f) == FrameDecoder::Status::kNeedMore);
    d.Feed("x");
    CHECK(d.Next(&f) == FrameDecoder::Status::kOversized);
  }
}

TEST_CASE("Hello frames are checked by protocol name and version") {
  CHECK(ipc::CheckHelloFrame("{\"hello\":\"collab-ipc\",\"version\":1}").ok());
  CHECK(ipc::CheckHelloFrame(ipc::MakeServerHello("collab-chatd", 42).Dump()).ok());
  auto v2 = ipc::CheckHelloFrame("{\"hello\":\"collab-ipc\",\"version\":2}");
  REQUIRE_FALSE(v2.ok());
  CHECK(v2.error().code == base::kExitUnavailable);
  CHECK(v2.error().message.find("version 2") != std::string::npos);
  for (const char* bad : {"", "garbage", "[]", "{}", "{\"hello\":\"http\",\"version\":1}", "{\"hello\":\"collab-ipc\"}",
                          "{\"hello\":\"collab-ipc\",\"version\":\"1\"}", "{\"id\":1,\"verb\":\"status\"}"}) {
    INFO(bad);
    auto st = ipc::CheckHelloFrame(bad);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == base::kExitDataErr);
  }
  auto server = ipc::MakeServerHello("collab-sfu", 7);
  CHECK(server.GetString("hello") == "collab-ipc");
  CHECK(server.GetInt("version") == 1);
  CHECK(server.GetString("program") == "collab-sfu");
  CHECK(server.GetInt("pid") == 7);
  CHECK(ipc::MakeClientHello().Dump() == "{\"hello\":\"collab-ipc\",\"version\":1}");
}

TEST_CASE("ParseRequest reads id, verb and args and rejects malformed requests") {
  auto r = ipc::ParseRequest("{\"id\":7,\"verb\":\"status\",\"args\":{\"x\":true}}");
  REQUIRE(r.ok());
  CHECK(r->id == Json(7));
  CHECK(r->verb == "status");
  CHECK(r->args.GetBool("x"));

  auto bare = ipc::ParseRequest("{\"verb\":\"help\"}");
  REQUIRE(bare.ok());
  CHECK(bare->id.is_null());
  CHECK(bare->args.is_object());
  CHECK(ipc::ParseRequest("{\"id\":\"abc\",\"verb\":\"x\",\"args\":null}").ok());

  struct Case {
    const char* frame;
    bool id_known;
  };
  for (Case c : {Case{"not json", false}, Case{"[1,2]", false}, Case{"\"status\"", false}, Case{"{}", false},
                 Case{"{\"id\":3}", true}, Case{"{\"id\":3,\"verb\":\"\"}", true}, Case{"{\"id\":3,\"verb\":5}", true},
                 Case{"{\"id\":3,\"verb\":\"x\",\"args\":[1]}", true}, Case{"{\"id\":{},\"verb\":\"x\"}", false},
                 Case{"{\"id\":3,\"verb\":\"x\"", false}}) {
    INFO(c.frame);
    Json id;
    auto bad = ipc::ParseRequest(c.frame, &id);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == base::kExitDataErr);
    CHECK(id == (c.id_known ? Json(3) : Json()));
  }
}

TEST_CASE("Replies encode as one line and decode back to results or errors") {
  std::string ok = ipc::EncodeReply(Json(1), Json::Obj({{"up", true}}));
  CHECK(ok == "{\"id\":1,\"ok\":true,\"result\":{\"up\":true}}\n");
  std::string err = ipc::EncodeReply(Json(2), base::Error{base::kExitUsage, "unknown verb \"x\"\nsecond line"});
  CHECK(err ==
        "{\"id\":2,\"ok\":false,\"error\":{\"code\":\"usage\",\"status\":64,\"message\":\"unknown verb "
        "\\\"x\\\"\\nsecond "
        "line\"}}\n");
  CHECK(err.find('\n') == err.size() - 1);  // messages with newlines stay one frame

  auto decoded = ipc::DecodeReply(*Json::Parse(ok));
  REQUIRE(decoded.ok());
  CHECK(decoded->GetBool("up"));
  auto decoded_err = ipc::DecodeReply(*Json::Parse(err));
  REQUIRE_FALSE(decoded_err.ok());
  CHECK(decoded_err.error().code == 64);
  CHECK(decoded_err.error().message == "unknown verb \"x\"\nsecond line");

  auto weird = ipc::DecodeReply(*Json::Parse("{\"ok\":false,\"error\":{\"status\":3,\"message\":\"m\"}}"));
  REQUIRE_FALSE(weird.ok());
  CHECK(weird.error().code == base::kExitSoftware);
  CHECK_FALSE(ipc::DecodeReply(*Json::Parse("{\"id\":1}")).ok());
  CHECK_FALSE(ipc::DecodeReply(Json(5)).ok());
}

TEST_CASE("Blank frames are recognised") {
  CHECK(ipc::IsBlankFrame(""));
  CHECK(ipc::IsBlankFrame(" \t "));
  CHECK_FALSE(ipc::IsBlankFrame(" {} "));
}
