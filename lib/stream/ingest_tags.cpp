#include "lib/stream/ingest_tags.hpp"

#include "lib/stream/annexb.hpp"

namespace collab::stream {

namespace {

void Put24(std::string& o, int32_t v) {
  o.push_back(static_cast<char>(v >> 16));
  o.push_back(static_cast<char>(v >> 8));
  o.push_back(static_cast<char>(v));
}

}  // namespace

void IngestTagWriter::Reset() {
  sps_.clear();
  pps_.clear();
  asc_.clear();
  have_avcc_ = false;
}

void IngestTagWriter::VideoAnnexB(std::string_view annexb, int64_t dts_ms, int32_t cts_ms, bool key,
                                  std::vector<IngestTag>& out) {
  AnnexBAccessUnit au = ConvertAnnexB(annexb);
  if ((!au.sps.empty() && au.sps != sps_) || (!au.pps.empty() && au.pps != pps_)) {
    if (!au.sps.empty()) sps_ = au.sps;
    if (!au.pps.empty()) pps_ = au.pps;
    auto avcc = MakeAvcC(sps_, pps_);
    if (avcc.ok()) {
      out.push_back({9, dts_ms, std::string("\x17\x00\x00\x00\x00", 5) + *avcc});
      have_avcc_ = true;
    }
  }
  if (au.avcc.empty() || !have_avcc_) return;
  std::string tag;
  tag.reserve(au.avcc.size() + 5);
  tag.push_back((key || au.idr) ? 0x17 : 0x27);
  tag.push_back(1);
  Put24(tag, cts_ms);
  tag += au.avcc;
  out.push_back({9, dts_ms, std::move(tag)});
}

bool IngestTagWriter::AudioAdts(std::string_view adts, int64_t dts_ms, std::vector<IngestTag>& out) {
  std::vector<AdtsFrame> frames;
  auto st = SplitAdts(adts, frames);
  for (size_t i = 0; i < frames.size(); ++i) {
    int64_t ts = dts_ms + static_cast<int64_t>(i) * 1024 * 1000 / frames[i].sample_rate;
    AudioRaw(frames[i].asc, frames[i].data, ts, out);
  }
  return st.ok();
}

void IngestTagWriter::AudioRaw(std::string_view asc, std::string_view frame, int64_t ts_ms,
                               std::vector<IngestTag>& out) {
  if (asc != asc_) {
    asc_ = std::string(asc);
    out.push_back({8, ts_ms, std::string("\xaf\x00", 2) + asc_});
  }
  out.push_back({8, ts_ms, std::string("\xaf\x01", 2) + std::string(frame)});
}

}  // namespace collab::stream
