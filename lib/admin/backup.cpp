// `collab-admin backup` and `restore`. A backup is a RocksDB checkpoint (hard links, instant)
// taken next to the database, by the running collab-chatd when there is one or by opening the
// stopped database directly, then copied to its destination, so the copy never competes with the
// daemon for the database lock and a half-written destination never looks finished.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "lib/admin/common.hpp"
#include "lib/admin/tty.hpp"
#include "lib/base/fs.hpp"
#include "lib/base/json.hpp"
#include "lib/base/time.hpp"
#include "lib/store/db.hpp"

namespace collab::admin {

using base::Json;
namespace fs = std::filesystem;

namespace {

constexpr int kCheckpointTimeoutMs = 10 * 60 * 1000;
// Families every chat database has (lib/chat/model.hpp); enough to tell it from other RocksDBs.
const char* const kChatFamilies[] = {"users", "rooms", "members", "messages"};

std::string Absolute(const std::string& p) {
  std::error_code ec;
  fs::path a = fs::absolute(p, ec);
  return ec ? p : a.lexically_normal().string();
}

std::string UtcStamp() {
  time_t t = ::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

base::Status FsyncPath(const std::string& path, bool dir) {
  int fd = ::open(path.c_str(), (dir ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  if (fd < 0) return base::MakeError(base::kExitIoErr, path + ": " + base::ErrnoText(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return base::MakeError(base::kExitIoErr, "fsync " + path + ": " + base::ErrnoText(err));
  return base::Ok();
}

struct TreeSize {
  uint64_t files = 0, bytes = 0;
};

base::Result<TreeSize> Measure(const std::string& dir) {
  TreeSize t;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) {
      ++t.files;
      t.bytes += it->file_size(ec);
    }
  }
  if (ec) return base::MakeError(base::kExitIoErr, dir + ": " + ec.message());
  return t;
}

base::Status CopyFile(const std::string& from, const std::string& to, ProgressBar& bar) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return base::MakeError(base::kExitIoErr, from + ": " + base::ErrnoText(errno));
  // Chat history is private: the copy is readable by its owner only, whatever the umask.
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0) {
    int err = errno;
    ::close(in);
    return base::MakeError(base::kExitCantCreat, to + ": " + base::ErrnoText(err));
  }
  std::vector<char> buf(1 << 20);
  base::Status st = base::Ok();
  for (;;) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      st = base::MakeError(base::kExitIoErr, from + ": " + base::ErrnoText(errno));
      break;
    }
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(out, buf.data() + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        st = base::MakeError(base::kExitIoErr, to + ": " + base::ErrnoText(errno));
        break;
      }
      off += w;
    }
    if (!st.ok()) break;
    bar.Add(static_cast<uint64_t>(n));
  }
  if (st.ok() && ::fsync(out) != 0)
    st = base::MakeError(base::kExitIoErr, "fsync " + to + ": " + base::ErrnoText(errno));
  ::close(in);
  if (::close(out) != 0 && st.ok()) st = base::MakeError(base::kExitIoErr, to + ": " + base::ErrnoText(errno));
  return st;
}

// Copies the tree under from into the new directory to (which must not exist), fsyncing every
// file and directory. On failure the partial copy is removed.
base::Result<TreeSize> CopyTree(const std::string& from, const std::string& to, const std::string& label) {
  auto size = Measure(from);
  if (!size.ok()) return size.error();
  if (::mkdir(to.c_str(), 0700) != 0) return base::MakeError(base::kExitCantCreat, to + ": " + base::ErrnoText(errno));
  ProgressBar bar(label, size->bytes, true);
  std::vector<std::string> dirs = {to};
  base::Status st = base::Ok();
  std::error_code ec;
  for (fs::recursive_directory_iterator it(from, ec), end; !ec && it != end && st.ok(); it.increment(ec)) {
    std::string rel = fs::relative(it->path(), from, ec).string();
    if (ec) break;
    std::string target = to + "/" + rel;
    if (it->is_directory(ec)) {
      if (::mkdir(target.c_str(), 0700) != 0)
        st = base::MakeError(base::kExitCantCreat, target + ": " + base::ErrnoText(errno));
      dirs.push_back(target);
    } else if (it->is_regular_file(ec)) {
      st = CopyFile(it->path().string(), target, bar);
    } else {
      st = base::MakeError(base::kExitDataErr, it->path().string() + " is neither a file nor a directory");
    }
  }
  if (st.ok() && ec) st = base::MakeError(base::kExitIoErr, from + ": " + ec.message());
  for (auto d = dirs.rbegin(); st.ok() && d != dirs.rend(); ++d) st = FsyncPath(*d, true);
  if (st.ok()) st = FsyncPath(fs::path(to).parent_path().string(), true);
  bar.Finish();
  if (!st.ok()) {
    fs::remove_all(to, ec);
    return st.error();
  }
  return size;
}

