#pragma once
// The camera evidence component (docs/devices.md, "Camera evidence"): after every recorded
// weighing (and every axle with on_axles) each camera of the scale takes a still on its own
// worker, each bounded by its deadline; the images go into the BlobStore and one
// weighlink.capture_images record lists them (or why one is missing). The capture itself was
// answered before any camera was asked. Routes: GET /v1/images/{sha256},
// GET /v1/weighings/{seq}/images. Threading: io thread, workers of its own.

#include "weighlink/agent/devices.hpp"

namespace weighlink::agent::camera {

// Adds the cameras' component to `hub` when cameras: (or anpr:) is configured.
void add_cameras(DeviceHub& hub, CaptureContext& captures);

}  // namespace weighlink::agent::camera
