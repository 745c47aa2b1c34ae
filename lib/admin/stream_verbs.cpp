// The streaming administration verbs: thin clients of collab-stream's control verbs stream.list,
// stream.kick, stream.record and stream.recordings (lib/stream/service.cpp, collab-ipc(7)). They print tables or JSON
// and map failures to sysexits; what a stream is and when it ends is the daemon's business.
#include <cstdio>
#include <string>
#include <vector>

#include "lib/admin/common.hpp"
#include "lib/admin/tty.hpp"
#include "lib/base/exit_codes.hpp"
#include "lib/base/json.hpp"

namespace collab::admin {

using base::Json;

namespace {

constexpr int kCallTimeoutMs = 10 * 1000;

// Loads the config and calls collab-stream; on failure prints the error and returns its exit
// code in *rc. A daemon that is not running keeps kExitUnavailable (69).
base::Result<Json> Stream(const GlobalOptions& g, const std::string& verb, const Json& args, int* rc) {
  auto cfg = LoadConfig(g);
  if (!cfg.ok()) {
    *rc = Fail(cfg.error());
    return cfg.error();
  }
  auto r = CallDaemon(*cfg, "stream", verb, args, kCallTimeoutMs);
  if (!r.ok()) {
    *rc = Fail(r.error());
    return r.error();
  }
  *rc = 0;
  return r;
}

std::string Field(const Json& j, const char* key) {
  const Json* v = j.Find(key);
  if (!v || v->is_null()) return "-";
  if (v->is_string()) return v->as_string().empty() ? "-" : v->as_string();
  return v->Dump();
}

// "1h02m", "3m05s", "12s": how long a stream has been idle, short enough for a table cell.
std::string ShortDuration(int64_t s) {
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  return buf;
}

}  // namespace

int StreamList(const GlobalOptions& g) {
  int rc;
  auto r = Stream(g, "stream.list", Json::MakeObject(), &rc);
  if (!r.ok()) return rc;
  const Json* streams = r->Find("streams");
  if (g.json) {
    if (streams && streams->is_array())
      for (const Json& s : streams->as_array()) PrintJson(s);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  if (streams && streams->is_array())
    for (const Json& s : streams->as_array()) {
      bool live = s.GetBool("live");
      rows.push_back({Field(s, "name"), live ? "live" : "idle " + ShortDuration(s.GetInt("idle_s")),
                      live ? Field(s, "publisher") : "-", live ? Field(s, "publish_started_at") : "-",
                      HumanBytes(static_cast<uint64_t>(s.GetInt("bytes_in"))), Field(s, "parts"),
                      Field(s, "media_sequence"), Field(s, "viewers"), Field(s, "playlist")});
    }
  if (rows.empty() && IsTty(stdout)) {
    std::printf("no streams\n");
    return 0;
  }
  PrintTable(stdout, {"NAME", "STATE", "PUBLISHER", "SINCE", "BYTES IN", "PARTS", "MSN", "VIEWERS", "PLAYLIST"}, rows);
  return 0;
}

int StreamKick(const GlobalOptions& g, const std::string& name) {
  int rc;
  auto r = Stream(g, "stream.kick", Json::Obj({{"name", name}}), &rc);
  if (!r.ok()) return rc;  // an unknown name comes back as kExitNoUser (67) from the daemon
  if (g.json) {
    PrintJson(*r);
    return 0;
  }
  // Kicking a stream nobody publishes is not an error: the operator's goal (no publisher) holds,
  // and a script can run the verb twice.
  if (r->GetBool("kicked"))
    std::printf("kicked the publisher of stream %s\n", name.c_str());
  else
    std::printf("stream %s has no publisher connected; nothing to kick\n", name.c_str());
  return 0;
}

int StreamRecord(const GlobalOptions& g, const std::string& name, const std::string& action) {
  if (action != "start" && action != "stop") {
    std::fprintf(stderr, "collab-admin: stream record: the action is start or stop, not '%s'\n", action.c_str());
    return base::kExitUsage;
  }
  int rc;
  auto r = Stream(g, "stream.record", Json::Obj({{"name", name}, {"action", action}}), &rc);
  if (!r.ok()) return rc;
  if (g.json) {
    PrintJson(*r);
    return 0;
  }
  bool live = r->GetBool("live");
  std::string id = Field(*r, "id");
  if (action == "start")
    std::printf(live ? "recording stream %s as %s\n" : "stream %s will be recorded when it publishes%s\n", name.c_str(),
                live ? id.c_str() : "");
  else if (id != "-")
    std::printf("stopped recording %s of stream %s\n", id.c_str(), name.c_str());
  else
    std::printf("stream %s is not being recorded\n", name.c_str());
  return 0;
}

int StreamRecordings(const GlobalOptions& g) {
  int rc;
  auto r = Stream(g, "stream.recordings", Json::MakeObject(), &rc);
  if (!r.ok()) return rc;
  const Json* recs = r->Find("recordings");
  if (g.json) {
    if (recs && recs->is_array())
      for (const Json& x : recs->as_array()) PrintJson(x);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  if (recs && recs->is_array())
    for (const Json& x : recs->as_array()) {
      const Json* d = x.Find("duration_s");
      rows.push_back({Field(x, "stream"), Field(x, "id"), Field(x, "state"), Field(x, "started_at"),
                      ShortDuration(d ? static_cast<int64_t>(d->as_double() + 0.5) : 0),
                      HumanBytes(static_cast<uint64_t>(x.GetInt("bytes"))), Field(x, "mp4")});
    }
  if (rows.empty() && IsTty(stdout)) {
    std::printf("no recordings\n");
    return 0;
  }
  PrintTable(stdout, {"STREAM", "ID", "STATE", "STARTED", "DURATION", "SIZE", "MP4"}, rows);
  return 0;
}

}  // namespace collab::admin