// Opens dir as a database and checks that it has the chat column families; returns Db::Stats.
base::Result<Json> VerifyChatDb(const std::string& dir) {
  store::Options o;
  o.create_if_missing = false;
  auto db = store::Db::Open(dir, o);
  if (!db.ok()) return db.error();
  std::vector<std::string> cfs = (*db)->ColumnFamilies();
  for (const char* want : kChatFamilies) {
    bool found = false;
    for (const auto& c : cfs) found = found || c == want;
    if (!found) {
      (void)(*db)->Close();
      return base::MakeError(base::kExitDataErr,
                             dir + " is not a collab chat database (no column family '" + std::string(want) + "')");
    }
  }
  Json stats = (*db)->Stats();
  auto st = (*db)->Close();
  if (!st.ok()) return st.error();
  return stats;
}

int64_t Keys(const Json& stats, const char* cf) {
  const Json* cfs = stats.Find("column_families");
  const Json* c = cfs ? cfs->Find(cf) : nullptr;
  return c ? c->GetInt("estimated_keys") : 0;
}

}  // namespace

int Backup(const GlobalOptions& g, const std::string& dest_in) {
  auto cfg = LoadConfig(g);
  if (!cfg.ok()) return Fail(cfg.error());
  const std::string db = ChatDbDir(*cfg);
  const std::string dest = Absolute(dest_in);
  struct stat sb;
  if (::lstat(dest.c_str(), &sb) == 0)
    return Fail(base::kExitCantCreat, dest + " already exists; a backup goes into a new directory");
  std::string parent = fs::path(dest).parent_path().string();
  if (auto st = base::MakeDirs(parent, 0750); !st.ok())
    return Fail(st.error().code == base::kExitIoErr ? base::kExitCantCreat : st.error().code, st.error().message);
  int64_t t0 = base::MonotonicMs();

  // The checkpoint lands beside the database: same filesystem, so it is made of hard links.
  const std::string tmp = db + ".backup-" + std::to_string(::getpid()) + "-" + std::to_string(base::WallClockMs());
  std::string method;
  auto r = CallDaemon(*cfg, "chatd", "backup.checkpoint", Json::Obj({{"dir", tmp}}), kCheckpointTimeoutMs);
  if (r.ok()) {
    method = "online checkpoint by collab-chatd";
  } else if (r.error().code == base::kExitUnavailable) {
    // No daemon: take the checkpoint ourselves. If a daemon holds the lock after all (starting
    // up, or its socket is elsewhere), Open fails with "in use" (75) and cron tries again.
    if (!base::PathExists(db)) return Fail(base::kExitNoInput, "no chat database at " + db);
    store::Options o;
    o.create_if_missing = false;
    auto d = store::Db::Open(db, o);
    if (!d.ok()) return Fail(d.error());
    auto st = (*d)->Checkpoint(tmp);
    auto cst = (*d)->Close();
    if (!st.ok()) return Fail(st.error());
    if (!cst.ok()) return Fail(cst.error());
    method = "checkpoint of the stopped database";
  } else {
    base::Error e = r.error();
    return Fail(e.code, "collab-chatd could not make a checkpoint: " + e.message);
  }
  auto cleanup = [&] {
    std::error_code ec;
    fs::remove_all(tmp, ec);
  };

  auto copied = CopyTree(tmp, dest, "backup");
  cleanup();
  if (!copied.ok()) return Fail(copied.error());
  auto stats = VerifyChatDb(dest);
  if (!stats.ok()) return Fail(stats.error().Wrap("the backup in " + dest + " does not open"));
  int64_t elapsed = base::MonotonicMs() - t0;
  if (g.json) {
    PrintJson(Json::Obj({{"dest", dest},
                         {"source", db},
                         {"method", method},
                         {"files", copied->files},
                         {"bytes", copied->bytes},
                         {"users", Keys(*stats, "users")},
                         {"rooms", Keys(*stats, "rooms")},
                         {"messages", Keys(*stats, "messages")},
                         {"elapsed_ms", elapsed}}));
  } else {
    std::printf("backed up %s to %s (%s)\n", db.c_str(), dest.c_str(), method.c_str());
    std::printf("%llu files, %s, about %lld users, %lld rooms, %lld messages; verified in %lld ms\n",
                static_cast<unsigned long long>(copied->files), HumanBytes(copied->bytes).c_str(),
                static_cast<long long>(Keys(*stats, "users")), static_cast<long long>(Keys(*stats, "rooms")),
                static_cast<long long>(Keys(*stats, "messages")), static_cast<long long>(elapsed));
  }
  return 0;
}

