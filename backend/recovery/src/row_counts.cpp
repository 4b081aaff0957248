#include "backup_internal.hpp"

namespace weighlink::recovery {

base::Expected<RowCounts> count_public_tables(pg::PgConnection& db) {
  auto tables = db.exec(
      "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
  if (!tables) return base::Error{tables.error(), "cannot list the tables: " + db.last_error()};
  RowCounts counts;
  for (int i = 0; i < tables->rows(); ++i) {
    const std::string table(tables->get(i, 0));
    auto n = db.exec("SELECT count(*) FROM public." + table);
    if (!n) return base::Error{n.error(), "cannot count " + table + ": " + db.last_error()};
    counts[table] = std::stoll(std::string(n->get(0, 0)));
  }
  return counts;
}

base::Expected<RowCounts> count_user_tables(pg::PgConnection& db) {
  auto tables = db.exec(
      "SELECT schemaname || '.' || tablename, quote_ident(schemaname) || '.' || "
      "quote_ident(tablename) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', "
      "'information_schema') ORDER BY 1");
  if (!tables) return base::Error{tables.error(), "cannot list the tables: " + db.last_error()};
  RowCounts counts;
  for (int i = 0; i < tables->rows(); ++i) {
    const std::string name(tables->get(i, 0));
    auto n = db.exec("SELECT count(*) FROM " + std::string(tables->get(i, 1)));
    if (!n) return base::Error{n.error(), "cannot count " + name + ": " + db.last_error()};
    counts[name] = std::stoll(std::string(n->get(0, 0)));
  }
  return counts;
}

}  // namespace weighlink::recovery
