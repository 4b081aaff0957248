// Backup, verify and restore of a weighlink database of about --gb GB (default 1), against a bare
// `pg_restore -j2` of the same dump into the same kind of disposable cluster, in the same run:
//   backup        weighlink-backend backup (pg_dump -Fc + manifest): MB/s of database and of dump
//   baseline      pg_restore -j2 into an empty database of a fresh scratch cluster
//   verify        weighlink-backend verify-backup (size, format walk, sha256, scratch cluster,
//                 split-section restore with --jobs 2, VACUUM ANALYZE, counts, orphan sweep)
//   restore       weighlink-backend restore --jobs 2 into an empty database of the source server
// The goal (issue 8): verify ≤ 1.3 × the baseline. Prints a table; --json FILE writes the figures.
#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "bench_util.hpp"
#include "weighlink/recovery/scratch_cluster.hpp"
#include "weighlink/testing/backend.hpp"
#include "weighlink/testing/pg_cluster.hpp"
#include "weighlink/testing/process.hpp"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
namespace wt = weighlink::testing;
using weighlink::bench::Clock;
using weighlink::bench::seconds_since;

struct Options {
  double gb = 1.0;
  int jobs = 2;
  std::string json_file;
};

Options parse(int argc, char** argv) {
  Options o;
  weighlink::bench::Flags flags;
  flags.values = {
      {"--gb", [&](const std::string& v) { o.gb = std::stod(v); }},
      {"--jobs", [&](const std::string& v) { o.jobs = std::stoi(v); }},
      {"--json", [&](const std::string& v) { o.json_file = v; }},
  };
  weighlink::bench::parse_flags(argc, argv, flags,
                                "usage: bench_backup [--gb 1.0] [--jobs 2] [--json FILE]");
  if (o.gb <= 0 || o.gb > 64 || o.jobs < 1) {
    throw std::invalid_argument("--gb must be in (0, 64], --jobs at least 1");
  }
  return o;
}

double mb(double bytes) { return bytes / 1e6; }

// Fills the database in batches of captures (log row, weighing, two decks) until it reaches
// `target_bytes`: the shape of a weighbridge's backend after years of traffic.
void fill(wt::PgCluster& pg, double target_bytes) {
  wt::migrate(pg.dsn());
  const int stations = 50;
  for (int i = 0; i < stations; ++i) {
    (void)wt::add_station(pg.dsn(), "st" + std::to_string(i));
  }
  const int per_batch = 4000;  // per station
  int seq = 0;
  while (true) {
    const auto size = std::stod(pg.query_scalar("SELECT pg_database_size(current_database())"));
    std::printf("\r  filling: %.0f of %.0f MB", mb(size), mb(target_bytes));
    std::fflush(stdout);
    if (size >= target_bytes) break;
    const std::string from = std::to_string(seq + 1);
    const std::string to = std::to_string(seq + per_batch);
    (void)pg.query_scalar(
        "INSERT INTO mutation_log (station_id, idempotency_key, seq, kind, payload, "
        "payload_sha256, outcome, created_at, prev_hash, record_hash, signature) "
        "SELECT 'st' || s, 'cap-' || s || '-' || g, g, 'weighing.captured', "
        "jsonb_build_object('scale', 'deck-a', 'weight', (g % 60000)::text, 'unit', 'kg', "
        "'operator', 'op' || (g % 17), 'plate', 'KDA ' || (g % 997) || 'X'), "
        "md5(g::text) || md5(s::text), 'applied', now(), md5((g - 1)::text), md5(g::text), "
        "md5(s::text || g::text) "
        "FROM generate_series(0, " +
        std::to_string(stations - 1) + ") s, generate_series(" + from + ", " + to + ") g");
    (void)pg.query_scalar(
        "INSERT INTO weighings (station_id, idempotency_key, scale, weight, unit, mode, "
        "reading_seq, raw, operator_id, captured_at, weighing_type, gvw) "
        "SELECT station_id, idempotency_key, 'deck-a', (seq % 60000)::numeric, 'kg', 'gross', seq, "
        "convert_to('ST,GS,+' || lpad((seq % 60000)::text, 7, '0') || 'kg', 'UTF8'), "
        "'op' || (seq % 17), now(), 'static', (seq % 60000)::numeric "
        "FROM mutation_log WHERE seq BETWEEN " +
        from + " AND " + to);
    (void)pg.query_scalar(
        "INSERT INTO weighing_decks (station_id, idempotency_key, deck, weight, stable) "
        "SELECT station_id, idempotency_key, d, (reading_seq % 30000)::numeric, true "
        "FROM weighings, generate_series(1, 2) d WHERE reading_seq BETWEEN " +
        from + " AND " + to);
    seq += per_batch;
  }
  (void)pg.query_scalar("UPDATE stations SET high_water_seq = " + std::to_string(seq));
  (void)pg.query_scalar("VACUUM ANALYZE");
  std::printf("\n");
}

struct Timed {
  double seconds = 0;
  std::string output;
};

