#include "lib/chat/search_index.hpp"

#include <algorithm>
#include <functional>
#include <queue>
#include <utility>

#include "lib/store/db.hpp"
#include "lib/store/keys.hpp"

namespace collab::chat {
namespace {

using base::MakeError;
using base::Status;

constexpr char32_t kEnd = 0;  // pairs with the last character; never in normalised text
constexpr uint32_t kNoDoc = 0;

// Keys of kCfSearch (first byte).
constexpr char kKeyNextDoc = 'n';  // -> U32 next document id
constexpr char kKeyNextSeg = 's';  // -> U32 next segment id
constexpr char kKeyBuilt = 'v';    // -> "1" once the index covers kCfMessages
constexpr char kKeyRoom = 'R';     // R U32 -> room id
constexpr char kKeyUser = 'U';     // U U32 -> user id
constexpr char kKeyDoc = 'd';      // d U32 doc -> tail document: varints room user seq zz(ts), text
constexpr char kKeyBlock = 'b';    // b U32 first doc -> flushed document table
constexpr char kKeyGone = 'x';     // x U32 doc -> "" (removed or edited away)
constexpr char kKeyPost = 'p';     // p term(6) U32 segment -> posting list

std::string Key1(char tag) { return std::string(1, tag); }
std::string KeyU32(char tag, uint32_t v) {
  std::string k(1, tag);
  store::AppendU32BE(k, v);
  return k;
}
void AppendTerm(std::string& k, uint64_t term) {
  for (int shift = 40; shift >= 0; shift -= 8) k.push_back(static_cast<char>((term >> shift) & 0xff));
}
std::string PostKey(uint64_t term, uint32_t seg) {
  std::string k(1, kKeyPost);
  AppendTerm(k, term);
  store::AppendU32BE(k, seg);
  return k;
}
std::string PostPrefix(uint64_t term) {
  std::string k(1, kKeyPost);
  AppendTerm(k, term);
  return k;
}

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
inline bool GetVarint(const uint8_t*& p, const uint8_t* end, uint64_t& v) {
  if (p < end && *p < 0x80) {
    v = *p++;
    return true;
  }
  v = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    uint8_t b = *p++;
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (b < 0x80) return true;
  }
  return false;
}
uint64_t ZigZag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

const uint8_t* U8(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// One code point at s[i]; false (advancing one byte) on anything that is not shortest-form
// UTF-8 of a scalar value.
bool DecodeUtf8(std::string_view s, size_t& i, char32_t& cp) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    cp = c;
    ++i;
    return true;
  }
  int n;
  char32_t v;
  if ((c & 0xe0) == 0xc0) { n = 1; v = c & 0x1f; }
  else if ((c & 0xf0) == 0xe0) { n = 2; v = c & 0x0f; }
  else if ((c & 0xf8) == 0xf0) { n = 3; v = c & 0x07; }
  else { ++i; return false; }
  if (s.size() - i <= static_cast<size_t>(n)) { ++i; return false; }
  for (int k = 1; k <= n; ++k) {
    auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xc0) != 0x80) { ++i; return false; }
    v = (v << 6) | (cc & 0x3f);
  }
  static constexpr char32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
  if (v < kMin[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) { ++i; return false; }
  cp = v;
  i += n + 1;
  return true;
}

void AppendUtf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
  }
}

bool IsSpace(char32_t c) {
  if (c <= 0x20 || c == 0x7f) return true;  // all C0 controls count as blanks
  switch (c) {
    case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029: case 0x202f: case 0x205f: case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200a;
  }
}

char32_t Fold(char32_t c) {
  if (c >= 0xff01 && c <= 0xff5e) c -= 0xfee0;
  if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
  return c;
}

// false only in strict mode on invalid UTF-8.
bool NormalizeTo(std::string_view s, std::u32string& out, bool strict) {
  out.clear();
  bool pending_space = false;
  size_t i = 0;
  while (i < s.size()) {
    char32_t c;
    if (!DecodeUtf8(s, i, c)) {
      if (strict) return false;
      c = 0xfffd;
    }
    if (IsSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) {
      out.push_back(U' ');
      pending_space = false;
    }
    out.push_back(Fold(c));
  }
  return true;
}

// (term, position) pairs of a normalised text, grouped by term with ascending positions.
void Tokenize(const std::u32string& t, std::vector<std::pair<uint64_t, uint32_t>>& out) {
  out.clear();
  out.reserve(t.size());
  for (size_t i = 0; i < t.size(); ++i)
    out.emplace_back(SearchIndex::Bigram(t[i], i + 1 < t.size() ? t[i + 1] : kEnd), static_cast<uint32_t>(i));
  std::sort(out.begin(), out.end());
}

// A posting list: per document varint((id delta << 2) | n) where n (1..3) is the byte length
// of its positions, or 0 followed by varint(length); the positions (first absolute, then
// deltas) are in a separate section so that id-only scans never touch them. Deltas start from
// 0, so the first id is absolute. Stored form: varint(ndocs) varint(len(docs)) docs positions.
struct ListBuilder {
  std::string docs;
  std::string pos;
  uint32_t ndocs = 0;
  uint32_t last = 0;

