// RTCP reader, typed parsers and writers; see rtcp.hpp.
#include "lib/rtc/rtcp.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include "lib/rtc/rtp.hpp"

namespace collab::rtc {

using base::Error;
using base::kExitDataErr;
using base::MakeError;
using base::Ok;
using base::Result;
using base::Status;
using rtp_detail::Get16;
using rtp_detail::Get32;
using rtp_detail::Put16;

namespace {

Error Bad(const char* what) { return MakeError(kExitDataErr, what); }

uint32_t Get24(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 16 | static_cast<uint32_t>(p[1]) << 8 | p[2];
}

// Appends big-endian integers and closes packets with their length field.
class Writer {
 public:
  explicit Writer(std::vector<uint8_t>* out) : out_(*out), start_(out->size()) {}

  void Header(uint8_t count, uint8_t type) {
    out_.push_back(static_cast<uint8_t>(0x80 | (count & 0x1F)));
    out_.push_back(type);
    out_.push_back(0);
    out_.push_back(0);
  }
  void U8(uint8_t v) { out_.push_back(v); }
  void U16(uint16_t v) {
    out_.push_back(static_cast<uint8_t>(v >> 8));
    out_.push_back(static_cast<uint8_t>(v));
  }
  void U24(uint32_t v) {
    out_.push_back(static_cast<uint8_t>(v >> 16));
    out_.push_back(static_cast<uint8_t>(v >> 8));
    out_.push_back(static_cast<uint8_t>(v));
  }
  void U32(uint32_t v) {
    U16(static_cast<uint16_t>(v >> 16));
    U16(static_cast<uint16_t>(v));
  }
  void Bytes(std::string_view s) { out_.insert(out_.end(), s.begin(), s.end()); }
  void AlignWithZeros() {
    while ((out_.size() - start_) % 4) out_.push_back(0);
  }
  size_t written() const { return out_.size() - start_; }
  void Rollback() { out_.resize(start_); }

  // Pads to 32 bits and fills in the length; fails (and rolls back) when the packet is too long.
  Status Finish() {
    AlignWithZeros();
    size_t size = written();
    if (size > kRtcpMaxPacketSize) {
      Rollback();
      return Bad("RTCP packet too long for its 16-bit length field");
    }
    Put16(out_.data() + start_ + 2, static_cast<uint16_t>(size / 4 - 1));
    return Ok();
  }

