#include "lib/stream/h264_depacketizer.hpp"

namespace collab::stream {

namespace {

constexpr uint8_t kStapA = 24;
constexpr uint8_t kFuA = 28;
constexpr uint8_t kIdr = 5;
// A jump this far ahead is a sender restart (or garbage), not loss: start over there.
constexpr int64_t kMaxJump = 3000;
// Bounds what one access unit may hold, so a hostile sender cannot grow memory without limit.
constexpr size_t kMaxUnitBytes = 8u << 20;
constexpr size_t kMaxNals = 1024;

}  // namespace

std::string H264AccessUnit::AnnexB() const {
  std::string o;
  size_t n = 0;
  for (const auto& nal : nals) n += nal.size() + 4;
  o.reserve(n);
  for (const auto& nal : nals) {
    o.append("\x00\x00\x00\x01", 4);
    o += nal;
  }
  return o;
}

H264Depacketizer::H264Depacketizer(size_t reorder_window) : window_(reorder_window == 0 ? 1 : reorder_window) {}

void H264Depacketizer::Push(uint16_t seq, uint32_t timestamp, bool marker, std::span<const uint8_t> payload,
                            std::vector<H264AccessUnit>& out) {
  ++stats_.packets;
  if (!started_) {
    started_ = true;
    next_ = seq;
  }
  int64_t ext = next_ + static_cast<int16_t>(static_cast<uint16_t>(seq - static_cast<uint16_t>(next_)));
  if (ext < next_ || held_.count(ext)) {
    ++stats_.late_or_duplicate;
    return;
  }
  if (ext - next_ > kMaxJump) {
    // Not a gap to wait for: what is held is dropped and the stream restarts at this packet
    // (which may well begin a unit, so it is not marked broken as a packet after a gap is).
    stats_.lost += held_.size();
    held_.clear();
    next_ = ext;
    if (cur_open_) cur_corrupt_ = true;
    waiting_for_key_ = true;
  }
  Held& h = held_[ext];
  h.timestamp = timestamp;
  h.marker = marker;
  h.payload.assign(payload.begin(), payload.end());
  Release(out);
  while (held_.size() > window_) {
    // The window is full and the next packet has not come: it is lost.
    int64_t first = held_.begin()->first;
    stats_.lost += static_cast<uint64_t>(first - next_);
    next_ = first;
    MarkLoss();
    Release(out);
  }
}

void H264Depacketizer::Release(std::vector<H264AccessUnit>& out) {
  for (auto it = held_.find(next_); it != held_.end(); it = held_.find(next_)) {
    Process(it->second, out);
    held_.erase(it);
    ++next_;
  }
}

void H264Depacketizer::MarkLoss() {
  // The unit being assembled may have lost its end, the next one its beginning.
  if (cur_open_) cur_corrupt_ = true;
  gap_ = true;
  waiting_for_key_ = true;
}

void H264Depacketizer::Process(const Held& p, std::vector<H264AccessUnit>& out) {
  // Padding-only packets (bandwidth probes) keep the sequence but carry no media.
  if (p.payload.empty()) return;
  if (cur_open_ && p.timestamp != cur_.rtp_timestamp) Finish(out);
  if (!cur_open_) {
    cur_ = H264AccessUnit{};
    cur_.rtp_timestamp = p.timestamp;
    cur_open_ = true;
    cur_corrupt_ = false;
    cur_bytes_ = 0;
    fragment_.clear();
    fragment_open_ = false;
  }
  // After a gap, the unit this packet belongs to may have lost its beginning.
  if (gap_) {
    cur_corrupt_ = true;
    gap_ = false;
  }
  std::span<const uint8_t> d(p.payload);
  uint8_t type = d[0] & 0x1F;
  if ((d[0] & 0x80) != 0) {
    // The forbidden bit: the sender says this unit is broken.
    ++stats_.malformed;
    cur_corrupt_ = true;
  } else if (type >= 1 && type <= 23) {
    if (fragment_open_) cur_corrupt_ = true;  // a fragmented unit never ended
    fragment_open_ = false;
    AddNal(d);
  } else if (type == kStapA) {
    size_t pos = 1;
    bool ok = d.size() > 3;
    while (ok && pos < d.size()) {
      if (pos + 2 > d.size()) {
        ok = false;
        break;
      }
      size_t n = static_cast<size_t>(d[pos] << 8 | d[pos + 1]);
      pos += 2;
      if (n == 0 || pos + n > d.size()) {
        ok = false;
        break;
      }
      AddNal(d.subspan(pos, n));
      pos += n;
    }
    if (!ok) {
      ++stats_.malformed;
      cur_corrupt_ = true;
    }
  } else if (type == kFuA) {
    if (d.size() < 3) {
      ++stats_.malformed;
      cur_corrupt_ = true;
    } else {
      bool start = (d[1] & 0x80) != 0, end = (d[1] & 0x40) != 0;
      if (start && end) {
        // RFC 6184 5.8: a fragmentation unit must not hold a whole NAL unit.
        ++stats_.malformed;
        cur_corrupt_ = true;
      } else if (start) {
        if (fragment_open_) cur_corrupt_ = true;
        fragment_.assign(1, static_cast<char>((d[0] & 0xE0) | (d[1] & 0x1F)));
        fragment_.append(reinterpret_cast<const char*>(d.data() + 2), d.size() - 2);
        fragment_open_ = true;
      } else if (!fragment_open_) {
        cur_corrupt_ = true;  // a middle or end piece without its start
      } else {
        fragment_.append(reinterpret_cast<const char*>(d.data() + 2), d.size() - 2);
        if (fragment_.size() > kMaxUnitBytes) {
          cur_corrupt_ = true;
          fragment_.clear();
          fragment_open_ = false;
        } else if (end) {
          std::string nal = std::move(fragment_);
          fragment_.clear();
          fragment_open_ = false;
          AddNal({reinterpret_cast<const uint8_t*>(nal.data()), nal.size()});
        }
      }
    }
  } else {
    // 0, 30, 31 are undefined; STAP-B, MTAP16/24 and FU-B belong to interleaved mode.
    ++stats_.malformed;
    cur_corrupt_ = true;
  }
  if (p.marker) Finish(out);
}

void H264Depacketizer::AddNal(std::span<const uint8_t> nal) {
  if (nal.empty()) return;
  if (cur_bytes_ + nal.size() > kMaxUnitBytes || cur_.nals.size() >= kMaxNals) {
    cur_corrupt_ = true;
    return;
  }
  if ((nal[0] & 0x1F) == kIdr) cur_.idr = true;
  cur_bytes_ += nal.size();
  cur_.nals.emplace_back(reinterpret_cast<const char*>(nal.data()), nal.size());
}

void H264Depacketizer::Finish(std::vector<H264AccessUnit>& out) {
  if (!cur_open_) return;
  cur_open_ = false;
  if (fragment_open_) cur_corrupt_ = true;
  fragment_.clear();
  fragment_open_ = false;
  if (cur_corrupt_ || cur_.nals.empty()) {
    waiting_for_key_ = true;
    ++stats_.dropped_units;
    return;
  }
  if (waiting_for_key_ && !cur_.idr) {
    ++stats_.dropped_units;
    return;
  }
  if (cur_.idr) waiting_for_key_ = false;
  ++stats_.units;
  out.push_back(std::move(cur_));
  cur_ = H264AccessUnit{};
}

}  // namespace collab::stream
