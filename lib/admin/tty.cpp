#include "lib/admin/tty.hpp"

#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "lib/base/time.hpp"

namespace collab::admin {

namespace {

// Code points that terminals draw two columns wide (the common East Asian Wide/Fullwidth blocks).
bool Wide(uint32_t cp) {
  return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0x303E) || (cp >= 0x3041 && cp <= 0x33FF) ||
         (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xA000 && cp <= 0xA4CF) ||
         (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
         (cp >= 0xFF00 && cp <= 0xFF60) || (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
         (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD);
}

std::string Clean(std::string s) {
  // A tab or newline inside a field would break both layouts.
  for (char& c : s)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return s;
}

}  // namespace

bool IsTty(FILE* f) { return ::isatty(::fileno(f)) == 1; }

size_t DisplayWidth(std::string_view s) {
  size_t w = 0;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    uint32_t cp = c;
    size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (n > 1) {
      cp = c & (0x7F >> n);
      for (size_t k = 1; k < n && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    }
    i += n;
    w += Wide(cp) ? 2 : 1;
  }
  return w;
}

void PrintTable(FILE* out, const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  if (!IsTty(out)) {
    auto line = [&](const std::vector<std::string>& cells) {
      std::string s;
      for (size_t i = 0; i < cells.size(); ++i) s += (i ? "\t" : "") + Clean(cells[i]);
      std::fprintf(out, "%s\n", s.c_str());
    };
    line(header);
    for (const auto& r : rows) line(r);
    return;
  }
  std::vector<size_t> width(header.size(), 0);
  for (size_t i = 0; i < header.size(); ++i) width[i] = DisplayWidth(header[i]);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], DisplayWidth(Clean(r[i])));
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t i = 0; i < cells.size(); ++i) {
      std::string c = Clean(cells[i]);
      s += c;
      if (i + 1 < cells.size()) s += std::string(width[i] - DisplayWidth(c) + 2, ' ');
    }
    std::fprintf(out, "%s\n", s.c_str());
  };
  line(header);
  for (const auto& r : rows) line(r);
}

std::string HumanBytes(uint64_t n) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[u]);
  return buf;
}

ProgressBar::ProgressBar(std::string label, uint64_t total, bool bytes)
    : label_(std::move(label)), total_(total), bytes_(bytes), enabled_(IsTty(stderr)) {
  Draw(true);
}

ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::Set(uint64_t done) {
  done_ = done;
  Draw(false);
}

void ProgressBar::Finish() {
  if (finished_) return;
  if (total_ > 0 && done_ < total_) done_ = total_;
  Draw(true);
  finished_ = true;
  if (enabled_) std::fputs("\n", stderr);
}

void ProgressBar::Draw(bool force) {
  if (!enabled_ || finished_) return;
  int64_t now = base::MonotonicMs();
  if (!force && now - last_draw_ms_ < 100) return;
  last_draw_ms_ = now;
  auto amount = [&](uint64_t v) { return bytes_ ? HumanBytes(v) : std::to_string(v); };
  std::string text = label_ + " ";
  if (total_ > 0) {
    constexpr int kWidth = 30;
    uint64_t d = std::min(done_, total_);
    int filled = static_cast<int>(d * kWidth / total_);
    text += "[" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "] ";
    text += std::to_string(d * 100 / total_) + "% " + amount(d) + "/" + amount(total_);
  } else {
    text += amount(done_);
  }
  std::fprintf(stderr, "\r%s\033[K", text.c_str());
  std::fflush(stderr);
}

base::Result<std::string> ReadPassword(bool from_stdin, bool confirm) {
  auto strip = [](std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  };
  if (from_stdin) {
    std::string line;
    if (!std::getline(std::cin, line) && line.empty())
      return base::MakeError(base::kExitDataErr, "no password on standard input");
    line = strip(line);
    if (line.empty()) return base::MakeError(base::kExitDataErr, "empty password");
    return line;
  }
  FILE* tty = std::fopen("/dev/tty", "r+");
  if (!tty) return base::MakeError(base::kExitUsage, "no terminal to ask for a password; use --password-stdin");
  auto ask = [&](const char* prompt) -> base::Result<std::string> {
    // Echo goes off before the prompt appears, so nothing typed after the prompt is echoed or
    // discarded by the flush; the flush only drops typeahead from before the question.
    termios old{};
    bool restore = ::tcgetattr(::fileno(tty), &old) == 0;
    if (restore) {
      termios quiet = old;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      quiet.c_lflag |= ECHONL;
      ::tcsetattr(::fileno(tty), TCSAFLUSH, &quiet);
    }
    std::fputs(prompt, tty);
    std::fflush(tty);
    char buf[1024];
    char* got = std::fgets(buf, sizeof buf, tty);
    if (restore) ::tcsetattr(::fileno(tty), TCSANOW, &old);
    if (!got) return base::MakeError(base::kExitDataErr, "no password given");
    return strip(buf);
  };
  auto first = ask("Password: ");
  if (first.ok() && first->empty()) first = base::MakeError(base::kExitDataErr, "empty password");
  if (first.ok() && confirm) {
    auto second = ask("Password again: ");
    if (!second.ok())
      first = second;
    else if (*second != *first)
      first = base::MakeError(base::kExitDataErr, "the passwords differ");
  }
  std::fclose(tty);
  return first;
}

}  // namespace collab::admin
