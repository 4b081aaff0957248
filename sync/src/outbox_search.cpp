// The outbox's search over weighings (the operator page's recent weighings): one query on the
// reader connection over the outbox and its evidence archive (UNION ALL, the same filters on
// both), the filters in SQL (json_extract over the payload), newest first.
//
// No index: each arm walks its primary key downwards from before_seq and the merge of the two
// stops at `limit` matches, so a page of recent weighings reads only the newest rows of each
// table; a filter that matches nothing reads them all (docs/tickets.md has the measured cost on
// 100 000 rows).
#include "outbox_schema.hpp"
#include "outbox_sqlite.hpp"

namespace weighlink::sync::detail {

namespace {

// The archive holds only rows pruned after the backend acknowledged them (acknowledged, or
// discarded dead ones): a state filter without those leaves the archive's arm a constant false,
// which SQLite skips without reading the table (it has no state index to skip it otherwise).
bool archive_may_match(const std::vector<MutationState>& states) {
  if (states.empty()) return true;
  for (const auto s : states) {
    if (s == MutationState::acknowledged || s == MutationState::discarded) return true;
  }
  return false;
}

}  // namespace

std::vector<StoredRecord> SqliteOutbox::search_weighings(const WeighingQuery& query) {
  // Numbered parameters, so both arms bind the same values once: ?1 before_seq, ?2.. the texts.
  std::vector<std::string> texts;
  std::string where = " WHERE kind = 'weighing.captured'";
  const auto next = [&] { return "?" + std::to_string(texts.size() + 2); };
  if (query.before_seq > 0) where += " AND seq < ?1";
  if (!query.plate.empty()) {
    where +=
        " AND upper(replace(replace(json_extract(payload, '$.reference.plate'), ' ', ''), '-', ''))"
        " = " +
        next();
    texts.push_back(query.plate);
  }
  if (!query.text.empty()) {
    where +=
        " AND EXISTS (SELECT 1 FROM json_each(payload, '$.reference') r"
        " WHERE instr(lower(CAST(r.value AS TEXT)), lower(" +
        next() + ")) > 0)";
    texts.push_back(query.text);
  }
  if (!query.captured_from.empty()) {
    where += " AND json_extract(payload, '$.captured_at') >= " + next();
    texts.push_back(query.captured_from);
  }
  if (!query.captured_before.empty()) {
    where += " AND json_extract(payload, '$.captured_at') < " + next();
    texts.push_back(query.captured_before);
  }
  if (!query.states.empty()) {
    where += " AND state IN (";
    for (std::size_t i = 0; i < query.states.size(); ++i) {
      where += (i ? ", " : "") + next();
      texts.emplace_back(to_string(query.states[i]));
    }
    where += ")";
  }
  const std::string limit = "?" + std::to_string(texts.size() + 2);
  const std::string sql = std::string("SELECT ") + kRowColumns + ", 1 FROM archive" + where +
                          (archive_may_match(query.states) ? "" : " AND 0") + " UNION ALL SELECT " +
                          kRowColumns + ", 0 FROM mutations" + where + " ORDER BY 1 DESC LIMIT " +
                          limit;
  std::lock_guard lock(reader_mu_);
  sqlite::Stmt s(reader_.get(), sql.c_str());
  if (query.before_seq > 0) s.bind(1, static_cast<std::int64_t>(query.before_seq));
  int i = 2;
  for (const auto& t : texts) s.bind(i++, t);
  s.bind(i, static_cast<std::int64_t>(query.limit));
  std::vector<StoredRecord> out;
  while (s.step() == SQLITE_ROW) {
    out.push_back(StoredRecord{read_row(s), s.i64(kArchivedColumn) != 0});
  }
  return out;
}

}  // namespace weighlink::sync::detail