int Restore(const GlobalOptions& g, const std::string& src_in, bool force) {
  auto cfg = LoadConfig(g);
  if (!cfg.ok()) return Fail(cfg.error());
  const std::string db = ChatDbDir(*cfg);
  const std::string src = Absolute(src_in);
  if (!base::PathExists(src)) return Fail(base::kExitNoInput, src + " does not exist");
  if (!base::PathExists(src + "/CURRENT"))
    return Fail(base::kExitDataErr, src + " is not a database backup (no CURRENT file)");
  if (Absolute(db) == src) return Fail(base::kExitUsage, src + " is the live database itself");

  // Never under a running daemon: it would keep serving (and writing) the database moved aside.
  auto running = CallDaemon(*cfg, "chatd", "status", Json::MakeObject(), 5000);
  if (running.ok())
    return Fail(base::kExitTempFail, "collab-chatd is running (pid " + std::to_string(running->GetInt("pid")) +
                                         "); stop it first, e.g. systemctl stop collab-chatd");
  if (running.error().code == base::kExitNoPerm) return Fail(running.error());

  bool have_db = base::PathExists(db);
  struct stat owner {};
  bool chown_to_owner = false;
  if (have_db) {
    store::Options o;
    o.create_if_missing = false;
    auto cur = store::Db::Open(db, o);
    if (!cur.ok() && cur.error().code == base::kExitTempFail)
      return Fail(base::kExitTempFail, cur.error().message + " (is collab-chatd running?)");
    if (cur.ok()) (void)(*cur)->Close();
    if (!force)
      return Fail(base::kExitCantCreat, db + " exists; with --force it is moved aside to " + db +
                                            ".before-restore-TIMESTAMP and " + src + " restored in its place");
    // Restoring as root for a daemon that runs as its own user: give it the same owner.
    chown_to_owner = ::geteuid() == 0 && ::stat(db.c_str(), &owner) == 0 && owner.st_uid != 0;
  }
  if (auto st = base::MakeDirs(fs::path(db).parent_path().string(), 0750); !st.ok()) return Fail(st.error());

  // Copy beside the database, check that it opens, then swap with two renames.
  const std::string tmp = db + ".restore-" + std::to_string(::getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  auto copied = CopyTree(src, tmp, "restore");
  if (!copied.ok()) return Fail(copied.error());
  auto stats = VerifyChatDb(tmp);
  if (!stats.ok()) {
    fs::remove_all(tmp, ec);
    return Fail(stats.error().Wrap("not restored"));
  }
  if (chown_to_owner) {
    (void)::chown(tmp.c_str(), owner.st_uid, owner.st_gid);
    for (fs::recursive_directory_iterator it(tmp, ec), end; !ec && it != end; it.increment(ec))
      (void)::chown(it->path().c_str(), owner.st_uid, owner.st_gid);
  }
  std::string aside;
  if (have_db) {
    aside = db + ".before-restore-" + UtcStamp();
    if (::rename(db.c_str(), aside.c_str()) != 0) {
      int err = errno;
      fs::remove_all(tmp, ec);
      return Fail(base::kExitIoErr, "moving " + db + " aside: " + base::ErrnoText(err));
    }
  }
  if (::rename(tmp.c_str(), db.c_str()) != 0) {
    int err = errno;
    if (!aside.empty()) (void)::rename(aside.c_str(), db.c_str());
    fs::remove_all(tmp, ec);
    return Fail(base::kExitIoErr, "moving the restored copy into place: " + base::ErrnoText(err));
  }
  (void)FsyncPath(fs::path(db).parent_path().string(), true);
  if (g.json) {
    PrintJson(Json::Obj({{"restored", src},
                         {"db", db},
                         {"moved_aside", aside.empty() ? Json() : Json(aside)},
                         {"files", copied->files},
                         {"bytes", copied->bytes},
                         {"users", Keys(*stats, "users")},
                         {"rooms", Keys(*stats, "rooms")},
                         {"messages", Keys(*stats, "messages")}}));
  } else {
    if (!aside.empty()) std::printf("moved the current database aside to %s\n", aside.c_str());
    std::printf("restored %s into %s: %llu files, %s, about %lld users, %lld rooms, %lld messages\n", src.c_str(),
                db.c_str(), static_cast<unsigned long long>(copied->files), HumanBytes(copied->bytes).c_str(),
                static_cast<long long>(Keys(*stats, "users")), static_cast<long long>(Keys(*stats, "rooms")),
                static_cast<long long>(Keys(*stats, "messages")));
    std::printf("start collab-chatd to serve it%s\n",
                aside.empty() ? "" : "; remove the old copy once you are satisfied");
  }
  return 0;
}

}  // namespace collab::admin
