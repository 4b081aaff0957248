// The ops log's line, as drill writes it and dr-status reads it back, and where both find it;
// readable JSON. Pure: JSON in, JSON out.
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <string_view>

#include "json_text.hpp"
#include "weighlink/recovery/drill.hpp"

namespace weighlink::recovery {
namespace {

namespace json = boost::json;

json::value seconds_or_null(const std::optional<double>& seconds) {
  if (!seconds) return nullptr;
  // Microseconds: short enough to read, fine enough that no measured step shows as 0.
  return static_cast<double>(std::llround(*seconds * 1e6)) / 1e6;
}

std::optional<double> number_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return v->to_number<double>();
}

std::string string_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

void write_json(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, value] : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += json::serialize(json::string(key));
        out += ':';
        write_json(value, out);
      }
      out += '}';
      return;
    }
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& value : v.get_array()) {
        if (!first) out += ',';
        first = false;
        write_json(value, out);
      }
      out += ']';
      return;
    }
    case json::kind::double_: {
      if (!std::isfinite(v.get_double())) {
        out += "null";
        return;
      }
      if (std::abs(v.get_double()) >= 1e15) {  // beyond what fixed notation shows well
        out += json::serialize(v);
        return;
      }
      char text[64];
      std::snprintf(text, sizeof text, "%.6f", v.get_double());
      std::string_view digits = text;
      while (digits.ends_with('0')) digits.remove_suffix(1);
      if (digits.ends_with('.')) digits.remove_suffix(1);
      out += digits == "-0" ? "0" : digits;
      return;
    }
    default:
      out += json::serialize(v);
  }
}

}  // namespace

std::string to_readable_json(const json::value& value) {
  std::string out;
  write_json(value, out);
  return out;
}

base::Expected<DrillPaths> drill_paths(const std::vector<std::string>& locations,
                                       const std::string& ops_log) {
  DrillPaths paths;
  for (const auto& spec : locations) {
    auto location = parse_location(spec);
    if (!location) return base::invalid_argument(location.error().message);
    paths.locations.push_back(*location);
  }
  if (paths.locations.empty()) return base::invalid_argument("--dir is required");
  paths.ops_log = ops_log;
  if (paths.ops_log.empty()) {
    const auto& dir = paths.locations.front();
    if (dir.remote()) {
      return base::invalid_argument(
          "--dir " + dir.display() +
          " is a remote: give --ops-log FILE, the local file drills append their record to "
          "and dr-status reads");
    }
    paths.ops_log = std::filesystem::path(dir.spec) / kDrillOpsLog;
  }
  return paths;
}

std::string to_json_line(const DrillRecord& r) {
  json::object steps;
  for (const auto& [name, seconds] : r.restore_steps) steps[name] = seconds_or_null(seconds);
  json::value failure = nullptr;
  if (!r.passed) failure = json::object{{"step", r.failed_step}, {"detail", r.failure}};
  json::array notes;
  for (const auto& note : r.notes) notes.emplace_back(note);
  json::object o{
      {"started_at", format_utc_timestamp(r.started_at)},
      {"dump", r.dump.empty() ? json::value(nullptr) : json::value(r.dump)},
      {"dump_created_at", r.dump_created_at ? json::value(format_utc_timestamp(*r.dump_created_at))
                                            : json::value(nullptr)},
      {"fetch_s", seconds_or_null(r.fetch_s)},
      {"restore_s", seconds_or_null(r.restore_s)},
      {"ready_s", seconds_or_null(r.ready_s)},
      {"smoke_s", seconds_or_null(r.smoke_s)},
      {"rto_s", seconds_or_null(r.rto_s)},
      {"result", r.passed ? "pass" : "fail"},
      {"failure", failure},
      {"severity", r.passed ? json::value(nullptr) : json::value("sev-2")},
      {"host", r.host},
      {"exit_code", r.exit_code},
      {"dump_sha256", r.dump_sha256},
      {"location", r.location},
      {"scratch_s", seconds_or_null(r.scratch_s)},
      {"restore_steps", steps},
      {"schema", r.schema},
      {"notes", notes},
      {"tool", std::string("weighlink-backend drill ") + WEIGHLINK_VERSION}};
  return to_readable_json(o);
}

base::Expected<DrillRecord> parse_drill_record(std::string_view line) {
  boost::system::error_code ec;
  const auto value = json::parse(line, ec);
  if (ec) return base::invalid_argument("not JSON (" + ec.message() + ")");
  if (!value.is_object()) return base::invalid_argument("not a JSON object");
  const auto& o = value.get_object();
  DrillRecord r;
  const auto started = parse_utc_timestamp(string_at(o, "started_at"));
  if (!started) return base::invalid_argument("no started_at of the form 2026-11-21T03:00:07Z");
  r.started_at = *started;
  const std::string result = string_at(o, "result");
  if (result != "pass" && result != "fail") {
    return base::invalid_argument("result is neither \"pass\" nor \"fail\"");
  }
  r.passed = result == "pass";
  r.dump = string_at(o, "dump");
  r.dump_sha256 = string_at(o, "dump_sha256");
  r.dump_created_at = parse_utc_timestamp(string_at(o, "dump_created_at"));
  r.location = string_at(o, "location");
  r.scratch_s = number_at(o, "scratch_s");
  r.fetch_s = number_at(o, "fetch_s");
  r.restore_s = number_at(o, "restore_s");
  r.ready_s = number_at(o, "ready_s");
  r.smoke_s = number_at(o, "smoke_s");
  r.rto_s = number_at(o, "rto_s");
  r.schema = string_at(o, "schema");
  r.host = string_at(o, "host");
  if (const auto* f = o.if_contains("failure"); f != nullptr && f->is_object()) {
    r.failed_step = string_at(f->get_object(), "step");
    r.failure = string_at(f->get_object(), "detail");
  }
  if (const auto* code = o.if_contains("exit_code");
      code != nullptr && code->is_int64() && code->get_int64() >= 0 && code->get_int64() < 256) {
    r.exit_code = static_cast<int>(code->get_int64());
  }
  if (const auto* steps = o.if_contains("restore_steps"); steps != nullptr && steps->is_object()) {
    for (const auto& [name, seconds] : steps->get_object()) {
      if (seconds.is_number()) r.restore_steps.emplace_back(name, seconds.to_number<double>());
    }
  }
  return r;
}

}  // namespace weighlink::recovery
