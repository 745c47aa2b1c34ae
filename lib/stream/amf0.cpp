#include "lib/stream/amf0.hpp"

#include <algorithm>
#include <cstring>

namespace collab::stream {

namespace {

constexpr int kMaxDepth = 16;
constexpr size_t kMaxValues = 4096;

enum Marker : uint8_t {
  kNumber = 0x00,
  kBoolean = 0x01,
  kString = 0x02,
  kObject = 0x03,
  kNull = 0x05,
  kUndefined = 0x06,
  kEcmaArray = 0x08,
  kObjectEnd = 0x09,
  kStrictArray = 0x0a,
  kDate = 0x0b,
  kLongString = 0x0c,
  kUnsupported = 0x0d,
};

class Decoder {
 public:
  explicit Decoder(std::string_view d) : d_(d) {}

  bool done() const { return pos_ >= d_.size(); }

  base::Result<Amf0Value> Value(int depth) {
    if (depth > kMaxDepth) return Fail("nested too deeply");
    if (++count_ > kMaxValues) return Fail("too many values");
    uint8_t marker;
    if (!U8(marker)) return Fail("truncated");
    switch (marker) {
      case kNumber: {
        double v;
        if (!Double(v)) return Fail("truncated number");
        return Amf0Value::Number(v);
      }
      case kBoolean: {
        uint8_t b;
        if (!U8(b)) return Fail("truncated boolean");
        return Amf0Value::Bool(b != 0);
      }
      case kString: {
        std::string s;
        if (!Str16(s)) return Fail("truncated string");
        return Amf0Value::String(std::move(s));
      }
      case kLongString: {
        uint32_t n;
        if (!U32(n) || n > d_.size() - pos_) return Fail("truncated long string");
        std::string s(d_.substr(pos_, n));
        pos_ += n;
        return Amf0Value::String(std::move(s));
      }
      case kObject:
        return Props(depth);
      case kEcmaArray: {
        uint32_t ignored;  // the count is only a hint; the end marker is authoritative
        if (!U32(ignored)) return Fail("truncated array");
        return Props(depth);
      }
      case kStrictArray: {
        uint32_t n;
        if (!U32(n)) return Fail("truncated array");
        if (n > kMaxValues) return Fail("array too long");
        std::vector<Amf0Value> items;
        for (uint32_t i = 0; i < n; ++i) {
          auto v = Value(depth + 1);
          if (!v.ok()) return v.error();
          items.push_back(std::move(*v));
        }
        return Amf0Value::Array(std::move(items));
      }
      case kDate: {
        double v;
        uint16_t tz;
        if (!Double(v) || !U16(tz)) return Fail("truncated date");
        return Amf0Value::Number(v);
      }
      case kNull:
        return Amf0Value::Null();
      case kUndefined:
      case kUnsupported:
        return Amf0Value::Undefined();
      default:
        return Fail("unknown marker " + std::to_string(marker));
    }
  }

 private:
  base::Result<Amf0Value> Props(int depth) {
    std::vector<Amf0Value::Property> props;
    for (;;) {
      std::string key;
      if (!Str16(key)) return Fail("truncated object");
      if (key.empty()) {
        uint8_t end;
        if (!U8(end)) return Fail("truncated object");
        if (end == kObjectEnd) break;
        // An empty key followed by a value is legal but useless; keep decoding.
        --pos_;
      }
      auto v = Value(depth + 1);
      if (!v.ok()) return v.error();
      props.emplace_back(std::move(key), std::move(*v));
    }
    return Amf0Value::Object(std::move(props));
  }

  base::Error Fail(const std::string& what) const {
    return base::MakeError(base::kExitDataErr, "amf0: " + what + " at byte " + std::to_string(pos_));
  }
  bool U8(uint8_t& v) {
    if (pos_ + 1 > d_.size()) return false;
    v = static_cast<uint8_t>(d_[pos_++]);
    return true;
  }
  bool U16(uint16_t& v) {
    if (d_.size() - pos_ < 2 || pos_ > d_.size()) return false;
    v = static_cast<uint16_t>((static_cast<uint8_t>(d_[pos_]) << 8) | static_cast<uint8_t>(d_[pos_ + 1]));
    pos_ += 2;
    return true;
  }
  bool U32(uint32_t& v) {
    if (pos_ > d_.size() || d_.size() - pos_ < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(d_[pos_++]);
    return true;
  }
  bool Double(double& v) {
    if (pos_ > d_.size() || d_.size() - pos_ < 8) return false;
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<uint8_t>(d_[pos_++]);
    std::memcpy(&v, &bits, sizeof v);
    return true;
  }
  bool Str16(std::string& s) {
    uint16_t n;
    if (!U16(n) || n > d_.size() - pos_) return false;
    s.assign(d_.substr(pos_, n));
    pos_ += n;
    return true;
  }

  std::string_view d_;
  size_t pos_ = 0;
  size_t count_ = 0;
};

void PutU16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}
void PutU32(std::string& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>(v >> s));
}
void PutString(std::string& out, const std::string& s) {
  if (s.size() <= 0xffff) {
    out.push_back(static_cast<char>(kString));
    PutU16(out, static_cast<uint16_t>(s.size()));
  } else {
    out.push_back(static_cast<char>(kLongString));
    PutU32(out, static_cast<uint32_t>(s.size()));
  }
  out += s;
}

}  // namespace

const Amf0Value* Amf0Value::Find(std::string_view key) const {
  if (type_ != Type::kObject) return nullptr;
  for (const auto& [k, v] : props_)
    if (k == key) return &v;
  return nullptr;
}

std::string Amf0Value::GetString(std::string_view key) const {
  const Amf0Value* v = Find(key);
  return v && v->is_string() ? v->string() : "";
}

base::Result<std::vector<Amf0Value>> DecodeAmf0(std::string_view data) {
  Decoder d(data);
  std::vector<Amf0Value> out;
  while (!d.done()) {
    auto v = d.Value(0);
    if (!v.ok()) return v.error();
    out.push_back(std::move(*v));
  }
  return out;
}

void EncodeAmf0(const Amf0Value& v, std::string& out) {
  switch (v.type()) {
    case Amf0Value::Type::kNumber: {
      out.push_back(static_cast<char>(kNumber));
      uint64_t bits;
      double d = v.number();
      std::memcpy(&bits, &d, sizeof bits);
      for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<char>(bits >> s));
      break;
    }
    case Amf0Value::Type::kBool:
      out.push_back(static_cast<char>(kBoolean));
      out.push_back(v.boolean() ? 1 : 0);
      break;
    case Amf0Value::Type::kString:
      PutString(out, v.string());
      break;
    case Amf0Value::Type::kNull:
      out.push_back(static_cast<char>(kNull));
      break;
    case Amf0Value::Type::kUndefined:
      out.push_back(static_cast<char>(kUndefined));
      break;
    case Amf0Value::Type::kObject:
      out.push_back(static_cast<char>(kObject));
      for (const auto& [k, val] : v.properties()) {
        PutU16(out, static_cast<uint16_t>(std::min<size_t>(k.size(), 0xffff)));
        out.append(k, 0, std::min<size_t>(k.size(), 0xffff));
        EncodeAmf0(val, out);
      }
      PutU16(out, 0);
      out.push_back(static_cast<char>(kObjectEnd));
      break;
    case Amf0Value::Type::kArray:
      out.push_back(static_cast<char>(kStrictArray));
      PutU32(out, static_cast<uint32_t>(v.items().size()));
      for (const auto& item : v.items()) EncodeAmf0(item, out);
      break;
  }
}

}  // namespace collab::stream
