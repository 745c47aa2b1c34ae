// collab-stream: collab live streaming server (ingest, low-latency HLS). Flags in, exit status out; the work is in
// lib/stream. `collab-stream publish NAME INPUT` is a client mode of the same binary (cmd/collab-stream/publish.hpp):
// it is picked by the first argument, so the daemon's command line stays exactly that of every collab daemon.
#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstring>
#include <string>

#include <CLI/CLI.hpp>

#include "cmd/collab-stream/publish.hpp"
#include "cmd/daemon_main.hpp"
#include "lib/base/exit_codes.hpp"
#include "lib/base/version.hpp"
#include "lib/stream/service.hpp"

namespace {

int PublishMain(int argc, char** argv) {
  using namespace collab;
  CLI::App app{"push a file, a capture device or a URL into the local collab-stream (runs ffmpeg)",
               "collab-stream publish"};
  app.set_version_flag("--version", std::string("collab-stream ") + base::kVersion);
  cmd::PublishOptions o;
  o.config_path = cmd::kDefaultConfig;
  std::string transcode = "auto";
  app.add_option("name", o.name, "stream name (letters, digits, _ and -)")->required();
  app.add_option("input", o.input,
                 "a file, v4l2:DEVICE or /dev/videoN, alsa:DEVICE, pulse:SOURCE, lavfi:GRAPH, or a URL")
      ->required();
  app.add_option("-c,--config", o.config_path, "configuration file (default " + std::string(cmd::kDefaultConfig) + ")")
      ->envname("COLLAB_CONFIG")
      ->type_name("FILE");
  app.add_option("-o,--option", o.overrides, "override a configuration key, e.g. -o stream.rtmp_listen=127.0.0.1:1935")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  app.add_flag("-v,--verbose", o.verbosity, "show the ffmpeg command and its messages (repeatable)");
  app.add_flag("--loop", o.loop, "play a file over and over until stopped");
  app.add_option("--key", o.key, "publisher key (default: from stream.publish_keys)")->type_name("KEY");
  app.add_option("--transcode", transcode,
                 "auto: copy H.264/AAC and encode the rest (default); always: encode; never: copy")
      ->type_name("MODE")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : base::kExitUsage;
  }
  o.key_given = app.count("--key") > 0;
  o.transcode = transcode == "always"  ? cmd::Transcode::kAlways
                : transcode == "never" ? cmd::Transcode::kNever
                                       : cmd::Transcode::kAuto;
  return cmd::Publish(o);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "publish") == 0) return PublishMain(argc - 1, argv + 1);
  // The open segment's buffer grows to hundreds of KiB per stream and is made anew for every
  // segment: keep such buffers in the heap instead of an mmap/munmap and page faults for each.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  // Every segment in the window and every part of the open one is a memfd (sent with sendfile),
  // so descriptors grow with streams as well as viewers: raise the soft limit as nginx's
  // worker_rlimit_nofile would, but not without bound (libwebsockets sizes tables by it).
  constexpr rlim_t kWantFiles = 65536;
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < kWantFiles) {
    nofile.rlim_cur = std::min(kWantFiles, nofile.rlim_max);
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  auto service = collab::stream::MakeService();
  return collab::cmd::DaemonMain(argc, argv, "collab-stream", "stream",
                                 "collab live streaming server (ingest, low-latency HLS)", *service);
}