 private:
  std::vector<uint8_t>& out_;
  size_t start_;
};

constexpr size_t kReportBlockSize = 24;

ReportBlock ReadReportBlock(const uint8_t* p) {
  ReportBlock r;
  r.ssrc = Get32(p);
  r.fraction_lost = p[4];
  uint32_t lost = Get24(p + 5);
  // 24-bit two's complement: negative when more packets arrived than expected (duplicates).
  r.cumulative_lost = (lost & 0x800000) ? static_cast<int32_t>(lost) - 0x1000000 : static_cast<int32_t>(lost);
  r.highest_sequence = Get32(p + 8);
  r.jitter = Get32(p + 12);
  r.last_sr = Get32(p + 16);
  r.delay_since_last_sr = Get32(p + 20);
  return r;
}

void WriteReportBlock(Writer& w, const ReportBlock& r) {
  int32_t lost = std::clamp<int32_t>(r.cumulative_lost, -0x800000, 0x7FFFFF);
  w.U32(r.ssrc);
  w.U8(r.fraction_lost);
  w.U24(static_cast<uint32_t>(lost) & 0xFFFFFF);
  w.U32(r.highest_sequence);
  w.U32(r.jitter);
  w.U32(r.last_sr);
  w.U32(r.delay_since_last_sr);
}

Status CheckType(const RtcpBlock& b, uint8_t type, int fmt, const char* what) {
  if (b.type != type || (fmt >= 0 && b.count != fmt)) return Bad(what);
  return Ok();
}

Result<std::vector<ReportBlock>> ReadReportBlocks(const RtcpBlock& b, size_t offset) {
  size_t need = offset + kReportBlockSize * b.count;
  if (b.body.size() < need) return Bad("RTCP report blocks run past the end of the packet");
  std::vector<ReportBlock> reports;
  reports.reserve(b.count);
  for (size_t i = 0; i < b.count; ++i)
    reports.push_back(ReadReportBlock(b.body.data() + offset + i * kReportBlockSize));
  return reports;
}

}  // namespace

// ---- Reader ----

RtcpReader::RtcpReader(std::span<const uint8_t> compound) : data_(compound) {
  if (data_.empty()) error_ = "empty RTCP packet";
}

bool RtcpReader::Next(RtcpBlock* out) {
  if (error_ || pos_ == data_.size()) return false;
  size_t rest = data_.size() - pos_;
  const uint8_t* p = data_.data() + pos_;
  if (rest < kRtcpHeaderSize) {
    error_ = "truncated RTCP header";
    return false;
  }
  if ((p[0] >> 6) != 2) {
    error_ = "RTCP version is not 2";
    return false;
  }
  size_t len = (static_cast<size_t>(Get16(p + 2)) + 1) * 4;
  if (len > rest) {
    error_ = "RTCP length runs past the end of the packet";
    return false;
  }
  size_t body_end = len;
  if (p[0] & 0x20) {
    size_t pad = p[len - 1];
    if (pad == 0 || pad > len - kRtcpHeaderSize) {
      error_ = "RTCP padding count is zero or larger than the packet body";
      return false;
    }
    body_end -= pad;
  }
  out->type = p[1];
  out->count = p[0] & 0x1F;
  out->packet = {p, len};
  out->body = {p + kRtcpHeaderSize, body_end - kRtcpHeaderSize};
  pos_ += len;
  return true;
}

Status ValidateRtcpCompound(std::span<const uint8_t> compound) {
  RtcpReader reader(compound);
  RtcpBlock block;
  while (reader.Next(&block)) {
  }
  if (reader.error()) return Bad(reader.error());
  return Ok();
}

// ---- SR / RR ----

Result<SenderReport> ParseSr(const RtcpBlock& b) {
  COLLAB_TRY(CheckType(b, kRtcpSr, -1, "not an RTCP sender report"));
  if (b.body.size() < 24) return Bad("RTCP sender report shorter than its sender info");
  const uint8_t* p = b.body.data();
  SenderReport sr;
  sr.ssrc = Get32(p);
  sr.ntp_timestamp = static_cast<uint64_t>(Get32(p + 4)) << 32 | Get32(p + 8);
  sr.rtp_timestamp = Get32(p + 12);
  sr.packet_count = Get32(p + 16);
  sr.octet_count = Get32(p + 20);
  COLLAB_ASSIGN_OR_RETURN(sr.reports, ReadReportBlocks(b, 24));
  return sr;
}

Result<ReceiverReport> ParseRr(const RtcpBlock& b) {
  COLLAB_TRY(CheckType(b, kRtcpRr, -1, "not an RTCP receiver report"));
  if (b.body.size() < 4) return Bad("RTCP receiver report without an SSRC");
  ReceiverReport rr;
  rr.ssrc = Get32(b.body.data());
  COLLAB_ASSIGN_OR_RETURN(rr.reports, ReadReportBlocks(b, 4));
  return rr;
}

Status WriteSr(const SenderReport& sr, std::vector<uint8_t>* out) {
  if (sr.reports.size() > 31) return Bad("more than 31 report blocks");
  Writer w(out);
  w.Header(static_cast<uint8_t>(sr.reports.size()), kRtcpSr);
  w.U32(sr.ssrc);
  w.U32(static_cast<uint32_t>(sr.ntp_timestamp >> 32));
  w.U32(static_cast<uint32_t>(sr.ntp_timestamp));
  w.U32(sr.rtp_timestamp);
  w.U32(sr.packet_count);
  w.U32(sr.octet_count);
  for (const ReportBlock& r : sr.reports) WriteReportBlock(w, r);
  return w.Finish();
}

Status WriteRr(const ReceiverReport& rr, std::vector<uint8_t>* out) {
  if (rr.reports.size() > 31) return Bad("more than 31 report blocks");
  Writer w(out);
  w.Header(static_cast<uint8_t>(rr.reports.size()), kRtcpRr);
  w.U32(rr.ssrc);
  for (const ReportBlock& r : rr.reports) WriteReportBlock(w, r);
  return w.Finish();
}

// ---- SDES ----

std::optional<std::string_view> Sdes::Cname(uint32_t ssrc) const {
  for (const SdesChunk& c : chunks) {
    if (c.ssrc != ssrc) continue;
    for (const SdesItem& i : c.items)
      if (i.type == kSdesCname) return std::string_view(i.text);
  }
  return std::nullopt;
}

Result<Sdes> ParseSdes(const RtcpBlock& b) {
  COLLAB_TRY(CheckType(b, kRtcpSdes, -1, "not an RTCP SDES packet"));
  const uint8_t* p = b.body.data();
  size_t n = b.body.size();
  size_t pos = 0;
  Sdes sdes;
  sdes.chunks.reserve(b.count);
  for (size_t c = 0; c < b.count; ++c) {
    if (n - pos < 4) return Bad("RTCP SDES chunk runs past the end of the packet");
    SdesChunk chunk;
    chunk.ssrc = Get32(p + pos);
    pos += 4;
    for (;;) {
      if (pos >= n) return Bad("RTCP SDES chunk has no end-of-items null octet");
      uint8_t type = p[pos];
      if (type == 0) {
        // The null item ends the list; more nulls pad the chunk to 32 bits. Chunks start on
        // word boundaries of the body, which itself starts on one.
        pos = std::min(n, (pos + 1 + 3) / 4 * 4);
        break;
      }
      if (n - pos < 2) return Bad("RTCP SDES item header runs past the end of the packet");
      size_t len = p[pos + 1];
      if (n - pos - 2 < len) return Bad("RTCP SDES item runs past the end of the packet");
      chunk.items.push_back(SdesItem{type, std::string(reinterpret_cast<const char*>(p + pos + 2), len)});
      pos += 2 + len;
    }
    sdes.chunks.push_back(std::move(chunk));
  }
  return sdes;
}

Status WriteSdes(const Sdes& sdes, std::vector<uint8_t>* out) {
  if (sdes.chunks.size() > 31) return Bad("more than 31 SDES chunks");
  for (const SdesChunk& c : sdes.chunks) {
    for (const SdesItem& i : c.items) {
      if (i.type == 0) return Bad("SDES item type 0 is the end marker");
      if (i.text.size() > 255) return Bad("SDES item longer than 255 bytes");
    }
  }
  Writer w(out);
  w.Header(static_cast<uint8_t>(sdes.chunks.size()), kRtcpSdes);
  for (const SdesChunk& c : sdes.chunks) {
    w.U32(c.ssrc);
    for (const SdesItem& i : c.items) {
      w.U8(i.type);
      w.U8(static_cast<uint8_t>(i.text.size()));
      w.Bytes(i.text);
    }
    w.U8(0);  // end of items; AlignWithZeros adds the rest of the word
    w.AlignWithZeros();
  }
  return w.Finish();
}

Status WriteSdesCname(uint32_t ssrc, std::string_view cname, std::vector<uint8_t>* out) {
  Sdes sdes;
  sdes.chunks.push_back(SdesChunk{ssrc, {SdesItem{kSdesCname, std::string(cname)}}});
  return WriteSdes(sdes, out);
}

// ---- BYE ----

Result<Bye> ParseBye(const RtcpBlock& b) {
  COLLAB_TRY(CheckType(b, kRtcpBye, -1, "not an RTCP BYE packet"));
  const uint8_t* p = b.body.data();
  size_t n = b.body.size();
  if (n < 4 * static_cast<size_t>(b.count)) return Bad("RTCP BYE SSRC list runs past the end");
  Bye bye;
  bye.ssrcs.reserve(b.count);
  for (size_t i = 0; i < b.count; ++i) bye.ssrcs.push_back(Get32(p + 4 * i));
  size_t pos = 4 * static_cast<size_t>(b.count);
  if (pos < n) {
    size_t len = p[pos];
    if (n - pos - 1 < len) return Bad("RTCP BYE reason runs past the end of the packet");
    bye.reason.assign(reinterpret_cast<const char*>(p + pos + 1), len);
  }
  return bye;
}

Status WriteBye(const Bye& bye, std::vector<uint8_t>* out) {
  if (bye.ssrcs.size() > 31) return Bad("more than 31 SSRCs in a BYE");
  if (bye.reason.size() > 255) return Bad("BYE reason longer than 255 bytes");
  Writer w(out);
  w.Header(static_cast<uint8_t>(bye.ssrcs.size()), kRtcpBye);
  for (uint32_t s : bye.ssrcs) w.U32(s);
  if (!bye.reason.empty()) {
    w.U8(static_cast<uint8_t>(bye.reason.size()));
    w.Bytes(bye.reason);
  }
  return w.Finish();
}

// ---- Generic NACK ----

Result<Nack> ParseNack(const RtcpBlock& b) {
  COLLAB_TRY(CheckType(b, kRtcpRtpfb, kRtpfbNack, "not an RTCP generic NACK"));
  const uint8_t* p = b.body.data();
  size_t n = b.body.size();
  if (n < 12) return Bad("RTCP NACK without a PID/BLP entry");
  Nack nack;
  nack.sender_ssrc = Get32(p);
  nack.media_ssrc = Get32(p + 4);
  size_t entries = (n - 8) / 4;
  nack.lost.reserve(entries * 2);
  for (size_t e = 0; e < entries; ++e) {
    uint16_t pid = Get16(p + 8 + 4 * e);
    uint16_t blp = Get16(p + 10 + 4 * e);
    nack.lost.push_back(pid);
    for (int bit = 0; bit < 16; ++bit)
      if (blp & (1u << bit)) nack.lost.push_back(static_cast<uint16_t>(pid + bit + 1));
  }
  return nack;
}

Status WriteNack(const Nack& nack, std::vector<uint8_t>* out) {
  if (nack.lost.empty()) return Bad("NACK with no lost packets");
  Writer w(out);
  w.Header(kRtpfbNack, kRtcpRtpfb);
  w.U32(nack.sender_ssrc);
  w.U32(nack.media_ssrc);
  uint16_t pid = nack.lost[0];
  uint16_t blp = 0;
  int last = 0;  // offset from pid of the last seq in this pair
  for (size_t i = 1; i < nack.lost.size(); ++i) {
    uint16_t seq = nack.lost[i];
    int d = static_cast<uint16_t>(seq - pid);
    // Joining only at increasing offsets keeps the parsed order identical to the input.
    if (d >= 1 && d <= 16 && d > last) {
      blp = static_cast<uint16_t>(blp | (1u << (d - 1)));
      last = d;
      continue;
    }
    w.U16(pid);
    w.U16(blp);
    pid = seq;
    blp = 0;
    last = 0;
  }
  w.U16(pid);
  w.U16(blp);
  return w.Finish();
}

// ---- PLI / FIR ----

Result<Pli> ParsePli(const RtcpBlock& b) {
  COLLAB_TRY(CheckType(b, kRtcpPsfb, kPsfbPli, "not an RTCP PLI"));
  if (b.body.size() < 8) return Bad("RTCP PLI shorter than its two SSRCs");
  return Pli{Get32(b.body.data()), Get32(b.body.data() + 4)};
}

Status WritePli(const Pli& pli, std::vector<uint8_t>* out) {
  Writer w(out);
  w.Header(kPsfbPli, kRtcpPsfb);
  w.U32(pli.sender_ssrc);
  w.U32(pli.media_ssrc);
  return w.Finish();
}

Result<Fir> ParseFir(const RtcpBlock& b) {
  COLLAB_TRY(CheckType(b, kRtcpPsfb, kPsfbFir, "not an RTCP FIR"));
  const uint8_t* p = b.body.data();
  size_t n = b.body.size();
  if (n < 16) return Bad("RTCP FIR without an entry");
  Fir fir;
  fir.sender_ssrc = Get32(p);
  size_t entries = (n - 8) / 8;
  fir.entries.reserve(entries);
  for (size_t e = 0; e < entries; ++e)
    fir.entries.push_back(FirEntry{Get32(p + 8 + 8 * e), p[12 + 8 * e]});
  return fir;
}

Status WriteFir(const Fir& fir, std::vector<uint8_t>* out) {
  if (fir.entries.empty()) return Bad("FIR with no entries");
  Writer w(out);
  w.Header(kPsfbFir, kRtcpPsfb);
  w.U32(fir.sender_ssrc);
  w.U32(0);  // RFC 5104: the media source SSRC is unused and zero
  for (const FirEntry& e : fir.entries) {
    w.U32(e.ssrc);
    w.U8(e.seq);
    w.U24(0);
  }
  return w.Finish();
}

// ---- REMB ----

bool IsRemb(const RtcpBlock& b) {
  return b.type == kRtcpPsfb && b.count == kPsfbAfb && b.body.size() >= 12 && b.body[8] == 'R' &&
         b.body[9] == 'E' && b.body[10] == 'M' && b.body[11] == 'B';
}

Result<Remb> ParseRemb(const RtcpBlock& b) {
  if (!IsRemb(b)) return Bad("not an RTCP REMB");
  const uint8_t* p = b.body.data();
  size_t n = b.body.size();
  if (n < 16) return Bad("RTCP REMB shorter than its bitrate field");
  Remb remb;
  remb.sender_ssrc = Get32(p);
  size_t num = p[12];
  unsigned exp = p[13] >> 2;
  uint64_t mantissa = Get24(p + 13) & 0x3FFFF;
  if (exp > 0 && mantissa > (std::numeric_limits<uint64_t>::max() >> exp))
    return Bad("RTCP REMB bitrate overflows 64 bits");
  remb.bitrate_bps = mantissa << exp;
  if ((n - 16) / 4 < num) return Bad("RTCP REMB SSRC list runs past the end of the packet");
  remb.ssrcs.reserve(num);
  for (size_t i = 0; i < num; ++i) remb.ssrcs.push_back(Get32(p + 16 + 4 * i));
  return remb;
}

Status WriteRemb(const Remb& remb, std::vector<uint8_t>* out) {
  if (remb.ssrcs.size() > 255) return Bad("more than 255 SSRCs in a REMB");
  unsigned exp = 0;
  while ((remb.bitrate_bps >> exp) > 0x3FFFF) ++exp;
  uint32_t mantissa = static_cast<uint32_t>(remb.bitrate_bps >> exp);
  Writer w(out);
  w.Header(kPsfbAfb, kRtcpPsfb);
  w.U32(remb.sender_ssrc);
  w.U32(0);  // media source SSRC is unused in REMB
  w.Bytes("REMB");
  w.U8(static_cast<uint8_t>(remb.ssrcs.size()));
  w.U24(exp << 18 | mantissa);
  for (uint32_t s : remb.ssrcs) w.U32(s);
  return w.Finish();
}

// ---- Transport-wide CC feedback ----
//
// Body: sender SSRC, media SSRC, base seq (16), status count (16), reference time (24, 64 ms),
// feedback count (8), 16-bit chunks, then one receive delta per received packet (1 byte unsigned
// for "small", 2 bytes signed for "large", in 250 us ticks).
// Chunks: 0|S(2)|run(13) run length; 1|0|14 x 1-bit symbols; 1|1|7 x 2-bit symbols.
// Symbols: 0 not received, 1 received with small delta, 2 received with large/negative delta.

namespace {

constexpr uint8_t kSymNotReceived = 0;
constexpr uint8_t kSymSmall = 1;
constexpr uint8_t kSymLarge = 2;
constexpr size_t kMaxRunLength = 0x1FFF;

}  // namespace

Result<TransportCcFeedback> ParseTransportCc(const RtcpBlock& b) {
  COLLAB_TRY(CheckType(b, kRtcpRtpfb, kRtpfbTransportCc, "not an RTCP transport-cc feedback"));
  const uint8_t* p = b.body.data();
  size_t n = b.body.size();
  if (n < 16) return Bad("RTCP transport-cc feedback shorter than its fixed fields");
  TransportCcFeedback fb;
  fb.sender_ssrc = Get32(p);
  fb.media_ssrc = Get32(p + 4);
  fb.base_seq = Get16(p + 8);
  size_t count = Get16(p + 10);
  fb.reference_time = Get24(p + 12);
  fb.feedback_count = p[15];
  size_t pos = 16;

  // Grown as chunks arrive rather than sized from the untrusted count up front.
  size_t filled = 0;
  auto put = [&](uint8_t sym) {
    // delta_ticks temporarily holds the symbol; the delta pass below replaces it.
    fb.packets.push_back(TwccPacket{static_cast<uint16_t>(fb.base_seq + filled),
                                    sym != kSymNotReceived, sym});
    ++filled;
  };
  while (filled < count) {
    if (n - pos < 2) return Bad("RTCP transport-cc chunks run past the end of the packet");
    uint16_t chunk = Get16(p + pos);
    pos += 2;
    if (!(chunk & 0x8000)) {
      uint8_t sym = (chunk >> 13) & 3;
      if (sym == 3) return Bad("RTCP transport-cc run uses the reserved symbol");
      size_t run = std::min<size_t>(chunk & kMaxRunLength, count - filled);
      for (size_t i = 0; i < run; ++i) put(sym);
    } else if (!(chunk & 0x4000)) {
      for (int bit = 13; bit >= 0 && filled < count; --bit) put((chunk >> bit) & 1);
    } else {
      for (int shift = 12; shift >= 0 && filled < count; shift -= 2) {
        uint8_t sym = (chunk >> shift) & 3;
        if (sym == 3) return Bad("RTCP transport-cc vector uses the reserved symbol");
        put(sym);
      }
    }
  }
  for (TwccPacket& t : fb.packets) {
    int32_t sym = t.delta_ticks;
    if (sym == kSymSmall) {
      if (n - pos < 1) return Bad("RTCP transport-cc deltas run past the end of the packet");
      t.delta_ticks = p[pos];
      pos += 1;
    } else if (sym == kSymLarge) {
      if (n - pos < 2) return Bad("RTCP transport-cc deltas run past the end of the packet");
      t.delta_ticks = static_cast<int16_t>(Get16(p + pos));
      pos += 2;
    }
  }
  return fb;
}

Status WriteTransportCc(const TransportCcFeedback& fb, std::vector<uint8_t>* out) {
  size_t n = fb.packets.size();
  if (n > 0xFFFF) return Bad("transport-cc feedback for more than 65535 packets");
  if (fb.reference_time > 0xFFFFFF) return Bad("transport-cc reference time exceeds 24 bits");
  std::vector<uint8_t> sym(n);
  for (size_t i = 0; i < n; ++i) {
    const TwccPacket& t = fb.packets[i];
    if (t.seq != static_cast<uint16_t>(fb.base_seq + i))
      return Bad("transport-cc packets are not consecutive from the base sequence number");
    if (!t.received) {
      sym[i] = kSymNotReceived;
    } else if (t.delta_ticks >= 0 && t.delta_ticks <= 255) {
      sym[i] = kSymSmall;
    } else if (t.delta_ticks >= std::numeric_limits<int16_t>::min() &&
               t.delta_ticks <= std::numeric_limits<int16_t>::max()) {
      sym[i] = kSymLarge;
    } else {
      return Bad("transport-cc receive delta does not fit 16 bits");
    }
  }

  Writer w(out);
  w.Header(kRtpfbTransportCc, kRtcpRtpfb);
  w.U32(fb.sender_ssrc);
  w.U32(fb.media_ssrc);
  w.U16(fb.base_seq);
  w.U16(static_cast<uint16_t>(n));
  w.U24(fb.reference_time);
  w.U8(fb.feedback_count);

  // Greedy chunking: a run when it covers at least what a vector would (14 one-bit or 7 two-bit
  // symbols) or everything left; else a 1-bit vector when the next 14 symbols need no "large",
  // else a 2-bit vector of 7.
  size_t i = 0;
  while (i < n) {
    size_t run = 1;
    while (i + run < n && sym[i + run] == sym[i] && run < kMaxRunLength) ++run;
    size_t window1 = std::min<size_t>(14, n - i);
    bool one_bit_ok = std::all_of(sym.begin() + i, sym.begin() + i + window1,
                                  [](uint8_t s) { return s != kSymLarge; });
    if (run >= 14 || i + run == n || (!one_bit_ok && run >= 7)) {
      w.U16(static_cast<uint16_t>(sym[i] << 13 | run));
      i += run;
    } else if (one_bit_ok) {
      uint16_t chunk = 0x8000;
      for (size_t k = 0; k < window1; ++k) chunk = static_cast<uint16_t>(chunk | sym[i + k] << (13 - k));
      w.U16(chunk);
      i += window1;
    } else {
      size_t window2 = std::min<size_t>(7, n - i);
      uint16_t chunk = 0xC000;
      for (size_t k = 0; k < window2; ++k)
        chunk = static_cast<uint16_t>(chunk | sym[i + k] << (12 - 2 * k));
      w.U16(chunk);
      i += window2;
    }
  }
  for (size_t k = 0; k < n; ++k) {
    if (sym[k] == kSymSmall) w.U8(static_cast<uint8_t>(fb.packets[k].delta_ticks));
    if (sym[k] == kSymLarge) w.U16(static_cast<uint16_t>(static_cast<int16_t>(fb.packets[k].delta_ticks)));
  }
  return w.Finish();
}

std::vector<TwccArrival> TwccArrivals(const TransportCcFeedback& fb) {
  std::vector<TwccArrival> out;
  int64_t t = static_cast<int64_t>(fb.reference_time) * TransportCcFeedback::kReferenceTimeMicros;
  for (const TwccPacket& p : fb.packets) {
    if (!p.received) continue;
    t += static_cast<int64_t>(p.delta_ticks) * TransportCcFeedback::kDeltaTickMicros;
    out.push_back(TwccArrival{p.seq, t});
  }
  return out;
}

namespace {

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

}  // namespace

Result<TransportCcFeedback> BuildTransportCcFeedback(uint32_t sender_ssrc, uint32_t media_ssrc,
                                                     uint8_t feedback_count, uint16_t base_seq,
                                                     std::span<const TwccArrival> arrivals) {
  if (arrivals.empty()) return Bad("transport-cc feedback needs at least one arrival");
  std::vector<std::pair<uint16_t, int64_t>> sorted;  // (offset from base_seq, arrival)
  sorted.reserve(arrivals.size());
  for (const TwccArrival& a : arrivals)
    sorted.emplace_back(static_cast<uint16_t>(a.seq - base_seq), a.arrival_us);
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i].first == sorted[i - 1].first) return Bad("duplicate sequence number in arrivals");

  TransportCcFeedback fb;
  fb.sender_ssrc = sender_ssrc;
  fb.media_ssrc = media_ssrc;
  fb.base_seq = base_seq;
  fb.feedback_count = feedback_count;
  int64_t ref = FloorDiv(sorted[0].second, TransportCcFeedback::kReferenceTimeMicros);
  fb.reference_time = static_cast<uint32_t>(ref) & 0xFFFFFF;
  // Deltas come from rounded absolute ticks, so rounding errors do not accumulate.
  constexpr int64_t kTicksPerReference =
      TransportCcFeedback::kReferenceTimeMicros / TransportCcFeedback::kDeltaTickMicros;
  int64_t prev_ticks = ref * kTicksPerReference;
  size_t count = static_cast<size_t>(sorted.back().first) + 1;
  fb.packets.resize(count);
  size_t next = 0;
  for (size_t i = 0; i < count; ++i) {
    TwccPacket& t = fb.packets[i];
    t.seq = static_cast<uint16_t>(base_seq + i);
    if (next < sorted.size() && sorted[next].first == i) {
      int64_t ticks = FloorDiv(sorted[next].second + TransportCcFeedback::kDeltaTickMicros / 2,
                               TransportCcFeedback::kDeltaTickMicros);
      int64_t delta = ticks - prev_ticks;
      if (delta < std::numeric_limits<int16_t>::min() || delta > std::numeric_limits<int16_t>::max())
        return Bad("arrival times too far apart for one transport-cc feedback");
      t.received = true;
      t.delta_ticks = static_cast<int32_t>(delta);
      prev_ticks = ticks;
      ++next;
    }
  }
  return fb;
}

