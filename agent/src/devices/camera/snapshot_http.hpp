#pragma once
// One JPEG from a camera's HTTP snapshot URL (Hikvision /ISAPI/Streaming/channels/101/picture,
// Dahua /cgi-bin/snapshot.cgi, ...) over plain HTTP/1.1 with Boost.Beast, authenticated with
// Basic or Digest (http_auth.hpp), every step bounded by one deadline.
// Threading: a blocking call on a private io_context, made on a camera's worker thread.

#include <chrono>
#include <string>

#include "weighlink/agent/camera/camera_shot.hpp"
#include "weighlink/agent/camera_config.hpp"

namespace weighlink::agent::camera {

// The still of `camera` (its url, user, auth mode, max_bytes) with `password`, given up at
// `deadline` (reason "deadline").
[[nodiscard]] Shot http_snapshot(const CameraConfig& camera, const std::string& password,
                                 std::chrono::steady_clock::time_point deadline);

}  // namespace weighlink::agent::camera
