#include "weighlink/agent/legal_core.hpp"

#include <boost/json.hpp>
#include <compare>
#include <variant>

namespace weighlink::agent {
namespace json = boost::json;

namespace {

std::string framing(const scale::SerialSettings& s) {
  static constexpr char kParity[] = {'N', 'O', 'E', 'M', 'S'};
  std::string f = std::to_string(s.baud) + " " + std::to_string(s.data_bits) +
                  kParity[static_cast<int>(s.parity)] + std::to_string(s.stop_bits);
  if (s.flow == scale::FlowControl::xonxoff) f += " xonxoff";
  if (s.flow == scale::FlowControl::rtscts) f += " rtscts";
  return f;
}

std::string source_kind(const scale::SourceSpec& source) {
  return std::visit(
      [](const auto& s) -> std::string {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, scale::SerialSource>) return "serial";
        if constexpr (std::is_same_v<T, scale::TcpSource>) return "tcp";
        if constexpr (std::is_same_v<T, scale::UdpSource>) return "udp";
        return "sim";
      },
      source);
}

scale::Decimal abs(scale::Decimal d) {
  if (d.units < 0) d.units = -d.units;
  return d;
}

}  // namespace

json::object SoftwareId::to_json() const {
  return {{"name", name}, {"version", version}, {"sha256", sha256}};
}

json::object to_json(const Settings& settings) {
  json::object out;
  for (const auto& [scope, values] : settings) {
    json::object o;
    for (const auto& [k, v] : values) o[k] = v;
    out[scope] = std::move(o);
  }
  return out;
}

std::optional<Settings> settings_from_json(const json::value& v) {
  if (!v.is_object()) return std::nullopt;
  Settings out;
  for (const auto& [scope, values] : v.as_object()) {
    if (!values.is_object()) return std::nullopt;
    auto& m = out[std::string(scope)];
    for (const auto& [k, value] : values.as_object()) {
      if (!value.is_string()) return std::nullopt;
      m[std::string(k)] = std::string(value.as_string());
    }
  }
  return out;
}

std::map<std::string, std::string> scale_settings(const scale::ScaleConfig& sc,
                                                  const ZeroReturnConfig& zero) {
  std::map<std::string, std::string> s{
      {"protocol", sc.protocol},
      {"source", source_kind(sc.source)},
      {"unit", sc.parser.unit},
      {"decimals", sc.parser.decimals < 0 ? "from frame" : std::to_string(sc.parser.decimals)},
      {"stability.divisions", std::to_string(sc.stability.divisions)},
      {"stability.time_ms", std::to_string(sc.stability.time.count())},
      {"stability.division",
       sc.stability.division ? sc.stability.division->to_string() : "last displayed digit"},
      {"stability.max_gap_ms", std::to_string(sc.stability.max_gap.count())},
      {"zero_return", zero.enabled ? "true" : "false"},
      {"zero_band", zero.band ? zero.band->to_string() : "default"},
      {"min_capture_weight", sc.min_capture_weight.to_string()},
      {"stale_after_ms", std::to_string(sc.stale_after.count())}};
  if (const auto* serial = std::get_if<scale::SerialSource>(&sc.source)) {
    s["serial"] = framing(serial->settings);
  }
  if (sc.parser.deck_count > 0) s["deck_count"] = std::to_string(sc.parser.deck_count);
  if (!sc.parser.custom_pattern.empty()) s["custom_pattern"] = sc.parser.custom_pattern;
  return s;
}

std::map<std::string, std::string> origin_settings(const std::vector<DecidedOrigin>& fixed,
                                                   const std::vector<DecidedOrigin>& decisions) {
  std::map<std::string, std::string> out;
  auto add = [&out](const DecidedOrigin& d) {
    out.try_emplace(d.origin, std::string(to_string(d.decision)) + " (" +
                                  std::string(to_string(d.source)) + ")");
  };
  for (const auto& d : fixed) add(d);  // a fixed entry wins, as OriginRegistry::find has it
  for (const auto& d : decisions) add(d);
  return out;
}

