// weighlink-backend verify-backup: see verify_backup.hpp for the steps and codes, and
// docs/operations.md for what an operator does about each. The checks are verify_checks.cpp; the
// textfile and code names verify_report.cpp; here the run around them: the allowlist and the
// locations, promotion, durable_seq, notification and the report.
#include "weighlink/recovery/verify_backup.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "verify_internal.hpp"
#include "weighlink/base/file_write.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/recovery/notify.hpp"

namespace weighlink::recovery {
namespace {

using verify::Candidate;
using verify::Clock;
using verify::Report;
namespace fs = std::filesystem;
namespace json = boost::json;

// Moves each station's durable_seq up to what the verified dump holds, when the production
// database is still the generation the dump was taken from (after a restore from an older dump,
// a newer dump of the old generation holds seqs the database does not: agents must keep them).
json::object raise_durable_seq(const std::string& dsn, const Candidate& c) {
  json::object out;
  pg::PgConnection db(dsn);
  if (!db.ensure_connected()) {
    out["moved"] = false;
    out["detail"] = "cannot reach --dsn " + db.target() + ": " + db.last_error() +
                    "; durable_seq stays where it was (agents keep their rows longer)";
    return out;
  }
  auto generation = db.exec("SELECT value FROM backend_meta WHERE key = 'generation'");
  if (!generation || generation->rows() != 1) {
    out["moved"] = false;
    out["detail"] = "cannot read the database's generation: " + db.last_error();
    return out;
  }
  const std::string current(generation->get(0, 0));
  if (c.restored_generation.empty() || c.restored_generation != current) {
    out["moved"] = false;
    out["detail"] =
        "the database is generation " + current + " but the dump is of generation " +
        (c.restored_generation.empty() ? std::string("(none)") : c.restored_generation) +
        " (it was restored since): durable_seq is not moved";
    return out;
  }
  std::int64_t moved = 0;
  for (const auto& [station, high_water] : c.restored_high_water) {
    auto r = db.exec(
        "UPDATE stations SET durable_seq = LEAST($2::bigint, high_water_seq) "
        "WHERE id = $1 AND durable_seq < LEAST($2::bigint, high_water_seq)",
        {station, std::to_string(high_water)});
    if (!r) {
      out["moved"] = false;
      out["detail"] = "cannot update durable_seq of " + station + ": " + db.last_error();
      return out;
    }
    if (auto n = db.exec("SELECT 1 FROM stations WHERE id = $1 AND durable_seq = LEAST($2::bigint, "
                         "high_water_seq)",
                         {station, std::to_string(high_water)});
        n && n->rows() == 1) {
      ++moved;
    }
  }
  out["moved"] = true;
  out["stations"] = moved;
  out["detail"] = "durable_seq of " + std::to_string(moved) + " stations is what the dump holds";
  return out;
}

}  // namespace

int run_verify_backup(const VerifyOptions& o, const base::Console& console) {
  ScratchCluster::remove_on_signals();
  Report report;
  // Bad usage first: nothing runs on a wrong allowlist, checks file or pattern.
  const auto read_text = [&](const std::string& path, std::string_view flag,
                             std::string& text) -> bool {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      console.err << "weighlink-backend: verify-backup: cannot read " << flag << " " << path
                  << "\n";
      return false;
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
    return true;
  };
  auto soft_keys = builtin_soft_foreign_keys();
  if (!o.soft_fk_allowlist.empty()) {
    std::string text;
    if (!read_text(o.soft_fk_allowlist, "--soft-fk-allowlist", text)) return kExitUsage;
    if (auto applied = apply_soft_fk_allowlist(text, o.soft_fk_allowlist, soft_keys); !applied) {
      console.err << "weighlink-backend: verify-backup: " << applied.error().message << "\n";
      return kExitUsage;
    }
  }
  VerifyChecks settings;
  settings.soft_keys = soft_keys;
  if (!o.checks.empty()) {
    std::string text;
    if (!read_text(o.checks, "--checks", text)) return kExitUsage;
    auto parsed = parse_verify_checks(text, o.checks, soft_keys);
    if (!parsed) {
      console.err << "weighlink-backend: verify-backup: " << parsed.error().message << "\n";
      return kExitUsage;
    }
    settings = std::move(*parsed);
    soft_keys = settings.soft_keys;
  }
  const auto parsed_patterns = parse_dump_patterns(o.patterns);
  if (!parsed_patterns) {
    console.err << "weighlink-backend: verify-backup: --pattern: "
                << parsed_patterns.error().message << "\n";
    return kExitUsage;
  }
  const auto& patterns = *parsed_patterns;
  std::vector<Location> locations;
  for (const auto& spec : o.locations) {
    auto location = parse_location(spec);
    if (!location) {
      console.err << "weighlink-backend: verify-backup: " << location.error().message << "\n";
      return kExitUsage;
    }
    locations.push_back(*location);
  }

  std::optional<Candidate> candidate;
  std::optional<SizeVerdict> size;
  std::optional<VerifiedLatest> latest;
  auto t = Clock::now();
  auto reachable = open_first_reachable(locations);
  std::unique_ptr<Store> store;
  std::size_t used = 0;
  if (!reachable) {
    report.step("locate", false, seconds_since(t), reachable.error().message);
    // A local folder that cannot be read is not an offsite endpoint being down.
    const bool any_remote = std::any_of(locations.begin(), locations.end(),
                                        [](const Location& l) { return l.remote(); });
    report.fail(any_remote ? VerifyCode::offsite_endpoint_down : VerifyCode::could_not_run,
                reachable.error().message);
  } else {
    store = std::move(reachable->store);
    used = reachable->index;
    report.set("location", json::string(store->location().display()));
    const std::string how = describe_fallback(*reachable);
    if (!reachable->skipped.empty()) report.note(how);
    report.step("locate", true, seconds_since(t), how);
    verify::Run checks{console,  o,  report, *store, reachable->entries, soft_keys, settings,
                       patterns, {}, {},     {}};
    verify::run_checks(checks);
    candidate = std::move(checks.candidate);
    size = std::move(checks.size);
    latest = std::move(checks.latest);
  }

  // Promotion: only a dump that passed everything.
  if (report.passed()) {
    const auto& m = candidate->manifest;
    const auto now = unix_now();
    const VerifiedLatest pointer{m.dump, m.sha256, m.created_at, now};
    // verified-latest only moves forward (by manifest time): verifying an older dump again
    // (--file, or two runs overlapping) records it as verified but never moves the pointer
    // back, which would point recoveries at a dump older than what durable_seq let agents prune.
    const auto promote_in = [&](Store& where, bool& moved) -> OffsiteResult<void> {
      moved = false;
      auto record =
          where.write_small(verified_name(m.dump), json::serialize(report.to_json()) + "\n");
      if (!record) return record;
      if (auto current = where.read_small(std::string(kVerifiedLatest))) {
        if (auto existing = parse_verified_latest(*current);
            existing && existing->created_at > m.created_at) {
          return {};
        }
      }
      auto written = where.write_small(std::string(kVerifiedLatest), to_json(pointer));
      moved = written.has_value();
      return written;
    };
    bool moved = false;
    if (auto promoted = promote_in(*store, moved); !promoted) {
      report.fail(VerifyCode::could_not_run,
                  "the dump passed but cannot be promoted: " + promoted.error().message);
    } else {
      if (moved) latest = pointer;
      report.step("promote", true, 0,
                  moved ? m.dump + " is verified-latest"
                        : m.dump + " is verified; verified-latest stays on a newer dump");
      // The other locations that hold the same dump (the on-site mirror) learn it too, so that
      // their retention keeps it, when their copy is the same file (sha256; a local copy is
      // hashed, a remote one would have to be downloaded and is left to its own verification).
      for (std::size_t i = 0; i < locations.size(); ++i) {
        if (i == used) continue;
        if (locations[i].remote()) {
          report.note("not promoted in " + locations[i].display() +
                      ": its copy would have to be downloaded to be compared; verify it there");
          continue;
        }
        const auto copy = fs::path(locations[i].spec) / m.dump;
        std::error_code ec;
        if (!fs::exists(copy, ec)) continue;
        if (base::file_sha256(copy) != m.sha256) {
          report.note("not promoted in " + locations[i].display() + ": its copy of " + m.dump +
                      " differs from the verified one (sha256)");
          continue;
        }
        auto other = open_store(locations[i]);
        bool other_moved = false;
        auto copied = promote_in(*other, other_moved);
        report.note(copied ? "also promoted in " + locations[i].display()
                           : "not promoted in " + locations[i].display() + ": " +
                                 copied.error().message);
      }
      // durable_seq lets agents prune: only for a dump that is now verified-latest where
      // recoveries look first (the primary location).
      if (!o.dsn.empty()) {
        if (!candidate->has_manifest) {
          report.set("durable_seq",
                     json::object{{"moved", false},
                                  {"detail",
                                   "not a weighlink backup (no manifest): durable_seq "
                                   "moves only for dumps of weighlink-backend backup"}});
        } else if (moved && used == 0) {
          report.set("durable_seq", raise_durable_seq(o.dsn, *candidate));
        } else {
          report.set("durable_seq",
                     json::object{{"moved", false},
                                  {"detail", moved ? "verified through a fallback: durable_seq "
                                                     "moves when the primary location is verified"
                                                   : "not verified-latest (a newer dump is): "
                                                     "durable_seq is not moved"}});
        }
      }
    }
  }

  // Notify, then the report (with the notification's outcome) and the textfile.
  if (!o.notify_url.empty()) {
    NotifyPolicy policy;
    policy.attempts = static_cast<std::uint32_t>(o.notify_attempts);
    policy.backoff_base = std::chrono::milliseconds(o.notify_backoff_ms);
    const auto outcome = post_notification(o.notify_url, json::serialize(report.to_json()), policy);
    json::object notify = to_json(outcome);
    if (!outcome.delivered) {
      notify["code"] = "NOTIFY_FAILED";
      console.err << "weighlink-backend: verify-backup: NOTIFY_FAILED: " << outcome.error
                  << " (the verdict stands)\n";
    }
    report.set("notify", notify);
  }
  const auto final_report = json::serialize(report.to_json()) + "\n";
  if (!o.report.empty()) {
    if (auto written = base::write_file_atomically(o.report, final_report, 0644); !written) {
      console.err << "weighlink-backend: verify-backup: " << written.error().message
                  << " (--report)\n";
    }
  }
  verify::write_textfile(console, o, report, candidate ? &*candidate : nullptr, size, latest);

  console.out << "verify-backup " << report.verdict() << ": " << code_name(report.code());
  if (candidate) console.out << " " << candidate->manifest.dump;
  console.out << "\n";
  if (!report.passed()) {
    console.err << "weighlink-backend: verify-backup: " << code_name(report.code()) << ": "
                << report.detail() << "\n";
  }
  return report.exit_code();
}

}  // namespace weighlink::recovery
