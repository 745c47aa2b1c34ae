#include "lib/stream/flv.hpp"

#include <cstdio>
#include <vector>

namespace collab::stream {

namespace {

base::Error Bad(std::string msg) { return base::MakeError(base::kExitDataErr, "flv: " + std::move(msg)); }

// Reads an H.264 RBSP bit by bit, with emulation prevention bytes already removed.
class BitReader {
 public:
  explicit BitReader(std::string data) : d_(std::move(data)) {}
  bool ok() const { return ok_; }
  uint32_t Bits(int n) {
    uint32_t v = 0;
    for (int i = 0; i < n; ++i) {
      if (bit_ >= d_.size() * 8) {
        ok_ = false;
        return 0;
      }
      v = (v << 1) | ((static_cast<uint8_t>(d_[bit_ / 8]) >> (7 - bit_ % 8)) & 1);
      ++bit_;
    }
    return v;
  }
  uint32_t Ue() {
    int zeros = 0;
    while (ok_ && Bits(1) == 0) {
      if (++zeros > 31) {
        ok_ = false;
        return 0;
      }
    }
    if (!ok_) return 0;
    return ((1u << zeros) - 1) + Bits(zeros);
  }
  int32_t Se() {
    uint32_t k = Ue();
    return (k & 1) ? static_cast<int32_t>((k + 1) / 2) : -static_cast<int32_t>(k / 2);
  }

