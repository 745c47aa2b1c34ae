// Fuzzes the CSV reader of `collab-admin user import`: no crash or leak on any input, line numbers
// that only grow, and records that survive a write-out (every field quoted, CRLF) and re-read.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lib/admin/csv.hpp"

using namespace collab::admin;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  CsvParse p = ParseCsv(text);
  size_t last = 0;
  for (const auto& r : p.records) {
    if (r.line < 1 || r.line < last || r.fields.empty() || r.fields.size() > kMaxCsvFields) std::abort();
    last = r.line;
  }
  for (const auto& pr : p.problems)
    if (pr.line < 1 || pr.message.empty()) std::abort();

  std::string out;
  for (const auto& r : p.records) {
    for (size_t i = 0; i < r.fields.size(); ++i) {
      if (i) out += ',';
      out += '"';
      for (char c : r.fields[i]) out += c == '"' ? std::string("\"\"") : std::string(1, c);
      out += '"';
    }
    out += "\r\n";
  }
  CsvParse again = ParseCsv(out);
  if (!again.problems.empty() || again.records.size() != p.records.size()) std::abort();
  for (size_t i = 0; i < p.records.size(); ++i)
    if (again.records[i].fields != p.records[i].fields) std::abort();

  UserCsv u = ParseUserCsv(text);
  for (const auto& row : u.rows)
    if (row.id.empty() || row.line < 2 || (row.role != "user" && row.role != "admin")) std::abort();
  return 0;
}
