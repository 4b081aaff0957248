// bench_outbox's two databases: the outbox as the library opens it, and raw SQLite on its schema.
#include <sqlite3.h>

#include "outbox_bench.hpp"

namespace weighlink::bench::outbox {
namespace {

bool is_busy(int rc) { return (rc & 0xff) == SQLITE_BUSY; }

int step(sqlite3_stmt* s) {
  const int rc = sqlite3_step(s);
  sqlite3_reset(s);
  return rc;
}

}  // namespace

std::unique_ptr<sync::Outbox> open_outbox(const std::filesystem::path& file) {
  auto outbox = sync::Outbox::open(file, sync::OutboxOptions{});
  if (!outbox) die("cannot open the outbox " + file.string() + ": " + outbox.error().message);
  return std::move(*outbox);
}

// Its tables, index and count triggers, WAL, made by opening it as an outbox and closing it: the
// baseline writes the same table, so the comparison cannot drift from the schema.
void create_raw_db(const std::filesystem::path& file) { open_outbox(file)->close(); }

RawConnection::RawConnection(const std::filesystem::path& file, int busy_timeout_ms) {
  if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    die("cannot open " + file.string() + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory"));
  }
  sqlite3_busy_timeout(db_, busy_timeout_ms);
  // journal_mode=WAL persists in the file; synchronous is per connection. Another connection
  // switching the file to WAL at the same moment can make this one busy: retry.
  exec_retry("PRAGMA journal_mode=WAL");
  exec_retry("PRAGMA synchronous=FULL");
}

RawConnection::~RawConnection() {
  for (auto* s : {begin_, insert_, commit_, rollback_}) sqlite3_finalize(s);
  sqlite3_close_v2(db_);
}

void RawConnection::insert(const sync::NewMutation& m, RawCounters& counters) {
  if (!begin_) {  // prepared at first use: the table may not exist when the connection opens
    begin_ = prepare("BEGIN IMMEDIATE");
    insert_ = prepare(
        "INSERT INTO mutations(seq, idempotency_key, kind, payload, request_hash, state, "
        "created_at_ms) VALUES(NULL,?,?,?,?,'pending',?)");
    commit_ = prepare("COMMIT");
    rollback_ = prepare("ROLLBACK");
  }
  while (true) {
    int rc = step(begin_);
    if (is_busy(rc)) {
      ++counters.busy_begin;
      continue;
    }
    if (rc != SQLITE_DONE) fail("BEGIN IMMEDIATE", rc);
    sqlite3_bind_text(insert_, 1, m.idempotency_key.data(),
                      static_cast<int>(m.idempotency_key.size()), SQLITE_STATIC);
    sqlite3_bind_text(insert_, 2, m.kind.data(), static_cast<int>(m.kind.size()), SQLITE_STATIC);
    sqlite3_bind_text(insert_, 3, m.payload_json.data(), static_cast<int>(m.payload_json.size()),
                      SQLITE_STATIC);
    sqlite3_bind_text(insert_, 4, m.request_hash.data(), static_cast<int>(m.request_hash.size()),
                      SQLITE_STATIC);
    sqlite3_bind_int64(insert_, 5, m.created_at_ms);
    rc = step(insert_);
    sqlite3_clear_bindings(insert_);
    if (rc != SQLITE_DONE) {
      step(rollback_);
      if (is_busy(rc)) {
        ++counters.busy_insert;
        continue;
      }
      fail("INSERT", rc);
    }
    rc = step(commit_);
    while (is_busy(rc)) {  // the transaction stays open: COMMIT again
      ++counters.busy_commit;
      rc = step(commit_);
    }
    if (rc != SQLITE_DONE) {
      step(rollback_);
      fail("COMMIT", rc);
    }
    return;
  }
}

std::int64_t RawConnection::count_rows() {
  sqlite3_stmt* s = prepare("SELECT COUNT(*) FROM mutations");
  if (sqlite3_step(s) != SQLITE_ROW) fail("SELECT COUNT(*)", sqlite3_errcode(db_));
  const auto n = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return n;
}

void RawConnection::exec_retry(const char* sql) {
  int rc;
  while (is_busy(rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr))) {
  }
  if (rc != SQLITE_OK) fail(sql, rc);
}

sqlite3_stmt* RawConnection::prepare(const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK) fail(sql, sqlite3_errcode(db_));
  return s;
}

void RawConnection::fail(const char* what, int rc) {
  die(std::string("raw SQLite ") + what + ": " + sqlite3_errstr(rc) + " (" + sqlite3_errmsg(db_) +
      ")");
}

}  // namespace weighlink::bench::outbox
