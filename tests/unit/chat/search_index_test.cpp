#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "lib/chat/model.hpp"
#include "lib/chat/search_index.hpp"
#include "lib/store/db.hpp"

using namespace collab::chat;
namespace base = collab::base;
namespace store = collab::store;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/collab-search-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

// A database with the chat column families and an index over it, plus the messages the test
// stored (for the brute-force oracle).
struct Env {
  TempDir tmp;
  std::unique_ptr<store::Db> db;
  std::unique_ptr<SearchIndex> index;
  SearchIndex::Options opts;
  std::map<std::pair<std::string, uint64_t>, Message> live;

  explicit Env(size_t flush_docs = 65536) {
    opts.flush_docs = flush_docs;
    Reopen();
  }
  void Reopen() {
    index.reset();
    db.reset();
    store::Options o;
    o.column_families = ColumnFamilies();
    o.write_buffer_mb = 4;
    auto d = store::Db::Open(tmp.path + "/db", o);
    if (!d.ok()) FAIL(d.error().message);
    db = std::move(d).value();
    auto i = SearchIndex::Open(*db, opts);
    if (!i.ok()) FAIL(i.error().message);
    index = std::move(i).value();
  }
  void Commit(uint64_t ticket, store::WriteBatch& b) {
    auto st = db->Write(std::move(b), false);  // durability is the store's business, not tested here
    REQUIRE(st.ok());
    index->Committed(ticket, true);
  }
  Message Post(const std::string& room, uint64_t seq, const std::string& user, const std::string& text, int64_t ts) {
    Message m;
    m.room = room;
    m.seq = seq;
    m.user = user;
    m.text = text;
    m.ts = ts;
    store::WriteBatch b;
    b.Put(kCfMessages, MessageKey(room, seq), m.ToStored().Dump());
    uint64_t t = index->IndexMessage(m, b);
    Commit(t, b);
    live[{room, seq}] = m;
    return m;
  }
  void Edit(const std::string& room, uint64_t seq, const std::string& text) {
    Message before = live.at({room, seq});
    Message after = before;
    after.text = text;
    store::WriteBatch b;
    b.Put(kCfMessages, MessageKey(room, seq), after.ToStored().Dump());
    uint64_t t = index->UpdateMessage(before, after, b);
    Commit(t, b);
    live[{room, seq}] = after;
  }
  void Delete(const std::string& room, uint64_t seq) {
    Message before = live.at({room, seq});
    Message after = before;
    after.deleted = true;
    after.text.clear();
    store::WriteBatch b;
    b.Put(kCfMessages, MessageKey(room, seq), after.ToStored().Dump());
    uint64_t t = index->UpdateMessage(before, after, b);
    Commit(t, b);
    live.erase({room, seq});
  }
  void Remove(const std::string& room, const std::vector<uint64_t>& seqs) {
    store::WriteBatch b;
    for (uint64_t s : seqs) b.Delete(kCfMessages, MessageKey(room, s));
    uint64_t t = index->RemoveMessages(room, seqs, b);
    Commit(t, b);
    for (uint64_t s : seqs) live.erase({room, s});
  }

  SearchIndex::Result Find(SearchIndex::Query q) {
    auto r = index->Search(q);
    if (!r.ok()) FAIL(r.error().message);
    return std::move(r).value();
  }
  SearchIndex::Result Find(const std::string& text, std::vector<std::string> rooms) {
    SearchIndex::Query q;
    q.text = text;
    q.rooms = std::move(rooms);
    return Find(q);
  }
  // The brute-force answer: substring of the normalised text, newest first.
  SearchIndex::Result Expect(const SearchIndex::Query& q) {
    std::string nq = SearchIndex::Normalize(q.text);
    std::set<std::string> rooms(q.rooms.begin(), q.rooms.end());
    std::vector<const Message*> hits;
    for (const auto& [k, m] : live) {
      if (!rooms.count(m.room) || (!q.user.empty() && m.user != q.user)) continue;
      if (m.ts < q.from_ms || (q.to_ms && m.ts >= q.to_ms)) continue;
      if (SearchIndex::Normalize(m.text).find(nq) != std::string::npos) hits.push_back(&m);
    }
    std::sort(hits.begin(), hits.end(), [](const Message* a, const Message* b) { return a->ts > b->ts; });
    SearchIndex::Result r;
    r.total = hits.size();
    for (size_t i = 0; i < hits.size() && i < q.limit; ++i)
      r.hits.push_back({hits[i]->room, hits[i]->seq, hits[i]->ts, hits[i]->user});
    return r;
  }
};

