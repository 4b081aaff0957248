#pragma once
// The typed form of a known mutation kind, built from its payload JSON. The agent's replay client
// sends it along with the JSON; a backend that verifies a mutation's signature builds it again
// from the signed JSON, so what it stores is what the station signed. One mapping for both ends.
//
// Needs the generated protobuf code (weighlink::proto) where it is called.

#include <optional>
#include <string_view>

#include "weighlink/record/mutation_rules.hpp"

namespace weighlink::sync::v1 {
class WeighingCaptured;
}  // namespace weighlink::sync::v1

namespace weighlink::record {

// Fills `out` from a `weighing.captured` payload: scale, weight, unit, mode, tare, type, gvw,
// the reading's seq, time and raw frame, operator, agent version, decks and axles (with each
// axle's reading, seq, raw frame and capture time). Missing fields stay empty. False, with `out`
// untouched, when `payload_json` is not a JSON object.
//
// `problem`, when given, is set to the first value the mapping would otherwise have to guess at,
// so that the backend refuses it instead of storing a guess: a deck or axle that is not an object
// (it would be left out), a deck's index or an axle's number that is not a whole number from 0 to
// kMaxPartNumber, a reading seq that is not a whole number from 0 to 2^63-1 (either would read as
// 0, "not given"), a weight field that is present but not a string (it would read as empty).
[[nodiscard]] bool weighing_from_payload(std::string_view payload_json,
                                         sync::v1::WeighingCaptured& out,
                                         std::optional<Refusal>* problem = nullptr);

}  // namespace weighlink::record
