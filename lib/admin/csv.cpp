#include "lib/admin/csv.hpp"

#include <cstdint>
#include <set>

#include "lib/base/ascii.hpp"
#include "lib/base/utf8.hpp"

namespace collab::admin {

namespace {


std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return std::string(s.substr(b, e - b));
}

bool ValidUserId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(id[0])) return false;
  for (char c : id)
    if (!alnum(c) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

}  // namespace

CsvParse ParseCsv(std::string_view text) {
  CsvParse out;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  size_t i = 0, line = 1;
  const size_t n = text.size();
  // Skips to just after the next line break (or the end), counting lines.
  auto skip_line = [&] {
    while (i < n && text[i] != '\n') ++i;
    if (i < n) ++i, ++line;
  };
  while (i < n) {
    // Blank lines (LF, CRLF) are not records.
    if (text[i] == '\n') {
      ++i, ++line;
      continue;
    }
    if (text[i] == '\r' && i + 1 < n && text[i + 1] == '\n') {
      i += 2, ++line;
      continue;
    }
    CsvRecord rec;
    rec.line = line;
    std::string problem;
    bool end_of_record = false;
    while (!end_of_record && problem.empty()) {
      std::string field;
      if (i < n && text[i] == '"') {
        ++i;
        bool closed = false;
        while (i < n) {
          char c = text[i];
          if (c == '"') {
            if (i + 1 < n && text[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            closed = true;
            break;
          }
          if (c == '\n') ++line;
          field += c;
          ++i;
          if (field.size() > kMaxCsvFieldBytes) break;
        }
        if (field.size() > kMaxCsvFieldBytes) {
          problem = "field longer than " + std::to_string(kMaxCsvFieldBytes) + " bytes";
        } else if (!closed) {
          problem = "quoted field not closed before the end of the file";
        } else if (i < n && text[i] != ',' && text[i] != '\n' &&
                   !(text[i] == '\r' && i + 1 < n && text[i + 1] == '\n') && !(text[i] == '\r' && i + 1 == n)) {
          problem = "text after a closing quote (write a quote inside a quoted field as \"\")";
        }
      } else {
        while (i < n && text[i] != ',' && text[i] != '\n') {
          if (text[i] == '\r' && (i + 1 == n || text[i + 1] == '\n')) break;
          if (text[i] == '"') {
            problem = "quote inside an unquoted field (quote the whole field and double the quote)";
            break;
          }
          field += text[i];
          ++i;
          if (field.size() > kMaxCsvFieldBytes) {
            problem = "field longer than " + std::to_string(kMaxCsvFieldBytes) + " bytes";
            break;
          }
        }
      }
      if (!problem.empty()) break;
      if (!base::IsValidUtf8(field)) {
        problem = "field " + std::to_string(rec.fields.size() + 1) + " is not valid UTF-8";
        break;
      }
      rec.fields.push_back(std::move(field));
      if (rec.fields.size() > kMaxCsvFields) {
        problem = "more than " + std::to_string(kMaxCsvFields) + " fields";
        break;
      }
      if (i >= n) {
        end_of_record = true;
      } else if (text[i] == ',') {
        ++i;
      } else if (text[i] == '\n') {
        ++i, ++line;
        end_of_record = true;
      } else if (text[i] == '\r') {
        i += (i + 1 < n) ? 2 : 1;
        ++line;
        end_of_record = true;
      }
    }
    if (!problem.empty()) {
      out.problems.push_back(CsvProblem{rec.line, problem});
      skip_line();
      continue;
    }
    out.records.push_back(std::move(rec));
  }
  return out;
}

UserCsv ParseUserCsv(std::string_view text) {
  UserCsv out;
  CsvParse p = ParseCsv(text);
  out.problems = p.problems;
  if (p.records.empty() || (!out.problems.empty() && out.problems.front().line < p.records.front().line)) {
    out.problems.insert(out.problems.begin(),
                        CsvProblem{1, "no header row (expected id,name,department,email,role[,password])"});
    return out;
  }
  const CsvRecord& header = p.records.front();
  enum Col { kId, kName, kDepartment, kEmail, kRole, kPassword, kCols };
  static const char* kNames[kCols] = {"id", "name", "department", "email", "role", "password"};
  std::vector<int> col_of_field;
  int field_of_col[kCols] = {-1, -1, -1, -1, -1, -1};
  for (size_t f = 0; f < header.fields.size(); ++f) {
    std::string name = base::LowerAscii(Trim(header.fields[f]));
    int col = -1;
    for (int c = 0; c < kCols; ++c)
      if (name == kNames[c]) col = c;
    if (col < 0) {
      out.problems.insert(
          out.problems.begin(),
          CsvProblem{header.line, "unknown column '" + name +
                                      "' in the header (known: id, name, department, email, role, password)"});
      return out;
    }
    if (field_of_col[col] >= 0) {
      out.problems.insert(out.problems.begin(), CsvProblem{header.line, "column '" + name + "' appears twice"});
      return out;
    }
    field_of_col[col] = static_cast<int>(f);
    col_of_field.push_back(col);
  }
  if (field_of_col[kId] < 0) {
    out.problems.insert(out.problems.begin(), CsvProblem{header.line, "the header has no 'id' column"});
    return out;
  }
  out.header_ok = true;
  std::set<std::string> seen;
  for (size_t r = 1; r < p.records.size(); ++r) {
    const CsvRecord& rec = p.records[r];
    auto bad = [&](std::string m) { out.problems.push_back(CsvProblem{rec.line, std::move(m)}); };
    if (rec.fields.size() != header.fields.size()) {
      bad(std::to_string(rec.fields.size()) + " fields, the header has " + std::to_string(header.fields.size()));
      continue;
    }
    UserRow u;
    u.line = rec.line;
    auto get = [&](int col) { return field_of_col[col] < 0 ? std::string() : rec.fields[field_of_col[col]]; };
    u.id = base::LowerAscii(Trim(get(kId)));
    u.name = Trim(get(kName));
    u.department = Trim(get(kDepartment));
    u.email = Trim(get(kEmail));
    u.role = base::LowerAscii(Trim(get(kRole)));
    u.has_password = field_of_col[kPassword] >= 0 && !get(kPassword).empty();
    if (u.has_password) u.password = get(kPassword);  // passwords are taken verbatim
    if (u.role.empty()) u.role = "user";
    if (!ValidUserId(u.id)) {
      bad("invalid user id '" + u.id + "': 1 to 64 of a-z 0-9 . _ -, starting with a letter or digit");
      continue;
    }
    if (u.role != "user" && u.role != "admin") {
      bad("role must be user or admin, not '" + u.role + "'");
      continue;
    }
    bool too_long = false;
    for (const std::string* s : {&u.name, &u.department, &u.email})
      if (s->size() > 200) too_long = true;
    if (too_long) {
      bad("name, department and email must be at most 200 bytes");
      continue;
    }
    if (!seen.insert(u.id).second) {
      bad("user id '" + u.id + "' appears twice in the file");
      continue;
    }
    out.rows.push_back(std::move(u));
  }
  return out;
}

}  // namespace collab::admin
