#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "lib/store/db.hpp"
#include "lib/store/keys.hpp"

using namespace collab::store;
namespace base = collab::base;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/collab-store-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

std::unique_ptr<Db> MustOpen(const std::string& dir, std::vector<std::string> cfs, uv_loop_t* loop = nullptr) {
  Options o;
  o.column_families = std::move(cfs);
  o.write_buffer_mb = 4;
  o.loop = loop;
  auto r = Db::Open(dir, o);
  if (!r.ok()) FAIL(r.error().message);
  return std::move(r).value();
}

std::string Seq(uint64_t room, uint64_t seq) { return KeyBuilder().U64(room).U64(seq).Take(); }

}  // namespace

TEST_CASE("open creates column families and reopen keeps data", "[db]") {
  TempDir t;
  std::string dir = t.path + "/db";
  {
    auto db = MustOpen(dir, {"messages", "rooms"});
    auto cfs = db->ColumnFamilies();
    CHECK(std::count(cfs.begin(), cfs.end(), "messages") == 1);
    CHECK(std::count(cfs.begin(), cfs.end(), "rooms") == 1);
    CHECK(std::count(cfs.begin(), cfs.end(), "default") == 1);
    WriteBatch b;
    b.Put("messages", "k1", "v1");
    b.Put("rooms", "r1", "room one");
    CHECK(b.size() == 2);
    REQUIRE(db->Write(std::move(b), false).ok());
    REQUIRE(db->Close().ok());
    CHECK(db->Close().ok());  // idempotent
    auto after = db->Get("messages", "k1");
    REQUIRE(!after.ok());
    CHECK(after.error().message.find("after Close") != std::string::npos);
  }
  {
    // Reopen naming only one family (the other is on disk and opened anyway) and adding one.
    auto db = MustOpen(dir, {"messages", "attachments"});
    auto v = db->Get("messages", "k1");
    REQUIRE(v.ok());
    REQUIRE(v->has_value());
    CHECK(**v == "v1");
    auto r = db->Get("rooms", "r1");
    REQUIRE(r.ok());
    CHECK(r->value_or("") == "room one");
    auto a = db->Get("attachments", "x");
    REQUIRE(a.ok());
    CHECK(!a->has_value());
    auto bad = db->Get("nope", "x");
    REQUIRE(!bad.ok());
    CHECK(bad.error().message.find("unknown column family \"nope\"") != std::string::npos);
  }
  Options o;
  o.create_if_missing = false;
  auto missing = Db::Open(t.path + "/absent", o);
  REQUIRE(!missing.ok());
  CHECK(missing.error().code == base::kExitNoInput);
  CHECK(missing.error().message.find(t.path + "/absent") != std::string::npos);
}

TEST_CASE("put, get, delete and delete-range; a batch with an unknown family applies nothing", "[db]") {
  TempDir t;
  auto db = MustOpen(t.path, {"m"});
  WriteBatch b;
  for (uint64_t s = 1; s <= 10; ++s) b.Put("m", Seq(1, s), "msg" + std::to_string(s));
  b.Put("m", Seq(2, 1), "other room");
  REQUIRE(db->Write(std::move(b), true).ok());

  WriteBatch d;
  d.Delete("m", Seq(1, 1));
  d.DeleteRange("m", Seq(1, 3), Seq(1, 6));  // 3,4,5
  REQUIRE(db->Write(std::move(d), false).ok());
  for (uint64_t s = 1; s <= 10; ++s) {
    auto v = db->Get("m", Seq(1, s));
    REQUIRE(v.ok());
    bool gone = s == 1 || (s >= 3 && s <= 5);
    CHECK(v->has_value() == !gone);
  }
  CHECK(db->Get("m", Seq(2, 1))->value_or("") == "other room");

  WriteBatch bad;
  bad.Put("m", "new", "x");
  bad.Put("missing", "k", "v");
  auto st = db->Write(std::move(bad), false);
  REQUIRE(!st.ok());
  CHECK(st.error().message.find("missing") != std::string::npos);
  CHECK(!db->Get("m", "new")->has_value());
}

