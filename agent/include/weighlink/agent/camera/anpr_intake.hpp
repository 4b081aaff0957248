#pragma once
// What an ANPR camera pushes (docs/devices.md, "ANPR plates"): a plate it read, offered to the
// operator as the plate of the next weighing, never applied without them. Two forms are taken:
//   - JSON: {"plate":"KCA 123A","camera":"gate-anpr","confidence":92.5,"image_base64":"/9j/..."}
//     (camera, confidence and image optional);
//   - multipart/form-data as Hikvision's ANPR alarm HTTP push sends it: a part holding the
//     EventNotificationAlert XML (its <licensePlate>, <confidenceLevel>) and a part of type
//     image/jpeg (the plate or scene picture; the first is kept).
// Sans-I/O: the body in, the event or what is wrong out. Pure functions.

#include <cstddef>
#include <string>
#include <string_view>

#include "weighlink/base/error.hpp"

namespace weighlink::agent::camera {

struct PlateEvent {
  std::string plate;       // as read, upper case, trimmed: 1..16 of A-Z 0-9 space dash
  std::string camera;      // the id the camera named itself (JSON only); may be empty
  std::string confidence;  // as sent (a decimal's text), empty when not sent
  std::string jpeg;        // the picture's bytes; empty when none was sent
};

inline constexpr std::size_t kMaxPlateEventBytes = std::size_t{8} * 1024 * 1024;

[[nodiscard]] base::Expected<PlateEvent> parse_plate_json(std::string_view body);
[[nodiscard]] base::Expected<PlateEvent> parse_plate_multipart(std::string_view content_type,
                                                               std::string_view body);
// By Content-Type: application/json or multipart/form-data (others refused).
[[nodiscard]] base::Expected<PlateEvent> parse_plate_event(std::string_view content_type,
                                                           std::string_view body);

}  // namespace weighlink::agent::camera
