// weighlink-backend drill: see drill.hpp for the steps and exit codes, docs/operations.md
// ("Restore drill") for what is measured and what an operator does about a failed drill.
#include "weighlink/recovery/drill.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <ostream>
#include <sstream>
#include <string_view>
#include <thread>

#include "command_clock.hpp"
#include "drill_probes.hpp"
#include "pg_tools.hpp"
#include "restore_steps.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/base/subprocess.hpp"
#include "weighlink/pg/evidence_sql.hpp"
#include "weighlink/pg/pg.hpp"
#include "weighlink/recovery/backup_catalog.hpp"
#include "weighlink/recovery/commands.hpp"
#include "weighlink/recovery/offsite.hpp"
#include "weighlink/recovery/scratch_cluster.hpp"

namespace weighlink::recovery {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

// The smoke's station, made in the restored copy: "drill-smoke-<Unix time>", so that it cannot
// collide with a station of the dump.
constexpr std::string_view kStationPrefix = "drill-smoke-";
// SIGTERM, then this long before SIGKILL (serve gives calls in flight 5 s).
constexpr auto kStopGrace = std::chrono::seconds(10);
constexpr auto kProbeTimeout = std::chrono::milliseconds(2000);
constexpr auto kProbeInterval = std::chrono::milliseconds(50);
constexpr auto kStationAddDeadline = std::chrono::seconds(60);

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

// The end of a log on one line, for a failure's detail.
std::string log_tail(const fs::path& file, std::size_t max_bytes = 600) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.size() > max_bytes) text = "..." + text.substr(text.size() - max_bytes);
  return text.empty() ? "(empty)" : text;
}

// Tools' and servers' output on one line: line breaks become " | ".
std::string one_line(std::string_view text) {
  std::string out;
  bool in_break = false;
  for (const char c : text) {
    if (c == '\n' || c == '\r') {
      in_break = true;
      continue;
    }
    if (in_break && !out.empty()) out += " | ";
    in_break = false;
    out.push_back(c);
  }
  return out;
}

// What `station add` printed last: the token.
std::string last_line_of(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text.substr(text.rfind('\n') + 1);
}

// Appends `line` and a newline in one write (O_APPEND: whole lines even with several writers)
// and fsyncs it: the record of a drill must survive the machine that ran it going down.
bool append_line(const fs::path& file, const std::string& line, std::string& error) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = "cannot open " + file.string() + ": " + std::strerror(errno);
    return false;
  }
  const std::string text = line + "\n";
  const ssize_t n = ::write(fd, text.data(), text.size());
  const bool ok = n == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  if (!ok) error = "cannot write " + file.string() + ": " + std::strerror(errno);
  ::close(fd);
  return ok;
}

// The drill's steps, each filling the record; the first failure stops the rest.
class Drill {
 public:
  Drill(const DrillOptions& options, std::vector<Location> locations)
      : o_(options), locations_(std::move(locations)) {
    record_.started_at = unix_now();
    record_.host = host_name();
  }
  ~Drill() { tear_down(); }
  Drill(const Drill&) = delete;
  Drill& operator=(const Drill&) = delete;

  // Every step in order; false at the first that failed (the record says which and why).
  bool run() { return locate() && start_scratch() && fetch() && restore() && serve() && smoke(); }
  // Stops the backend (SIGTERM, SIGKILL after kStopGrace) and removes the disposable cluster.
  void tear_down() {
    if (backend_) {
      const auto stopped = backend_->terminate(kStopGrace);
      if (stopped.killed) {
        record_.notes.push_back("the drill's backend did not stop within " +
                                std::to_string(kStopGrace.count()) +
                                " s of SIGTERM and was killed");
      } else if (stopped.exit_status != 0 && record_.exit_code == 0) {
        record_.notes.push_back("the drill's backend exited with status " +
                                std::to_string(stopped.exit_status) + " on SIGTERM");
      }
      backend_.reset();
    }
    cluster_.reset();
  }
  [[nodiscard]] DrillRecord& record() { return record_; }
  [[nodiscard]] const std::string& smoke_summary() const { return smoke_summary_; }

 private:
  bool fail(int exit_code, std::string step, const std::string& detail) {
    record_.exit_code = exit_code;
    record_.failed_step = std::move(step);
    record_.failure = one_line(detail);
    return false;
  }