  void Add(uint32_t doc, const uint32_t* positions, size_t n) {
    size_t before = pos.size();
    uint32_t prev = 0;
    for (size_t i = 0; i < n; ++i) {
      PutVarint(pos, positions[i] - prev);
      prev = positions[i];
    }
    AddRaw(doc, pos.size() - before);
  }
  // Positions already appended to pos (len bytes).
  void AddRaw(uint32_t doc, size_t len) {
    uint64_t delta = doc - last;
    if (len >= 1 && len <= 3) {
      PutVarint(docs, (delta << 2) | len);
    } else {
      PutVarint(docs, delta << 2);
      PutVarint(docs, len);
    }
    last = doc;
    ++ndocs;
  }
  std::string Encode() const {
    std::string v;
    v.reserve(docs.size() + pos.size() + 10);
    PutVarint(v, ndocs);
    PutVarint(v, docs.size());
    v += docs;
    v += pos;
    return v;
  }
};

// Reads one list (a stored value, or a tail ListBuilder).
struct ListCursor {
  const uint8_t* d = nullptr;
  const uint8_t* de = nullptr;
  const uint8_t* p = nullptr;
  const uint8_t* pe = nullptr;
  uint32_t doc = 0;
  const uint8_t* doc_pos = nullptr;  // this document's positions
  uint32_t doc_pos_len = 0;
  uint32_t ndocs = 0;
  bool bad = false;

  bool InitStored(std::string_view v) {
    const uint8_t* s = U8(v);
    const uint8_t* e = s + v.size();
    uint64_t n, dl;
    if (!GetVarint(s, e, n) || !GetVarint(s, e, dl) || dl > static_cast<uint64_t>(e - s)) return !(bad = true);
    ndocs = static_cast<uint32_t>(n);
    d = s;
    de = s + dl;
    p = de;
    pe = e;
    return true;
  }
  void InitTail(const ListBuilder& b) {
    d = U8(b.docs);
    de = d + b.docs.size();
    p = U8(b.pos);
    pe = p + b.pos.size();
    ndocs = b.ndocs;
  }
  // Moves to the next document; false at the end (or on damage: bad).
  bool Next() {
    if (d >= de) return false;
    uint64_t x;
    if (!GetVarint(d, de, x)) return !(bad = true);
    uint64_t len = x & 3;
    if (len == 0 && !GetVarint(d, de, len)) return !(bad = true);
    uint64_t nd = doc + (x >> 2);
    if (nd > 0xffffffffull || len > static_cast<uint64_t>(pe - p)) return !(bad = true);
    doc = static_cast<uint32_t>(nd);
    doc_pos = p;
    doc_pos_len = static_cast<uint32_t>(len);
    p += len;
    return true;
  }
  bool Positions(std::vector<uint32_t>& out) const {
    out.clear();
    const uint8_t* s = doc_pos;
    const uint8_t* e = doc_pos + doc_pos_len;
    uint64_t acc = 0;
    while (s < e) {
      uint64_t v;
      if (!GetVarint(s, e, v)) return false;
      acc += v;
      if (acc > 0xffffffffull) return false;
      out.push_back(static_cast<uint32_t>(acc));
    }
    return true;
  }
};

// All lists of one term in id order: stored segments, then the tail.
struct TermLists {
  std::vector<std::string> values;
  const ListBuilder* tail = nullptr;
  uint64_t ndocs = 0;

  // Cursor over the concatenation.
  struct Walker {
    const TermLists* t;
    size_t next_list = 0;
    ListCursor cur;
    bool active = false;
    bool bad = false;
    explicit Walker(const TermLists* tl) : t(tl) {}
    bool Next() {
      for (;;) {
        if (active) {
          if (cur.Next()) return true;
          if (cur.bad) return !(bad = true);
          active = false;
        }
        size_t n = t->values.size() + (t->tail ? 1 : 0);
        if (next_list >= n) return false;
        cur = ListCursor{};
        if (next_list < t->values.size()) {
          if (!cur.InitStored(t->values[next_list])) return !(bad = true);
        } else {
          cur.InitTail(*t->tail);
        }
        ++next_list;
        active = true;
      }
    }
  };
};

base::Error Damaged(const std::string& what) {
  return MakeError(base::kExitDataErr, "search index: damaged " + what + " (rebuild it by removing its column family)");
}

}  // namespace

struct SearchIndex::Impl {
  store::Db* db = nullptr;
  Options opts;

  // Interned ids.
  std::vector<std::string> rooms;
  std::unordered_map<std::string, uint32_t> room_idx;
  std::vector<std::string> users;
  std::unordered_map<std::string, uint32_t> user_idx;

  // Document table, indexed by document id (0 unused).
  std::vector<uint32_t> doc_room, doc_user;
  std::vector<uint64_t> doc_seq;
  std::vector<int64_t> doc_ts;
  std::vector<uint8_t> alive;  // 1 = searchable
  uint64_t live_docs = 0;
  uint32_t next_doc = 1;
  uint32_t next_seg = 1;
  uint32_t segments = 0;

  // Per room: its documents ordered by seq (live or pending), to find a message's document.
  std::vector<std::vector<uint32_t>> room_docs;

  // Tail: documents [tail_first, next_doc) not yet in a segment.
  uint32_t tail_first = 1;
  std::unordered_map<uint64_t, ListBuilder> tail;
  size_t tail_bytes = 0;

