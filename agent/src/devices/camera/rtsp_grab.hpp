#pragma once
// One still from an RTSP camera stream, through FFmpeg's libraries (libavformat, libavcodec,
// libswscale): connect, read until the first decodable picture, encode it as a JPEG.
// Threading: a blocking call, made on a camera's worker thread, never on the io thread.

#include <chrono>
#include <string>

#include "weighlink/base/error.hpp"

namespace weighlink::agent::camera {

// The JPEG bytes of one frame of `url` (rtsp://[user:password@]host[:port]/path), given up at
// `deadline` after the call with an error that says which step did not finish (connect, the
// stream's description, the first picture).
[[nodiscard]] base::Expected<std::string> grab_rtsp_jpeg(const std::string& url,
                                                         std::chrono::milliseconds deadline);

}  // namespace weighlink::agent::camera
