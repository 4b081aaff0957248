#include "weighlink/bench/summary.hpp"

#include <boost/json.hpp>
#include <cstdio>
#include <initializer_list>
#include <string_view>

namespace weighlink::bench::summary {
namespace json = boost::json;
namespace {

// A member of nested objects, or nullptr anywhere along the path.
const json::value* at(const json::object& root, std::initializer_list<std::string_view> path) {
  const json::object* object = &root;
  const json::value* value = nullptr;
  for (const auto key : path) {
    if (object == nullptr) return nullptr;
    value = object->if_contains(key);
    if (value == nullptr) return nullptr;
    object = value->if_object();
  }
  return value;
}

std::optional<double> number(const json::value* v) {
  if (v == nullptr) return std::nullopt;
  if (const auto* d = v->if_double()) return *d;
  if (const auto* i = v->if_int64()) return static_cast<double>(*i);
  if (const auto* u = v->if_uint64()) return static_cast<double>(*u);
  return std::nullopt;
}

std::optional<double> number(const json::object& root,
                             std::initializer_list<std::string_view> path) {
  return number(at(root, path));
}

std::optional<double> quotient(std::optional<double> a, std::optional<double> b) {
  if (!a || !b || *b == 0) return std::nullopt;
  return *a / *b;
}

Row row_of(std::string measure, std::string unit, std::optional<double> value = std::nullopt,
           std::string baseline_name = {}) {
  Row row;
  row.measure = std::move(measure);
  row.unit = std::move(unit);
  row.value = value;
  row.baseline_name = std::move(baseline_name);
  return row;
}

// Fills in ratio and met from value, baseline and goal.
Row judged(Row row) {
  row.ratio = quotient(row.value, row.baseline);
  const std::optional<double> compared = row.goal.on_ratio ? row.ratio : row.value;
  if (compared) {
    row.met = row.goal.compare == Goal::Compare::at_least ? *compared >= row.goal.target
                                                          : *compared <= row.goal.target;
  }
  return row;
}

Goal at_least_ratio(double x) { return {Goal::Compare::at_least, x, true}; }
Goal at_most_ratio(double x) { return {Goal::Compare::at_most, x, true}; }
Goal at_most_value(double x) { return {Goal::Compare::at_most, x, false}; }

void replay_rows(const std::optional<json::object>& replay, std::vector<Row>& rows) {
  const json::object empty;
  const json::object& r = replay ? *replay : empty;
  // Drain: runs 0 psql log, 1 psql both, 2 weighlink, 3 psql log again, 4 psql both again.
  const json::value* runs = at(r, {"drain", "runs"});
  auto run = [&](std::size_t i, std::string_view key) -> std::optional<double> {
    if (runs == nullptr || !runs->is_array() || runs->get_array().size() <= i) return std::nullopt;
    const auto* o = runs->get_array()[i].if_object();
    return o ? number(o->if_contains(key)) : std::nullopt;
  };
  Row drain = row_of("replay drain, 100 k backlog", "mut/s", run(2, "mutations_per_s"),
                     "psql batched INSERT ... ON CONFLICT, same rows, same tables");
  if (const auto before = run(1, "mutations_per_s"), after = run(4, "mutations_per_s");
      before && after) {
    drain.baseline = (*before + *after) / 2;
  }
  drain.goal = at_least_ratio(1.5);
  if (const auto n = number(r, {"drain", "backlog"})) {
    drain.note = std::to_string(static_cast<long long>(*n)) + " captures";
  }
  rows.push_back(judged(drain));

  // CPU per applied mutation as bench_replay reports it, in microseconds: the backend's goal is
  // 20, PostgreSQL's 40. The drain's PostgreSQL row shows psql's cost for the same rows beside it.
  auto per_mutation = [&](std::string measure, std::string_view part, std::string_view key,
                          double goal) {
    Row row = row_of(std::move(measure), "us", number(r, {part, key}));
    row.goal = at_most_value(goal);
    if (part == "drain" && key == "postgres_cpu_us_per_mutation") {
      row.baseline_name = "psql writing the same rows";
      row.baseline = number(r, {"drain", "psql_both_postgres_cpu_us_per_mutation"});
    }
    rows.push_back(judged(row));
  };
  per_mutation("backend CPU per applied mutation (drain)", "drain", "backend_cpu_us_per_mutation",
               20);
  per_mutation("PostgreSQL CPU per applied mutation (drain)", "drain",
               "postgres_cpu_us_per_mutation", 40);
  per_mutation("backend CPU per applied mutation (fan-in)", "fanin", "backend_cpu_us_per_mutation",
               20);
  per_mutation("PostgreSQL CPU per applied mutation (fan-in)", "fanin",
               "postgres_cpu_us_per_mutation", 40);

  // Fan-in: drained within 60 s, nothing lost or doubled (the rows exact), no error other than
  // the designed overload answer, memory reported.
  Row fanin = row_of("fan-in, stations x backlog reconnecting at once", "s",
                     number(r, {"fanin", "drain_s"}));
  fanin.goal = at_most_value(60);
  if (const auto* f = at(r, {"fanin"}); f && f->is_object()) {
    const auto& o = f->get_object();
    const bool drained_all =
        o.contains("drained") && o.at("drained").is_bool() && o.at("drained").get_bool();
    const bool exact = o.contains("exact") && o.at("exact").is_bool() && o.at("exact").get_bool();
    double errors = 0;
    for (const auto* key : {"hello_errors", "replay_errors"}) {
      const auto* e = o.if_contains(key);
      if (e == nullptr || !e->is_object()) continue;
      for (const auto& [code, count] : e->get_object()) {
        if (code != "RESOURCE_EXHAUSTED") errors += number(&count).value_or(0);
      }
    }
    if (!drained_all) fanin.value.reset();
    char note[200];
    std::snprintf(note, sizeof note, "%.0f x %.0f; errors %.0f; rows %s; backend peak %.1f MB",
                  number(o.if_contains("stations")).value_or(0),
                  number(o.if_contains("per_station")).value_or(0), errors,
                  exact ? "exact" : "NOT exact",
                  number(o.if_contains("backend_peak_rss_mb")).value_or(0));
    fanin.note = note;
    fanin = judged(fanin);
    if (!drained_all) fanin.met = false;
    if (fanin.met && (!exact || errors != 0)) fanin.met = false;
  } else {
    fanin = judged(fanin);
  }
  rows.push_back(fanin);
}

void live_rows(const std::optional<json::object>& live, std::vector<Row>& rows) {
  const json::value* results = live ? live->if_contains("results") : nullptr;
  for (const auto* what : {"p99_ms", "cpu_us_per_msg"}) {
    const bool p99 = std::string_view(what) == "p99_ms";
    for (const int clients : {1, 10, 100}) {
      Row row = row_of(std::string(p99 ? "live socket p99, " : "live socket CPU per message, ") +
                           std::to_string(clients) + (clients == 1 ? " client" : " clients"),
                       p99 ? "ms" : "us");
      row.baseline_name = "the bench's C floor";
      if (results != nullptr && results->is_array()) {
        for (const auto& item : results->get_array()) {
          const auto* o = item.if_object();
          if (o == nullptr || number(o->if_contains("clients")) != clients) continue;
          const auto* server = o->if_contains("server");
          if (server == nullptr || !server->is_string()) continue;
          if (server->get_string() == "weighlink") row.value = number(o->if_contains(what));
          if (server->get_string() == "floor") row.baseline = number(o->if_contains(what));
        }
      }
      row.goal = at_most_ratio(p99 ? 1.1 : 1.3);
      rows.push_back(judged(row));
    }
  }
}

void outbox_rows(const std::optional<json::object>& outbox, std::vector<Row>& rows) {
  const json::value* throughput = outbox ? outbox->if_contains("throughput") : nullptr;
  // Today's ratios to raw SQLite at 8 and 64 producers (docs/performance.md, the run after the
  // writer prepared its statements once): "no slower than today".
  const struct {
    int producers;
    double goal;
    const char* note;
  } points[] = {{1, 0.9, ""},
                {8, 2.14, "no slower than before issue 21 (2.14 x raw)"},
                {64, 5.27, "no slower than before issue 21 (5.27 x raw)"}};
  for (const auto& p : points) {
    Row row = row_of(
        "outbox, " + std::to_string(p.producers) + (p.producers == 1 ? " producer" : " producers"),
        "mut/s");
    row.baseline_name = "raw SQLite, same pragmas";
    if (throughput != nullptr && throughput->is_array()) {
      for (const auto& item : throughput->get_array()) {
        const auto* o = item.if_object();
        if (o == nullptr || number(o->if_contains("producers")) != p.producers) continue;
        const auto* system = o->if_contains("system");
        if (system == nullptr || !system->is_string()) continue;
        const auto rate = number(o->if_contains("mutations_per_s"));
        if (system->get_string() == "weighlink") row.value = rate;
        if (system->get_string() == "raw_sqlite") row.baseline = rate;
      }
    }
    // One producer: the paired run (the two taking turns in short slices, so a change of the
    // disk's pace falls on both) when the bench made one.
    const auto* paired = outbox ? at(*outbox, {"one_producer_paired"}) : nullptr;
    if (p.producers == 1 && paired != nullptr && paired->is_object()) {
      row.value = number(*outbox, {"one_producer_paired", "weighlink_mutations_per_s"});
      row.baseline = number(*outbox, {"one_producer_paired", "raw_sqlite_mutations_per_s"});
      row.note = "paired: the two taking turns";
    } else {
      row.note = p.note;
    }
    row.goal = at_least_ratio(p.goal);
    rows.push_back(judged(row));
  }
}

void memory_rows(const std::optional<json::object>& replay, std::vector<Row>& rows) {
  const json::object empty;
  const json::object& r = replay ? *replay : empty;
  Row steady = row_of("agent peak RSS, backend configured (station at work)", "MB",
                      number(r, {"agent_rss", "peak_rss_mb"}));
  steady.goal = at_most_value(12);
  rows.push_back(judged(steady));
  Row drain = row_of("agent peak RSS, backend configured (100 k drain)", "MB",
                     number(r, {"drain", "agent_peak_rss_mb"}));
  drain.goal = at_most_value(12);
  rows.push_back(judged(drain));
}

std::string figure(std::optional<double> v) {
  if (!v) return "-";
  char text[32];
  std::snprintf(text, sizeof text, *v >= 1000 ? "%.0f" : *v >= 10 ? "%.1f" : "%.3g", *v);
  return text;
}

}  // namespace

std::vector<Row> summarize(const Inputs& in) {
  std::vector<Row> rows;
  replay_rows(in.replay, rows);
  live_rows(in.live, rows);
  outbox_rows(in.outbox, rows);
  memory_rows(in.replay, rows);
  return rows;
}

std::string goal_text(const Row& row) {
  char text[48];
  const char* op = row.goal.compare == Goal::Compare::at_least ? ">=" : "<=";
  if (row.goal.on_ratio) {
    std::snprintf(text, sizeof text, "%s %.2f x", op, row.goal.target);
  } else {
    std::snprintf(text, sizeof text, "%s %g %s", op, row.goal.target, row.unit.c_str());
  }
  return text;
}

std::string format_table(const std::vector<Row>& rows) {
  std::string out;
  char line[400];
  std::snprintf(line, sizeof line, "%-54s %10s %10s %7s %11s %5s  %s\n", "measure", "weighlink",
                "baseline", "ratio", "goal", "met", "unit / baseline / note");
  out += line;
  for (const auto& row : rows) {
    std::string tail = row.unit;
    if (!row.baseline_name.empty()) tail += "; baseline: " + row.baseline_name;
    if (!row.note.empty()) tail += "; " + row.note;
    std::snprintf(line, sizeof line, "%-54s %10s %10s %7s %11s %5s  %s\n", row.measure.c_str(),
                  figure(row.value).c_str(), figure(row.baseline).c_str(),
                  row.ratio ? figure(row.ratio).c_str() : "-", goal_text(row).c_str(),
                  !row.met   ? "n/a"
                  : *row.met ? "yes"
                             : "NO",
                  tail.c_str());
    out += line;
  }
  return out;
}

json::array to_json(const std::vector<Row>& rows) {
  json::array out;
  auto opt = [](std::optional<double> v) { return v ? json::value(*v) : json::value(nullptr); };
  for (const auto& row : rows) {
    json::object o{{"measure", row.measure},
                   {"unit", row.unit},
                   {"value", opt(row.value)},
                   {"baseline", opt(row.baseline)},
                   {"ratio", opt(row.ratio)},
                   {"goal", goal_text(row)},
                   {"met", row.met ? json::value(*row.met) : json::value(nullptr)}};
    if (!row.baseline_name.empty()) o["baseline_name"] = row.baseline_name;
    if (!row.note.empty()) o["note"] = row.note;
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace weighlink::bench::summary
