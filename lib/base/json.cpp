#include "lib/base/json.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>

#include "lib/base/utf8.hpp"

namespace collab::base {

namespace {

class Parser {
 public:
  Parser(std::string_view text, const Json::ParseLimits& limits) : t_(text), lim_(limits) {}

  Result<Json> Run() {
    if (t_.size() > lim_.max_bytes) return Fail("document larger than the limit");
    SkipWs();
    Json v;
    if (!Value(v, 0)) return Error{kExitDataErr, err_};
    SkipWs();
    if (p_ != t_.size()) return Fail("unexpected data after the JSON value");
    return v;
  }

 private:
  Error Fail(const char* what) {
    return Error{kExitDataErr, "invalid JSON at byte " + std::to_string(p_) + ": " + what};
  }
  bool SetErr(const char* what) {
    if (err_.empty()) err_ = "invalid JSON at byte " + std::to_string(p_) + ": " + what;
    return false;
  }
  void SkipWs() {
    while (p_ < t_.size() && (t_[p_] == ' ' || t_[p_] == '\t' || t_[p_] == '\n' || t_[p_] == '\r')) ++p_;
  }
  bool Literal(const char* word) {
    size_t n = std::strlen(word);
    if (t_.substr(p_, n) != word) return SetErr("unknown literal");
    p_ += n;
    return true;
  }

  bool Value(Json& out, size_t depth) {
    if (depth > lim_.max_depth) return SetErr("nesting too deep");
    if (p_ >= t_.size()) return SetErr("unexpected end of input");
    char c = t_[p_];
    switch (c) {
      case 'n': out = Json(); return Literal("null");
      case 't': out = Json(true); return Literal("true");
      case 'f': out = Json(false); return Literal("false");
      case '"': {
        std::string s;
        if (!String(s)) return false;
        out = Json(std::move(s));
        return true;
      }
      case '[': return ArrayValue(out, depth);
      case '{': return ObjectValue(out, depth);
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return Number(out);
        return SetErr("unexpected character");
    }
  }

  bool ArrayValue(Json& out, size_t depth) {
    ++p_;  // [
    out = Json::MakeArray();
    SkipWs();
    if (p_ < t_.size() && t_[p_] == ']') { ++p_; return true; }
    for (;;) {
      SkipWs();
      Json item;
      if (!Value(item, depth + 1)) return false;
      out.Push(std::move(item));
      SkipWs();
      if (p_ >= t_.size()) return SetErr("unterminated array");
      if (t_[p_] == ',') { ++p_; continue; }
      if (t_[p_] == ']') { ++p_; return true; }
      return SetErr("expected ',' or ']'");
    }
  }

  bool ObjectValue(Json& out, size_t depth) {
    ++p_;  // {
    out = Json::MakeObject();
    SkipWs();
    if (p_ < t_.size() && t_[p_] == '}') { ++p_; return true; }
    for (;;) {
      SkipWs();
      if (p_ >= t_.size() || t_[p_] != '"') return SetErr("expected a string key");
      std::string key;
      if (!String(key)) return false;
      SkipWs();
      if (p_ >= t_.size() || t_[p_] != ':') return SetErr("expected ':'");
      ++p_;
      SkipWs();
      Json v;
      if (!Value(v, depth + 1)) return false;
      // Duplicate keys: the last one wins (RFC 8259 leaves it open; this is the common choice).
      out.Set(key, std::move(v));
      SkipWs();
      if (p_ >= t_.size()) return SetErr("unterminated object");
      if (t_[p_] == ',') { ++p_; continue; }
      if (t_[p_] == '}') { ++p_; return true; }
      return SetErr("expected ',' or '}'");
    }
  }