  // The folder (or the first reachable fallback) and its verified-latest.
  bool locate() {
    auto found = find_verified_latest(locations_);
    if (!found) {
      return fail(kExitFailure, "locate",
                  found.error().message + "; check --dir and --fallback, then drill again");
    }
    if (!found->reachable.skipped.empty()) {
      record_.notes.push_back(describe_fallback(found->reachable));
    }
    store_ = std::move(found->reachable.store);
    record_.location = store_->location().display();
    if (!found->pointer) {
      return fail(kExitFailure, "pick",
                  "no readable verified-latest in " + record_.location + " (" + found->why +
                      "): a drill restores only a dump verify-backup passed; run "
                      "`weighlink-backend verify-backup --dir " +
                      record_.location + "` first");
    }
    latest_ = *found->pointer;
    record_.dump = latest_.dump;
    record_.dump_sha256 = latest_.sha256;
    record_.dump_created_at = latest_.created_at;
    return true;
  }

  bool start_scratch() {
    const auto started = Clock::now();
    ScratchOptions options;
    options.parent = o_.scratch_dir;
    auto cluster = ScratchCluster::start(options);
    record_.scratch_s = seconds_since(started);
    if (!cluster) {
      return fail(kExitFailure, "scratch",
                  "cannot start the disposable cluster: " + cluster.error().message);
    }
    cluster_ = std::move(*cluster);
    return true;
  }

  // The RTO clock starts here: a recovery starts by getting the dump.
  bool fetch() {
    rto_started_ = Clock::now();
    auto fetched = store_->fetch(latest_.dump, cluster_->dir() / latest_.dump);
    if (!fetched) {
      if (fetched.error().code == OffsiteErrc::not_found) {
        return fail(kExitDrillFailed, "fetch",
                    "verified-latest names " + latest_.dump + " but " + record_.location +
                        " has no such file: the verified dump is gone (removed by hand or by "
                        "another tool); run backup and verify-backup now");
      }
      return fail(kExitFailure, "fetch",
                  "cannot fetch " + latest_.dump + ": " + fetched.error().message);
    }
    dump_path_ = *fetched;
    sha256_ = base::file_sha256(dump_path_).value_or("");
    record_.fetch_s = seconds_since(rto_started_);
    if (sha256_.empty()) return fail(kExitFailure, "fetch", "cannot read " + dump_path_.string());
    if (sha256_ != latest_.sha256) {
      return fail(kExitDrillFailed, "fetch",
                  "sha256 of " + latest_.dump + " is " + sha256_ + " but verified-latest records " +
                      latest_.sha256 +
                      ": the dump changed after verify-backup passed it (damaged in storage or "
                      "replaced), so the newest verified backup cannot be restored; run backup "
                      "and verify-backup now, and find what altered the file");
    }
    return true;
  }

  // What `restore` does, into a database of the disposable cluster.
  bool restore() {
    const auto started = Clock::now();
    {
      pg::PgConnection admin(cluster_->dsn("postgres"));
      if (!admin.ensure_connected() || !admin.exec("CREATE DATABASE weighlink")) {
        record_.restore_s = seconds_since(started);
        return fail(kExitFailure, "restore",
                    "cannot create a database in the disposable cluster: " + admin.last_error());
      }
    }
    dsn_ = cluster_->dsn("weighlink");
    pg::PgConnection db(dsn_, pg::PgConnection::Session::maintenance);
    if (!db.ensure_connected()) {
      record_.restore_s = seconds_since(started);
      return fail(kExitFailure, "restore",
                  "cannot connect to the disposable cluster: " + db.last_error());
    }
    const std::string pg_restore = cluster_->bin_dir().empty()
                                       ? "pg_restore"
                                       : (fs::path(cluster_->bin_dir()) / "pg_restore").string();
    const auto run = restore_into(
        db, dsn_,
        {pg_restore, dump_path_, o_.jobs, latest_.dump + " sha256 " + sha256_ + " (restore drill)"},
        [&](const RestoreStep& step) {
          record_.restore_steps.emplace_back(step.name, step.seconds);
        });
    record_.restore_s = seconds_since(started);
    if (!run.ok()) {
      return fail(kExitDrillFailed, "restore_" + run.failed_step,
                  run.error + "; the newest verified dump does not restore on this binary");
    }
    record_.schema = std::to_string(run.schema_before) + " -> " + std::to_string(run.schema_after);
    generation_ = run.generation;
    return evidence(db);
  }

