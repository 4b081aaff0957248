// Payload JSON -> typed protobuf (typed_payload.hpp).
#include "weighlink/record/typed_payload.hpp"

#include <boost/json.hpp>
#include <limits>

#include "weighlink/sync/v1/sync.pb.h"

namespace weighlink::record {
namespace {

constexpr auto kMaxSeq = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

// Reads the fields of one JSON object of the payload (the weighing, or one of its decks or
// axles). Where the mapping would have to guess, the first problem of the whole payload is noted
// (typed_payload.hpp); its message is only built then.
class Fields {
 public:
  Fields(const boost::json::object& o, std::optional<Refusal>* problem, const char* part = nullptr,
         std::size_t position = 0)
      : o_(o), problem_(problem), part_(part), position_(position) {}

  std::string text(std::string_view key) const {
    const auto* v = o_.if_contains(key);
    if (v && v->is_string()) return std::string(v->as_string());
    if (v && !v->is_null()) {
      note("invalid_payload", key, " must be a string (weights are exact decimals as text)");
    }
    return {};
  }

  // A whole number from 0 to `max`, else 0 ("not given").
  std::uint64_t count(std::string_view key, std::uint64_t max, const char* code) const {
    const auto* v = o_.if_contains(key);
    if (!v || v->is_null()) return 0;
    if (v->is_uint64() && v->as_uint64() <= max) return v->as_uint64();
    if (v->is_int64() && v->as_int64() >= 0 && static_cast<std::uint64_t>(v->as_int64()) <= max) {
      return static_cast<std::uint64_t>(v->as_int64());
    }
    note(code, key, " must be a whole number from 0 to " + std::to_string(max));
    return 0;
  }

  const boost::json::object& object() const { return o_; }

 private:
  void note(const char* code, std::string_view key, const std::string& what) const {
    if (!problem_ || *problem_) return;
    std::string where = part_ ? std::string(part_) + " " + std::to_string(position_) + " " : "";
    *problem_ = Refusal{code, where + std::string(key) + what};
  }

  const boost::json::object& o_;
  std::optional<Refusal>* problem_;
  const char* part_;
  std::size_t position_;
};

// Calls `read` with the Fields of each object in `o[key]` (decks or axles); an entry that is not
// an object is a problem, not silently left out.
template <class Read>
void each_part(const boost::json::object& o, std::string_view key, const char* part,
               std::optional<Refusal>* problem, Read&& read) {
  const auto* list = o.if_contains(key);
  if (!list || !list->is_array()) return;
  std::size_t position = 0;
  for (const auto& entry : list->as_array()) {
    ++position;
    if (!entry.is_object()) {
      if (problem && !*problem) {
        *problem = Refusal{"invalid_payload", std::string(part) + " " + std::to_string(position) +
                                                  " is not an object"};
      }
      continue;
    }
    read(Fields(entry.as_object(), problem, part, position));
  }
}

}  // namespace

bool weighing_from_payload(std::string_view payload_json, sync::v1::WeighingCaptured& w,
                           std::optional<Refusal>* problem) {
  boost::system::error_code ec;
  auto value = boost::json::parse(payload_json, ec);
  if (ec || !value.is_object()) return false;
  const Fields f(value.as_object(), problem);
  w.Clear();
  w.set_scale(f.text("scale"));
  w.set_weight(f.text("weight"));
  w.set_unit(f.text("unit"));
  w.set_mode(f.text("mode"));
  w.set_tare(f.text("tare"));
  w.set_type(f.text("type"));
  w.set_gvw(f.text("gvw"));
  w.set_reading_ts(f.text("reading_ts"));
  w.set_raw(f.text("raw"));
  w.set_operator_id(f.text("operator"));
  w.set_agent_version(f.text("agent_version"));
  w.set_signature(f.text("signature"));
  w.set_reading_seq(f.count("reading_seq", kMaxSeq, "value_out_of_range"));
  each_part(f.object(), "decks", "deck", problem, [&](const Fields& d) {
    auto* deck = w.add_decks();
    deck->set_index(
        static_cast<std::uint32_t>(d.count("index", kMaxPartNumber, "part_out_of_range")));
    deck->set_weight(d.text("weight"));
    if (const auto* s = d.object().if_contains("stable"); s && s->is_bool()) {
      deck->set_stable(s->as_bool());
    }
  });
  each_part(f.object(), "axles", "axle", problem, [&](const Fields& a) {
    auto* axle = w.add_axles();
    // Axle weighings number their axles ("number"); "index" is accepted as well.
    const char* number = a.object().contains("number") ? "number" : "index";
    axle->set_index(
        static_cast<std::uint32_t>(a.count(number, kMaxPartNumber, "part_out_of_range")));
    axle->set_weight(a.text("weight"));
    axle->set_reading(a.text("reading"));
    axle->set_reading_seq(a.count("reading_seq", kMaxSeq, "value_out_of_range"));
    axle->set_raw(a.text("raw"));
    axle->set_captured_at(a.text("captured_at"));
  });
  return true;
}

}  // namespace weighlink::record
