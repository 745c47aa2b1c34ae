// Attachments: uploads into a room, content-addressed blobs under files_dir (the SHA-256 of
// the bytes names the file, so the same file uploaded twice is stored once), thumbnails made on
// the server (lib/media), downloads authorised per room, and retention by upload age.
//
// Safety: only the image types a browser renders safely are served inline; everything else is
// sent as application/octet-stream with Content-Disposition: attachment, so an uploaded HTML or
// SVG file can never run script in the app's origin. Decoding happens on the thread pool with a
// pixel limit, so a decompression bomb costs a bounded amount of memory and never blocks the loop.
#include <algorithm>
#include <cstdio>

#include "lib/base/fs.hpp"
#include "lib/base/log.hpp"
#include "lib/base/time.hpp"
#include "lib/chat/chat.hpp"
#include "lib/http/server.hpp"
#include "lib/media/thumbnail.hpp"
#include "lib/store/db.hpp"
#include "lib/store/keys.hpp"

namespace collab::chat {

using base::Json;
using base::MakeError;
using base::Result;

namespace {

constexpr int kThumbMax = 320;
constexpr int64_t kMaxPixels = 60'000'000;

bool ValidFileId(std::string_view id) {
  return id.size() == 64 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// The image type the bytes really are ("" when none of the inline-safe ones): the declared type
// is only a claim.
std::string SniffImage(std::string_view b) {
  if (b.size() >= 8 && b.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) return "image/png";
  if (b.size() >= 3 && b.substr(0, 3) == "\xff\xd8\xff") return "image/jpeg";
  if (b.size() >= 6 && (b.substr(0, 6) == "GIF87a" || b.substr(0, 6) == "GIF89a")) return "image/gif";
  if (b.size() >= 12 && b.substr(0, 4) == "RIFF" && b.substr(8, 4) == "WEBP") return "image/webp";
  return "";
}

bool TypeAllowed(const std::vector<std::string>& patterns, const std::string& type) {
  for (const auto& p : patterns) {
    if (p == "*" || p == type) return true;
    if (p.size() >= 2 && p.compare(p.size() - 2, 2, "/*") == 0 && type.rfind(p.substr(0, p.size() - 1), 0) == 0)
      return true;
    if (p.size() >= 2 && p.back() == '*' && type.rfind(p.substr(0, p.size() - 1), 0) == 0) return true;
  }
  return false;
}

std::string ContentDisposition(const std::string& disposition, const std::string& name) {
  // RFC 6266 / 8187: an ASCII fallback plus the UTF-8 name percent-encoded.
  std::string ascii, enc;
  for (unsigned char c : name) {
    ascii.push_back(c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? static_cast<char>(c) : '_');
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
        c == '_') {
      enc.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      enc += buf;
    }
  }
  if (ascii.empty()) ascii = "file";
  return disposition + "; filename=\"" + ascii + "\"; filename*=UTF-8''" + enc;
}

}  // namespace

std::string Chat::FilePath(const std::string& id, bool thumb) const {
  return opts_.files_dir + "/" + id.substr(0, 2) + "/" + id + (thumb ? ".thumb" : "");
}

bool Chat::FileInRoom(const std::string& id, const std::string& room) const {
  return file_rooms_.count(id + '\0' + room) > 0;
}

std::optional<FileRef> Chat::FileMeta(const std::string& id) const {
  auto v = db_->Get(kCfFiles, id);
  if (!v || !v->has_value()) return std::nullopt;
  auto j = Json::Parse(**v);
  if (!j) return std::nullopt;
  return FileRef{id, j->GetString("name"), j->GetInt("size"), j->GetString("type"), j->GetBool("image"),
                 j->GetBool("thumb")};
}

base::Status Chat::LoadFiles() {
  auto it = db_->NewIterator(kCfFileRooms);
  if (!it) return it.error();
  for ((*it)->SeekToFirst(); (*it)->Valid(); (*it)->Next()) {
    std::string_view k = (*it)->key();
    auto len = store::ReadU32BE(k, 0);
    if (!len || k.size() < 4 + *len) continue;
    file_rooms_.insert(std::string(k.substr(4, *len)) + '\0' + std::string(k.substr(4 + *len)));
  }
  return (*it)->status();
}

void Chat::Upload(const User& u, Room& r, std::string name, std::string type, std::string data, Reply done) {
  auto fail = [&](int status, const char* code, std::string message) {
    done(status, Json::Obj({{"code", code}, {"message", std::move(message)}}));
  };
  if (!r.members.count(u.id)) return fail(403, "forbidden", "join the room first");
  if (r.archived) return fail(403, "forbidden", "the room is archived");
  if (r.OnlyModeratorsPost() && !IsModerator(r, u)) return fail(403, "forbidden", "only owners and moderators post in this room");
  if (data.empty()) return fail(400, "bad_request", "the file is empty");
  if (data.size() > opts_.max_file_bytes)
    return fail(413, "payload_too_large", "the file is larger than " + std::to_string(opts_.max_file_bytes) + " bytes");
  if (name.empty() || name.size() > 255 || !ValidRoomName(name) || name.find('/') != std::string::npos)
    return fail(400, "bad_request", "name must be a file name of 1 to 255 bytes");
  size_t semi = type.find(';');
  if (semi != std::string::npos) type = type.substr(0, semi);
  while (!type.empty() && type.back() == ' ') type.pop_back();
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (type.empty()) type = "application/octet-stream";
  if (!TypeAllowed(opts_.file_types, type)) return fail(415, "unsupported_media_type", "files of type " + type + " are not allowed here");
  std::string sniffed = SniffImage(data);
  bool image = !sniffed.empty();
  if (type.rfind("image/", 0) == 0 && !image) type = "application/octet-stream";  // a claim the bytes do not back
  if (image) type = sniffed;
  std::string id = Sha256Hex(data);
  struct Job {
    std::string path, thumb_path;
    Result<media::Thumbnail> thumb = MakeError(base::kExitDataErr, "no thumbnail");
    base::Status written;
  };
  auto job = std::make_shared<Job>();
  job->path = FilePath(id, false);
  job->thumb_path = FilePath(id, true);
  auto payload = std::make_shared<std::string>(std::move(data));
  std::string room_id = r.id;
  std::string uid = u.id;
  RunBlocking(
      [job, payload, image, type] {
        if (!base::PathExists(job->path)) {
          job->written = base::MakeDirs(base::DirName(job->path), 0750);
          if (job->written.ok()) job->written = base::WriteFileAtomic(job->path, *payload, 0640);
        }
        if (job->written.ok() && image) {
          job->thumb = media::MakeThumbnail(*payload, type, kThumbMax, kMaxPixels);
          if (job->thumb.ok() && !base::PathExists(job->thumb_path))
            (void)base::WriteFileAtomic(job->thumb_path, job->thumb->bytes, 0640);
        }
      },
      [this, job, id, name, type, image, room_id, uid, size = static_cast<int64_t>(payload->size()), done] {
        if (!job->written.ok()) {
          LOG_ERROR("storing upload %s: %s", id.c_str(), job->written.error().message.c_str());
          return done(503, Json::Obj({{"code", "unavailable"}, {"message", "the file could not be stored"}}));
        }
        bool thumb = image && job->thumb.ok();
        int64_t now = base::WallClockMs();
        Json meta = Json::Obj({{"name", name}, {"size", size}, {"type", type}, {"image", image}, {"thumb", thumb},
                               {"ts", now}, {"uploader", uid}});
        if (thumb) {
          meta.Set("width", job->thumb->width);
          meta.Set("height", job->thumb->height);
          meta.Set("thumb_type", job->thumb->type);
        }
        store::WriteBatch b;
        b.Put(kCfFiles, id, meta.Dump());
        std::string ts;
        store::AppendU64BE(ts, static_cast<uint64_t>(now));
        b.Put(kCfFileRooms, store::KeyBuilder().Str(id).Raw(room_id).Take(), ts);
        WriteDurable(std::move(b), [this, id, room_id, meta, done](base::Status st) mutable {
          if (!st.ok()) return done(503, Json::Obj({{"code", "unavailable"}, {"message", "the file could not be stored"}}));
          file_rooms_.insert(id + '\0' + room_id);
          meta.Set("id", id);
          meta.Set("thumb_type", nullptr);
          done(201, Json::Obj({{"file", meta}}));
        });
      });
}

void Chat::Download(const User& u, const Room& r, const std::string& id, bool thumb,
                    std::function<void(http::Response)> respond) {
  if (!ValidFileId(id) || !FileInRoom(id, r.id))
    return respond(http::Response::Error(404, "not_found", "no such file in this room"));
  auto meta = db_->Get(kCfFiles, id);
  if (!meta || !meta->has_value()) return respond(http::Response::Error(404, "not_found", "no such file in this room"));
  auto j = Json::Parse(**meta);
  if (!j) return respond(http::Response::Error(500, "internal", "corrupt file record"));
  if (thumb && !j->GetBool("thumb")) return respond(http::Response::Error(404, "not_found", "this file has no thumbnail"));
  std::string type = thumb ? j->GetString("thumb_type", "image/jpeg") : j->GetString("type");
  std::string name = j->GetString("name");
  bool inline_ok = thumb || (j->GetBool("image") && (type == "image/png" || type == "image/jpeg" ||
                                                     type == "image/gif" || type == "image/webp"));
  auto data = std::make_shared<Result<std::string>>(std::string());
  std::string path = FilePath(id, thumb);
  size_t limit = opts_.max_file_bytes + 1;
  RunBlocking([data, path, limit] { *data = base::ReadFile(path, limit); },
              [data, respond, type, name, inline_ok] {
                if (!data->ok()) return respond(http::Response::Error(404, "not_found", "the file is no longer stored"));
                http::Response resp;
                resp.status = 200;
                resp.content_type = inline_ok ? type : "application/octet-stream";
                resp.body = std::move(data->value());
                resp.headers.emplace_back("cache-control", "private, no-store");
                resp.headers.emplace_back("content-disposition",
                                          ContentDisposition(inline_ok ? "inline" : "attachment", name));
                resp.headers.emplace_back("x-content-type-options", "nosniff");
                resp.headers.emplace_back("content-security-policy", "default-src 'none'; sandbox");
                respond(std::move(resp));
              });
}

Result<std::vector<FileRef>> Chat::ResolveFiles(const Room& r, const std::vector<std::string>& ids) {
  std::vector<FileRef> out;
  if (ids.size() > 20) return MakeError(base::kExitDataErr, "at most 20 files per message");
  for (const auto& id : ids) {
    if (!ValidFileId(id) || !FileInRoom(id, r.id)) return MakeError(base::kExitDataErr, "no uploaded file " + id + " in this room");
    auto f = FileMeta(id);
    if (!f) return MakeError(base::kExitDataErr, "no uploaded file " + id + " in this room");
    out.push_back(*f);
  }
  return out;
}

Json Chat::ApplyFileRetention(bool dry_run, int64_t now) {
  // (file, room) attachments older than the room's file age go; a blob goes with its last room.
  int64_t removed = 0;
  std::vector<std::pair<std::string, std::string>> doomed;  // key, id
  auto it = db_->NewIterator(kCfFileRooms);
  if (!it) return Json::Obj({{"files", 0}});
  for ((*it)->SeekToFirst(); (*it)->Valid(); (*it)->Next()) {
    std::string_view k = (*it)->key();
    auto len = store::ReadU32BE(k, 0);
    if (!len || k.size() < 4 + *len) continue;
    std::string id(k.substr(4, *len));
    std::string room(k.substr(4 + *len));
    const Room* r = FindRoom(room);
    int64_t days = r && r->retention_file_days >= 0 ? r->retention_file_days : opts_.retention_file_days;
    if (days <= 0) continue;
    auto ts = store::ReadU64BE((*it)->value(), 0);
    if (!ts || static_cast<int64_t>(*ts) >= now - days * 86400 * 1000) continue;
    doomed.emplace_back(std::string(k), id);
  }
  if (dry_run) return Json::Obj({{"files", static_cast<int64_t>(doomed.size())}});
  store::WriteBatch b;
  std::set<std::string> ids;
  for (const auto& [key, id] : doomed) {
    b.Delete(kCfFileRooms, key);
    std::string room = key.substr(4 + id.size());
    file_rooms_.erase(id + '\0' + room);
    ids.insert(id);
    ++removed;
  }
  std::vector<std::string> blobs;
  for (const auto& id : ids) {
    bool still_used = false;
    auto lo = file_rooms_.lower_bound(id + '\0');
    if (lo != file_rooms_.end() && lo->rfind(id + '\0', 0) == 0) still_used = true;
    if (!still_used) {
      b.Delete(kCfFiles, id);
      blobs.push_back(id);
    }
  }
  if (!b.empty() && !db_->Write(std::move(b), true).ok()) return Json::Obj({{"files", 0}, {"error", "write failed"}});
  for (const auto& id : blobs) {
    std::remove(FilePath(id, false).c_str());
    std::remove(FilePath(id, true).c_str());
  }
  return Json::Obj({{"files", removed}, {"blobs_deleted", static_cast<int64_t>(blobs.size())}});
}

}  // namespace collab::chat
