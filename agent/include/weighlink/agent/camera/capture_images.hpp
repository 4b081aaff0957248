#pragma once
// The `weighlink.capture_images` record (docs/devices.md, "Camera evidence"): the stills the
// cameras of a scale took for one recorded weighing (trigger "capture") or one axle (trigger
// "axle"), each image's SHA-256 bound into the evidence chain, and its `attachments` (the blobs
// the replay worker sends before the record). Pure functions.

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace weighlink::agent::camera {

inline constexpr std::string_view kCaptureImagesKind = "weighlink.capture_images";
inline constexpr std::string_view kJpeg = "image/jpeg";

// One camera's part: an image stored in the BlobStore, or why there is none.
struct ImageEntry {
  std::string camera;
  bool ok = false;
  std::string sha256;  // ok
  std::uint64_t bytes = 0;
  std::string taken_at;  // ok: RFC 3339 UTC with milliseconds
  std::string reason;    // missing: deadline | connection refused | offline | http 401 | ...
};

struct CaptureImages {
  std::string station_id;
  std::string scale;
  std::string trigger = "capture";  // capture | axle
  // trigger "capture": the weighing's record.
  std::uint64_t weighing_seq = 0;
  std::string weighing_key;
  std::string record_hash;
  // trigger "capture" of an axle weighing: the axles' own images records (number, key), so the
  // weighing's images include its axles' stills.
  std::vector<std::pair<int, std::string>> axle_images;
  // trigger "axle": the axle.
  int axle_number = 0;
  std::string axle_key;
  std::vector<ImageEntry> images;
};

// "<key of the weighing or axle>:images": one images record per weighing, whatever retries.
[[nodiscard]] std::string images_key(const std::string& trigger_key);

// {"station_id","scale","trigger","weighing":{...}|"axle":{...},"images":[...],
//  "axle_images":[{"number","images_key"}] (an axle weighing whose axles had stills),
//  "attachments":[{"sha256","bytes","content_type"}]}: every ok image once in attachments.
[[nodiscard]] boost::json::object capture_images_payload(const CaptureImages& record);

}  // namespace weighlink::agent::camera
