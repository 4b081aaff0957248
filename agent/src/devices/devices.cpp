// make_devices (devices.hpp): the station's device components as configured.

#include "weighlink/agent/devices.hpp"

#include "devices/camera/cameras.hpp"
#include "devices/display/displays.hpp"
#include "devices/io/io_station.hpp"
#include "devices/printer/printers.hpp"

namespace weighlink::agent {

std::unique_ptr<DeviceHub> make_devices(DeviceEnv env, CaptureContext& captures) {
  auto hub = std::make_unique<DeviceHub>(std::move(env));
  // One line per device type, each adding its component when configured (and registering its
  // CaptureGuard in `captures`, if it has one):
  io::add_io(*hub, captures);
  add_displays(*hub);
  camera::add_cameras(*hub, captures);
  add_printers(*hub, captures);

  captures.observers.push_back(hub.get());
  return hub;
}

}  // namespace weighlink::agent
