#pragma once
// Config `cameras:` and `anpr:` (docs/configuration.md, "Cameras"; docs/devices.md, "Camera
// evidence"): the station's snapshot cameras and the ANPR cameras that push plates. Plain data.

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace weighlink::agent {

struct CameraConfig {
  std::string id;
  std::string type = "http";  // http (a JPEG snapshot URL) | rtsp (a still of the stream)
  std::string url;            // http://host[:port]/path, or rtsp://...
  std::string username;
  std::string password_file;  // the password on its first line; empty: none
  std::string auth = "auto";  // basic | digest | auto (answer the camera's 401 challenge)
  std::chrono::milliseconds deadline{1500};
  std::vector<std::string> scales;  // empty: every scale
  bool on_axles = false;            // a still for every axle of an axle session too
  std::size_t max_bytes = std::size_t{8} * 1024 * 1024;
};

// A camera allowed to push plates to the ANPR intake.
struct AnprCameraConfig {
  std::string id;
  std::string source_ip;   // the only address its pushes are taken from
  std::string token_file;  // its secret (Bearer token or Basic password); empty: none
  std::string scale;       // the scale it watches; empty: every scale
};

struct AnprConfig {
  std::string listen;  // HOST:PORT of the intake; empty: no intake
  std::vector<AnprCameraConfig> cameras;
  // An offered plate is withdrawn after this long without a weighing.
  std::chrono::milliseconds offer_for{120'000};
};

struct CamerasConfig {
  std::vector<CameraConfig> cameras;
  AnprConfig anpr;
};

}  // namespace weighlink::agent