std::vector<AuditChange> diff_settings(const Settings& before, const Settings& now) {
  std::vector<AuditChange> out;
  static const std::map<std::string, std::string> kNone;
  auto scope_of = [](const Settings& s, const std::string& scope) -> const auto& {
    const auto it = s.find(scope);
    return it == s.end() ? kNone : it->second;
  };
  std::map<std::string, bool> scopes;
  for (const auto& [scope, _] : before) scopes[scope] = true;
  for (const auto& [scope, _] : now) scopes[scope] = true;
  for (const auto& [scope, _] : scopes) {
    const auto& a = scope_of(before, scope);
    const auto& b = scope_of(now, scope);
    std::map<std::string, bool> keys;
    for (const auto& [k, v] : a) keys[k] = true;
    for (const auto& [k, v] : b) keys[k] = true;
    for (const auto& [k, _2] : keys) {
      const auto ia = a.find(k);
      const auto ib = b.find(k);
      std::optional<std::string> old_value, new_value;
      if (ia != a.end()) old_value = ia->second;
      if (ib != b.end()) new_value = ib->second;
      if (old_value != new_value) out.push_back({scope, k, old_value, new_value});
    }
  }
  return out;
}

void apply_change(Settings& settings, const AuditChange& change) {
  if (change.new_value) {
    settings[change.scope][change.setting] = *change.new_value;
    return;
  }
  const auto it = settings.find(change.scope);
  if (it == settings.end()) return;
  it->second.erase(change.setting);
  if (it->second.empty()) settings.erase(it);
}

scale::Decimal zero_band_for(const scale::ScaleConfig& sc, const ZeroReturnConfig& zero,
                             int decimals) {
  if (zero.band) return abs(*zero.band);
  if (sc.min_capture_weight.units > 0) return sc.min_capture_weight;
  if (sc.stability.division) {
    auto d = *sc.stability.division;
    d.units *= 20;
    return d;
  }
  return scale::Decimal{20, decimals < 0 ? 0 : decimals};
}

void ZeroReturn::add_scale(const scale::ScaleConfig& scale, const ZeroReturnConfig& zero) {
  scales_[scale.id] = Scale{scale, zero, false};
}

void ZeroReturn::restore(const std::string& scale_id, bool required) {
  if (auto it = scales_.find(scale_id); it != scales_.end()) {
    it->second.required = required && it->second.zero.enabled;
  }
}

bool ZeroReturn::arm(const std::string& scale_id) {
  const auto it = scales_.find(scale_id);
  if (it == scales_.end() || !it->second.zero.enabled) return false;
  it->second.required = true;
  return true;
}

void ZeroReturn::disarm(const std::string& scale_id) {
  if (auto it = scales_.find(scale_id); it != scales_.end()) it->second.required = false;
}

bool ZeroReturn::on_reading(const scale::Reading& reading) {
  const auto it = scales_.find(reading.scale);
  if (it == scales_.end() || !it->second.required || reading.stale) return false;
  if (reading.overload || reading.underload) return false;
  const auto band = zero_band_for(it->second.config, it->second.zero, reading.weight.decimals);
  if (std::is_gt(abs(reading.weight).compare(band))) return false;
  it->second.required = false;
  return true;
}

bool ZeroReturn::required(const std::string& scale_id) const {
  const auto it = scales_.find(scale_id);
  return it != scales_.end() && it->second.required;
}

json::object ZeroReturn::to_json(const std::string& scale_id, int decimals) const {
  const auto it = scales_.find(scale_id);
  if (it == scales_.end()) return {};
  const auto& s = it->second;
  return {{"enabled", s.zero.enabled},
          {"required", s.required},
          {"band", zero_band_for(s.config, s.zero, decimals).to_string()}};
}

}  // namespace weighlink::agent
