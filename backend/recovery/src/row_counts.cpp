#include "backup_internal.hpp"

namespace weighlink::recovery {

bool count_public_tables(pg::PgConnection& db, RowCounts& counts, std::string& error) {
  auto tables = db.exec(
      "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
  if (!tables) {
    error = "cannot list the tables: " + db.last_error();
    return false;
  }
  for (int i = 0; i < tables->rows(); ++i) {
    const std::string table(tables->get(i, 0));
    auto n = db.exec("SELECT count(*) FROM public." + table);
    if (!n) {
      error = "cannot count " + table + ": " + db.last_error();
      return false;
    }
    counts[table] = std::stoll(std::string(n->get(0, 0)));
  }
  return true;
}

}  // namespace weighlink::recovery
