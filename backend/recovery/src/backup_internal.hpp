#pragma once
// Internal to weighlink::recovery (backup, verify-backup, drill): what the commands share that
// needs a database connection.

#include <string>

#include "weighlink/base/error.hpp"
#include "weighlink/pg/pg.hpp"
#include "weighlink/recovery/backup_policy.hpp"

namespace weighlink::recovery {

// count(*) of every table of the public schema, keyed by quote_ident(table name): what backup
// writes to the manifest (inside its snapshot) and what verify-backup compares the restore with.
// The database's error code and "cannot list the tables: ..." or "cannot count TABLE: ...".
[[nodiscard]] base::Expected<RowCounts> count_public_tables(pg::PgConnection& db);
// Exact row counts of every table outside the system schemas, as "schema.table" (any database:
// verify-backup without a manifest).
[[nodiscard]] base::Expected<RowCounts> count_user_tables(pg::PgConnection& db);

}  // namespace weighlink::recovery
