// Fuzzes the search query front end of lib/chat/search_index: Normalize (stored text and
// queries), NormalizeQuery (validation) and PlanQuery (the bigram cover). No RocksDB: these are
// the parts that see untrusted bytes before any lookup. Checks the invariants the index relies on:
// normalisation is idempotent and yields valid UTF-8 without blank runs or edge blanks; a valid
// query's plan covers every character with bigrams that match the query at their offsets.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "lib/chat/model.hpp"
#include "lib/chat/search_index.hpp"

using collab::chat::SearchIndex;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  std::string n = SearchIndex::Normalize(s);
  // Invalid bytes become U+FFFD and control characters blanks, so the output is always valid.
  if (!collab::chat::ValidText(n)) __builtin_trap();
  if (SearchIndex::Normalize(n) != n) __builtin_trap();
  if (!n.empty() && (n.front() == ' ' || n.back() == ' ' || n.find("  ") != std::string::npos)) __builtin_trap();

  auto q = SearchIndex::NormalizeQuery(s);
  if (!q.ok()) {
    if (q.error().message.empty()) __builtin_trap();
    return 0;
  }
  const std::u32string& text = *q;
  if (text.empty() || text.size() > SearchIndex::kMaxQueryChars) __builtin_trap();
  auto plan = SearchIndex::PlanQuery(text);
  if (text.size() == 1) {
    if (!plan.empty()) __builtin_trap();
    return 0;
  }
  std::string covered(text.size(), 0);
  for (const auto& t : plan) {
    if (t.offset + 1 >= text.size()) __builtin_trap();
    if (t.term != SearchIndex::Bigram(text[t.offset], text[t.offset + 1])) __builtin_trap();
    covered[t.offset] = covered[t.offset + 1] = 1;
  }
  if (covered.find('\0') != std::string::npos) __builtin_trap();
  return 0;
}