std::vector<uint64_t> Seqs(const SearchIndex::Result& r) {
  std::vector<uint64_t> v;
  for (const auto& h : r.hits) v.push_back(h.seq);
  return v;
}

void SameAnswer(const SearchIndex::Result& got, const SearchIndex::Result& want, const std::string& what) {
  INFO(what);
  CHECK(got.total == want.total);
  REQUIRE(got.hits.size() == want.hits.size());
  for (size_t i = 0; i < got.hits.size(); ++i) {
    CHECK(got.hits[i].room == want.hits[i].room);
    CHECK(got.hits[i].seq == want.hits[i].seq);
    CHECK(got.hits[i].ts == want.hits[i].ts);
    CHECK(got.hits[i].user == want.hits[i].user);
  }
}

const std::string kR1 = "raaaaaaaaaaaaaaaa";
const std::string kR2 = "rbbbbbbbbbbbbbbbb";

// The fixed corpus most cases use (room kR1, seq = position, ts = 1000 * seq).
void FillBasic(Env& e) {
  const char* texts[] = {
      "東京都で会議があります",                           // 1
      "京東の話",                                         // 2
      "明日は京都へ行く",                                 // 3
      "東京タワー",                                       // 4
      "Ｅｒｒｏｒ: disk full at https://example.com/a/b?c=1 #42",  // 5
      "deploy failed on server-01",                       // 6
      "Deploy \n\t FAILED again",                         // 7
      "2026年3月15日 14:30 定例",                         // 8
      "の",                                               // 9
      "東京と京都",                                       // 10
      "abxab",                                            // 11
      "xababx",                                           // 12
  };
  uint64_t seq = 0;
  for (const char* t : texts) {
    ++seq;
    e.Post(kR1, seq, seq % 2 ? "alice" : "bob", t, 1000 * static_cast<int64_t>(seq));
  }
}

}  // namespace

TEST_CASE("Normalize folds ASCII case, full-width ASCII and blanks, nothing else", "[search]") {
  CHECK(SearchIndex::Normalize("ＡＢＣ１２３ｘｙｚ") == "abc123xyz");
  CHECK(SearchIndex::Normalize("Hello　World") == "hello world");  // U+3000
  CHECK(SearchIndex::Normalize("  a \t\n b  ") == "a b");
  CHECK(SearchIndex::Normalize("！＃＄％") == "!#$%");
  CHECK(SearchIndex::Normalize("カタカナ ひらがな") == "カタカナ ひらがな");
  CHECK(SearchIndex::Normalize("ｶﾀｶﾅ") == "ｶﾀｶﾅ");  // half-width katakana stays
  CHECK(SearchIndex::Normalize("ÄÖ É") == "ÄÖ É");     // only ASCII case
  CHECK(SearchIndex::Normalize("a\xff" "b") == "a\xef\xbf\xbd" "b");
  CHECK(SearchIndex::Normalize("") == "");
  for (std::string s : {"ＡＢＣ　ｄｅｆ", " x  y ", "東京\n都", "a\xc0\xaf"})
    CHECK(SearchIndex::Normalize(SearchIndex::Normalize(s)) == SearchIndex::Normalize(s));
}

TEST_CASE("query plans cover every character", "[search]") {
  auto plan = SearchIndex::PlanQuery(U"東京都庁舎");
  REQUIRE(plan.size() == 3);
  CHECK(plan[0].offset == 0);
  CHECK(plan[1].offset == 2);
  CHECK(plan[2].offset == 3);
  CHECK(plan[2].term == SearchIndex::Bigram(U'庁', U'舎'));
  CHECK(SearchIndex::PlanQuery(U"東京").size() == 1);
  CHECK(SearchIndex::PlanQuery(U"東").empty());
}

