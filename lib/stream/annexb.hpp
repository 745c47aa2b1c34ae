// Conversions for ingest paths that carry H.264 as an Annex B byte stream and AAC in ADTS
// frames (MPEG-TS over SRT): NAL unit splitting, an avcC record from SPS/PPS, length-prefixed
// access units, and ADTS headers to AudioSpecificConfig plus raw frames. Pure byte work, so the
// FLV-shaped packager input (flv.hpp) can be produced from any transport.
// Deliberately not here: parsing slices, HEVC, LATM/LOAS AAC.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.hpp"

namespace collab::stream {

// NAL units of an Annex B buffer (start codes removed); empty units are skipped.
std::vector<std::string_view> SplitAnnexB(std::string_view data);

// An AVCDecoderConfigurationRecord with one SPS and one PPS (NAL units with their header byte).
base::Result<std::string> MakeAvcC(std::string_view sps, std::string_view pps);

struct AnnexBAccessUnit {
  std::string avcc;      // the access unit's NAL units with 4-byte length prefixes, parameter sets left out
  std::string sps, pps;  // the last SPS/PPS found in it, empty when none
  bool idr = false;      // holds an IDR slice
};
AnnexBAccessUnit ConvertAnnexB(std::string_view data);

struct AdtsFrame {
  std::string asc;         // AudioSpecificConfig for this frame's header
  std::string_view data;   // the raw AAC frame (header and CRC removed)
  int sample_rate = 0;
};
// Splits a buffer of back-to-back ADTS frames. Errors (kExitDataErr) on a bad header or a
// frame running past the end; frames before the problem are still returned in `out`.
base::Status SplitAdts(std::string_view data, std::vector<AdtsFrame>& out);

}  // namespace collab::stream