Timed timed(const std::vector<std::string>& argv) {
  const auto started = Clock::now();
  const auto r = wt::run(argv, std::chrono::hours(3));
  Timed t{seconds_since(started), r.output};
  if (r.exit_code != 0) throw std::runtime_error(argv[0] + " " + argv[1] + " failed: " + r.output);
  return t;
}

int run(const Options& options) {
  const double load_before = weighlink::bench::load_average();
  wt::TempDir root("wl-bench-backup");
  wt::PgCluster pg(wt::PgClusterOptions{true});
  std::printf("bench_backup: about %.2f GB, pg_restore --jobs %d, %u hardware threads\n",
              options.gb, options.jobs, std::thread::hardware_concurrency());
  const auto fill_started = Clock::now();
  fill(pg, options.gb * 1e9);
  const double fill_s = seconds_since(fill_started);
  const double db_bytes = std::stod(pg.query_scalar("SELECT pg_database_size(current_database())"));
  const auto rows = pg.query_scalar("SELECT count(*) FROM mutation_log");

  // Backup.
  const auto dir = root / "backups";
  const auto backup =
      timed({wt::bin("weighlink-backend"), "backup", "--dsn", pg.dsn(), "--dir", dir.string()});
  fs::path dump;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".dump") dump = e.path();
  }
  const double dump_bytes = static_cast<double>(fs::file_size(dump));

  // Baseline: a bare pg_restore -j2 into a fresh disposable cluster like verify's.
  double baseline_s = 0;
  {
    auto started_cluster = weighlink::recovery::ScratchCluster::start({});
    if (!started_cluster)
      throw std::runtime_error("scratch cluster: " + started_cluster.error().message);
    const auto& scratch = *started_cluster;
    const auto started = Clock::now();
    (void)timed({(fs::path(scratch->bin_dir()) / "pg_restore").string(), "--no-owner",
                 "--no-privileges", "--exit-on-error", "--jobs=" + std::to_string(options.jobs),
                 "--dbname=" + scratch->dsn("postgres"), dump.string()});
    baseline_s = seconds_since(started);
  }

  // verify-backup, with its own cluster, end to end.
  const auto report_file = root / "verify.json";
  const auto verify =
      timed({wt::bin("weighlink-backend"), "verify-backup", "--dir", dir.string(), "--report",
             report_file.string(), "--jobs", std::to_string(options.jobs)});
  const auto report = json::parse(wt::read_file(report_file)).as_object();

  // restore into an empty database of the source server.
  (void)pg.query_scalar("CREATE DATABASE restored");
  const auto restore = timed({wt::bin("weighlink-backend"), "restore", "--file", dump.string(),
                              "--dsn", pg.dsn("restored"), "--jobs", std::to_string(options.jobs)});

  const double ratio = verify.seconds / baseline_s;
  std::printf("\n%-52s %10s %12s\n", "", "seconds", "MB/s");
  std::printf("%-52s %10.1f %12s\n", "fill (not measured against anything)", fill_s, "");
  std::printf("%-52s %10.1f %6.1f db %5.1f dump\n", "backup (pg_dump -Fc + manifest)",
              backup.seconds, mb(db_bytes) / backup.seconds, mb(dump_bytes) / backup.seconds);
  std::printf("%-52s %10.1f %6.1f db %5.1f dump\n", "baseline: bare pg_restore -j2", baseline_s,
              mb(db_bytes) / baseline_s, mb(dump_bytes) / baseline_s);
  std::printf("%-52s %10.1f %6.1f db %5.1f dump\n", "verify-backup (end to end)", verify.seconds,
              mb(db_bytes) / verify.seconds, mb(dump_bytes) / verify.seconds);
  for (const auto& [step, seconds] : report.at("durations").as_object()) {
    std::printf("    %-48s %10.2f\n", std::string(step).c_str(), seconds.to_number<double>());
  }
  std::printf("%-52s %10.1f %6.1f db %5.1f dump\n", "restore (weighlink-backend restore -j2)",
              restore.seconds, mb(db_bytes) / restore.seconds, mb(dump_bytes) / restore.seconds);
  std::printf(
      "\ndatabase %.0f MB (%s captures), dump %.0f MB; verify / baseline = %.2f x "
      "(goal <= 1.3); load average %.2f before\n",
      mb(db_bytes), rows.c_str(), mb(dump_bytes), ratio, load_before);

  if (!options.json_file.empty()) {
    json::object out{{"database_bytes", db_bytes},
                     {"dump_bytes", dump_bytes},
                     {"captures", std::stoll(rows)},
                     {"jobs", options.jobs},
                     {"backup_s", backup.seconds},
                     {"baseline_pg_restore_s", baseline_s},
                     {"verify_s", verify.seconds},
                     {"verify_steps", report.at("durations")},
                     {"restore_s", restore.seconds},
                     {"verify_over_baseline", ratio},
                     {"backup_db_mb_s", mb(db_bytes) / backup.seconds},
                     {"restore_db_mb_s", mb(db_bytes) / restore.seconds},
                     {"load_average_before", load_before}};
    if (!weighlink::bench::write_json(options.json_file, out))
      throw std::runtime_error("cannot write " + options.json_file);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return weighlink::bench::bench_main("bench_backup", argc, argv, parse, run, 1);
}