  // The restored records' images (evidence files) are there whole, as verify-backup checks them:
  // a drill that brings back rows without their images has not recovered the evidence.
  bool evidence(pg::PgConnection& db) {
    auto listed = db.exec(std::string(pg::kAttachmentsSelectSql));
    if (!listed) {
      return fail(kExitFailure, "evidence",
                  "cannot read the restored evidence files: " + db.last_error());
    }
    int present = 0;
    for (int i = 0; i < listed->rows(); ++i) {
      const auto a = pg::attachment_row(*listed, i);
      if (!a.ok()) {
        return fail(kExitDrillFailed, "evidence",
                    "record seq " + std::to_string(a.seq) + " of station " + a.station_id +
                        " lists evidence file " + a.sha256 + ": " + a.state + " (" + a.detail +
                        "); see EVIDENCE_MISSING in docs/operations.md");
      }
      present += a.state == "present" ? 1 : 0;
    }
    record_.notes.push_back(std::to_string(present) + " images of restored records present");
    return true;
  }

  // This binary's `serve` on the restored database, until /readyz answers 200.
  bool serve() {
    const auto started = Clock::now();
    const auto ready_file = cluster_->dir() / "drill-backend.ready";
    log_file_ = cluster_->dir() / "drill-backend.log";
    auto spawned = base::ChildProcess::spawn(
        {o_.self, "serve", "--dsn", dsn_, "--grpc-listen", "127.0.0.1:0", "--http-listen",
         "127.0.0.1:0", "--ready-file", ready_file.string(), "--workers", "2"},
        log_file_);
    if (!spawned) {
      return fail(kExitFailure, "ready", "cannot start the backend: " + spawned.error().message);
    }
    backend_ = std::move(*spawned);
    const auto deadline = started + std::chrono::seconds(o_.ready_timeout_s);
    std::string last = "no ready file yet";
    while (true) {
      if (const auto status = backend_->poll()) {
        return fail(kExitDrillFailed, "ready",
                    "the backend exited with status " + std::to_string(*status) +
                        " before /readyz answered 200; its log ends: " + log_tail(log_file_));
      }
      if (http_.empty()) read_ready_file(ready_file);
      if (!http_.empty()) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        const auto answer =
            http_get(http_, "/readyz", std::clamp(left, kProbeInterval, kProbeTimeout));
        if (answer.status == 200) break;
        last = answer.status != 0 ? "/readyz answered " + std::to_string(answer.status) + " " +
                                        answer.body.substr(0, 200)
                                  : "/readyz: " + answer.error;
      }
      if (Clock::now() >= deadline) {
        return fail(kExitDrillFailed, "ready",
                    "the backend was not ready within --ready-timeout " +
                        std::to_string(o_.ready_timeout_s) + " s (last: " + last +
                        "); its log ends: " + log_tail(log_file_));
      }
      std::this_thread::sleep_for(kProbeInterval);
    }
    record_.ready_s = seconds_since(started);
    record_.rto_s = seconds_since(rto_started_);
    return true;
  }

  void read_ready_file(const fs::path& file) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    boost::system::error_code ec;
    const auto ready = json::parse(text.str(), ec);
    if (ec || !ready.is_object()) return;
    const auto* http = ready.get_object().if_contains("http");
    const auto* grpc = ready.get_object().if_contains("grpc");
    if (http == nullptr || grpc == nullptr || !http->is_string() || !grpc->is_string()) return;
    http_ = std::string(http->get_string());
    grpc_ = std::string(grpc->get_string());
  }

  // A station in the restored database, then Hello, a mutation and its re-send over gRPC.
  bool smoke() {
    const auto started = Clock::now();
    base::CommandOptions options;
    options.deadline = kStationAddDeadline;
    const std::string station = std::string(kStationPrefix) + std::to_string(record_.started_at);
    const auto added =
        base::run_command({o_.self, "station", "add", "--dsn", dsn_, "--id", station}, options);
    if (!added.ok()) {
      record_.smoke_s = seconds_since(started);
      return fail(kExitDrillFailed, "smoke",
                  "station add on the restored database failed (exit " +
                      std::to_string(added.exit_status) + (added.timed_out ? ", timed out" : "") +
                      "): " + last_line_of(added.err));
    }
    SmokeTarget target;
    target.grpc_address = grpc_;
    target.station_id = station;
    target.token = last_line_of(added.out);
    target.generation = generation_;
    const auto smoked = smoke_sync_service(target);
    record_.smoke_s = seconds_since(started);
    if (!smoked.ok()) {
      return fail(kExitDrillFailed, "smoke",
                  smoked.detail +
                      "; the restored backend does not serve agents as it should; its "
                      "log ends: " +
                      log_tail(log_file_));
    }
    smoke_summary_ = smoked.detail;
    return true;
  }

  const DrillOptions& o_;
  std::vector<Location> locations_;
  DrillRecord record_;
  std::unique_ptr<Store> store_;
  VerifiedLatest latest_;
  // Declared before backend_: the backend stops before its database goes.
  std::unique_ptr<ScratchCluster> cluster_;
  std::unique_ptr<base::ChildProcess> backend_;
  Clock::time_point rto_started_;
  fs::path dump_path_;
  std::string sha256_;
  std::string dsn_;
  std::string generation_;
  fs::path log_file_;
  std::string http_;
  std::string grpc_;
  std::string smoke_summary_;
};

