// Full-text search over chat messages that works for Japanese (no whitespace tokenizing): a
// positional character-bigram index in the "search" column family, answering "the N newest
// matches among the rooms a user may read + the exact total count", filtered by author and time.
//
// Semantics: a message matches when Normalize(text) contains Normalize(query) as a substring.
// Normalize folds exactly this, nothing more (it is not NFKC):
//   - U+FF01..U+FF5E (full-width ASCII: letters, digits, symbols) -> U+0021..U+007E;
//   - ASCII A-Z -> a-z (after the full-width fold, so "Ａ" -> "a");
//   - whitespace (TAB LF VT FF CR SPACE, other C0 controls and DEL, U+0085, U+00A0, U+1680,
//     U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000) -> one SPACE per run, trimmed at
//     both ends;
//   - invalid UTF-8 in stored text -> U+FFFD (queries with invalid UTF-8 are refused).
// Kana, half-width katakana, accents and non-ASCII case are NOT folded.
//
// How: every position i of the normalised text yields the bigram (c[i], c[i+1]) — the last
// character pairs with an end marker — with its position. A query of n >= 2 characters looks up
// a set of its bigrams that covers every query character, intersects them rarest first and keeps a
// message only when all of them occur at the offsets they have in the query: that is exactly the
// substring test on the normalised text (no false positives, unlike bigram intersection alone),
// without reading message texts. A 1-character query is the union of the bigrams starting with it.
// Document ids are a global counter; postings are written in immutable segments (delta + varint,
// positions apart from ids so id-only scans skip them); the newest documents live in an in-memory
// tail that is rebuilt at Open from per-document records written in the caller's batch.
//
// Deliberately not here: who may read which room (the caller passes readable room ids), ranking
// other than newest first, stemming/synonyms, and threads of its own (it runs on the caller's
// loop thread; Flush/Compact block that thread for their duration).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lib/base/json.hpp"
#include "lib/base/result.hpp"
#include "lib/chat/model.hpp"

namespace collab::store {
class Db;
class WriteBatch;
}  // namespace collab::store

namespace collab::chat {

class SearchIndex {
 public:
  struct Options {
    // Documents kept in the in-memory tail before it is written as a segment. Bigger means
    // fewer segments per query but more memory and a longer (rare) flush pause.
    size_t flush_docs = 65536;
    // On the first Open of a database whose search family has never been built, index every
    // message already in kCfMessages.
    bool backfill = true;
  };

  // Loads the document table and rebuilds the tail. kExitDataErr on a damaged index.
  static base::Result<std::unique_ptr<SearchIndex>> Open(store::Db& db, const Options& options);
  static base::Result<std::unique_ptr<SearchIndex>> Open(store::Db& db) { return Open(db, Options{}); }
  ~SearchIndex();
  SearchIndex(const SearchIndex&) = delete;
  SearchIndex& operator=(const SearchIndex&) = delete;

  // Each of these adds what must be durable with the message to b and returns a ticket; call
  // Committed(ticket, ok) once the batch's write completed (ok) or failed. Until then searches
  // keep answering with the previous state. A ticket of 0 means nothing to commit (Committed
  // ignores it).
  // A new message (deleted ones are ignored).
  uint64_t IndexMessage(const Message& m, store::WriteBatch& b);
  // An edit (text changed) or a delete (after.deleted); other changes are no-ops.
  uint64_t UpdateMessage(const Message& before, const Message& after, store::WriteBatch& b);
  // Retention: these sequences of room are gone.
  uint64_t RemoveMessages(std::string_view room, const std::vector<uint64_t>& seqs, store::WriteBatch& b);
  void Committed(uint64_t ticket, bool ok);

  // Writes the tail as a segment now (also done automatically after flush_docs documents).
  // Does nothing while tickets are outstanding.
  base::Status Flush();
  // Rewrites all segments as one, dropping postings of removed and edited-away messages
  // (e.g. after retention). Proportional to the index size; blocks the caller meanwhile.
  base::Status Compact();

  struct Query {
    std::string text;                // substring to find (see Normalize); 1..256 characters
    std::vector<std::string> rooms;  // readable room ids; none = nothing readable
    std::string user;                // author filter; "" = anyone
    int64_t from_ms = 0;             // ts >= from_ms (0 = no lower bound)
    int64_t to_ms = 0;               // ts < to_ms (0 = no upper bound)
    size_t limit = 20;               // 0..1000
  };
  struct Hit {
    std::string room;
    uint64_t seq = 0;
    int64_t ts = 0;
    std::string user;
  };
  struct Result {
    std::vector<Hit> hits;  // newest first (ts, then index order)
    uint64_t total = 0;     // exact number of matches under the filters
  };
  // kExitDataErr for an empty (after normalisation), too long or invalid UTF-8 query, a limit
  // above 1000 or from_ms > to_ms; kExitIoErr when the store fails.
  base::Result<Result> Search(const Query& q);

  // {"docs" (searchable), "docs_removed" (ids used by edited-away, deleted, failed or pending
  //  documents), "tail_docs", "tail_terms", "segments" (flushes since the last Compact; after a
  //  reopen, flushes ever), "pending_tickets", "memory_bytes" (estimate), "disk_bytes" (SST bytes
  //  of the search family)}
  base::Json Stats();

  static constexpr size_t kMaxQueryChars = 256;
  static constexpr size_t kMaxQueryBytes = 4096;
  static constexpr size_t kMaxLimit = 1000;

  // The normalised form of stored text (see the top of this file). Idempotent.
  static std::string Normalize(std::string_view text);
  // A query's normalised characters; errors as for Search.
  static base::Result<std::u32string> NormalizeQuery(std::string_view query);
  // The (bigram, offset) pairs a query of >= 2 normalised characters is looked up by: a set
  // covering every character. Exposed for tests and the fuzz target.
  struct QueryTerm {
    uint64_t term = 0;
    uint32_t offset = 0;
  };
  static std::vector<QueryTerm> PlanQuery(const std::u32string& q);
  static uint64_t Bigram(char32_t a, char32_t b) { return (static_cast<uint64_t>(a) << 21) | b; }

  struct Impl;

 private:
  explicit SearchIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace collab::chat