 private:
  std::string d_;
  size_t bit_ = 0;
  bool ok_ = true;
};

void SkipScalingList(BitReader& br, int size) {
  int last = 8, next = 8;
  for (int j = 0; j < size && br.ok(); ++j) {
    // 64-bit and a true modulo: a hostile SPS may hold any delta, not just -128..127.
    if (next != 0) next = static_cast<int>(((last + static_cast<int64_t>(br.Se())) % 256 + 256) % 256);
    last = next == 0 ? last : next;
  }
}

// Width and height from an SPS NAL unit (with its header byte); false if unreadable.
bool SpsSize(std::string_view nal, int& width, int& height) {
  std::string rbsp;
  for (size_t i = 1; i < nal.size(); ++i) {
    if (i + 2 < nal.size() && nal[i] == 0 && nal[i + 1] == 0 && nal[i + 2] == 3) {
      rbsp.append(2, '\0');
      i += 2;
      continue;
    }
    rbsp.push_back(nal[i]);
  }
  BitReader br(std::move(rbsp));
  uint32_t profile = br.Bits(8);
  br.Bits(16);  // constraint flags, level
  br.Ue();      // sps id
  int chroma = 1;
  if (profile == 100 || profile == 110 || profile == 122 || profile == 244 || profile == 44 || profile == 83 ||
      profile == 86 || profile == 118 || profile == 128 || profile == 138 || profile == 139 || profile == 134) {
    chroma = static_cast<int>(br.Ue());
    if (chroma == 3) br.Bits(1);
    br.Ue();
    br.Ue();
    br.Bits(1);
    if (br.Bits(1)) {
      for (int i = 0; i < (chroma != 3 ? 8 : 12) && br.ok(); ++i)
        if (br.Bits(1)) SkipScalingList(br, i < 6 ? 16 : 64);
    }
  }
  br.Ue();  // log2_max_frame_num
  uint32_t poc_type = br.Ue();
  if (poc_type == 0) {
    br.Ue();
  } else if (poc_type == 1) {
    br.Bits(1);
    br.Se();
    br.Se();
    uint32_t n = br.Ue();
    if (n > 255) return false;
    for (uint32_t i = 0; i < n && br.ok(); ++i) br.Se();
  }
  br.Ue();      // max_num_ref_frames
  br.Bits(1);   // gaps allowed
  uint32_t mbs_w = br.Ue() + 1;
  uint32_t map_h = br.Ue() + 1;
  uint32_t frame_mbs_only = br.Bits(1);
  if (!frame_mbs_only) br.Bits(1);
  br.Bits(1);  // direct_8x8
  uint32_t crop_l = 0, crop_r = 0, crop_t = 0, crop_b = 0;
  if (br.Bits(1)) {
    crop_l = br.Ue();
    crop_r = br.Ue();
    crop_t = br.Ue();
    crop_b = br.Ue();
  }
  if (!br.ok() || mbs_w > 1024 || map_h > 1024) return false;
  int sub_w = (chroma == 1 || chroma == 2) ? 2 : 1;
  int sub_h = chroma == 1 ? 2 : 1;
  if (chroma == 0) sub_w = sub_h = 1;
  int64_t w = 16LL * mbs_w - static_cast<int64_t>(sub_w) * (crop_l + crop_r);
  int64_t h = 16LL * map_h * (2 - frame_mbs_only) - static_cast<int64_t>(sub_h) * (2 - frame_mbs_only) * (crop_t + crop_b);
  if (w <= 0 || h <= 0 || w > 16384 || h > 16384) return false;
  width = static_cast<int>(w);
  height = static_cast<int>(h);
  return true;
}

}  // namespace

base::Result<FlvVideo> ParseFlvVideo(std::string_view p) {
  if (p.empty()) return Bad("empty video tag");
  uint8_t b0 = static_cast<uint8_t>(p[0]);
  if (b0 & 0x80) return Bad("enhanced RTMP video is not supported");
  int codec = b0 & 0x0f;
  if (codec != 7) return Bad("video codec id " + std::to_string(codec) + " is not H.264");
  if (p.size() < 5) return Bad("truncated AVC tag");
  FlvVideo v;
  v.keyframe = (b0 >> 4) == 1;
  uint8_t type = static_cast<uint8_t>(p[1]);
  uint32_t cts = (static_cast<uint8_t>(p[2]) << 16) | (static_cast<uint8_t>(p[3]) << 8) | static_cast<uint8_t>(p[4]);
  if (cts & 0x800000) cts |= 0xff000000u;  // sign-extend SI24
  v.composition_ms = static_cast<int32_t>(cts);
  v.data = p.substr(5);
  if (type == 0) v.kind = FlvVideo::Kind::kConfig;
  else if (type == 1) v.kind = FlvVideo::Kind::kFrame;
  else if (type == 2) v.kind = FlvVideo::Kind::kEndOfSequence;
  else return Bad("unknown AVC packet type " + std::to_string(type));
  return v;
}

base::Result<FlvAudio> ParseFlvAudio(std::string_view p) {
  if (p.empty()) return Bad("empty audio tag");
  int format = static_cast<uint8_t>(p[0]) >> 4;
  if (format != 10) return Bad("audio format " + std::to_string(format) + " is not AAC");
  if (p.size() < 2) return Bad("truncated AAC tag");
  FlvAudio a;
  uint8_t type = static_cast<uint8_t>(p[1]);
  if (type > 1) return Bad("unknown AAC packet type " + std::to_string(type));
  a.kind = type == 0 ? FlvAudio::Kind::kConfig : FlvAudio::Kind::kFrame;
  a.data = p.substr(2);
  return a;
}

base::Result<AvcConfig> ParseAvcConfig(std::string_view r) {
  if (r.size() < 7) return Bad("avcC too short");
  if (static_cast<uint8_t>(r[0]) != 1) return Bad("avcC version is not 1");
  AvcConfig c;
  c.record = std::string(r);
  c.profile = static_cast<uint8_t>(r[1]);
  c.compatibility = static_cast<uint8_t>(r[2]);
  c.level = static_cast<uint8_t>(r[3]);
  c.nal_length_size = (static_cast<uint8_t>(r[4]) & 3) + 1;
  if (c.nal_length_size == 3) return Bad("avcC NAL length size 3 is not allowed");
  int nsps = static_cast<uint8_t>(r[5]) & 0x1f;
  size_t pos = 6;
  for (int i = 0; i < nsps; ++i) {
    if (pos + 2 > r.size()) return Bad("avcC truncated in SPS");
    size_t len = (static_cast<uint8_t>(r[pos]) << 8) | static_cast<uint8_t>(r[pos + 1]);
    pos += 2;
    if (len > r.size() - pos) return Bad("avcC truncated in SPS");
    if (i == 0 && len > 1 && !SpsSize(r.substr(pos, len), c.width, c.height)) c.width = c.height = 0;
    pos += len;
  }
  if (pos >= r.size()) return Bad("avcC truncated before PPS");
  int npps = static_cast<uint8_t>(r[pos++]);
  for (int i = 0; i < npps; ++i) {
    if (pos + 2 > r.size()) return Bad("avcC truncated in PPS");
    size_t len = (static_cast<uint8_t>(r[pos]) << 8) | static_cast<uint8_t>(r[pos + 1]);
    pos += 2;
    if (len > r.size() - pos) return Bad("avcC truncated in PPS");
    pos += len;
  }
  if (nsps == 0) return Bad("avcC has no SPS");
  return c;
}

std::string AvcConfig::Codec() const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "avc1.%02x%02x%02x", profile, compatibility, level);
  return buf;
}

base::Result<AacConfig> ParseAacConfig(std::string_view asc) {
  static constexpr int kRates[13] = {96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350};
  if (asc.size() < 2) return Bad("AudioSpecificConfig too short");
  BitReader br{std::string(asc)};
  AacConfig c;
  c.record = std::string(asc);
  c.object_type = static_cast<int>(br.Bits(5));
  if (c.object_type == 31) c.object_type = 32 + static_cast<int>(br.Bits(6));
  uint32_t idx = br.Bits(4);
  if (idx == 15) c.sample_rate = static_cast<int>(br.Bits(24));
  else if (idx < 13) c.sample_rate = kRates[idx];
  else return Bad("AudioSpecificConfig has a reserved sampling frequency index");
  c.channels = static_cast<int>(br.Bits(4));
  if (!br.ok()) return Bad("AudioSpecificConfig truncated");
  if (c.sample_rate < 1000 || c.sample_rate > 192000) return Bad("AudioSpecificConfig sample rate out of range");
  if (c.object_type == 0) return Bad("AudioSpecificConfig object type 0");
  return c;
}

std::string AacConfig::Codec() const { return "mp4a.40." + std::to_string(object_type); }

}  // namespace collab::stream