  struct Slot {
    uint32_t room;
    uint64_t seq;
    uint32_t prev;  // document before the change (kNoDoc: none)
    uint32_t now;   // document after the change (kNoDoc: removed)
  };
  struct Staged {
    std::vector<uint32_t> revive, kill;
    std::vector<Slot> slots;
  };
  std::unordered_map<uint64_t, Staged> staged;
  uint64_t next_ticket = 1;

  std::vector<std::pair<uint64_t, uint32_t>> tok;  // scratch
  std::u32string norm;                             // scratch

  uint32_t InternRoom(std::string_view id, store::WriteBatch& b) {
    auto it = room_idx.find(std::string(id));
    uint32_t idx;
    if (it != room_idx.end()) {
      idx = it->second;
    } else {
      idx = static_cast<uint32_t>(rooms.size());
      rooms.emplace_back(id);
      room_idx.emplace(std::string(id), idx);
      room_docs.emplace_back();
    }
    // In every batch that uses it: a failed earlier batch must not leave documents pointing
    // at an id that never reached the disk.
    b.Put(kCfSearch, KeyU32(kKeyRoom, idx), id);
    return idx;
  }
  uint32_t InternUser(std::string_view id, store::WriteBatch& b) {
    auto it = user_idx.find(std::string(id));
    uint32_t idx;
    if (it != user_idx.end()) {
      idx = it->second;
    } else {
      idx = static_cast<uint32_t>(users.size());
      users.emplace_back(id);
      user_idx.emplace(std::string(id), idx);
    }
    b.Put(kCfSearch, KeyU32(kKeyUser, idx), id);
    return idx;
  }

  void SetDoc(uint32_t d, uint32_t room, uint32_t user, uint64_t seq, int64_t ts) {
    if (doc_room.size() <= d) {
      size_t n = std::max<size_t>(d + 1, doc_room.size() + doc_room.size() / 2);
      doc_room.resize(n);
      doc_user.resize(n);
      doc_seq.resize(n);
      doc_ts.resize(n);
      alive.resize(n);
    }
    doc_room[d] = room;
    doc_user[d] = user;
    doc_seq[d] = seq;
    doc_ts[d] = ts;
  }
  void SetAlive(uint32_t d, bool on) {
    if (d >= alive.size()) return;
    if (on && !alive[d]) ++live_docs;
    if (!on && alive[d]) --live_docs;
    alive[d] = on ? 1 : 0;
  }

  // Position in room_docs[room] of seq (or where it would go).
  size_t SlotPos(uint32_t room, uint64_t seq) const {
    const auto& v = room_docs[room];
    return std::lower_bound(v.begin(), v.end(), seq, [&](uint32_t d, uint64_t s) { return doc_seq[d] < s; }) -
           v.begin();
  }
  uint32_t FindDoc(uint32_t room, uint64_t seq) const {
    const auto& v = room_docs[room];
    size_t i = SlotPos(room, seq);
    return i < v.size() && doc_seq[v[i]] == seq ? v[i] : kNoDoc;
  }
  void SetSlot(uint32_t room, uint64_t seq, uint32_t doc) {
    auto& v = room_docs[room];
    size_t i = SlotPos(room, seq);
    bool found = i < v.size() && doc_seq[v[i]] == seq;
    if (doc == kNoDoc) {
      if (found) v.erase(v.begin() + static_cast<ptrdiff_t>(i));
    } else if (found) {
      v[i] = doc;
    } else {
      v.insert(v.begin() + static_cast<ptrdiff_t>(i), doc);
    }
  }

  // Adds the document's postings to the tail.
  void AddToTail(uint32_t d, std::string_view text) {
    NormalizeTo(text, norm, false);
    Tokenize(norm, tok);
    std::vector<uint32_t> positions;
    for (size_t i = 0; i < tok.size();) {
      size_t j = i;
      positions.clear();
      while (j < tok.size() && tok[j].first == tok[i].first) positions.push_back(tok[j++].second);
      auto& lb = tail[tok[i].first];
      size_t before = lb.docs.size() + lb.pos.size();
      lb.Add(d, positions.data(), positions.size());
      tail_bytes += lb.docs.size() + lb.pos.size() - before;
      i = j;
    }
  }

  uint32_t NewDoc(const Message& m, uint32_t room, store::WriteBatch& b) {
    uint32_t d = next_doc++;
    uint32_t user = InternUser(m.user, b);
    SetDoc(d, room, user, m.seq, m.ts);
    std::string rec;
    PutVarint(rec, room);
    PutVarint(rec, user);
    PutVarint(rec, m.seq);
    PutVarint(rec, ZigZag(m.ts));
    rec += m.text;
    // The next document id is not written per message: Load takes it from the highest record
    // or block (FlushTail writes the counter with each block).
    b.Put(kCfSearch, KeyU32(kKeyDoc, d), rec);
    AddToTail(d, m.text);
    return d;
  }

  uint64_t Stage(Staged s) {
    uint64_t t = next_ticket++;
    staged.emplace(t, std::move(s));
    return t;
  }

  Status Load();
  Status Backfill();
  Status FlushTail();
  Status CompactAll();
  base::Result<Result> Run(const Query& q);
};

SearchIndex::SearchIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SearchIndex::~SearchIndex() = default;

