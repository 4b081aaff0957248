#include "truconnect/fields.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <variant>

#include "weighlink/base/hash.hpp"
#include "weighlink/record/exact_json.hpp"

namespace weighlink::agent::truconnect {
namespace json = boost::json;

// TruLoad works in kilograms: tonnes become kilograms exactly (12.34 t -> 12340 kg); other units
// stay as the indicator shows them, and the frame's `unit` says which. (No indicator shows 10^15
// tonnes: a value that overflowed would be shown as read.)
scale::Decimal in_kg(const scale::Decimal& d, const std::string& unit) {
  if (unit != "t") return d;
  return d.times_pow10(3).value_or(d);
}

std::string out_unit(const std::string& unit) { return unit == "t" || unit.empty() ? "kg" : unit; }

const json::value* field(const json::object& o, std::string_view name) {
  return o.if_contains(name);
}

// A text field as TruLoad sends it: a string (cut at 200 bytes) or a number (its exact text).
std::string string_field(const json::object& o, std::string_view name) {
  const auto* v = field(o, name);
  if (v && v->is_string()) return std::string(v->as_string().subview(0, 200));
  if (v) return record::number_text(*v).value_or(std::string());
  return {};
}

// One part of an idempotency key built from the web app's text (a transaction id, a capture
// type, a deck): kept as it is when it is short and plain ([A-Za-z0-9._-], at most 64), else "~"
// and the first 32 hex digits of its SHA-256 ('~' never appears in a kept part, so the two
// forms cannot collide). The key is then always a valid key of bounded length, whatever the app
// sends; the text itself travels in the weighing's reference.
std::string key_part(std::string_view text) {
  const bool plain = !text.empty() && text.size() <= 64 &&
                     std::all_of(text.begin(), text.end(), [](unsigned char c) {
                       return std::isalnum(c) || c == '.' || c == '_' || c == '-';
                     });
  if (plain) return std::string(text);
  return "~" + base::sha256_hex(text).substr(0, 32);
}

std::optional<int> int_field(const json::object& o, std::string_view name) {
  const auto* v = field(o, name);
  if (const auto n = v ? record::exact_int64(*v) : std::nullopt; n && *n >= 0 && *n <= 100) {
    return static_cast<int>(*n);
  }
  if (v && v->is_string()) {
    const auto& s = v->as_string();
    if (!s.empty() && s.size() <= 3 &&
        std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::stoi(std::string(s));
    }
  }
  return std::nullopt;
}

// A weight the app sent (a JSON number, or its text), exactly as written.
std::optional<scale::Decimal> decimal_field(const json::object& o, std::string_view name) {
  const auto* v = field(o, name);
  if (!v) return std::nullopt;
  if (v->is_string()) return scale::Decimal::parse(v->as_string());
  const auto text = record::number_text(*v);
  return text ? scale::Decimal::parse(*text) : std::nullopt;
}

std::optional<scale::Decimal> decimal_text(const json::value* v) {
  if (!v || !v->is_string()) return std::nullopt;
  return scale::Decimal::parse(v->as_string());
}

json::object failure(std::string_view code, std::string message) {
  return json::object{{"success", false}, {"error", code}, {"message", std::move(message)}};
}

std::string_view source_type(const scale::SourceSpec& s) {
  if (std::holds_alternative<scale::TcpSource>(s)) return "tcp";
  if (std::holds_alternative<scale::UdpSource>(s)) return "udp";
  if (std::holds_alternative<scale::SimSource>(s)) return "internal";
  return "serial";
}

bool simulated(const ScaleLive* s) {
  return s && std::holds_alternative<scale::SimSource>(s->config.source);
}

}  // namespace weighlink::agent::truconnect
