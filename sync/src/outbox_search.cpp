// The outbox's search over weighings (the operator page's recent weighings): one query on the
// reader connection, the filters in SQL (json_extract over the payload), newest first.
//
// No index: the query walks the primary key downwards from before_seq and stops at `limit`
// matches, so a page of recent weighings reads only the newest rows; a filter that matches
// nothing reads them all (docs/tickets.md has the measured cost on 100 000 rows).
#include "outbox_schema.hpp"
#include "outbox_sqlite.hpp"

namespace weighlink::sync::detail {

std::vector<OutboxRow> SqliteOutbox::search_weighings(const WeighingQuery& query) {
  std::string sql =
      std::string("SELECT ") + kRowColumns + " FROM mutations WHERE kind = 'weighing.captured'";
  std::vector<std::string> texts;
  if (query.before_seq > 0) sql += " AND seq < ?";
  if (!query.plate.empty()) {
    sql +=
        " AND upper(replace(replace(json_extract(payload, '$.reference.plate'), ' ', ''), '-', "
        "'')) = ?";
    texts.push_back(query.plate);
  }
  if (!query.text.empty()) {
    sql +=
        " AND EXISTS (SELECT 1 FROM json_each(payload, '$.reference') r"
        " WHERE instr(lower(CAST(r.value AS TEXT)), lower(?)) > 0)";
    texts.push_back(query.text);
  }
  if (!query.captured_from.empty()) {
    sql += " AND json_extract(payload, '$.captured_at') >= ?";
    texts.push_back(query.captured_from);
  }
  if (!query.captured_before.empty()) {
    sql += " AND json_extract(payload, '$.captured_at') < ?";
    texts.push_back(query.captured_before);
  }
  if (!query.states.empty()) {
    sql += " AND state IN (";
    for (std::size_t i = 0; i < query.states.size(); ++i) {
      sql += i ? ", ?" : "?";
      texts.emplace_back(to_string(query.states[i]));
    }
    sql += ")";
  }
  sql += " ORDER BY seq DESC LIMIT ?";
  std::lock_guard lock(reader_mu_);
  sqlite::Stmt s(reader_.get(), sql.c_str());
  int i = 1;
  if (query.before_seq > 0) s.bind(i++, static_cast<std::int64_t>(query.before_seq));
  for (const auto& t : texts) s.bind(i++, t);
  s.bind(i, static_cast<std::int64_t>(query.limit));
  std::vector<OutboxRow> out;
  while (s.step() == SQLITE_ROW) out.push_back(read_row(s));
  return out;
}

}  // namespace weighlink::sync::detail
