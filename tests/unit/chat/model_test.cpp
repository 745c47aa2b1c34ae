#include <catch2/catch.hpp>

#include "lib/chat/model.hpp"

using namespace collab::chat;

TEST_CASE("ValidText accepts UTF-8 text and refuses bad bytes and controls", "[chat]") {
  CHECK(ValidText("hello"));
  CHECK(ValidText("こんにちは、世界 👍\nnext line\ttab"));
  CHECK(ValidText(""));
  CHECK_FALSE(ValidText(std::string("a\0b", 3)));
  CHECK_FALSE(ValidText("bell\x07"));
  CHECK_FALSE(ValidText("del\x7f"));
  CHECK_FALSE(ValidText("\xff"));
  CHECK_FALSE(ValidText("\xe3\x81"));              // truncated 3-byte sequence
  CHECK_FALSE(ValidText("\xc0\xaf"));              // overlong
  CHECK_FALSE(ValidText("\xed\xa0\x80"));          // UTF-16 surrogate
  CHECK_FALSE(ValidText("\xf4\x90\x80\x80"));      // above U+10FFFF
  CHECK_FALSE(ValidText("abc\xe3"));               // truncated at the end
}

TEST_CASE("ScanMentions finds users, @all and @here, not e-mail addresses", "[chat]") {
  auto s = ScanMentions("@Tanaka please ask @sato.k, cc @tanaka again; mail a@b.jp @all");
  REQUIRE(s.users == std::vector<std::string>{"tanaka", "sato.k"});
  CHECK(s.all);
  CHECK_FALSE(s.here);
  auto h = ScanMentions("@here 会議です。@山田 is not an id");
  CHECK(h.here);
  CHECK(h.users.empty());
  CHECK(ScanMentions("@").users.empty());
  CHECK(ScanMentions("@@@").users.empty());
  CHECK(ScanMentions("end @suzuki.").users == std::vector<std::string>{"suzuki"});
}

TEST_CASE("identifiers follow their rules", "[chat]") {
  CHECK(ValidUserId("tanaka"));
  CHECK(ValidUserId("t.yamada-2_x"));
  CHECK_FALSE(ValidUserId(""));
  CHECK_FALSE(ValidUserId(".tanaka"));
  CHECK_FALSE(ValidUserId("Tanaka"));  // normalise first
  CHECK(NormalizeUserId("Tanaka") == "tanaka");
  CHECK_FALSE(ValidUserId(std::string(65, 'a')));
  CHECK_FALSE(ValidUserId("田中"));
  std::string id = NewRoomId();
  CHECK(ValidRoomId(id));
  CHECK(NewRoomId() != id);
  CHECK_FALSE(ValidRoomId("r123"));
  CHECK_FALSE(ValidRoomId("x" + id.substr(1)));
  CHECK(ValidRoomName("総務課"));
  CHECK_FALSE(ValidRoomName("two\nlines"));
  CHECK_FALSE(ValidRoomName(std::string(81, 'a')));
  CHECK(ValidClientId("c-1"));
  CHECK_FALSE(ValidClientId("has space"));
  CHECK_FALSE(ValidClientId(std::string(129, 'a')));
}

TEST_CASE("room/seq keys sort by sequence and split back", "[chat]") {
  std::string a = MessageKey("rroom", 255), b = MessageKey("rroom", 256);
  CHECK(a < b);
  auto k = SplitRoomSeqKey(b);
  REQUIRE(k);
  CHECK(k->first == "rroom");
  CHECK(k->second == 256);
  CHECK_FALSE(SplitRoomSeqKey("short"));
  CHECK_FALSE(SplitRoomSeqKey(b + "x"));
  // A room id is length-prefixed, so one room's keys never interleave with a longer id's.
  CHECK(MessageKey("ab", 1).substr(0, 6) != MessageKey("abc", 1).substr(0, 6));
}

TEST_CASE("stored forms round-trip and bad stored data is an error", "[chat]") {
  Message m;
  m.room = "r";
  m.seq = 42;
  m.user = "tanaka";
  m.text = "テスト";
  m.client_id = "c1";
  m.ts = 1000;
  m.thread = 7;
  m.mentions = {"sato"};
  m.reactions["👍"] = {"sato", "suzuki"};
  m.history.push_back({900, "old"});
  m.pinned = true;
  auto back = Message::FromStored(m.ToStored().Dump());
  REQUIRE(back.ok());
  CHECK(back->text == "テスト");
  CHECK(back->reactions["👍"].size() == 2);
  CHECK(back->history.size() == 1);
  CHECK(back->pinned);
  CHECK(back->thread == 7);
  Json client = back->ToClient(3, false);
  CHECK(client.GetInt("reply_count") == 3);
  CHECK(client.Find("history") == nullptr);
  CHECK(back->ToClient(0, true).Find("history") != nullptr);
  CHECK_FALSE(Message::FromStored("not json").ok());
  CHECK_FALSE(Message::FromStored("[1]").ok());
  CHECK_FALSE(User::FromStored("{}").ok());
  CHECK_FALSE(Room::FromStored("{\"id\":\"bad\"}").ok());
  User u;
  u.id = "tanaka";
  u.password_hash = "secret-hash";
  CHECK(u.ToPublic().Dump().find("secret-hash") == std::string::npos);
  CHECK(User::FromStored(u.ToStored().Dump())->password_hash == "secret-hash");
}

TEST_CASE("CookieValue matches whole cookie names only", "[chat]") {
  CHECK(CookieValue("a=1; collab_session=tok; b=2", "collab_session") == "tok");
  CHECK(CookieValue("xcollab_session=evil", "collab_session").empty());
  CHECK(CookieValue("collab_session_x=evil; collab_session=ok", "collab_session") == "ok");
  CHECK(CookieValue("", "collab_session").empty());
  CHECK(CookieValue(";;=;collab_session", "collab_session").empty());
}
