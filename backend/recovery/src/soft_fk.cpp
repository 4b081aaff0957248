// The recovery library's one yaml-cpp source (docs/architecture.md, "Adapters"): the soft-FK
// allowlist and verify-backup's --checks file (verify_config.hpp), which extends it.
#include "weighlink/recovery/soft_fk.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>

#include "weighlink/recovery/verify_config.hpp"

namespace weighlink::recovery {
namespace {

// YAML text to a node, a parse error said with its source and line.
base::Expected<YAML::Node> load_yaml(std::string_view text, const std::string& source) {
  try {
    // In place: a YAML::Node converts from anything, an Error too.
    return base::Expected<YAML::Node>(boost::system::in_place_value, YAML::Load(std::string(text)));
  } catch (const YAML::Exception& e) {
    return base::Expected<YAML::Node>(
        boost::system::in_place_error,
        base::invalid_argument(source + ": not valid YAML (line " +
                               std::to_string(e.mark.line + 1) + "): " + e.msg));
  }
}

// "a.b" -> "\"a\".\"b\"", with embedded quotes doubled.
std::string quote_name(std::string_view name) {
  std::string out;
  std::size_t start = 0;
  while (true) {
    const auto dot = name.find('.', start);
    const auto part = name.substr(start, dot == std::string_view::npos ? name.npos : dot - start);
    out += '"';
    for (const char c : part) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
    if (dot == std::string_view::npos) break;
    out += '.';
    start = dot + 1;
  }
  return out;
}

bool valid_name(const std::string& name) {
  return !name.empty() && name.size() <= 127 && name.front() != '.' && name.back() != '.' &&
         name.find("..") == std::string::npos &&
         std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return c >= 0x20 && c != '"'; });
}

std::string join_conditions(const SoftForeignKey& key) {
  std::string on;
  for (std::size_t i = 0; i < key.columns.size(); ++i) {
    if (i > 0) on += " AND ";
    on += "p." + quote_name(key.referenced_columns[i]) + " = c." + quote_name(key.columns[i]);
  }
  return on;
}

std::string orphan_from(const SoftForeignKey& key) {
  std::string sql = " FROM " + quote_name(key.table) + " c WHERE ";
  if (!key.where.empty()) sql += "(" + key.where + ") AND ";
  for (const auto& column : key.columns) sql += "c." + quote_name(column) + " IS NOT NULL AND ";
  sql += "NOT EXISTS (SELECT 1 FROM " + quote_name(key.references) + " p WHERE " +
         join_conditions(key) + ")";
  return sql;
}

}  // namespace

std::vector<SoftForeignKey> builtin_soft_foreign_keys() {
  // An applied capture's typed rows are written in the same transaction as its log row, but
  // nothing in the schema ties the log row to them: a capture without its weighing is an orphan.
  return {{"applied_capture_has_weighing",
           "mutation_log",
           {"station_id", "idempotency_key"},
           "weighings",
           {"station_id", "idempotency_key"},
           "kind = 'weighing.captured' AND outcome = 'applied'",
           0}};
}

base::Expected<void> apply_soft_fk_allowlist(std::string_view yaml_text, const std::string& source,
                                             std::vector<SoftForeignKey>& keys) {
  auto loaded = load_yaml(yaml_text, source);
  if (!loaded) return loaded.error();
  const YAML::Node root = *loaded;
  if (root.IsNull()) return {};  // an empty allowlist changes nothing
  if (!root.IsMap() || !root["soft_foreign_keys"] || !root["soft_foreign_keys"].IsSequence()) {
    return base::invalid_argument(
        source + ": expected a map with a list `soft_foreign_keys:` (see docs/operations.md)");
  }
  std::vector<SoftForeignKey> result = keys;
  const auto list = root["soft_foreign_keys"];
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto entry = list[i];
    const std::string where = source + ": soft_foreign_keys[" + std::to_string(i) + "]";
    if (!entry.IsMap()) {
      return base::invalid_argument(where +
                                    ": expected a map with name, max_orphans and the relation");
    }
    try {
      for (const auto& field : entry) {
        static const std::vector<std::string> known = {
            "name", "table", "columns", "references", "referenced_columns", "where", "max_orphans"};
        const auto key = field.first.as<std::string>();
        if (std::find(known.begin(), known.end(), key) == known.end()) {
          return base::invalid_argument(
              where + ": unknown key `" + key +
              "` (name, table, columns, references, referenced_columns, where, max_orphans)");
        }
      }
      if (!entry["name"] || entry["name"].as<std::string>().empty()) {
        return base::invalid_argument(where + ": `name` is required");
      }
      const auto name = entry["name"].as<std::string>();
      auto it = std::find_if(result.begin(), result.end(),
                             [&](const SoftForeignKey& k) { return k.name == name; });
      const bool known_key = it != result.end();
      SoftForeignKey key = known_key ? *it : SoftForeignKey{};
      key.name = name;
      if (entry["table"]) key.table = entry["table"].as<std::string>();
      if (entry["references"]) key.references = entry["references"].as<std::string>();
      if (entry["columns"]) key.columns = entry["columns"].as<std::vector<std::string>>();
      if (entry["referenced_columns"]) {
        key.referenced_columns = entry["referenced_columns"].as<std::vector<std::string>>();
      }
      if (entry["where"]) key.where = entry["where"].as<std::string>();
      if (!entry["max_orphans"]) {
        return base::invalid_argument(where + " (" + name + "): `max_orphans` is required");
      }
      key.max_orphans = entry["max_orphans"].as<std::int64_t>();
      if (key.max_orphans < 0) {
        return base::invalid_argument(where + " (" + name + "): `max_orphans` must be 0 or more");
      }
      if (!valid_name(key.table) || !valid_name(key.references) || key.columns.empty() ||
          key.columns.size() != key.referenced_columns.size() ||
          !std::all_of(key.columns.begin(), key.columns.end(), valid_name) ||
          !std::all_of(key.referenced_columns.begin(), key.referenced_columns.end(), valid_name)) {
        return base::invalid_argument(
            where + " (" + name + "): " +
            (known_key ? std::string("the relation's fields are not valid")
                       : std::string("not a built-in relation, so `table`, `columns`, "
                                     "`references` and `referenced_columns` (as many as "
                                     "`columns`) are required")));
      }
      if (key.where.find(';') != std::string::npos) {
        return base::invalid_argument(where + " (" + name +
                                      "): `where` is one SQL condition; it may not hold ';'");
      }
      if (known_key) {
        *it = std::move(key);
      } else {
        result.push_back(std::move(key));
      }
    } catch (const YAML::Exception& e) {
      return base::invalid_argument(where + ": " + e.msg + " (line " +
                                    std::to_string(e.mark.line + 1) +
                                    "; max_orphans is a whole number, columns a list of names)");
    }
  }
  keys = std::move(result);
  return {};
}

