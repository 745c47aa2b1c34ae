// RTP view, in-place mutation, builder and RTX; see rtp.hpp.
#include "lib/rtc/rtp.hpp"

#include <cstring>
#include <string>

namespace collab::rtc {

using base::Error;
using base::kExitDataErr;
using base::kExitSoftware;
using base::MakeError;
using base::Result;
using rtp_detail::Get16;
using rtp_detail::Put16;
using rtp_detail::Put32;

PacketClass ClassifyPacket(std::span<const uint8_t> datagram) {
  if (datagram.empty()) return PacketClass::kUnknown;
  return ClassifyFirstByte(datagram[0]);
}

bool IsRtcp(std::span<const uint8_t> datagram) {
  if (datagram.size() < 2) return false;
  if (ClassifyFirstByte(datagram[0]) != PacketClass::kRtpOrRtcp) return false;
  return datagram[1] >= 192 && datagram[1] <= 223;
}

const char* RtpErrorText(RtpError error) {
  switch (error) {
    case RtpError::kNone: return "ok";
    case RtpError::kTooShort: return "RTP packet shorter than the 12-byte header";
    case RtpError::kBadVersion: return "RTP version is not 2";
    case RtpError::kCsrcOverrun: return "RTP CSRC list runs past the end of the packet";
    case RtpError::kExtensionOverrun: return "RTP header extension runs past the end of the packet";
    case RtpError::kBadPadding: return "RTP padding count is zero or larger than the payload";
  }
  return "unknown RTP error";
}

// ---- Extension iteration ----

RtpExtensionIterator::RtpExtensionIterator(const uint8_t* block, size_t size, ExtensionForm form)
    : block_(block), size_(size), form_(form), done_(false) {
  if (form_ != ExtensionForm::kOneByte && form_ != ExtensionForm::kTwoByte) {
    done_ = true;
    return;
  }
  Advance();
}

void RtpExtensionIterator::Advance() {
  if (done_) return;
  while (pos_ < size_) {
    uint8_t b = block_[pos_];
    if (b == 0) {  // a padding byte: neither id nor length (RFC 8285 section 4.1)
      ++pos_;
      continue;
    }
    if (form_ == ExtensionForm::kOneByte) {
      uint8_t id = b >> 4;
      size_t len = static_cast<size_t>(b & 0x0F) + 1;
      if (id == 15) break;  // reserved: the rest of the block is not to be interpreted
      if (id == 0 || pos_ + 1 + len > size_) {
        malformed_ = true;
        break;
      }
      current_ = RtpExtension{id, {block_ + pos_ + 1, len}};
      pos_ += 1 + len;
      return;
    }
    // Two-byte form: id byte, length byte, then 0..255 bytes.
    if (pos_ + 2 > size_) {
      malformed_ = true;
      break;
    }
    size_t len = block_[pos_ + 1];
    if (pos_ + 2 + len > size_) {
      malformed_ = true;
      break;
    }
    current_ = RtpExtension{b, {block_ + pos_ + 2, len}};
    pos_ += 2 + len;
    return;
  }
  done_ = true;
  current_ = RtpExtension{};
}

// ---- RtpView ----

RtpError RtpView::TryParse(std::span<const uint8_t> packet, RtpView* out) {
  const uint8_t* p = packet.data();
  size_t n = packet.size();
  if (n < kRtpFixedHeaderSize) return RtpError::kTooShort;
  if ((p[0] >> 6) != 2) return RtpError::kBadVersion;
  size_t pos = kRtpFixedHeaderSize + 4 * static_cast<size_t>(p[0] & 0x0F);
  if (pos > n) return RtpError::kCsrcOverrun;

  RtpView v;
  v.data_ = p;
  v.size_ = n;
  if (p[0] & 0x10) {
    if (pos + 4 > n) return RtpError::kExtensionOverrun;
    uint16_t profile = Get16(p + pos);
    size_t words = Get16(p + pos + 2);
    pos += 4;
    if (words * 4 > n - pos) return RtpError::kExtensionOverrun;
    v.ext_profile_ = profile;
    v.ext_offset_ = pos;
    v.ext_size_ = words * 4;
    if (profile == kOneByteExtensionProfile) {
      v.ext_form_ = ExtensionForm::kOneByte;
    } else if ((profile & 0xFFF0) == kTwoByteExtensionProfile) {
      v.ext_form_ = ExtensionForm::kTwoByte;
    } else {
      v.ext_form_ = ExtensionForm::kOther;
    }
    pos += words * 4;
  } else {
    v.ext_offset_ = pos;
  }
  v.header_size_ = pos;
  size_t rest = n - pos;
  if (p[0] & 0x20) {
    // The count includes itself, so 0 is invalid, and it may not eat into the header.
    size_t pad = p[n - 1];
    if (rest == 0 || pad == 0 || pad > rest) return RtpError::kBadPadding;
    v.padding_size_ = pad;
    rest -= pad;
  }
  v.payload_size_ = rest;
  *out = v;
  return RtpError::kNone;
}

Result<RtpView> RtpView::Parse(std::span<const uint8_t> packet) {
  RtpView v;
  RtpError e = TryParse(packet, &v);
  if (e != RtpError::kNone) return MakeError(kExitDataErr, RtpErrorText(e));
  return v;
}

RtpExtensionRange RtpView::extensions() const {
  return RtpExtensionRange{RtpExtensionIterator(data_ + ext_offset_, ext_size_, ext_form_)};
}

std::optional<std::span<const uint8_t>> RtpView::FindExtension(uint8_t id) const {
  if (id == 0) return std::nullopt;
  for (RtpExtensionIterator it(data_ + ext_offset_, ext_size_, ext_form_); it != std::default_sentinel;
       ++it) {
    if (it->id == id) return it->data;
  }
  return std::nullopt;
}

bool RtpView::ExtensionsWellFormed() const {
  RtpExtensionIterator it(data_ + ext_offset_, ext_size_, ext_form_);
  while (it != std::default_sentinel) ++it;
  return !it.malformed();
}

// ---- MutableRtpView ----

RtpError MutableRtpView::TryParse(std::span<uint8_t> packet, MutableRtpView* out) {
  RtpView v;
  RtpError e = RtpView::TryParse(std::span<const uint8_t>(packet.data(), packet.size()), &v);
  if (e != RtpError::kNone) return e;
  static_cast<RtpView&>(*out) = v;
  return RtpError::kNone;
}

Result<MutableRtpView> MutableRtpView::Parse(std::span<uint8_t> packet) {
  MutableRtpView v;
  RtpError e = TryParse(packet, &v);
  if (e != RtpError::kNone) return MakeError(kExitDataErr, RtpErrorText(e));
  return v;
}

void MutableRtpView::SetMarker(bool marker) {
  uint8_t* p = mutable_data();
  p[1] = static_cast<uint8_t>((p[1] & 0x7F) | (marker ? 0x80 : 0));
}

void MutableRtpView::SetPayloadType(uint8_t payload_type) {
  uint8_t* p = mutable_data();
  p[1] = static_cast<uint8_t>((p[1] & 0x80) | (payload_type & 0x7F));
}

std::optional<std::span<uint8_t>> MutableRtpView::MutableExtension(uint8_t id) {
  auto found = FindExtension(id);
  if (!found) return std::nullopt;
  // Same bytes as data_, which came from a writable span.
  return std::span<uint8_t>(const_cast<uint8_t*>(found->data()), found->size());
}

bool MutableRtpView::SetExtension(uint8_t id, std::span<const uint8_t> data) {
  auto target = MutableExtension(id);
  if (!target || target->size() != data.size()) return false;
  if (!data.empty()) std::memmove(target->data(), data.data(), data.size());
  return true;
}

// ---- Builder ----

namespace {

struct Layout {
  ExtensionForm form = ExtensionForm::kNone;
  size_t ext_data = 0;  // element bytes before padding to 32 bits
  size_t total = 0;
};

Result<Layout> Plan(const RtpPacketSpec& spec) {
  if (spec.payload_type > 127) return MakeError(kExitDataErr, "RTP payload type above 127");
  if (spec.csrcs.size() > 15) return MakeError(kExitDataErr, "more than 15 CSRCs");
  Layout l;
  if (!spec.extensions.empty()) {
    bool one_byte_ok = !spec.force_two_byte_extensions;
    for (const RtpExtension& e : spec.extensions) {
      if (e.id == 0) return MakeError(kExitDataErr, "RTP header extension id 0 is reserved");
      if (e.data.size() > 255)
        return MakeError(kExitDataErr, "RTP header extension element longer than 255 bytes");
      if (e.id > 14 || e.data.empty() || e.data.size() > 16) one_byte_ok = false;
    }
    l.form = one_byte_ok ? ExtensionForm::kOneByte : ExtensionForm::kTwoByte;
    for (const RtpExtension& e : spec.extensions)
      l.ext_data += (l.form == ExtensionForm::kOneByte ? 1 : 2) + e.data.size();
    if ((l.ext_data + 3) / 4 > 0xFFFF) return MakeError(kExitDataErr, "RTP header extension too long");
  }
  l.total = kRtpFixedHeaderSize + 4 * spec.csrcs.size() + spec.payload.size() + spec.padding;
  if (l.form != ExtensionForm::kNone) l.total += 4 + (l.ext_data + 3) / 4 * 4;
  return l;
}

}  // namespace

Result<size_t> RtpPacketSize(const RtpPacketSpec& spec) {
  COLLAB_ASSIGN_OR_RETURN(Layout l, Plan(spec));
  return l.total;
}

Result<size_t> WriteRtpPacket(const RtpPacketSpec& spec, std::span<uint8_t> out) {
  COLLAB_ASSIGN_OR_RETURN(Layout l, Plan(spec));
  if (out.size() < l.total) return MakeError(kExitSoftware, "RTP output buffer too small");
  uint8_t* p = out.data();
  p[0] = static_cast<uint8_t>(0x80 | (spec.padding ? 0x20 : 0) |
                              (l.form != ExtensionForm::kNone ? 0x10 : 0) | spec.csrcs.size());
  p[1] = static_cast<uint8_t>((spec.marker ? 0x80 : 0) | spec.payload_type);
  Put16(p + 2, spec.sequence_number);
  Put32(p + 4, spec.timestamp);
  Put32(p + 8, spec.ssrc);
  size_t pos = kRtpFixedHeaderSize;
  for (uint32_t c : spec.csrcs) {
    Put32(p + pos, c);
    pos += 4;
  }
  if (l.form != ExtensionForm::kNone) {
    size_t words = (l.ext_data + 3) / 4;
    Put16(p + pos, l.form == ExtensionForm::kOneByte ? kOneByteExtensionProfile
                                                     : kTwoByteExtensionProfile);
    Put16(p + pos + 2, static_cast<uint16_t>(words));
    pos += 4;
    size_t end = pos + words * 4;
    for (const RtpExtension& e : spec.extensions) {
      if (l.form == ExtensionForm::kOneByte) {
        p[pos++] = static_cast<uint8_t>(e.id << 4 | (e.data.size() - 1));
      } else {
        p[pos++] = e.id;
        p[pos++] = static_cast<uint8_t>(e.data.size());
      }
      if (!e.data.empty()) std::memcpy(p + pos, e.data.data(), e.data.size());
      pos += e.data.size();
    }
    std::memset(p + pos, 0, end - pos);
    pos = end;
  }
  if (!spec.payload.empty()) std::memcpy(p + pos, spec.payload.data(), spec.payload.size());
  pos += spec.payload.size();
  if (spec.padding) {
    std::memset(p + pos, 0, spec.padding - 1u);
    pos += spec.padding;
    p[pos - 1] = spec.padding;
  }
  return pos;
}

Result<std::vector<uint8_t>> BuildRtpPacket(const RtpPacketSpec& spec) {
  COLLAB_ASSIGN_OR_RETURN(size_t size, RtpPacketSize(spec));
  std::vector<uint8_t> out(size);
  COLLAB_TRY(WriteRtpPacket(spec, out));
  return out;
}

// ---- RTX ----

std::optional<uint16_t> RtxOriginalSequenceNumber(const RtpView& rtx) {
  if (rtx.payload_size() < 2) return std::nullopt;
  return Get16(rtx.payload().data());
}

namespace {

// Copies the header, clears the padding bit and sets the rewritten fields.
void CopyHeader(const RtpView& from, uint8_t payload_type, uint32_t ssrc, uint16_t seq, uint8_t* p) {
  std::memmove(p, from.bytes().data(), from.header_size());
  p[0] &= static_cast<uint8_t>(~0x20);
  p[1] = static_cast<uint8_t>((p[1] & 0x80) | (payload_type & 0x7F));
  Put16(p + 2, seq);
  Put32(p + 8, ssrc);
}

}  // namespace

Result<size_t> RtxWrap(const RtpView& original, uint8_t rtx_payload_type, uint32_t rtx_ssrc,
                       uint16_t rtx_sequence_number, std::span<uint8_t> out) {
  if (rtx_payload_type > 127) return MakeError(kExitDataErr, "RTX payload type above 127");
  size_t size = RtxWrappedSize(original);
  if (out.size() < size) return MakeError(kExitSoftware, "RTX output buffer too small");
  // Ordered so that out may be the original's own (large enough) buffer: payload first, since
  // it moves right over nothing yet written, then the fields read from the original header.
  uint8_t* p = out.data();
  uint16_t osn = original.sequence_number();
  size_t pos = original.header_size();
  if (original.payload_size())
    std::memmove(p + pos + 2, original.payload().data(), original.payload_size());
  CopyHeader(original, rtx_payload_type, rtx_ssrc, rtx_sequence_number, p);
  Put16(p + pos, osn);
  return size;
}

Result<std::vector<uint8_t>> RtxWrap(const RtpView& original, uint8_t rtx_payload_type,
                                     uint32_t rtx_ssrc, uint16_t rtx_sequence_number) {
  std::vector<uint8_t> out(RtxWrappedSize(original));
  COLLAB_TRY(RtxWrap(original, rtx_payload_type, rtx_ssrc, rtx_sequence_number, out));
  return out;
}

Result<size_t> RtxUnwrap(const RtpView& rtx, uint8_t original_payload_type, uint32_t original_ssrc,
                         std::span<uint8_t> out) {
  if (original_payload_type > 127) return MakeError(kExitDataErr, "payload type above 127");
  auto osn = RtxOriginalSequenceNumber(rtx);
  if (!osn) return MakeError(kExitDataErr, "RTX payload has no original sequence number");
  size_t body = rtx.payload_size() - 2;
  size_t size = rtx.header_size() + body;
  if (out.size() < size) return MakeError(kExitSoftware, "RTP output buffer too small");
  uint8_t* p = out.data();
  // out may be the RTX packet's own buffer: the payload moves left, the header stays put.
  if (body) std::memmove(p + rtx.header_size(), rtx.payload().data() + 2, body);
  CopyHeader(rtx, original_payload_type, original_ssrc, *osn, p);
  return size;
}

Result<std::vector<uint8_t>> RtxUnwrap(const RtpView& rtx, uint8_t original_payload_type,
                                       uint32_t original_ssrc) {
  if (rtx.payload_size() < 2)
    return MakeError(kExitDataErr, "RTX payload has no original sequence number");
  std::vector<uint8_t> out(rtx.header_size() + rtx.payload_size() - 2);
  COLLAB_TRY(RtxUnwrap(rtx, original_payload_type, original_ssrc, out));
  return out;
}

}  // namespace collab::rtc
