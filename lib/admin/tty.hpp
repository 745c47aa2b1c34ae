// Terminal niceties for collab-admin: aligned tables, a progress bar and password prompts.
// Everything here looks at whether the stream is a terminal, so piped output stays plain
// (tab-separated, no bar, no escape codes) and a script sees the same fields as a person.
// Deliberately no colours and no curses: one line redrawn with '\r' is all a bar needs.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.hpp"

namespace collab::admin {

bool IsTty(FILE* f);

// Columns a string takes on a terminal: East Asian wide characters count two.
size_t DisplayWidth(std::string_view utf8);

// Prints rows under a header: padded columns on a terminal, tab-separated otherwise.
void PrintTable(FILE* out, const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

// A one-line progress bar on stderr, drawn only when stderr is a terminal and at most ten times a
// second. total may be 0 (unknown): then only the count is shown.
class ProgressBar {
 public:
  ProgressBar(std::string label, uint64_t total, bool bytes);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void Set(uint64_t done);
  void Add(uint64_t n) { Set(done_ + n); }
  // Draws 100% and ends the line (or wipes the bar); idempotent.
  void Finish();

 private:
  void Draw(bool force);

  std::string label_;
  uint64_t total_, done_ = 0;
  bool bytes_, enabled_, finished_ = false;
  int64_t last_draw_ms_ = 0;
};

// "1.5 GiB"-style size.
std::string HumanBytes(uint64_t n);

// Reads a password: from the terminal without echo (asking twice when confirm is set and
// failing with kExitDataErr when the two differ), or, with from_stdin, one line of stdin
// (trailing CR/LF removed). An empty password is an error (kExitDataErr).
base::Result<std::string> ReadPassword(bool from_stdin, bool confirm);

}  // namespace collab::admin
