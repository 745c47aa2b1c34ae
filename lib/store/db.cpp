// RocksDB wrapper implementation. See db.hpp for the contract.
#include "lib/store/db.hpp"

#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "lib/base/fs.hpp"
#include "lib/base/log.hpp"

namespace collab::store {

using base::Error;
using base::MakeError;

namespace {

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

bool IsLockError(const rocksdb::Status& s) {
  if (!s.IsIOError()) return false;
  std::string text = s.ToString();
  // Another process: "While lock file: DIR/LOCK: Resource temporarily unavailable".
  // This process: "lock hold by current process ... DIR/LOCK: No locks available".
  return text.find("/LOCK") != std::string::npos &&
         (text.find("While lock file") != std::string::npos || text.find("lock hold") != std::string::npos);
}

Error FromRocks(const rocksdb::Status& s, const std::string& context) {
  int code = base::kExitIoErr;
  if (s.IsInvalidArgument() || s.IsNotSupported()) code = base::kExitSoftware;
  if (s.IsCorruption()) code = base::kExitDataErr;
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) code = base::kExitTempFail;
  return MakeError(code, context + ": " + s.ToString());
}

}  // namespace

struct Db::Impl {
  std::string dir;
  uv_loop_t* loop = nullptr;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  std::map<std::string, rocksdb::ColumnFamilyHandle*, std::less<>> by_name;

  struct Pending {
    WriteBatch batch;
    std::function<void(Status)> done;
  };
  struct Completion {
    std::function<void(Status)> done;
    Status status;
  };

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Pending> queue;                // guarded by mu
  bool stopping = false;                    // guarded by mu
  std::vector<Completion> completed;        // guarded by mu; delivered on the loop
  std::thread writer;
  uv_async_t* async = nullptr;              // owned by the loop once uv_close is called
  std::atomic<uint64_t> sync_writes{0};
  std::atomic<uint64_t> durable_batches{0};
  bool closed = false;

  Result<rocksdb::ColumnFamilyHandle*> Cf(std::string_view name) const {
    auto it = by_name.find(name);
    if (it == by_name.end())
      return MakeError(base::kExitSoftware, "database " + dir + ": unknown column family \"" + std::string(name) + "\"");
    return it->second;
  }

  // Appends batch to out; fails (appending nothing usable) on an unknown family.
  Status Append(const WriteBatch& batch, rocksdb::WriteBatch& out) const {
    for (const auto& op : batch.ops()) {
      if (!by_name.count(op.cf)) return Cf(op.cf).error();
    }
    for (const auto& op : batch.ops()) {
      rocksdb::ColumnFamilyHandle* h = by_name.find(op.cf)->second;
      rocksdb::Status s;
      switch (op.type) {
        case WriteBatch::OpType::kPut: s = out.Put(h, op.key, op.value); break;
        case WriteBatch::OpType::kDelete: s = out.Delete(h, op.key); break;
        case WriteBatch::OpType::kDeleteRange: s = out.DeleteRange(h, op.key, op.value); break;
      }
      if (!s.ok()) return FromRocks(s, "database " + dir + ": building batch");
    }
    return base::Ok();
  }

  void Deliver(std::vector<Completion>&& done_list) {
    if (done_list.empty()) return;
    if (!loop) {
      for (auto& c : done_list) c.done(std::move(c.status));
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      for (auto& c : done_list) completed.push_back(std::move(c));
    }
    uv_async_send(async);
  }

  void RunCompletions() {
    std::vector<Completion> list;
    {
      std::lock_guard<std::mutex> lock(mu);
      list.swap(completed);
    }
    for (auto& c : list) c.done(std::move(c.status));
  }

  void WriterLoop() {
    for (;;) {
      std::deque<Pending> group;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return !queue.empty() || stopping; });
        if (queue.empty()) return;  // stopping and drained
        group.swap(queue);
      }
      // One synced write for everything queued while the previous fsync ran: this is the
      // group commit. A batch naming an unknown family fails alone.
      rocksdb::WriteBatch merged;
      std::vector<Completion> results;
      std::vector<size_t> in_merged;
      results.reserve(group.size());
      for (auto& p : group) {
        merged.SetSavePoint();
        Status st = Append(p.batch, merged);
        if (st.ok()) {
          merged.PopSavePoint();
          in_merged.push_back(results.size());
        } else {
          merged.RollbackToSavePoint();
        }
        results.push_back(Completion{std::move(p.done), std::move(st)});
      }
      if (!in_merged.empty()) {
        rocksdb::WriteOptions wo;
        wo.sync = true;
        rocksdb::Status s = db->Write(wo, &merged);
        sync_writes.fetch_add(1, std::memory_order_relaxed);
        if (!s.ok()) {
          Error err = FromRocks(s, "database " + dir + ": durable write");
          LOG_ERROR("%s", err.message.c_str());
          for (size_t i : in_merged) results[i].status = err;
        }
      }
      durable_batches.fetch_add(results.size(), std::memory_order_relaxed);
      Deliver(std::move(results));
    }
  }
};

