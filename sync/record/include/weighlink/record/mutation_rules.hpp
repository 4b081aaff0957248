#pragma once
// The form every mutation must have, defined once: the agent checks it at intake (so it never
// answers 202 for what the backend would refuse) and the backend checks it again, mutation by
// mutation, before any SQL (so one bad mutation is rejected alone and never stops a station's
// sync). Each refusal carries a machine-readable code (docs/security.md, "Reason codes").
// Pure functions, thread-safe.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "weighlink/record/exact_json.hpp"

namespace weighlink::record {

// Idempotency keys: 1..255 visible ASCII characters (IETF Idempotency-Key draft; a text column
// and a log line hold them).
inline constexpr std::size_t kMaxKeyLength = 255;
// Kinds: 1..100 of [a-z0-9._-], e.g. "transaction.created".
inline constexpr std::size_t kMaxKindLength = 100;
// A payload's JSON text. The agent's request body limit is the same.
inline constexpr std::size_t kMaxPayloadBytes = 1 << 20;
inline constexpr JsonLimits kPayloadJsonLimits{32, 40};
// A weight (weight, tare, GVW, a deck's or an axle's): an exact decimal of at most this many
// digits in all and at most kMaxWeightFractionDigits after the point. An indicator shows at most
// 8 digits; the bound is there so that no value can overflow a column on its way.
inline constexpr std::size_t kMaxWeightDigits = 18;
inline constexpr std::size_t kMaxWeightFractionDigits = 6;
// Decks or axles in one weighing, and the highest deck or axle number.
inline constexpr std::size_t kMaxWeighingParts = 64;
inline constexpr std::uint32_t kMaxPartNumber = 255;
// Short texts of a weighing (scale id, unit, mode, type, operator, agent version, timestamps).
inline constexpr std::size_t kMaxShortText = 200;
// One raw indicator frame kept as evidence.
inline constexpr std::size_t kMaxRawFrame = 4096;

// Why a mutation is refused. `code` is stable (documented); `message` says what to do.
struct Refusal {
  std::string code;
  std::string message;
  [[nodiscard]] std::string reason() const { return code + ": " + message; }
};

[[nodiscard]] std::optional<Refusal> check_key(std::string_view key);
[[nodiscard]] std::optional<Refusal> check_kind(std::string_view kind);

// Kinds only the agent's own capture path produces (weighing.* and weighlink.*): a client cannot
// post them to /v1/mutations (422 reserved_kind), so a weighing always has a reading behind it.
[[nodiscard]] bool is_reserved_kind(std::string_view kind);

// The payload text: at most kMaxPayloadBytes, one JSON object, numbers exact (parse_exact with
// kPayloadJsonLimits). Codes: payload_too_large, invalid_payload, and parse_exact's codes.
[[nodiscard]] std::optional<Refusal> check_payload_json(std::string_view payload_json);

// True for an exact decimal as indicators display it: optional sign, digits, optional fraction.
[[nodiscard]] bool is_exact_decimal(std::string_view text) noexcept;

// A weight as text: an exact decimal ([-]digits[.digits]) within kMaxWeightDigits and
// kMaxWeightFractionDigits. `what` names the field in the message ("deck 2 weight").
[[nodiscard]] std::optional<Refusal> check_weight(std::string_view what, std::string_view text);

// Text of at most `max` bytes with no control character (no NUL, newline, tab or DEL; UTF-8
// letters are fine). `what` names the field.
[[nodiscard]] std::optional<Refusal> check_short_text(std::string_view what, std::string_view text,
                                                      std::size_t max = kMaxShortText);

}  // namespace weighlink::record