TEST_CASE("iteration follows big-endian order and honours bounds", "[db]") {
  TempDir t;
  auto db = MustOpen(t.path, {"m"});
  WriteBatch b;
  for (uint64_t s : {1ull, 2ull, 255ull, 256ull, 257ull, 65536ull}) b.Put("m", Seq(5, s), std::to_string(s));
  b.Put("m", Seq(4, 999), "room4");
  b.Put("m", Seq(6, 0), "room6");
  REQUIRE(db->Write(std::move(b), false).ok());

  IterOptions io;
  io.upper_bound = PrefixUpperBound(KeyBuilder().U64(5).key());
  auto it = db->NewIterator("m", io);
  REQUIRE(it.ok());
  std::vector<uint64_t> seen;
  for ((*it)->Seek(KeyBuilder().U64(5).key()); (*it)->Valid(); (*it)->Next()) {
    seen.push_back(*ReadU64BE((*it)->key(), 8));
    CHECK((*it)->value() == std::to_string(seen.back()));
  }
  CHECK((*it)->status().ok());
  CHECK(seen == std::vector<uint64_t>{1, 2, 255, 256, 257, 65536});

  // Paging backwards from a cursor: the last message <= seq 256.
  (*it)->SeekForPrev(Seq(5, 256));
  REQUIRE((*it)->Valid());
  CHECK(ReadU64BE((*it)->key(), 8) == 256u);
  (*it)->Prev();
  REQUIRE((*it)->Valid());
  CHECK(ReadU64BE((*it)->key(), 8) == 255u);
  // Upper bound: the last key is still room 5's, not room 6's.
  (*it)->SeekToLast();
  REQUIRE((*it)->Valid());
  CHECK((*it)->key() == Seq(5, 65536));

  IterOptions lo;
  lo.lower_bound = KeyBuilder().U64(5).key();
  auto it2 = db->NewIterator("m", lo);
  REQUIRE(it2.ok());
  (*it2)->SeekToFirst();
  REQUIRE((*it2)->Valid());
  CHECK((*it2)->key() == Seq(5, 1));
  (*it2)->SeekToLast();
  CHECK((*it2)->value() == "room6");
  it->reset();
  it2->reset();

  CHECK(!db->NewIterator("zz").ok());
}

TEST_CASE("WriteDurable from a uv loop group-commits and every acked key survives reopen", "[db][durable]") {
  TempDir t;
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  constexpr int kBatches = 1000;
  int acked = 0, failed = 0;
  bool on_loop_thread = true;
  const auto loop_thread = uv_thread_self();
  {
    auto db = MustOpen(t.path, {"m"}, &loop);
    for (int i = 0; i < kBatches; ++i) {
      WriteBatch b;
      b.Put("m", Seq(1, i), "v" + std::to_string(i));
      db->WriteDurable(std::move(b), [&](base::Status st) {
        const uv_thread_t self = uv_thread_self();
        if (!uv_thread_equal(&loop_thread, &self)) on_loop_thread = false;
        (st.ok() ? acked : failed)++;
      });
    }
    // A batch naming an unknown family fails alone without spoiling its group.
    WriteBatch bad;
    bad.Put("nope", "k", "v");
    base::Status bad_status;
    bool bad_done = false;
    db->WriteDurable(std::move(bad), [&](base::Status st) { bad_status = st; bad_done = true; });

    // Run the loop until every completion arrived (bounded: each round waits for an async wakeup).
    for (int round = 0; round < 100000 && (acked + failed < kBatches || !bad_done); ++round) uv_run(&loop, UV_RUN_ONCE);
    CHECK(acked == kBatches);
    CHECK(failed == 0);
    CHECK(bad_done);
    CHECK(!bad_status.ok());
    CHECK(on_loop_thread);
    CHECK(db->durable_batches() == kBatches + 1);
    CHECK(db->sync_writes() >= 1);
    CHECK(db->sync_writes() < static_cast<uint64_t>(kBatches));
    INFO("sync writes for " << kBatches << " batches: " << db->sync_writes());

    // Queued but not yet delivered work is drained by Close: every done runs before it returns.
    int late = 0;
    for (int i = 0; i < 50; ++i) {
      WriteBatch b;
      b.Put("m", Seq(2, i), "late");
      db->WriteDurable(std::move(b), [&](base::Status st) { if (st.ok()) late++; });
    }
    REQUIRE(db->Close().ok());
    CHECK(late == 50);
    // After Close, done is called at once with an error.
    bool closed_err = false;
    db->WriteDurable(WriteBatch(), [&](base::Status st) { closed_err = !st.ok(); });
    CHECK(closed_err);
  }
  uv_run(&loop, UV_RUN_DEFAULT);  // lets the async handle's close callback free it
  REQUIRE(uv_loop_close(&loop) == 0);

  auto db = MustOpen(t.path, {"m"});
  for (int i = 0; i < kBatches; ++i) {
    auto v = db->Get("m", Seq(1, i));
    REQUIRE(v.ok());
    REQUIRE(v->has_value());
    CHECK(**v == "v" + std::to_string(i));
  }
  for (int i = 0; i < 50; ++i) CHECK(db->Get("m", Seq(2, i))->value_or("") == "late");
}