base::Result<std::unique_ptr<SearchIndex>> SearchIndex::Open(store::Db& db, const Options& options) {
  auto impl = std::make_unique<Impl>();
  impl->db = &db;
  impl->opts = options;
  if (impl->opts.flush_docs == 0) impl->opts.flush_docs = 1;
  COLLAB_TRY(impl->Load());
  auto built = db.Get(kCfSearch, Key1(kKeyBuilt));
  if (!built.ok()) return built.error();
  if (!built->has_value()) {
    if (options.backfill) COLLAB_TRY(impl->Backfill());
    store::WriteBatch b;
    b.Put(kCfSearch, Key1(kKeyBuilt), "1");
    COLLAB_TRY(db.Write(std::move(b), true));
  }
  return std::unique_ptr<SearchIndex>(new SearchIndex(std::move(impl)));
}

Status SearchIndex::Impl::Load() {
  auto get_u32 = [&](char tag, uint32_t& out) -> Status {
    auto v = db->Get(kCfSearch, Key1(tag));
    if (!v.ok()) return v.error();
    if (v->has_value()) {
      auto n = store::ReadU32BE(**v);
      if (!n) return Damaged("counter");
      out = *n;
    }
    return base::Ok();
  };
  COLLAB_TRY(get_u32(kKeyNextDoc, next_doc));
  COLLAB_TRY(get_u32(kKeyNextSeg, next_seg));
  if (next_doc == 0) next_doc = 1;

  auto scan = [&](char tag, const std::function<Status(std::string_view, std::string_view)>& f) -> Status {
    std::string lo = Key1(tag);
    auto it = db->NewIterator(kCfSearch, store::IterOptions{lo, store::PrefixUpperBound(lo)});
    if (!it.ok()) return it.error();
    for ((*it)->SeekToFirst(); (*it)->Valid(); (*it)->Next()) COLLAB_TRY(f((*it)->key(), (*it)->value()));
    return (*it)->status();
  };
  auto intern = [](std::vector<std::string>& names, std::unordered_map<std::string, uint32_t>& idx) {
    return [&names, &idx](std::string_view k, std::string_view v) -> Status {
      auto i = store::ReadU32BE(k, 1);
      if (!i || *i > 100'000'000) return Damaged("id table");
      if (names.size() <= *i) names.resize(*i + 1);
      names[*i] = std::string(v);
      idx[std::string(v)] = *i;
      return base::Ok();
    };
  };
  COLLAB_TRY(scan(kKeyRoom, intern(rooms, room_idx)));
  COLLAB_TRY(scan(kKeyUser, intern(users, user_idx)));
  room_docs.resize(rooms.size());

  COLLAB_TRY(scan(kKeyBlock, [&](std::string_view k, std::string_view v) -> Status {
    auto first = store::ReadU32BE(k, 1);
    if (!first) return Damaged("document block key");
    const uint8_t* p = U8(v);
    const uint8_t* e = p + v.size();
    uint64_t n;
    if (!GetVarint(p, e, n) || n > 0xffffffffull - *first) return Damaged("document block");
    int64_t ts = 0;
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t r, u, s, dt;
      if (!GetVarint(p, e, r)) return Damaged("document block");
      if (r == 0) continue;
      if (!GetVarint(p, e, u) || !GetVarint(p, e, s) || !GetVarint(p, e, dt) || r - 1 >= rooms.size() ||
          u >= users.size())
        return Damaged("document block");
      ts += UnZigZag(dt);
      uint32_t d = static_cast<uint32_t>(*first + i);
      SetDoc(d, static_cast<uint32_t>(r - 1), static_cast<uint32_t>(u), s, ts);
      SetAlive(d, true);
    }
    next_doc = std::max<uint32_t>(next_doc, static_cast<uint32_t>(*first + n));
    tail_first = std::max<uint32_t>(tail_first, static_cast<uint32_t>(*first + n));
    ++segments;
    return base::Ok();
  }));

  std::vector<std::pair<uint32_t, std::string>> texts;
  COLLAB_TRY(scan(kKeyDoc, [&](std::string_view k, std::string_view v) -> Status {
    auto d = store::ReadU32BE(k, 1);
    const uint8_t* p = U8(v);
    const uint8_t* e = p + v.size();
    uint64_t r, u, s, ts;
    if (!d || *d == 0 || !GetVarint(p, e, r) || !GetVarint(p, e, u) || !GetVarint(p, e, s) || !GetVarint(p, e, ts) ||
        r >= rooms.size() || u >= users.size())
      return Damaged("document record");
    // A record below the tail start is one whose batch landed after the flush that already
    // wrote its document into a block (see FlushTail).
    if (*d < tail_first) return base::Ok();
    SetDoc(*d, static_cast<uint32_t>(r), static_cast<uint32_t>(u), s, UnZigZag(ts));
    SetAlive(*d, true);
    texts.emplace_back(*d, std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(e - p)));
    next_doc = std::max<uint32_t>(next_doc, *d + 1);
    return base::Ok();
  }));
  COLLAB_TRY(scan(kKeyGone, [&](std::string_view k, std::string_view) -> Status {
    auto d = store::ReadU32BE(k, 1);
    if (!d) return Damaged("removal marker");
    SetAlive(*d, false);
    return base::Ok();
  }));
  for (auto& [d, text] : texts)
    if (alive[d]) AddToTail(d, text);

  for (uint32_t d = 1; d < next_doc && d < alive.size(); ++d)
    if (alive[d]) room_docs[doc_room[d]].push_back(d);
  for (auto& v : room_docs)
    if (!std::is_sorted(v.begin(), v.end(), [&](uint32_t a, uint32_t b) { return doc_seq[a] < doc_seq[b]; }))
      std::sort(v.begin(), v.end(), [&](uint32_t a, uint32_t b) { return doc_seq[a] < doc_seq[b]; });
  return base::Ok();
}