TEST_CASE("bad queries are data errors, not crashes", "[search]") {
  Env e;
  FillBasic(e);
  auto err = [&](SearchIndex::Query q) {
    auto r = e.index->Search(q);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == base::kExitDataErr);
    return r.error().message;
  };
  SearchIndex::Query q;
  q.rooms = {kR1};
  q.text = "";
  CHECK(err(q).find("empty") != std::string::npos);
  q.text = " \t　 ";
  CHECK(err(q).find("empty") != std::string::npos);
  q.text = "abc\xff";
  CHECK(err(q).find("UTF-8") != std::string::npos);
  q.text = "\xe3\x81";
  CHECK(err(q).find("UTF-8") != std::string::npos);
  q.text = std::string(300, 'a');
  CHECK(err(q).find("characters") != std::string::npos);
  q.text = std::string(5000, 'a');
  CHECK(err(q).find("bytes") != std::string::npos);
  q.text = "ok";
  q.limit = 100000;
  CHECK(err(q).find("limit") != std::string::npos);
  q.limit = 20;
  q.from_ms = 10;
  q.to_ms = 5;
  CHECK(err(q).find("range") != std::string::npos);
}

TEST_CASE("Japanese queries of 1, 2, 3 and more characters are substring matches", "[search]") {
  Env e;
  FillBasic(e);
  auto seqs = [&](const std::string& q) { return Seqs(e.Find(q, {kR1})); };
  CHECK(seqs("東京都") == std::vector<uint64_t>{1});
  CHECK(seqs("京東") == std::vector<uint64_t>{2});         // "東京都" has 東京 and 京 but not 京東
  CHECK(seqs("東京") == std::vector<uint64_t>{10, 4, 1});
  CHECK(seqs("京都") == std::vector<uint64_t>{10, 3, 1});  // 東京都 contains 京都
  CHECK(seqs("京") == std::vector<uint64_t>{10, 4, 3, 2, 1});
  CHECK(seqs("都") == std::vector<uint64_t>{10, 3, 1});
  CHECK(seqs("の") == std::vector<uint64_t>{9, 2});       // a one-character message, and mid-text
  CHECK(seqs("ー") == std::vector<uint64_t>{4});          // last character of a text
  CHECK(seqs("東京都で会議") == std::vector<uint64_t>{1});
  CHECK(seqs("会議があります") == std::vector<uint64_t>{1});
  CHECK(seqs("3月15日") == std::vector<uint64_t>{8});
  CHECK(seqs("量子猫").empty());
  CHECK(e.Find("量子猫", {kR1}).total == 0);
}

TEST_CASE("bigrams present but not adjacent are rejected", "[search]") {
  Env e;
  FillBasic(e);
  // 東京と京都 (10) has both 東京 and 京都 but not 東京都.
  CHECK(Seqs(e.Find("東京都", {kR1})) == std::vector<uint64_t>{1});
  // abxab (11) has "ab" twice but not "abab"; xababx (12) has it.
  CHECK(Seqs(e.Find("abab", {kR1})) == std::vector<uint64_t>{12});
  CHECK(Seqs(e.Find("bab", {kR1})) == std::vector<uint64_t>{12});
  CHECK(Seqs(e.Find("xab", {kR1})) == std::vector<uint64_t>{12, 11});
}

