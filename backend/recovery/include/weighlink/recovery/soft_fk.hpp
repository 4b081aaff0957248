#pragma once
// Soft foreign keys: relations between weighlink's tables that the schema does not enforce with a
// constraint, swept for orphans on every verified restore (verify-backup's ORPHAN_FK_SURGE). The
// built-in list covers weighlink's own schema; the allowlist file (YAML, --soft-fk-allowlist)
// sets how many orphans each relation may have (`max_orphans`) and may add relations.
//
//   soft_foreign_keys:
//     - name: applied_capture_has_weighing     # built-in: overriding max_orphans only
//       max_orphans: 2
//     - name: weighing_operator                # a new relation: every field below
//       table: weighings
//       columns: [operator_id]
//       references: operators
//       referenced_columns: [id]
//       where: "operator_id <> ''"             # optional: which child rows must have a parent
//       max_orphans: 0
//
// Pure: parsing and SQL text only; verify-backup runs the SQL on the disposable restore.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/base/error.hpp"

namespace weighlink::recovery {

struct SoftForeignKey {
  std::string name;
  std::string table;  // the child: [schema.]table
  std::vector<std::string> columns;
  std::string references;  // the parent: [schema.]table
  std::vector<std::string> referenced_columns;
  std::string where;  // an SQL condition on the child's rows, or empty (all rows)
  std::int64_t max_orphans = 0;
};

// weighlink's own soft relations, each with max_orphans 0.
[[nodiscard]] std::vector<SoftForeignKey> builtin_soft_foreign_keys();

// Applies the allowlist `yaml_text` (from `source`, for messages) to `keys`: entries naming a key
// already there change its fields (usually max_orphans); others are added and must be complete.
// On a bad file `keys` is unchanged and the error (invalid_argument) names `source`, the entry and
// the key at fault.
[[nodiscard]] base::Expected<void> apply_soft_fk_allowlist(std::string_view yaml_text,
                                                           const std::string& source,
                                                           std::vector<SoftForeignKey>& keys);

// SELECT count(*) of the child rows (matching `where`, with every column set) that have no
// parent; identifiers are quoted.
[[nodiscard]] std::string orphan_count_sql(const SoftForeignKey& key);
// Up to `limit` orphans' key columns, as one text value per row ("col=value, col=value").
[[nodiscard]] std::string orphan_sample_sql(const SoftForeignKey& key, int limit);

}  // namespace weighlink::recovery