// ---- Compound padding ----

Status PadRtcpCompound(std::vector<uint8_t>* compound, size_t multiple) {
  if (multiple == 0 || multiple % 4 || multiple > 256)
    return Bad("RTCP padding multiple must be a multiple of 4 up to 256");
  // Find the last packet, checking the whole compound on the way.
  RtcpReader reader(*compound);
  RtcpBlock block, last;
  bool any = false;
  while (reader.Next(&block)) {
    last = block;
    any = true;
  }
  if (reader.error()) return Bad(reader.error());
  if (!any) return Bad("empty RTCP compound packet");
  size_t pad = (multiple - compound->size() % multiple) % multiple;
  if (pad == 0) return Ok();
  if (last.packet[0] & 0x20) return Bad("last RTCP packet is already padded");
  size_t last_offset = static_cast<size_t>(last.packet.data() - compound->data());
  compound->insert(compound->end(), pad, 0);
  compound->back() = static_cast<uint8_t>(pad);
  uint8_t* h = compound->data() + last_offset;
  h[0] |= 0x20;
  size_t len = compound->size() - last_offset;
  if (len > kRtcpMaxPacketSize) {
    compound->resize(compound->size() - pad);
    h = compound->data() + last_offset;
    h[0] &= static_cast<uint8_t>(~0x20);
    return Bad("RTCP packet too long for its 16-bit length field");
  }
  Put16(h + 2, static_cast<uint16_t>(len / 4 - 1));
  return Ok();
}

}  // namespace collab::rtc
