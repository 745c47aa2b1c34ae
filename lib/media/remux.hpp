// Remuxing without re-encoding (the -c copy of the ffmpeg tool): reads a recording (its HLS
// playlist, or any input libavformat opens) and writes one MP4 with the index at the front
// (faststart), so a browser can start playing a download before it is complete and seek in it.
// Timestamps are shifted so the file starts at zero. Only audio and video streams are kept.
// The first call turns FFmpeg's default log level down from info to warning (process-wide).
// Deliberately not here: transcoding, filtering, choosing what to record, and progress reports.
#pragma once

#include <string>

#include "lib/base/result.hpp"

namespace collab::media {

// Blocking (reads and writes whole files): call it from a worker thread. Writes `output`
// directly; the caller writes to a temporary name and renames. Errors: kExitNoInput when the
// input cannot be opened or read, kExitDataErr when it has no audio or video, kExitIoErr when
// writing fails (disk full), with FFmpeg's message.
base::Status RemuxToMp4(const std::string& input, const std::string& output);

}  // namespace collab::media