// ---- Iterator ----

struct Iterator::Impl {
  // The bounds' storage must outlive the RocksDB iterator that points into it.
  std::string lower, upper;
  rocksdb::Slice lower_slice, upper_slice;
  std::unique_ptr<rocksdb::Iterator> it;
};

Iterator::Iterator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Iterator::~Iterator() {
  if (impl_) impl_->it.reset();
}
void Iterator::SeekToFirst() { impl_->it->SeekToFirst(); }
void Iterator::SeekToLast() { impl_->it->SeekToLast(); }
void Iterator::Seek(std::string_view key) { impl_->it->Seek(ToSlice(key)); }
void Iterator::SeekForPrev(std::string_view key) { impl_->it->SeekForPrev(ToSlice(key)); }
bool Iterator::Valid() const { return impl_->it->Valid(); }
void Iterator::Next() { impl_->it->Next(); }
void Iterator::Prev() { impl_->it->Prev(); }
std::string_view Iterator::key() const {
  rocksdb::Slice s = impl_->it->key();
  return std::string_view(s.data(), s.size());
}
std::string_view Iterator::value() const {
  rocksdb::Slice s = impl_->it->value();
  return std::string_view(s.data(), s.size());
}
Status Iterator::status() const {
  rocksdb::Status s = impl_->it->status();
  if (s.ok()) return base::Ok();
  return FromRocks(s, "iterator");
}

// ---- Db ----

Db::Db(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Db::~Db() {
  Status st = Close();
  if (!st.ok()) LOG_ERROR("%s", st.error().message.c_str());
}

namespace {

// The first key component when it is length-prefixed (4 bytes big-endian length, then that
// many bytes): the memtable insert hint key of Options::length_prefixed_families.
class LengthPrefix : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "collab.LengthPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override { return rocksdb::Slice(key.data(), 4 + Len(key)); }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() >= 4 && key.size() - 4 >= Len(key); }

 private:
  static size_t Len(const rocksdb::Slice& key) {
    const auto* p = reinterpret_cast<const unsigned char*>(key.data());
    return (size_t{p[0]} << 24) | (size_t{p[1]} << 16) | (size_t{p[2]} << 8) | size_t{p[3]};
  }
};

}  // namespace

Result<std::unique_ptr<Db>> Db::Open(const std::string& dir, const Options& options) {
  const std::string what = "database " + dir;
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return MakeError(base::kExitIoErr, what + ": not a directory");
  } else if (errno != ENOENT) {
    return MakeError(base::kExitIoErr, what + ": " + base::ErrnoText(errno));
  } else if (!options.create_if_missing) {
    return MakeError(base::kExitNoInput, what + ": does not exist");
  }

  rocksdb::DBOptions dbo;
  dbo.create_if_missing = options.create_if_missing;
  dbo.create_missing_column_families = true;
  // Keep RocksDB's own info LOG small; our logs say what matters.
  dbo.keep_log_file_num = 3;
  rocksdb::ColumnFamilyOptions cfo;
  cfo.write_buffer_size = (options.write_buffer_mb ? options.write_buffer_mb : 16) * 1024 * 1024;
  // Point lookups that usually miss (a client_id seen before? a session?) answer from bloom
  // filters instead of searching every memtable and table file.
  rocksdb::BlockBasedTableOptions bbo;
  bbo.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  cfo.table_factory.reset(rocksdb::NewBlockBasedTableFactory(bbo));
  cfo.memtable_whole_key_filtering = true;
  cfo.memtable_prefix_bloom_size_ratio = 0.02;

  // RocksDB refuses to open unless every family on disk is named, so start from the list
  // on disk (absent for a new database) and add the requested ones.
  std::vector<std::string> names;
  std::vector<std::string> existing;
  rocksdb::Status ls = rocksdb::DB::ListColumnFamilies(dbo, dir, &existing);
  if (ls.ok()) names = existing;
  if (std::find(names.begin(), names.end(), rocksdb::kDefaultColumnFamilyName) == names.end())
    names.insert(names.begin(), rocksdb::kDefaultColumnFamilyName);
  for (const auto& n : options.column_families) {
    if (n.empty()) return MakeError(base::kExitSoftware, what + ": empty column family name");
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  rocksdb::ColumnFamilyOptions hinted = cfo;
  hinted.memtable_insert_with_hint_prefix_extractor = std::make_shared<LengthPrefix>();
  bool have_zstd = false;
  for (auto c : rocksdb::GetSupportedCompressions()) have_zstd = have_zstd || c == rocksdb::kZSTD;
  auto listed = [](const std::vector<std::string>& v, const std::string& n) {
    return std::find(v.begin(), v.end(), n) != v.end();
  };
  for (const auto& n : names) {
    rocksdb::ColumnFamilyOptions o = listed(options.length_prefixed_families, n) ? hinted : cfo;
    if (have_zstd && listed(options.compressed_families, n)) {
      o.compression = rocksdb::kZSTD;
      o.bottommost_compression = rocksdb::kZSTD;
      rocksdb::BlockBasedTableOptions zbo = bbo;
      zbo.block_size = 16 * 1024;
      o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(zbo));
    }
    descs.emplace_back(n, o);
  }

  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->loop = options.loop;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(dbo, dir, descs, &impl->handles, &raw);
  if (!s.ok()) {
    if (IsLockError(s)) return MakeError(base::kExitTempFail, what + " is in use by another process");
    return FromRocks(s, what + ": cannot open");
  }
  impl->db.reset(raw);
  for (auto* h : impl->handles) impl->by_name[h->GetName()] = h;

  if (impl->loop) {
    impl->async = new uv_async_t;
    impl->async->data = impl.get();
    int rc = uv_async_init(impl->loop, impl->async, [](uv_async_t* a) {
      static_cast<Impl*>(a->data)->RunCompletions();
    });
    if (rc != 0) {
      delete impl->async;
      impl->async = nullptr;
      for (auto* h : impl->handles) impl->db->DestroyColumnFamilyHandle(h);
      impl->handles.clear();
      impl->db->Close();
      return MakeError(base::kExitOsErr, what + ": uv_async_init: " + uv_strerror(rc));
    }
  }
  Impl* ip = impl.get();
  impl->writer = std::thread([ip] { ip->WriterLoop(); });
  return std::unique_ptr<Db>(new Db(std::move(impl)));
}