TEST_CASE("ASCII is case-insensitive, full-width folded, URLs and numbers match", "[search]") {
  Env e;
  FillBasic(e);
  auto seqs = [&](const std::string& q) { return Seqs(e.Find(q, {kR1})); };
  CHECK(seqs("error") == std::vector<uint64_t>{5});
  CHECK(seqs("ERROR") == std::vector<uint64_t>{5});
  CHECK(seqs("ｅｒｒｏｒ") == std::vector<uint64_t>{5});
  CHECK(seqs("https://example.com/a/b?c=1") == std::vector<uint64_t>{5});
  CHECK(seqs("#42") == std::vector<uint64_t>{5});
  CHECK(seqs("14:30") == std::vector<uint64_t>{8});
  CHECK(seqs("2026") == std::vector<uint64_t>{8});
  CHECK(seqs("server-01") == std::vector<uint64_t>{6});
  // Phrases: spaces are part of the substring (runs of blanks count as one space).
  CHECK(seqs("deploy failed") == std::vector<uint64_t>{7, 6});
  CHECK(seqs("Deploy   Failed") == std::vector<uint64_t>{7, 6});
  CHECK(seqs("failed on") == std::vector<uint64_t>{6});
  CHECK(seqs("deployfailed").empty());
  CHECK(seqs("x").size() == 3);  // xababx, abxab, ...
}

