#include "weighlink/scale/reading.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include "weighlink/base/timestamp.hpp"

namespace weighlink::scale {
namespace {

// One byte, one code point: bytes >= 0x80 (parity bits, binary formats) become U+0080..U+00FF,
// so the frame survives JSON's UTF-8 requirement and a reader can recover every byte.
boost::json::string raw_to_code_points(const std::string& raw) {
  boost::json::string out;
  out.reserve(raw.size() + raw.size() / 4);
  for (const char c : raw) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x80) {
      out.push_back(static_cast<char>(byte));
    } else {
      out.push_back(static_cast<char>(0xC0 | (byte >> 6)));
      out.push_back(static_cast<char>(0x80 | (byte & 0x3F)));
    }
  }
  return out;
}

}  // namespace

std::string_view to_string(WeighMode mode) { return mode == WeighMode::net ? "net" : "gross"; }

std::string_view to_string(StableSource source) {
  return source == StableSource::software ? "software" : "indicator";
}

std::string_view to_string(FlagReason reason) {
  switch (reason) {
    case FlagReason::total_mismatch:
      return "total_mismatch";
  }
  return "total_mismatch";
}

std::string format_timestamp(std::chrono::system_clock::time_point tp) {
  return base::format_utc_timestamp_ms(tp);
}

boost::json::object to_json(const Reading& reading, bool with_identity) {
  boost::json::object o;
  if (with_identity) {
    o["scale"] = reading.scale;
    o["seq"] = reading.seq;
    o["ts"] = format_timestamp(reading.ts);
  }
  o["protocol"] = reading.protocol;
  o["weight"] = reading.weight.to_string();
  o["decimals"] = reading.weight.decimals;
  o["unit"] = reading.unit;
  o["mode"] = to_string(reading.mode);
  if (reading.tare) o["tare"] = reading.tare->to_string();
  o["stable"] = reading.stable;
  o["stable_source"] = to_string(reading.stable_source);
  o["overload"] = reading.overload;
  o["underload"] = reading.underload;
  o["center_zero"] = reading.center_zero;
  o["stale"] = reading.stale;
  if (!reading.decks.empty()) {
    boost::json::array decks;
    decks.reserve(reading.decks.size());
    for (const auto& deck : reading.decks) {
      decks.push_back(boost::json::object{
          {"index", deck.index}, {"weight", deck.weight.to_string()}, {"stable", deck.stable}});
    }
    o["decks"] = std::move(decks);
  }
  if (reading.flag) o["flag"] = to_json(*reading.flag);
  o["raw"] = raw_to_code_points(reading.raw);
  return o;
}

boost::json::object to_json(const ReadingFlag& flag) {
  return boost::json::object{{"reason", to_string(flag.reason)},
                             {"indicator_total", flag.indicator_total.to_string()},
                             {"decks_sum", flag.decks_sum.to_string()}};
}

std::string to_json_line(const Reading& reading, bool with_identity) {
  return boost::json::serialize(to_json(reading, with_identity));
}

}  // namespace weighlink::scale