  static void AppendUtf8(std::string& s, uint32_t cp) {
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool Hex4(uint32_t& v) {
    if (p_ + 4 > t_.size()) return SetErr("short \\u escape");
    v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = t_[p_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else return SetErr("bad hex digit in \\u escape");
    }
    return true;
  }

  // Validates one UTF-8 sequence starting at p_ and copies it.
  bool Utf8(std::string& s) {
    uint32_t cp;
    size_t n = DecodeUtf8(t_, p_, &cp);
    if (n == 0) return SetErr("invalid UTF-8");
    s.append(t_.substr(p_, n));
    p_ += n;
    return true;
  }

  bool String(std::string& s) {
    ++p_;  // opening quote
    for (;;) {
      if (p_ >= t_.size()) return SetErr("unterminated string");
      char c = t_[p_];
      if (c == '"') { ++p_; return true; }
      if (static_cast<unsigned char>(c) < 0x20) return SetErr("control character in string");
      if (c != '\\') {
        if (!Utf8(s)) return false;
        continue;
      }
      ++p_;
      if (p_ >= t_.size()) return SetErr("unterminated escape");
      char e = t_[p_++];
      switch (e) {
        case '"': s += '"'; break;
        case '\\': s += '\\'; break;
        case '/': s += '/'; break;
        case 'b': s += '\b'; break;
        case 'f': s += '\f'; break;
        case 'n': s += '\n'; break;
        case 'r': s += '\r'; break;
        case 't': s += '\t'; break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (t_.substr(p_, 2) != "\\u") return SetErr("lone high surrogate");
            p_ += 2;
            uint32_t lo;
            if (!Hex4(lo)) return false;
            if (lo < 0xDC00 || lo > 0xDFFF) return SetErr("bad low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return SetErr("lone low surrogate");
          }
          AppendUtf8(s, cp);
          break;
        }
        default: return SetErr("unknown escape");
      }
    }
  }

  bool Number(Json& out) {
    size_t start = p_;
    bool is_int = true;
    if (t_[p_] == '-') ++p_;
    if (p_ >= t_.size()) return SetErr("bad number");
    if (t_[p_] == '0') {
      ++p_;
    } else if (t_[p_] >= '1' && t_[p_] <= '9') {
      while (p_ < t_.size() && t_[p_] >= '0' && t_[p_] <= '9') ++p_;
    } else {
      return SetErr("bad number");
    }
    if (p_ < t_.size() && t_[p_] == '.') {
      is_int = false;
      ++p_;
      if (p_ >= t_.size() || t_[p_] < '0' || t_[p_] > '9') return SetErr("bad fraction");
      while (p_ < t_.size() && t_[p_] >= '0' && t_[p_] <= '9') ++p_;
    }
    if (p_ < t_.size() && (t_[p_] == 'e' || t_[p_] == 'E')) {
      is_int = false;
      ++p_;
      if (p_ < t_.size() && (t_[p_] == '+' || t_[p_] == '-')) ++p_;
      if (p_ >= t_.size() || t_[p_] < '0' || t_[p_] > '9') return SetErr("bad exponent");
      while (p_ < t_.size() && t_[p_] >= '0' && t_[p_] <= '9') ++p_;
    }
    std::string num(t_.substr(start, p_ - start));
    if (is_int) {
      errno = 0;
      char* end = nullptr;
      long long v = std::strtoll(num.c_str(), &end, 10);
      if (errno == 0 && end == num.c_str() + num.size()) {
        out = Json(v);
        return true;
      }
    }
    char* end = nullptr;
    double d = std::strtod(num.c_str(), &end);
    if (!std::isfinite(d)) return SetErr("number out of range");
    out = Json(d);
    return true;
  }

