// The RocksDB wrapper: the only code in collab that includes RocksDB headers (DESIGN.md
// "Layout"). It offers column families, write batches, iterators with bounds, group-committed
// durable writes reported back on the uv loop, online checkpoints and stats.
// Deliberately knows nothing about chat: key layouts live with their users (see keys.hpp for
// the big-endian helpers). No RocksDB type appears here (pimpl), so users need no RocksDB headers.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/json.hpp"
#include "lib/base/result.hpp"

namespace collab::store {

using base::Json;
using base::Result;
using base::Status;

struct Options {
  // Column families to open; missing ones are created. "default" always exists and is
  // opened implicitly; families already on disk but not listed are opened too (RocksDB
  // requires it) and simply unused.
  std::vector<std::string> column_families;
  bool create_if_missing = true;
  size_t write_buffer_mb = 16;  // per column family memtable size
  // Families whose keys begin with a length-prefixed component (AppendU32BE(len) + bytes, as
  // KeyBuilder::Str makes): inserts are hinted per such prefix, so appending to one room's
  // sequence does not search the whole memtable each time.
  std::vector<std::string> length_prefixed_families;
  // Families stored with zstd and 16 KiB blocks instead of the default (Snappy, 4 KiB): for
  // large, rarely point-read data such as the search postings, where size on disk matters
  // more than the little extra CPU of compactions. Falls back to the default compression
  // when this RocksDB was built without zstd.
  std::vector<std::string> compressed_families;
  // The loop on which WriteDurable reports completions (via uv_async). When null, the
  // completions run on the writer thread instead and the caller must synchronise itself.
  // With a loop, Open and Close must run on that loop's thread.
  uv_loop_t* loop = nullptr;
};

// A set of mutations applied atomically by Db::Write / Db::WriteDurable. It names column
// families by string and is only resolved at write time, so building one needs no Db; an
// unknown family fails that write (nothing of the batch is applied).
class WriteBatch {
 public:
  enum class OpType { kPut, kDelete, kDeleteRange };
  struct Op {
    OpType type;
    std::string cf;
    std::string key;    // or range begin
    std::string value;  // or range end (exclusive)
  };

  void Put(std::string_view cf, std::string_view key, std::string_view value) {
    ops_.push_back(Op{OpType::kPut, std::string(cf), std::string(key), std::string(value)});
  }
  void Delete(std::string_view cf, std::string_view key) {
    ops_.push_back(Op{OpType::kDelete, std::string(cf), std::string(key), {}});
  }
  // Deletes every key in [begin, end).
  void DeleteRange(std::string_view cf, std::string_view begin, std::string_view end) {
    ops_.push_back(Op{OpType::kDeleteRange, std::string(cf), std::string(begin), std::string(end)});
  }
  size_t size() const { return ops_.size(); }
  bool empty() const { return ops_.empty(); }
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
};

struct IterOptions {
  std::string lower_bound;  // inclusive; empty = none
  std::string upper_bound;  // exclusive; empty = none (see PrefixUpperBound in keys.hpp)
};

// A cursor over one column family, seeing a consistent snapshot taken at creation.
// key()/value() stay valid until the next move or destruction. Must be destroyed before its Db
// is closed.
class Iterator {
 public:
  ~Iterator();
  Iterator(const Iterator&) = delete;
  Iterator& operator=(const Iterator&) = delete;

  void SeekToFirst();
  void SeekToLast();
  void Seek(std::string_view key);         // first key >= key
  void SeekForPrev(std::string_view key);  // last key <= key
  bool Valid() const;
  void Next();
  void Prev();
  std::string_view key() const;
  std::string_view value() const;
  // An I/O or corruption error that ended the iteration (Valid() false because of it).
  Status status() const;

  struct Impl;
  explicit Iterator(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

class Db {
 public:
  // Errors name dir: kExitTempFail "database DIR is in use by another process" when the
  // LOCK is held; kExitIoErr when dir is not a directory or cannot be opened; kExitNoInput
  // when it does not exist and create_if_missing is false.
  static Result<std::unique_ptr<Db>> Open(const std::string& dir, const Options& options);

  ~Db();  // Close()s
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Stops accepting durable writes, waits for the writer thread to write everything queued,
  // calls every pending `done` (on the calling thread, which must be the loop thread when a
  // loop was given), then closes RocksDB. The uv_async handle is freed by its close callback,
  // so run the loop once more after Close before uv_loop_close. Idempotent.
  Status Close();

  const std::string& dir() const;
  std::vector<std::string> ColumnFamilies() const;

  Result<std::optional<std::string>> Get(std::string_view cf, std::string_view key);
  // Applies the batch atomically on the calling thread; sync=true fsyncs the WAL first.
  Status Write(WriteBatch&& batch, bool sync);

  // Group commit: queues the batch for the writer thread, which merges all batches queued at
  // that moment into one RocksDB write with a synced WAL (one fsync for many batches), then
  // reports each batch's Status to its `done` on the loop (or the writer thread when no loop
  // was given). `done` is called exactly once; after Close it is called at once with an error.
  void WriteDurable(WriteBatch&& batch, std::function<void(Status)> done);

  Result<std::unique_ptr<Iterator>> NewIterator(std::string_view cf, const IterOptions& options = {});

  // Online backup into dest_dir (hard links where possible); dest_dir must not exist. The
  // result opens as a normal Db.
  Status Checkpoint(const std::string& dest_dir);
  // Compacts the whole family (e.g. after a retention DeleteRange, to reclaim space).
  Status CompactRange(std::string_view cf);
  // Approximate bytes on disk (table files, compressed) of the keys in [begin, end) of a family;
  // what is still in memtables is not counted.
  Result<uint64_t> ApproximateDiskBytes(std::string_view cf, std::string_view begin, std::string_view end);
  // {"dir", "sync_writes", "durable_batches", "wal_bytes", "live_data_bytes", "sst_bytes",
  //  "column_families": {"NAME": {"estimated_keys", "live_data_bytes", "sst_bytes"}}}
  Json Stats();

  // Synced RocksDB writes done by the group-commit writer (for tests and Stats).
  uint64_t sync_writes() const;
  // Batches completed through WriteDurable.
  uint64_t durable_batches() const;

  struct Impl;

 private:
  explicit Db(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace collab::store
