#pragma once
// ScaleConfig: everything one scale needs (source, protocol, parser options, stability, polling,
// capture minimum), and the capture rule. Value types; the rule is a pure function.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "weighlink/scale/axles.hpp"
#include "weighlink/scale/decimal.hpp"
#include "weighlink/scale/parser.hpp"
#include "weighlink/scale/reading.hpp"
#include "weighlink/scale/source.hpp"
#include "weighlink/scale/stability.hpp"

namespace weighlink::scale {

struct ScaleConfig {
  std::string id = "main";
  std::string protocol;
  SourceSpec source;
  ParserOptions parser;
  // Software stability, for readings whose format has no motion flag.
  StabilityConfig stability;
  std::chrono::milliseconds stale_after{1000};
  // A capture needs weight >= this (in the scale's unit), so a stable empty deck, or a negative
  // weight after a zero drift, is never recorded as a weighing. The default 0 refuses only
  // negative weights.
  Decimal min_capture_weight{0, 0};
  // Axle-by-axle weighing: whether the indicator shows the axle on the pad (direct) or the
  // running total of the axles so far (cumulative, e.g. MCGS). Unset: cumulative for mcgs,
  // direct otherwise (default_axle_mode()).
  std::optional<AxleMode> axle_mode;
  // Polled protocols: the request sent every poll_interval. Unset: kDefaultPollInterval (500 ms,
  // TruConnect's) when the protocol is polled by default or a poll_command is set, else never
  // (effective_poll_interval()); 0, set explicitly: never poll. An empty poll_command means the
  // protocol's usual request (poll.hpp, default_poll_command()).
  std::optional<std::chrono::milliseconds> poll_interval;
  std::string poll_command;
  // Reopening after a failure backs off from initial to max; max bounds how long a scale that
  // came back (replugged, device server rebooted) waits to be read again, and a reopen attempt
  // is cheap, so it stays short.
  std::chrono::milliseconds reopen_backoff_initial{250};
  std::chrono::milliseconds reopen_backoff_max{1000};
  // TCP: no byte at all for this long reconnects (0: never). A serial device server that
  // rebooted leaves a half-open connection that would otherwise stay silent forever.
  std::chrono::milliseconds reopen_after_silence{10000};
};

// How often the reader polls: config.poll_interval when set, else kDefaultPollInterval for a
// protocol polled by default (polled_by_default()) or a configured poll_command, else 0 (never).
[[nodiscard]] std::chrono::milliseconds effective_poll_interval(const ScaleConfig& config);

// The bytes sent to the indicator every effective_poll_interval(): poll_command, else the
// protocol's usual request. Empty when the scale is not polled or nothing is known to send.
[[nodiscard]] std::string poll_request(const ScaleConfig& config);

// The wait before the next reopen after one more failure: doubled, never above
// reopen_backoff_max (so a device that comes back is read again within that, plus one open).
[[nodiscard]] std::chrono::milliseconds next_reopen_backoff(std::chrono::milliseconds current,
                                                            const ScaleConfig& config);

// config.axle_mode, else the protocol's usual mode (cumulative for mcgs).
[[nodiscard]] AxleMode axle_mode(const ScaleConfig& config);

// Why a reading cannot be captured.
enum class CaptureRefusal { stale, motion, overload, underload, below_minimum };

// nullopt when `reading` may be captured: stable, not stale, not over/under range, and
// weight >= config.min_capture_weight.
[[nodiscard]] std::optional<CaptureRefusal> capture_refusal(const Reading& reading,
                                                            const ScaleConfig& config);
[[nodiscard]] inline bool capturable(const Reading& reading, const ScaleConfig& config) {
  return !capture_refusal(reading, config).has_value();
}
// "scale is stale (no valid frame)", for an operator-facing error.
[[nodiscard]] std::string_view to_string(CaptureRefusal refusal);

}  // namespace weighlink::scale
