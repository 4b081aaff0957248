// bench_replay's report: the drain's and the fan-in's tables, and their objects in replay.json.
#include <algorithm>
#include <boost/json/object.hpp>
#include <cstdio>

#include "replay_bench.hpp"

namespace weighlink::bench::replay {
namespace {

namespace json = boost::json;

json::object errors_json(const std::map<grpc::StatusCode, std::uint64_t>& errors) {
  json::object o;
  for (const auto& [code, count] : errors) o[code_name(code)] = count;
  return o;
}

std::string errors_text(const std::map<grpc::StatusCode, std::uint64_t>& errors) {
  if (errors.empty()) return "none";
  std::string text;
  for (const auto& [code, count] : errors) {
    if (!text.empty()) text += ", ";
    text += code_name(code) + " " + std::to_string(count);
  }
  return text;
}

std::uint64_t error_count(const std::map<grpc::StatusCode, std::uint64_t>& errors,
                          grpc::StatusCode code) {
  const auto it = errors.find(code);
  return it == errors.end() ? 0 : it->second;
}

json::array flags_json(const std::vector<std::string>& flags) {
  json::array a;
  for (const auto& f : flags) a.emplace_back(f);
  return a;
}

}  // namespace

json::value print_drain(const DrainResult& d, const Options& options) {
  std::printf(
      "\nDrain of a %zu-capture backlog and the agent's audit events (psql: batches of %zu rows,\n"
      "  one transaction each; weighlink: from the agent's start until high_water_seq is the\n"
      "  outbox's last seq; CPU s: psql, or agent +\n"
      "  backend; postgres: every server process of the cluster; others: the machine's busy CPU\n"
      "  seconds not accounted for by these (other work on the VM, this benchmark's polling);\n"
      "  idle and iowait: the machine's, both cores)\n",
      options.backlog, options.batch);
  std::printf("  %-40s %8s %8s %7s %10s %8s %8s %7s %5s\n", "run", "seconds", "mut/s", "CPU s",
              "postgres s", "others s", "idle s", "iowait", "load");
  json::array runs;
  for (const auto& r : d.runs) {
    std::printf("  %-40s %8.2f %8.0f %7.2f %10.2f %8.2f %8.2f %7.2f %5.2f\n", r.name.c_str(),
                r.seconds, r.per_s, r.client_cpu_s, r.postgres_cpu_s,
                std::max(0.0, r.machine.busy_s - r.client_cpu_s - r.postgres_cpu_s),
                r.machine.idle_s, r.machine.iowait_s, r.load_before);
    runs.push_back(json::object{{"name", r.name},
                                {"seconds", r.seconds},
                                {"mutations_per_s", r.per_s},
                                {"client_cpu_s", r.client_cpu_s},
                                {"postgres_cpu_s", r.postgres_cpu_s},
                                {"rows", r.rows},
                                {"machine_cpu", to_json(r.machine)},
                                {"load_average_before", r.load_before}});
  }
  // runs: 0 psql log, 1 psql both, 2 weighlink, 3 psql log again, 4 psql both again
  const double w = d.runs[2].per_s;
  const double log_mean = (d.runs[0].per_s + d.runs[3].per_s) / 2;
  const double both_mean = (d.runs[1].per_s + d.runs[4].per_s) / 2;
  std::printf(
      "  weighlink / psql mutation_log: %.2f (before %.2f, after %.2f; goal >= 0.6)\n"
      "  weighlink / psql mutation_log + weighings: %.2f (before %.2f, after %.2f)\n",
      w / log_mean, w / d.runs[0].per_s, w / d.runs[3].per_s, w / both_mean, w / d.runs[1].per_s,
      w / d.runs[4].per_s);
  std::printf(
      "  agent: ready file after %.2f s, first batch committed after %.2f s, CPU %.2f s, peak RSS "
      "%.1f MB; backend CPU %.2f s, peak RSS %.1f MB\n",
      d.agent_ready_s, d.first_row_s, d.agent_cpu_s, d.agent_peak_rss_mb, d.backend_cpu_s,
      d.backend_peak_rss_mb);
  std::printf("  backlog: %.0f-byte payloads on average, filled in %.1f s (%.0f captures/s)\n",
              d.payload_bytes_mean, d.fill.seconds,
              static_cast<double>(d.fill.captures) / d.fill.seconds);
  // Issue 21's goal rows: CPU per applied mutation (each row of the drain is one).
  const double drained = static_cast<double>(std::max<std::int64_t>(1, d.runs[2].rows));
  const double backend_us = d.backend_cpu_s * 1e6 / drained;
  const double postgres_us = d.runs[2].postgres_cpu_s * 1e6 / drained;
  const double psql_postgres_us =
      (d.runs[1].postgres_cpu_s + d.runs[4].postgres_cpu_s) * 1e6 /
      static_cast<double>(std::max<std::int64_t>(1, d.runs[1].rows + d.runs[4].rows));
  std::printf(
      "  CPU per mutation: backend %.1f us (goal <= 20), postgres %.1f us (goal <= 40; psql both: "
      "%.1f us)\n",
      backend_us, postgres_us, psql_postgres_us);
  print_statements(d.statements);
  return json::object{{"backlog", options.backlog},
                      {"backend_cpu_us_per_mutation", backend_us},
                      {"postgres_cpu_us_per_mutation", postgres_us},
                      {"psql_both_postgres_cpu_us_per_mutation", psql_postgres_us},
                      {"batch", options.batch},
                      {"backend_flags", flags_json(d.backend_flags)},
                      {"payload_bytes_mean", d.payload_bytes_mean},
                      {"fill", json::object{{"producers", options.producers},
                                            {"seconds", d.fill.seconds},
                                            {"captures", d.fill.captures},
                                            {"captures_per_s",
                                             static_cast<double>(d.fill.captures) / d.fill.seconds},
                                            {"retried", d.fill.retried}}},
                      {"runs", std::move(runs)},
                      {"agent_ready_s", d.agent_ready_s},
                      {"first_batch_committed_s", d.first_row_s},
                      {"agent_cpu_s", d.agent_cpu_s},
                      {"agent_peak_rss_mb", d.agent_peak_rss_mb},
                      {"backend_cpu_s", d.backend_cpu_s},
                      {"backend_peak_rss_mb", d.backend_peak_rss_mb},
                      {"ratio_weighlink_over_psql_log", w / log_mean},
                      {"ratio_weighlink_over_psql_log_before", w / d.runs[0].per_s},
                      {"ratio_weighlink_over_psql_log_after", w / d.runs[3].per_s},
                      {"ratio_weighlink_over_psql_both", w / both_mean},
                      {"pg_statements", statements_json(d.statements)}};
}

json::value print_fanin(const FaninResult& f, const Options& options) {
  const std::uint64_t target = options.stations * options.per_station;
  const auto re = grpc::StatusCode::RESOURCE_EXHAUSTED;
  const auto de = grpc::StatusCode::DEADLINE_EXCEEDED;
  std::string flags;
  for (const auto& s : f.backend_flags) flags += " " + s;
  std::printf(
      "\nFan-in: %zu stations x %zu mutations (%llu), all starting at once against one "
      "backend (serve%s)\n",
      options.stations, options.per_station, static_cast<unsigned long long>(target),
      flags.empty() ? " with default --workers and --max-queue" : flags.c_str());
  if (f.drained) {
    std::printf(
        "  drained in %.2f s (goal < 60 s): %.0f mutations/s; first station %.2f s, "
        "median %.2f s\n",
        f.drain_s, static_cast<double>(target) / f.drain_s, f.first_station_s, f.median_station_s);
  } else {
    std::printf("  NOT drained: %zu of %zu stations finished within %.0f s\n", f.stations_drained,
                options.stations, options.timeout_s);
  }
  std::printf(
      "  calls: Hello %llu, Replay %llu (%llu answered OK, %.1f mutations per answered "
      "batch; latency p50 %.1f ms, p99 %.1f ms, max %.1f ms)\n",
      static_cast<unsigned long long>(f.calls.hello_calls),
      static_cast<unsigned long long>(f.calls.replay_calls),
      static_cast<unsigned long long>(f.calls.replay_ok), f.mean_batch, f.latency_ms.p50,
      f.latency_ms.p99, f.latency_ms.max);
  std::printf("  errors: Hello: %s; Replay: %s\n", errors_text(f.calls.hello_errors).c_str(),
              errors_text(f.calls.replay_errors).c_str());
  for (const auto& [what, message] : f.calls.messages) {
    std::printf("    %s, e.g.: %s\n", what.c_str(), message.c_str());
  }
  std::printf(
      "  RESOURCE_EXHAUSTED %llu, DEADLINE_EXCEEDED %llu; retry-after hints honoured "
      "%llu; time in backoff %.0f station-seconds\n",
      static_cast<unsigned long long>(error_count(f.calls.hello_errors, re)) +
          static_cast<unsigned long long>(error_count(f.calls.replay_errors, re)),
      static_cast<unsigned long long>(error_count(f.calls.hello_errors, de)) +
          static_cast<unsigned long long>(error_count(f.calls.replay_errors, de)),
      static_cast<unsigned long long>(f.calls.retry_after_hints), f.waited_s_total);
  std::printf("  outcomes: applied %llu, duplicate %llu, rejected %llu\n",
              static_cast<unsigned long long>(f.calls.applied),
              static_cast<unsigned long long>(f.calls.duplicates),
              static_cast<unsigned long long>(f.calls.rejected));
  std::printf(
      "  backend metrics: overloaded_total %.0f, unavailable_total %.0f, batches %.0f, "
      "applied %.0f, duplicate %.0f\n",
      metric(f.metrics, "weighlink_backend_overloaded_total"),
      metric(f.metrics, "weighlink_backend_unavailable_total"),
      metric(f.metrics, "weighlink_backend_replay_batches_total"),
      metric(f.metrics, "weighlink_backend_mutations_total{outcome=\"applied\"}"),
      metric(f.metrics, "weighlink_backend_mutations_total{outcome=\"duplicate\"}"));
  std::printf("  backend RSS: %.1f MB idle, peak (VmHWM) %.1f MB, %.1f MB at the end\n",
              f.backend_idle_rss_mb, f.backend_peak_rss_mb, f.backend_rss_end_mb);
  std::printf(
      "  CPU s: backend %.1f, postgres %.1f, this process (the %zu clients) %.1f; load "
      "average %.2f before, %.2f after\n",
      f.backend_cpu_s, f.postgres_cpu_s, options.stations, f.bench_cpu_s, f.load_before,
      f.load_after);
  std::printf(
      "  machine (both cores, until the last station finished): busy %.1f s, of which "
      "others %.1f s; idle %.1f s, iowait %.1f s\n",
      f.machine.busy_s,
      std::max(0.0, f.machine.busy_s - f.backend_cpu_s - f.postgres_cpu_s - f.bench_cpu_s),
      f.machine.idle_s, f.machine.iowait_s);
  const bool exact = f.rows == static_cast<std::int64_t>(target) &&
                     f.weighings == static_cast<std::int64_t>(target) &&
                     f.stations_at_high_water == static_cast<std::int64_t>(options.stations);
  std::printf(
      "  PostgreSQL: %lld mutation_log rows, %lld weighings, %lld of %zu stations at "
      "high water %zu (min %lld, max %lld): %s\n",
      static_cast<long long>(f.rows), static_cast<long long>(f.weighings),
      static_cast<long long>(f.stations_at_high_water), options.stations, options.per_station,
      static_cast<long long>(f.min_high_water), static_cast<long long>(f.max_high_water),
      exact ? "exact" : "NOT EXACT");
  const double applied = static_cast<double>(std::max<std::uint64_t>(1, f.calls.applied));
  const double backend_us = f.backend_cpu_s * 1e6 / applied;
  const double postgres_us = f.postgres_cpu_s * 1e6 / applied;
  std::printf(
      "  CPU per applied mutation: backend %.1f us (goal <= 20), postgres %.1f us (goal <= 40)\n",
      backend_us, postgres_us);
  print_statements(f.statements);
  json::object metrics;
  for (const auto& [k, v] : f.metrics) {
    if (k.rfind("weighlink_backend_station_", 0) == 0) continue;  // per-station gauges
    if (k.find("_bucket{") != std::string::npos) continue;
    metrics[k] = v;
  }
  json::array timeline;
  for (auto v : f.acked_per_second) timeline.push_back(v);
  json::object messages;
  for (const auto& [k, v] : f.calls.messages) messages[k] = v;
  return json::object{
      {"stations", options.stations},
      {"per_station", options.per_station},
      {"batch", options.fanin_batch ? json::value(options.fanin_batch) : json::value("adaptive")},
      {"backend_flags", flags_json(f.backend_flags)},
      {"drained", f.drained},
      {"stations_drained", f.stations_drained},
      {"drain_s", f.drain_s},
      {"mutations_per_s", f.drained ? static_cast<double>(target) / f.drain_s : 0},
      {"first_station_s", f.first_station_s},
      {"median_station_s", f.median_station_s},
      {"hello_calls", f.calls.hello_calls},
      {"replay_calls", f.calls.replay_calls},
      {"replay_ok", f.calls.replay_ok},
      {"mean_batch", f.mean_batch},
      {"replay_latency_ms",
       json::object{
           {"p50", f.latency_ms.p50}, {"p99", f.latency_ms.p99}, {"max", f.latency_ms.max}}},
      {"hello_errors", errors_json(f.calls.hello_errors)},
      {"replay_errors", errors_json(f.calls.replay_errors)},
      {"error_messages", std::move(messages)},
      {"retry_after_hints", f.calls.retry_after_hints},
      {"backoff_station_seconds", f.waited_s_total},
      {"applied", f.calls.applied},
      {"duplicates", f.calls.duplicates},
      {"rejected", f.calls.rejected},
      {"backend_idle_rss_mb", f.backend_idle_rss_mb},
      {"backend_peak_rss_mb", f.backend_peak_rss_mb},
      {"backend_rss_end_mb", f.backend_rss_end_mb},
      {"backend_cpu_s", f.backend_cpu_s},
      {"postgres_cpu_s", f.postgres_cpu_s},
      {"backend_cpu_us_per_mutation", backend_us},
      {"postgres_cpu_us_per_mutation", postgres_us},
      {"bench_cpu_s", f.bench_cpu_s},
      {"load_average_before", f.load_before},
      {"load_average_after", f.load_after},
      {"machine_cpu", to_json(f.machine)},
      {"rows", f.rows},
      {"weighings", f.weighings},
      {"stations_at_high_water", f.stations_at_high_water},
      {"exact", exact},
      {"backend_metrics", std::move(metrics)},
      {"acknowledged_by_second", std::move(timeline)},
      {"pg_statements", statements_json(f.statements)}};
}

}  // namespace weighlink::bench::replay
