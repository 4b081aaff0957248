#pragma once
// Remote displays (scoreboards) as a device component (devices.hpp; docs/devices.md, "Remote
// display"): each configured display repeats its scale's live weight on its own thread.

#include "weighlink/agent/devices.hpp"

namespace weighlink::agent {

// Adds the display component to `hub` when `displays:` lists any.
void add_displays(DeviceHub& hub);

}  // namespace weighlink::agent
