#include "weighlink/pg/migrations.hpp"

#include <doctest/doctest.h>

using namespace weighlink::pg;

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
