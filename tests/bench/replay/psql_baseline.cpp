// bench_replay, part 1's baseline: the same rows loaded by psql's batched INSERT ... ON CONFLICT.
#include <sys/resource.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <chrono>
#include <fstream>
#include <span>
#include <stdexcept>
#include <string_view>

#include "replay_bench.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/base/timestamp.hpp"

namespace weighlink::bench::replay {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
namespace wt = weighlink::testing;

std::string quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('\'');
  for (char c : text) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string quote_or_null(std::string_view text) {
  return text.empty() ? std::string("NULL") : quote(text);
}

// '2026-11-21T03:00:07.123Z'
std::string timestamp_literal(std::int64_t unix_ms) {
  return quote(base::format_utc_timestamp_ms(
      std::chrono::system_clock::time_point(std::chrono::milliseconds(unix_ms))));
}

std::string json_text(const json::object& o, std::string_view key) {
  if (const auto* v = o.if_contains(key); v && v->is_string()) return std::string(v->as_string());
  return {};
}

// The columns the backend writes for one row (backend/service/src/pg_store.cpp), as SQL literals.
struct SqlRow {
  std::string log;       // (station_id, idempotency_key, seq, ..., applied_at)
  std::string weighing;  // (station_id, idempotency_key, scale, ..., captured_at); "" if none
};

SqlRow sql_row(const sync::OutboxRow& row, std::int64_t applied_at_ms) {
  SqlRow out;
  const std::string station = quote(kDrainStation);
  const std::string key = quote(row.idempotency_key);
  const std::string created =
      row.created_at_ms != 0 ? timestamp_literal(row.created_at_ms) : std::string("NULL");
  // The payload once, as the exact text (schema v7: payload, the jsonb column, stays NULL).
  out.log = "(" + station + "," + key + "," + std::to_string(row.seq) + "," + quote(row.kind) +
            "," + quote(base::sha256_hex(row.kind + "\n" + row.payload_json)) + ",'applied',NULL," +
            created + "," + timestamp_literal(applied_at_ms) + "," + quote(row.payload_json) + ")";
  if (row.kind != "weighing.captured") return out;
  const auto value = json::parse(row.payload_json);
  const auto& o = value.as_object();
  const std::string raw = json_text(o, "raw");
  const std::string raw_hex =
      base::to_hex(std::span(reinterpret_cast<const unsigned char*>(raw.data()), raw.size()));
  std::string reading_seq = "NULL";
  if (const auto* v = o.if_contains("reading_seq"); v && v->is_number()) {
    reading_seq = std::to_string(v->to_number<std::uint64_t>());
  }
  const std::string tare = json_text(o, "tare");
  out.weighing = "(" + station + "," + key + "," + quote(json_text(o, "scale")) + "," +
                 quote(json_text(o, "weight")) + "," + quote(json_text(o, "unit")) + "," +
                 quote(json_text(o, "mode")) + "," + quote_or_null(tare) + "," + reading_seq + "," +
                 quote_or_null(json_text(o, "reading_ts")) + "," +
                 (raw_hex.empty() ? std::string("NULL") : "'\\x" + raw_hex + "'") + "," +
                 quote_or_null(json_text(o, "operator")) + ",NULL,NULL," +
                 quote_or_null(json_text(o, "signature")) + "," +
                 quote_or_null(json_text(o, "agent_version")) + "," + created + ")";
  return out;
}

constexpr const char* kLogColumns =
    "(station_id, idempotency_key, seq, kind, payload_sha256, outcome, reason, "
    "created_at, applied_at, payload_text)";
constexpr const char* kWeighingColumns =
    "(station_id, idempotency_key, scale, weight, unit, mode, tare, reading_seq, reading_ts, raw, "
    "operator_id, decks, axles, signature, agent_version, captured_at)";

// One INSERT ... VALUES ... ON CONFLICT DO NOTHING per batch of `batch` rows: with `weighings`,
// BEGIN; both tables; COMMIT (one transaction per batch either way; psql autocommits otherwise).
void write_script(const fs::path& file, const std::string& schema, const std::vector<SqlRow>& rows,
                  std::size_t batch, bool weighings) {
  std::ofstream out(file, std::ios::trunc);
  for (std::size_t first = 0; first < rows.size(); first += batch) {
    const std::size_t last = std::min(rows.size(), first + batch);
    if (weighings) out << "BEGIN;\n";
    out << "INSERT INTO " << schema << ".mutation_log " << kLogColumns << " VALUES\n";
    for (std::size_t i = first; i < last; ++i) {
      out << rows[i].log << (i + 1 < last ? ",\n" : "\n");
    }
    out << "ON CONFLICT DO NOTHING;\n";
    if (weighings) {
      bool any = false;
      for (std::size_t i = first; i < last; ++i) {
        if (rows[i].weighing.empty()) continue;
        out << (any ? ",\n"
                    : std::string("INSERT INTO ") + schema + ".weighings " + kWeighingColumns +
                          " VALUES\n")
            << rows[i].weighing;
        any = true;
      }
      if (any) out << "\nON CONFLICT DO NOTHING;\n";
      out << "COMMIT;\n";
    }
  }
  out.close();
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

TimedRun run_psql(const wt::PgCluster& pg, BenchDb& db, const std::string& name,
                  const fs::path& script, const std::string& schema, std::size_t expected,
                  bool weighings) {
  db.scalar("TRUNCATE " + schema + ".mutation_log CASCADE");
  db.scalar("CHECKPOINT");
  TimedRun r;
  r.name = name;
  r.load_before = load_average();
  const pid_t master = postmaster_pid(pg);
  const double pg_before = postgres_cpu_s(master);
  const double children_before = rusage_cpu_s(RUSAGE_CHILDREN);
  const MachineCpu machine_before = machine_cpu();
  const auto start = Clock::now();
  const auto result = wt::run(
      {"/usr/lib/postgresql/15/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
       "-p", std::to_string(pg.port()), "-U", "postgres", "-d", "weighlink", "-f", script.string()},
      std::chrono::seconds(3600));
  r.seconds = seconds_since(start);
  r.machine = machine_cpu() - machine_before;
  r.client_cpu_s = rusage_cpu_s(RUSAGE_CHILDREN) - children_before;
  r.postgres_cpu_s = postgres_cpu_s(master) - pg_before;
  if (result.exit_code != 0) {
    throw std::runtime_error("psql failed (exit " + std::to_string(result.exit_code) +
                             "): " + result.output.substr(0, 2000));
  }
  r.rows = db.number("SELECT count(*) FROM " + schema + ".mutation_log");
  if (weighings) {
    // The backlog's captures; the agent's own audit events have no weighing.
    const auto w = db.number("SELECT count(*) FROM " + schema + ".weighings");
    const auto captures = db.number("SELECT count(*) FROM " + schema +
                                    ".mutation_log WHERE kind = 'weighing.captured'");
    if (w != captures) {
      throw std::runtime_error(name + ": " + std::to_string(w) + " weighings, expected " +
                               std::to_string(captures));
    }
  }
  if (r.rows != static_cast<std::int64_t>(expected)) {
    throw std::runtime_error(name + ": " + std::to_string(r.rows) + " rows, expected " +
                             std::to_string(expected));
  }
  r.per_s = static_cast<double>(expected) / r.seconds;
  return r;
}

}  // namespace

void write_psql_scripts(BenchDb& db, const std::vector<sync::OutboxRow>& rows, const fs::path& dir,
                        std::size_t batch) {
  const auto applied_at = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  std::vector<SqlRow> sql_rows;
  sql_rows.reserve(rows.size());
  for (const auto& row : rows) sql_rows.push_back(sql_row(row, applied_at));
  // Copies of the backend's tables: same columns, defaults, checks, indexes and foreign keys.
  db.scalar(R"sql(
CREATE SCHEMA psql_log;
CREATE TABLE psql_log.mutation_log (LIKE public.mutation_log INCLUDING ALL);
ALTER TABLE psql_log.mutation_log ADD FOREIGN KEY (station_id) REFERENCES public.stations (id);
CREATE SCHEMA psql_both;
CREATE TABLE psql_both.mutation_log (LIKE public.mutation_log INCLUDING ALL);
ALTER TABLE psql_both.mutation_log ADD FOREIGN KEY (station_id) REFERENCES public.stations (id);
CREATE TABLE psql_both.weighings (LIKE public.weighings INCLUDING ALL);
ALTER TABLE psql_both.weighings ADD FOREIGN KEY (station_id, idempotency_key)
  REFERENCES psql_both.mutation_log (station_id, idempotency_key);
)sql");
  write_script(dir / "log.sql", "psql_log", sql_rows, batch, false);
  write_script(dir / "both.sql", "psql_both", sql_rows, batch, true);
}

void run_psql_pair(const wt::PgCluster& pg, BenchDb& db, const fs::path& dir, std::size_t expected,
                   const char* suffix, std::vector<TimedRun>& runs) {
  runs.push_back(run_psql(pg, db, std::string("psql, mutation_log") + suffix, dir / "log.sql",
                          "psql_log", expected, false));
  runs.push_back(run_psql(pg, db, std::string("psql, mutation_log + weighings") + suffix,
                          dir / "both.sql", "psql_both", expected, true));
}

}  // namespace weighlink::bench::replay
