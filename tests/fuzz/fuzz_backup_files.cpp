// libFuzzer target: the small files the backup commands read back and an operator writes by hand
// (backend/src/backup_catalog.cpp, soft_fk.cpp, backup_policy.cpp): a backup manifest, the
// verified-latest pointer, the soft foreign key allowlist (YAML), a manifest timestamp. The first
// byte picks the reader. Every input ends in a value or a refusal, never a crash, and what is
// accepted holds its invariants.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "weighlink/recovery/backup_catalog.hpp"
#include "weighlink/recovery/backup_policy.hpp"
#include "weighlink/recovery/soft_fk.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace weighlink::recovery;
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      if (const auto m = parse_manifest(text)) {
        check(m->sha256.size() == 64);
        check(!dump_base(m->dump).empty());
        check(format_utc_timestamp(m->created_at) == m->created_at_text);
        for (const auto& [table, count] : m->row_counts) check(count >= 0);
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
    default:
      if (const auto t = parse_utc_timestamp(text)) {
        check(parse_utc_timestamp(format_utc_timestamp(*t)) == t);
      }
      break;
  }
  return 0;
}