Status SearchIndex::Impl::Backfill() {
  auto cfs = db->ColumnFamilies();
  if (std::find(cfs.begin(), cfs.end(), kCfMessages) == cfs.end()) return base::Ok();
  auto it = db->NewIterator(kCfMessages);
  if (!it.ok()) return it.error();
  store::WriteBatch b;
  std::vector<uint64_t> tickets;
  auto write = [&]() -> Status {
    if (b.empty()) return base::Ok();
    auto st = db->Write(std::move(b), false);
    b = store::WriteBatch();
    for (uint64_t t : tickets) {
      Staged s = std::move(staged[t]);
      staged.erase(t);
      if (st.ok())
        for (uint32_t d : s.revive) SetAlive(d, true);
    }
    tickets.clear();
    if (!st.ok()) return st;
    if (tail.size() && next_doc - tail_first >= opts.flush_docs) return FlushTail();
    return base::Ok();
  };
  for ((*it)->SeekToFirst(); (*it)->Valid(); (*it)->Next()) {
    auto m = Message::FromStored((*it)->value());
    if (!m.ok() || m->deleted) continue;
    uint32_t room = InternRoom(m->room, b);
    if (FindDoc(room, m->seq) != kNoDoc) continue;
    uint32_t d = NewDoc(*m, room, b);
    SetSlot(room, m->seq, d);
    Staged s;
    s.revive.push_back(d);
    tickets.push_back(Stage(std::move(s)));
    if (tickets.size() >= 1000) COLLAB_TRY(write());
  }
  COLLAB_TRY((*it)->status());
  return write();
}

uint64_t SearchIndex::IndexMessage(const Message& m, store::WriteBatch& b) {
  if (m.deleted) return 0;
  auto& x = *impl_;
  uint32_t room = x.InternRoom(m.room, b);
  Impl::Staged s;
  uint32_t prev = x.FindDoc(room, m.seq);
  if (prev != kNoDoc) {  // indexed twice: treat as an edit
    s.kill.push_back(prev);
    b.Put(kCfSearch, KeyU32(kKeyGone, prev), "");
  }
  uint32_t d = x.NewDoc(m, room, b);
  x.SetSlot(room, m.seq, d);
  s.revive.push_back(d);
  s.slots.push_back({room, m.seq, prev, d});
  return x.Stage(std::move(s));
}

uint64_t SearchIndex::UpdateMessage(const Message& before, const Message& after, store::WriteBatch& b) {
  auto& x = *impl_;
  bool removed = after.deleted && !before.deleted;
  bool edited = !after.deleted && (before.deleted || before.text != after.text);
  if (!removed && !edited) return 0;
  uint32_t room = x.InternRoom(after.room, b);
  uint32_t old = x.FindDoc(room, after.seq);
  Impl::Staged s;
  if (old != kNoDoc) {
    s.kill.push_back(old);
    b.Put(kCfSearch, KeyU32(kKeyGone, old), "");
  }
  if (removed) {
    if (old == kNoDoc) return 0;
    s.slots.push_back({room, after.seq, old, kNoDoc});
  } else {
    uint32_t d = x.NewDoc(after, room, b);
    x.SetSlot(room, after.seq, d);  // later changes find the new document even before Committed
    s.revive.push_back(d);
    s.slots.push_back({room, after.seq, old, d});
  }
  return x.Stage(std::move(s));
}

uint64_t SearchIndex::RemoveMessages(std::string_view room_id, const std::vector<uint64_t>& seqs,
                                     store::WriteBatch& b) {
  auto& x = *impl_;
  auto it = x.room_idx.find(std::string(room_id));
  if (it == x.room_idx.end()) return 0;
  Impl::Staged s;
  for (uint64_t seq : seqs) {
    uint32_t d = x.FindDoc(it->second, seq);
    if (d == kNoDoc) continue;
    s.kill.push_back(d);
    s.slots.push_back({it->second, seq, d, kNoDoc});
    b.Put(kCfSearch, KeyU32(kKeyGone, d), "");
  }
  if (s.kill.empty()) return 0;
  return x.Stage(std::move(s));
}

void SearchIndex::Committed(uint64_t ticket, bool ok) {
  auto& x = *impl_;
  auto it = x.staged.find(ticket);
  if (it == x.staged.end()) return;
  Impl::Staged s = std::move(it->second);
  x.staged.erase(it);
  if (ok) {
    for (uint32_t d : s.kill) x.SetAlive(d, false);
    for (uint32_t d : s.revive) x.SetAlive(d, true);
    for (const auto& sl : s.slots)
      if (sl.now == kNoDoc && x.FindDoc(sl.room, sl.seq) == sl.prev) x.SetSlot(sl.room, sl.seq, kNoDoc);
  } else {
    // Undo the slot changes made when staging, unless a later change replaced them.
    for (auto sl = s.slots.rbegin(); sl != s.slots.rend(); ++sl)
      if (sl->now != kNoDoc && x.FindDoc(sl->room, sl->seq) == sl->now) x.SetSlot(sl->room, sl->seq, sl->prev);
  }
  if (x.staged.empty() && x.next_doc - x.tail_first >= x.opts.flush_docs) (void)x.FlushTail();
}

