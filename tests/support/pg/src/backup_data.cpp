#include "weighlink/testing/backup_data.hpp"

#include <stdexcept>

#include "weighlink/base/timestamp.hpp"
#include "weighlink/testing/backend.hpp"
#include "weighlink/testing/pg_cluster.hpp"
#include "weighlink/testing/process.hpp"

namespace weighlink::testing {

boost::json::object read_json(const std::filesystem::path& path) {
  return boost::json::parse(read_file(path)).as_object();
}

ScratchDir::ScratchDir() {
  std::filesystem::permissions(dir_.path(), std::filesystem::perms::owner_all |
                                                std::filesystem::perms::group_exec |
                                                std::filesystem::perms::others_exec);
}

void seed_captures(const PgCluster& pg, int per_station) {
  migrate(pg.dsn());
  for (int i = 0; i < 3; ++i) (void)add_station(pg.dsn(), "st" + std::to_string(i));
  const auto n = std::to_string(per_station);
  (void)pg.query_scalar(
      "INSERT INTO mutation_log (station_id, idempotency_key, seq, kind, payload, payload_sha256, "
      "outcome, created_at) SELECT 'st' || s, 'key-' || g, g, 'weighing.captured', "
      "jsonb_build_object('weight', (g * 20)::text), md5(g::text), 'applied', now() "
      "FROM generate_series(0, 2) s, generate_series(1, " +
      n + ") g");
  (void)pg.query_scalar(
      "INSERT INTO weighings (station_id, idempotency_key, scale, weight, unit, mode, captured_at) "
      "SELECT station_id, idempotency_key, 'main', (seq * 20)::numeric, 'kg', 'gross', now() "
      "FROM mutation_log");
  (void)pg.query_scalar("UPDATE stations SET high_water_seq = " + n);
}

std::string VerifyRun::code() const {
  return report.contains("code") ? std::string(report.at("code").as_string()) : "";
}

VerifyRun verify_backup_with_report(const std::vector<std::string>& args,
                                    const std::filesystem::path& report) {
  std::error_code ec;
  std::filesystem::remove(report, ec);  // a report left from a run before proves nothing
  std::vector<std::string> argv = {bin("weighlink-backend"), "verify-backup", "--report",
                                   report.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  VerifyRun v;
  const auto r = run(argv, std::chrono::seconds(300));
  v.exit_code = r.exit_code;
  v.output = r.output;
  if (std::filesystem::exists(report)) {
    v.report = boost::json::parse(read_file(report)).as_object();
  }
  return v;
}

VerifyRun verify_backup(const std::filesystem::path& dir, const std::vector<std::string>& args) {
  std::vector<std::string> all = {"--dir", dir.string()};
  all.insert(all.end(), args.begin(), args.end());
  return verify_backup_with_report(all,
                                   dir.parent_path() / (dir.filename().string() + ".report.json"));
}

std::filesystem::path backdate_backup(const std::filesystem::path& manifest_file,
                                      std::chrono::seconds by) {
  auto manifest = read_json(manifest_file);
  const auto created = base::parse_utc_timestamp(manifest.at("created_at").as_string());
  if (!created) throw std::runtime_error("no created_at in " + manifest_file.string());
  const auto at = *created - by.count();
  const std::string name = "weighlink_" + base::format_utc_file_stamp(at);
  const auto dir = manifest_file.parent_path();
  const auto dump = dir / std::string(manifest.at("dump").as_string());
  manifest["dump"] = name + ".dump";
  manifest["created_at"] = base::format_utc_timestamp(at);
  auto moved = dir / (name + ".manifest.json");
  std::filesystem::rename(dump, dir / (name + ".dump"));
  write_text(moved, boost::json::serialize(manifest) + "\n");
  if (moved != manifest_file) std::filesystem::remove(manifest_file);
  return moved;
}

}  // namespace weighlink::testing
