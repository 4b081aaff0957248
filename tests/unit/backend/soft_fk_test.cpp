#include "weighlink/recovery/soft_fk.hpp"

#include <doctest/doctest.h>

using namespace weighlink::recovery;

TEST_CASE("soft fk: the built-in relation sweeps applied captures without their weighing") {
  const auto keys = builtin_soft_foreign_keys();
  REQUIRE(keys.size() == 1);
  CHECK(keys[0].max_orphans == 0);
  CHECK(orphan_count_sql(keys[0]) ==
        "SELECT count(*) FROM \"mutation_log\" c WHERE (kind = 'weighing.captured' AND outcome = "
        "'applied') AND c.\"station_id\" IS NOT NULL AND c.\"idempotency_key\" IS NOT NULL AND NOT "
        "EXISTS (SELECT 1 FROM \"weighings\" p WHERE p.\"station_id\" = c.\"station_id\" AND "
        "p.\"idempotency_key\" = c.\"idempotency_key\")");
  CHECK(orphan_sample_sql(keys[0], 3).find("LIMIT 3") != std::string::npos);
}

TEST_CASE("soft fk: an allowlist raises a built-in limit and adds relations") {
  auto keys = builtin_soft_foreign_keys();
  const auto applied = apply_soft_fk_allowlist(R"(
soft_foreign_keys:
  - name: applied_capture_has_weighing
    max_orphans: 2
  - name: weighing_operator
    table: audit.weighings
    columns: [operator_id]
    references: operators
    referenced_columns: [id]
    max_orphans: 5
)",
                                               "allow.yaml", keys);
  REQUIRE(applied.has_value());
  REQUIRE(keys.size() == 2);
  CHECK(keys[0].max_orphans == 2);
  CHECK(keys[0].table == "mutation_log");
  CHECK(keys[1].max_orphans == 5);
  CHECK(keys[1].where.empty());
  CHECK(orphan_count_sql(keys[1]) ==
        "SELECT count(*) FROM \"audit\".\"weighings\" c WHERE c.\"operator_id\" IS NOT NULL AND "
        "NOT EXISTS (SELECT 1 FROM \"operators\" p WHERE p.\"id\" = c.\"operator_id\")");
  // An empty file changes nothing.
  REQUIRE(apply_soft_fk_allowlist("", "empty.yaml", keys).has_value());
  CHECK(keys.size() == 2);
}

TEST_CASE("soft fk: identifiers are quoted, never spliced") {
  SoftForeignKey key{"x", "t\"; DROP TABLE stations; --", {"a'b"}, "p", {"id"}, "", 0};
  const auto sql = orphan_sample_sql(key, 1);
  CHECK(sql.find("\"t\"\"; DROP TABLE stations; --\"") != std::string::npos);
  CHECK(sql.find("'a''b=' || c.\"a'b\"::text") != std::string::npos);
}

TEST_CASE("soft fk: a bad allowlist names the entry and the key, and changes nothing") {
  const std::pair<const char*, const char*> cases[] = {
      {"soft_foreign_keys: [", "not valid YAML"},
      {"- a\n- b\n", "expected a map with a list"},
      {"soft_foreign_keys:\n  - max_orphans: 1\n", "[0]: `name` is required"},
      {"soft_foreign_keys:\n  - name: applied_capture_has_weighing\n", "`max_orphans` is required"},
      {"soft_foreign_keys:\n  - name: applied_capture_has_weighing\n    max_orphans: many\n",
       "whole number"},
      {"soft_foreign_keys:\n  - name: applied_capture_has_weighing\n    max_orphans: -1\n",
       "0 or more"},
      {"soft_foreign_keys:\n  - name: new_one\n    max_orphans: 1\n", "not a built-in relation"},
      {"soft_foreign_keys:\n  - name: n\n    table: a\n    columns: [x, y]\n    references: b\n"
       "    referenced_columns: [x]\n    max_orphans: 0\n",
       "as many as"},
      {"soft_foreign_keys:\n  - name: applied_capture_has_weighing\n    max_orphans: 0\n"
       "    where: \"true; DELETE FROM stations\"\n",
       "may not hold ';'"},
      {"soft_foreign_keys:\n  - name: applied_capture_has_weighing\n    max_orphan: 0\n",
       "unknown key `max_orphan`"},
  };
  for (const auto& one_case : cases) {
    // Named references, not a structured binding: CHECK_MESSAGE captures them in a lambda.
    const auto& text = one_case.first;
    const auto& expected = one_case.second;
    auto keys = builtin_soft_foreign_keys();
    const auto applied = apply_soft_fk_allowlist(text, "allow.yaml", keys);
    REQUIRE_FALSE(applied.has_value());
    CHECK(applied.error().code == std::errc::invalid_argument);
    const std::string& error = applied.error().message;
    CHECK_MESSAGE(error.find(expected) != std::string::npos, text << " -> " << error);
    CHECK(error.rfind("allow.yaml", 0) == 0);
    CHECK(keys.size() == 1);
    CHECK(keys[0].max_orphans == 0);
  }
}