Status SearchIndex::Flush() { return impl_->FlushTail(); }
Status SearchIndex::Compact() { return impl_->CompactAll(); }

Status SearchIndex::Impl::FlushTail() {
  // Outstanding tickets could still fail; the block written here must show final states.
  if (!staged.empty() || next_doc == tail_first) return base::Ok();
  uint32_t seg = next_seg++;
  store::WriteBatch b;
  std::string n;
  store::AppendU32BE(n, next_seg);
  b.Put(kCfSearch, Key1(kKeyNextSeg), n);
  std::string nd;
  store::AppendU32BE(nd, next_doc);
  b.Put(kCfSearch, Key1(kKeyNextDoc), nd);
  std::vector<uint32_t> positions;
  for (const auto& [term, lb] : tail) {
    ListBuilder out;
    ListCursor c;
    c.InitTail(lb);
    bool any_dead = false;
    while (c.Next())
      if (!alive[c.doc]) {
        any_dead = true;
        break;
      }
    if (!any_dead) {
      if (lb.ndocs) b.Put(kCfSearch, PostKey(term, seg), lb.Encode());
      continue;
    }
    c = ListCursor{};
    c.InitTail(lb);
    while (c.Next()) {
      if (!alive[c.doc]) continue;
      out.pos.append(reinterpret_cast<const char*>(c.doc_pos), c.doc_pos_len);
      out.AddRaw(c.doc, c.doc_pos_len);
    }
    if (out.ndocs) b.Put(kCfSearch, PostKey(term, seg), out.Encode());
  }
  std::string block;
  PutVarint(block, next_doc - tail_first);
  int64_t ts = 0;
  for (uint32_t d = tail_first; d < next_doc; ++d) {
    if (!alive[d]) {
      PutVarint(block, 0);
      continue;
    }
    PutVarint(block, doc_room[d] + 1ull);
    PutVarint(block, doc_user[d]);
    PutVarint(block, doc_seq[d]);
    PutVarint(block, ZigZag(doc_ts[d] - ts));
    ts = doc_ts[d];
  }
  b.Put(kCfSearch, KeyU32(kKeyBlock, tail_first), block);
  b.DeleteRange(kCfSearch, KeyU32(kKeyDoc, tail_first), KeyU32(kKeyDoc, next_doc));
  b.DeleteRange(kCfSearch, KeyU32(kKeyGone, tail_first), KeyU32(kKeyGone, next_doc));
  // Not synced: a later durable write syncs the WAL this batch precedes, and until then the
  // per-document records it replaces are still on disk.
  COLLAB_TRY(db->Write(std::move(b), false));
  tail.clear();
  tail_bytes = 0;
  tail_first = next_doc;
  ++segments;
  return base::Ok();
}

Status SearchIndex::Impl::CompactAll() {
  if (!staged.empty()) return MakeError(base::kExitTempFail, "search index: changes in flight; compact later");
  std::string lo = Key1(kKeyPost);
  auto it = db->NewIterator(kCfSearch, store::IterOptions{lo, store::PrefixUpperBound(lo)});
  if (!it.ok()) return it.error();
  uint32_t seg = next_seg++;
  store::WriteBatch b;
  std::string n;
  store::AppendU32BE(n, next_seg);
  b.Put(kCfSearch, Key1(kKeyNextSeg), n);
  size_t batch_bytes = 0;
  ListBuilder out;
  std::string cur_prefix;
  auto finish_term = [&]() {
    if (!cur_prefix.empty() && out.ndocs) {
      std::string k = cur_prefix;
      store::AppendU32BE(k, seg);
      std::string v = out.Encode();
      batch_bytes += v.size() + k.size();
      b.Put(kCfSearch, k, v);
    }
    out = ListBuilder{};
  };
  for ((*it)->SeekToFirst(); (*it)->Valid(); (*it)->Next()) {
    std::string_view k = (*it)->key();
    if (k.size() != 11) return Damaged("posting key");
    std::string_view prefix = k.substr(0, 7);
    if (prefix != cur_prefix) {
      finish_term();
      cur_prefix = std::string(prefix);
      if (batch_bytes > (8u << 20)) {
        COLLAB_TRY(db->Write(std::move(b), false));
        b = store::WriteBatch();
        batch_bytes = 0;
      }
    }
    ListCursor c;
    if (!c.InitStored((*it)->value())) return Damaged("posting list");
    while (c.Next()) {
      if (c.doc < alive.size() && alive[c.doc] && c.doc > out.last) {
        out.pos.append(reinterpret_cast<const char*>(c.doc_pos), c.doc_pos_len);
        out.AddRaw(c.doc, c.doc_pos_len);
      }
    }
    if (c.bad) return Damaged("posting list");
    b.Delete(kCfSearch, k);
    batch_bytes += k.size();
  }
  COLLAB_TRY((*it)->status());
  finish_term();
  COLLAB_TRY(db->Write(std::move(b), false));
  segments = 1;
  return db->CompactRange(kCfSearch);
}

