#pragma once
// What the TruConnect layer reads from the web app's messages and writes back, shared by its
// parts (truconnect/*.cpp): the app's loose fields read exactly, kilograms, key parts, refusals.
// Pure functions.

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "weighlink/agent/live_state.hpp"
#include "weighlink/scale/decimal.hpp"

namespace weighlink::agent::truconnect {

// TruLoad works in kilograms: tonnes become kilograms exactly (12.34 t -> 12340 kg); other units
// stay as the indicator shows them, and the frame's `unit` says which. (No indicator shows 10^15
// tonnes: a value that overflowed would be shown as read.)
[[nodiscard]] scale::Decimal in_kg(const scale::Decimal& d, const std::string& unit);

// The unit the app is told: kg for tonnes (converted) and for a unit the frame lacks.
[[nodiscard]] std::string out_unit(const std::string& unit);

// A member of the app's data, or null.
[[nodiscard]] const boost::json::value* field(const boost::json::object& o, std::string_view name);

// A text field as TruLoad sends it: a string (cut at 200 bytes) or a number (its exact text).
[[nodiscard]] std::string string_field(const boost::json::object& o, std::string_view name);

// One part of an idempotency key built from the web app's text (a transaction id, a capture
// type, a deck): kept as it is when it is short and plain ([A-Za-z0-9._-], at most 64), else "~"
// and the first 32 hex digits of its SHA-256 ('~' never appears in a kept part, so the two
// forms cannot collide). The key is then always a valid key of bounded length, whatever the app
// sends; the text itself travels in the weighing's reference.
[[nodiscard]] std::string key_part(std::string_view text);

// A small count: a JSON integer 0..100, or up to three digits in a string (the app sends both).
[[nodiscard]] std::optional<int> int_field(const boost::json::object& o, std::string_view name);

// A weight the app sent (a JSON number, or its text), exactly as written.
[[nodiscard]] std::optional<scale::Decimal> decimal_field(const boost::json::object& o,
                                                          std::string_view name);

// A JSON string holding an exact decimal (a stored weight), or nullopt.
[[nodiscard]] std::optional<scale::Decimal> decimal_text(const boost::json::value* v);

// {"success":false,"error":code,"message":...}: a refusal in the shape the app reads.
[[nodiscard]] boost::json::object failure(std::string_view code, std::string message);

// TruConnect's name for where readings come from: serial, tcp, udp or internal (simulated).
[[nodiscard]] std::string_view source_type(const scale::SourceSpec& s);

// The scale is the built-in simulator.
[[nodiscard]] bool simulated(const ScaleLive* s);

}  // namespace weighlink::agent::truconnect
