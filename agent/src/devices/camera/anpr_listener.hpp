#pragma once
// The ANPR intake (docs/devices.md, "ANPR plates"): an HTTP listener on anpr.listen where the
// configured ANPR cameras push the plates they read. A push is taken only from a configured
// camera's source_ip and, when it has a token_file, with that token (Bearer, or as the Basic
// password); the body is a plate event (anpr_intake.hpp). Every answer is JSON; a refusal says why.
// Threading: its own io_context thread; `on_plate` runs there and must not block long.

#include <functional>
#include <memory>
#include <string>

#include "weighlink/agent/camera/anpr_intake.hpp"
#include "weighlink/agent/camera_config.hpp"
#include "weighlink/base/error.hpp"

namespace weighlink::agent::camera {

struct PlatePush {
  std::string camera;  // the configured id of the camera it came from
  std::string scale;   // that camera's scale (empty: every scale)
  PlateEvent event;
};

class AnprListener {
 public:
  AnprListener(const AnprConfig& config, std::function<void(PlatePush)> on_plate);
  ~AnprListener();
  AnprListener(const AnprListener&) = delete;
  AnprListener& operator=(const AnprListener&) = delete;

  // Binds anpr.listen and starts the thread: the bound HOST:PORT, or why it could not bind.
  [[nodiscard]] base::Expected<std::string> start();
  void stop();

 private:
  struct Impl;
  // Handlers hold no owning pointer to it: the pending ones are destroyed with its io_context.
  std::unique_ptr<Impl> impl_;
};

}  // namespace weighlink::agent::camera
