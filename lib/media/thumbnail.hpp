// Image thumbnails for chat attachments: decode the first frame of a PNG, JPEG, GIF or WebP
// and encode a small JPEG (PNG when the picture has transparency).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lib/base/result.hpp"

namespace collab::media {

struct Thumbnail {
  std::string bytes;
  std::string type;            // image/jpeg or image/png
  int width = 0, height = 0;   // of the original image
};

// Fits the thumbnail into max_side x max_side (never enlarges). Images of more than max_pixels
// are refused before they are decoded, so a decompression bomb costs bounded memory. Blocking:
// call it from a worker thread. Errors are kExitDataErr with a short reason.
base::Result<Thumbnail> MakeThumbnail(std::string_view data, std::string_view type, int max_side, int64_t max_pixels);

}  // namespace collab::media
