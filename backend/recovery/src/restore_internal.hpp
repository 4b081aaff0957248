#pragma once
// Internal to weighlink::recovery (restore, mark-restored): what every way of bringing a database
// back ends with.

#include <string>

#include "weighlink/pg/pg.hpp"

namespace weighlink::recovery {

struct Generation {
  std::string previous;  // the one the database held before ("" when none)
  std::string now;       // the new one
};

// A new generation (gen_random_uuid()) in backend_meta, with restored_from and restored_at (now,
// UTC), in one transaction: agents see the change in their next Hello and re-send whatever the
// restored database lacks (SPEC §5). The schema must be migrated (backend_meta exists).
[[nodiscard]] pg::Result<Generation> new_generation(pg::PgConnection& db,
                                                    const std::string& restored_from);

}  // namespace weighlink::recovery