Status Db::Close() {
  Impl& d = *impl_;
  if (d.closed) return base::Ok();
  d.closed = true;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    d.stopping = true;
  }
  d.cv.notify_all();
  if (d.writer.joinable()) d.writer.join();
  if (d.async) {
    // Everything the writer finished but the loop has not yet run: deliver it now, so no
    // `done` is lost or runs after the Db is gone.
    d.RunCompletions();
    d.async->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(d.async),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
    d.async = nullptr;
  }
  Status result = base::Ok();
  for (auto* h : d.handles) {
    rocksdb::Status s = d.db->DestroyColumnFamilyHandle(h);
    if (!s.ok() && result.ok()) result = FromRocks(s, "database " + d.dir + ": closing column family");
  }
  d.handles.clear();
  d.by_name.clear();
  rocksdb::Status s = d.db->Close();
  if (!s.ok() && result.ok()) result = FromRocks(s, "database " + d.dir + ": close");
  d.db.reset();
  return result;
}

const std::string& Db::dir() const { return impl_->dir; }

std::vector<std::string> Db::ColumnFamilies() const {
  std::vector<std::string> out;
  for (const auto& [name, h] : impl_->by_name) out.push_back(name);
  return out;
}

namespace {
Error ClosedError(const std::string& dir) {
  return MakeError(base::kExitSoftware, "database " + dir + ": used after Close");
}
}  // namespace

Result<std::optional<std::string>> Db::Get(std::string_view cf, std::string_view key) {
  Impl& d = *impl_;
  if (d.closed) return ClosedError(d.dir);
  COLLAB_ASSIGN_OR_RETURN(rocksdb::ColumnFamilyHandle* h, d.Cf(cf));
  std::string value;
  rocksdb::Status s = d.db->Get(rocksdb::ReadOptions(), h, ToSlice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "database " + d.dir + ": get");
  return std::optional<std::string>(std::move(value));
}

Status Db::Write(WriteBatch&& batch, bool sync) {
  Impl& d = *impl_;
  if (d.closed) return ClosedError(d.dir);
  rocksdb::WriteBatch wb;
  COLLAB_TRY(d.Append(batch, wb));
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  rocksdb::Status s = d.db->Write(wo, &wb);
  if (!s.ok()) return FromRocks(s, "database " + d.dir + ": write");
  return base::Ok();
}

void Db::WriteDurable(WriteBatch&& batch, std::function<void(Status)> done) {
  Impl& d = *impl_;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    if (!d.stopping) {
      d.queue.push_back(Impl::Pending{std::move(batch), std::move(done)});
      d.cv.notify_one();
      return;
    }
  }
  done(ClosedError(d.dir));
}

