// Fuzzes the MPEG-TS side of SRT ingest (lib/stream/annexb.hpp): Annex B splitting and
// conversion, avcC built from the parameter sets found and read back by the FLV-side parser
// (flv.hpp), and ADTS frame splitting with the AudioSpecificConfig read back. The first input
// byte picks the parser; the rest is its input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "lib/stream/annexb.hpp"
#include "lib/stream/flv.hpp"

using namespace collab::stream;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) {
    std::vector<AdtsFrame> frames;
    (void)SplitAdts(in, frames);
    size_t total = 0;
    for (const auto& f : frames) {
      total += f.data.size();
      (void)ParseAacConfig(f.asc);
    }
    if (total > in.size()) std::abort();
  } else {
    AnnexBAccessUnit au = ConvertAnnexB(in);
    if (au.avcc.size() > in.size() + 4 * (in.size() / 3 + 1)) std::abort();
    if (!au.sps.empty() && !au.pps.empty()) {
      auto avcc = MakeAvcC(au.sps, au.pps);
      if (avcc.ok()) {
        auto parsed = ParseAvcConfig(*avcc);
        if (!parsed.ok()) std::abort();  // what we build, we must read back
      }
    }
  }
  return 0;
}
