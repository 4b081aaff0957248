#pragma once
// What the web app committed for a vehicle, beside what the agent weighed. The TruLoad app
// ignores acknowledgements and shows no errors, so a weighing it records can differ from the
// agent's: an axle refused in motion, a deck read after the truck left. The record keeps the
// agent's evidence, adds the app's own values, and says where they differ by more than one scale
// division; it never replaces one with the other. Pure: exact decimals, no clock, no I/O.

#include <boost/json/object.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/scale/decimal.hpp"

namespace weighlink::agent {

// One weighed part ("axle 2", "gvw") as each side has it, in the unit the app works in.
struct PartValues {
  std::string part;
  std::optional<scale::Decimal> app;    // nullopt: the app did not say
  std::optional<scale::Decimal> agent;  // nullopt: the agent has no capture for it
  std::string note;                     // why the agent has none (its refusal)
};

// a + b + ..., exactly, at the finest decimal places among them; nullopt when it does not fit.
[[nodiscard]] std::optional<scale::Decimal> sum(const std::vector<scale::Decimal>& values);

// |a - b| <= tolerance, exactly (any decimal places).
[[nodiscard]] bool within(const scale::Decimal& a, const scale::Decimal& b,
                          const scale::Decimal& tolerance);

// The parts that differ: both sides have a value and they are more than `division` apart, or
// the app has a value the agent lacks. A part the app did not state is not a discrepancy.
[[nodiscard]] std::vector<PartValues> differing(const std::vector<PartValues>& parts,
                                                const scale::Decimal& division);

// The record's `app` member (what the app committed: its parts) and, when any part differs,
// `discrepancy` {flagged, division, unit, parts: [{part, app, agent, difference, note}]}.
// Weights are JSON numbers with the exact decimal text.
void annotate_record(boost::json::object& payload, const std::vector<PartValues>& parts,
                     const scale::Decimal& division, std::string_view unit,
                     boost::json::object app_extra = {});

// Which stable reading of a vehicle on the decks is the one the operator took ("Take Weight"
// happens in the app alone; the agent hears of it only when the app confirms, possibly after the
// truck has left). `plateaus` are the vehicle's stable on-deck weights, oldest first; `current`
// the stable on-deck weight now, if any.
struct TakeChoice {
  enum class From { current, earlier, none } from = From::none;
  std::size_t plateau = 0;  // which of `plateaus`, when From::earlier
  std::string reason;
};
// The current weight when it matches the app's GVW (within `division`); else the newest earlier
// plateau that does; else the current weight; else the newest plateau (the vehicle has left);
// else none (the caller waits for a stable reading, as for any capture).
[[nodiscard]] TakeChoice choose_take_weight(const std::vector<scale::Decimal>& plateaus,
                                            const std::optional<scale::Decimal>& current,
                                            const std::optional<scale::Decimal>& app_gvw,
                                            const scale::Decimal& division);

}  // namespace weighlink::agent