TEST_CASE("WriteDurable without a loop reports on the writer thread", "[db][durable]") {
  TempDir t;
  auto db = MustOpen(t.path, {"m"});
  std::atomic<int> done{0};
  for (int i = 0; i < 20; ++i) {
    WriteBatch b;
    b.Put("m", Seq(1, i), "x");
    db->WriteDurable(std::move(b), [&](base::Status st) { if (st.ok()) done++; });
  }
  REQUIRE(db->Close().ok());  // drains
  CHECK(done == 20);
}

TEST_CASE("a database held open elsewhere is reported as in use", "[db]") {
  TempDir t;
  {
    auto db = MustOpen(t.path, {"m"});
    auto second = Db::Open(t.path, Options{});
    REQUIRE(!second.ok());
    CHECK(second.error().code == base::kExitTempFail);
    CHECK(second.error().message == "database " + t.path + " is in use by another process");
  }
  // Another process holding RocksDB's LOCK (an fcntl lock, as RocksDB takes it).
  int ready[2], release[2];
  REQUIRE(pipe(ready) == 0);
  REQUIRE(pipe(release) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int fd = open((t.path + "/LOCK").c_str(), O_RDWR);
    struct flock fl = {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    char c = (fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0) ? 'y' : 'n';
    (void)!write(ready[1], &c, 1);
    (void)!read(release[0], &c, 1);
    _exit(0);
  }
  char c = 0;
  REQUIRE(read(ready[0], &c, 1) == 1);
  CHECK(c == 'y');
  auto held = Db::Open(t.path, Options{});
  (void)!write(release[1], "x", 1);
  int status = 0;
  waitpid(pid, &status, 0);
  for (int fd : {ready[0], ready[1], release[0], release[1]}) close(fd);
  REQUIRE(!held.ok());
  CHECK(held.error().code == base::kExitTempFail);
  CHECK(held.error().message == "database " + t.path + " is in use by another process");
  // Released: opens again.
  CHECK(Db::Open(t.path, Options{}).ok());
}

TEST_CASE("checkpoint opens as a separate database with the same data", "[db]") {
  TempDir t;
  auto db = MustOpen(t.path + "/live", {"m", "r"});
  WriteBatch b;
  for (int i = 0; i < 100; ++i) b.Put("m", Seq(1, i), "v" + std::to_string(i));
  b.Put("r", "room", "meta");
  REQUIRE(db->Write(std::move(b), true).ok());
  REQUIRE(db->Checkpoint(t.path + "/backup").ok());
  auto again = db->Checkpoint(t.path + "/backup");
  REQUIRE(!again.ok());
  CHECK(again.error().code == base::kExitCantCreat);
  CHECK(again.error().message.find("already exists") != std::string::npos);

  // Writes after the checkpoint do not reach it.
  WriteBatch after;
  after.Put("m", "later", "x");
  REQUIRE(db->Write(std::move(after), false).ok());

  auto copy = MustOpen(t.path + "/backup", {"m", "r"});
  for (int i = 0; i < 100; ++i) CHECK(copy->Get("m", Seq(1, i))->value_or("") == "v" + std::to_string(i));
  CHECK(copy->Get("r", "room")->value_or("") == "meta");
  CHECK(!copy->Get("m", "later")->has_value());
  CHECK(db->Get("m", "later")->has_value());
}

TEST_CASE("compaction after a range delete and stats per column family", "[db]") {
  TempDir t;
  auto db = MustOpen(t.path, {"m"});
  WriteBatch b;
  for (int i = 0; i < 500; ++i) b.Put("m", Seq(1, i), std::string(100, 'x'));
  REQUIRE(db->Write(std::move(b), false).ok());
  base::Json st = db->Stats();
  CHECK(st.GetString("dir") == t.path);
  const base::Json* cfs = st.Find("column_families");
  REQUIRE(cfs != nullptr);
  REQUIRE(cfs->Find("m") != nullptr);
  CHECK(cfs->Find("m")->GetInt("estimated_keys") > 0);
  CHECK(st.GetInt("wal_bytes") > 0);
  CHECK(st.Find("sync_writes") != nullptr);

  WriteBatch d;
  d.DeleteRange("m", Seq(1, 0), Seq(1, 500));
  REQUIRE(db->Write(std::move(d), false).ok());
  REQUIRE(db->CompactRange("m").ok());
  auto it = db->NewIterator("m");
  REQUIRE(it.ok());
  (*it)->SeekToFirst();
  CHECK(!(*it)->Valid());
  it->reset();
  CHECK(db->Stats().Find("column_families")->Find("m")->GetInt("estimated_keys") == 0);
  CHECK(!db->CompactRange("nope").ok());
}

TEST_CASE("a file path as database directory gives a clear error", "[db]") {
  TempDir t;
  std::string file = t.path + "/plain";
  FILE* f = fopen(file.c_str(), "w");
  REQUIRE(f != nullptr);
  fclose(f);
  auto r = Db::Open(file, Options{});
  REQUIRE(!r.ok());
  CHECK(r.error().code == base::kExitIoErr);
  CHECK(r.error().message == "database " + file + ": not a directory");

  auto under = Db::Open(file + "/sub", Options{});
  REQUIRE(!under.ok());
  CHECK(under.error().code == base::kExitIoErr);
  CHECK(under.error().message.find(file + "/sub") != std::string::npos);
}

TEST_CASE("compressed families store less on disk; ApproximateDiskBytes measures a key range", "[db]") {
  TempDir dir;
  Options o;
  o.column_families = {"plain", "packed"};
  o.compressed_families = {"packed"};
  auto r = Db::Open(dir.path, o);
  REQUIRE(r.ok());
  auto db = std::move(r).value();
  // Compressible values (repetitive text with a counter), the same in both families, keys "a..." only.
  uint64_t raw = 0;
  for (int batch = 0; batch < 20; ++batch) {
    WriteBatch b;
    for (int i = 0; i < 500; ++i) {
      int n = batch * 500 + i;
      std::string key = "a" + std::to_string(1000000 + n);
      std::string value;
      for (int k = 0; k < 20; ++k) value += "message " + std::to_string(n % 97) + " in room " + std::to_string(k) + "; ";
      raw += key.size() + value.size();
      b.Put("plain", key, value);
      b.Put("packed", key, value);
    }
    REQUIRE(db->Write(std::move(b), false).ok());
  }
  REQUIRE(db->CompactRange("plain").ok());
  REQUIRE(db->CompactRange("packed").ok());
  auto plain = db->ApproximateDiskBytes("plain", "a", "b");
  auto packed = db->ApproximateDiskBytes("packed", "a", "b");
  REQUIRE(plain.ok());
  REQUIRE(packed.ok());
  CHECK(*plain > 0);
  CHECK(*plain < raw);
  CHECK(*packed > 0);
  CHECK(*packed < *plain);
  // A range with no keys holds nothing; an unknown family is an error.
  auto none = db->ApproximateDiskBytes("packed", "x", "z");
  REQUIRE(none.ok());
  CHECK(*none < 4096);
  CHECK_FALSE(db->ApproximateDiskBytes("nosuch", "a", "b").ok());
  // Data written with either setting reads back after a reopen.
  REQUIRE(db->Close().ok());
  auto again = Db::Open(dir.path, o);
  REQUIRE(again.ok());
  auto v = (*again)->Get("packed", "a1000007");
  REQUIRE(v.ok());
  REQUIRE(v->has_value());
  CHECK(v->value().rfind("message 7 in room 0; ", 0) == 0);
}
