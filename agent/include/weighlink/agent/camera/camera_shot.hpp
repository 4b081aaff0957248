#pragma once
// One still from a camera, as the camera component records it: the JPEG, or why there is none
// (the `reason` of a missing image in weighlink.capture_images). Pure functions.

#include <cstddef>
#include <string>
#include <string_view>

namespace weighlink::agent::camera {

struct Shot {
  std::string jpeg;    // the image's bytes when ok()
  std::string reason;  // empty when ok(): deadline | connection refused | offline | http NNN |
                       // not a jpeg | too large | auth | not supported | storage
  std::string detail;  // for the operator and the log
  [[nodiscard]] bool ok() const { return reason.empty(); }
};

[[nodiscard]] inline Shot missing_shot(std::string reason, std::string detail) {
  return Shot{{}, std::move(reason), std::move(detail)};
}

// The bytes are one whole JPEG: the SOI marker (FF D8 FF) first and the EOI marker (FF D9) last
// (trailing padding after it, as some cameras send, is allowed up to a few bytes), at most
// `max_bytes`. The Shot with the bytes, or missing with "not a jpeg" / "too large".
[[nodiscard]] Shot checked_jpeg(std::string bytes, std::size_t max_bytes);

}  // namespace weighlink::agent::camera
