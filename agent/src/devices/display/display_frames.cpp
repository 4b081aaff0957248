// The frames a remote display is sent (display_frames.hpp).

#include "weighlink/agent/display_frames.hpp"

#include <vector>

#include "weighlink/scale/parser.hpp"

namespace weighlink::agent::display {

scale::DisplayState display_state(const scale::Reading& reading) {
  scale::DisplayState s;
  s.weight = reading.weight;
  s.tare = reading.tare.value_or(scale::Decimal{0, reading.weight.decimals});
  if (!reading.unit.empty()) s.unit = reading.unit;
  s.mode = reading.mode;
  s.motion = !reading.stable;
  s.overload = reading.overload || reading.underload;
  s.center_zero = reading.center_zero;
  for (const auto& d : reading.decks) s.decks.push_back(d.weight);
  return s;
}

namespace {

scale::DisplayState stale_state(scale::DisplayState s) {
  s.overload = true;
  s.motion = true;
  s.center_zero = false;
  return s;
}

}  // namespace

StaleStyle stale_style(std::string_view protocol) {
  scale::DisplayState probe;
  probe.weight = scale::Decimal{1000, 0};
  const auto frame = scale::encode_frame(protocol, stale_state(probe));
  auto parser = scale::make_parser(protocol);
  if (!frame || !parser) return StaleStyle::stop_sending;
  std::vector<scale::Reading> out;
  // Twice: formats whose parser learns its framing (a checksum byte or not) from the next frame.
  parser->put(*frame + *frame, out);
  parser->finish(out);
  if (out.empty()) return StaleStyle::stop_sending;
  for (const auto& r : out) {
    if (!(r.overload || r.underload) || r.stable) return StaleStyle::stop_sending;
  }
  return StaleStyle::status_frame;
}

std::string_view to_string(StaleStyle style) {
  return style == StaleStyle::status_frame ? "status_frame" : "stop_sending";
}

std::optional<std::string> frame_for(std::string_view protocol, StaleStyle style,
                                     const std::optional<scale::Reading>& latest) {
  if (!latest) return std::nullopt;
  if (!latest->stale) return scale::encode_frame(protocol, display_state(*latest));
  if (style == StaleStyle::stop_sending) return std::nullopt;
  return scale::encode_frame(protocol, stale_state(display_state(*latest)));
}

}  // namespace weighlink::agent::display
