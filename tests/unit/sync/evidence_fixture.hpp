#pragma once
// What the outbox's tests share: a real outbox in a temp dir, signed with a test key, numbered
// weighings to fill it with, and SQL run on its file from a connection of the test's own.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "weighlink/sync/outbox.hpp"

namespace weighlink::testing {

inline const std::vector<unsigned char> kKey(32, 0x5a);

inline sync::OutboxOptions signed_options() {
  sync::OutboxOptions o;
  o.station_id = "station-7";
  o.signing_key = kKey;
  return o;
}

inline std::unique_ptr<sync::Outbox> open_outbox(const std::filesystem::path& file,
                                                 sync::OutboxOptions options = signed_options()) {
  auto r = sync::Outbox::open(file, std::move(options));
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
  return std::move(*r);
}

// Weighing `i`: key cap-i, weight 1000 + i kg.
inline sync::NewMutation weighing(int i, std::int64_t created_at_ms = 1000) {
  sync::NewMutation m;
  m.idempotency_key = "cap-" + std::to_string(i);
  m.kind = "weighing.captured";
  m.payload_json = R"({"scale":"main","weight":")" + std::to_string(1000 + i) + R"(","unit":"kg"})";
  m.request_hash = "h" + std::to_string(i);
  m.created_at_ms = created_at_ms;
  return m;
}

// Runs `statements` on the file through a connection of its own (a fault or an older schema).
inline void sql(const std::filesystem::path& file, const char* statements) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, statements, nullptr, nullptr, &error);
  const std::string message = error ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  REQUIRE_MESSAGE(rc == SQLITE_OK, message);
}

// Turns a file of the current schema back into schema 6 as agents before schema 7 left it: the
// counts in state_counts kept by three triggers, the signed head in the state table.
inline void as_schema_6(const std::filesystem::path& file) {
  sql(file, R"sql(
    CREATE TABLE state_counts(state TEXT PRIMARY KEY, n INTEGER NOT NULL);
    INSERT INTO state_counts(state, n)
      SELECT 'pending', pending FROM head UNION ALL SELECT 'acknowledged', acknowledged FROM head
      UNION ALL SELECT 'dead', dead FROM head UNION ALL SELECT 'discarded', discarded FROM head;
    INSERT INTO state(key, value)
      SELECT 'chain.head', seq || ' ' || hash || ' ' || signature FROM head WHERE hash <> '';
    DROP TRIGGER mutations_counted_delete;
    DROP TRIGGER mutations_counted_update;
    DROP TABLE head;
    CREATE TRIGGER mutations_counted_insert AFTER INSERT ON mutations BEGIN
      UPDATE state_counts SET n = n + 1 WHERE state = NEW.state;
    END;
    CREATE TRIGGER mutations_counted_delete AFTER DELETE ON mutations BEGIN
      UPDATE state_counts SET n = n - 1 WHERE state = OLD.state;
    END;
    CREATE TRIGGER mutations_counted_update AFTER UPDATE OF state ON mutations
    WHEN OLD.state <> NEW.state BEGIN
      UPDATE state_counts SET n = n - 1 WHERE state = OLD.state;
      UPDATE state_counts SET n = n + 1 WHERE state = NEW.state;
    END;
    PRAGMA user_version=6;)sql");
}

}  // namespace weighlink::testing
