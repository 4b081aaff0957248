#pragma once
// weighlink-backend verify-backup (SPEC §6, docs/operations.md "Verifying backups"): the newest
// dump (by manifest time, or for any other pg_dump file without a manifest by the time in its
// name) is checked in this order, the first failure deciding the verdict:
//   size guard      SIZE_SHRUNK, SIZE_EXCEEDED
//   format          NOT_A_DUMP, TRUNCATED (every data block walked), CHECKSUM_MISMATCH (against
//                   the manifest, or a NAME.sha256 sidecar when there is one)
//   restore         RESTORE_FAILED (into a disposable cluster: pre-data, data, post-data; a
//                   missing extension named); a dump of a newer PostgreSQL major is refused first
//                   (COULD_NOT_RUN: a --pg-bindir of that major is needed)
//   VACUUM ANALYZE
//   row counts      ROWCOUNT_DRIFT (exactly the manifest's; no table shrunk beyond tolerance since
//                   the previous verified dump of the same pattern)
//   orphan sweep    ORPHAN_FK_SURGE (soft foreign keys against the allowlist)
//   evidence files  EVIDENCE_MISSING (the images: the manifest's count and checksum, and every
//                   record's attachments held whole and hashing to their names)
// and only then promoted (DIR/<dump>.verified.json, DIR/verified-latest replaced atomically) and,
// given --dsn, the stations' durable_seq moved up to what the dump holds. DIR unreachable with
// every fallback: OFFSITE_ENDPOINT_DOWN and no verdict. A JSON report, a Prometheus textfile and a
// notification (retried on 5xx, not 4xx; NOTIFY_FAILED never changes the verdict).
// Exit: 0 passed, 3 verification failure, 1 could not run, 2 bad usage.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/base/command.hpp"

namespace weighlink::recovery {

inline constexpr int kExitVerifyFailed = 3;

enum class VerifyCode {
  ok,
  size_shrunk,
  size_exceeded,
  not_a_dump,
  truncated,
  checksum_mismatch,
  restore_failed,
  rowcount_drift,
  orphan_fk_surge,
  evidence_missing,
  offsite_endpoint_down,
  could_not_run,  // the tool failed (no backups, scratch cluster, disk); not a verdict
};
[[nodiscard]] std::string_view code_name(VerifyCode code) noexcept;

struct VerifyOptions {
  std::vector<std::string> locations;  // --dir, then each --fallback, in order
  std::string file;                    // --file: this dump instead of the newest
  std::uint64_t min_bytes = 4096;
  double median_factor = 2.0;
  double row_tolerance = 0.10;
  std::string soft_fk_allowlist;
  std::string notify_url;
  int notify_attempts = 4;
  int notify_backoff_ms = 1000;
  std::string report;       // --report FILE (also written beside the dump on a pass)
  std::string textfile;     // --textfile FILE: Prometheus textfile collector
  std::string scratch_dsn;  // restore into a new database on this server instead of a cluster
  std::string scratch_dir;  // where the disposable cluster and downloads go
  std::string dsn;          // the production database: durable_seq moves up after a pass
  int jobs = 2;             // pg_restore --jobs for data and post-data
  // Dumps without a weighlink manifest (any pg_dump file, docs/operations.md "Verifying any
  // pg_dump"): the file-name patterns (--pattern; empty: kDefaultDumpPatterns), newest by the
  // name's time or (--newest-by mtime) by modification time, the checks file (--checks, YAML,
  // verify_config.hpp) and the PostgreSQL programs of the disposable cluster (--pg-bindir).
  std::vector<std::string> patterns;
  bool newest_by_mtime = false;
  std::string checks;
  std::string pg_bindir;
};

[[nodiscard]] int run_verify_backup(const VerifyOptions& options, const base::Console& console);

}  // namespace weighlink::recovery
