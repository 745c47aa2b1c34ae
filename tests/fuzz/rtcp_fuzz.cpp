// Fuzzes the RTCP reader and typed parsers (lib/rtc/rtcp.hpp): iterate the compound packet, parse
// each block by type, and for every type with a writer re-encode and re-parse: the value must come
// back equal (NACK lists exactly, transport-cc statuses and deltas exactly). Also checks that
// transport-cc arrivals survive BuildTransportCcFeedback and that compound padding re-reads.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "lib/rtc/rtcp.hpp"

using namespace collab::rtc;
using collab::base::Result;
using collab::base::Status;

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

// Writes v as one packet, reads it back as the only block, and parses it again.
template <typename T>
void RoundTrip(const T& v, Status (*write)(const T&, std::vector<uint8_t>*),
               Result<T> (*parse)(const RtcpBlock&)) {
  std::vector<uint8_t> out;
  Check(write(v, &out).ok());
  Check(out.size() % 4 == 0);
  RtcpReader reader(out);
  RtcpBlock b;
  Check(reader.Next(&b));
  Check(b.packet.size() == out.size());
  auto again = parse(b);
  Check(again.ok());
  Check(*again == v);
  Check(!reader.Next(&b) && reader.error() == nullptr);
}

void CheckTwccArrivals(const TransportCcFeedback& fb) {
  auto arrivals = TwccArrivals(fb);
  if (arrivals.empty()) return;
  auto rebuilt = BuildTransportCcFeedback(fb.sender_ssrc, fb.media_ssrc, fb.feedback_count, fb.base_seq,
                                          arrivals);
  Check(rebuilt.ok());
  // The rebuilt reference time is the first arrival's, which the 24-bit field may wrap.
  int64_t first = arrivals[0].arrival_us;
  if (first < 0 || first / TransportCcFeedback::kReferenceTimeMicros > 0xFFFFFF) return;
  Check(TwccArrivals(*rebuilt) == arrivals);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  RtcpReader reader(in);
  RtcpBlock b;
  size_t blocks = 0;
  size_t consumed = 0;
  while (reader.Next(&b)) {
    ++blocks;
    Check(b.packet.data() == data + consumed);
    consumed += b.packet.size();
    Check(consumed <= size);
    Check(b.body.data() == b.packet.data() + kRtcpHeaderSize);
    Check(b.body.size() + kRtcpHeaderSize <= b.packet.size());
    switch (b.type) {
      case kRtcpSr:
        if (auto v = ParseSr(b); v.ok()) RoundTrip<SenderReport>(*v, WriteSr, ParseSr);
        break;
      case kRtcpRr:
        if (auto v = ParseRr(b); v.ok()) RoundTrip<ReceiverReport>(*v, WriteRr, ParseRr);
        break;
      case kRtcpSdes:
        if (auto v = ParseSdes(b); v.ok()) RoundTrip<Sdes>(*v, WriteSdes, ParseSdes);
        break;
      case kRtcpBye:
        if (auto v = ParseBye(b); v.ok()) RoundTrip<Bye>(*v, WriteBye, ParseBye);
        break;
      case kRtcpRtpfb:
        if (b.count == kRtpfbNack) {
          if (auto v = ParseNack(b); v.ok()) RoundTrip<Nack>(*v, WriteNack, ParseNack);
        } else if (b.count == kRtpfbTransportCc) {
          if (auto v = ParseTransportCc(b); v.ok()) {
            RoundTrip<TransportCcFeedback>(*v, WriteTransportCc, ParseTransportCc);
            CheckTwccArrivals(*v);
          }
        }
        break;
      case kRtcpPsfb:
        if (b.count == kPsfbPli) {
          if (auto v = ParsePli(b); v.ok()) RoundTrip<Pli>(*v, WritePli, ParsePli);
        } else if (b.count == kPsfbFir) {
          if (auto v = ParseFir(b); v.ok()) RoundTrip<Fir>(*v, WriteFir, ParseFir);
        } else if (IsRemb(b)) {
          if (auto v = ParseRemb(b); v.ok()) RoundTrip<Remb>(*v, WriteRemb, ParseRemb);
        }
        break;
      default:
        break;  // APP, XR and anything else: skipped
    }
  }
  bool valid = reader.error() == nullptr;
  Check(valid == (consumed == size && size > 0));
  Check(ValidateRtcpCompound(in).ok() == valid);

  if (valid) {
    std::vector<uint8_t> padded(in.begin(), in.end());
    if (PadRtcpCompound(&padded, 16).ok()) {
      Check(padded.size() % 16 == 0);
      RtcpReader again(padded);
      size_t n = 0;
      while (again.Next(&b)) ++n;
      Check(again.error() == nullptr && n == blocks);
    }
  }
  return 0;
}
