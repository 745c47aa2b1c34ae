#include "lib/stream/fmp4.hpp"

#include <cassert>

namespace collab::stream {

namespace {

void U8(std::string& o, uint32_t v) { o.push_back(static_cast<char>(v)); }
void U16(std::string& o, uint32_t v) {
  o.push_back(static_cast<char>(v >> 8));
  o.push_back(static_cast<char>(v));
}
void U24(std::string& o, uint32_t v) {
  o.push_back(static_cast<char>(v >> 16));
  U16(o, v);
}
void U32(std::string& o, uint32_t v) {
  U16(o, v >> 16);
  U16(o, v);
}
void U64(std::string& o, uint64_t v) {
  U32(o, static_cast<uint32_t>(v >> 32));
  U32(o, static_cast<uint32_t>(v));
}
void Zeros(std::string& o, size_t n) { o.append(n, '\0'); }

// Writes a box around what body() appends; sizes are patched afterwards.
template <typename F>
void Box(std::string& o, const char* type, F body) {
  size_t start = o.size();
  U32(o, 0);
  o.append(type, 4);
  body();
  uint32_t size = static_cast<uint32_t>(o.size() - start);
  for (int i = 0; i < 4; ++i) o[start + i] = static_cast<char>(size >> (24 - 8 * i));
}
template <typename F>
void FullBox(std::string& o, const char* type, uint8_t version, uint32_t flags, F body) {
  Box(o, type, [&] {
    U8(o, version);
    U24(o, flags);
    body();
  });
}

void Matrix(std::string& o) {
  for (uint32_t v : {0x00010000u, 0u, 0u, 0u, 0x00010000u, 0u, 0u, 0u, 0x40000000u}) U32(o, v);
}

// MPEG-4 descriptor with a one-byte length (every descriptor here is shorter than 128 bytes
// except when the AudioSpecificConfig is huge; the four-byte form covers that).
void Descriptor(std::string& o, uint8_t tag, const std::string& body) {
  U8(o, tag);
  if (body.size() < 128) {
    U8(o, static_cast<uint32_t>(body.size()));
  } else {
    uint32_t n = static_cast<uint32_t>(body.size());
    U8(o, 0x80 | ((n >> 21) & 0x7f));
    U8(o, 0x80 | ((n >> 14) & 0x7f));
    U8(o, 0x80 | ((n >> 7) & 0x7f));
    U8(o, n & 0x7f);
  }
  o += body;
}

void Trak(std::string& o, uint32_t track_id, const AvcConfig* video, const AacConfig* audio) {
  uint32_t timescale = video ? kVideoTimescale : static_cast<uint32_t>(audio->sample_rate);
  Box(o, "trak", [&] {
    FullBox(o, "tkhd", 0, 3, [&] {
      U32(o, 0);  // creation
      U32(o, 0);  // modification
      U32(o, track_id);
      U32(o, 0);
      U32(o, 0);  // duration
      Zeros(o, 8);
      U16(o, 0);                 // layer
      U16(o, video ? 0 : 1);     // alternate group
      U16(o, video ? 0 : 0x0100);  // volume
      U16(o, 0);
      Matrix(o);
      U32(o, video ? static_cast<uint32_t>(video->width) << 16 : 0);
      U32(o, video ? static_cast<uint32_t>(video->height) << 16 : 0);
    });
    Box(o, "mdia", [&] {
      FullBox(o, "mdhd", 0, 0, [&] {
        U32(o, 0);
        U32(o, 0);
        U32(o, timescale);
        U32(o, 0);
        U16(o, 0x55c4);  // "und"
        U16(o, 0);
      });
      FullBox(o, "hdlr", 0, 0, [&] {
        U32(o, 0);
        o.append(video ? "vide" : "soun", 4);
        Zeros(o, 12);
        const char* name = video ? "collab video" : "collab audio";
        o.append(name);
        o.push_back('\0');
      });
      Box(o, "minf", [&] {
        if (video) {
          FullBox(o, "vmhd", 0, 1, [&] { Zeros(o, 8); });
        } else {
          FullBox(o, "smhd", 0, 0, [&] { Zeros(o, 4); });
        }
        Box(o, "dinf", [&] {
          FullBox(o, "dref", 0, 0, [&] {
            U32(o, 1);
            FullBox(o, "url ", 0, 1, [] {});
          });
        });
        Box(o, "stbl", [&] {
          FullBox(o, "stsd", 0, 0, [&] {
            U32(o, 1);
            if (video) {
              Box(o, "avc1", [&] {
                Zeros(o, 6);
                U16(o, 1);  // data reference index
                Zeros(o, 16);
                U16(o, static_cast<uint32_t>(video->width));
                U16(o, static_cast<uint32_t>(video->height));
                U32(o, 0x00480000);
                U32(o, 0x00480000);
                U32(o, 0);
                U16(o, 1);  // frame count
                Zeros(o, 32);  // compressor name
                U16(o, 0x0018);
                U16(o, 0xffff);
                Box(o, "avcC", [&] { o += video->record; });
              });
            } else {
              Box(o, "mp4a", [&] {
                Zeros(o, 6);
                U16(o, 1);
                Zeros(o, 8);
                U16(o, static_cast<uint32_t>(audio->channels ? audio->channels : 2));
                U16(o, 16);
                U16(o, 0);
                U16(o, 0);
                uint32_t sr = static_cast<uint32_t>(audio->sample_rate);
                U32(o, sr < 65536 ? sr << 16 : 0);
                FullBox(o, "esds", 0, 0, [&] {
                  std::string dsi;
                  Descriptor(dsi, 0x05, audio->record);
                  std::string dcd;
                  U8(dcd, 0x40);         // MPEG-4 audio
                  U8(dcd, (0x05 << 2) | 1);  // audio stream
                  U24(dcd, 0);
                  U32(dcd, 0);
                  U32(dcd, 0);
                  dcd += dsi;
                  std::string es;
                  U16(es, 0);  // ES_ID
                  U8(es, 0);
                  Descriptor(es, 0x04, dcd);
                  Descriptor(es, 0x06, std::string(1, '\x02'));
                  Descriptor(o, 0x03, es);
                });
              });
            }
          });
          FullBox(o, "stts", 0, 0, [&] { U32(o, 0); });
          FullBox(o, "stsc", 0, 0, [&] { U32(o, 0); });
          FullBox(o, "stsz", 0, 0, [&] {
            U32(o, 0);
            U32(o, 0);
          });
          FullBox(o, "stco", 0, 0, [&] { U32(o, 0); });
        });
      });
    });
  });
}

}  // namespace

std::string MakeInitSegment(const AvcConfig* video, const AacConfig* audio) {
  assert(video || audio);
  std::string o;
  Box(o, "ftyp", [&] {
    o.append("iso6", 4);
    U32(o, 0);
    for (const char* b : {"iso6", "cmfc", "isom", "mp41"}) o.append(b, 4);
  });
  Box(o, "moov", [&] {
    FullBox(o, "mvhd", 0, 0, [&] {
      U32(o, 0);
      U32(o, 0);
      U32(o, 1000);
      U32(o, 0);
      U32(o, 0x00010000);  // rate
      U16(o, 0x0100);      // volume
      Zeros(o, 10);
      Matrix(o);
      Zeros(o, 24);
      U32(o, 3);  // next track id
    });
    if (video) Trak(o, kVideoTrackId, video, nullptr);
    if (audio) Trak(o, kAudioTrackId, nullptr, audio);
    Box(o, "mvex", [&] {
      for (uint32_t id : {kVideoTrackId, kAudioTrackId}) {
        if ((id == kVideoTrackId && !video) || (id == kAudioTrackId && !audio)) continue;
        FullBox(o, "trex", 0, 0, [&] {
          U32(o, id);
          U32(o, 1);
          U32(o, 0);
          U32(o, 0);
          U32(o, 0);
        });
      }
    });
  });
  return o;
}

std::string MakeFragment(uint32_t sequence_number, const std::vector<TrackFragment>& tracks) {
  std::string o;
  std::vector<size_t> offset_fields;  // where each trun's data_offset goes
  std::vector<const TrackFragment*> used;
  for (const auto& t : tracks)
    if (!t.samples.empty()) used.push_back(&t);
  Box(o, "moof", [&] {
    FullBox(o, "mfhd", 0, 0, [&] { U32(o, sequence_number); });
    for (const TrackFragment* t : used) {
      Box(o, "traf", [&] {
        FullBox(o, "tfhd", 0, 0x020000, [&] { U32(o, t->track_id); });
        FullBox(o, "tfdt", 1, 0, [&] { U64(o, t->base_decode_time); });
        bool video = t->track_id == kVideoTrackId;
        uint32_t flags = 0x000001 | 0x000100 | 0x000200 | 0x000400 | (video ? 0x000800 : 0);
        FullBox(o, "trun", 1, flags, [&] {
          U32(o, static_cast<uint32_t>(t->samples.size()));
          offset_fields.push_back(o.size());
          U32(o, 0);
          for (const auto& s : t->samples) {
            U32(o, s.duration);
            U32(o, s.size);
            U32(o, s.keyframe ? 0x02000000 : 0x01010000);
            if (video) U32(o, static_cast<uint32_t>(s.composition_offset));
          }
        });
      });
    }
  });
  size_t moof_size = o.size();
  size_t data_size = 0;
  for (const TrackFragment* t : used) data_size += t->data.size();
  U32(o, static_cast<uint32_t>(8 + data_size));
  o.append("mdat", 4);
  size_t offset = moof_size + 8;
  for (size_t i = 0; i < used.size(); ++i) {
    for (int b = 0; b < 4; ++b) o[offset_fields[i] + b] = static_cast<char>(offset >> (24 - 8 * b));
    o += used[i]->data;
    offset += used[i]->data.size();
  }
  return o;
}

}  // namespace collab::stream