  std::string_view t_;
  const Json::ParseLimits& lim_;
  size_t p_ = 0;
  std::string err_;
};

void Indent(std::string& out, int indent, int level) {
  out += '\n';
  out.append(static_cast<size_t>(indent * level), ' ');
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

Json Json::Obj(std::initializer_list<Member> members) {
  Json j = MakeObject();
  for (const auto& m : members) j.Set(m.first, m.second);
  return j;
}

Json Json::Arr(std::initializer_list<Json> items) {
  Json j = MakeArray();
  for (const auto& i : items) j.Push(i);
  return j;
}

Result<Json> Json::Parse(std::string_view text, const ParseLimits& limits) {
  return Parser(text, limits).Run();
}

std::string Json::Dump(int indent) const {
  std::string out;
  DumpTo(out, indent, 0);
  return out;
}

void Json::DumpTo(std::string& out, int indent, int level) const {
  switch (type_) {
    case Type::kNull: out += "null"; break;
    case Type::kBool: out += b_ ? "true" : "false"; break;
    case Type::kInt: out += std::to_string(i_); break;
    case Type::kDouble: {
      // Shortest text that round-trips.
      char buf[64];
      auto res = std::to_chars(buf, buf + sizeof buf, d_);
      std::string_view txt(buf, static_cast<size_t>(res.ptr - buf));
      out += txt;
      if (txt.find_first_of(".eEn") == std::string_view::npos) out += ".0";
      break;
    }
    case Type::kString: AppendJsonString(out, s_); break;
    case Type::kArray: {
      out += '[';
      bool first = true;
      for (const auto& v : a_) {
        if (!first) out += ',';
        first = false;
        if (indent > 0) Indent(out, indent, level + 1);
        v.DumpTo(out, indent, level + 1);
      }
      if (indent > 0 && !a_.empty()) Indent(out, indent, level);
      out += ']';
      break;
    }
    case Type::kObject: {
      out += '{';
      bool first = true;
      for (const auto& [k, v] : o_) {
        if (!first) out += ',';
        first = false;
        if (indent > 0) Indent(out, indent, level + 1);
        AppendJsonString(out, k);
        out += indent > 0 ? ": " : ":";
        v.DumpTo(out, indent, level + 1);
      }
      if (indent > 0 && !o_.empty()) Indent(out, indent, level);
      out += '}';
      break;
    }
  }
}

const Json* Json::Find(std::string_view key) const {
  if (type_ != Type::kObject) return nullptr;
  for (const auto& m : o_)
    if (m.first == key) return &m.second;
  return nullptr;
}

Json* Json::Find(std::string_view key) {
  return const_cast<Json*>(static_cast<const Json*>(this)->Find(key));
}

Json& Json::Set(std::string_view key, Json value) {
  if (type_ == Type::kNull) type_ = Type::kObject;
  assert(type_ == Type::kObject);
  if (Json* existing = Find(key)) {
    *existing = std::move(value);
    return *existing;
  }
  o_.emplace_back(std::string(key), std::move(value));
  return o_.back().second;
}

Json& Json::operator[](std::string_view key) {
  if (Json* existing = Find(key)) return *existing;
  return Set(key, Json());
}

void Json::Push(Json value) {
  if (type_ == Type::kNull) type_ = Type::kArray;
  assert(type_ == Type::kArray);
  a_.push_back(std::move(value));
}

size_t Json::size() const {
  if (type_ == Type::kArray) return a_.size();
  if (type_ == Type::kObject) return o_.size();
  return 0;
}

std::string Json::GetString(std::string_view key, std::string_view def) const {
  const Json* v = Find(key);
  return v && v->is_string() ? v->s_ : std::string(def);
}

int64_t Json::GetInt(std::string_view key, int64_t def) const {
  const Json* v = Find(key);
  return v && v->is_number() ? v->as_int() : def;
}

bool Json::GetBool(std::string_view key, bool def) const {
  const Json* v = Find(key);
  return v && v->is_bool() ? v->b_ : def;
}

bool Json::operator==(const Json& o) const {
  if (is_number() && o.is_number()) {
    if (is_int() && o.is_int()) return i_ == o.i_;
    return as_double() == o.as_double();
  }
  if (type_ != o.type_) return false;
  switch (type_) {
    case Type::kNull: return true;
    case Type::kBool: return b_ == o.b_;
    case Type::kString: return s_ == o.s_;
    case Type::kArray: return a_ == o.a_;
    case Type::kObject: {
      if (o_.size() != o.o_.size()) return false;
      for (const auto& [k, v] : o_) {
        const Json* ov = o.Find(k);
        if (!ov || !(*ov == v)) return false;
      }
      return true;
    }
    default: return false;
  }
}

}  // namespace collab::base
