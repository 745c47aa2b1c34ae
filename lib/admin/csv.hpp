// RFC 4180 CSV reading for `collab-admin user import`, and the user-row checks on top of it.
// Tolerant where spreadsheets differ (a UTF-8 BOM, bare LF line ends, blank lines), strict where
// a guess could import the wrong thing: a malformed record is reported with its line number and
// skipped, never repaired. Deliberately no encodings other than UTF-8 (Shift_JIS exports must be
// converted first, e.g. with iconv) and no dialects (separator is always ',').
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace collab::admin {

struct CsvRecord {
  size_t line = 0;  // 1-based line on which the record starts
  std::vector<std::string> fields;
};

struct CsvProblem {
  size_t line = 0;
  std::string message;
};

struct CsvParse {
  std::vector<CsvRecord> records;
  std::vector<CsvProblem> problems;
};

inline constexpr size_t kMaxCsvFields = 64;
inline constexpr size_t kMaxCsvFieldBytes = 64 * 1024;

// Splits text into records. Quoted fields may hold commas, doubled quotes and line breaks;
// a quote inside an unquoted field, text after a closing quote, an unterminated quote, invalid
// UTF-8 or too many/too large fields make that record a problem (parsing resumes on the next line).
CsvParse ParseCsv(std::string_view text);

struct UserRow {
  size_t line = 0;
  std::string id, name, department, email, role, password;
  bool has_password = false;
};

struct UserCsv {
  std::vector<UserRow> rows;
  std::vector<CsvProblem> problems;  // bad rows (skipped) or, with line 1, a bad header
  bool header_ok = false;
};

// Reads an import file: a header row naming the columns (id, name, department, email, role,
// password; any order, case-insensitive, id required), then one user per row. Rows with the wrong
// number of fields, a bad id (1..64 of a-z 0-9 . _ -, starting with a letter or digit; upper case
// is folded), a role other than user/admin, or an id already seen are problems.
UserCsv ParseUserCsv(std::string_view text);

}  // namespace collab::admin
