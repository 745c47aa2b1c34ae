#include "lib/stream/annexb.hpp"

namespace collab::stream {

std::vector<std::string_view> SplitAnnexB(std::string_view d) {
  std::vector<std::string_view> out;
  size_t i = 0, start = std::string_view::npos;
  while (i + 2 < d.size()) {
    if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1) {
      if (start != std::string_view::npos) {
        size_t end = i;
        while (end > start && d[end - 1] == 0) --end;  // trailing zeros belong to the next start code
        if (end > start) out.push_back(d.substr(start, end - start));
      }
      i += 3;
      start = i;
      continue;
    }
    ++i;
  }
  if (start != std::string_view::npos && start < d.size()) out.push_back(d.substr(start));
  return out;
}

base::Result<std::string> MakeAvcC(std::string_view sps, std::string_view pps) {
  if (sps.size() < 4 || pps.empty() || sps.size() > 0xffff || pps.size() > 0xffff)
    return base::MakeError(base::kExitDataErr, "h264: SPS or PPS missing or too short");
  std::string r;
  r.push_back(1);
  r.push_back(sps[1]);  // profile
  r.push_back(sps[2]);  // constraint flags
  r.push_back(sps[3]);  // level
  r.push_back(static_cast<char>(0xff));  // 4-byte NAL lengths
  r.push_back(static_cast<char>(0xe1));  // one SPS
  r.push_back(static_cast<char>(sps.size() >> 8));
  r.push_back(static_cast<char>(sps.size()));
  r.append(sps);
  r.push_back(1);
  r.push_back(static_cast<char>(pps.size() >> 8));
  r.push_back(static_cast<char>(pps.size()));
  r.append(pps);
  return r;
}

AnnexBAccessUnit ConvertAnnexB(std::string_view data) {
  AnnexBAccessUnit au;
  for (std::string_view nal : SplitAnnexB(data)) {
    int type = static_cast<uint8_t>(nal[0]) & 0x1f;
    if (type == 7) {
      au.sps = std::string(nal);
      continue;
    }
    if (type == 8) {
      au.pps = std::string(nal);
      continue;
    }
    if (type == 9) continue;  // access unit delimiter: fMP4 samples do without
    if (type == 5) au.idr = true;
    uint32_t n = static_cast<uint32_t>(nal.size());
    for (int s = 24; s >= 0; s -= 8) au.avcc.push_back(static_cast<char>(n >> s));
    au.avcc.append(nal);
  }
  return au;
}

base::Status SplitAdts(std::string_view d, std::vector<AdtsFrame>& out) {
  static constexpr int kRates[13] = {96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350};
  size_t p = 0;
  while (p < d.size()) {
    if (d.size() - p < 7) return base::MakeError(base::kExitDataErr, "adts: truncated header");
    auto b = [&](size_t i) { return static_cast<uint8_t>(d[p + i]); };
    if (b(0) != 0xff || (b(1) & 0xf6) != 0xf0) return base::MakeError(base::kExitDataErr, "adts: no sync word");
    bool crc = !(b(1) & 1);
    int profile = b(2) >> 6;
    int sr_index = (b(2) >> 2) & 0xf;
    int channels = ((b(2) & 1) << 2) | (b(3) >> 6);
    size_t len = (static_cast<size_t>(b(3) & 3) << 11) | (static_cast<size_t>(b(4)) << 3) | (b(5) >> 5);
    int raw_blocks = (b(6) & 3) + 1;
    size_t header = crc ? 9 : 7;
    if (sr_index > 12) return base::MakeError(base::kExitDataErr, "adts: reserved sampling frequency");
    if (len < header || len > d.size() - p) return base::MakeError(base::kExitDataErr, "adts: bad frame length");
    if (raw_blocks != 1) return base::MakeError(base::kExitDataErr, "adts: several raw blocks per frame are not supported");
    AdtsFrame f;
    int object_type = profile + 1;
    uint16_t asc = static_cast<uint16_t>((object_type << 11) | (sr_index << 7) | (channels << 3));
    f.asc = std::string{static_cast<char>(asc >> 8), static_cast<char>(asc & 0xff)};
    f.data = d.substr(p + header, len - header);
    f.sample_rate = kRates[sr_index];
    out.push_back(f);
    p += len;
  }
  return base::Ok();
}

}  // namespace collab::stream
