// Fuzzes the RTP view (lib/rtc/rtp.hpp, rtp_ext.hpp): parse, walk and index the extensions,
// rewrite every mutable field in place and re-parse (the new values read back, nothing else
// moves), rebuild the packet from its parts and re-parse (same fields, elements, payload), and
// RTX wrap -> unwrap (same packet minus padding).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

#include "lib/rtc/rtp.hpp"
#include "lib/rtc/rtp_ext.hpp"

using namespace collab::rtc;

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

using Elements = std::vector<std::pair<uint8_t, std::vector<uint8_t>>>;

Elements ElementsOf(const RtpView& v) {
  Elements out;
  for (const RtpExtension& e : v.extensions()) out.emplace_back(e.id, std::vector<uint8_t>(e.data.begin(), e.data.end()));
  return out;
}

bool SameBytes(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  (void)ClassifyPacket(in);
  (void)IsRtcp(in);

  RtpView v;
  if (RtpView::TryParse(in, &v) != RtpError::kNone) {
    Check(!RtpView::Parse(in).ok());
    return 0;
  }
  Check(v.header_size() + v.payload_size() + v.padding_size() == size);
  Check(v.version() == 2);

  // Every element lies inside the extension block; FindExtension finds the first of each id.
  const uint8_t* block = v.extension_block().data();
  size_t block_size = v.extension_block().size();
  Elements els = ElementsOf(v);
  for (const RtpExtension& e : v.extensions()) {
    Check(e.id != 0);
    Check(e.data.data() >= block && e.data.data() + e.data.size() <= block + block_size);
    auto found = v.FindExtension(e.id);
    Check(found.has_value());
    Check(found->data() <= e.data.data());
  }
  (void)v.ExtensionsWellFormed();
  ExtensionMap map;
  for (int id = 1; id < 256; ++id)
    map.Set(static_cast<uint8_t>(id),
            static_cast<RtpExtensionKind>(1 + id % (static_cast<int>(RtpExtensionKind::kCount) - 1)));
  ExtensionIndex index = IndexExtensions(v, map);
  (void)index;
  (void)GetMid(v, map);
  (void)GetRid(v, map);
  (void)GetAbsSendTime(v, map);
  (void)GetTransportSequence(v, map);
  (void)GetAudioLevel(v, map);

  // In-place rewrites.
  std::vector<uint8_t> copy(in.begin(), in.end());
  MutableRtpView m;
  Check(MutableRtpView::TryParse(copy, &m) == RtpError::kNone);
  uint32_t ssrc = ~v.ssrc(), ts = v.timestamp() * 3 + 1;
  uint16_t seq = static_cast<uint16_t>(v.sequence_number() + 1);
  uint8_t pt = static_cast<uint8_t>((v.payload_type() + 1) & 0x7f);
  bool marker = !v.marker();
  m.SetSsrc(ssrc);
  m.SetSequenceNumber(seq);
  m.SetTimestamp(ts);
  m.SetPayloadType(pt);
  m.SetMarker(marker);
  // SetExtension reaches the first element of each id: flip those bytes, refuse a size change.
  Elements changed = els;
  bool seen[256] = {};
  for (size_t i = 0; i < els.size(); ++i) {
    uint8_t id = els[i].first;
    if (seen[id]) continue;
    seen[id] = true;
    for (uint8_t& byte : changed[i].second) byte = static_cast<uint8_t>(byte ^ 0x5a);
    Check(m.SetExtension(id, changed[i].second));
    std::vector<uint8_t> wrong(els[i].second.size() + 1);
    Check(!m.SetExtension(id, wrong));
  }
  RtpView r;
  Check(RtpView::TryParse(copy, &r) == RtpError::kNone);
  Check(r.ssrc() == ssrc && r.sequence_number() == seq && r.timestamp() == ts &&
        r.payload_type() == pt && r.marker() == marker);
  Check(r.header_size() == v.header_size() && r.payload_size() == v.payload_size() &&
        r.padding_size() == v.padding_size() && r.csrc_count() == v.csrc_count());
  Check(copy[0] == data[0]);
  Check(SameBytes(r.payload(), v.payload()));
  Check(ElementsOf(r) == changed);

  // Rebuild from parts (only for the element forms the builder writes).
  if (v.extension_form() != ExtensionForm::kOther) {
    std::vector<uint32_t> csrcs;
    for (size_t i = 0; i < v.csrc_count(); ++i) csrcs.push_back(v.csrc(i));
    std::vector<RtpExtension> exts;
    for (const RtpExtension& e : v.extensions()) exts.push_back(e);
    RtpPacketSpec spec;
    spec.marker = v.marker();
    spec.payload_type = v.payload_type();
    spec.sequence_number = v.sequence_number();
    spec.timestamp = v.timestamp();
    spec.ssrc = v.ssrc();
    spec.csrcs = csrcs;
    spec.extensions = exts;
    spec.force_two_byte_extensions = v.extension_form() == ExtensionForm::kTwoByte;
    spec.payload = v.payload();
    spec.padding = static_cast<uint8_t>(v.padding_size());
    auto built = BuildRtpPacket(spec);
    Check(built.ok());
    RtpView b;
    Check(RtpView::TryParse(*built, &b) == RtpError::kNone);
    Check(b.marker() == v.marker() && b.payload_type() == v.payload_type() &&
          b.sequence_number() == v.sequence_number() && b.timestamp() == v.timestamp() &&
          b.ssrc() == v.ssrc() && b.csrc_count() == v.csrc_count() &&
          b.padding_size() == v.padding_size());
    for (size_t i = 0; i < v.csrc_count(); ++i) Check(b.csrc(i) == v.csrc(i));
    Check(SameBytes(b.payload(), v.payload()));
    Check(ElementsOf(b) == els);
    Check(b.ExtensionsWellFormed());
    if (!exts.empty())
      Check(b.extension_form() == v.extension_form());
  }

  // RTX wrap -> unwrap gives the packet back, minus its padding.
  auto wrapped = RtxWrap(v, 97, 0x12345678, 4242);
  Check(wrapped.ok());
  RtpView w;
  Check(RtpView::TryParse(*wrapped, &w) == RtpError::kNone);
  Check(RtxOriginalSequenceNumber(w) == v.sequence_number());
  auto unwrapped = RtxUnwrap(w, v.payload_type(), v.ssrc());
  Check(unwrapped.ok());
  Check(unwrapped->size() == size - v.padding_size());
  Check(std::memcmp(unwrapped->data() + 1, data + 1, unwrapped->size() - 1) == 0);
  Check((unwrapped->front() | 0x20) == (data[0] | 0x20));
  return 0;
}
