// The capture_images payload and the JPEG check (capture_images.hpp, camera_shot.hpp).
#include "weighlink/agent/camera/capture_images.hpp"

#include <boost/json.hpp>
#include <set>

#include "weighlink/agent/camera/camera_shot.hpp"

namespace weighlink::agent::camera {
namespace json = boost::json;

namespace {
// Bytes allowed after the EOI marker (some cameras pad the buffer with zeros or a CR LF).
constexpr std::size_t kMaxTrailer = 16;
}  // namespace

Shot checked_jpeg(std::string bytes, std::size_t max_bytes) {
  if (bytes.size() > max_bytes) {
    return missing_shot("too large", "the image has " + std::to_string(bytes.size()) +
                                         " bytes, more than max_bytes (" +
                                         std::to_string(max_bytes) + ")");
  }
  const auto u = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
  const bool soi = bytes.size() >= 4 && u(0) == 0xFF && u(1) == 0xD8 && u(2) == 0xFF;
  bool eoi = false;
  for (std::size_t back = 0; soi && back <= kMaxTrailer && back + 2 <= bytes.size(); ++back) {
    const auto i = bytes.size() - back - 2;
    if (u(i) == 0xFF && u(i + 1) == 0xD9) {
      eoi = true;
      break;
    }
  }
  if (!soi || !eoi) {
    return missing_shot("not a jpeg",
                        std::string("the answer is not a whole JPEG (") +
                            (soi ? "no end marker FF D9: cut short" : "no start marker FF D8") +
                            ", " + std::to_string(bytes.size()) + " bytes)");
  }
  return Shot{std::move(bytes), {}, {}};
}

std::string images_key(const std::string& trigger_key) { return trigger_key + ":images"; }

json::object capture_images_payload(const CaptureImages& r) {
  json::object out{{"station_id", r.station_id}, {"scale", r.scale}, {"trigger", r.trigger}};
  if (r.trigger == "axle") {
    out["axle"] = json::object{{"number", r.axle_number}, {"idempotency_key", r.axle_key}};
  } else {
    out["weighing"] = json::object{{"seq", r.weighing_seq},
                                   {"idempotency_key", r.weighing_key},
                                   {"record_hash", r.record_hash}};
    if (!r.axle_images.empty()) {
      json::array axles;
      for (const auto& [number, key] : r.axle_images) {
        axles.push_back(json::object{{"number", number}, {"images_key", key}});
      }
      out["axle_images"] = std::move(axles);
    }
  }
  json::array images;
  json::array attachments;
  std::set<std::string> attached;
  for (const auto& i : r.images) {
    if (i.ok) {
      images.push_back(json::object{{"camera", i.camera},
                                    {"status", "ok"},
                                    {"sha256", i.sha256},
                                    {"bytes", i.bytes},
                                    {"content_type", kJpeg},
                                    {"taken_at", i.taken_at}});
      if (attached.insert(i.sha256).second) {
        attachments.push_back(
            json::object{{"sha256", i.sha256}, {"bytes", i.bytes}, {"content_type", kJpeg}});
      }
    } else {
      images.push_back(
          json::object{{"camera", i.camera}, {"status", "missing"}, {"reason", i.reason}});
    }
  }
  out["images"] = std::move(images);
  out["attachments"] = std::move(attachments);
  return out;
}

}  // namespace weighlink::agent::camera