TEST_CASE("rooms, author and date filters with exact totals, newest first", "[search]") {
  Env e;
  for (uint64_t i = 1; i <= 60; ++i) {
    std::string room = i % 3 == 0 ? kR2 : kR1;
    std::string user = i % 4 == 0 ? "carol" : "dave";
    e.Post(room, i, user, "週次の会議メモ その" + std::to_string(i), 10'000 + static_cast<int64_t>(i) * 100);
  }
  e.Post(kR1, 61, "dave", "関係ない", 20'000);
  SearchIndex::Query q;
  q.text = "会議";
  q.rooms = {kR1};
  q.limit = 5;
  auto r = e.Find(q);
  CHECK(r.total == 40);
  CHECK(Seqs(r) == std::vector<uint64_t>{59, 58, 56, 55, 53});
  q.rooms = {kR1, kR2, "runknown0000000000"};
  r = e.Find(q);
  CHECK(r.total == 60);
  CHECK(Seqs(r) == std::vector<uint64_t>{60, 59, 58, 57, 56});
  q.rooms = {};
  CHECK(e.Find(q).total == 0);
  q.rooms = {kR1, kR2};
  q.user = "carol";
  r = e.Find(q);
  CHECK(r.total == 15);
  CHECK(r.hits[0].seq == 60);
  CHECK(r.hits[0].user == "carol");
  q.user = "nobody";
  CHECK(e.Find(q).total == 0);
  q.user.clear();
  q.from_ms = 10'000 + 10 * 100;  // seq 10 ..
  q.to_ms = 10'000 + 20 * 100;    // .. 19
  r = e.Find(q);
  CHECK(r.total == 10);
  CHECK(r.hits.front().seq == 19);
  CHECK(r.hits.back().seq == 15);
  q.limit = 0;
  r = e.Find(q);
  CHECK(r.total == 10);
  CHECK(r.hits.empty());
  q.from_ms = q.to_ms = 0;
  q.limit = 1000;
  r = e.Find(q);
  CHECK(r.hits.size() == 60);
  for (size_t i = 1; i < r.hits.size(); ++i) CHECK(r.hits[i - 1].ts > r.hits[i].ts);
}

TEST_CASE("edits, deletes and retention keep the index exact", "[search]") {
  Env e(/*flush_docs=*/4);  // segments get involved, not only the tail
  FillBasic(e);
  CHECK(Seqs(e.Find("東京都", {kR1})) == std::vector<uint64_t>{1});
  e.Edit(kR1, 1, "大阪府で会議があります");
  CHECK(e.Find("東京都", {kR1}).total == 0);
  auto r = e.Find("大阪", {kR1});
  REQUIRE(r.total == 1);
  CHECK(r.hits[0].seq == 1);
  CHECK(r.hits[0].ts == 1000);  // an edit keeps the message's time
  e.Edit(kR1, 1, "東京都にもどした");
  CHECK(e.Find("大阪", {kR1}).total == 0);
  CHECK(Seqs(e.Find("東京都", {kR1})) == std::vector<uint64_t>{1});
  e.Delete(kR1, 4);
  CHECK(Seqs(e.Find("東京", {kR1})) == std::vector<uint64_t>{10, 1});
  e.Remove(kR1, {1, 2, 3});
  CHECK(Seqs(e.Find("東京", {kR1})) == std::vector<uint64_t>{10});
  CHECK(Seqs(e.Find("京", {kR1})) == std::vector<uint64_t>{10});
  // Unchanged text (a reaction, a pin) is no work.
  Message m = e.live.at({kR1, 10});
  Message pinned = m;
  pinned.pinned = true;
  store::WriteBatch b;
  CHECK(e.index->UpdateMessage(m, pinned, b) == 0);

  // A failed write leaves the index as it was.
  Message before = e.live.at({kR1, 10});
  Message after = before;
  after.text = "書き込み失敗";
  store::WriteBatch fb;
  uint64_t t = e.index->UpdateMessage(before, after, fb);
  CHECK(e.Find("書き込み", {kR1}).total == 0);  // not visible before the write completes
  e.index->Committed(t, false);
  CHECK(e.Find("書き込み", {kR1}).total == 0);
  CHECK(Seqs(e.Find("東京と京都", {kR1})) == std::vector<uint64_t>{10});
  e.Edit(kR1, 10, "東京と京都と名古屋");  // the slot still finds the live document
  CHECK(Seqs(e.Find("名古屋", {kR1})) == std::vector<uint64_t>{10});
  CHECK(e.Find("東京と京都", {kR1}).total == 1);

  for (const char* q : {"東京", "京", "の", "error", "deploy failed", "abab", "名古屋"}) {
    SearchIndex::Query sq;
    sq.text = q;
    sq.rooms = {kR1, kR2};
    SameAnswer(e.Find(sq), e.Expect(sq), q);
  }
  REQUIRE(e.index->Compact().ok());
  for (const char* q : {"東京", "京", "の", "error", "deploy failed", "abab", "名古屋"}) {
    SearchIndex::Query sq;
    sq.text = q;
    sq.rooms = {kR1, kR2};
    SameAnswer(e.Find(sq), e.Expect(sq), std::string("after compact: ") + q);
  }
  auto stats = e.index->Stats();
  CHECK(stats.GetInt("docs") == static_cast<int64_t>(e.live.size()));
}

TEST_CASE("reopening gives the same answers (tail, segments, compacted)", "[search]") {
  for (size_t flush : {size_t{3}, size_t{1000}}) {
    Env e(flush);
    FillBasic(e);
    e.Edit(kR1, 3, "明後日は京都と奈良へ");
    e.Delete(kR1, 6);
    e.Remove(kR1, {12});
    std::vector<std::string> queries = {"東京都", "京都", "奈良", "の", "deploy", "abab", "xab", "ー", "14:30"};
    std::vector<SearchIndex::Result> before;
    for (const auto& q : queries) before.push_back(e.Find(q, {kR1}));
    e.Reopen();
    for (size_t i = 0; i < queries.size(); ++i) SameAnswer(e.Find(queries[i], {kR1}), before[i], queries[i]);
    REQUIRE(e.index->Flush().ok());
    REQUIRE(e.index->Compact().ok());
    e.Reopen();
    for (size_t i = 0; i < queries.size(); ++i) SameAnswer(e.Find(queries[i], {kR1}), before[i], queries[i]);
    // Writing after a reopen continues the document ids.
    e.Post(kR1, 100, "alice", "奈良の鹿", 500'000);
    CHECK(Seqs(e.Find("奈良", {kR1})) == std::vector<uint64_t>{100, 3});
    e.Reopen();
    CHECK(Seqs(e.Find("奈良", {kR1})) == std::vector<uint64_t>{100, 3});
  }
}

TEST_CASE("first open indexes the messages already stored", "[search]") {
  TempDir tmp;
  store::Options o;
  o.column_families = ColumnFamilies();
  {
    auto db = store::Db::Open(tmp.path + "/db", o);
    REQUIRE(db.ok());
    store::WriteBatch b;
    for (uint64_t i = 1; i <= 5; ++i) {
      Message m;
      m.room = kR1;
      m.seq = i;
      m.user = "alice";
      m.text = "過去のメッセージ " + std::to_string(i);
      m.ts = static_cast<int64_t>(i);
      m.deleted = i == 5;
      b.Put(kCfMessages, MessageKey(m.room, m.seq), m.ToStored().Dump());
    }
    REQUIRE((*db)->Write(std::move(b), true).ok());
  }
  auto db = store::Db::Open(tmp.path + "/db", o);
  REQUIRE(db.ok());
  auto idx = SearchIndex::Open(**db);
  REQUIRE(idx.ok());
  SearchIndex::Query q;
  q.text = "メッセージ";
  q.rooms = {kR1};
  auto r = (*idx)->Search(q);
  REQUIRE(r.ok());
  CHECK(r->total == 4);
  CHECK(r->hits[0].seq == 4);
}

TEST_CASE("randomized: the index agrees with a brute-force scan", "[search]") {
  std::mt19937 rng(12345);
  Env e(/*flush_docs=*/500);
  const std::vector<std::string> alphabet = {"東", "京", "都", "の", "会", "議", "ア", "イ", "a", "B", "b",
                                             "1", " ", "ー", "ｂ", "Ａ", "-", "/", "。"};
  const std::vector<std::string> rooms = {"r0000000000000000", "r1111111111111111", "r2222222222222222",
                                          "r3333333333333333", "r4444444444444444"};
  const std::vector<std::string> users = {"u1", "u2", "u3"};
  auto gen = [&](size_t maxlen) {
    std::string s;
    size_t n = 1 + rng() % maxlen;
    for (size_t i = 0; i < n; ++i) s += alphabet[rng() % alphabet.size()];
    return s;
  };
  std::map<std::string, uint64_t> seq;
  int64_t ts = 1;
  for (int i = 0; i < 3000; ++i) {
    const auto& room = rooms[std::min<size_t>(rng() % 8, rooms.size() - 1)];  // skewed sizes
    e.Post(room, ++seq[room], users[rng() % users.size()], gen(24), ts += 1 + rng() % 5);
    if (i % 97 == 0 && !e.live.empty()) {  // edit or delete something older
      auto it = e.live.begin();
      std::advance(it, rng() % e.live.size());
      auto key = it->first;
      if (rng() % 2) e.Edit(key.first, key.second, gen(24));
      else e.Delete(key.first, key.second);
    }
    if (i == 2000) {  // retention of the oldest messages of one room
      std::vector<uint64_t> old;
      for (uint64_t s = 1; s <= 50; ++s)
        if (e.live.count({rooms[0], s})) old.push_back(s);
      e.Remove(rooms[0], old);
    }
    if (i == 1500) e.Reopen();
  }
  auto check_all = [&](const std::string& phase) {
    for (int k = 0; k < 300; ++k) {
      SearchIndex::Query q;
      if (k % 3 == 0) {
        q.text = gen(1);
      } else {  // a piece of a stored text, so most queries hit
        auto it = e.live.begin();
        std::advance(it, rng() % e.live.size());
        std::string n = SearchIndex::Normalize(it->second.text);
        q.text = gen(5);
        if (!n.empty() && k % 2) {
          size_t a = rng() % n.size(), len = 1 + rng() % 12;
          std::string piece = n.substr(a, len);
          if (SearchIndex::NormalizeQuery(piece).ok()) q.text = piece;
        }
      }
      if (!SearchIndex::NormalizeQuery(q.text).ok()) continue;
      for (const auto& r : rooms)
        if (rng() % 3) q.rooms.push_back(r);
      if (rng() % 4 == 0) q.user = users[rng() % users.size()];
      if (rng() % 4 == 0) {
        q.from_ms = static_cast<int64_t>(rng() % ts);
        q.to_ms = q.from_ms + static_cast<int64_t>(rng() % ts);
      }
      q.limit = 1 + rng() % 25;
      SameAnswer(e.Find(q), e.Expect(q), phase + " query '" + q.text + "'");
    }
  };
  check_all("live");
  e.Reopen();
  check_all("reopened");
  REQUIRE(e.index->Compact().ok());
  check_all("compacted");
}