std::string SearchIndex::Normalize(std::string_view text) {
  std::u32string n;
  NormalizeTo(text, n, false);
  std::string out;
  out.reserve(n.size() * 3);
  for (char32_t c : n) AppendUtf8(out, c);
  return out;
}

base::Result<std::u32string> SearchIndex::NormalizeQuery(std::string_view query) {
  if (query.size() > kMaxQueryBytes)
    return MakeError(base::kExitDataErr, "search query longer than " + std::to_string(kMaxQueryBytes) + " bytes");
  std::u32string n;
  if (!NormalizeTo(query, n, true)) return MakeError(base::kExitDataErr, "search query is not valid UTF-8");
  if (n.empty()) return MakeError(base::kExitDataErr, "search query is empty");
  if (n.size() > kMaxQueryChars)
    return MakeError(base::kExitDataErr,
                     "search query longer than " + std::to_string(kMaxQueryChars) + " characters");
  return n;
}

std::vector<SearchIndex::QueryTerm> SearchIndex::PlanQuery(const std::u32string& q) {
  std::vector<QueryTerm> out;
  if (q.size() < 2) return out;
  // Bigrams at offsets 0, 2, 4, ... and the last one: together they cover every character.
  for (size_t i = 0; i + 1 < q.size(); i += 2) out.push_back({Bigram(q[i], q[i + 1]), static_cast<uint32_t>(i)});
  if (q.size() % 2 == 1) out.push_back({Bigram(q[q.size() - 2], q[q.size() - 1]), static_cast<uint32_t>(q.size() - 2)});
  return out;
}

base::Result<SearchIndex::Result> SearchIndex::Search(const Query& q) { return impl_->Run(q); }

