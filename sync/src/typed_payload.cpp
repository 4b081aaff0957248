// Payload JSON -> typed protobuf (typed_payload.hpp).
#include "weighlink/sync/typed_payload.hpp"

#include <boost/json.hpp>
#include <limits>

#include "weighlink/sync/v1/sync.pb.h"

namespace weighlink::sync {
namespace {

// Where the mapping would guess, the first problem found (see typed_payload.hpp).
class Problems {
 public:
  explicit Problems(std::optional<Refusal>* out) : out_(out) {}
  void note(const char* code, std::string message) {
    if (out_ && !*out_) *out_ = Refusal{code, std::move(message)};
  }

 private:
  std::optional<Refusal>* out_;
};

std::string text_at(const boost::json::object& o, std::string_view key, Problems& problems,
                    const std::string& where) {
  const auto* v = o.if_contains(key);
  if (v && v->is_string()) return std::string(v->as_string());
  if (v && !v->is_null()) {
    problems.note("invalid_payload", where + std::string(key) +
                                         " must be a string (weights are exact decimals as text)");
  }
  return {};
}

// A non-negative integer up to `max`, else 0 (and a problem when it was there but not that).
std::uint64_t count_at(const boost::json::object& o, std::string_view key, std::uint64_t max,
                       Problems& problems, const std::string& where, const char* code) {
  const auto* v = o.if_contains(key);
  if (!v || v->is_null()) return 0;
  if (v->is_uint64() && v->as_uint64() <= max) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0 && static_cast<std::uint64_t>(v->as_int64()) <= max) {
    return static_cast<std::uint64_t>(v->as_int64());
  }
  problems.note(
      code, where + std::string(key) + " must be a whole number from 0 to " + std::to_string(max));
  return 0;
}

}  // namespace

bool weighing_from_payload(std::string_view payload_json, v1::WeighingCaptured& w,
                           std::optional<Refusal>* problem) {
  boost::system::error_code ec;
  auto value = boost::json::parse(payload_json, ec);
  if (ec || !value.is_object()) return false;
  const auto& o = value.as_object();
  Problems problems(problem);
  constexpr auto kMaxSeq = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  const std::string top;
  auto text = [&](const boost::json::object& from, std::string_view key, const std::string& where) {
    return text_at(from, key, problems, where);
  };
  w.Clear();
  w.set_scale(text(o, "scale", top));
  w.set_weight(text(o, "weight", top));
  w.set_unit(text(o, "unit", top));
  w.set_mode(text(o, "mode", top));
  w.set_tare(text(o, "tare", top));
  w.set_type(text(o, "type", top));
  w.set_gvw(text(o, "gvw", top));
  w.set_reading_ts(text(o, "reading_ts", top));
  w.set_raw(text(o, "raw", top));
  w.set_operator_id(text(o, "operator", top));
  w.set_agent_version(text(o, "agent_version", top));
  w.set_signature(text(o, "signature", top));
  w.set_reading_seq(count_at(o, "reading_seq", kMaxSeq, problems, top, "value_out_of_range"));
  if (const auto* decks = o.if_contains("decks"); decks && decks->is_array()) {
    std::size_t position = 0;
    for (const auto& d : decks->as_array()) {
      const std::string where = "deck " + std::to_string(++position) + " ";
      if (!d.is_object()) {
        problems.note("invalid_payload", where + "is not an object");
        continue;
      }
      const auto& dob = d.as_object();
      auto* deck = w.add_decks();
      deck->set_index(static_cast<std::uint32_t>(
          count_at(dob, "index", kMaxPartNumber, problems, where, "part_out_of_range")));
      deck->set_weight(text(dob, "weight", where));
      if (const auto* s = dob.if_contains("stable"); s && s->is_bool()) {
        deck->set_stable(s->as_bool());
      }
    }
  }
  if (const auto* axles = o.if_contains("axles"); axles && axles->is_array()) {
    std::size_t position = 0;
    for (const auto& a : axles->as_array()) {
      const std::string where = "axle " + std::to_string(++position) + " ";
      if (!a.is_object()) {
        problems.note("invalid_payload", where + "is not an object");
        continue;
      }
      const auto& aob = a.as_object();
      auto* axle = w.add_axles();
      // Axle weighings number their axles ("number"); "index" is accepted as well.
      axle->set_index(static_cast<std::uint32_t>(
          count_at(aob, aob.contains("number") ? "number" : "index", kMaxPartNumber, problems,
                   where, "part_out_of_range")));
      axle->set_weight(text(aob, "weight", where));
      axle->set_reading(text(aob, "reading", where));
      axle->set_reading_seq(
          count_at(aob, "reading_seq", kMaxSeq, problems, where, "value_out_of_range"));
      axle->set_raw(text(aob, "raw", where));
      axle->set_captured_at(text(aob, "captured_at", where));
    }
  }
  return true;
}

}  // namespace weighlink::sync