std::string figure(const char* name, const std::optional<double>& seconds) {
  return std::string(name) + " " + (seconds ? fixed(*seconds) + " s" : std::string("-"));
}

void print_summary(const base::Console& console, const DrillRecord& r,
                   const std::string& smoke_summary, const fs::path& ops_log, bool logged) {
  if (r.passed) {
    console.out << "drill pass: " << r.dump;
  } else {
    console.out << "drill FAIL (" << (r.exit_code == kExitDrillFailed ? "" : "could not run, ")
                << "sev-2) at step " << r.failed_step << ": " << r.failure << "\n  dump "
                << (r.dump.empty() ? std::string("none") : r.dump);
  }
  if (r.dump_created_at)
    console.out << " (taken " << format_utc_timestamp(*r.dump_created_at) << ")";
  if (!r.location.empty()) console.out << " from " << r.location;
  console.out << "\n";
  if (r.scratch_s) {
    console.out << "  disposable cluster " << fixed(*r.scratch_s) << " s (not part of the RTO)\n";
  }
  if (r.fetch_s) {
    console.out << "  " << figure("fetch", r.fetch_s) << ", " << figure("restore", r.restore_s);
    if (!r.restore_steps.empty()) {
      console.out << " (";
      for (std::size_t i = 0; i < r.restore_steps.size(); ++i) {
        console.out << (i ? ", " : "") << r.restore_steps[i].first << " "
                    << fixed(r.restore_steps[i].second);
      }
      if (!r.schema.empty()) console.out << "; schema " << r.schema;
      console.out << ")";
    }
    console.out << ", " << figure("ready", r.ready_s) << ", " << figure("smoke", r.smoke_s) << "\n";
  }
  if (r.rto_s) console.out << "  RTO " << fixed(*r.rto_s) << " s (from the fetch to /readyz 200)\n";
  if (!smoke_summary.empty()) console.out << "  smoke: " << smoke_summary << "\n";
  for (const auto& note : r.notes) console.out << "  note: " << note << "\n";
  console.out << "  " << (logged ? "recorded in " : "NOT recorded in ") << ops_log.string() << "\n";
}

}  // namespace

int run_drill(const DrillOptions& o, const base::Console& console) {
  ScratchCluster::remove_on_signals();
  auto paths = drill_paths(o.locations, o.ops_log);
  if (!paths) {
    console.err << "weighlink-backend: drill: " << paths.error().message << "\n";
    return kExitUsage;
  }
  const fs::path ops_log = paths->ops_log;
  Drill drill(o, std::move(paths->locations));
  const bool passed = drill.run();
  drill.tear_down();
  auto& record = drill.record();
  record.passed = passed;
  if (passed) record.exit_code = kExitOk;

  const std::string line = to_json_line(record);
  std::string error;
  const bool logged = append_line(ops_log, line, error);
  // stderr first: the JSON line is the last of the output even where both are one stream.
  if (!passed) {
    console.err << "weighlink-backend: drill: FAIL at step " << record.failed_step << ": "
                << record.failure
                << " (a failed drill is a sev-2: see docs/operations.md, \"Restore drill\")\n";
  }
  if (!logged) {
    console.err << "weighlink-backend: drill: the drill's record was not written to the ops log: "
                << error << "; give a writable --ops-log (dr-status reads it)\n";
  }
  print_summary(console, record, drill.smoke_summary(), ops_log, logged);
  console.out << line << std::endl;
  return passed && !logged ? kExitFailure : record.exit_code;
}

}  // namespace weighlink::recovery
