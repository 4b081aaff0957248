#pragma once
// verify-backup's checks for a database that is not weighlink's (--checks FILE, YAML). It extends
// the soft-FK allowlist (soft_fk.hpp): the same `soft_foreign_keys:` list, and beside it
//
//   min_bytes: 1048576          # the size floor (SIZE_SHRUNK below); default --min-bytes
//   row_counts:
//     tables: [public.orders, audit.events]   # default: every table
//     tolerance: 0.10           # how much each may shrink since the previous verified dump
//   extensions: [pgcrypto, postgis]           # created in the disposable database first
//
// Every key is optional; an unknown one is refused (a typo would silently check nothing).
// Pure: parsing only (in soft_fk.cpp, the library's one yaml-cpp source).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/base/error.hpp"
#include "weighlink/recovery/soft_fk.hpp"

namespace weighlink::recovery {

struct VerifyChecks {
  std::optional<std::uint64_t> min_bytes;
  std::optional<double> row_tolerance;
  std::vector<std::string> row_count_tables;  // "schema.table" ("table": public); empty: all
  std::vector<std::string> extensions;
  std::vector<SoftForeignKey> soft_keys;  // `keys` given to the parser, with the list applied
};

// invalid_argument naming `source`, the key and what it should be.
[[nodiscard]] base::Expected<VerifyChecks> parse_verify_checks(std::string_view yaml_text,
                                                               const std::string& source,
                                                               std::vector<SoftForeignKey> keys);

// "orders" -> "public.orders"; "audit.events" unchanged.
[[nodiscard]] std::string qualified_table(std::string_view name);

}  // namespace weighlink::recovery
