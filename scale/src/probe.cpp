#include "weighlink/scale/probe.hpp"

#include <algorithm>
#include <bit>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "weighlink/scale/parser.hpp"
#include "weighlink/scale/poll.hpp"
#include "weighlink/scale/reading.hpp"

namespace weighlink::scale {
namespace {

// Bytes as a YAML double-quoted string's content: "\x05", "SI\r\n".
std::string yaml_escaped(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (u < 0x20 || u >= 0x7F || c == '"' || c == '\\') {
      out += std::string("\\x") + kHex[u >> 4] + kHex[u & 0xF];
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> poll_advice(const ProbeScore& best) {
  const bool answered_polls = best.setting.ends_with(" polled");
  const bool polled = polled_by_default(best.protocol);
  if (answered_polls && !polled) {
    const auto command = default_poll_command(best.protocol).value_or(std::string());
    return "it answered only when polled, and " + best.protocol +
           " is not polled by default: set poll_command: \"" + yaml_escaped(command) +
           "\" in the scale's configuration (sent every 500 ms)";
  }
  if (!answered_polls && polled) {
    return "it streams, and the agent polls " + best.protocol +
           " every 500 ms by default: poll_interval_ms: 0 stops the requests (optional)";
  }
  return std::nullopt;
}

std::vector<ProbeScore> score_protocols(std::string_view sample, std::string_view setting) {
  std::vector<ProbeScore> out;
  for (const auto& info : protocols()) {
    auto parser = make_parser(info.id);
    if (!parser) continue;
    std::vector<Reading> readings;
    parser->put(sample, readings);
    parser->finish(readings);
    if (readings.empty()) continue;
    const auto& st = parser->stats();
    ProbeScore s;
    s.protocol = std::string(info.id);
    s.setting = std::string(setting);
    s.bytes = sample.size();
    s.frames = readings.size();
    s.bad_frames = st.bad_frames;
    s.skipped_bytes = st.skipped_bytes;
    for (const auto& r : readings) s.frame_bytes += r.raw.size();
    // Half from the bytes inside frames, half from the bytes the parser did not skip: frames
    // whose raw text leaves out separators (multi-line deck frames, LF after CR) still count.
    const double size = static_cast<double>(std::max<std::size_t>(sample.size(), 1));
    const double in_frames = std::min(1.0, static_cast<double>(s.frame_bytes) / size);
    const double not_skipped = 1.0 - std::min(1.0, static_cast<double>(s.skipped_bytes) / size);
    const double coverage = (in_frames + not_skipped) / 2;
    const double validity =
        static_cast<double>(s.frames) / static_cast<double>(s.frames + s.bad_frames);
    const double evidence = std::min(1.0, static_cast<double>(s.frames) / 3.0);
    s.confidence = coverage * validity * evidence;
    s.first_reading = to_json_line(readings.front(), false);
    out.push_back(std::move(s));
  }
  rank_scores(out);
  return out;
}

void rank_scores(std::vector<ProbeScore>& scores) {
  std::stable_sort(scores.begin(), scores.end(), [](const ProbeScore& a, const ProbeScore& b) {
    if (a.confidence != b.confidence) return a.confidence > b.confidence;
    if (a.frames != b.frames) return a.frames > b.frames;
    return a.bad_frames < b.bad_frames;
  });
}

std::vector<SerialSettings> probe_settings() {
  std::vector<SerialSettings> out;
  for (const int baud : {9600, 4800, 19200, 2400, 1200, 38400, 57600, 115200}) {
    for (const auto& [bits, parity] :
         {std::pair{8, Parity::none}, std::pair{7, Parity::even}, std::pair{7, Parity::odd}}) {
      SerialSettings s;
      s.baud = baud;
      s.data_bits = bits;
      s.parity = parity;
      out.push_back(s);
    }
  }
  return out;
}

std::string describe_settings(const SerialSettings& s) {
  const char parity = s.parity == Parity::none   ? 'N'
                      : s.parity == Parity::even ? 'E'
                      : s.parity == Parity::odd  ? 'O'
                      : s.parity == Parity::mark ? 'M'
                                                 : 'S';
  return std::to_string(s.baud) + " " + std::to_string(s.data_bits) + parity +
         std::to_string(s.stop_bits);
}

std::optional<Parity> parity_in_bit7(std::string_view sample) {
  bool even = true;
  bool odd = true;
  bool any_set = false;
  for (const char c : sample) {
    const auto b = static_cast<unsigned char>(c);
    const bool high = (b & 0x80) != 0;
    any_set = any_set || high;
    const bool ones_odd = (std::popcount(static_cast<unsigned>(b & 0x7F)) & 1) != 0;
    // Even parity: bit 7 makes the count of ones even, so it is set exactly when the low seven
    // have an odd count.
    if (high != ones_odd) even = false;
    if (high == ones_odd) odd = false;
  }
  if (!any_set || sample.empty()) return std::nullopt;
  if (even) return Parity::even;
  if (odd) return Parity::odd;
  return std::nullopt;
}

std::string to_json(const ProbeReport& report) {
  boost::json::object root;
  boost::json::array ranked;
  for (const auto& s : report.ranked) {
    boost::json::object o;
    o["protocol"] = s.protocol;
    o["setting"] = s.setting;
    o["confidence"] = s.confidence;
    o["frames"] = s.frames;
    o["bad_frames"] = s.bad_frames;
    o["skipped_bytes"] = s.skipped_bytes;
    o["bytes"] = s.bytes;
    o["first_reading"] = s.first_reading;
    if (const auto advice = poll_advice(s)) o["poll_advice"] = *advice;
    ranked.push_back(std::move(o));
  }
  if (!report.ranked.empty()) root["best"] = ranked.front();
  root["candidates"] = std::move(ranked);
  boost::json::array tried;
  for (const auto& t : report.tried) tried.push_back(boost::json::string(t));
  root["tried"] = std::move(tried);
  if (report.suggested_setting) root["suggested_setting"] = *report.suggested_setting;
  if (!report.error.empty()) root["error"] = report.error;
  return boost::json::serialize(root);
}

}  // namespace weighlink::scale
