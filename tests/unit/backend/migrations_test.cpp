#include "weighlink/pg/migrations.hpp"

#include <doctest/doctest.h>

using namespace weighlink::backend;

TEST_CASE("migrations: the built-in list is strictly increasing and ends at the latest version") {
  const auto all = migrations();
  REQUIRE_FALSE(all.empty());
  CHECK(versions_strictly_increasing(all));
  CHECK(all.front().version == 1);
  CHECK(latest_schema_version() == all.back().version);
  for (const auto& m : all) {
    CHECK_FALSE(m.sql.empty());
    CHECK_FALSE(m.name.empty());
  }
}

TEST_CASE("migrations: an out-of-order or repeated list is detected") {
  const Migration ordered[] = {{1, "a", "x"}, {2, "b", "x"}, {5, "c", "x"}};
  const Migration swapped[] = {{2, "b", "x"}, {1, "a", "x"}};
  const Migration repeated[] = {{1, "a", "x"}, {1, "b", "x"}};
  const Migration zero[] = {{0, "a", "x"}};
  CHECK(versions_strictly_increasing(ordered));
  CHECK_FALSE(versions_strictly_increasing(swapped));
  CHECK_FALSE(versions_strictly_increasing(repeated));
  CHECK_FALSE(versions_strictly_increasing(zero));
}

TEST_CASE("migrations: pending ones are those not applied, in version order") {
  const Migration all[] = {{3, "c", "x"}, {1, "a", "x"}, {2, "b", "x"}};
  auto pending = pending_migrations(all, {2});
  REQUIRE(pending.size() == 2);
  CHECK(pending[0]->version == 1);
  CHECK(pending[1]->version == 3);
  CHECK(pending_migrations(all, {1, 2, 3}).empty());
  CHECK(pending_migrations(all, {}).size() == 3);
  // A database newer than the binary (version 4 applied) leaves nothing for it to do.
  CHECK(pending_migrations(all, {1, 2, 3, 4}).empty());
}

TEST_CASE("migrations: schema v1 creates the tables other components rely on") {
  const auto sql = migrations().front().sql;
  for (const char* table : {"CREATE TABLE stations", "CREATE TABLE mutation_log",
                            "CREATE TABLE weighings", "CREATE TABLE backend_meta"}) {
    CHECK_MESSAGE(sql.find(table) != std::string_view::npos, table);
  }
  CHECK(sql.find("PRIMARY KEY (station_id, idempotency_key)") != std::string_view::npos);
  CHECK(sql.find("UNIQUE (station_id, seq)") != std::string_view::npos);
}

TEST_CASE("migrations: schema v2 adds the station key, the evidence and the deck and axle rows") {
  REQUIRE(migrations().size() >= 2);
  const auto& v2 = migrations()[1];
  CHECK(v2.version == 2);
  for (const char* part :
       {"ADD COLUMN signing_key bytea", "ADD COLUMN record_hash text", "ADD COLUMN prev_hash text",
        "ADD COLUMN signature_verified boolean", "ADD COLUMN gvw numeric",
        "CREATE TABLE weighing_decks", "CREATE TABLE weighing_axles"}) {
    CHECK_MESSAGE(v2.sql.find(part) != std::string_view::npos, part);
  }
  // Weights are exact: never a floating-point column.
  for (const auto& m : migrations()) {
    for (const char* type : {" real", " float", "double precision"}) {
      CHECK_MESSAGE(m.sql.find(type) == std::string_view::npos, type);
    }
  }
}
