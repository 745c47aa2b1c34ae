#include "lib/admin/timespec.hpp"

#include <ctime>
#include <string>

namespace collab::admin {

namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

base::Error Bad(std::string_view text) {
  return base::MakeError(base::kExitUsage, "cannot read '" + std::string(text) +
                                               "' as a date (YYYY-MM-DD or RFC 3339, e.g. 2026-11-25T03:00:00Z)");
}

int DaysInMonth(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

}  // namespace

base::Result<int64_t> ParseDate(std::string_view s) {
  int y, mo, d;
  if (!Digits(s, 0, 4, &y) || s.size() < 10 || s[4] != '-' || !Digits(s, 5, 2, &mo) || s[7] != '-' ||
      !Digits(s, 8, 2, &d))
    return Bad(s);
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, mo)) return Bad(s);
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  if (s.size() == 10) {
    tm.tm_isdst = -1;
    time_t t = std::mktime(&tm);
    if (t == static_cast<time_t>(-1)) return Bad(s);
    return static_cast<int64_t>(t) * 1000;
  }
  int h, mi, sec;
  if ((s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !Digits(s, 11, 2, &h) || s.size() < 19 || s[13] != ':' ||
      !Digits(s, 14, 2, &mi) || s[16] != ':' || !Digits(s, 17, 2, &sec))
    return Bad(s);
  if (h > 23 || mi > 59 || sec > 60) return Bad(s);
  size_t i = 19;
  int64_t ms = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t start = i;
    int64_t scale = 100;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ms += (s[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (i == start) return Bad(s);
  }
  int64_t offset_s = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh, om;
    if (!Digits(s, i + 1, 2, &oh) || i + 3 >= s.size() || s[i + 3] != ':' || !Digits(s, i + 4, 2, &om) || oh > 23 ||
        om > 59)
      return Bad(s);
    offset_s = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
    i += 6;
  } else {
    return Bad(s);  // RFC 3339 needs an offset
  }
  if (i != s.size()) return Bad(s);
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  time_t t = ::timegm(&tm);
  return (static_cast<int64_t>(t) - offset_s) * 1000 + ms;
}

base::Result<int64_t> ParseSince(std::string_view s, int64_t now_ms) {
  if (s.size() >= 2 && s.size() <= 12) {
    char unit = s.back();
    int64_t mult = unit == 's'   ? 1
                   : unit == 'm' ? 60
                   : unit == 'h' ? 3600
                   : unit == 'd' ? 86400
                   : unit == 'w' ? 604800
                                 : 0;
    std::string_view num = s.substr(0, s.size() - 1);
    bool digits = !num.empty();
    int64_t n = 0;
    for (char c : num) {
      if (c < '0' || c > '9')
        digits = false;
      else
        n = n * 10 + (c - '0');
    }
    if (mult && digits) return now_ms - n * mult * 1000;
  }
  auto d = ParseDate(s);
  if (!d.ok())
    return base::MakeError(base::kExitUsage, "cannot read '" + std::string(s) +
                                                 "' as a duration (30m, 24h, 7d, 2w) or a date (YYYY-MM-DD, RFC 3339)");
  return d;
}

}  // namespace collab::admin
