// grab_rtsp_jpeg (rtsp_grab.hpp). Not built yet: the RTSP part of issue 20 replaces this body.

#include "devices/camera/rtsp_grab.hpp"

namespace weighlink::agent::camera {

base::Expected<std::string> grab_rtsp_jpeg(const std::string& url,
                                           std::chrono::milliseconds /*deadline*/) {
  return base::Error{std::make_error_code(std::errc::function_not_supported),
                     "RTSP is not supported by this build (" + url + ")"};
}

}  // namespace weighlink::agent::camera
