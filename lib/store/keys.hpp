// Big-endian key encoding for RocksDB keys, so that numeric fields compare correctly as raw
// bytes (RocksDB's default bytewise comparator): seq 255 sorts before seq 256.
// Deliberately tiny and header-only; it knows nothing about RocksDB or about what the key
// parts mean (room ids, sequences) — callers compose keys with KeyBuilder.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace collab::store {

inline void AppendU64BE(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

inline void AppendU32BE(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

// nullopt when fewer than 8 (4) bytes are available at offset: keys come from disk, so a
// short key is bad data rather than a programming error.
inline std::optional<uint64_t> ReadU64BE(std::string_view s, size_t offset = 0) {
  if (offset > s.size() || s.size() - offset < 8) return std::nullopt;
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(s[offset + i]);
  return v;
}

inline std::optional<uint32_t> ReadU32BE(std::string_view s, size_t offset = 0) {
  if (offset > s.size() || s.size() - offset < 4) return std::nullopt;
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[offset + i]);
  return v;
}

// The smallest key greater than every key starting with prefix, for use as an exclusive
// upper bound of a prefix scan. Empty when no such key exists (prefix is all 0xff or empty),
// meaning "no upper bound".
inline std::string PrefixUpperBound(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty()) {
    auto c = static_cast<unsigned char>(s.back());
    if (c != 0xff) {
      s.back() = static_cast<char>(c + 1);
      return s;
    }
    s.pop_back();
  }
  return s;
}

// KeyBuilder().U64(room).U64(seq).Take(). Variable-length parts must be length-prefixed
// (Str) or be the last part (Raw), or two different part lists could encode equally.
class KeyBuilder {
 public:
  KeyBuilder& U64(uint64_t v) { AppendU64BE(key_, v); return *this; }
  KeyBuilder& U32(uint32_t v) { AppendU32BE(key_, v); return *this; }
  KeyBuilder& Byte(uint8_t v) { key_.push_back(static_cast<char>(v)); return *this; }
  // Length-prefixed (u32 BE) bytes: safe in the middle of a key, but sorts by length first.
  KeyBuilder& Str(std::string_view s) {
    AppendU32BE(key_, static_cast<uint32_t>(s.size()));
    key_.append(s);
    return *this;
  }
  // Raw bytes: sorts lexicographically; only unambiguous as the last part or when fixed-size.
  KeyBuilder& Raw(std::string_view s) { key_.append(s); return *this; }

  const std::string& key() const { return key_; }
  std::string Take() { return std::move(key_); }

 private:
  std::string key_;
};

}  // namespace collab::store
