// Fuzzes the reader of recording playlists (lib/stream/recorder.hpp), which runs on whatever a
// previous run (or a crash, or an operator's editor) left in the recordings directory. What it
// accepts must render again and read back to the same segments, and every URI it accepts must be
// a plain file name of a recording.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lib/stream/recorder.hpp"

using namespace collab::stream;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto parsed = RecordingPlaylist::Parse(in);
  if (!parsed.ok()) return 0;
  for (const auto& e : parsed->playlist.entries())
    if (!ValidRecordingFile(e.uri) || !ValidRecordingFile(e.map_uri)) std::abort();
  auto again = RecordingPlaylist::Parse(parsed->playlist.Render(parsed->ended));
  if (!again.ok() || again->playlist.size() != parsed->playlist.size() || again->ended != parsed->ended) std::abort();
  return 0;
}
