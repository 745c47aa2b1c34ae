// Retention: deletes messages older than the global or per-room maximum age, sparing pinned
// ones when configured, with everything that points at them (thread links, mention and
// client-id index entries, update events). Runs on the loop between requests, one room per
// RocksDB batch, so it is safe while the daemon serves; `collab-admin retention apply` reaches it
// through the control socket. Attachments follow the same rules once the files feature stores
// them (retention_file_days); until then there is nothing to delete.
#include <algorithm>

#include "lib/base/log.hpp"
#include "lib/base/time.hpp"
#include "lib/chat/chat.hpp"
#include "lib/store/db.hpp"
#include "lib/store/keys.hpp"

namespace collab::chat {

using base::Json;

Json Chat::ApplyRetention(bool dry_run, const std::string& actor, int64_t as_of_ms) {
  int64_t now = as_of_ms > 0 ? as_of_ms : base::WallClockMs();
  int64_t started = base::MonotonicMs();
  Json rooms = Json::MakeArray();
  int64_t total = 0, kept_pinned = 0, failed_rooms = 0;
  for (auto& [id, r] : rooms_) {
    int64_t days = r.retention_message_days >= 0 ? r.retention_message_days : opts_.retention_message_days;
    if (days <= 0) continue;
    int64_t cutoff = now - days * 86400 * 1000;
    std::string prefix = MessagePrefix(id);
    store::IterOptions io{prefix, store::PrefixUpperBound(prefix)};
    auto it = db_->NewIterator(kCfMessages, io);
    if (!it) continue;
    store::WriteBatch b;
    std::vector<uint64_t> deleted;
    std::map<uint64_t, uint32_t> replies_removed;
    int64_t pinned_here = 0;
    uint64_t last_deleted = 0;
    for ((*it)->SeekToFirst(); (*it)->Valid(); (*it)->Next()) {
      auto m = Message::FromStored((*it)->value());
      if (!m) continue;
      if (m->ts >= cutoff) break;  // sequences grow with time: the rest is younger
      if (m->pinned && opts_.retention_keep_pinned) {
        ++pinned_here;
        continue;
      }
      deleted.push_back(m->seq);
      last_deleted = m->seq;
      if (dry_run) continue;
      b.Delete(kCfMessages, (*it)->key());
      b.Delete(kCfPins, (*it)->key());
      if (m->thread) {
        b.Delete(kCfThreads, ThreadKey(id, m->thread, m->seq));
        ++replies_removed[m->thread];
      }
      for (const auto& u : m->mentions) b.Delete(kCfMentions, MentionKey(u, id, m->seq));
      if (!m->client_id.empty()) b.Delete(kCfClientIds, ClientIdKey(m->user, id, m->client_id));
    }
    if (deleted.empty()) continue;
    if (!dry_run) {
      // Update events up to the newest deleted message are history nobody can resume into.
      b.DeleteRange(kCfEvents, EventKey(id, 0), EventKey(id, last_deleted + 1));
      uint64_t ticket = search_ ? search_->RemoveMessages(id, deleted, b) : 0;
      auto st = db_->Write(std::move(b), true);
      if (search_) search_->Committed(ticket, st.ok());
      if (!st.ok()) {
        LOG_ERROR("retention of room %s failed: %s", id.c_str(), st.error().message.c_str());
        ++failed_rooms;
        continue;
      }
      std::sort(deleted.begin(), deleted.end());
      auto& seqs = r.message_seqs;
      seqs.erase(std::remove_if(seqs.begin(), seqs.end(),
                                [&](uint64_t s) { return std::binary_search(deleted.begin(), deleted.end(), s); }),
                 seqs.end());
      for (auto [root, n] : replies_removed) {
        auto rc = r.reply_counts.find(root);
        if (rc != r.reply_counts.end()) {
          rc->second = rc->second > n ? rc->second - n : 0;
          if (rc->second == 0) r.reply_counts.erase(rc);
        }
      }
      for (uint64_t s : deleted) r.reply_counts.erase(s);
      for (auto& [user, per_room] : mentions_) {
        auto pr = per_room.find(id);
        if (pr == per_room.end()) continue;
        auto& v = pr->second;
        v.erase(std::remove_if(v.begin(), v.end(),
                               [&](uint64_t s) { return std::binary_search(deleted.begin(), deleted.end(), s); }),
                v.end());
      }
      counters_.retention_deleted += deleted.size();
    }
    total += static_cast<int64_t>(deleted.size());
    kept_pinned += pinned_here;
    rooms.Push(Json::Obj({{"room", id},
                          {"name", r.name},
                          {"max_age_days", days},
                          {"messages", static_cast<int64_t>(deleted.size())},
                          {"kept_pinned", pinned_here}}));
  }
  if (!dry_run && total > 0) {
    (void)db_->CompactRange(kCfMessages);
  }
  Json files = ApplyFileRetention(dry_run, now);
  Json summary = Json::Obj({{"dry_run", dry_run},
                            {"as_of", base::FormatRfc3339(now)},
                            {"messages", total},
                            {"files", files.GetInt("files")},
                            {"kept_pinned", kept_pinned},
                            {"failed_rooms", failed_rooms},
                            {"elapsed_ms", base::MonotonicMs() - started},
                            {"rooms", rooms}});
  Audit(actor, dry_run ? "retention.dry_run" : "retention.apply",
        Json::Obj({{"messages", total}, {"files", files.GetInt("files")}, {"kept_pinned", kept_pinned}, {"rooms", static_cast<int64_t>(rooms.size())}}));
  return summary;
}

}  // namespace collab::chat