base::Result<SearchIndex::Result> SearchIndex::Impl::Run(const Query& q) {
  COLLAB_ASSIGN_OR_RETURN(std::u32string text, NormalizeQuery(q.text));
  if (q.limit > kMaxLimit)
    return MakeError(base::kExitDataErr, "search limit above " + std::to_string(kMaxLimit));
  if (q.from_ms && q.to_ms && q.from_ms > q.to_ms)
    return MakeError(base::kExitDataErr, "search date range ends before it starts");

  Result res;
  // Filters, as cheap per-document checks on the in-memory table.
  std::vector<uint8_t> room_ok(rooms.size(), 0);
  bool any_room = false;
  for (const auto& r : q.rooms) {
    auto it = room_idx.find(r);
    if (it == room_idx.end()) continue;
    room_ok[it->second] = 1;
    any_room = true;
  }
  int64_t user = -1;
  if (!q.user.empty()) {
    auto it = user_idx.find(q.user);
    if (it == user_idx.end()) return res;
    user = it->second;
  }
  if (!any_room) return res;
  int64_t from = q.from_ms, to = q.to_ms ? q.to_ms : INT64_MAX;
  auto pass = [&](uint32_t d) {
    return d < alive.size() && alive[d] && room_ok[doc_room[d]] && (user < 0 || doc_user[d] == user) &&
           doc_ts[d] >= from && doc_ts[d] < to;
  };

  auto fetch = [&](std::string lo, std::string hi, std::vector<std::string>& values) -> Status {
    auto it = db->NewIterator(kCfSearch, store::IterOptions{lo, hi});
    if (!it.ok()) return it.error();
    for ((*it)->SeekToFirst(); (*it)->Valid(); (*it)->Next()) values.emplace_back((*it)->value());
    return (*it)->status();
  };

  std::vector<uint32_t> found;  // ascending document ids
  if (text.size() == 1) {
    // Every bigram starting with the character (the end marker included): union by bitmap.
    uint64_t lo_term = Bigram(text[0], 0), hi_term = Bigram(text[0] + 1, 0);
    std::string lo(1, kKeyPost), hi(1, kKeyPost);
    AppendTerm(lo, lo_term);
    AppendTerm(hi, hi_term);
    TermLists tl;
    COLLAB_TRY(fetch(lo, hi, tl.values));
    std::vector<uint64_t> bits((next_doc + 63) / 64, 0);
    auto mark = [&](ListCursor& c) -> Status {
      while (c.Next())
        if (c.doc < next_doc) bits[c.doc >> 6] |= 1ull << (c.doc & 63);
      return c.bad ? Damaged("posting list") : base::Ok();
    };
    for (const auto& v : tl.values) {
      ListCursor c;
      if (!c.InitStored(v)) return Damaged("posting list");
      COLLAB_TRY(mark(c));
    }
    for (const auto& [term, lb] : tail) {
      if (term < lo_term || term >= hi_term) continue;
      ListCursor c;
      c.InitTail(lb);
      COLLAB_TRY(mark(c));
    }
    for (size_t w = 0; w < bits.size(); ++w)
      for (uint64_t x = bits[w]; x; x &= x - 1) {
        uint32_t d = static_cast<uint32_t>(w * 64 + __builtin_ctzll(x));
        if (pass(d)) found.push_back(d);
      }
  } else {
    auto plan = PlanQuery(text);
    std::vector<TermLists> lists(plan.size());
    for (size_t i = 0; i < plan.size(); ++i) {
      std::string lo = PostPrefix(plan[i].term);
      COLLAB_TRY(fetch(lo, store::PrefixUpperBound(lo), lists[i].values));
      auto t = tail.find(plan[i].term);
      if (t != tail.end()) lists[i].tail = &t->second;
      for (const auto& v : lists[i].values) {
        ListCursor c;
        if (!c.InitStored(v)) return Damaged("posting list");
        lists[i].ndocs += c.ndocs;
      }
      if (lists[i].tail) lists[i].ndocs += lists[i].tail->ndocs;
      if (lists[i].ndocs == 0) return res;
    }
    std::vector<size_t> order(plan.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return lists[a].ndocs < lists[b].ndocs; });

    if (plan.size() == 1) {
      TermLists::Walker w(&lists[0]);
      while (w.Next())
        if (pass(w.cur.doc)) found.push_back(w.cur.doc);
      if (w.bad) return Damaged("posting list");
    } else {
      // Candidates: documents of the rarest bigram with the query start positions it allows.
      std::vector<uint32_t> cand, starts, start_off, positions;
      {
        uint32_t off = plan[order[0]].offset;
        TermLists::Walker w(&lists[order[0]]);
        while (w.Next()) {
          if (!pass(w.cur.doc)) continue;
          if (!w.cur.Positions(positions)) return Damaged("positions");
          size_t before = starts.size();
          for (uint32_t p : positions)
            if (p >= off) starts.push_back(p - off);
          if (starts.size() == before) continue;
          cand.push_back(w.cur.doc);
          start_off.push_back(static_cast<uint32_t>(before));
        }
        if (w.bad) return Damaged("posting list");
        start_off.push_back(static_cast<uint32_t>(starts.size()));
      }
      // Each further bigram must occur at start + its offset.
      for (size_t oi = 1; oi < order.size() && !cand.empty(); ++oi) {
        uint32_t off = plan[order[oi]].offset;
        std::vector<uint32_t> ncand, nstarts, noff;
        TermLists::Walker w(&lists[order[oi]]);
        bool more = w.Next();
        for (size_t ci = 0; ci < cand.size() && more; ++ci) {
          while (more && w.cur.doc < cand[ci]) more = w.Next();
          if (!more) break;
          if (w.cur.doc != cand[ci]) continue;
          if (!w.cur.Positions(positions)) return Damaged("positions");
          size_t before = nstarts.size();
          for (uint32_t k = start_off[ci]; k < start_off[ci + 1]; ++k)
            if (std::binary_search(positions.begin(), positions.end(), starts[k] + off)) nstarts.push_back(starts[k]);
          if (nstarts.size() == before) continue;
          ncand.push_back(cand[ci]);
          noff.push_back(static_cast<uint32_t>(before));
        }
        if (w.bad) return Damaged("posting list");
        noff.push_back(static_cast<uint32_t>(nstarts.size()));
        cand = std::move(ncand);
        starts = std::move(nstarts);
        start_off = std::move(noff);
      }
      found = std::move(cand);
    }
  }

  res.total = found.size();
  if (q.limit == 0 || found.empty()) return res;
  // Newest first by timestamp (edits give a message a newer document id, not a newer time).
  auto newer = [&](uint32_t a, uint32_t b) {
    return doc_ts[a] != doc_ts[b] ? doc_ts[a] > doc_ts[b] : a > b;
  };
  std::priority_queue<uint32_t, std::vector<uint32_t>, decltype(newer)> heap(newer);  // top = oldest kept
  for (auto it = found.rbegin(); it != found.rend(); ++it) {
    if (heap.size() < q.limit) {
      heap.push(*it);
    } else if (newer(*it, heap.top())) {
      heap.pop();
      heap.push(*it);
    }
  }
  std::vector<uint32_t> top;
  while (!heap.empty()) {
    top.push_back(heap.top());
    heap.pop();
  }
  for (auto it = top.rbegin(); it != top.rend(); ++it) {
    uint32_t d = *it;
    res.hits.push_back(Hit{rooms[doc_room[d]], doc_seq[d], doc_ts[d], users[doc_user[d]]});
  }
  return res;
}

base::Json SearchIndex::Stats() {
  auto& x = *impl_;
  size_t mem = x.doc_room.capacity() * 4 + x.doc_user.capacity() * 4 + x.doc_seq.capacity() * 8 +
               x.doc_ts.capacity() * 8 + x.alive.capacity() + x.tail_bytes + x.tail.size() * 64;
  for (const auto& v : x.room_docs) mem += v.capacity() * 4;
  int64_t disk = 0;
  base::Json s = x.db->Stats();
  if (const auto* cfs = s.Find("column_families"))
    if (const auto* cf = cfs->Find(kCfSearch)) disk = cf->GetInt("sst_bytes");
  return base::Json::Obj({{"docs", x.live_docs},
                          {"docs_removed", static_cast<uint64_t>(x.next_doc - 1) - x.live_docs},
                          {"tail_docs", static_cast<uint64_t>(x.next_doc - x.tail_first)},
                          {"tail_terms", static_cast<uint64_t>(x.tail.size())},
                          {"segments", static_cast<uint64_t>(x.segments)},
                          {"pending_tickets", static_cast<uint64_t>(x.staged.size())},
                          {"memory_bytes", static_cast<uint64_t>(mem)},
                          {"disk_bytes", disk}});
}

}  // namespace collab::chat
