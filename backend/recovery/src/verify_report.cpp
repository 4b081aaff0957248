// verify-backup's outputs besides the report itself: the code names (SPEC) and the Prometheus
// textfile node_exporter reads (docs/operations.md, "Monitoring the backups").
#include <sstream>

#include "verify_internal.hpp"
#include "weighlink/base/file_write.hpp"

namespace weighlink::recovery {

std::string_view code_name(VerifyCode code) noexcept {
  switch (code) {
    case VerifyCode::ok:
      return "OK";
    case VerifyCode::size_shrunk:
      return "SIZE_SHRUNK";
    case VerifyCode::size_exceeded:
      return "SIZE_EXCEEDED";
    case VerifyCode::not_a_dump:
      return "NOT_A_DUMP";
    case VerifyCode::truncated:
      return "TRUNCATED";
    case VerifyCode::checksum_mismatch:
      return "CHECKSUM_MISMATCH";
    case VerifyCode::restore_failed:
      return "RESTORE_FAILED";
    case VerifyCode::rowcount_drift:
      return "ROWCOUNT_DRIFT";
    case VerifyCode::orphan_fk_surge:
      return "ORPHAN_FK_SURGE";
    case VerifyCode::evidence_missing:
      return "EVIDENCE_MISSING";
    case VerifyCode::offsite_endpoint_down:
      return "OFFSITE_ENDPOINT_DOWN";
    case VerifyCode::could_not_run:
      return "COULD_NOT_RUN";
  }
  return "UNKNOWN";
}

namespace verify {

void write_textfile(const base::Console& console, const VerifyOptions& o, const Report& report,
                    const Candidate* candidate, const std::optional<SizeVerdict>& size,
                    const std::optional<VerifiedLatest>& latest) {
  if (o.textfile.empty()) return;
  std::ostringstream t;
  auto metric = [&](const char* name, const char* help, const std::string& value,
                    const char* type = "gauge") {
    t << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n"
      << name << " " << value << "\n";
  };
  metric("weighlink_backup_verify_last_run_timestamp_seconds",
         "When verify-backup last ran (Unix time).", std::to_string(report.started_at()));
  metric("weighlink_backup_verify_success", "1 if the last verify-backup run passed, else 0.",
         report.passed() ? "1" : "0");
  t << "# HELP weighlink_backup_verify_result The last run's code (1 for the current one).\n"
       "# TYPE weighlink_backup_verify_result gauge\n";
  for (int c = 0; c <= static_cast<int>(VerifyCode::could_not_run); ++c) {
    t << "weighlink_backup_verify_result{code=\"" << code_name(static_cast<VerifyCode>(c)) << "\"} "
      << (c == static_cast<int>(report.code()) ? 1 : 0) << "\n";
  }
  if (latest) {
    metric("weighlink_backup_verify_last_success_timestamp_seconds",
           "When verify-backup last passed a dump (Unix time).",
           std::to_string(latest->verified_at));
    metric("weighlink_backup_verified_dump_created_timestamp_seconds",
           "When the newest verified dump was taken (Unix time): the RPO is now minus this.",
           std::to_string(latest->created_at));
  }
  if (candidate != nullptr && candidate->present) {
    metric("weighlink_backup_size_bytes", "Size of the dump the last run checked.",
           std::to_string(candidate->actual_size));
  }
  if (size && size->median) {
    metric("weighlink_backup_size_median_bytes",
           "Median size of the dumps of the 7 days before the checked one.",
           std::to_string(*size->median));
  }
  t << "# HELP weighlink_backup_verify_step_seconds Duration of each step of the last run.\n"
       "# TYPE weighlink_backup_verify_step_seconds gauge\n";
  for (const auto& [step, seconds] : report.durations()) {
    t << "weighlink_backup_verify_step_seconds{step=\"" << std::string_view(step) << "\"} "
      << json::serialize(seconds) << "\n";
  }
  // Readable by node_exporter, which runs as another user.
  if (auto written = base::write_file_atomically(o.textfile, t.str(), 0644); !written) {
    console.err << "weighlink-backend: verify-backup: " << written.error().message
                << " (--textfile)\n";
  }
}

}  // namespace verify
}  // namespace weighlink::recovery
