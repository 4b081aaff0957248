#include "restore_internal.hpp"

namespace weighlink::recovery {

pg::Result<Generation> new_generation(pg::PgConnection& db, const std::string& restored_from) {
  pg::PgTransaction transaction(db);
  if (auto begun = transaction.begin(); !begun) return begun.error();
  Generation generation;
  auto old = db.exec("SELECT value FROM backend_meta WHERE key = 'generation'");
  if (!old) return old.error();
  if (old->rows() > 0) generation.previous = std::string(old->get(0, 0));
  auto set = db.exec(
      "INSERT INTO backend_meta (key, value) VALUES ('generation', gen_random_uuid()::text) "
      "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value RETURNING value");
  if (!set) return set.error();
  generation.now = std::string(set->get(0, 0));
  if (auto r = db.exec(
          "INSERT INTO backend_meta (key, value) VALUES ('restored_from', $1), ('restored_at', "
          "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')) "
          "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
          {restored_from});
      !r) {
    return r.error();
  }
  if (auto committed = transaction.commit(); !committed) return committed.error();
  return generation;
}

}  // namespace weighlink::recovery
