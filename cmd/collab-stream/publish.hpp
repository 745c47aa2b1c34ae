// `collab-stream publish NAME INPUT`: the operator's one command to push a file, a capture device
// or a URL into the local collab-stream. It finds the RTMP ingest address and the stream's key
// from the config (and the running daemon), then runs the ffmpeg program as a child and turns its
// outcome into a sysexits status. It is a client: it never binds anything, and it does not link
// lib/stream (the daemon and this mode meet only over RTMP and the control socket).
#pragma once

#include <string>
#include <vector>

#include "lib/base/result.hpp"

namespace collab::cmd {

enum class Transcode { kAuto, kAlways, kNever };

struct PublishOptions {
  std::string config_path;
  std::vector<std::string> overrides;  // -o key=value, raw
  int verbosity = 0;
  std::string name;
  std::string input;
  std::string key;  // --key; used only when key_given
  bool key_given = false;
  bool loop = false;
  Transcode transcode = Transcode::kAuto;
};

// What INPUT names, and how ffmpeg must open it.
struct PublishInput {
  enum class Kind { kFile, kUrl, kV4l2, kAlsa, kPulse, kLavfi };
  Kind kind = Kind::kFile;
  std::string source;  // what follows -i
  // Read at the native frame rate (-re): sources that would otherwise be read as fast as the
  // disk allows. Live sources pace themselves.
  bool realtime = false;
};

// Classifies INPUT: "v4l2:DEV" or "/dev/video*", "alsa:DEV", "pulse:SOURCE", "lavfi:GRAPH",
// "SCHEME://..." or a file path. Only syntax; kExitUsage for an empty device name.
[[nodiscard]] base::Result<PublishInput> ClassifyInput(const std::string& input);

// Runs the publish until the input ends, the daemon drops us or a signal stops us; returns the
// process exit status: 0 (file ended, or stopped by SIGINT/SIGTERM), 64 usage, 65 unreadable
// media, 66 missing input, 69 collab-stream not running / not reachable / refused / ended the
// publish, or ffmpeg missing, 70 ffmpeg failed otherwise, 78 configuration.
int Publish(const PublishOptions& o);

}  // namespace collab::cmd
