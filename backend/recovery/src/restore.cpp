// weighlink-backend restore: a custom-format dump (backup's) into an empty database, one section
// at a time with pg_restore (pre-data on one connection, then data and post-data with --jobs), so
// that each phase is timed and a failure names its phase; then ANALYZE, the migrations this binary
// knows, and a new generation, which tells every agent that the database was restored (SPEC §5,
// §6; ../shared/reference/backup-anchors.md §2.5; docs/operations.md, "Restore").
#include "weighlink/recovery/restore.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "command_clock.hpp"
#include "pg_tools.hpp"
#include "restore_steps.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/pg/pg.hpp"
#include "weighlink/recovery/backup_catalog.hpp"
#include "weighlink/recovery/commands.hpp"
#include "weighlink/recovery/dump_archive.hpp"

namespace weighlink::recovery {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The schemas a restore fills or --force drops: all but pg_catalog, information_schema, the
// pg_toast and temporary ones.
constexpr std::string_view kUserSchema =
    "n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'";

struct SchemaContents {
  std::string schema;
  long long relations = 0;
  std::string names;  // the first few, for the message
};

// Tables, views, sequences... in every non-system schema of the target.
pg::Result<std::vector<SchemaContents>> target_contents(pg::PgConnection& db) {
  auto rows = db.exec(
      "SELECT n.nspname, count(c.oid), "
      "       coalesce(string_agg(c.relname, ', ' ORDER BY c.relname), '') "
      "FROM pg_namespace n "
      "LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r','p','v','m','f','S') "
      "WHERE " +
      std::string(kUserSchema) + " GROUP BY n.nspname ORDER BY n.nspname");
  if (!rows) return rows.error();
  std::vector<SchemaContents> out;
  for (int i = 0; i < rows->rows(); ++i) {
    SchemaContents s{std::string(rows->get(i, 0)), std::stoll(std::string(rows->get(i, 1))),
                     std::string(rows->get(i, 2))};
    if (const auto cut = s.names.rfind(", ", 120); s.names.size() > 120 && cut != s.names.npos) {
      s.names = s.names.substr(0, cut) + ", ...";
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::string describe(const std::vector<SchemaContents>& contents) {
  std::string out;
  for (const auto& s : contents) {
    if (s.relations == 0) continue;
    out += (out.empty() ? "" : "; ") + std::string("schema ") + s.schema + " holds " +
           std::to_string(s.relations) + " relations (" + s.names + ")";
  }
  return out;
}

// Other weighlink-backend sessions on the target (a serve still running, a backup), by the
// application_name every weighlink-backend connection sets unless its DSN names another: a
// restore under a live backend would apply mutations into a half-restored database. Those of a
// backend that was just stopped take a moment to leave pg_stat_activity: they are given 3 s.
pg::Result<std::string> weighlink_sessions(pg::PgConnection& db) {
  const auto deadline = Clock::now() + std::chrono::seconds(3);
  while (true) {
    auto r = db.exec(
        "SELECT count(*), "
        "coalesce(string_agg(DISTINCT coalesce(host(client_addr), 'local'), ', '), '') "
        "FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND application_name = 'weighlink-backend'");
    if (!r) return r.error();
    if (r->get(0, 0) == "0") return std::string();
    if (Clock::now() >= deadline) {
      return std::string(r->get(0, 0)) + " sessions from " + std::string(r->get(0, 1));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// --force: empties the target by dropping every non-system schema with what it holds (CASCADE)
// and creating `public` again as initdb makes it on PostgreSQL 15 (owned by pg_database_owner,
// USAGE for everyone), in one transaction: any error (a lock held elsewhere runs into
// lock_timeout) leaves the target exactly as it was.
// Why not the alternatives: DROP OWNED BY the restoring role misses objects other roles own (a
// separate migration role), revokes that role's privileges on shared objects (other databases,
// tablespaces) for the whole cluster, and fails for a superuser; DROP DATABASE and CREATE
// DATABASE need a connection to another database of the cluster and CREATEDB, and lose the
// database's own settings and grants, which a dump without --create does not bring back. A
// schema drop reaches nothing outside the database of --dsn.
pg::Result<std::string> empty_target(pg::PgConnection& db,
                                     const std::vector<SchemaContents>& contents) {
  pg::PgTransaction transaction(db);
  if (auto begun = transaction.begin(); !begun) return begun.error();
  std::string dropped;
  for (const auto& s : contents) {
    auto quoted = db.exec("SELECT quote_ident($1)", {s.schema});
    if (!quoted) return quoted.error();
    if (auto r = db.exec("DROP SCHEMA " + std::string(quoted->get(0, 0)) + " CASCADE"); !r) {
      return r.error();
    }
    dropped += (dropped.empty() ? "" : ", ") + s.schema + " (" + std::to_string(s.relations) +
               " relations)";
  }
  if (auto r = db.exec("CREATE SCHEMA public; ALTER SCHEMA public OWNER TO pg_database_owner; "
                       "GRANT USAGE ON SCHEMA public TO PUBLIC; "
                       "COMMENT ON SCHEMA public IS 'standard public schema'");
      !r) {
    return r.error();
  }
  if (auto committed = transaction.commit(); !committed) return committed.error();
  return dropped.empty() ? std::string("nothing to drop") : "dropped schema " + dropped;
}

// Why `file` is not a complete custom-format dump to restore (with the exit code: 2 for a file
// that is not a dump at all, 1 for one cut short), or nullopt when it is one. The archive is
// walked to its last data block (dump_archive.hpp) before anything is touched.
std::optional<RestoreFailure> not_a_dump_file(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    return RestoreFailure{
        kExitUsage, "--file " + file.string() + " is not a file (" +
                        (ec ? ec.message() : std::string("a directory or special file")) + ")"};
  }
  auto source = FileArchiveSource::open(file.string());
  if (!source) {
    return RestoreFailure{kExitUsage,
                          "cannot read " + file.string() + ": " + source.error().message()};
  }
  const auto inspection = inspect_dump(**source);
  switch (inspection.verdict) {
    case DumpVerdict::custom_ok:
      return std::nullopt;
    case DumpVerdict::plain_ok:
      return RestoreFailure{kExitUsage, file.string() +
                                            " is not a pg_dump custom-format dump: it is a plain "
                                            "SQL dump (restore that with psql)"};
    case DumpVerdict::truncated:
    case DumpVerdict::unreadable:
      return RestoreFailure{kExitFailure, file.string() + " is cut short or damaged: " +
                                              inspection.detail + "; the target was not touched"};
    case DumpVerdict::not_a_dump:
      break;
  }
  return RestoreFailure{kExitUsage, file.string() + " is not a pg_dump custom-format dump: it is " +
                                        inspection.detail};
}

// The file as it is now against what backup recorded beside it: why it must not be restored
// (copied short, altered, or a manifest without a checksum), or nullopt; `note` says what was
// checked.
std::optional<std::string> manifest_mismatch(const fs::path& file, const std::string& sha,
                                             std::string* note) {
  // The manifest backup writes beside DIR/weighlink_*.dump.
  const auto base = dump_base(file.filename().string());
  const auto manifest_file = file.parent_path() / manifest_name(file.filename().string());
  std::error_code ec;
  if (base.empty() || !fs::exists(manifest_file, ec)) {
    *note = "no manifest beside it";
    return std::nullopt;
  }
  std::ifstream in(manifest_file, std::ios::binary);
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const auto manifest = parse_manifest(text);
  if (!manifest) {
    return "the manifest " + manifest_file.string() + " beside the dump cannot be read (" +
           manifest.error().message + "); move it away to restore without the checksum check";
  }
  if (manifest->sha256 != sha) {
    return file.string() + " has sha256 " + sha + " but its manifest " + manifest_file.string() +
           " records " + manifest->sha256 +
           ": the file changed or was cut short after the backup; copy it again or restore "
           "another dump (target not touched)";
  }
  *note = "matches its manifest";
  return std::nullopt;
}

// pg_restore of the server's major version, on one dump.
struct PgRestore {
  std::string program;
  std::string server_version_num;
  fs::path file;
};

// Runs pg_restore with `args` on the dump (with the options every phase takes); nullopt when it
// succeeded, else why `phase` failed: pg_restore's own lines (which name the failing TOC entry,
// the object) and `then`, what to do.
std::optional<std::string> run_phase(const PgRestore& tool, std::string_view phase,
                                     const std::vector<std::string>& args, std::string_view then,
                                     ProgramRun* ran) {
  std::vector<std::string> argv = {tool.program, "--exit-on-error", "--no-owner", "--no-privileges",
                                   "--no-password"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(tool.file.string());
  const auto started = Clock::now();
  *ran = run_program(argv);
  if (ran->status < 0) {
    return "cannot run " + tool.program + "; install postgresql-client-" +
           server_major(tool.server_version_num) +
           " (pg_restore must be at least the version of the pg_dump that wrote the dump) or put "
           "pg_restore on PATH";
  }
  if (ran->status == 0) return std::nullopt;
  return "phase " + std::string(phase) + " failed after " + fixed(seconds_since(started)) +
         " s (pg_restore exit " + std::to_string(ran->status) +
         "): " + condense_errors(ran->errors) + "; " + std::string(then);
}

// The check phase, with no server: the archive's table of contents is a weighlink database's (it
// has public.schema_migrations), and the whole archive reads to the end (script mode into
// /dev/null decompresses every block). A wrong or damaged file is refused before --force drops
// anything.
std::optional<RestoreFailure> check_archive(const PgRestore& tool) {
  constexpr std::string_view kDamaged =
      "the dump is damaged or cut short and the target was not touched: restore another dump "
      "(one verify-backup passed)";
  ProgramRun ran;
  if (auto failed = run_phase(tool, "check", {"--list"}, kDamaged, &ran))
    return RestoreFailure{.message = *failed};
  if (ran.output.find(" TABLE public schema_migrations ") == std::string::npos) {
    return RestoreFailure{kExitUsage,
                          tool.file.string() +
                              " is a pg_dump archive, but not of a weighlink database (it has "
                              "no table public.schema_migrations); pass a weighlink_*.dump "
                              "that backup wrote. The target was not touched"};
  }
  if (auto failed = run_phase(tool, "check", {"--file=/dev/null"}, kDamaged, &ran)) {
    return RestoreFailure{.message = *failed};
  }
  return std::nullopt;
}

}  // namespace

void throw_exception_from_error(const RestoreFailure& failure, const boost::source_location&) {
  throw std::runtime_error(failure.message);
}

RestoreResult restore_dump(const RestoreOptions& options, std::ostream& progress) {
  const auto fail = [](int code, std::string what) {
    return RestoreFailure{code, std::move(what)};
  };
  const fs::path file = options.file;
  if (auto problem = not_a_dump_file(file)) {
    return fail(problem->exit_code,
                problem->message + "; pass a weighlink_*.dump that backup wrote (pg_dump -Fc)");
  }
  std::error_code ec;
  const auto size = fs::file_size(file, ec);

  pg::PgConnection db(options.dsn, pg::PgConnection::Session::maintenance);
  if (!db.ensure_connected()) {
    return fail(kExitFailure, "cannot reach PostgreSQL at " + db.target() + " (" + db.last_error() +
                                  "); check --dsn and that the server is running");
  }
  const std::string target = db.target();
  auto info = db.exec("SELECT current_setting('server_version_num')");
  if (!info) return fail(kExitFailure, "cannot read the server version: " + db.last_error());
  const std::string server_version_num(info->get(0, 0));

  auto sessions = weighlink_sessions(db);
  if (!sessions) return fail(kExitFailure, "cannot list the sessions: " + db.last_error());
  if (!sessions->empty()) {
    return fail(kExitFailure, "another weighlink-backend is connected to " + target + " (" +
                                  *sessions +
                                  "): stop `weighlink-backend serve` (every replica) and running "
                                  "backups first; agents keep their mutations meanwhile");
  }
  auto contents = target_contents(db);
  if (!contents) return fail(kExitFailure, "cannot look into the target: " + db.last_error());
  const std::string held = describe(*contents);
  if (!held.empty() && !options.force) {
    return fail(kExitFailure,
                "the target " + target + " is not empty: " + held +
                    "; restore into an empty database, or pass --force to drop what it holds "
                    "(every schema of that database, nothing outside it)");
  }

  // The file as it is now against what backup recorded: a copy cut short or altered on its way
  // is refused before anything is dropped.
  const auto sha = base::file_sha256(file);
  if (!sha) return fail(kExitFailure, "cannot read " + options.file);
  std::string checksum_note;
  if (auto mismatch = manifest_mismatch(file, *sha, &checksum_note)) {
    return fail(kExitFailure, *mismatch);
  }
  if (!options.expected_sha256.empty()) {
    if (*sha != options.expected_sha256) {
      return fail(kExitFailure, file.string() + " has sha256 " + *sha + ", not the expected " +
                                    options.expected_sha256 +
                                    ": the copy is not the dump that was verified (cut short or "
                                    "altered on its way); the target was not touched");
    }
    checksum_note += checksum_note.empty() ? "" : ", ";
    checksum_note += "matches the expected sha256";
  }

  const PgRestore tool{pg_program_for("pg_restore", server_version_num), server_version_num, file};
  progress << "restore " << options.file << " (" << fixed(size / 1e6) << " MB, sha256 " << *sha
           << ", " << checksum_note << ") into " << target << " with " << tool.program << ", "
           << options.jobs << " jobs" << std::endl;
  const auto restore_started = Clock::now();
  if (auto failed = check_archive(tool)) return *failed;
  progress << "check: " << fixed(seconds_since(restore_started)) << " s" << std::endl;

  if (!held.empty()) {
    auto emptied = empty_target(db, *contents);
    if (!emptied) {
      return fail(kExitFailure, "cannot empty the target " + target + " (--force): " +
                                    db.last_error() + "; the target was not changed");
    }
    progress << "emptied the target (--force): " << *emptied << std::endl;
  }

  const std::string partly =
      "the target is left partly restored: fix the cause, then run restore again with --force "
      "(it empties the target first)";
  const auto run = restore_into(db, options.dsn,
                                {tool.program, file, static_cast<int>(options.jobs),
                                 file.filename().string() + " sha256 " + *sha},
                                [&](const RestoreStep& step) {
                                  if (step.name == "generation")
                                    return;  // printed last, with the summary
                                  progress << step.name << ": " << fixed(step.seconds) << " s";
                                  if (step.name == "data" && step.seconds > 0) {
                                    progress << " (" << fixed(size / 1e6 / step.seconds, 1)
                                             << " MB/s of dump)";
                                  } else if (step.name == "migrate") {
                                    progress << " (" << step.detail << ")";
                                  }
                                  progress << std::endl;
                                });
  if (!run.ok()) {
    return fail(kExitFailure, run.error + "; " +
                                  (run.failed_step == "generation"
                                       ? "run restore again with --force before serving this "
                                         "database (agents would not notice the restore)"
                                       : partly));
  }
  double sections_s = 0;
  for (const auto& step : run.steps) {
    if (step.name == "pre-data" || step.name == "data" || step.name == "post-data") {
      sections_s += step.seconds;
    }
  }
  const double total = seconds_since(restore_started);
  progress << "restored " << fixed(size / 1e6) << " MB of dump in " << fixed(total) << " s ("
           << fixed(sections_s > 0 ? size / 1e6 / sections_s : 0, 1)
           << " MB/s through pre-data, data and post-data); new generation " << run.generation
           << " (the dump's was " << (run.dump_generation.empty() ? "none" : run.dump_generation)
           << "): agents re-send what the dump lacks at their next Hello" << std::endl;
  return RestoredDump{
      target,           *sha, run.generation, run.dump_generation, run.schema_before,
      run.schema_after, total};
}

int run_restore(const RestoreOptions& options, const base::Console& console,
                const FetchSource& source) {
  const auto restored = source.locations.empty()
                            ? restore_dump(options, console.out)
                            : restore_from_location(options, source, console.out);
  if (!restored) {
    console.err << "weighlink-backend: restore: " << restored.error().message << "\n";
    return restored.error().exit_code;
  }
  console.out << restored->generation << std::endl;  // the last line
  return kExitOk;
}

}  // namespace weighlink::recovery
