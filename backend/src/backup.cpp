// weighlink-backend backup: pg_dump -Fc of the database, and beside it a manifest whose row counts
// and station high waters come from the very snapshot the dump was taken from
// (pg_export_snapshot, then pg_dump --snapshot), so that verify-backup can compare a restore with
// them exactly (SPEC §6; docs/operations.md, "Backups").
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "pg_tools.hpp"
#include "weighlink/backend/commands.hpp"
#include "weighlink/backend/pg.hpp"

namespace weighlink::backend {
namespace {

int fail(const std::string& what) {
  std::cerr << "weighlink-backend: backup: " << what << "\n";
  return kExitFailure;
}

}  // namespace

int run_backup(const std::string& dsn, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail("cannot create " + dir + ": " + ec.message());

  // The snapshot: held open (REPEATABLE READ) until pg_dump has taken it and the counts are read.
  PgConnection db(dsn);
  if (!db.ensure_connected() || !db.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")) {
    return fail("cannot reach PostgreSQL at " + db.target() + " (" + db.last_error() +
                "); check --dsn and that the server is running");
  }
  auto info = db.exec(
      "SELECT pg_export_snapshot(), current_setting('server_version'), "
      "current_setting('server_version_num'), current_database()");
  if (!info) return fail("cannot export a snapshot: " + db.last_error());
  const std::string snapshot(info->get(0, 0));
  const std::string server_version(info->get(0, 1));
  const std::string server_version_num(info->get(0, 2));

  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d_%H%M%S", &utc);
  char iso[32];
  std::strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &utc);
  const auto base = std::filesystem::path(dir) / ("weighlink_" + std::string(stamp));
  const auto dump = base.string() + ".dump";
  const auto partial = dump + ".partial";
  const auto manifest_file = base.string() + ".manifest.json";
  if (std::filesystem::exists(dump)) return fail(dump + " exists already; try again in a second");

  // Row counts of every table of the public schema, in the snapshot.
  boost::json::object counts;
  auto tables = db.exec(
      "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
  if (!tables) return fail("cannot list the tables: " + db.last_error());
  for (int i = 0; i < tables->rows(); ++i) {
    const std::string table(tables->get(i, 0));
    auto n = db.exec("SELECT count(*) FROM public." + table);
    if (!n) return fail("cannot count " + table + ": " + db.last_error());
    counts[table] = std::stoll(std::string(n->get(0, 0)));
  }
  boost::json::object high_water;
  if (auto stations = db.exec("SELECT id, high_water_seq FROM stations ORDER BY id")) {
    for (int i = 0; i < stations->rows(); ++i) {
      high_water[std::string(stations->get(i, 0))] = std::stoll(std::string(stations->get(i, 1)));
    }
  } else {
    return fail("cannot read the stations (is the database migrated?): " + db.last_error());
  }

  const auto started = std::chrono::steady_clock::now();
  const std::string pg_dump = pg_program_for("pg_dump", server_version_num);
  const auto dumped = run_program({pg_dump, "--format=custom", "--snapshot=" + snapshot,
                                   "--file=" + partial, "--dbname=" + dsn});
  (void)db.exec("COMMIT");
  if (dumped.status != 0) {
    std::filesystem::remove(partial, ec);
    if (dumped.status < 0) {
      return fail("cannot run " + pg_dump + "; install postgresql-client-" +
                  server_major(server_version_num) +
                  " (pg_dump must be at least the server's version) or put pg_dump on PATH");
    }
    return fail("pg_dump failed (exit " + std::to_string(dumped.status) + "): " + dumped.errors);
  }
  const double dump_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const auto size = std::filesystem::file_size(partial, ec);
  const auto sha = file_sha256(partial);
  if (ec || !sha) {
    std::filesystem::remove(partial, ec);
    return fail("cannot read back " + partial);
  }

  boost::json::object manifest{{"format", "weighlink-backup/1"},
                               {"dump", std::filesystem::path(dump).filename().string()},
                               {"size_bytes", static_cast<std::int64_t>(size)},
                               {"sha256", *sha},
                               {"created_at", iso},
                               {"server_version", server_version},
                               {"snapshot", snapshot},
                               {"row_counts", counts},
                               {"station_high_water", high_water},
                               {"dump_seconds", dump_s}};
  {
    std::ofstream out(manifest_file + ".partial", std::ios::trunc);
    out << boost::json::serialize(manifest) << "\n";
    out.flush();
    if (!out) {
      std::filesystem::remove(partial, ec);
      std::filesystem::remove(manifest_file + ".partial", ec);
      return fail("cannot write " + manifest_file + "; check the space left in " + dir);
    }
  }
  // The dump first, then its manifest: a manifest never names a dump that is not complete.
  std::filesystem::rename(partial, dump, ec);
  if (!ec) std::filesystem::rename(manifest_file + ".partial", manifest_file, ec);
  if (ec) return fail("cannot rename into place: " + ec.message());
  std::cout << "backup " << dump << ": " << size << " bytes in " << dump_s << " s, sha256 " << *sha
            << ", " << counts.size() << " tables, " << high_water.size() << " stations\n"
            << manifest_file << "\n";
  return kExitOk;
}

}  // namespace weighlink::backend
