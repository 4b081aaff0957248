// libFuzzer target: the small inputs the backup commands read back and an operator writes by hand
// (backend/recovery/src/backup_catalog.cpp, soft_fk.cpp, backup_policy.cpp, dump_pattern.cpp,
// dump_folder.cpp, pg_log_indicators.cpp): a backup manifest, the verified-latest pointer, the
// soft foreign key allowlist (YAML), a manifest timestamp, a --pattern and a file name, a
// `sha256sum` sidecar, a server log line, a --checks file (YAML). The first byte picks the reader.
// Every input ends in a value or a refusal, never a crash, and what is accepted holds its
// invariants.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "weighlink/recovery/backup_catalog.hpp"
#include "weighlink/recovery/backup_policy.hpp"
#include "weighlink/recovery/dump_folder.hpp"
#include "weighlink/recovery/dump_pattern.hpp"
#include "weighlink/recovery/pg_log.hpp"
#include "weighlink/recovery/soft_fk.hpp"
#include "weighlink/recovery/verify_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using weighlink::fuzz::check;
  using namespace weighlink::recovery;
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 8) {
    case 0: {
      if (const auto m = parse_manifest(text)) {
        check(m->sha256.size() == 64);
        check(!dump_base(m->dump).empty());
        check(format_utc_timestamp(m->created_at) == m->created_at_text);
        for (const auto& [table, count] : m->row_counts) check(count >= 0);
        if (m->evidence_blobs) {
          check(*m->evidence_blobs >= 0 && m->evidence_checksum.size() == 64);
        }
      } else {
        check(m.error().code == std::errc::invalid_argument);
        check(!m.error().message.empty());
      }
      break;
    }
    case 1:
      if (const auto p = parse_verified_latest(text)) {
        check(parse_verified_latest(to_json(*p)).has_value());
        check(parse_verified_latest(to_json(*p))->dump == p->dump);
      }
      break;
    case 2: {
      auto keys = builtin_soft_foreign_keys();
      const auto applied = apply_soft_fk_allowlist(text, "allow.yaml", keys);
      if (applied) {
        for (const auto& key : keys) {
          check(!key.columns.empty() && key.columns.size() == key.referenced_columns.size());
          check(key.max_orphans >= 0);
          check(key.where.find(';') == std::string::npos);
          check(orphan_count_sql(key).starts_with("SELECT count(*) FROM \""));
        }
      } else {
        check(applied.error().message.starts_with("allow.yaml"));
        check(keys.size() == builtin_soft_foreign_keys().size());
      }
      break;
    }
    case 4: {
      // PATTERN, a newline, a file name.
      const auto newline = text.find('\n');
      const auto pattern = DumpNamePattern::parse(text.substr(0, newline));
      if (!pattern) {
        check(pattern.error().code == std::errc::invalid_argument);
        break;
      }
      if (newline == std::string_view::npos) break;
      if (const auto t = pattern->match(text.substr(newline + 1))) {
        // A name that matches is a real UTC time: it formats and reads back as itself.
        check(parse_utc_timestamp(format_utc_timestamp(*t)) == t);
      }
      break;
    }
    case 5:
      if (const auto digest = parse_sha256_sidecar(text, "pg_dump_20261121_0300.dump")) {
        check(digest->size() == 64);
        check(digest->find_first_not_of("0123456789abcdef") == std::string::npos);
      } else {
        check(!digest.error().message.empty());
      }
      break;
    case 6:
      if (const auto m = match_corruption_indicator(text)) {
        check(!m->indicator.empty());
        bool known = false;
        for (const auto& info : corruption_indicators()) {
          known = known || (info.indicator == m->indicator && info.kind == m->kind);
        }
        check(known);
      }
      break;
    case 7: {
      const auto checks = parse_verify_checks(text, "checks.yaml", builtin_soft_foreign_keys());
      if (checks) {
        if (checks->row_tolerance) check(*checks->row_tolerance >= 0);
        for (const auto& table : checks->row_count_tables) check(!table.empty());
        for (const auto& key : checks->soft_keys) check(key.max_orphans >= 0);
      } else {
        check(checks.error().message.starts_with("checks.yaml"));
      }
      break;
    }
    default:
      if (const auto t = parse_utc_timestamp(text)) {
        check(parse_utc_timestamp(format_utc_timestamp(*t)) == t);
      }
      break;
  }
  return 0;
}
