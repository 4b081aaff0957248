#pragma once
// The typed form of a known mutation kind, built from its payload JSON. The agent's replay client
// sends it along with the JSON; a backend that verifies a mutation's signature builds it again
// from the signed JSON, so what it stores is what the station signed. One mapping for both ends.
//
// Needs the generated protobuf code (weighlink::proto) where it is called.

#include <string_view>

namespace weighlink::sync::v1 {
class WeighingCaptured;
}  // namespace weighlink::sync::v1

namespace weighlink::sync {

// Fills `out` from a `weighing.captured` payload: scale, weight, unit, mode, tare, type, gvw,
// the reading's seq, time and raw frame, operator, agent version, decks and axles (with each
// axle's reading, seq, raw frame and capture time). Missing fields stay empty. False, with `out`
// untouched, when `payload_json` is not a JSON object.
[[nodiscard]] bool weighing_from_payload(std::string_view payload_json, v1::WeighingCaptured& out);

}  // namespace weighlink::sync
