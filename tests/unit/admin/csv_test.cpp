// CSV reading for `user import` (RFC 4180 plus BOM/LF tolerance), the user-row checks, and the
// time arguments of retention/audit.
#include "lib/admin/csv.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "lib/admin/timespec.hpp"
#include "lib/admin/tty.hpp"

using namespace collab::admin;

namespace {

std::vector<std::vector<std::string>> Fields(const CsvParse& p) {
  std::vector<std::vector<std::string>> out;
  for (const auto& r : p.records) out.push_back(r.fields);
  return out;
}

}  // namespace

TEST_CASE("csv: plain records, CRLF and LF, last line without a break", "[csv]") {
  auto p = ParseCsv("a,b,c\r\n1,2,3\n4,,6");
  REQUIRE(p.problems.empty());
  CHECK(Fields(p) == std::vector<std::vector<std::string>>{{"a", "b", "c"}, {"1", "2", "3"}, {"4", "", "6"}});
  CHECK(p.records[0].line == 1);
  CHECK(p.records[2].line == 3);
}

TEST_CASE("csv: quoted fields hold commas, quotes and line breaks", "[csv]") {
  auto p = ParseCsv("id,name\n\"x\",\"Yamada, \"\"Taro\"\"\"\n\"y\",\"two\r\nlines\"\nz,last\n");
  REQUIRE(p.problems.empty());
  REQUIRE(p.records.size() == 4);
  CHECK(p.records[1].fields[1] == "Yamada, \"Taro\"");
  CHECK(p.records[2].fields[1] == "two\r\nlines");
  CHECK(p.records[2].line == 3);
  CHECK(p.records[3].line == 5);  // the quoted line break counts
}

TEST_CASE("csv: BOM is skipped, blank lines are not records, trailing comma is an empty field", "[csv]") {
  auto p = ParseCsv("\xEF\xBB\xBFid,name\n\n\r\nabc,\n");
  REQUIRE(p.problems.empty());
  CHECK(Fields(p) == std::vector<std::vector<std::string>>{{"id", "name"}, {"abc", ""}});
  CHECK(p.records[1].line == 4);
  CHECK(ParseCsv("").records.empty());
  CHECK(ParseCsv("\xEF\xBB\xBF").records.empty());
}

TEST_CASE("csv: malformed records are reported with their line and skipped", "[csv]") {
  auto p = ParseCsv("a,b\nx\"y,1\n\"ok\",2\n\"bad\"tail,3\nfine,4\n");
  CHECK(Fields(p) == std::vector<std::vector<std::string>>{{"a", "b"}, {"ok", "2"}, {"fine", "4"}});
  REQUIRE(p.problems.size() == 2);
  CHECK(p.problems[0].line == 2);
  CHECK(p.problems[0].message.find("quote inside an unquoted field") != std::string::npos);
  CHECK(p.problems[1].line == 4);
  CHECK(p.problems[1].message.find("after a closing quote") != std::string::npos);
}

TEST_CASE("csv: an unterminated quote swallows the rest and is one problem", "[csv]") {
  auto p = ParseCsv("a,b\n1,\"never closed\n2,3\n");
  CHECK(p.records.size() == 1);
  REQUIRE(p.problems.size() == 1);
  CHECK(p.problems[0].line == 2);
  CHECK(p.problems[0].message.find("not closed") != std::string::npos);
}

TEST_CASE("csv: invalid UTF-8, too many fields, huge fields", "[csv]") {
  auto p = ParseCsv("a\n\xff\xfe\nok\n\xe3\x81\n\xed\xa0\x80\n\xc0\xaf\n");
  CHECK(Fields(p) == std::vector<std::vector<std::string>>{{"a"}, {"ok"}});
  REQUIRE(p.problems.size() == 4);
  CHECK(p.problems[0].line == 2);
  CHECK(p.problems[0].message.find("UTF-8") != std::string::npos);
  std::string many(kMaxCsvFields + 1, ',');
  auto m = ParseCsv(many + "\nx\n");
  CHECK(m.problems.size() == 1);
  CHECK(Fields(m) == std::vector<std::vector<std::string>>{{"x"}});
  auto h = ParseCsv(std::string(kMaxCsvFieldBytes + 10, 'a') + "\n\"" + std::string(kMaxCsvFieldBytes + 10, 'b') +
                    "\"\ny\n");
  CHECK(h.problems.size() == 2);
  CHECK(Fields(h) == std::vector<std::vector<std::string>>{{"y"}});
}

TEST_CASE("csv: Japanese text passes through unchanged", "[csv]") {
  auto p = ParseCsv("id,name,department\nyamada,山田 太郎,営業部\n");
  REQUIRE(p.problems.empty());
  CHECK(p.records[1].fields[1] == "山田 太郎");
  CHECK(p.records[1].fields[2] == "営業部");
}