Result<std::unique_ptr<Iterator>> Db::NewIterator(std::string_view cf, const IterOptions& options) {
  Impl& d = *impl_;
  if (d.closed) return ClosedError(d.dir);
  COLLAB_ASSIGN_OR_RETURN(rocksdb::ColumnFamilyHandle* h, d.Cf(cf));
  auto impl = std::make_unique<Iterator::Impl>();
  impl->lower = options.lower_bound;
  impl->upper = options.upper_bound;
  rocksdb::ReadOptions ro;
  if (!impl->lower.empty()) {
    impl->lower_slice = rocksdb::Slice(impl->lower);
    ro.iterate_lower_bound = &impl->lower_slice;
  }
  if (!impl->upper.empty()) {
    impl->upper_slice = rocksdb::Slice(impl->upper);
    ro.iterate_upper_bound = &impl->upper_slice;
  }
  impl->it.reset(d.db->NewIterator(ro, h));
  return std::make_unique<Iterator>(std::move(impl));
}

Status Db::Checkpoint(const std::string& dest_dir) {
  Impl& d = *impl_;
  if (d.closed) return ClosedError(d.dir);
  const std::string what = "database " + d.dir + ": checkpoint to " + dest_dir;
  struct stat st;
  if (stat(dest_dir.c_str(), &st) == 0) return MakeError(base::kExitCantCreat, what + ": destination already exists");
  rocksdb::Checkpoint* cp = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(d.db.get(), &cp);
  if (!s.ok()) return FromRocks(s, what);
  std::unique_ptr<rocksdb::Checkpoint> owner(cp);
  s = cp->CreateCheckpoint(dest_dir);
  if (!s.ok()) return FromRocks(s, what);
  return base::Ok();
}

Status Db::CompactRange(std::string_view cf) {
  Impl& d = *impl_;
  if (d.closed) return ClosedError(d.dir);
  COLLAB_ASSIGN_OR_RETURN(rocksdb::ColumnFamilyHandle* h, d.Cf(cf));
  rocksdb::Status s = d.db->CompactRange(rocksdb::CompactRangeOptions(), h, nullptr, nullptr);
  if (!s.ok()) return FromRocks(s, "database " + d.dir + ": compact " + std::string(cf));
  return base::Ok();
}

Result<uint64_t> Db::ApproximateDiskBytes(std::string_view cf, std::string_view begin, std::string_view end) {
  Impl& d = *impl_;
  if (d.closed) return ClosedError(d.dir);
  COLLAB_ASSIGN_OR_RETURN(rocksdb::ColumnFamilyHandle* h, d.Cf(cf));
  rocksdb::Range range(ToSlice(begin), ToSlice(end));
  rocksdb::SizeApproximationOptions o;
  o.include_files = true;
  o.include_memtables = false;
  uint64_t size = 0;
  rocksdb::Status s = d.db->GetApproximateSizes(o, h, &range, 1, &size);
  if (!s.ok()) return FromRocks(s, "database " + d.dir + ": approximate size");
  return size;
}

Json Db::Stats() {
  Impl& d = *impl_;
  Json out = Json::MakeObject();
  out.Set("dir", d.dir);
  out.Set("sync_writes", static_cast<uint64_t>(d.sync_writes.load()));
  out.Set("durable_batches", static_cast<uint64_t>(d.durable_batches.load()));
  if (d.closed) return out;
  uint64_t wal = 0;
  rocksdb::VectorLogPtr files;
  if (d.db->GetSortedWalFiles(files).ok()) {
    for (const auto& f : files) wal += f->SizeFileBytes();
  }
  out.Set("wal_bytes", wal);
  uint64_t live_total = 0, sst_total = 0;
  Json cfs = Json::MakeObject();
  for (const auto& [name, h] : d.by_name) {
    uint64_t keys = 0, live = 0, sst = 0;
    d.db->GetIntProperty(h, "rocksdb.estimate-num-keys", &keys);
    d.db->GetIntProperty(h, "rocksdb.estimate-live-data-size", &live);
    d.db->GetIntProperty(h, "rocksdb.total-sst-files-size", &sst);
    live_total += live;
    sst_total += sst;
    cfs.Set(name, Json::Obj({{"estimated_keys", keys}, {"live_data_bytes", live}, {"sst_bytes", sst}}));
  }
  out.Set("live_data_bytes", live_total);
  out.Set("sst_bytes", sst_total);
  out.Set("column_families", std::move(cfs));
  return out;
}

uint64_t Db::sync_writes() const { return impl_->sync_writes.load(); }
uint64_t Db::durable_batches() const { return impl_->durable_batches.load(); }

}  // namespace collab::store
