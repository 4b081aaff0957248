// Payload JSON -> typed protobuf (typed_payload.hpp).
#include "weighlink/sync/typed_payload.hpp"

#include <boost/json.hpp>
#include <limits>

#include "weighlink/sync/v1/sync.pb.h"

namespace weighlink::sync {
namespace {

std::string text_at(const boost::json::object& o, std::string_view key) {
  if (const auto* v = o.if_contains(key); v && v->is_string()) return std::string(v->as_string());
  return {};
}

// A non-negative integer that fits `Int`, else 0.
template <class Int>
Int count_at(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_uint64()) {
    return v->as_uint64() <= std::numeric_limits<Int>::max() ? static_cast<Int>(v->as_uint64()) : 0;
  }
  if (v->is_int64() && v->as_int64() >= 0 &&
      static_cast<std::uint64_t>(v->as_int64()) <= std::numeric_limits<Int>::max()) {
    return static_cast<Int>(v->as_int64());
  }
  return 0;
}

}  // namespace

bool weighing_from_payload(std::string_view payload_json, v1::WeighingCaptured& w) {
  boost::system::error_code ec;
  auto value = boost::json::parse(payload_json, ec);
  if (ec || !value.is_object()) return false;
  const auto& o = value.as_object();
  w.Clear();
  w.set_scale(text_at(o, "scale"));
  w.set_weight(text_at(o, "weight"));
  w.set_unit(text_at(o, "unit"));
  w.set_mode(text_at(o, "mode"));
  w.set_tare(text_at(o, "tare"));
  w.set_type(text_at(o, "type"));
  w.set_gvw(text_at(o, "gvw"));
  w.set_reading_ts(text_at(o, "reading_ts"));
  w.set_raw(text_at(o, "raw"));
  w.set_operator_id(text_at(o, "operator"));
  w.set_agent_version(text_at(o, "agent_version"));
  w.set_signature(text_at(o, "signature"));
  w.set_reading_seq(count_at<std::uint64_t>(o, "reading_seq"));
  if (const auto* decks = o.if_contains("decks"); decks && decks->is_array()) {
    for (const auto& d : decks->as_array()) {
      if (!d.is_object()) continue;
      const auto& dob = d.as_object();
      auto* deck = w.add_decks();
      deck->set_index(count_at<std::uint32_t>(dob, "index"));
      deck->set_weight(text_at(dob, "weight"));
      if (const auto* s = dob.if_contains("stable"); s && s->is_bool()) {
        deck->set_stable(s->as_bool());
      }
    }
  }
  if (const auto* axles = o.if_contains("axles"); axles && axles->is_array()) {
    for (const auto& a : axles->as_array()) {
      if (!a.is_object()) continue;
      const auto& aob = a.as_object();
      auto* axle = w.add_axles();
      // Axle weighings number their axles ("number"); "index" is accepted as well.
      axle->set_index(aob.contains("number") ? count_at<std::uint32_t>(aob, "number")
                                             : count_at<std::uint32_t>(aob, "index"));
      axle->set_weight(text_at(aob, "weight"));
      axle->set_reading(text_at(aob, "reading"));
      axle->set_reading_seq(count_at<std::uint64_t>(aob, "reading_seq"));
      axle->set_raw(text_at(aob, "raw"));
      axle->set_captured_at(text_at(aob, "captured_at"));
    }
  }
  return true;
}

}  // namespace weighlink::sync