TEST_CASE("user csv: header in any order, defaults, ids folded", "[csv]") {
  auto u = ParseUserCsv("\xEF\xBB\xBFName,ID,Role,password\r\n佐藤 花子,Sato,,s3cret\r\n鈴木 一郎,suzuki,admin,\r\n");
  REQUIRE(u.header_ok);
  REQUIRE(u.problems.empty());
  REQUIRE(u.rows.size() == 2);
  CHECK(u.rows[0].id == "sato");
  CHECK(u.rows[0].name == "佐藤 花子");
  CHECK(u.rows[0].role == "user");
  CHECK(u.rows[0].has_password);
  CHECK(u.rows[0].password == "s3cret");
  CHECK(u.rows[0].line == 2);
  CHECK(u.rows[1].role == "admin");
  CHECK_FALSE(u.rows[1].has_password);
}

TEST_CASE("user csv: bad rows are problems with line numbers, good rows stay", "[csv]") {
  auto u = ParseUserCsv(
      "id,name,department,email,role\n"
      "tanaka,田中,総務部,t@example.jp,user\n"
      "-bad,x,,,user\n"
      "kato,加藤,,,superuser\n"
      "short,only\n"
      "tanaka,again,,,user\n"
      ",empty,,,user\n"
      "ito,伊藤,,,\n");
  REQUIRE(u.header_ok);
  std::vector<std::string> ids;
  for (const auto& r : u.rows) ids.push_back(r.id);
  CHECK(ids == std::vector<std::string>{"tanaka", "ito"});
  std::vector<size_t> lines;
  for (const auto& p : u.problems) lines.push_back(p.line);
  CHECK(lines == std::vector<size_t>{3, 4, 5, 6, 7});
  CHECK(u.problems[1].message.find("role") != std::string::npos);
  CHECK(u.problems[2].message.find("fields") != std::string::npos);
  CHECK(u.problems[3].message.find("twice") != std::string::npos);
}

TEST_CASE("user csv: bad headers reject the file", "[csv]") {
  CHECK_FALSE(ParseUserCsv("").header_ok);
  CHECK_FALSE(ParseUserCsv("name,email\nx,y\n").header_ok);    // no id
  CHECK_FALSE(ParseUserCsv("id,nickname\nx,y\n").header_ok);   // unknown column
  CHECK_FALSE(ParseUserCsv("id,name,id\nx,y,z\n").header_ok);  // twice
  CHECK_FALSE(ParseUserCsv("\"id,name\nx,y\n").header_ok);     // broken first record
  auto u = ParseUserCsv("id,nickname\n");
  REQUIRE(!u.problems.empty());
  CHECK(u.problems[0].line == 1);
  CHECK(u.problems[0].message.find("nickname") != std::string::npos);
}

TEST_CASE("dates: YYYY-MM-DD and RFC 3339", "[time]") {
  auto t = ParseDate("2026-11-25T03:00:00Z");
  REQUIRE(t.ok());
  CHECK(*t == 1795575600000LL);
  CHECK(*ParseDate("2026-11-25T12:00:00+09:00") == 1795575600000LL);
  CHECK(*ParseDate("2026-11-25 03:00:00.250Z") == 1795575600250LL);
  CHECK(ParseDate("2026-11-25").ok());
  for (const char* bad : {"", "2026", "2026-13-01", "2026-02-30", "2026-11-25T03:00:00", "2026-11-25T25:00:00Z",
                          "2026-11-25T03:00Z", "yesterday", "2026-11-25T03:00:00+0900", "2026-11-25x"}) {
    INFO(bad);
    auto r = ParseDate(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == 64);
  }
}

TEST_CASE("since: durations back from now, or a date", "[time]") {
  const int64_t now = 1795575600000LL;
  CHECK(*ParseSince("24h", now) == now - 86400000LL);
  CHECK(*ParseSince("7d", now) == now - 7 * 86400000LL);
  CHECK(*ParseSince("30m", now) == now - 1800000LL);
  CHECK(*ParseSince("2w", now) == now - 14 * 86400000LL);
  CHECK(*ParseSince("2026-11-25T03:00:00Z", now) == now);
  CHECK_FALSE(ParseSince("h", now).ok());
  CHECK_FALSE(ParseSince("-1d", now).ok());
  CHECK_FALSE(ParseSince("10x", now).ok());
}

TEST_CASE("display width counts East Asian characters as two columns", "[tty]") {
  CHECK(DisplayWidth("abc") == 3);
  CHECK(DisplayWidth("山田 太郎") == 9);
  CHECK(DisplayWidth("ｱｲｳ") == 3);  // half-width katakana
  CHECK(HumanBytes(512) == "512 B");
  CHECK(HumanBytes(3 * 1024 * 1024) == "3.0 MiB");
}