std::string orphan_count_sql(const SoftForeignKey& key) {
  return "SELECT count(*)" + orphan_from(key);
}

std::string orphan_sample_sql(const SoftForeignKey& key, int limit) {
  std::string columns;
  for (std::size_t i = 0; i < key.columns.size(); ++i) {
    if (i > 0) columns += " || ', ' || ";
    std::string label;
    for (const char c : key.columns[i]) label += c == '\'' ? std::string("''") : std::string(1, c);
    columns += "'" + label + "=' || c." + quote_name(key.columns[i]) + "::text";
  }
  return "SELECT " + columns + orphan_from(key) + " LIMIT " + std::to_string(limit);
}

std::string qualified_table(std::string_view name) {
  return name.find('.') == std::string_view::npos ? "public." + std::string(name)
                                                  : std::string(name);
}

base::Expected<VerifyChecks> parse_verify_checks(std::string_view yaml_text,
                                                 const std::string& source,
                                                 std::vector<SoftForeignKey> keys) {
  auto loaded = load_yaml(yaml_text, source);
  if (!loaded) return loaded.error();
  const YAML::Node root = *loaded;
  VerifyChecks checks;
  if (root.IsNull()) {
    checks.soft_keys = std::move(keys);
    return checks;
  }
  if (!root.IsMap()) {
    return base::invalid_argument(source +
                                  ": expected a map of min_bytes, row_counts, extensions and "
                                  "soft_foreign_keys (see docs/operations.md)");
  }
  std::string key;
  try {
    for (const auto& field : root) {
      key = field.first.as<std::string>();
      static const std::vector<std::string> known = {"min_bytes", "row_counts", "extensions",
                                                     "soft_foreign_keys"};
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        return base::invalid_argument(source + ": unknown key `" + key +
                                      "` (min_bytes, row_counts, extensions, soft_foreign_keys)");
      }
    }
    key = "min_bytes";
    if (root[key]) {
      const auto n = root[key].as<std::int64_t>();
      if (n < 0) return base::invalid_argument(source + ": `min_bytes` must be 0 or more");
      checks.min_bytes = static_cast<std::uint64_t>(n);
    }
    key = "row_counts";
    if (const auto rc = root[key]) {
      if (!rc.IsMap()) {
        return base::invalid_argument(source + ": `row_counts` is a map of tables and tolerance");
      }
      for (const auto& field : rc) {
        const auto sub = field.first.as<std::string>();
        if (sub != "tables" && sub != "tolerance") {
          return base::invalid_argument(source + ": unknown key `row_counts." + sub +
                                        "` (tables, tolerance)");
        }
      }
      key = "row_counts.tables";
      if (rc["tables"]) {
        for (const auto& t : rc["tables"].as<std::vector<std::string>>()) {
          if (t.empty()) return base::invalid_argument(source + ": an empty table name in " + key);
          checks.row_count_tables.push_back(qualified_table(t));
        }
      }
      key = "row_counts.tolerance";
      if (rc["tolerance"]) {
        const auto tolerance = rc["tolerance"].as<double>();
        if (!(tolerance >= 0.0 && tolerance <= 1.0)) {
          return base::invalid_argument(source + ": `" + key +
                                        "` is a fraction from 0 to 1 (0.1 = 10 %)");
        }
        checks.row_tolerance = tolerance;
      }
    }
    key = "extensions";
    if (root[key]) {
      for (const auto& e : root[key].as<std::vector<std::string>>()) {
        const bool valid = !e.empty() && std::all_of(e.begin(), e.end(), [](unsigned char c) {
          return std::isalnum(c) != 0 || c == '_' || c == '-';
        });
        if (!valid) {
          return base::invalid_argument(source + ": extension \"" + e +
                                        "\" is not an extension name");
        }
        checks.extensions.push_back(e);
      }
    }
  } catch (const YAML::Exception& e) {
    return base::invalid_argument(source + ": `" + key + "`: " + e.msg + " (line " +
                                  std::to_string(e.mark.line + 1) + ")");
  }
  if (root["soft_foreign_keys"]) {
    if (auto applied = apply_soft_fk_allowlist(yaml_text, source, keys); !applied) {
      return applied.error();
    }
  }
  checks.soft_keys = std::move(keys);
  return checks;
}

}  // namespace weighlink::recovery
